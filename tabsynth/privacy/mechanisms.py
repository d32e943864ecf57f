"""The DP mechanisms the data transformer needs, each spending through a ledger first.

All but one are Gaussian mechanisms on histograms, so they compose tightly with DP-SGD under
RDP; :func:`permute_and_flip` chooses one candidate by score (pure epsilon-DP). Under
add/remove one *row* a histogram of rows has L2 sensitivity 1 (one row falls in exactly one
cell). Under add/remove one *entity* with at most k rows (issue 18) it is k: all k rows may fall
in the same cell. Each function reads that sensitivity from the ledger
(:attr:`PrivacyLedger.sensitivity`) unless told otherwise (``sensitivity=1`` for a histogram of
entities, where each entity lies in one cell), draws noise of std ``noise_multiplier *
sensitivity`` and records ``noise_multiplier`` (std / sensitivity) in the event. Thresholds are
given in counts; the event records them in units of the sensitivity.

Each function takes the *true* counts, spends the event in the ledger (which refuses
before anything is released if the budget would be exceeded), and returns noisy counts.
When the ledger is not DP (epsilon=None) they return the exact counts and record nothing.

The noise is the exact *discrete* Gaussian drawn from the ledger's secret
:class:`~tabsynth.privacy.randomness.NoiseSource` (never from ``rng``, which callers may have
seeded): released counts are integers, and nothing written can replay them. The ``rng``
arguments are kept for non-DP helpers and API stability; no DP draw uses them.

Pure numpy; depends on nothing else in tabsynth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

import numpy as np

from .events import GaussianEvent, PureDPEvent, ThresholdedGaussianEvent
from .ledger import PrivacyLedger

__all__ = [
    "DiscoveredCategories",
    "NoisyCategories",
    "discover_categories",
    "fine_bucket_edges",
    "fine_buckets",
    "magnitude_bucket_edges",
    "magnitude_buckets",
    "noisy_bounds",
    "noisy_categories",
    "noisy_histogram",
    "noisy_range",
    "permute_and_flip",
    "range_bar",
]


def noisy_histogram(
    counts: np.ndarray,
    *,
    noise_multiplier: float,
    ledger: PrivacyLedger,
    label: str,
    rng: np.random.Generator,
    sensitivity: int | None = None,
) -> np.ndarray:
    """Gaussian noisy counts over a public set of cells (zero cells included).

    The noise std is ``noise_multiplier * sensitivity`` (default: the ledger's unit, see the
    module docstring).
    """
    counts = np.asarray(counts)
    if not ledger.is_dp:
        return counts.astype(float)
    scale = _sensitivity(ledger, sensitivity)
    ledger.spend(label, GaussianEvent(noise_multiplier=noise_multiplier))
    noisy: np.ndarray = _integer_counts(counts) + ledger.noise.discrete_gaussian(noise_multiplier * scale, counts.shape)
    return noisy


def permute_and_flip(scores: Sequence[float], *, epsilon: float, ledger: PrivacyLedger, label: str) -> int:
    """Index of one candidate, higher scores likelier: the permute-and-flip mechanism (McKenna
    and Sheldon 2020), epsilon-DP when one row (one entity) moves each score by at most the
    ledger's sensitivity, and never worse than the exponential mechanism in expected score.

    Candidates are visited in a secret random order; candidate ``r`` is taken with probability
    ``exp(-epsilon (max - score_r) / (2 sensitivity))``, drawn exactly (rational ``gamma``, the
    ledger's secret source), so the best one always stops the walk. Without DP: the best score.
    """
    values = [float(v) for v in scores]
    if not values or not all(np.isfinite(values)):
        raise ValueError("permute_and_flip needs at least one finite score.")
    best = max(values)
    if not ledger.is_dp:
        return values.index(best)
    ledger.spend(label, PureDPEvent(epsilon=epsilon))
    scale = Fraction(epsilon) / (2 * ledger.sensitivity)
    order = list(range(len(values)))
    for i in range(len(order) - 1, 0, -1):  # Fisher-Yates on secret integers
        j = ledger.noise.randbelow(i + 1)
        order[i], order[j] = order[j], order[i]
    while True:  # one pass always ends at the best candidate (probability 1); the loop is a guard
        for r in order:
            if ledger.noise.bernoulli_exp(scale * (Fraction(best) - Fraction(values[r]))):
                return r


def _sensitivity(ledger: PrivacyLedger, sensitivity: int | None) -> int:
    """The L2 sensitivity of a histogram of rows under the ledger's unit, or the caller's."""
    if sensitivity is None:
        return ledger.sensitivity
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, int) or sensitivity < 1:
        raise ValueError(f"sensitivity must be a positive integer, got {sensitivity!r}.")
    return sensitivity


def _integer_counts(counts: np.ndarray) -> np.ndarray:
    """The true counts as integers (a count of rows is one; anything else is a caller's bug)."""
    rounded = np.rint(counts)
    if not np.array_equal(rounded, counts):
        raise ValueError("DP histograms take integer counts of rows.")
    out: np.ndarray = rounded.astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class NoisyCategories:
    """Categories released by :func:`noisy_categories` and their noisy counts."""

    categories: tuple[object, ...]
    counts: np.ndarray  # noisy, one per released category
    other_count: float  # noisy count of the rows whose key was not released
    null_count: float  # noisy count of missing values


def noisy_categories(
    keys: Sequence[object],
    counts: np.ndarray,
    *,
    null_count: int,
    noise_multiplier: float,
    threshold: float,
    ledger: PrivacyLedger,
    label: str,
    rng: np.random.Generator,
) -> NoisyCategories:
    """Discover categories from private data: release only keys whose noisy count clears ``threshold``.

    Two spends: the thresholded histogram over the observed keys, then a Gaussian histogram
    over the public cells {not released, missing} (each row is in at most one of them).
    ``threshold`` is in counts; the event records it over the ledger's sensitivity.
    """
    counts = np.asarray(counts, dtype=float)
    if not ledger.is_dp:
        keep = counts >= 1
        kept = tuple(k for k, m in zip(keys, keep, strict=True) if m)
        return NoisyCategories(kept, counts[keep], 0.0, float(null_count))
    scale = ledger.sensitivity
    ledger.spend(label, ThresholdedGaussianEvent(noise_multiplier=noise_multiplier, threshold=threshold / scale))
    ledger.spend(f"{label}:other+missing", GaussianEvent(noise_multiplier=noise_multiplier))
    noisy = _integer_counts(counts) + ledger.noise.discrete_gaussian(noise_multiplier * scale, counts.shape)
    keep = noisy >= threshold
    rest = _integer_counts(np.array([counts[~keep].sum(), null_count])) + ledger.noise.discrete_gaussian(
        noise_multiplier * scale, 2
    )
    released = tuple(k for k, m in zip(keys, keep, strict=True) if m)
    return NoisyCategories(released, noisy[keep], float(rest[0]), float(rest[1]))


# ---- numeric bounds over a public grid of magnitudes ------------------------------------
_MIN_EXP = -20  # 2**-20 ~ 1e-6: smaller magnitudes share the lowest bucket
_MAX_EXP = 62  # 2**62 ~ 4.6e18
RANGE_APART_FALSE_POSITIVE = 1e-5  # chance that noise adds a power of two apart from the data's to a DP range


def magnitude_bucket_edges() -> tuple[np.ndarray, np.ndarray]:
    """Public (lower, upper) ends of each magnitude bucket, in the layout of :func:`magnitude_buckets`.

    Negative buckets ``(-2^(e+1), -2^e]``, a bucket for exact zeros, positive buckets
    ``[2^e, 2^(e+1))``; the buckets nearest zero reach zero so tiny values are covered.
    """
    exps = np.arange(_MIN_EXP, _MAX_EXP + 1, dtype=float)
    pos_lower, pos_upper = 2.0**exps, 2.0 ** (exps + 1)
    pos_lower[0] = 0.0
    lower = np.concatenate([-pos_upper[::-1], [0.0], pos_lower])
    upper = np.concatenate([-pos_lower[::-1], [0.0], pos_upper])
    return lower, upper


def magnitude_buckets(values: np.ndarray) -> np.ndarray:
    """Index of each finite value's public magnitude bucket (see :func:`magnitude_bucket_edges`).

    Layout: negative buckets 0..K-1 (most negative first), zero at K, positive K+1..2K.
    """
    n_exp = _MAX_EXP - _MIN_EXP + 1
    mag = np.abs(values)
    exp = np.floor(np.log2(np.where(mag > 0, mag, 1.0)))
    exp = np.clip(exp, _MIN_EXP, _MAX_EXP).astype(np.int64) - _MIN_EXP
    idx = np.where(values > 0, n_exp + 1 + exp, n_exp - 1 - exp)
    return np.where(values == 0, n_exp, idx)


def noisy_bounds(
    values: np.ndarray,
    *,
    noise_multiplier: float,
    ledger: PrivacyLedger,
    label: str,
    rng: np.random.Generator,
    min_count: float | None = None,
) -> tuple[float, float] | None:
    """DP lower/upper bounds from a noisy histogram over public magnitude buckets.

    The *core* is every bucket whose noisy count clears a high bar (a pure-noise count that high
    happens in any bucket with probability < 1%); the bounds are the outer ends of the core's
    extreme buckets, extended outward over adjacent buckets that clear ``min_count`` (default
    ``2 * noise_multiplier``, or 1 without DP). Returns None when no bucket reaches the high
    bar (the column is too small for the budget).
    """
    lower_ends, upper_ends = magnitude_bucket_edges()
    n_exp = _MAX_EXP - _MIN_EXP + 1
    counts = np.bincount(magnitude_buckets(values), minlength=2 * n_exp + 1)
    noisy = noisy_histogram(counts, noise_multiplier=noise_multiplier, ledger=ledger, label=label, rng=rng)
    sd = noise_multiplier * ledger.sensitivity  # the noise std in counts
    floor = min_count if min_count is not None else (2.0 * sd if ledger.is_dp else 1.0)
    high = sd * NormalDist().inv_cdf(1 - 0.01 / len(noisy)) if ledger.is_dp else floor
    core = np.flatnonzero(noisy >= max(floor, high))
    if core.size == 0:
        return None
    lo, hi = int(core[0]), int(core[-1])
    while lo > 0 and noisy[lo - 1] >= floor:
        lo -= 1
    while hi + 1 < len(noisy) and noisy[hi + 1] >= floor:
        hi += 1
    return float(lower_ends[lo]), float(upper_ends[hi])


# ---- category discovery with public candidates ------------------------------------------
@dataclass(frozen=True, slots=True)
class DiscoveredCategories:
    """What :func:`discover_categories` releases (every count noisy)."""

    private: tuple[object, ...]  # keys outside the public candidates that cleared the DP threshold
    private_counts: np.ndarray
    candidates: tuple[object, ...]  # every public candidate, in the order given
    candidate_counts: np.ndarray  # noisy count of each candidate (zero-count candidates included)
    null_count: float  # noisy count of missing values (a public cell)


def discover_categories(
    keys: Sequence[object],
    counts: np.ndarray,
    *,
    candidates: Sequence[object] = (),
    candidate_counts: np.ndarray | None = None,
    null_count: int,
    noise_multiplier: float,
    threshold: float,
    ledger: PrivacyLedger,
    label: str,
    rng: np.random.Generator,
) -> DiscoveredCategories:
    """One Gaussian histogram over public cells plus a thresholded histogram over private keys.

    The public cells are the ``candidates`` (values known in advance, e.g. small integer codes or
    the entries of public vocabularies) and the missing-value cell: their noisy counts are all
    released, zero counts included, so they cost a plain Gaussian mechanism. ``keys`` (which must
    not contain any candidate) are values seen only in the private rows: one is released only when
    its noisy count clears ``threshold`` (in counts). Each row lies in exactly one cell (L2
    sensitivity 1 under add/remove one row, ``k`` under add/remove one entity of at most ``k``
    rows); a key held by a single row (entity) is released with probability
    ``P(k + N(0, (k sigma)^2) >= threshold) = P(1 + N(0, sigma^2) >= threshold / k)``, which
    :class:`ThresholdedGaussianEvent` adds to delta (it records ``threshold / k``). One spend in all.
    """
    counts = np.asarray(counts, dtype=float)
    cand = np.zeros(len(candidates)) if candidate_counts is None else np.asarray(candidate_counts, dtype=float)
    if len(cand) != len(candidates) or len(counts) != len(keys):
        raise ValueError("counts must have one entry per key and per candidate.")
    if not ledger.is_dp:
        keep = counts >= 1
        kept = tuple(k for k, m in zip(keys, keep, strict=True) if m)
        return DiscoveredCategories(kept, counts[keep], tuple(candidates), cand.copy(), float(null_count))
    scale = ledger.sensitivity
    ledger.spend(label, ThresholdedGaussianEvent(noise_multiplier=noise_multiplier, threshold=threshold / scale))
    sd = noise_multiplier * scale
    noisy = _integer_counts(counts) + ledger.noise.discrete_gaussian(sd, counts.shape)
    noisy_cand = _integer_counts(cand) + ledger.noise.discrete_gaussian(sd, cand.shape)
    noisy_null = float(_integer_counts(np.array([null_count]))[0] + ledger.noise.discrete_gaussian(sd, 1)[0])
    keep = noisy >= threshold
    released = tuple(k for k, m in zip(keys, keep, strict=True) if m)
    return DiscoveredCategories(released, noisy[keep], tuple(candidates), noisy_cand, noisy_null)


# ---- DP range over a fine public grid ---------------------------------------------------
def fine_bucket_edges(sub_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Public (lower, upper) ends of the cells of :func:`fine_buckets`.

    Each magnitude bucket of :func:`magnitude_bucket_edges` is cut into ``sub_cells`` equal
    cells (the exact-zero bucket stays one cell), so a range read off this grid overshoots the
    data by at most ``1 / sub_cells`` of a power of two instead of a whole one.
    """
    lower, upper = magnitude_bucket_edges()
    lo_out: list[np.ndarray] = []
    hi_out: list[np.ndarray] = []
    for lo, hi in zip(lower, upper, strict=True):
        if lo == hi:
            lo_out.append(np.array([lo]))
            hi_out.append(np.array([hi]))
            continue
        cuts = np.linspace(lo, hi, sub_cells + 1)
        lo_out.append(cuts[:-1])
        hi_out.append(cuts[1:])
    return np.concatenate(lo_out), np.concatenate(hi_out)


def fine_buckets(values: np.ndarray, sub_cells: int) -> np.ndarray:
    """Index of each finite value's cell in the layout of :func:`fine_bucket_edges`."""
    values = np.asarray(values, dtype=float)
    lower, upper = magnitude_bucket_edges()
    coarse = magnitude_buckets(values)
    lo, hi = lower[coarse], upper[coarse]
    width = np.where(hi > lo, hi - lo, 1.0)
    sub = np.clip(np.floor((values - lo) / width * sub_cells), 0, sub_cells - 1).astype(np.int64)
    n_exp = _MAX_EXP - _MIN_EXP + 1  # the zero bucket's coarse index; it has a single cell
    base = np.where(coarse < n_exp, coarse * sub_cells, coarse * sub_cells - (sub_cells - 1))
    return np.where(coarse == n_exp, n_exp * sub_cells, base + np.where(coarse == n_exp, 0, sub))


def range_bar(noise_sd: float, sub_cells: int = 2) -> float:
    """Rows one power of two (both signs summed) must hold for :func:`noisy_range` to find a range.

    ``noise_sd`` is the noise of one fine cell in rows (the noise multiplier times the ledger's
    sensitivity); public inputs only, so ``tabsynth plan`` can say it before anything is spent.
    """
    n_exp = _MAX_EXP - _MIN_EXP + 1
    return float(noise_sd * math.sqrt(2 * sub_cells) * NormalDist().inv_cdf(1 - 0.01 / n_exp))


def noisy_range(
    values: np.ndarray,
    *,
    noise_multiplier: float,
    ledger: PrivacyLedger,
    label: str,
    rng: np.random.Generator,
    sub_cells: int = 2,
) -> tuple[float, float] | None:
    """DP (lower, upper) of ``values`` from one Gaussian histogram over the fine public grid.

    Post-processing of the noisy cells, coarse to fine:

    1. magnitudes: the two signs of each power of two are summed, and the core of the
       magnitudes (with the exact-zero cell) is found as in :func:`noisy_bounds` (groups
       clearing a high bar, extended over neighbours whose sum clears ``2 sigma`` or one of
       whose cells clears ``3 sigma``); the magnitudes below the core reach down to zero
       when their combined count is significant (data around zero, e.g. a standard normal);
    2. signs: a side (negative, positive) exists when its cells in the strong powers of two
       hold a significant count;
    3. ends: each end is the outermost fine cell whose tail (it and the cells beyond it) has a
       significant noisy count, so the range overshoots the evidence by at most one fine cell
       (half a power of two by default) instead of a whole power of two.

    Returns None when no magnitude clears the bar (too few rows for the budget).
    """
    values = np.asarray(values, dtype=float)
    lower_ends, upper_ends = fine_bucket_edges(sub_cells)
    counts = np.bincount(fine_buckets(values, sub_cells), minlength=len(lower_ends))
    noisy = noisy_histogram(counts, noise_multiplier=noise_multiplier, ledger=ledger, label=label, rng=rng)
    if not ledger.is_dp:
        occupied = np.flatnonzero(noisy > 0)
        return (float(lower_ends[occupied[0]]), float(upper_ends[occupied[-1]])) if occupied.size else None
    sigma = noise_multiplier * ledger.sensitivity  # the noise std in counts
    n_exp = _MAX_EXP - _MIN_EXP + 1
    zero = n_exp * sub_cells  # index of the exact-zero cell
    # Cells of exponent g (0 = smallest magnitude), outer cells last within each exponent.
    pos = (zero + 1 + np.arange(zero)).reshape(n_exp, sub_cells)
    neg = (zero - 1 - np.arange(zero)).reshape(n_exp, sub_cells)
    mags = noisy[pos].sum(axis=1) + noisy[neg].sum(axis=1)
    group_sigma = sigma * np.sqrt(2 * sub_cells)
    high = range_bar(sigma, sub_cells)
    zero_strong = bool(noisy[zero] >= sigma * NormalDist().inv_cdf(1 - 0.01 / n_exp))
    anchor = int(np.argmax(mags))
    if mags[anchor] < high:
        return (0.0, 0.0) if zero_strong else None
    # The block of powers of two around the strongest one: a neighbour joins when it clears the
    # high bar, its sum or one of its fine cells stands out of the noise. A power of two apart
    # from that block (data at two scales) must clear a far stricter bar: with the high bar
    # alone, one pure-noise magnitude in a hundred stretched the range to 2**50.
    peak = np.maximum(noisy[pos].max(axis=1), noisy[neg].max(axis=1))
    joins = (mags >= high) | (mags >= 2 * group_sigma) | (peak >= 3.0 * sigma)
    g_lo = g_hi = anchor
    while g_lo > 0 and joins[g_lo - 1]:
        g_lo -= 1
    while g_hi + 1 < n_exp and joins[g_hi + 1]:
        g_hi += 1
    apart = np.flatnonzero(mags >= group_sigma * NormalDist().inv_cdf(1 - RANGE_APART_FALSE_POSITIVE / n_exp))
    if apart.size:
        g_lo, g_hi = min(g_lo, int(apart[0])), max(g_hi, int(apart[-1]))
    core = g_lo + np.flatnonzero(mags[g_lo : g_hi + 1] >= high)
    below = float(mags[:g_lo].sum() + noisy[zero])
    to_zero = zero_strong or below >= 2.0 * sigma * np.sqrt(2 * sub_cells * g_lo + 1)
    ends: dict[str, float | None] = {}
    for side, grid in (("pos", pos), ("neg", neg)):
        cells = grid[g_lo : g_hi + 1].ravel()
        in_core = grid[core].ravel()  # the sign test looks at the strong powers of two only
        present = noisy[in_core].sum() >= 3.0 * sigma * np.sqrt(len(in_core))
        # cells run from the inner (small magnitude) to the outer end
        ends[side] = _outer_end(noisy, cells, sigma, upper_ends if side == "pos" else lower_ends) if present else None
        ends[side + "_inner"] = (
            _outer_end(noisy, cells[::-1], sigma, lower_ends if side == "pos" else upper_ends) if present else None
        )
    if ends["pos"] is None and ends["neg"] is None:  # the signs split the evidence: keep both whole
        return float(lower_ends[neg[g_hi, -1]]), float(upper_ends[pos[g_hi, -1]])
    if ends["pos"] is not None and ends["neg"] is not None:
        return float(ends["neg"]), float(ends["pos"])
    if zero_strong:  # exact zeros, plus one side
        return (0.0, float(ends["pos"])) if ends["pos"] is not None else (float(ends["neg"] or 0.0), 0.0)
    if ends["pos"] is not None:
        return (0.0 if to_zero else float(ends["pos_inner"] or 0.0)), float(ends["pos"])
    return float(ends["neg"] or 0.0), (0.0 if to_zero else float(ends["neg_inner"] or 0.0))


def _outer_end(noisy: np.ndarray, cells_inner_first: np.ndarray, sigma: float, edge: np.ndarray) -> float:
    """The outer edge of the outermost cell whose tail (it and every cell beyond) is significant."""
    outer_first = cells_inner_first[::-1]
    tail = np.cumsum(noisy[outer_first])
    bar = 2.0 * sigma * np.sqrt(np.arange(1, len(outer_first) + 1))
    hit = np.flatnonzero(tail >= bar)
    return float(edge[outer_first[hit[0]] if hit.size else outer_first[-1]])
