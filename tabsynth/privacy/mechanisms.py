"""The DP mechanisms the data transformer needs, each spending through a ledger first.

All of them are Gaussian mechanisms on histograms (L2 sensitivity 1 under add/remove one
record: one record falls in exactly one cell), so they compose tightly with DP-SGD under
RDP. Each function takes the *true* counts, spends the event in the ledger (which refuses
before anything is released if the budget would be exceeded), and returns noisy counts.
When the ledger is not DP (epsilon=None) they return the exact counts and record nothing.

The noise is the exact *discrete* Gaussian drawn from the ledger's secret
:class:`~tabsynth.privacy.randomness.NoiseSource` (never from ``rng``, which callers may have
seeded): released counts are integers, and nothing written can replay them. The ``rng``
arguments are kept for non-DP helpers and API stability; no DP draw uses them.

Pure numpy; depends on nothing else in tabsynth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .events import GaussianEvent, ThresholdedGaussianEvent
from .ledger import PrivacyLedger

__all__ = [
    "NoisyCategories",
    "magnitude_bucket_edges",
    "magnitude_buckets",
    "noisy_bounds",
    "noisy_categories",
    "noisy_histogram",
]


def noisy_histogram(
    counts: np.ndarray,
    *,
    noise_multiplier: float,
    ledger: PrivacyLedger,
    label: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Gaussian noisy counts over a public set of cells (zero cells included)."""
    counts = np.asarray(counts)
    if not ledger.is_dp:
        return counts.astype(float)
    ledger.spend(label, GaussianEvent(noise_multiplier=noise_multiplier))
    noisy: np.ndarray = _integer_counts(counts) + ledger.noise.discrete_gaussian(noise_multiplier, counts.shape)
    return noisy


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
    """
    counts = np.asarray(counts, dtype=float)
    if not ledger.is_dp:
        keep = counts >= 1
        kept = tuple(k for k, m in zip(keys, keep, strict=True) if m)
        return NoisyCategories(kept, counts[keep], 0.0, float(null_count))
    ledger.spend(label, ThresholdedGaussianEvent(noise_multiplier=noise_multiplier, threshold=threshold))
    ledger.spend(f"{label}:other+missing", GaussianEvent(noise_multiplier=noise_multiplier))
    noisy = _integer_counts(counts) + ledger.noise.discrete_gaussian(noise_multiplier, counts.shape)
    keep = noisy >= threshold
    rest = _integer_counts(np.array([counts[~keep].sum(), null_count])) + ledger.noise.discrete_gaussian(
        noise_multiplier, 2
    )
    released = tuple(k for k, m in zip(keys, keep, strict=True) if m)
    return NoisyCategories(released, noisy[keep], float(rest[0]), float(rest[1]))


# ---- numeric bounds over a public grid of magnitudes ------------------------------------
_MIN_EXP = -20  # 2**-20 ~ 1e-6: smaller magnitudes share the lowest bucket
_MAX_EXP = 62  # 2**62 ~ 4.6e18


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
    floor = min_count if min_count is not None else (2.0 * noise_multiplier if ledger.is_dp else 1.0)
    high = noise_multiplier * NormalDist().inv_cdf(1 - 0.01 / len(noisy)) if ledger.is_dp else floor
    core = np.flatnonzero(noisy >= max(floor, high))
    if core.size == 0:
        return None
    lo, hi = int(core[0]), int(core[-1])
    while lo > 0 and noisy[lo - 1] >= floor:
        lo -= 1
    while hi + 1 < len(noisy) and noisy[hi + 1] >= floor:
        hi += 1
    return float(lower_ends[lo]), float(upper_ends[hi])
