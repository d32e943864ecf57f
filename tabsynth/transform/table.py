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

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, SchemaError
from ..privacy.calibration import gaussian_noise_for
from ..privacy.ledger import PrivacyLedger
from ..privacy.mechanisms import noisy_histogram
from ..schema import ColumnKind, ColumnSpec, IdentifierHandling, TableSchema
from .categorical import CategoricalEncoder, fit_categorical
from .fakes import fake_values
from .numeric import NumericEncoder, fit_numeric

__all__ = ["Activation", "DPTableTransformer", "EncodedTable", "OutputSpan"]

Encoder = NumericEncoder | CategoricalEncoder
THRESHOLD_DELTA_SHARE = 0.1  # share of delta reserved for thresholded category discovery
CATEGORY_WEIGHT = 2.0  # budget units per category-discovery mechanism (see fit)


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


def _to_float(col: pd.Series, kind: ColumnKind) -> np.ndarray:
    if kind is ColumnKind.DATETIME:
        stamps = pd.to_datetime(col, errors="coerce", format="mixed")
        seconds = stamps.astype("int64", copy=False).to_numpy() // 10**9 if stamps.notna().all() else None
        if seconds is None:
            seconds = np.array([t.timestamp() if pd.notna(t) else np.nan for t in stamps], dtype=float)
        return seconds.astype(float)
    return np.asarray(pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)


def _from_float(values: np.ndarray, kind: ColumnKind) -> pd.Series:
    if kind is ColumnKind.DATETIME:
        return pd.Series(pd.to_datetime(values, unit="s"))
    if kind is ColumnKind.INTEGER:
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
        plan: dict[str, int] = {}
        for spec in schema.modelled:
            if spec.kind.is_numeric:
                plan[spec.name] = 1 + int(spec.bounds is None)
            elif spec.categories is None and spec.kind is not ColumnKind.BOOLEAN:
                plan[spec.name] = 2
            else:
                plan[spec.name] = int(spec.frequencies is None)
        return plan

    def fit(
        self,
        frame: pd.DataFrame,
        schema: TableSchema,
        *,
        ledger: PrivacyLedger,
        epsilon: float | None,
        random_state: int | np.random.Generator | None = None,
    ) -> DPTableTransformer:
        """Fit every column, spending at most ``epsilon`` (the preprocessing share) from ``ledger``."""
        schema.validate_frame(frame)
        if not schema.modelled:
            raise SchemaError("The schema has no column to model (all are identifiers or text).")
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        plan = self.planned_mechanisms(schema)
        # Budget units: category discovery counts double (a lost category is lost for good),
        # so its noise is sigma / sqrt(2); every other mechanism, the row count included, is one unit.
        units = sum(n * (CATEGORY_WEIGHT if self._discovers(schema[c]) else 1) for c, n in plan.items()) + 1
        sigma, threshold_delta = self._calibrate(ledger, epsilon, units, schema)
        # The row count sets DP-SGD's sampling rate; it is released with noise like any statistic.
        noisy_rows = noisy_histogram(
            np.array([len(frame)]), noise_multiplier=sigma, ledger=ledger, label="count:rows", rng=rng
        )
        self.n_rows_estimate_ = max(1, int(round(float(noisy_rows[0]))))
        encoders: list[Encoder] = []
        for spec in schema.modelled:
            col = frame[spec.name]
            if spec.kind.is_numeric:
                values = _to_float(col, spec.kind)
                encoders.append(fit_numeric(spec, values, n_bins=self.n_bins, sigma=sigma, ledger=ledger, rng=rng))
            else:
                scale = CATEGORY_WEIGHT**-0.5 if self._discovers(spec) else 1.0
                encoders.append(
                    fit_categorical(
                        spec,
                        col,
                        sigma=sigma * scale,
                        threshold_delta=threshold_delta,
                        min_count=self.min_category_count,
                        ledger=ledger,
                        rng=rng,
                    )
                )
        self.schema_ = schema
        self.encoders_ = tuple(encoders)
        self.noise_multiplier_ = sigma if ledger.is_dp else None
        return self

    @staticmethod
    def _discovers(spec: ColumnSpec) -> bool:
        return spec.kind is ColumnKind.CATEGORICAL and spec.categories is None

    def _calibrate(
        self, ledger: PrivacyLedger, epsilon: float | None, n_mech: float, schema: TableSchema
    ) -> tuple[float, float]:
        if not ledger.is_dp:
            return 1.0, ledger.delta
        if epsilon is None or not (epsilon > 0 and math.isfinite(epsilon)):
            raise ConfigError(f"The preprocessing epsilon must be a positive number under DP, got {epsilon!r}.")
        n_thresholded = sum(1 for s in schema.modelled if self._discovers(s))
        threshold_delta = ledger.delta * THRESHOLD_DELTA_SHARE / max(1, n_thresholded)
        rdp_delta = ledger.delta * (1 - THRESHOLD_DELTA_SHARE) if n_thresholded else ledger.delta
        return gaussian_noise_for(epsilon, rdp_delta, n_mechanisms=n_mech), threshold_delta

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
                slots[:, j], positions[:, k] = enc.transform(_to_float(frame[enc.name], enc.kind))
                k += 1
            else:
                slots[:, j] = enc.transform(frame[enc.name])
        return EncodedTable(slots, positions)

    def inverse_transform(self, encoded: EncodedTable, *, random_state: int | None = None) -> pd.DataFrame:
        """Decode to a frame in the schema's column order; identifiers are dropped or faked."""
        self._check_fitted()
        out: dict[str, pd.Series] = {}
        k = 0
        for j, enc in enumerate(self.encoders_):
            if isinstance(enc, NumericEncoder):
                values = enc.inverse_transform(encoded.slots[:, j], encoded.positions[:, k])
                out[enc.name] = _from_float(values, enc.kind)
                k += 1
            else:
                out[enc.name] = enc.inverse_transform(encoded.slots[:, j])
        rng = np.random.default_rng(random_state)
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
        return out
