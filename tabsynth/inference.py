"""Schema inference under DP: column kinds decided from noisy counts paid through the ledger.

:func:`tabsynth.schema.infer_schema` reads the table exactly, which is fine for a draft the
curator reviews (``tabsynth schema infer``) and for fits without DP. A DP fit without a declared
schema must not: "integer or continuous", "identifier or category" and "constant" are
decisions on the private rows that one added row can flip, and the schema is saved with the
model. Here each decision is a function of public information (the column names) and of DP
statistics only, so adding or removing one row changes the schema only through the noise:

* per column, a histogram of its values over public *value classes* (missing, integral number,
  fractional number, date, boolean, e-mail-like, phone-like, long text, other text): each row
  falls in exactly one class, so the histogram has L2 sensitivity 1 (one Gaussian mechanism);
* per column whose kind is text-like or whose name looks like a key, its number of distinct
  values (adding or removing one row changes it by at most 1: another Gaussian mechanism).

Every count is the discrete Gaussian of the ledger's secret noise; one noise level, calibrated up
front for the worst case of two mechanisms per column, is spent as ``schema:<column>`` entries.
Decisions are majority votes with wide margins, and a table too small for the budget (a noisy row
count under :data:`MIN_ROWS_PER_SIGMA` times the noise) is refused with a message that says how
to declare a schema instead. ``nullable`` stays ``true``: whether the missing slot carries any mass
is decided later from the transformer's own DP counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import pandas as pd

from .exceptions import SchemaError
from .privacy.calibration import gaussian_noise_for
from .privacy.ledger import PrivacyLedger
from .privacy.mechanisms import noisy_histogram
from .schema import _ID_NAME, ColumnKind, ColumnSpec, IdentifierHandling, TableSchema

__all__ = ["DPInferenceNote", "MIN_ROWS_PER_SIGMA", "coerce_frame", "infer_schema_dp", "value_classes"]

#: The noisy row count must be at least this many noise standard deviations.
MIN_ROWS_PER_SIGMA = 6.0
#: A kind wins when its classes hold at least this share of the noisy non-missing count.
MAJORITY = 0.6
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_BOOL_WORDS = {"true", "false"}
_LONG_TEXT = 40


class ValueClass(IntEnum):
    """The public cells of the per-column histogram (each value falls in exactly one)."""

    MISSING = 0
    INTEGRAL = 1
    FRACTIONAL = 2
    DATE = 3
    BOOLEAN = 4
    EMAIL = 5
    PHONE = 6
    LONG_TEXT = 7
    TEXT = 8


_NUMERIC = (ValueClass.INTEGRAL, ValueClass.FRACTIONAL)
_STRINGY = (ValueClass.EMAIL, ValueClass.PHONE, ValueClass.LONG_TEXT, ValueClass.TEXT)


@dataclass(frozen=True, slots=True)
class DPInferenceNote:
    """A column the DP inference dropped or was unsure about (names only, never values or counts)."""

    column: str
    message: str


def value_classes(col: pd.Series) -> np.ndarray:
    """The :class:`ValueClass` of every value of ``col`` (a row-by-row function of the value alone)."""
    out = np.full(len(col), ValueClass.TEXT, dtype=np.int8)
    missing = col.isna().to_numpy()
    out[missing] = ValueClass.MISSING
    if pd.api.types.is_bool_dtype(col):
        out[~missing] = ValueClass.BOOLEAN
        return out
    if pd.api.types.is_datetime64_any_dtype(col):
        out[~missing] = ValueClass.DATE
        return out
    if pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(values) & (np.mod(values, 1) == 0)
        out[~missing] = np.where(integral[~missing], ValueClass.INTEGRAL, ValueClass.FRACTIONAL)
        return out
    text = col.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    is_number = np.isfinite(numbers) & ~missing
    out[is_number] = np.where(np.mod(numbers[is_number], 1) == 0, ValueClass.INTEGRAL, ValueClass.FRACTIONAL)
    rest = ~missing & ~is_number
    strings = text[rest].fillna("")
    cls = np.full(int(rest.sum()), ValueClass.TEXT, dtype=np.int8)
    cls[strings.str.len().to_numpy() > _LONG_TEXT] = ValueClass.LONG_TEXT
    cls[strings.str.match(_PHONE).to_numpy(dtype=bool)] = ValueClass.PHONE
    cls[strings.str.match(_EMAIL).to_numpy(dtype=bool)] = ValueClass.EMAIL
    cls[strings.str.match(_DATE).to_numpy(dtype=bool)] = ValueClass.DATE
    cls[strings.isin(_BOOL_WORDS).to_numpy(dtype=bool)] = ValueClass.BOOLEAN
    out[rest] = cls
    return out


def infer_schema_dp(
    frame: pd.DataFrame,
    *,
    ledger: PrivacyLedger,
    epsilon: float,
    target: str | None = None,
    sensitive: Sequence[str] = (),
) -> tuple[TableSchema, tuple[DPInferenceNote, ...]]:
    """Infer column kinds from DP statistics, spending at most ``epsilon`` from ``ledger``.

    Returns:
        The schema (no bounds, categories or counts: those are the transformer's business) and
        notes on the columns that were dropped as empty or looked like keys.

    Raises:
        SchemaError: the table is too small for DP inference at this budget, or a role column
            is not in the table. The messages hold column names, never values or counts.
    """
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise SchemaError("Cannot infer a schema from an empty table: it needs rows and columns.")
    for col in [c for c in (target, *sensitive) if c is not None]:
        if col not in frame.columns:
            raise SchemaError(f"Column {col!r} (given as target/sensitive) is not in the table.")
    names = [str(c) for c in frame.columns]
    sigma = gaussian_noise_for(epsilon, ledger.delta, n_mechanisms=2 * len(names))
    hists = {
        name: noisy_histogram(
            np.bincount(value_classes(frame[name]), minlength=len(ValueClass)),
            noise_multiplier=sigma,
            ledger=ledger,
            label=f"schema:{name}",
            rng=np.random.default_rng(),
        )
        for name in names
    }
    # Unbiased: the sum of the noisy cells (clipping each cell at 0 first added about 0.4 sigma per
    # empty cell, so tables far too small for the budget passed the size check in 4% of fits).
    n_rows = float(np.mean([h.sum() for h in hists.values()]))
    # The noise std in counts: sigma per row, k * sigma per entity of at most k rows (one entity
    # moves one cell of each histogram, and the distinct count, by up to k).
    if n_rows < MIN_ROWS_PER_SIGMA * sigma * ledger.sensitivity:
        raise SchemaError(
            "The table is too small to infer its schema under DP at this budget (the noisy row count is "
            f"under {MIN_ROWS_PER_SIGMA:g} times the noise). Declare the schema instead: run "
            "'tabsynth schema infer DATA --out schema.yaml' (an exact draft for you, the curator, to review), "
            "review it, and pass --schema schema.yaml; or raise epsilon."
        )
    specs, notes = [], []
    for name in names:
        spec, note = _decide(name, hists[name], frame[name], sigma=sigma, n_rows=n_rows, ledger=ledger)
        if spec is not None:
            specs.append(spec)
        if note is not None:
            notes.append(note)
    schema = TableSchema(columns=tuple(specs))
    roles = [c for c in (target, *sensitive) if c is not None]
    lost = [c for c in roles if c not in schema.names]
    if lost:
        raise SchemaError(
            f"Column(s) {lost} were judged empty or identifiers by DP inference and cannot be the target or "
            "sensitive: declare them in a schema (tabsynth schema infer DATA --out schema.yaml, review, --schema)."
        )
    return schema.with_roles(target=target, sensitive=tuple(sensitive)), tuple(notes)


def _share(hist: np.ndarray, classes: Iterable[ValueClass]) -> float:
    present = np.clip(hist[1:], 0, None)
    total = float(present.sum())
    return float(sum(max(hist[c], 0) for c in classes)) / total if total > 0 else 0.0


def _decide(
    name: str, hist: np.ndarray, col: pd.Series, *, sigma: float, n_rows: float, ledger: PrivacyLedger
) -> tuple[ColumnSpec | None, DPInferenceNote | None]:
    present = float(np.clip(hist[1:], 0, None).sum())
    sd = sigma * ledger.sensitivity  # bars are in counts
    if present < MIN_ROWS_PER_SIGMA * sd or present < 0.02 * n_rows:
        return None, DPInferenceNote(name, "looks empty at this budget: left out (declare it to keep it)")
    keyish = bool(_ID_NAME.search(name))
    if _share(hist, _NUMERIC) >= MAJORITY:
        fractional = max(hist[ValueClass.FRACTIONAL], 0)
        kind = ColumnKind.CONTINUOUS if fractional > 3 * sd else ColumnKind.INTEGER
        if kind is ColumnKind.INTEGER and keyish and _distinct(name, col, sigma, ledger) > 0.2 * present:
            return _identifier(name, "sequence")
        return ColumnSpec(name=name, kind=kind), None
    if _share(hist, (ValueClass.DATE,)) >= MAJORITY:
        return ColumnSpec(name=name, kind=ColumnKind.DATETIME), None
    if _share(hist, (ValueClass.BOOLEAN,)) >= MAJORITY:
        # decided from the values (bool, or the words true/false), not from the storage type
        return ColumnSpec(name=name, kind=ColumnKind.BOOLEAN), None
    if _share(hist, (ValueClass.EMAIL,)) >= MAJORITY:
        return _identifier(name, "email")
    distinct = _distinct(name, col, sigma, ledger)
    if _share(hist, (ValueClass.PHONE,)) >= MAJORITY and distinct > 0.5 * present:
        return _identifier(name, "phone")
    if _share(hist, (ValueClass.LONG_TEXT,)) >= MAJORITY and distinct > 0.5 * present:
        return ColumnSpec(name=name, kind=ColumnKind.TEXT, handling=IdentifierHandling.DROP, fake="text"), None
    if distinct > 0.5 * present or (keyish and distinct > 0.2 * present):
        return _identifier(name, "name" if "name" in name.lower() else "uuid")
    return ColumnSpec(name=name, kind=ColumnKind.CATEGORICAL), None


def _distinct(name: str, col: pd.Series, sigma: float, ledger: PrivacyLedger) -> float:
    """Noisy number of distinct non-missing values (sensitivity 1 per row, k per entity of k rows)."""
    exact = np.array([int(col.dropna().astype(str).nunique())])
    noisy = noisy_histogram(
        exact, noise_multiplier=sigma, ledger=ledger, label=f"schema:{name}:distinct", rng=np.random.default_rng()
    )
    return float(noisy[0])


def _identifier(name: str, fake: str) -> tuple[ColumnSpec, DPInferenceNote]:
    spec = ColumnSpec(name=name, kind=ColumnKind.IDENTIFIER, handling=IdentifierHandling.DROP, fake=fake)
    return spec, DPInferenceNote(name, "looks like an identifier: not modelled, left out of the synthetic table")


def coerce_frame(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """The frame as the DP-inferred ``schema`` reads it, row by row (a per-row map: no row affects another).

    Columns the inference left out are dropped; in numeric columns values that are not numbers,
    in datetime columns values that are not dates, and in boolean columns values that are not
    true/false become missing.
    """
    out = {}
    for spec in schema.columns:
        col = frame[spec.name]
        if spec.kind is ColumnKind.BOOLEAN and not pd.api.types.is_bool_dtype(col):
            words = col.astype("string").str.strip()
            col = words.map({"true": True, "false": False, "True": True, "False": False}, na_action="ignore")
            col = col.where(col.isin([True, False]))
        elif spec.kind is ColumnKind.DATETIME and not pd.api.types.is_datetime64_any_dtype(col):
            col = pd.to_datetime(col, errors="coerce", format="mixed")
        elif spec.kind.is_numeric and spec.kind is not ColumnKind.DATETIME and not pd.api.types.is_numeric_dtype(col):
            col = pd.to_numeric(col.astype("string").str.strip(), errors="coerce")
        out[spec.name] = col
    return pd.DataFrame(out, index=frame.index)
