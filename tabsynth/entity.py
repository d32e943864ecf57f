"""Entity-level privacy (issue 18): protect the patient, not the row.

When a table holds several rows per person (tests per patient, transactions per card), declare
the column that names the person: the *entity*. tabsynth then

1. bounds each entity's contribution to ``max_rows_per_entity`` rows (a public setting): an
   entity with more rows keeps a random subset, chosen with the ledger's secret randomness;
2. runs every DP statistic at the sensitivity of one entity (k rows: see
   :mod:`tabsynth.privacy.mechanisms`) and DP-SGD over Poisson-sampled entities with each
   entity's summed gradient bounded (see :mod:`tabsynth.synthesizers._trainer`);
3. measures the distribution of rows per entity on 1..k with one DP histogram (each entity lies
   in one cell: sensitivity 1), and groups the synthetic rows into fake entities of those sizes.

The entity column itself is never modelled: its values are never released, only the DP
distribution of how many rows an entity has.

This module depends on ``privacy``, ``schema`` and ``exceptions`` only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .exceptions import ConfigError, SchemaError
from .privacy import PrivacyError, PrivacyLedger
from .privacy.ledger import check_contribution_bound
from .privacy.mechanisms import noisy_histogram
from .privacy.randomness import NoiseSource
from .schema import TableSchema, infer_schema

__all__ = [
    "DEFAULT_MAX_ROWS_PER_ENTITY",
    "PLAN_MAX_ROWS_PER_ENTITY",
    "ENTITY_HISTOGRAM_SHARE",
    "BoundedTable",
    "RowsPerEntity",
    "AUTO",
    "assign_entities",
    "choose_contribution_bound",
    "bound_contribution",
    "check_entity",
    "entity_key_candidates",
    "entity_noise_for",
    "entity_warning",
    "infer_schema_with_entity",
    "looks_like_key_name",
    "measure_rows_per_entity",
]

#: Share of the budget's zero-concentrated-DP ``rho`` spent on the rows-per-entity histogram.
ENTITY_HISTOGRAM_SHARE = 0.05
#: ``max_rows_per_entity="auto"``: the bound is chosen from a DP histogram of rows per entity over
#: these public cells (upper ends; the last cell holds every larger entity, which is bounded to it).
AUTO = "auto"
AUTO_CELLS = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100)
#: ... as the smallest cell end that keeps this DP-estimated share of the rows.
AUTO_ROW_SHARE = 0.95
#: The default contribution bound: chosen with DP (see :func:`choose_contribution_bound`). A fixed
#: default cannot suit both repeated-measures tables (about 1.3 tests per patient) and card
#: tables (hundreds of rows per card): on the covid-shaped benchmark a fixed 10 makes every
#: histogram 10x noisier and an undeclared coded column is refused at epsilon = 1, while "auto"
#: picks 2 for 5% of the budget's rho (docs/benchmarks.md). Pass an integer when the table's
#: design tells you the bound (DP-SGD's noise does not depend on it; the histograms' does).
DEFAULT_MAX_ROWS_PER_ENTITY: int | str = AUTO
#: The bound ``tabsynth plan`` assumes under "auto" (the real one is chosen at fit time).
PLAN_MAX_ROWS_PER_ENTITY = 10


@dataclass(frozen=True, slots=True)
class BoundedTable:
    """The table after bounding: rows without the entity column, and each row's entity code."""

    frame: pd.DataFrame  # the kept rows, original order, the entity column removed, index reset
    codes: np.ndarray  # int64 entity code 0..n_entities-1 of each kept row
    n_entities: int


@dataclass(frozen=True, slots=True)
class RowsPerEntity:
    """The DP distribution of rows per entity on 1..k (post-processed noisy counts)."""

    shares: tuple[float, ...]  # shares[i]: share of entities with i + 1 rows
    n_entities_estimate: float
    rows_kept_share: float = 1.0  # "auto" only: DP estimate of the share of rows the bound keeps

    def to_dict(self) -> dict[str, object]:
        return {
            "shares": list(self.shares),
            "n_entities_estimate": self.n_entities_estimate,
            "rows_kept_share": self.rows_kept_share,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RowsPerEntity:
        shares = data.get("shares")
        if not isinstance(shares, list) or not shares:
            raise SchemaError("The model's rows-per-entity distribution is missing or empty.")
        return cls(
            tuple(float(s) for s in shares),
            float(data.get("n_entities_estimate", 0.0)),  # type: ignore[arg-type]
            rows_kept_share=float(data.get("rows_kept_share", 1.0)),  # type: ignore[arg-type]
        )

    @property
    def mean_rows(self) -> float:
        return float(sum((i + 1) * s for i, s in enumerate(self.shares)))


def check_entity(
    columns: Sequence[object],
    entity: str,
    *,
    target: str | None,
    sensitive: Sequence[str],
    max_rows_per_entity: int | str,
) -> None:
    """Refuse an unusable entity declaration before anything is spent (the messages hold names only)."""
    if max_rows_per_entity != AUTO:
        if isinstance(max_rows_per_entity, str):
            raise ConfigError(f"max_rows_per_entity must be an integer or 'auto', got {max_rows_per_entity!r}.")
        try:
            check_contribution_bound(max_rows_per_entity)
        except PrivacyError as exc:  # from the privacy core: a configuration mistake here
            raise ConfigError(str(exc)) from None
    if not isinstance(entity, str) or not entity:
        raise ConfigError(f"entity must be a column name, got {entity!r}.")
    if entity not in [str(c) for c in columns]:
        raise SchemaError(
            f"The entity column {entity!r} is not in the table; columns are {[str(c) for c in columns]}. "
            "Pass the column that names the person (patient id, card number) with --entity."
        )
    if entity == target or entity in sensitive:
        role = "target" if entity == target else "sensitive"
        raise ConfigError(
            f"The entity column {entity!r} is also the {role} column: the entity key is never modelled, so it "
            f"cannot be a {role}. Choose another {role} column or another entity column."
        )


def bound_contribution(
    frame: pd.DataFrame, entity: str, *, max_rows_per_entity: int, noise: NoiseSource
) -> BoundedTable:
    """Keep at most ``max_rows_per_entity`` rows per entity, a uniformly random subset of its rows.

    The subset is chosen with secret randomness (each row gets a secret uniform key; each entity
    keeps its rows with the k smallest keys), so which rows were kept is never reproducible from
    anything written. A row whose entity is missing counts as an entity of its own. Each entity's
    kept rows depend only on that entity's rows: adding or removing an entity changes nothing else.
    """
    k = max_rows_per_entity
    ids = frame[entity]
    codes, _ = pd.factorize(ids, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if missing.any():  # each row without an entity id is its own entity
        codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    keys = noise.uniform(len(frame))
    order = np.lexsort((keys, codes))  # by entity, then by secret key
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep = np.zeros(len(frame), dtype=bool)
    keep[order[rank < k]] = True
    kept_codes = codes[keep]
    uniq, dense = np.unique(kept_codes, return_inverse=True)
    out = frame.loc[keep].drop(columns=[entity]).reset_index(drop=True)
    return BoundedTable(out, dense.astype(np.int64), len(uniq))


def entity_noise_for(epsilon: float, delta: float, *, share: float = ENTITY_HISTOGRAM_SHARE) -> float:
    """The noise multiplier of the rows-per-entity histogram: ``share`` of the budget's zCDP ``rho``.

    ``rho`` of an (epsilon, delta) budget is ``(sqrt(eps + log(1/delta)) - sqrt(log(1/delta)))^2``;
    a Gaussian mechanism of multiplier sigma costs ``1 / (2 sigma^2)``. This only *sizes* the
    noise: the ledger composes the actual event exactly and DP-SGD gets what is left.
    """
    log_term = math.log(1.0 / delta)
    rho = (math.sqrt(epsilon + log_term) - math.sqrt(log_term)) ** 2
    return 1.0 / math.sqrt(2.0 * share * rho)


def _entity_histogram(hist: np.ndarray, *, ledger: PrivacyLedger, noise_multiplier: float) -> np.ndarray:
    """The one DP release about entity sizes: a histogram of entities, sensitivity 1 (each in one cell)."""
    return noisy_histogram(
        hist,
        noise_multiplier=noise_multiplier,
        ledger=ledger,
        label="entities:rows_per_entity",
        rng=np.random.default_rng(0),  # unused under DP: the ledger's secret stream draws the noise
        sensitivity=1,
    )


def measure_rows_per_entity(
    codes: np.ndarray, *, max_rows_per_entity: int, ledger: PrivacyLedger, noise_multiplier: float
) -> RowsPerEntity:
    """One Gaussian histogram of entities by their number of kept rows (1..k); sensitivity 1.

    Each entity lies in exactly one cell, so adding or removing one changes one cell by one.
    Negative noisy cells are clipped to zero (post-processing).
    """
    k = max_rows_per_entity
    sizes = np.bincount(codes, minlength=0) if len(codes) else np.zeros(0, dtype=np.int64)
    hist = np.bincount(sizes[sizes > 0] - 1, minlength=k)[:k]
    noisy = _entity_histogram(hist, ledger=ledger, noise_multiplier=noise_multiplier)
    clean = np.clip(np.asarray(noisy, dtype=float), 0.0, None)
    total = float(clean.sum())
    shares = clean / total if total > 0 else np.r_[1.0, np.zeros(k - 1)]
    return RowsPerEntity(tuple(float(s) for s in shares), total)


def choose_contribution_bound(
    codes: np.ndarray, *, ledger: PrivacyLedger, noise_multiplier: float
) -> tuple[int, RowsPerEntity]:
    """``max_rows_per_entity="auto"``: a bound and a rows-per-entity distribution from one DP histogram.

    ``codes`` are the entity codes after bounding at ``AUTO_CELLS[-1]`` rows. The histogram counts
    entities per public cell of :data:`AUTO_CELLS` (sensitivity 1: each entity in one cell); cells
    under three noise standard deviations are zeroed, then the bound is the smallest cell end whose
    kept rows (each entity's rows capped at it, cells at their midpoint) are at least
    ``AUTO_ROW_SHARE`` of the estimated rows. Everything after the histogram is post-processing.
    The distribution on 1..k spreads each cell's entities evenly over its sizes and folds the
    entities above k into k (they are bounded to k rows).
    """
    ends = np.asarray(AUTO_CELLS)
    starts = np.r_[1, ends[:-1] + 1]
    sizes = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    hist = np.bincount(np.searchsorted(ends, sizes), minlength=len(ends))[: len(ends)]
    noisy = _entity_histogram(hist, ledger=ledger, noise_multiplier=noise_multiplier)
    clean = np.asarray(noisy, dtype=float)
    if ledger.is_dp:
        clean = np.where(clean >= 3.0 * noise_multiplier, clean, 0.0)
    clean = np.clip(clean, 0.0, None)
    if clean.sum() <= 0:
        clean = np.r_[1.0, np.zeros(len(ends) - 1)]
    mids = (starts + ends) / 2.0
    total_rows = float((clean * mids).sum())
    k = int(ends[-1])
    for end in ends:
        if float((clean * np.minimum(mids, end)).sum()) >= AUTO_ROW_SHARE * total_rows:
            k = int(end)
            break
    kept_share = float((clean * np.minimum(mids, k)).sum()) / total_rows if total_rows > 0 else 1.0
    per_size = np.zeros(k)
    for lo, hi, count in zip(starts, ends, clean, strict=True):
        if lo > k:
            per_size[k - 1] += count
            continue
        top = min(hi, k)
        inside = count * (top - lo + 1) / (hi - lo + 1)
        per_size[lo - 1 : top] += inside / (top - lo + 1)
        per_size[k - 1] += count - inside
    shares = per_size / per_size.sum()
    return k, RowsPerEntity(tuple(float(x) for x in shares), float(clean.sum()), rows_kept_share=kept_share)


@dataclass(frozen=True, slots=True)
class BoundSuggestion:
    """A DP suggestion for ``max_rows_per_entity`` (``tabsynth plan --suggest-bound EPS``)."""

    max_rows_per_entity: int
    rows_kept_share: float  # DP estimate of the share of rows the bound keeps (post-processing)
    epsilon: float  # what the suggestion spent, on top of any fit's budget
    delta: float

    @property
    def noise_sd(self) -> float:
        """The histogram's noise in entities per cell (public: a function of epsilon and delta)."""
        return entity_noise_for(self.epsilon, self.delta, share=1.0)


def suggest_contribution_bound(entities: pd.Series, *, epsilon: float, delta: float) -> BoundSuggestion:
    """One DP histogram of entities by their number of rows (the "auto" rule), released on its own.

    Spends ``(epsilon, delta)`` from a ledger of its own: it is a separate release to the curator,
    to be added to the dataset's total by basic composition. Entities above the last public cell
    count in it (each entity is in one cell, so the sensitivity is 1 whatever its size); missing
    entity values are left out. Everything after the histogram is post-processing.
    """
    codes, _ = pd.factorize(entities, use_na_sentinel=True)
    sizes = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0, dtype=np.int64)
    capped = np.repeat(np.arange(len(sizes)), np.minimum(sizes, AUTO_CELLS[-1]))
    ledger = PrivacyLedger(epsilon, delta)
    sigma = entity_noise_for(epsilon, delta, share=1.0)
    bound, distribution = choose_contribution_bound(capped, ledger=ledger, noise_multiplier=sigma)
    return BoundSuggestion(bound, distribution.rows_kept_share, epsilon, delta)


def assign_entities(n_rows: int, distribution: RowsPerEntity, rng: np.random.Generator) -> np.ndarray:
    """Entity numbers 0..E-1 for ``n_rows`` synthetic rows, in groups sized by the DP distribution.

    Post-processing: group sizes are drawn from ``distribution`` until the rows are covered (the
    last group is cut to fit); the rows are dealt to groups in a random order.
    """
    shares = np.asarray(distribution.shares, dtype=float)
    shares = shares / shares.sum()
    expected = max(1, int(math.ceil(n_rows / max(distribution.mean_rows, 1.0) * 1.2)) + 8)
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < n_rows:
        sizes = np.concatenate([sizes, rng.choice(len(shares), size=expected, p=shares) + 1])
    cut = int(np.searchsorted(np.cumsum(sizes), n_rows))
    sizes = sizes[: cut + 1]
    sizes[-1] -= int(sizes.sum() - n_rows)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return labels[rng.permutation(n_rows)]


_KEY_NAME = re.compile(
    r"^(?:(?:\w+_)?(?:id|key|uuid|number|no|nr)"
    r"|(?:patient|person|user|customer|client|member|account|card|subject)s?(?:_?(?:id|key|number|no|nr))?)$"
)


def looks_like_key_name(name: str) -> bool:
    """Whether a column *name* looks like a person's key (public: names only)."""
    normal = re.sub(r"[\s\-.]+", "_", str(name).strip()).lower()
    return bool(_KEY_NAME.match(normal))


def entity_warning(columns: Sequence[str]) -> str:
    """The warning ``schema infer`` and ``plan`` print when an entity key may be present."""
    names = ", ".join(repr(c) for c in columns)
    return (
        f"Warning: {names} looks like an entity key (the person each row belongs to). Without --entity the "
        "guarantee is per ROW: a person with k rows is protected only at about k times epsilon. Pass "
        f"--entity {columns[0]} (or 'entity: {columns[0]}' in the schema) to protect whole entities."
    )


def infer_schema_with_entity(
    frame: pd.DataFrame, *, target: str | None, sensitive: Sequence[str], entity: str | None
) -> TableSchema:
    """The exact curator draft (:func:`tabsynth.schema.infer_schema`), with the entity role recorded.

    The entity column is left out of ``columns`` (it is never modelled) and named under ``entity:``.
    """
    if entity is None:
        return infer_schema(frame, target=target, sensitive=sensitive)
    check_entity(
        list(frame.columns), entity, target=target, sensitive=sensitive, max_rows_per_entity=DEFAULT_MAX_ROWS_PER_ENTITY
    )
    inner = infer_schema(frame.drop(columns=[entity]), target=target, sensitive=sensitive)
    return replace(inner, entity=entity)


def entity_key_candidates(frame: pd.DataFrame, *, exclude: Sequence[str] = ()) -> list[str]:
    """Columns that look like an entity key: an id-like name and values that repeat.

    A curator-side heuristic on the *exact* table (it only prints a warning in ``schema infer``
    and ``plan``, never anything a recipient sees): the name looks like a key and there are
    repeated values (fewer distinct values than rows), with many distinct values (at least 20,
    and at least 5% of the rows), so a column of codes is not flagged.
    """
    out = []
    n = len(frame)
    for col in frame.columns:
        name = str(col)
        if name in exclude or not looks_like_key_name(name):
            continue
        values = frame[col].dropna()
        if values.empty or pd.api.types.is_float_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        distinct = int(values.nunique())
        if distinct < len(values) and distinct >= max(20, 0.05 * n):
            out.append(name)
    return out
