"""DP 1- and 2-way marginals on the transformer's bins, and the quality filter that uses them.

``measure_marginals`` releases, through the ledger, one noisy histogram per modelled column
(over its public slots) and one per chosen pair of columns (over the public cells slots x
slots). Every histogram has L2 sensitivity 1 under add/remove one row (a row falls in exactly
one cell), and one noise level is calibrated up front for all of them. Two sets of pairs are
measured:

* the target's and the sensitive columns' pairs, chosen from public information only (the
  schema's roles, the column count and the DP row estimate, :func:`choose_pairs`);
* up to :data:`N_SELECTED_PAIRS` more, chosen AIM-style by permute-and-flip (an exponential
  mechanism that is never worse than the usual one, with exact draws): the
  score of a candidate pair is how far, in rows, its true 2-way table lies from the product of
  the DP 1-way marginals just released (so the pairs the 1-way marginals explain worst win),
  less the noise its own measurement would add. One row moves one cell of the true table, so a
  score moves by at most the ledger's sensitivity; every round is a ``marginal:select`` entry.

``repair_pairs`` and ``select_rows`` are post-processing of those releases and of the model's
output. ``repair_pairs`` first redraws, in each pool row that falls in a 2-way cell the DP counts
show empty (a structural zero: ``education = Bachelors`` with ``education_num = 4``), one column of
the pair from its DP conditional given the other (a DP-SGD model at epsilon 1 learned such
code/label pairs as almost independent). Then ``select_rows`` and of the model's output: it rakes
(iterative proportional fitting) weights on a pool of synthetic rows towards targets made from
the DP marginals (each noisy count shrunk towards the pool's where the noise explains the gap,
pair tables fitted to the 1-way targets: :func:`shrink_to_pool`), then draws exactly ``n_rows``
of them without replacement (systematic sampling on capped inclusion probabilities). It never
sees a real row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import ConfigError, IncompatibleModelError
from .privacy.calibration import gaussian_noise_for
from .privacy.ledger import PrivacyLedger
from .privacy.mechanisms import noisy_histogram, permute_and_flip
from .transform import DPTableTransformer, EncodedTable

__all__ = [
    "MarginalSet",
    "association_scores",
    "candidate_pairs",
    "choose_pairs",
    "measure_marginals",
    "repair_pairs",
    "select_pairs",
    "select_rows",
    "shrink_to_pool",
]

#: The noisy count of a 2-way cell should stay above the noise: pairs are kept while the DP row
#: estimate gives at least this many rows per cell on average.
MIN_ROWS_PER_CELL = 2.0
#: At most this many 2-way marginals (more would spread the share too thin).
MAX_PAIRS = 24
#: At most this many more pairs chosen by permute-and-flip (beyond the role pairs).
N_SELECTED_PAIRS = 8
#: Share of the marginals stage's zCDP budget that pays for choosing them.
SELECTION_SHARE = 0.1
#: The raking targets keep a noisy count's deviation from the pool beyond this many noise stds.
GARROTE_Z = 1.0
#: A 2-way cell whose noisy count is under this many noise stds is empty for ``repair_pairs``
#: (2 moved more rows and cost TSTR on wide_cats and credit_default: docs/benchmarks.md).
EMPTY_Z = 1.0
#: ``repair_pairs`` redraws a column only when the other one predicts it this well (Goodman and
#: Kruskal's lambda on the DP table): near-functional pairs such as a code and its label. At 0.5 or
#: 0 it also reshaped pairs that carry the rare class's signal (credit_default TSTR -0.02 to -0.10).
MIN_PREDICTABILITY = 0.8


@dataclass(frozen=True, slots=True)
class MarginalSet:
    """Noisy marginals (DP outputs) keyed by modelled column indices: ``(j,)`` or ``(a, b)``."""

    columns: tuple[str, ...]  # names of the modelled columns, in encoder order
    noise_multiplier: float | None  # None without DP (exact counts)
    counts: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    noise_std: float = 0.0  # the noise std of every count, in rows (noise multiplier x sensitivity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "noise_multiplier": self.noise_multiplier,
            "noise_std": self.noise_std,
            "marginals": [
                {"columns": [self.columns[j] for j in key], "counts": np.asarray(c).tolist()}
                for key, c in self.counts.items()
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarginalSet:
        try:
            columns = tuple(str(c) for c in data["columns"])
            index = {c: j for j, c in enumerate(columns)}
            counts = {
                tuple(index[c] for c in m["columns"]): np.asarray(m["counts"], dtype=float) for m in data["marginals"]
            }
            sigma = data["noise_multiplier"]
            noise_std = float(data.get("noise_std", sigma or 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise IncompatibleModelError(f"The stored marginals are inconsistent ({exc}).") from None
        return cls(columns, None if sigma is None else float(sigma), counts, noise_std)


def choose_pairs(transformer: DPTableTransformer, *, max_pairs: int = MAX_PAIRS) -> list[tuple[int, int]]:
    """The (anchor, other) pairs to measure: target and sensitive columns with every other column.

    Public information only: the schema's roles, the encoders' public slot counts and the DP row
    estimate. A pair is skipped when its table would average fewer than ``MIN_ROWS_PER_CELL`` rows
    per cell; at most ``max_pairs`` are kept (target pairs first, in column order).
    """
    schema = transformer.schema_
    names = [e.name for e in transformer.encoders_]
    anchors = [names.index(c) for c in dict.fromkeys([schema.target, *schema.sensitive]) if c in names]
    pairs: list[tuple[int, int]] = []
    seen: set[frozenset[int]] = set()
    for a in anchors:
        for b in range(len(names)):
            key = frozenset((a, b))
            if b == a or key in seen or not _dense_enough(transformer, a, b):
                continue
            seen.add(key)
            pairs.append((a, b))
    return pairs[:max_pairs]


def _dense_enough(transformer: DPTableTransformer, a: int, b: int) -> bool:
    """Does the (a, b) table average ``MIN_ROWS_PER_CELL`` DP-estimated rows a cell? (public inputs only)"""
    cells = transformer.encoders_[a].n_slots * transformer.encoders_[b].n_slots
    return float(transformer.n_rows_estimate_) / cells >= MIN_ROWS_PER_CELL


def _true_table(slots: np.ndarray, key: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """The exact counts of the rows over the cells of ``key`` (1- or 2-way), shaped ``shape``."""
    return np.bincount(_cells(slots, key, shape), minlength=int(np.prod(shape))).reshape(shape)


def _cells(slots: np.ndarray, key: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    if len(key) == 1:
        out: np.ndarray = slots[:, key[0]].astype(np.int64)
        return out
    return np.ravel_multi_index((slots[:, key[0]].astype(np.int64), slots[:, key[1]].astype(np.int64)), shape)


def candidate_pairs(transformer: DPTableTransformer, exclude: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every other pair of modelled columns whose table averages ``MIN_ROWS_PER_CELL`` DP rows a cell."""
    n_cols = len(transformer.encoders_)
    taken = {frozenset(p) for p in exclude}
    return [
        (a, b)
        for a in range(n_cols)
        for b in range(a + 1, n_cols)
        if frozenset((a, b)) not in taken and _dense_enough(transformer, a, b)
    ]


def association_scores(
    slots: np.ndarray,
    candidates: Sequence[tuple[int, int]],
    one_way: Mapping[int, np.ndarray],
    *,
    n_rows: float,
    noise_std: float,
) -> np.ndarray:
    """Per candidate pair: L1 distance in rows between its true table and ``n_rows`` times the
    product of the (DP) 1-way marginals, less the expected L1 noise of measuring it (AIM's
    penalty, ``sqrt(2/pi) * noise_std * cells``). Adding or removing one row moves a score by at
    most 1 (by ``k`` for an entity of ``k`` rows): the 1-way marginals and ``n_rows`` are DP outputs.
    """
    shares = {j: np.clip(c, 0.0, None) / max(float(np.clip(c, 0.0, None).sum()), 1.0) for j, c in one_way.items()}
    out = np.empty(len(candidates))
    for i, (a, b) in enumerate(candidates):
        shape = (len(shares[a]), len(shares[b]))
        true = _true_table(slots, (a, b), shape)
        expected = n_rows * np.outer(shares[a], shares[b])
        out[i] = np.abs(true - expected).sum() - np.sqrt(2.0 / np.pi) * noise_std * shape[0] * shape[1]
    return out


def select_pairs(scores: np.ndarray, k: int, *, epsilon: float, ledger: PrivacyLedger) -> list[int]:
    """Indices of ``k`` distinct candidates, one ``epsilon``-DP round of permute-and-flip each
    (score sensitivity = the ledger's; exact draws from the ledger's secret source)."""
    remaining = list(range(len(scores)))
    chosen: list[int] = []
    for round_ in range(min(k, len(remaining))):
        pick = permute_and_flip(
            [float(scores[i]) for i in remaining], epsilon=epsilon, ledger=ledger, label=f"marginal:select:{round_ + 1}"
        )
        chosen.append(remaining.pop(pick))
    return chosen


def measure_marginals(
    encoded: EncodedTable,
    transformer: DPTableTransformer,
    *,
    ledger: PrivacyLedger,
    epsilon: float | None,
    pairs: Sequence[tuple[int, int]] | None = None,
    n_selected: int = N_SELECTED_PAIRS,
) -> MarginalSet:
    """Release the 1-way marginal of every modelled column and the 2-way marginals of ``pairs``.

    Without explicit ``pairs``: the role pairs of :func:`choose_pairs`, then up to ``n_selected``
    pairs chosen by permute-and-flip (:func:`select_pairs`). Spends ``marginal:<col>``,
    ``marginal:<a>x<b>`` and ``marginal:select:<i>`` in ``ledger``, calibrated up front so that
    together they cost ``epsilon``. Without DP the counts are exact and nothing is selected.
    """
    names = tuple(e.name for e in transformer.encoders_)
    sizes = [e.n_slots for e in transformer.encoders_]
    adaptive = pairs is None and ledger.is_dp and n_selected > 0
    pairs = choose_pairs(transformer) if pairs is None else [tuple(p) for p in pairs]  # type: ignore[misc]
    for a, b in pairs:
        if not (0 <= a < len(names) and 0 <= b < len(names)) or a == b:
            raise ConfigError(f"Invalid marginal pair {(a, b)!r} for {len(names)} modelled columns.")
    keys: list[tuple[int, ...]] = [(j,) for j in range(len(names))] + [(a, b) for a, b in pairs]
    candidates = candidate_pairs(transformer, pairs) if adaptive else []
    n_rounds = min(n_selected, len(candidates))
    sigma, select_eps = _calibrate(epsilon, ledger, n_measured=len(keys) + n_rounds, n_rounds=n_rounds)
    counts: dict[tuple[int, ...], np.ndarray] = {}
    for key in keys:
        counts[key] = _measure(encoded.slots, key, sizes, names, sigma, ledger)
    if n_rounds:
        one_way = {j: counts[(j,)] for j in range(len(names))}
        scores = association_scores(
            encoded.slots,
            candidates,
            one_way,
            n_rows=float(transformer.n_rows_estimate_),
            noise_std=(sigma or 1.0) * ledger.sensitivity,
        )
        for i in select_pairs(scores, n_rounds, epsilon=select_eps, ledger=ledger):
            counts[candidates[i]] = _measure(encoded.slots, candidates[i], sizes, names, sigma, ledger)
    return MarginalSet(names, sigma, counts, noise_std=float(sigma or 0.0) * ledger.sensitivity)


def _calibrate(
    epsilon: float | None, ledger: PrivacyLedger, *, n_measured: int, n_rounds: int
) -> tuple[float | None, float]:
    """One noise multiplier for the measurements and one epsilon per selection round.

    In zCDP terms the selection gets ``SELECTION_SHARE`` of the stage: ``n_rounds`` pure-DP rounds
    of ``eps`` cost ``n_rounds * eps**2 / 2``, the Gaussians ``n_measured / (2 sigma**2)``. The
    pure-DP curve is below that line at every order, so calibrating the Gaussians as if there
    were ``n_measured / (1 - SELECTION_SHARE)`` of them covers both.
    """
    if not ledger.is_dp:
        return None, 0.0
    if epsilon is None or not epsilon > 0:
        raise ConfigError(f"measure_marginals needs epsilon > 0 under DP, got {epsilon!r}.")
    share = SELECTION_SHARE if n_rounds else 0.0
    sigma = gaussian_noise_for(epsilon, ledger.delta, n_mechanisms=n_measured / (1.0 - share))
    select_eps = float(np.sqrt(share / (1.0 - share) * n_measured / n_rounds) / sigma) if n_rounds else 0.0
    return sigma, select_eps


def _measure(
    slots: np.ndarray,
    key: tuple[int, ...],
    sizes: Sequence[int],
    names: Sequence[str],
    sigma: float | None,
    ledger: PrivacyLedger,
) -> np.ndarray:
    true = _true_table(slots, key, tuple(sizes[j] for j in key))
    label = "marginal:" + "x".join(names[j] for j in key)
    unused_rng = np.random.default_rng(0)  # the noise comes from the ledger's secret source, not from here
    noisy = noisy_histogram(true, noise_multiplier=sigma or 1.0, ledger=ledger, label=label, rng=unused_rng)
    return np.asarray(noisy, dtype=float)


def _targets(marginals: MarginalSet, fixed: Mapping[int, int]) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """The (key, noisy counts) pairs the filter rakes to, given fixed condition slots."""
    out: list[tuple[tuple[int, ...], np.ndarray]] = []
    for key, noisy in marginals.counts.items():
        free = [j for j in key if j not in fixed]
        if not free:
            continue
        if len(free) == len(key):
            if fixed:
                continue  # an unconditional marginal does not describe the conditioned rows
            out.append((key, np.asarray(noisy, dtype=float).ravel()))
        else:  # one column fixed: the conditional marginal of the other one
            a, b = key
            row = noisy[fixed[a], :] if a in fixed else noisy[:, fixed[b]]
            out.append(((free[0],), np.asarray(row, dtype=float)))
    return out


def shrink_to_pool(noisy: np.ndarray, expected: np.ndarray, noise_std: float) -> np.ndarray:
    """Raking targets: each noisy count of one table moved towards the pool's ``expected`` count.

    With ``d = noisy - expected`` and ``s`` the noise std, a cell keeps ``lam * g(d)``, clipped
    at 0, where

    * ``g(d) = d (1 - s**2 / d**2)`` beyond ``s`` and 0 inside it (a non-negative garrote): a
      deviation the noise explains does not move the pool;
    * ``lam = t / (t + s**2)`` with ``t = max(0, mean(d**2) - s**2)``, the table's excess of
      deviation over the noise (an empirical-Bayes factor): a table the pool already matches
      within its noise (51 states of ~50 rows each at s = 50) stays as the pool has it.

    Raking to every clipped noisy cell gave a small group (about 270 of 32,000 rows, in a dozen
    cells of each of its pair tables, at s = 110) twice its share, because ``max(0, count +
    noise)`` adds about ``0.4 s`` to each near-empty cell; both factors are odd in ``d``, so pure
    noise adds no mass on average. Post-processing of DP counts and of the synthetic pool only;
    exact counts (``s = 0``) are kept as they are.
    """
    noisy = np.asarray(noisy, dtype=float)
    if noise_std <= 0:
        exact: np.ndarray = np.clip(noisy, 0.0, None)
        return exact
    d = noisy - expected
    bar = GARROTE_Z * noise_std
    garrote = np.where(np.abs(d) > bar, 1.0 - bar**2 / np.where(d == 0, 1.0, d) ** 2, 0.0) * d
    excess = max(0.0, float(np.mean(d**2)) - noise_std**2)
    out: np.ndarray = np.clip(expected + excess / (excess + noise_std**2) * garrote, 0.0, None)
    return out


def _fit_margins(table: np.ndarray, rows: np.ndarray, cols: np.ndarray, iterations: int = 20) -> np.ndarray:
    """``table`` scaled (iterative proportional fitting) to row sums ``rows`` and column sums ``cols``."""
    total = float(rows.sum())
    cols = cols * total / max(float(cols.sum()), 1e-12)
    out = np.asarray(table, dtype=float).copy()
    for _ in range(iterations):
        r = out.sum(axis=1)
        out *= np.where(r > 0, rows / np.where(r > 0, r, 1.0), 1.0)[:, None]
        c = out.sum(axis=0)
        out *= np.where(c > 0, cols / np.where(c > 0, c, 1.0), 1.0)[None, :]
    return out


def _raking_targets(
    slots: np.ndarray, marginals: MarginalSet, fixed: Mapping[int, int]
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(cells of each pool row, target shares, number of cells) for every table the pool is raked to.

    The 1-way targets come first (:func:`shrink_to_pool` around the pool's counts); each 2-way
    table is then shrunk around the pool's table fitted to those 1-way targets, and fitted to
    them again, so a pair table only adds the interaction its noisy counts show. Its margins
    are sums of many noisy cells (a row of ``k`` cells carries ``sqrt(k)`` times the noise of
    the 1-way count): shrinking each table around the raw pool let a dozen pair tables outvote
    the 1-way correction of a small group, and without the second fit one pair table doubled
    a 0.8% race group.
    """
    sizes = {k[0]: len(c) for k, c in marginals.counts.items() if len(k) == 1}
    one_way: dict[int, np.ndarray] = {}
    out: list[tuple[np.ndarray, np.ndarray, int]] = []
    for key, noisy in sorted(_targets(marginals, fixed), key=lambda t: len(t[0])):
        shape = tuple(sizes[j] for j in key)
        cells = _cells(slots, key, shape)
        n_cells = int(np.prod(shape))
        pool = np.bincount(cells, minlength=n_cells).astype(float)
        expected = pool * max(float(noisy.sum()), 1.0) / max(float(pool.sum()), 1.0)
        pinned = len(key) == 2 and key[0] in one_way and key[1] in one_way
        if pinned:
            expected = _fit_margins(expected.reshape(shape), one_way[key[0]], one_way[key[1]]).ravel()
        target = shrink_to_pool(noisy, expected, marginals.noise_std)
        if pinned:  # its margins are sums of many noisy cells: the 1-way targets are better estimates
            target = _fit_margins(target.reshape(shape), one_way[key[0]], one_way[key[1]]).ravel()
        if len(key) == 1 and not fixed:
            one_way[key[0]] = target
        if target.sum() > 0:
            out.append((cells, target / target.sum(), n_cells))
    return out


def rake(
    slots: np.ndarray,
    marginals: MarginalSet,
    *,
    fixed: Mapping[int, int] | None = None,
    iterations: int = 30,
    max_weight: float = 20.0,
    min_weight: float = 0.05,
) -> np.ndarray:
    """Raking weights (mean 1, in ``[min_weight, max_weight]``) on the pool so that its weighted
    marginals approach the targets. The cap is applied inside every sweep, so the other tables
    make up for what a capped row cannot give."""
    weights = np.ones(slots.shape[0])
    cells_of = _raking_targets(slots, marginals, fixed or {})
    for _ in range(iterations):
        for cells, share, n_cells in cells_of:
            current = np.bincount(cells, weights=weights, minlength=n_cells).astype(float)
            current /= current.sum()
            factor = np.where(current > 0, share / np.where(current > 0, current, 1.0), 1.0)
            weights *= factor[cells]
            weights = np.clip(weights / weights.mean(), min_weight, max_weight)
    out: np.ndarray = weights / weights.mean()
    return out


def _inclusion(weights: np.ndarray, n_rows: int) -> np.ndarray:
    """Inclusion probabilities proportional to ``weights``, summing to ``n_rows``, capped at 1."""
    p = weights * n_rows / weights.sum()
    for _ in range(50):
        over = p > 1.0
        if not over.any():
            break
        p[over] = 1.0
        rest = ~over
        p[rest] *= (n_rows - over.sum()) / p[rest].sum()
    out: np.ndarray = np.minimum(p, 1.0)
    return out


def _predictability(table: np.ndarray) -> float:
    """Goodman and Kruskal's lambda of the columns given the rows: 1 when each row value fixes the
    column value, 0 when knowing it does not improve on guessing the most common column value."""
    total = float(table.sum())
    if total <= 0:
        return 0.0
    base = float(table.sum(axis=0).max())
    return 0.0 if total <= base else (float(table.max(axis=1).sum()) - base) / (total - base)


def repair_pairs(
    slots: np.ndarray,
    marginals: MarginalSet,
    *,
    rng: np.random.Generator,
    locked: Sequence[int] = (),
    z: float = EMPTY_Z,
) -> tuple[np.ndarray, dict[str, int]]:
    """Pool slots with rows moved out of the 2-way cells the DP counts show empty, for pairs where
    one column nearly fixes the other.

    For each measured pair (most affected pool rows first) without a ``locked`` column (the
    conditions, the target: pairs with the target carry the class signal and are left to the
    raking): a cell is empty when its noisy count is under ``z`` noise stds; the *child* is the
    column the other (the *parent*) predicts better on the DP table (among columns no earlier pair
    used), and the pair is repaired only when that predictability reaches
    :data:`MIN_PREDICTABILITY`. Each pool row in an empty cell gets its child redrawn from the DP conditional
    given its parent (the non-empty cells of the parent's row, in proportion to their noisy
    counts); a parent value with no non-empty cell leaves its rows alone. Post-processing only:
    DP tables and synthetic rows.

    Returns the new slots and, per child column name, how many rows were redrawn.
    """
    out = np.array(slots, copy=True)
    if marginals.noise_multiplier is None:
        return out, {}
    floor = z * marginals.noise_std
    pairs = [
        (key, np.clip(np.asarray(t, dtype=float), 0.0, None)) for key, t in marginals.counts.items() if len(key) == 2
    ]

    def n_empty(key: tuple[int, ...], table: np.ndarray) -> int:
        return int((table[out[:, key[0]], out[:, key[1]]] < floor).sum())

    fixed, used = set(locked), set[int]()
    redrawn: dict[str, int] = {}
    for key, table in sorted(pairs, key=lambda kt: -n_empty(*kt)):
        a, b = key
        if a in fixed or b in fixed or n_empty(key, table) == 0:
            continue
        options = [(b, a, table), (a, b, table.T)]  # (child, parent, table[parent, child])
        options = [o for o in options if o[0] not in used]  # a column is redrawn by one pair at most
        if not options:
            continue
        child, parent, t = max(options, key=lambda o: _predictability(np.where(o[2] >= floor, o[2], 0.0)))
        cond = np.where(t >= floor, t, 0.0)
        if _predictability(cond) < MIN_PREDICTABILITY:
            continue
        bad = np.flatnonzero(t[out[:, parent], out[:, child]] < floor)
        bad = bad[cond[out[bad, parent]].sum(axis=1) > 0]  # a parent value with evidence somewhere
        if bad.size:
            probs = cond[out[bad, parent]]
            cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
            draw = (cum < rng.uniform(size=(bad.size, 1))).sum(axis=1)
            out[bad, child] = np.minimum(draw, t.shape[1] - 1)
            redrawn[marginals.columns[child]] = redrawn.get(marginals.columns[child], 0) + int(bad.size)
        used.update((a, b))
    return out, redrawn


def select_rows(
    slots: np.ndarray,
    marginals: MarginalSet,
    n_rows: int,
    *,
    rng: np.random.Generator,
    fixed: Mapping[int, int] | None = None,
) -> np.ndarray:
    """Indices of exactly ``n_rows`` distinct pool rows whose marginals match the DP marginals."""
    if n_rows > slots.shape[0]:
        raise ConfigError(f"Cannot select {n_rows} rows from a pool of {slots.shape[0]}.")
    # A row is drawn at most once: its inclusion probability is its weight / (pool / n_rows), so
    # the raking is capped there (capping only afterwards moved a sex share from 0.33 to 0.25).
    weights = rake(slots, marginals, fixed=fixed, max_weight=slots.shape[0] / n_rows)
    order = rng.permutation(slots.shape[0])  # random order: systematic sampling is then unbiased
    p = _inclusion(weights[order], n_rows)
    edges = np.concatenate([[0.0], np.cumsum(p)])
    edges[-1] = float(n_rows)
    points = rng.uniform() + np.arange(n_rows)
    picked = np.searchsorted(edges, points, side="right") - 1
    picked = np.clip(picked, 0, slots.shape[0] - 1)
    out: np.ndarray = order[picked]
    return out
