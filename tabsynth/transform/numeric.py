"""Numeric columns (continuous, integer, datetime) as DP quantile bins plus a within-bin position.

Representation of one value: a bin index (one-hot for the generator) and a position in
[-1, 1] inside that bin. Bins are of three sorts, in this order:

* *atoms*: single values holding a large share of the rows (0 in ``capital_gain``, 40 in
  ``hours_per_week``), reproduced exactly;
* *intervals*: quantile bins of the remaining mass, with edges on a public grid;
* *missing*: a slot for missing values, only when the column is nullable *and* the DP count of
  missing values clears the noise (otherwise the few missing values map to the commonest slot).

Undeclared bounds come from a DP range over a fine public grid (:func:`noisy_range`, a quarter
of a power of two per cell), never from a whole power of two. Everything else is estimated from
one Gaussian histogram over a public grid inside those bounds, sized so that a typical cell
stands out of the noise; the range is then narrowed to the cells that hold DP evidence, so
integer codes and scores stay inside what the data supports. For continuous grids a run of
weak cells counts as evidence when its sum does (a sparse tail), so thin tails are kept.
Integers are handled in a shifted coordinate ``v + 0.5`` so that an integer value round-trips
exactly through its interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from ..exceptions import SchemaError
from ..privacy.ledger import PrivacyLedger
from ..privacy.mechanisms import noisy_histogram, noisy_range
from ..schema import ColumnKind, ColumnSpec

__all__ = ["NumericEncoder", "fit_numeric"]

# The public grid inside the bounds. Under DP every cell's count carries the same noise, so the
# grid is coarse (few cells, each with enough rows to stand out of the noise); without DP it is fine.
MAX_UNIT_CELLS = {True: 128, False: 2048}  # integer ranges up to this size: one cell per integer
N_CELLS = {True: 64, False: 1024}  # otherwise this many equal cells (plus an exact-zero cell)
RANGE_FALSE_POSITIVE = 0.001  # chance that an empty cell widens the DP range of a column
RUN_Z = 1.0  # a run of weak cells of a continuous column keeps its mass past this many sigma sqrt(k)
# A continuous column's support is first the cells between the outermost cells strong on their own
# (pure noise makes one with probability END_CELL_FALSE_POSITIVE over all cells); a run of weak
# cells beyond one of them (a tail) reaches out to its longest inner part that sums past
# END_RUN_Z sigma sqrt(k) for its k cells (a scan; 1.5% for pure noise over 64 cells).
END_CELL_FALSE_POSITIVE = 0.001
END_RUN_Z = 3.0
NULL_FALSE_POSITIVE = 0.001  # chance that a column without missing values gets a missing slot under DP


@dataclass(frozen=True, slots=True, kw_only=True)
class NumericEncoder:
    """Fitted state of one numeric column (all of it DP-released or public)."""

    name: str
    kind: ColumnKind
    lower: float
    upper: float
    atoms: tuple[float, ...]
    edges: tuple[float, ...]  # interval boundaries, in the shifted coordinate for integers
    nullable: bool
    marginal: tuple[float, ...] = ()  # DP share of each slot (post-processing of the bins histogram)
    time_unit: str = "s"  # datetimes: "s" (seconds) or "D" (days) since 1970-01-01
    out_dtype: str = ""  # datetimes: the input's storage type, restored on output

    @property
    def is_integer(self) -> bool:
        return self.kind in (ColumnKind.INTEGER, ColumnKind.DATETIME)

    @property
    def n_slots(self) -> int:
        return len(self.atoms) + len(self.edges) - 1 + int(self.nullable)

    @property
    def null_slot(self) -> int:
        return self.n_slots - 1

    def transform(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map float values (NaN = missing) to (slot, position in [-1, 1])."""
        is_null = np.isnan(values)
        v = np.clip(np.where(is_null, self.lower, values), self.lower, self.upper)
        if self.is_integer:
            v = np.round(v)
        atoms = np.asarray(self.atoms)
        edges = np.asarray(self.edges)
        n_int = len(edges) - 1
        shifted = v + 0.5 if self.is_integer else v
        interval = np.clip(np.searchsorted(edges, shifted, side="right") - 1, 0, n_int - 1)
        width = edges[interval + 1] - edges[interval]
        position = np.clip((shifted - edges[interval]) / width, 0.0, 1.0) * 2.0 - 1.0
        slot = len(atoms) + interval
        if len(atoms):
            a_idx = np.clip(np.searchsorted(atoms, v), 0, len(atoms) - 1)
            is_atom = atoms[a_idx] == v
            slot = np.where(is_atom, a_idx, slot)
            position = np.where(is_atom, 0.0, position)
        if is_null.any():  # no missing slot: DP saw (almost) no missing values, they join the commonest slot
            fill = self.null_slot if self.nullable else int(np.argmax(self.marginal)) if self.marginal else 0
            slot = np.where(is_null, fill, slot)
            position = np.where(is_null, 0.0, position)
        return slot.astype(np.int32), position.astype(np.float32)

    def inverse_transform(self, slot: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Map (slot, position) back to float values (NaN for the missing slot)."""
        atoms = np.asarray(self.atoms, dtype=float)
        edges = np.asarray(self.edges)
        n_atoms, n_int = len(atoms), len(edges) - 1
        interval = np.clip(slot - n_atoms, 0, n_int - 1)
        lo, hi = edges[interval], edges[interval + 1]
        frac = (np.clip(position, -1.0, 1.0) + 1.0) / 2.0
        value = lo + frac * (hi - lo)
        if self.is_integer:
            value = np.clip(np.floor(value), lo, hi - 1)
        else:
            # A float32 position can round a value near an interval's edge onto the edge: keep it in
            # [lo, hi) (hi starts the next interval; the last one keeps its upper bound) and off the
            # atoms, so that it encodes back to the same slot.
            value = np.where(interval == n_int - 1, value, np.minimum(value, np.nextafter(hi, lo)))
            if n_atoms:
                value = np.where(np.isin(value, atoms), np.nextafter(value, (lo + hi) / 2.0), value)
        if n_atoms:
            value = np.where(slot < n_atoms, atoms[np.clip(slot, 0, n_atoms - 1)], value)
        value = np.clip(value, self.lower, self.upper)
        if self.nullable:
            value = np.where(slot == self.null_slot, np.nan, value)
        return np.asarray(value, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "lower": self.lower,
            "upper": self.upper,
            "atoms": list(self.atoms),
            "time_unit": self.time_unit,
            "out_dtype": self.out_dtype,
            "edges": list(self.edges),
            "nullable": self.nullable,
            "marginal": list(self.marginal),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericEncoder:
        return cls(
            name=str(data["name"]),
            kind=ColumnKind(data["kind"]),
            lower=float(data["lower"]),
            upper=float(data["upper"]),
            atoms=tuple(float(a) for a in data["atoms"]),
            edges=tuple(float(e) for e in data["edges"]),
            nullable=bool(data["nullable"]),
            marginal=tuple(float(m) for m in data.get("marginal", ())),
            time_unit=str(data.get("time_unit", "s")),
            out_dtype=str(data.get("out_dtype", "")),
        )


# ---- fitting -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Grid:
    """A public partition of [lower, upper]: cells ``[bounds[i], bounds[i+1])`` plus maybe {0}."""

    bounds: np.ndarray  # cell boundaries (shifted coordinate for integers)
    unit: bool  # one cell per integer
    zero_cell: bool  # an extra last cell holding exact zeros

    def cell_of(self, shifted: np.ndarray, raw: np.ndarray) -> np.ndarray:
        n = len(self.bounds) - 1
        cell = np.clip(np.searchsorted(self.bounds, shifted, side="right") - 1, 0, n - 1)
        return np.where(raw == 0, n, cell) if self.zero_cell else cell


def _make_grid(lower: float, upper: float, is_integer: bool, dp: bool, n_cells: int | None = None) -> _Grid:
    cells = N_CELLS[dp] if n_cells is None else n_cells
    if is_integer:
        span = int(upper - lower) + 1
        width = 1 if span <= max(cells, MAX_UNIT_CELLS[dp] if n_cells is None else 0) else int(np.ceil(span / cells))
        bounds = np.unique(np.minimum(np.arange(lower, upper + 1 + width, width, dtype=float), upper + 1))
        unit = width == 1
    else:
        bounds = np.linspace(lower, upper, cells + 1)
        unit = False
    return _Grid(bounds=bounds, unit=unit, zero_cell=(not unit) and lower <= 0.0 <= upper)


def _resolve_bounds(
    spec: ColumnSpec, finite: np.ndarray, *, sigma: float, ledger: PrivacyLedger, rng: np.random.Generator
) -> tuple[float, float]:
    if spec.bounds is not None:
        lower, upper = spec.bounds
    else:
        found = noisy_range(finite, noise_multiplier=sigma, ledger=ledger, label=f"bounds:{spec.name}", rng=rng)
        if found is None:
            raise SchemaError(
                f"Column {spec.name!r}: too few rows to estimate bounds privately at this budget. Declare its "
                "bounds in the schema (bounds: [lower, upper]) or raise epsilon."
            )
        lower, upper = found
    if spec.kind in (ColumnKind.INTEGER, ColumnKind.DATETIME):
        lower, upper = float(np.floor(lower)), float(np.ceil(upper))
    if upper <= lower:  # DP saw (almost) one value, e.g. all zeros: keep a unit-wide range
        upper = lower + 1.0
    return lower, upper


def _pick_edges(mass: np.ndarray, bounds: np.ndarray, n_intervals: int) -> np.ndarray:
    """Interval boundaries on grid boundaries, at the quantiles of ``mass`` (one value per cell)."""
    total = mass.sum()
    if total <= 0 or n_intervals <= 1:
        return np.array([bounds[0], bounds[-1]])
    cum = np.cumsum(mass) / total
    targets = np.arange(1, n_intervals) / n_intervals
    inner = bounds[1:][np.searchsorted(cum, targets, side="left").clip(0, len(mass) - 1)]
    return np.unique(np.concatenate([[bounds[0]], inner, [bounds[-1]]]))


def fit_numeric(
    spec: ColumnSpec,
    values: np.ndarray,
    *,
    n_bins: int,
    sigma: float,
    ledger: PrivacyLedger,
    rng: np.random.Generator,
    bounds_sigma: float | None = None,
    n_rows_estimate: float | None = None,
    time_unit: str = "s",
    out_dtype: str = "",
) -> NumericEncoder:
    """Fit one numeric column: bounds (declared or DP), then one DP histogram for atoms and bins.

    Under DP the bins histogram has about ``n_rows_estimate / (4 sigma)`` cells (8 to 64), so a
    typical cell clears the noise; the estimate is the DP row count (post-processing).
    """
    finite = values[np.isfinite(values)]
    is_integer = spec.kind in (ColumnKind.INTEGER, ColumnKind.DATETIME)
    lower, upper = _resolve_bounds(
        spec, finite, sigma=sigma if bounds_sigma is None else bounds_sigma, ledger=ledger, rng=rng
    )
    n_cells = None
    sd = sigma * ledger.sensitivity  # the noise std in counts (k per entity of at most k rows)
    if ledger.is_dp and n_rows_estimate is not None:
        n_cells = int(np.clip(n_rows_estimate / (4.0 * sd), 8, N_CELLS[True]))
    grid = _make_grid(lower, upper, is_integer, ledger.is_dp, n_cells)
    clipped = np.clip(finite, lower, upper)
    if is_integer:
        clipped = np.round(clipped)
    shifted = clipped + 0.5 if is_integer else clipped
    n_grid = len(grid.bounds) - 1
    counts = np.bincount(grid.cell_of(shifted, clipped), minlength=n_grid + int(grid.zero_cell))
    counts = np.append(counts, np.isnan(values).sum())  # the missing values' cell
    noisy = noisy_histogram(counts, noise_multiplier=sigma, ledger=ledger, label=f"bins:{spec.name}", rng=rng)
    # Post-processing: drop cells indistinguishable from noise (threshold set so that, over all
    # cells, about half an empty cell is expected to pass), so empty cells add no mass.
    floor = sd * NormalDist().inv_cdf(1.0 - 0.5 / len(counts))
    # The missing cell gets a stricter bar (a column without missing values gains a missing slot
    # with probability 0.1%).
    floors = np.append(np.full(len(counts) - 1, floor), sd * NormalDist().inv_cdf(1.0 - NULL_FALSE_POSITIVE))
    clean = np.where(noisy >= floors, noisy, 0.0) if ledger.is_dp else noisy.astype(float)
    null_mass, clean = float(clean[-1]), clean[:-1]
    if ledger.is_dp and not grid.unit:
        clean[:n_grid] = _run_merged_mass(noisy[:n_grid].astype(float), floor, sd)
    elif ledger.is_dp:
        clean[:n_grid] = _unit_mass(noisy[:n_grid].astype(float), clean[:n_grid], sd)
        clean = _drop_isolated_ends(clean, noisy[:-1], n_grid, sd * NormalDist().inv_cdf(1 - RANGE_FALSE_POSITIVE))
    has_null_slot = spec.nullable and null_mass > 0  # DP evidence of missing values (exact count without DP)
    if clean.sum() <= 0:
        clean = np.ones_like(clean)
    share = clean / clean.sum()
    cell_mass = clean[:n_grid].copy()
    atom_mass: dict[float, float] = {}
    if grid.zero_cell:
        if share[-1] >= 1.0 / n_bins:
            atom_mass[0.0] = float(clean[-1])
        else:  # not frequent enough to be an atom: its mass joins the cell holding 0
            cell_mass[int(grid.cell_of(np.array([0.5 if is_integer else 0.0]), np.array([1.0]))[0])] += clean[-1]
    if grid.unit:
        occupied = np.flatnonzero(share[:n_grid] > 0)
        # A short integer range is categorical in all but name: every occupied value is an atom.
        frequent = occupied if len(occupied) <= 2 * n_bins else np.flatnonzero(share[:n_grid] >= 1.0 / n_bins)
        for c in frequent[: 2 * n_bins]:
            atom_mass[float(grid.bounds[c])] = float(cell_mass[c])
            cell_mass[c] = 0.0
    nonzero = np.flatnonzero(cell_mass > 0)
    if not nonzero.size:  # every cell with evidence became an atom: intervals span those cells only
        nonzero = np.flatnonzero(clean[:n_grid] > 0)
    if nonzero.size:
        first, last = int(nonzero[0]), int(nonzero[-1])
        bounds = grid.bounds[first : last + 2]
        cell_mass = cell_mass[first : last + 1]
    else:
        bounds = grid.bounds
    atoms = sorted(atom_mass)
    edges = _pick_edges(cell_mass, bounds, max(1, n_bins - len(atoms)))
    cut = np.searchsorted(bounds, edges)
    interval_mass = [float(cell_mass[a:b].sum()) for a, b in zip(cut[:-1], cut[1:], strict=True)]
    masses = [atom_mass[a] for a in atoms] + interval_mass + ([null_mass] if has_null_slot else [])
    # In the shifted coordinate an integer v occupies [v, v + 1).
    new_lower = min([edges[0], *atoms])
    new_upper = max([edges[-1] - (1.0 if is_integer else 0.0), *atoms])
    return NumericEncoder(
        name=spec.name,
        kind=spec.kind,
        lower=float(max(lower, new_lower)),
        upper=float(min(upper, new_upper)),
        atoms=tuple(atoms),
        edges=tuple(float(e) for e in edges),
        nullable=has_null_slot,
        marginal=_normalise(np.asarray(masses)),
        time_unit=time_unit,
        out_dtype=out_dtype,
    )


def _run_merged_mass(noisy: np.ndarray, floor: float, sigma: float) -> np.ndarray:
    """Cell masses of a continuous grid under DP (post-processing of the noisy counts).

    A cell that clears ``floor`` keeps its noisy count; a run of weak cells is judged as a whole:
    a sparse tail is many cells of a few rows each, none of which clears the noise alone, while
    together they do. Judging each cell alone (as for integer codes) cut the upper 5% of a skewed
    balance column, and with it most rows of the rare class that lived there.

    * Between the outermost cells that are strong on their own (:func:`_core`), a run whose sum
      clears ``RUN_Z sigma sqrt(k)`` for its ``k`` cells keeps its sum, spread evenly; a false
      positive there only adds a little mass inside the range.
    * Beyond them a run widens the range, so it is scanned from the inside at ``END_RUN_Z``
      (:func:`_tail`). Judging tails like inner runs, with noise cells that pass ``floor`` by
      chance splitting them, stretched one fit in three of a five-year date column to the end of
      its 22-year DP range.
    """
    lo, hi = _core(noisy, sigma)
    strong = noisy >= floor
    mass = np.zeros(len(noisy))
    mass[lo:hi] = np.where(strong[lo:hi], noisy[lo:hi], 0.0)
    i = lo
    while i < hi:
        if strong[i]:
            i += 1
            continue
        j = i
        while j < hi and not strong[j]:
            j += 1
        total = float(noisy[i:j].sum())
        if total >= RUN_Z * sigma * np.sqrt(j - i):
            mass[i:j] = total / (j - i)
        i = j
    return _with_tails(mass, noisy, sigma, lo, hi)


def _core(noisy: np.ndarray, sigma: float) -> tuple[int, int]:
    """Cells ``[lo, hi)`` from the first to the last cell that is strong on its own (all if none is)."""
    bar = sigma * NormalDist().inv_cdf(1.0 - END_CELL_FALSE_POSITIVE / len(noisy))
    alone = np.flatnonzero(noisy >= bar)
    return (int(alone[0]), int(alone[-1]) + 1) if alone.size else (0, len(noisy))


def _with_tails(mass: np.ndarray, noisy: np.ndarray, sigma: float, lo: int, hi: int) -> np.ndarray:
    """``mass`` with the cells outside the core ``[lo, hi)`` replaced by the scanned tails (:func:`_tail`)."""
    mass[:lo] = _tail(noisy[:lo][::-1], sigma)[::-1]
    mass[hi:] = _tail(noisy[hi:], sigma)
    return mass


def _tail(run: np.ndarray, sigma: float) -> np.ndarray:
    """Masses of the cells of a tail, inner cell first (post-processing of its noisy counts).

    The tail reaches out to its longest inner part whose sum clears ``END_RUN_Z sigma sqrt(k)``
    for its ``k`` cells (a scan: pure noise over 64 cells clears it for some ``k`` with
    probability 1.5%, simulated); that part keeps its sum, shared in proportion to the cells'
    positive noisy counts, and the cells beyond get nothing. Judging the whole tail at once
    diluted a dense start with a long empty end, and trimming it from outside cut thin tails that
    reach the range's end: both lost more of credit_default's balance tail (where the default
    rows live) than the rule before, which stretched one date column in three by years. At
    ``END_RUN_Z = 3`` the balance tail is kept as before (100 fits at sigma 50: 20.6% of default
    rows above the DP upper end, 20.4% before) and 1.2% of date fits overshoot by 3 years.
    """
    k = np.arange(1, len(run) + 1)
    passed = np.flatnonzero(np.cumsum(run) >= END_RUN_Z * sigma * np.sqrt(k))
    mass = np.zeros(len(run))
    if not passed.size:
        return mass
    n = int(passed[-1]) + 1
    total, weights = float(run[:n].sum()), np.clip(run[:n], 0.0, None)
    mass[:n] = total * weights / weights.sum() if weights.sum() > 0 else total / n
    return mass


def _unit_mass(noisy: np.ndarray, floored: np.ndarray, sigma: float) -> np.ndarray:
    """Cell masses of a one-cell-per-integer grid under DP (post-processing of the noisy counts).

    Inside the core (:func:`_core`) each value keeps its count when it clears the per-cell floor
    (``floored``); beyond it a tail is scanned as for continuous columns (:func:`_tail`). Judging
    the cells past the data one by one at the floor let a 1..10 score reach 11 in one fit in 25
    (an empty cell next to the data passes the floor by chance, and nothing cut it off).
    """
    lo, hi = _core(noisy, sigma)
    return _with_tails(floored.copy(), noisy, sigma, lo, hi)


def _drop_isolated_ends(clean: np.ndarray, noisy: np.ndarray, n_grid: int, strict: float) -> np.ndarray:
    """Zero the outermost grid cells that look like noise: weak (under ``strict``) and cut off
    from the rest (their inward neighbour has no evidence). A real tail is contiguous, a false
    positive far out in empty space is not (post-processing)."""
    clean = clean.copy()
    for _ in range(n_grid):
        cells = np.flatnonzero(clean[:n_grid] > 0)
        if cells.size < 2:
            break
        lo, hi = int(cells[0]), int(cells[-1])
        changed = False
        if noisy[lo] < strict and clean[lo + 1] <= 0:
            clean[lo], changed = 0.0, True
        if noisy[hi] < strict and clean[hi - 1] <= 0:
            clean[hi], changed = 0.0, True
        if not changed:
            break
    return clean


def _normalise(masses: np.ndarray) -> tuple[float, ...]:
    masses = np.clip(masses, 0.0, None)
    total = masses.sum()
    return tuple(float(m) for m in (masses / total if total > 0 else np.full(len(masses), 1 / len(masses))))
