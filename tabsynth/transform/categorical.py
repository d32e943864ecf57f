"""Categorical and boolean columns: one-hot over a public or DP-discovered domain.

Under DP, an undeclared domain is discovered from one noisy histogram: public candidates (small
integer codes, the entries of the public vocabularies) clear a false-positive bar, other values a
DP threshold, and a column written in one public vocabulary (US state codes, say) gets the whole
vocabulary, its rare entries included (post-processing of the candidates' noisy counts).

Slots, in order: the categories, then ``<other>`` (only when the DP evidence says rows hold
categories that could not be released, and only in a text-valued column), then a missing slot
(only when the column is nullable and the DP count of missing values clears the noise).

* In a coded column (every category a number: 0/1 flags, coded labels) there is never an
  ``<other>`` slot: values DP could not discover are encoded as the nearest discovered code, so
  the synthetic column holds only discovered codes, with the input's type.
* In a text column, the ``<other>`` slot is decoded to the one documented placeholder
  :data:`OTHER` when its DP share is at most :data:`MAX_PLACEHOLDER_SHARE`; above that, sampled
  ``<other>`` rows are spread over the discovered categories by their DP marginal.
* Missing values in a column without a missing slot are encoded as the commonest category.

The encoder also keeps the column's DP marginal (noisy counts, clipped and normalised), which
conditional samplers use instead of exact class frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import SchemaError
from ..privacy.calibration import threshold_for
from ..privacy.ledger import PrivacyLedger
from ..privacy.mechanisms import discover_categories, noisy_histogram
from ..schema import ColumnKind, ColumnSpec, _category_key
from ..vocab import SPELLINGS, VOCABULARIES, candidate_values

__all__ = ["MAX_PLACEHOLDER_SHARE", "OTHER", "CategoricalEncoder", "fit_categorical"]

OTHER = "<other>"
#: The placeholder for undiscovered categories is emitted only while its DP share is at most this.
MAX_PLACEHOLDER_SHARE = 0.05
#: Chance that a column without missing values (or without undiscovered categories) gets a slot for them.
SLOT_FALSE_POSITIVE = 1e-6  # 0.001 let noise open slots in about 1 fit in 8 (measured in the tests)
#: Public integer codes tried in every numeric-valued column (no threshold needed for them).
CODE_CANDIDATES = tuple(range(-1, 101))
#: Chance, over all public candidates of a column, that one absent from the data is released.
CANDIDATE_FALSE_POSITIVE = 0.001
#: A public vocabulary is adopted whole when the sum of its entries' noisy counts clears this many
#: noise standard deviations of that sum (about 3e-6 a test for a vocabulary absent from the column)...
VOCABULARY_Z = 4.5
#: ... and holds at least this share of the DP row count.
VOCABULARY_COVERAGE = 0.5


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoricalEncoder:
    """Fitted state of one categorical column (domain and marginal are public or DP)."""

    name: str
    kind: ColumnKind
    categories: tuple[Any, ...]
    has_other: bool
    nullable: bool  # whether there is a missing slot
    marginal: tuple[float, ...]  # one probability per slot
    discovered: bool = False  # the domain was discovered with DP (not declared)
    placeholder: bool = True  # the <other> slot decodes to OTHER (else: spread over the categories)
    collapsed: bool = False  # DP evidence of categories that could not be released

    @property
    def n_slots(self) -> int:
        return len(self.categories) + int(self.has_other) + int(self.nullable)

    @property
    def other_slot(self) -> int:
        return len(self.categories) if self.has_other else -1

    @property
    def null_slot(self) -> int:
        return self.n_slots - 1 if self.nullable else -1

    @property
    def coded(self) -> bool:
        """Every category is a number (flags, codes): no placeholder string may appear."""
        return bool(self.categories) and all(_is_number(c) for c in self.categories)

    def _commonest(self) -> int:
        shares = self.marginal[: len(self.categories)]
        return int(np.argmax(shares)) if len(shares) else 0

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

    def _unknown_slots(self, keys: list[str], originals: list[Any]) -> np.ndarray:
        """The slot of each distinct value not among the categories (discovered domains only)."""
        if self.has_other:
            return np.full(len(keys), self.other_slot)
        if self.coded:
            cats = np.asarray([float(c) for c in self.categories])
            out = []
            for v in originals:
                try:
                    out.append(int(np.argmin(np.abs(cats - float(v)))))
                except (TypeError, ValueError):
                    out.append(self._commonest())
            return np.asarray(out, dtype=np.int64)
        return np.full(len(keys), self._commonest())

    def transform(self, values: pd.Series) -> np.ndarray:
        row_codes, keys, originals = _factorize(values)
        slot_keys = {_category_key(c): i for i, c in enumerate(self.categories)}
        key_slot = np.array([slot_keys.get(k, -1) for k in keys] + [-1], dtype=np.int64)
        unknown_keys = np.flatnonzero(key_slot[:-1] < 0)
        if unknown_keys.size:  # (a non-DP fit refused them in validate_frame; under DP that refusal is an output)
            if self.discovered:
                fill = self._unknown_slots([keys[i] for i in unknown_keys], [originals[i] for i in unknown_keys])
            else:  # outside the declared categories: the missing slot, else the commonest category
                fill = np.full(unknown_keys.size, self.null_slot if self.nullable else self._commonest())
            key_slot[unknown_keys] = fill
        codes = key_slot[row_codes]  # row_codes == -1 (missing) picks the trailing -1
        is_null = row_codes < 0
        if is_null.any():
            codes[is_null] = self.null_slot if self.nullable else self._commonest()
        return np.asarray(codes, dtype=np.int32)

    def inverse_transform(self, slots: np.ndarray, rng: np.random.Generator | None = None) -> pd.Series:
        slots = np.asarray(slots)
        lookup = np.empty(self.n_slots, dtype=object)
        lookup[: len(self.categories)] = list(self.categories)
        if self.has_other:
            lookup[self.other_slot] = OTHER if (self.placeholder and not self.coded) else None
        if self.nullable:
            lookup[self.null_slot] = None
        values = lookup[slots]
        if self.has_other and self.categories and not (self.placeholder and not self.coded):
            # Too much undiscovered mass for a placeholder (or a coded column): spread it over the
            # discovered categories by their DP marginal (post-processing).
            rows = np.flatnonzero(slots == self.other_slot)
            if rows.size:
                shares = np.asarray(self.marginal[: len(self.categories)], dtype=float)
                shares = shares / shares.sum() if shares.sum() > 0 else np.full(len(shares), 1 / len(shares))
                draw = (rng or np.random.default_rng(0)).choice(len(self.categories), size=rows.size, p=shares)
                values[rows] = lookup[draw]
        out = pd.Series(values, name=self.name)
        missing = bool(out.isna().any())
        if self.kind is ColumnKind.BOOLEAN:
            return out.astype("boolean") if missing else out.astype(bool)
        if self.categories and all(_is_number(c) for c in self.categories):
            if all(float(c).is_integer() and not isinstance(c, (float, np.floating)) for c in self.categories):
                return out.astype("Int64") if missing else out.astype(np.int64)
            return out.astype(float)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "categories": [c.item() if isinstance(c, np.generic) else c for c in self.categories],
            "has_other": self.has_other,
            "nullable": self.nullable,
            "marginal": list(self.marginal),
            "discovered": self.discovered,
            "placeholder": self.placeholder,
            "collapsed": self.collapsed,
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
            discovered=bool(data.get("discovered", data["has_other"])),
            placeholder=bool(data.get("placeholder", True)),
            collapsed=bool(data.get("collapsed", False)),
        )


def _factorize(values: pd.Series) -> tuple[np.ndarray, list[str], list[Any]]:
    """Vectorised keys: (code per row, -1 for missing), distinct keys, one original value per key.

    Hashing runs on the raw values; only the distinct values go through ``_category_key`` (so
    1, 1.0 and "1" share a key without a Python call per row).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    key_index: dict[str, int] = {}
    forms: list[list[Any]] = []
    remap = np.empty(len(uniques) + 1, dtype=np.int64)
    for i, value in enumerate(uniques):
        key = _category_key(value)
        if key not in key_index:
            key_index[key] = len(forms)
            forms.append([])
        forms[key_index[key]].append(value.item() if isinstance(value, np.generic) else value)
        remap[i] = key_index[key]
    remap[-1] = -1  # code -1 (missing) indexes this last slot
    # One canonical raw form per key, whatever the rows' order (1 and 1.0 and "1" share a key): a
    # released category must not depend on which row came first.
    originals = [min(f, key=lambda v: (type(v).__name__, repr(v))) for f in forms]
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


def _adopted_vocabulary(
    candidates: tuple[Any, ...], noisy: np.ndarray, *, sd: float, n_rows: float | None
) -> np.ndarray:
    """Mask of the candidates of the one public vocabulary (in one spelling) the column is written in.

    Post-processing of the released candidate counts: a vocabulary ``V`` in a spelling is adopted
    when the sum ``T`` of its entries' noisy counts clears :data:`VOCABULARY_Z` times its noise
    (``sd * sqrt(|V|)``) and :data:`VOCABULARY_COVERAGE` of the DP row count; of those, the one
    with the largest lower bound ``T - VOCABULARY_Z * sd * sqrt(|V|)`` (the largest ``T`` would
    favour big vocabularies, whose sums are noisier: ISO country codes, which share 26 codes with
    the US states, won a state column in about 1 fit in 300). Every entry of it becomes a
    category, also those too rare to clear the per-candidate bar (a 51-value state column with 65
    rows a state, say): the domain is public, and the frequencies are learnt by the DP generator.
    """
    index = {c: i for i, c in enumerate(candidates)}
    best: list[int] = []
    best_lower = -np.inf
    for values in VOCABULARIES.values():
        words = [v for v in values if isinstance(v, str)]
        for spell in SPELLINGS:
            idx = sorted({index[w] for w in map(spell, words) if w in index})
            if not idx:
                continue
            total = float(noisy[idx].sum())
            lower = total - VOCABULARY_Z * sd * np.sqrt(len(idx))  # a lower bound on its rows
            enough = n_rows is None or total >= VOCABULARY_COVERAGE * n_rows
            if lower >= 0 and enough and lower > best_lower:
                best, best_lower = idx, lower
    mask = np.zeros(len(candidates), dtype=bool)
    mask[best] = True
    return mask


def _sort_key(value: Any) -> tuple[int, float, str]:
    return (0, float(value), "") if _is_number(value) else (1, 0.0, str(value))


def fit_categorical(
    spec: ColumnSpec,
    values: pd.Series,
    *,
    sigma: float,
    threshold_delta: float,
    min_count: float,
    ledger: PrivacyLedger,
    rng: np.random.Generator,
    n_rows_estimate: float | None = None,
    rows_sigma: float | None = None,
) -> CategoricalEncoder:
    """Fit one categorical column: declared domain (noisy marginal) or DP-discovered domain.

    Discovery spends one mechanism (:func:`discover_categories`): public candidates (small
    integer codes in a numeric column, the entries of the public vocabularies in a text column)
    are released when their noisy count clears a false-positive bar, other values only above the
    DP threshold. The share of undiscovered rows is estimated as post-processing, the DP row
    count (``n_rows_estimate``, noise ``rows_sigma``) minus the released counts.
    """
    # Bars on noisy counts are in counts: the noise std is sigma times the ledger's sensitivity
    # (1 per row, k per entity of at most k rows; see tabsynth.privacy.mechanisms).
    sd = sigma * ledger.sensitivity
    row_codes, keys, originals = _factorize(values)
    key_counts = np.bincount(row_codes[row_codes >= 0], minlength=len(keys))
    n_null = int((row_codes < 0).sum())
    slot_bar = NormalDist().inv_cdf(1.0 - SLOT_FALSE_POSITIVE)
    domain = _declared_domain(spec)
    if domain is not None:
        by_key = dict(zip(keys, key_counts, strict=True))
        counts = np.array([by_key.get(_category_key(c), 0) for c in domain])
        if spec.frequencies is not None:
            return CategoricalEncoder(
                name=spec.name,
                kind=spec.kind,
                categories=tuple(domain),
                has_other=False,
                nullable=False,
                marginal=_normalise(np.asarray(spec.frequencies)),
            )
        cells = np.append(counts, n_null) if spec.nullable else counts
        noisy = noisy_histogram(cells, noise_multiplier=sigma, ledger=ledger, label=f"counts:{spec.name}", rng=rng)
        has_null = spec.nullable and (noisy[-1] >= slot_bar * sd if ledger.is_dp else n_null > 0)
        if spec.nullable and not has_null:
            noisy = noisy[:-1]
        return CategoricalEncoder(
            name=spec.name,
            kind=spec.kind,
            categories=tuple(domain),
            has_other=False,
            nullable=bool(has_null),
            marginal=_normalise(noisy),
        )
    numeric_storage = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    pool: tuple[Any, ...] = CODE_CANDIDATES if numeric_storage else candidate_values()
    pool_keys = {_category_key(c): c for c in pool}
    by_key = dict(zip(keys, key_counts, strict=True))
    cand_counts = np.array([by_key.get(k, 0) for k in pool_keys], dtype=float)
    private = [i for i, k in enumerate(keys) if k not in pool_keys]
    threshold = max(ledger.sensitivity * threshold_for(sigma, threshold_delta), min_count) if ledger.is_dp else 1.0
    released = discover_categories(
        [originals[i] for i in private],
        key_counts[private],
        candidates=tuple(pool_keys.values()),
        candidate_counts=cand_counts,
        null_count=n_null,
        noise_multiplier=sigma,
        threshold=threshold,
        ledger=ledger,
        label=f"categories:{spec.name}",
        rng=rng,
    )
    if ledger.is_dp:
        cand_bar = max(sd * NormalDist().inv_cdf(1.0 - CANDIDATE_FALSE_POSITIVE / max(1, len(pool))), min_count)
    else:
        cand_bar = 1.0
    kept = released.candidate_counts >= cand_bar
    if ledger.is_dp and not numeric_storage:
        kept |= _adopted_vocabulary(released.candidates, released.candidate_counts, sd=sd, n_rows=n_rows_estimate)
    found = [*released.private, *(c for c, m in zip(released.candidates, kept, strict=True) if m)]
    found_counts = np.concatenate([released.private_counts, released.candidate_counts[kept]])
    order = sorted(range(len(found)), key=lambda i: _sort_key(found[i]))
    categories = tuple(found[i] for i in order)
    counts_out = found_counts[order] if len(order) else np.zeros(0)
    null_count = released.null_count
    has_null = spec.nullable and (null_count >= slot_bar * sd if ledger.is_dp else n_null > 0)
    # Undiscovered rows: DP row count minus everything released (post-processing).
    if ledger.is_dp and n_rows_estimate is not None:
        other = float(n_rows_estimate - counts_out.sum() - null_count)
        std = float(np.hypot((rows_sigma or sigma) * ledger.sensitivity, sd * np.sqrt(len(categories) + 1)))
        other = other if other >= slot_bar * std else 0.0
    else:
        other = 0.0 if ledger.is_dp else float(key_counts.sum() - counts_out.sum())
    collapsed = other > 0
    coded = bool(categories) and all(_is_number(c) for c in categories)
    has_other = not categories or (collapsed and not coded)
    slot_cells: list[float] = [*counts_out, *([other] if has_other else []), *([null_count] if has_null else [])]
    marginal = _normalise(np.asarray(slot_cells, dtype=float))
    total = float(np.clip(np.asarray(slot_cells, dtype=float), 0, None).sum())
    placeholder = not categories or (total > 0 and other / total <= MAX_PLACEHOLDER_SHARE)
    return CategoricalEncoder(
        name=spec.name,
        kind=spec.kind,
        categories=categories,
        has_other=bool(has_other),
        nullable=bool(has_null),
        marginal=marginal,
        discovered=True,
        placeholder=bool(placeholder),
        collapsed=collapsed or not categories,
    )
