"""The DP table transformer: a frame to the arrays a generator trains on, and back.

``fit`` plans every mechanism it needs from the schema (what is declared public costs
nothing), calibrates one Gaussian noise level so that all of them together fit the
preprocessing share of the budget, then fits each column through the ledger.

The encoded form is compact: one integer slot per modelled column and one float position
per numeric column (1M rows x 50 columns is a few hundred MB, not the tens of GB a dense
one-hot would take). :meth:`DPTableTransformer.dense` expands rows to the one-hot layout
described by :attr:`DPTableTransformer.spans` when a generator needs it.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, PrivacyWarning, SchemaError
from ..privacy.calibration import gaussian_noise_for
from ..privacy.ledger import PrivacyLedger
from ..privacy.mechanisms import noisy_histogram
from ..schema import ColumnKind, ColumnSpec, IdentifierHandling, TableSchema
from .categorical import OTHER, CategoricalEncoder, fit_categorical
from .fakes import fake_values
from .numeric import NumericEncoder, fit_numeric

__all__ = ["Activation", "DPTableTransformer", "EncodedTable", "OutputSpan", "mechanism_weights"]

Encoder = NumericEncoder | CategoricalEncoder
THRESHOLD_DELTA_SHARE = 0.1  # share of delta reserved for thresholded category discovery
# Chance that a column of dates only is taken for date-times under DP (a timed column has a time
# of day in most rows, so a strict bar costs nothing).
TIMED_FALSE_POSITIVE = 1e-5
# Budget units per mechanism: a mechanism of weight w gets noise sigma / sqrt(w). Category
# discovery weighs more (a lost category is lost for good), and most on the target and the
# sensitive columns, whose classes and groups the audit and conditional sampling need.
CATEGORY_WEIGHT = 2.0
TARGET_CATEGORY_WEIGHT = 8.0
SENSITIVE_CATEGORY_WEIGHT = 4.0
BOUNDS_WEIGHT = 1.5  # a range lost to noise clips the whole column, a noisy bin only blurs it
RESOLUTION_WEIGHT = 0.25  # the DP test "does this datetime column hold times of day?"
SECONDS_PER = {"s": 1, "D": 86_400}


def mechanism_weights(schema: TableSchema) -> dict[str, dict[str, float]]:
    """Every DP mechanism the transformer will run, per column: ``{column: {label: weight}}``.

    A function of the schema only (public), so the plan and the fit agree on the noise of each
    statistic before anything is read. ``count:rows`` (weight 1) comes on top.
    """
    roles = {schema.target: TARGET_CATEGORY_WEIGHT} if schema.target else {}
    roles.update({s: max(SENSITIVE_CATEGORY_WEIGHT, roles.get(s, 0.0)) for s in schema.sensitive})
    plan: dict[str, dict[str, float]] = {}
    for spec in schema.modelled:
        mech: dict[str, float] = {}
        if spec.kind.is_numeric:
            if spec.kind is ColumnKind.DATETIME:
                mech[f"resolution:{spec.name}"] = RESOLUTION_WEIGHT
            if spec.bounds is None:
                mech[f"bounds:{spec.name}"] = BOUNDS_WEIGHT
            mech[f"bins:{spec.name}"] = 1.0
        elif spec.kind is ColumnKind.CATEGORICAL and spec.categories is None:
            mech[f"categories:{spec.name}"] = roles.get(spec.name, CATEGORY_WEIGHT)
        elif spec.frequencies is None:
            mech[f"counts:{spec.name}"] = 1.0
        plan[spec.name] = mech
    return plan


class Activation(StrEnum):
    SOFTMAX = "softmax"
    TANH = "tanh"


@dataclass(frozen=True, slots=True)
class OutputSpan:
    """A block of the dense layout: ``dim`` units with one activation, for one column."""

    column: str
    dim: int
    activation: Activation
    start: int


@dataclass(frozen=True, slots=True)
class EncodedTable:
    """Compact encoding: ``slots[:, j]`` for modelled column j, ``positions[:, k]`` for numeric k."""

    slots: np.ndarray  # int32 (n_rows, n_modelled)
    positions: np.ndarray  # float32 (n_rows, n_numeric)

    def __len__(self) -> int:
        return int(self.slots.shape[0])

    def take(self, rows: np.ndarray | slice) -> EncodedTable:
        return EncodedTable(self.slots[rows], self.positions[rows])


def _storage_type(col: pd.Series) -> str:
    """The datetime column's storage type (public: the file's declared type, not its values)."""
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        return str(col.dtype)
    first = col.dropna().head(1)
    if len(first) and isinstance(first.iloc[0], _dt.date) and not isinstance(first.iloc[0], _dt.datetime):
        return "date"
    return "datetime64[ns]"


def _seconds(col: pd.Series) -> np.ndarray:
    """Seconds since 1970-01-01 UTC (NaN for missing), whatever the storage unit."""
    stamps = (
        col if pd.api.types.is_datetime64_any_dtype(col.dtype) else pd.to_datetime(col, errors="coerce", format="mixed")
    )
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = pd.Series(stamps).astype("datetime64[ns]")
    raw = ns.to_numpy().astype("int64").astype(float)
    return np.where(ns.isna().to_numpy(), np.nan, np.floor(raw / 1e9))


def _to_float(col: pd.Series, kind: ColumnKind, unit: str = "s") -> np.ndarray:
    if kind is ColumnKind.DATETIME:
        return np.floor(_seconds(col) / SECONDS_PER[unit])
    return np.asarray(pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)


def _from_float(values: np.ndarray, kind: ColumnKind, unit: str = "s", out_dtype: str = "") -> pd.Series:
    if kind is ColumnKind.DATETIME:
        stamps = pd.Series(pd.to_datetime(values * SECONDS_PER[unit], unit="s"))
        if out_dtype == "date":
            return stamps.dt.date.astype(object).where(stamps.notna(), None)
        if out_dtype.startswith("datetime64[") and "," in out_dtype:  # tz-aware: stored as UTC
            unit_part, tz = out_dtype[len("datetime64[") : -1].split(",", 1)
            return stamps.dt.tz_localize("UTC").dt.tz_convert(tz.strip()).astype(out_dtype)
        return stamps.astype(out_dtype) if out_dtype.startswith("datetime64[") else stamps
    if kind is ColumnKind.INTEGER:
        if not np.isnan(values).any():
            return pd.Series(values.astype(np.int64))
        return pd.Series(pd.array(np.where(np.isnan(values), 0, values).astype(np.int64), dtype="Int64")).mask(
            np.isnan(values)
        )
    return pd.Series(values)


class DPTableTransformer:
    """Fit-once transformer between a frame and the encoded arrays.

    Args:
        n_bins: bins per numeric column (atoms included).
        min_category_count: discovered categories whose noisy count is under this are merged
            into ``<other>`` (on top of the DP threshold).

    Example:
        >>> ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
        >>> t = DPTableTransformer().fit(frame, schema, ledger=ledger, epsilon=0.1, random_state=0)
        >>> encoded = t.transform(frame); restored = t.inverse_transform(encoded)
    """

    def __init__(self, *, n_bins: int = 20, min_category_count: float = 10.0) -> None:
        if not (isinstance(n_bins, int) and n_bins >= 2):
            raise ConfigError(f"n_bins must be an integer >= 2, got {n_bins!r}.")
        self.n_bins = n_bins
        self.min_category_count = min_category_count

    # ---- fitting -----------------------------------------------------------------
    @staticmethod
    def planned_mechanisms(schema: TableSchema) -> dict[str, int]:
        """How many Gaussian mechanisms each modelled column will spend (0 when fully public)."""
        return {c: len(m) for c, m in mechanism_weights(schema).items()}

    @staticmethod
    def noise_levels(schema: TableSchema, *, epsilon: float, delta: float) -> tuple[float, float, dict[str, float]]:
        """``(base sigma, threshold delta, {label: sigma})`` for a preprocessing budget (public inputs only)."""
        weights = {label: w for mech in mechanism_weights(schema).values() for label, w in mech.items()}
        units = sum(weights.values()) + 1.0  # + count:rows
        n_thresholded = sum(1 for label in weights if label.startswith("categories:"))
        threshold_delta = delta * THRESHOLD_DELTA_SHARE / max(1, n_thresholded)
        rdp_delta = delta * (1 - THRESHOLD_DELTA_SHARE) if n_thresholded else delta
        base = gaussian_noise_for(epsilon, rdp_delta, n_mechanisms=units)
        return base, threshold_delta, {label: base / math.sqrt(w) for label, w in weights.items()}

    def fit(
        self,
        frame: pd.DataFrame,
        schema: TableSchema,
        *,
        ledger: PrivacyLedger,
        epsilon: float | None,
        random_state: int | np.random.Generator | None = None,
    ) -> DPTableTransformer:
        """Fit every column, spending at most ``epsilon`` (the preprocessing share) from ``ledger``.

        Sets ``notes_``: one structured note per column whose DP preprocessing collapsed
        something (categories merged, no category found); a :class:`PrivacyWarning` names the
        target and sensitive columns among them. Notes name columns and kinds of problem only.
        """
        schema.validate_frame(frame, private=ledger.is_dp)
        if not schema.modelled:
            raise SchemaError("The schema has no column to model (all are identifiers or text).")
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        if ledger.is_dp:
            if epsilon is None or not (epsilon > 0 and math.isfinite(epsilon)):
                raise ConfigError(f"The preprocessing epsilon must be a positive number under DP, got {epsilon!r}.")
            sigma, threshold_delta, sigmas = self.noise_levels(schema, epsilon=epsilon, delta=ledger.delta)
        else:
            sigma, threshold_delta, sigmas = 1.0, ledger.delta, {}

        def noise(label: str) -> float:
            return sigmas.get(label, sigma)

        # The row count sets DP-SGD's sampling rate; it is released with noise like any statistic.
        noisy_rows = noisy_histogram(
            np.array([len(frame)]), noise_multiplier=sigma, ledger=ledger, label="count:rows", rng=rng
        )
        self.n_rows_estimate_ = max(1, int(round(float(noisy_rows[0]))))
        encoders: list[Encoder] = []
        for spec in schema.modelled:
            col = frame[spec.name]
            if spec.kind.is_numeric:
                unit, out_dtype = "s", ""
                if spec.kind is ColumnKind.DATETIME:
                    out_dtype = _storage_type(col)
                    unit = self._time_unit(spec, col, noise(f"resolution:{spec.name}"), ledger, rng)
                values = _to_float(col, spec.kind, unit)
                encoders.append(
                    fit_numeric(
                        spec,
                        values,
                        n_bins=self.n_bins,
                        sigma=noise(f"bins:{spec.name}"),
                        bounds_sigma=noise(f"bounds:{spec.name}"),
                        ledger=ledger,
                        rng=rng,
                        n_rows_estimate=self.n_rows_estimate_,
                        time_unit=unit,
                        out_dtype=out_dtype,
                    )
                )
            else:
                label = f"categories:{spec.name}" if self._discovers(spec) else f"counts:{spec.name}"
                encoders.append(
                    fit_categorical(
                        spec,
                        col,
                        sigma=noise(label),
                        threshold_delta=threshold_delta,
                        min_count=self.min_category_count,
                        ledger=ledger,
                        rng=rng,
                        n_rows_estimate=self.n_rows_estimate_,
                        rows_sigma=sigma,
                    )
                )
        self.schema_ = schema
        self.encoders_ = tuple(encoders)
        self.noise_multiplier_ = sigma if ledger.is_dp else None
        self.notes_ = self._notes(schema, self.encoders_)
        for note in self.notes_:
            if note["role"] in ("target", "sensitive"):
                warnings.warn(note["message"], PrivacyWarning, stacklevel=2)
        return self

    @staticmethod
    def _time_unit(
        spec: ColumnSpec, col: pd.Series, sigma: float, ledger: PrivacyLedger, rng: np.random.Generator
    ) -> str:
        """ "D" when the column holds dates only (its storage type, or a DP count of times of day), else "s"."""
        if _storage_type(col) == "date":
            return "D"
        seconds = _seconds(col)
        timed = np.array([np.count_nonzero(np.mod(seconds[np.isfinite(seconds)], 86_400))])
        noisy = noisy_histogram(timed, noise_multiplier=sigma, ledger=ledger, label=f"resolution:{spec.name}", rng=rng)
        bar = sigma * ledger.sensitivity * NormalDist().inv_cdf(1.0 - TIMED_FALSE_POSITIVE) if ledger.is_dp else 0.5
        return "s" if float(noisy[0]) >= bar else "D"

    @staticmethod
    def _notes(schema: TableSchema, encoders: tuple[Encoder, ...]) -> tuple[dict[str, str], ...]:
        notes: list[dict[str, str]] = []
        for enc in encoders:
            if not (isinstance(enc, CategoricalEncoder) and enc.collapsed):
                continue
            role = "target" if enc.name == schema.target else "sensitive" if enc.name in schema.sensitive else "column"
            if not enc.categories:
                problem = "no_category_found"
                what = "no category cleared the DP threshold; the column is generated without its values"
            elif enc.has_other and enc.placeholder:
                problem = "categories_merged"
                what = f"categories too rare for the DP threshold are merged into the placeholder {OTHER!r}"
            else:
                problem = "categories_merged"
                what = "categories too rare for the DP threshold are generated as the discovered ones"
            notes.append(
                {
                    "column": enc.name,
                    "role": role,
                    "problem": problem,
                    "message": (
                        f"{role.capitalize()} {enc.name!r}: {what}. Declare its categories in the schema "
                        "(a list, or a public vocabulary such as us_states), or raise epsilon; "
                        "'tabsynth plan' shows what each column needs."
                    ),
                }
            )
        return tuple(notes)

    @staticmethod
    def _discovers(spec: ColumnSpec) -> bool:
        return spec.kind is ColumnKind.CATEGORICAL and spec.categories is None

    # ---- layout ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "encoders_"):
            from ..exceptions import NotFittedError

            raise NotFittedError("This DPTableTransformer is not fitted yet: call fit(frame, schema, ...) first.")

    @property
    def spans(self) -> tuple[OutputSpan, ...]:
        """Dense layout: per column a softmax block, plus one tanh unit for numeric columns."""
        self._check_fitted()
        spans: list[OutputSpan] = []
        start = 0
        for enc in self.encoders_:
            spans.append(OutputSpan(enc.name, enc.n_slots, Activation.SOFTMAX, start))
            start += enc.n_slots
            if isinstance(enc, NumericEncoder):
                spans.append(OutputSpan(enc.name, 1, Activation.TANH, start))
                start += 1
        return tuple(spans)

    @property
    def output_dim(self) -> int:
        last = self.spans[-1]
        return last.start + last.dim

    @property
    def numeric_columns(self) -> tuple[int, ...]:
        """Indices (into encoders_) of the numeric columns, in ``positions`` order."""
        return tuple(i for i, e in enumerate(self.encoders_) if isinstance(e, NumericEncoder))

    def encoder(self, name: str) -> Encoder:
        self._check_fitted()
        for enc in self.encoders_:
            if enc.name == name:
                return enc
        raise SchemaError(f"Column {name!r} is not modelled; modelled columns: {[e.name for e in self.encoders_]}.")

    # ---- transforms --------------------------------------------------------------
    def transform(self, frame: pd.DataFrame) -> EncodedTable:
        """Encode ``frame`` (vectorised per column)."""
        self._check_fitted()
        missing = [e.name for e in self.encoders_ if e.name not in frame.columns]
        if missing:
            raise SchemaError(f"Columns missing from the frame: {missing}.")
        n = len(frame)
        slots = np.empty((n, len(self.encoders_)), dtype=np.int32)
        positions = np.empty((n, len(self.numeric_columns)), dtype=np.float32)
        k = 0
        for j, enc in enumerate(self.encoders_):
            if isinstance(enc, NumericEncoder):
                slots[:, j], positions[:, k] = enc.transform(_to_float(frame[enc.name], enc.kind, enc.time_unit))
                k += 1
            else:
                slots[:, j] = enc.transform(frame[enc.name])
        return EncodedTable(slots, positions)

    def inverse_transform(self, encoded: EncodedTable, *, random_state: int | None = None) -> pd.DataFrame:
        """Decode to a frame in the schema's column order; identifiers are dropped or faked."""
        self._check_fitted()
        out: dict[str, pd.Series] = {}
        k = 0
        rng = np.random.default_rng(random_state)
        for j, enc in enumerate(self.encoders_):
            if isinstance(enc, NumericEncoder):
                values = enc.inverse_transform(encoded.slots[:, j], encoded.positions[:, k])
                out[enc.name] = _from_float(values, enc.kind, enc.time_unit, enc.out_dtype)
                k += 1
            else:
                out[enc.name] = enc.inverse_transform(encoded.slots[:, j], rng)
        for spec in self.schema_.columns:
            if not spec.kind.is_modelled and spec.handling is IdentifierHandling.FAKE:
                out[spec.name] = pd.Series(fake_values(spec.fake or "uuid", len(encoded), rng))
        order = [s.name for s in self.schema_.columns if s.name in out]
        return pd.DataFrame({name: out[name].reset_index(drop=True) for name in order})

    def dense(self, encoded: EncodedTable) -> np.ndarray:
        """Expand to the dense float32 layout of :attr:`spans` (one-hots and positions)."""
        self._check_fitted()
        n = len(encoded)
        out = np.zeros((n, self.output_dim), dtype=np.float32)
        rows = np.arange(n)
        k = 0
        for j, span in enumerate(s for s in self.spans if s.activation is Activation.SOFTMAX):
            out[rows, span.start + encoded.slots[:, j]] = 1.0
            if isinstance(self.encoders_[j], NumericEncoder):
                out[:, span.start + span.dim] = encoded.positions[:, k]
                k += 1
        return out

    def from_dense(self, dense: np.ndarray) -> EncodedTable:
        """Inverse of :meth:`dense` for generator outputs: argmax per softmax block."""
        self._check_fitted()
        softmax = [s for s in self.spans if s.activation is Activation.SOFTMAX]
        slots = np.stack([dense[:, s.start : s.start + s.dim].argmax(axis=1) for s in softmax], axis=1)
        tanh = [s for s in self.spans if s.activation is Activation.TANH]
        positions = np.stack([dense[:, s.start] for s in tanh], axis=1) if tanh else np.zeros((len(dense), 0))
        return EncodedTable(slots.astype(np.int32), positions.astype(np.float32))

    # ---- persistence -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "n_bins": self.n_bins,
            "min_category_count": self.min_category_count,
            "n_rows_estimate": self.n_rows_estimate_,
            "notes": [dict(n) for n in getattr(self, "notes_", ())],
            "schema": self.schema_.to_dict(),
            "encoders": [
                {"type": "numeric" if isinstance(e, NumericEncoder) else "categorical", **e.to_dict()}
                for e in self.encoders_
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DPTableTransformer:
        out = cls(n_bins=int(data["n_bins"]), min_category_count=float(data["min_category_count"]))
        out.schema_ = TableSchema.from_dict(data["schema"])
        encoders: list[Encoder] = []
        for item in data["encoders"]:
            fields = {k: v for k, v in item.items() if k != "type"}
            encoders.append(
                NumericEncoder.from_dict(fields) if item["type"] == "numeric" else CategoricalEncoder.from_dict(fields)
            )
        out.encoders_ = tuple(encoders)
        out.n_rows_estimate_ = int(data["n_rows_estimate"])
        out.noise_multiplier_ = None
        out.notes_ = tuple(data.get("notes", ()))
        return out
