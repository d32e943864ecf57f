"""Categorical and boolean columns: one-hot over a public or DP-discovered domain.

Slots, in order: the categories, then ``<other>`` (when the domain was discovered, so rare
categories and values unseen at fit time have a home), then a missing slot when nullable.
The encoder also keeps the column's DP marginal (noisy counts, clipped and normalised), which
conditional samplers use instead of exact class frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import SchemaError
from ..privacy.calibration import threshold_for
from ..privacy.ledger import PrivacyLedger
from ..privacy.mechanisms import noisy_categories, noisy_histogram
from ..schema import ColumnKind, ColumnSpec, _category_key

__all__ = ["OTHER", "CategoricalEncoder", "fit_categorical"]

OTHER = "<other>"


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoricalEncoder:
    """Fitted state of one categorical column (domain and marginal are public or DP)."""

    name: str
    kind: ColumnKind
    categories: tuple[Any, ...]
    has_other: bool
    nullable: bool
    marginal: tuple[float, ...]  # one probability per slot

    @property
    def n_slots(self) -> int:
        return len(self.categories) + int(self.has_other) + int(self.nullable)

    @property
    def other_slot(self) -> int:
        return len(self.categories) if self.has_other else -1

    @property
    def null_slot(self) -> int:
        return self.n_slots - 1 if self.nullable else -1

    def slot_of(self, value: Any) -> int:
        """The slot of one category value (for conditions); raises for unknown values."""
        keys = [_category_key(c) for c in self.categories]
        key = _category_key(value)
        if key in keys:
            return keys.index(key)
        if self.has_other and key == OTHER:
            return self.other_slot
        shown = ", ".join(repr(c) for c in self.categories[:10])
        raise SchemaError(f"Column {self.name!r} has no category {value!r}; known categories: {shown}.")

    def transform(self, values: pd.Series) -> np.ndarray:
        row_codes, keys, _ = _factorize(values)
        slot_keys = {_category_key(c): i for i, c in enumerate(self.categories)}
        key_slot = np.array([slot_keys.get(k, -1) for k in keys] + [-1], dtype=np.int32)
        codes = key_slot[row_codes]  # row_codes == -1 (missing) picks the trailing -1
        is_null = values.isna().to_numpy()
        unknown = (codes < 0) & ~is_null
        if unknown.any():
            if not self.has_other:
                raise SchemaError(
                    f"Column {self.name!r} has {int(unknown.sum())} values outside its declared categories: "
                    "add them to the schema."
                )
            codes[unknown] = self.other_slot
        if is_null.any():
            if not self.nullable:
                raise SchemaError(f"Column {self.name!r} is declared nullable: false but has missing values.")
            codes[is_null] = self.null_slot
        return np.asarray(codes, dtype=np.int32)

    def inverse_transform(self, slots: np.ndarray) -> pd.Series:
        lookup = np.empty(self.n_slots, dtype=object)
        lookup[: len(self.categories)] = list(self.categories)
        if self.has_other:
            lookup[self.other_slot] = OTHER
        if self.nullable:
            lookup[self.null_slot] = None
        out = pd.Series(lookup[np.asarray(slots)], name=self.name)
        if self.kind is ColumnKind.BOOLEAN:
            return out.astype("boolean")
        if (
            all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in self.categories)
            and not self.has_other
        ):
            return out.astype("Int64")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "categories": [c.item() if isinstance(c, np.generic) else c for c in self.categories],
            "has_other": self.has_other,
            "nullable": self.nullable,
            "marginal": list(self.marginal),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalEncoder:
        return cls(
            name=str(data["name"]),
            kind=ColumnKind(data["kind"]),
            categories=tuple(data["categories"]),
            has_other=bool(data["has_other"]),
            nullable=bool(data["nullable"]),
            marginal=tuple(float(m) for m in data["marginal"]),
        )


def _factorize(values: pd.Series) -> tuple[np.ndarray, list[str], list[Any]]:
    """Vectorised keys: (code per row, -1 for missing), distinct keys, one original value per key.

    Hashing runs on the raw values; only the distinct values go through ``_category_key`` (so
    1, 1.0 and "1" share a key without a Python call per row).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    key_index: dict[str, int] = {}
    originals: list[Any] = []
    remap = np.empty(len(uniques) + 1, dtype=np.int64)
    for i, value in enumerate(uniques):
        key = _category_key(value)
        if key not in key_index:
            key_index[key] = len(originals)
            originals.append(value.item() if isinstance(value, np.generic) else value)
        remap[i] = key_index[key]
    remap[-1] = -1  # code -1 (missing) indexes this last slot
    return remap[codes], list(key_index), originals


def _normalise(noisy: np.ndarray) -> tuple[float, ...]:
    clipped = np.clip(noisy, 0.0, None)
    total = clipped.sum()
    if total <= 0:
        clipped = np.ones_like(clipped)
        total = clipped.sum()
    return tuple(float(x) for x in clipped / total)


def _declared_domain(spec: ColumnSpec) -> tuple[Any, ...] | None:
    if spec.categories is not None:
        return spec.categories
    if spec.kind is ColumnKind.BOOLEAN:
        return (False, True)
    return None


def fit_categorical(
    spec: ColumnSpec,
    values: pd.Series,
    *,
    sigma: float,
    threshold_delta: float,
    min_count: float,
    ledger: PrivacyLedger,
    rng: np.random.Generator,
) -> CategoricalEncoder:
    """Fit one categorical column: declared domain (noisy marginal) or DP-discovered domain."""
    row_codes, keys, originals = _factorize(values)
    key_counts = np.bincount(row_codes[row_codes >= 0], minlength=len(keys))
    n_null = int((row_codes < 0).sum())
    domain = _declared_domain(spec)
    if domain is not None:
        by_key = dict(zip(keys, key_counts, strict=True))
        counts = np.array([by_key.get(_category_key(c), 0) for c in domain])
        cells = np.append(counts, n_null) if spec.nullable else counts
        if spec.frequencies is not None:
            marginal = _normalise(
                np.append(np.asarray(spec.frequencies), 0.0) if spec.nullable else np.asarray(spec.frequencies)
            )
        else:
            noisy = noisy_histogram(cells, noise_multiplier=sigma, ledger=ledger, label=f"counts:{spec.name}", rng=rng)
            marginal = _normalise(noisy)
        return CategoricalEncoder(
            name=spec.name,
            kind=spec.kind,
            categories=tuple(domain),
            has_other=False,
            nullable=spec.nullable,
            marginal=marginal,
        )
    threshold = max(threshold_for(sigma, threshold_delta), min_count) if ledger.is_dp else 1.0
    released = noisy_categories(
        originals,
        key_counts,
        null_count=n_null,
        noise_multiplier=sigma,
        threshold=threshold,
        ledger=ledger,
        label=f"categories:{spec.name}",
        rng=rng,
    )
    order = np.argsort([str(c) for c in released.categories], kind="stable")
    categories = tuple(released.categories[i] for i in order)
    found: list[float] = [*released.counts[order], released.other_count]
    if spec.nullable:
        found.append(released.null_count)
    return CategoricalEncoder(
        name=spec.name,
        kind=spec.kind,
        categories=categories,
        has_other=True,
        nullable=spec.nullable,
        marginal=_normalise(np.asarray(found, dtype=float)),
    )
