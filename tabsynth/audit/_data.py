"""Input checks and the shared encodings of the three audited tables.

Every problem with the inputs is collected and raised once, as one line, as a
:class:`~tabsynth.exceptions.DataError` (exit code 2 in the CLI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..exceptions import DataError
from ..schema import TableSchema
from .config import AuditConfig

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MISSING_LABEL = "(missing)"


class Kind(StrEnum):
    """How the audit treats a column."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Role(StrEnum):
    """The three tables of an audit."""

    TRAIN = "train"
    HOLDOUT = "holdout"
    SYNTHETIC = "synthetic"


_TABLE_NAMES = {Role.TRAIN: "real (training)", Role.HOLDOUT: "holdout", Role.SYNTHETIC: "synthetic"}


def _family(col: pd.Series) -> str:
    if col.isna().all():
        return "empty"
    if pd.api.types.is_bool_dtype(col):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "datetime"
    if pd.api.types.is_numeric_dtype(col):
        return "numeric"
    return "categorical"


def category_key(value: object) -> object:
    """A comparable string for a category (1, 1.0 and '1' agree; missing stays missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


# ---- validation ------------------------------------------------------------------------
def _shape_problems(tables: Mapping[Role, pd.DataFrame], config: AuditConfig) -> list[str]:
    problems: list[str] = []
    for role, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            problems.append(f"the {_TABLE_NAMES[role]} table must be a pandas DataFrame, got {type(frame).__name__}")
        elif frame.shape[1] == 0:
            problems.append(f"the {_TABLE_NAMES[role]} table has no columns")
        elif len(frame) == 0:
            problems.append(f"the {_TABLE_NAMES[role]} table is empty (0 rows)")
    holdout = tables[Role.HOLDOUT]
    if isinstance(holdout, pd.DataFrame) and 0 < len(holdout) < config.min_holdout_rows:
        problems.append(
            f"the holdout has {len(holdout)} rows but at least {config.min_holdout_rows} are needed "
            "for meaningful privacy baselines (set aside more real rows the generator never saw)"
        )
    return problems


def _column_problems(tables: Mapping[Role, pd.DataFrame], target: str, sensitive: Sequence[str]) -> list[str]:
    problems: list[str] = []
    real_cols = [str(c) for c in tables[Role.TRAIN].columns]
    lacking = [_TABLE_NAMES[role] for role, frame in tables.items() if target not in frame.columns]
    if lacking:
        where = lacking[0] if len(lacking) == 1 else ", ".join(lacking[:-1]) + " and " + lacking[-1]
        problems.append(
            f"the target column {target!r} is missing from the {where} table{'s' if len(lacking) > 1 else ''}"
        )
    for role in (Role.HOLDOUT, Role.SYNTHETIC):
        cols = [str(c) for c in tables[role].columns]
        missing = [c for c in real_cols if c not in cols and c != target]
        extra = [c for c in cols if c not in real_cols and c != target]
        if missing:
            problems.append(f"the {_TABLE_NAMES[role]} table lacks columns {missing} that the real table has")
        if extra:
            problems.append(f"the {_TABLE_NAMES[role]} table has columns {extra} that the real table lacks")
    unknown = [s for s in sensitive if s not in real_cols]
    if unknown:
        problems.append(f"sensitive columns {unknown} are not in the real table (columns: {real_cols})")
    if target in sensitive:
        problems.append(f"the target {target!r} cannot also be a sensitive column")
    return problems


def _dtype_problems(tables: Mapping[Role, pd.DataFrame]) -> list[str]:
    problems: list[str] = []
    real = tables[Role.TRAIN]
    for col in real.columns:
        families = {role: _family(frame[col]) for role, frame in tables.items() if col in frame.columns}
        kinds = {f for f in families.values() if f != "empty"}
        if len(kinds) > 1:
            shown = ", ".join(f"{f} in the {_TABLE_NAMES[r]} table" for r, f in families.items())
            problems.append(f"column {str(col)!r} has mismatched types ({shown}); convert them to one type")
    return problems


def check_inputs(
    tables: Mapping[Role, pd.DataFrame], *, target: str, sensitive: Sequence[str], config: AuditConfig
) -> None:
    """Raise one :class:`DataError` listing every problem with the three tables."""
    problems = _shape_problems(tables, config)
    if not problems:
        problems = _column_problems(tables, target, sensitive)
    if not problems:
        problems = _dtype_problems(tables)
    if problems:
        raise DataError("Cannot audit: " + "; ".join(problems) + ".")


# ---- column kinds ----------------------------------------------------------------------
def _kind_from_schema(schema: TableSchema, name: str) -> Kind | None:
    if name not in schema.names:
        raise DataError(f"Cannot audit: column {name!r} is not in the schema; columns there are {list(schema.names)}.")
    spec = schema[name]
    if not spec.kind.is_modelled:
        return None
    return Kind.NUMERIC if spec.kind.is_numeric else Kind.CATEGORICAL


def _infer_kind(col: pd.Series) -> Kind | None:
    family = _family(col)
    if family == "empty":
        return None
    if family in ("numeric", "datetime"):
        return Kind.NUMERIC
    values = col.dropna()
    if len(values) >= 50 and values.nunique() > 0.95 * len(values):
        return None  # identifier-like: every value distinct, never modelled
    return Kind.CATEGORICAL


def column_kinds(
    real: pd.DataFrame, *, target: str, sensitive: Sequence[str], schema: TableSchema | None
) -> tuple[dict[str, Kind], list[str]]:
    """The kind of each audited column, and the columns left out (identifiers, all-missing)."""
    kinds: dict[str, Kind] = {}
    excluded: list[str] = []
    for name in (str(c) for c in real.columns):
        kind = _kind_from_schema(schema, name) if schema is not None else _infer_kind(real[name])
        if name == target or name in sensitive:
            kind = Kind.CATEGORICAL if name == target else (kind or Kind.CATEGORICAL)
        if kind is None:
            excluded.append(name)
        else:
            kinds[name] = kind
    return kinds, excluded


# ---- normalised frames and encodings ---------------------------------------------------
def _normalise(frame: pd.DataFrame, kinds: Mapping[str, Kind]) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    for name, kind in kinds.items():
        col = frame[name]
        if kind is Kind.NUMERIC:
            if pd.api.types.is_datetime64_any_dtype(col):
                seconds = col.astype("datetime64[ns]").astype("int64").astype(np.float64) / 1e9
                out[name] = seconds.where(col.notna(), np.nan)
            else:
                out[name] = pd.to_numeric(col, errors="coerce").astype(np.float64)
        else:
            out[name] = col.astype(object).map(category_key).astype(object)
    return pd.DataFrame(out).reset_index(drop=True)


def _vocabulary(frames: Sequence[pd.DataFrame], name: str) -> pd.Index:
    """Categories of a column: by frequency in the first (training) frame, then the rest."""
    counts = frames[0][name].value_counts(dropna=True)
    seen = list(counts.index)
    known = set(seen)
    for frame in frames[1:]:
        for value in frame[name].dropna().unique():
            if value not in known:
                known.add(value)
                seen.append(value)
    return pd.Index(seen, dtype=object)


@dataclass(frozen=True, slots=True)
class Encoded:
    """Rows in the audit's distance space.

    ``num`` holds numeric columns scaled by their range (missing filled with the training
    median); ``onehot`` holds one block per categorical column (plus a present/missing block
    per numeric column with gaps), exactly one 1 per block. So a category mismatch costs 1
    in both the Gower (L1) and the squared-Euclidean distance.
    """

    num: FloatArray
    onehot: FloatArray
    n_blocks: int

    def __len__(self) -> int:
        return int(self.num.shape[0])

    def take(self, index: IntArray) -> Encoded:
        """A row subset."""
        return Encoded(self.num[index], self.onehot[index], self.n_blocks)

    def euclidean(self) -> FloatArray:
        """Features whose squared Euclidean distance is sum (dx/range)^2 + mismatched blocks."""
        return np.hstack([self.num, self.onehot / np.sqrt(2.0)])


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditData:
    """The three tables after checks: same audited columns, normalised values, shared vocabularies.

    Numeric columns are float64 (datetimes in seconds); categorical ones hold comparable
    strings (see :func:`category_key`) or NaN.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    kinds: Mapping[str, Kind]
    target: str
    sensitive: tuple[str, ...]
    excluded: tuple[str, ...]
    vocab: Mapping[str, pd.Index]
    ranges: Mapping[str, tuple[float, float]]
    numeric_gaps: frozenset[str]
    max_categories: int
    # columns of only one side, left out: {"absent_from_synthetic": [...], "only_in_synthetic": [...]}
    unmatched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.kinds)

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(c for c, k in self.kinds.items() if k is Kind.NUMERIC)

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(c for c, k in self.kinds.items() if k is Kind.CATEGORICAL)

    def table(self, role: Role) -> pd.DataFrame:
        return {Role.TRAIN: self.train, Role.HOLDOUT: self.holdout, Role.SYNTHETIC: self.synthetic}[role]

    def codes(self, frame: pd.DataFrame, name: str) -> IntArray:
        """Integer codes of a categorical column in the shared vocabulary; -1 for missing."""
        return np.asarray(self.vocab[name].get_indexer(frame[name]), dtype=np.int64)

    def matrix(self, frame: pd.DataFrame, columns: Sequence[str]) -> FloatArray:
        """Raw values for query matching: numeric as floats, categories as codes; NaN for missing."""
        out = np.empty((len(frame), len(columns)), dtype=np.float64)
        for j, name in enumerate(columns):
            if self.kinds[name] is Kind.NUMERIC:
                out[:, j] = frame[name].to_numpy(dtype=np.float64)
            else:
                codes = self.codes(frame, name).astype(np.float64)
                codes[codes < 0] = np.nan
                out[:, j] = codes
        return out

    def encode(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> Encoded:
        """Encode rows of ``frame`` (one of the three tables, or a subset) in the distance space."""
        columns = self.columns if columns is None else tuple(columns)
        nums: list[FloatArray] = []
        blocks: list[FloatArray] = []
        for name in columns:
            if self.kinds[name] is Kind.NUMERIC:
                nums.append(self._scaled(frame, name))
                if name in self.numeric_gaps:
                    missing = frame[name].isna().to_numpy()
                    blocks.append(np.column_stack([~missing, missing]).astype(np.float64))
            else:
                blocks.append(self._onehot(frame, name))
        n = len(frame)
        num = np.column_stack(nums) if nums else np.zeros((n, 0))
        onehot = np.hstack(blocks) if blocks else np.zeros((n, 0))
        return Encoded(num.astype(np.float64), onehot, len(blocks))

    def _scaled(self, frame: pd.DataFrame, name: str) -> FloatArray:
        lo, hi = self.ranges[name]
        span = hi - lo if hi > lo else 1.0
        values = (frame[name].to_numpy(dtype=np.float64) - lo) / span
        fill = (float(np.nanmedian(self.train[name].to_numpy(dtype=np.float64))) - lo) / span
        return np.where(np.isnan(values), fill if np.isfinite(fill) else 0.0, values)

    def _onehot(self, frame: pd.DataFrame, name: str) -> FloatArray:
        vocab_size = len(self.vocab[name])
        kept = min(vocab_size, self.max_categories)
        codes = self.codes(frame, name)
        slot = np.where(codes < 0, kept + 1, np.where(codes >= kept, kept, codes))
        out = np.zeros((len(frame), kept + 2))
        out[np.arange(len(frame)), slot] = 1.0
        return out


def _ranges(frames: Sequence[pd.DataFrame], numeric: Sequence[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for name in numeric:
        values = np.concatenate([f[name].to_numpy(dtype=np.float64) for f in frames])
        finite = values[np.isfinite(values)]
        out[name] = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    return out


def _check_exclude(real: pd.DataFrame, exclude: Sequence[str], *, target: str, sensitive: Sequence[str]) -> None:
    if not exclude or not isinstance(real, pd.DataFrame):
        return
    problems = []
    columns = [str(c) for c in real.columns]
    unknown = [c for c in exclude if c not in columns]
    if unknown:
        problems.append(f"excluded columns {unknown} are not in the real table (columns: {columns})")
    if target in exclude:
        problems.append(f"the target {target!r} cannot be excluded (TSTR predicts it); pick another target")
    both = [c for c in exclude if c in sensitive]
    if both:
        problems.append(f"columns {both} are both sensitive and excluded; drop one of the two")
    if problems:
        raise DataError("Cannot audit: " + "; ".join(problems) + ".")


def _common_columns(
    real: Any, holdout: Any, synthetic: Any, *, target: str, sensitive: Sequence[str]
) -> tuple[Any, Any, Any, dict[str, tuple[str, ...]]]:
    """The three tables on the columns the real and synthetic tables share, and what was left out.

    A generator may drop columns on purpose (an identifier, an entity key) or a user may add one to
    the synthetic table; the audit compares what both have and says what it skipped. The target and
    the sensitive columns are never skipped (their absence stays an error), nor is a column the
    holdout lacks (the holdout must be real rows of the same table).
    """
    if not all(isinstance(t, pd.DataFrame) for t in (real, holdout, synthetic)):
        return real, holdout, synthetic, {}
    keep = {target, *sensitive}
    absent = tuple(str(c) for c in real.columns if c not in synthetic.columns and c not in keep)
    extra = tuple(str(c) for c in synthetic.columns if c not in real.columns and c not in keep)
    unmatched = {k: v for k, v in (("absent_from_synthetic", absent), ("only_in_synthetic", extra)) if v}
    real = real.drop(columns=list(absent))
    holdout = holdout.drop(columns=[c for c in absent if c in holdout.columns])
    return real, holdout, synthetic.drop(columns=list(extra)), unmatched


def prepare(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    holdout: pd.DataFrame,
    target: str,
    sensitive: Sequence[str],
    schema: TableSchema | None,
    config: AuditConfig,
) -> AuditData:
    """Check the three tables and build the shared, normalised view the metrics read.

    Raises:
        DataError: one line listing every problem (empty tables, too few holdout rows,
            missing target, mismatched columns or types).
    """
    sensitive = tuple(dict.fromkeys(sensitive))
    _check_exclude(real, config.exclude, target=target, sensitive=sensitive)
    real, holdout, synthetic = (
        t.drop(columns=list(config.exclude), errors="ignore") if isinstance(t, pd.DataFrame) else t
        for t in (real, holdout, synthetic)
    )
    real, holdout, synthetic, unmatched = _common_columns(real, holdout, synthetic, target=target, sensitive=sensitive)
    tables = {Role.TRAIN: real, Role.HOLDOUT: holdout, Role.SYNTHETIC: synthetic}
    check_inputs(tables, target=target, sensitive=sensitive, config=config)
    kinds, excluded = column_kinds(real, target=target, sensitive=sensitive, schema=schema)
    frames = [_normalise(t, kinds) for t in (real, holdout, synthetic)]
    infinite = [c for c, k in kinds.items() if k is Kind.NUMERIC and any(np.isinf(f[c]).any() for f in frames)]
    if infinite:
        raise DataError(f"Cannot audit: numeric columns {infinite} hold infinite values; replace them.")
    return AuditData(
        train=frames[0],
        holdout=frames[1],
        synthetic=frames[2],
        kinds=kinds,
        target=target,
        sensitive=sensitive,
        excluded=tuple(excluded),
        unmatched=unmatched,
        vocab={c: _vocabulary(frames, c) for c, k in kinds.items() if k is Kind.CATEGORICAL},
        ranges=_ranges(frames, [c for c, k in kinds.items() if k is Kind.NUMERIC]),
        numeric_gaps=frozenset(
            c for c, k in kinds.items() if k is Kind.NUMERIC and any(f[c].isna().any() for f in frames)
        ),
        max_categories=config.max_categories,
    )
