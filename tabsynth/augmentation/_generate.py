"""Minority rows for augmentation: per-class DP-TVAE, oversampled candidates, a critic's filter.

Privacy (with ``epsilon`` set): the generator is a stratified DP-TVAE (one model per target
class, parallel composition). Everything after training is post-processing of DP outputs:

* the number of rows to generate comes from the model's DP estimates of the row count and of
  the minority's share (not from the exact counts), so the generated rows *and their number*
  are one DP release;
* the quality filter's critic is a classifier trained on DP synthetic rows of every class,
  never on real rows.

The target's class labels are declared public (taken from the data as a schema declaration,
the way ``examples/fraud_rebalance.py`` does): a label set such as ``No``/``Yes`` is not
private, and declaring it keeps DP category discovery from erasing a rare class.

Without DP (``epsilon=None``) counts are exact and the critic is trained on the real rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, DataError, PrivacyWarning
from ..schema import infer_schema
from ..synthesizers import Synthesizer
from ..synthesizers.stratified import MIN_CLASS_ROWS
from ..transform import CategoricalEncoder
from ._features import fit_classifier

__all__ = ["GeneratorSettings", "Generated", "generate_minority", "resolve_minority", "rows_to_add"]

#: Candidates drawn per row kept; the critic keeps the most minority-like share of them.
OVERSAMPLE = 5
#: Share of the candidates (ranked by the critic) the generated rows are drawn from.
KEEP = 0.2
_MAX_CANDIDATES = 200_000
_MAX_REFERENCE = 50_000


@dataclass(frozen=True, slots=True)
class GeneratorSettings:
    """How the minority rows are made (the defaults are the measured best, docs/augmentation.md)."""

    epsilon: float | None = 1.0
    delta: float = 1e-6
    seed: int | None = None
    epochs: int | None = None
    quality_filter: bool = True
    oversample: int = OVERSAMPLE
    keep: float = KEEP

    def check(self) -> None:
        if self.epsilon is not None and not (isinstance(self.epsilon, (int, float)) and self.epsilon > 0):
            raise ConfigError(f"epsilon must be a positive number or None (no DP), got {self.epsilon!r}.")
        if not isinstance(self.oversample, int) or self.oversample < 1:
            raise ConfigError(f"oversample must be a positive integer, got {self.oversample!r}.")
        if not (0 < self.keep <= 1) or self.keep * self.oversample < 1:
            raise ConfigError(
                f"keep must be in (0, 1] with keep * oversample >= 1 (enough candidates survive), "
                f"got keep={self.keep!r}, oversample={self.oversample!r}."
            )


@dataclass(slots=True)
class Generated:
    """Generated minority rows and how they were made."""

    rows: pd.DataFrame
    synthesizer: Synthesizer
    n_to_add: int
    counts_source: str  # "dp-estimates" or "exact"
    filter: dict[str, Any] = field(default_factory=dict)


def resolve_minority(frame: pd.DataFrame, target: str, minority: Any) -> Any:
    """The target value (as stored in ``frame``) that ``minority`` names; CLI strings match by text."""
    if target not in frame.columns:
        raise DataError(f"Target column {target!r} is not in the table; columns are {list(frame.columns)}.")
    values = frame[target].dropna().unique().tolist()
    if len(values) < 2:
        raise DataError(f"The target {target!r} has {len(values)} class(es); augmentation needs at least two.")
    for v in values:
        if v == minority or str(v) == str(minority):
            return v
    shown = ", ".join(repr(v) for v in sorted(values, key=str)[:10])
    raise DataError(f"{minority!r} is not a value of the target {target!r}; its values are {shown}.")


def rows_to_add(n_rows: float, n_minority: float, share: float) -> int:
    """Rows of the minority to add so that it makes up ``share`` of the table (0 if it already does)."""
    return max(0, math.ceil((share * n_rows - n_minority) / (1 - share) - 1e-9))


def _fit(frame: pd.DataFrame, target: str, settings: GeneratorSettings) -> Synthesizer:
    labels = sorted(frame[target].dropna().unique().tolist(), key=str)
    schema = infer_schema(frame, target=target).with_categories(target, labels)
    synth = Synthesizer(
        "dp-tvae",
        epsilon=settings.epsilon,
        delta=settings.delta,
        random_state=settings.seed,
        epochs=settings.epochs,
        stratify=True,
        filter=None,  # the critic below filters; the measured augmentation numbers are without marginals
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyWarning)  # augment() warns once, in its own words
        synth.fit(frame, schema)
    return synth


def _align(rows: pd.DataFrame, frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Generated rows with the real table's columns, labels and (where they fit) dtypes.

    The declared target categories are stored as text, so a numeric label comes back as "1": map
    it back to the real label, or the real and generated rows would hold two different classes.
    """
    out = rows[list(frame.columns)].copy()
    labels = {str(v): v for v in frame[target].dropna().unique().tolist()}
    out[target] = out[target].map(lambda v: labels.get(str(v), v))
    for c in frame.columns:
        if out[c].dtype != frame[c].dtype:
            try:
                out[c] = out[c].astype(frame[c].dtype)
            except (TypeError, ValueError):  # e.g. a generated gap in an integer column: keep floats
                pass
    return out.reset_index(drop=True)


def _dp_counts(synth: Synthesizer, target: str, minority: Any) -> tuple[float, float]:
    enc = synth.transformer_.encoder(target)
    assert isinstance(enc, CategoricalEncoder)  # declared categorical in _fit
    n_rows = float(synth.transformer_.n_rows_estimate_)
    return n_rows, float(enc.marginal[enc.slot_of(minority)]) * n_rows


def _check_own_model(synth: Synthesizer, target: str, minority: Any) -> None:
    """Refuse when the minority got no model of its own (too few rows by its DP estimate).

    Its rows would come from the largest class's model with the minority's label written on
    them: majority-like rows labelled as the minority, the worst rows to add.
    """
    trained = getattr(getattr(synth.generator_, "config", None), "trained", None)
    enc = synth.transformer_.encoder(target)
    assert isinstance(enc, CategoricalEncoder)
    if trained is not None and enc.slot_of(minority) not in trained:
        raise DataError(
            f"The minority {minority!r} has too few rows for a generator of its own (fewer than {MIN_CLASS_ROWS} by "
            "its DP estimate): generated rows would be copies of another class's rows. Add rows of that class, "
            "or raise epsilon."
        )


def _critic_reference(
    frame: pd.DataFrame,
    synth: Synthesizer,
    target: str,
    minority: Any,
    n_rows: float,
    n_minority: float,
    dp: bool,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The critic's training rows: the real rows without DP; DP synthetic rows of every class with it."""
    if not dp:
        return frame
    whole = _align(
        synth.sample(int(min(max(n_rows, 100), _MAX_REFERENCE)), random_state=int(rng.integers(2**62))), frame, target
    )
    others = whole[whole[target] != minority]
    n_min = int(min(max(4 * n_minority, 200), _MAX_REFERENCE))
    own = _align(
        synth.sample(n_min, conditions={target: minority}, random_state=int(rng.integers(2**62))), frame, target
    )
    return pd.concat([others, own], ignore_index=True)


def generate_minority(
    frame: pd.DataFrame, *, target: str, minority: Any, share: float, settings: GeneratorSettings
) -> Generated:
    """Fit the per-class generator on ``frame`` and return the minority rows to add (filtered)."""
    settings.check()
    if not (isinstance(share, (int, float)) and 0 < share < 1):
        raise ConfigError(f"share must be in (0, 1), got {share!r}.")
    dp = settings.epsilon is not None
    synth = _fit(frame, target, settings)
    if dp:
        n_rows, n_minority = _dp_counts(synth, target, minority)
    else:
        n_rows, n_minority = float(len(frame)), float((frame[target] == minority).sum())
    _check_own_model(synth, target, minority)
    n_add = rows_to_add(n_rows, n_minority, share)
    source = "dp-estimates" if dp else "exact"
    rng = np.random.default_rng(settings.seed)
    empty = frame.iloc[:0].copy()
    if n_add == 0:
        return Generated(empty, synth, 0, source, {"applied": False, "reason": "the minority already has the share"})
    if not settings.quality_filter:
        rows = synth.sample(n_add, conditions={target: minority}, random_state=int(rng.integers(2**62)))
        return Generated(_align(rows, frame, target), synth, n_add, source, {"applied": False, "reason": "turned off"})
    n_cand = int(min(settings.oversample * n_add, max(_MAX_CANDIDATES, n_add)))
    cand = synth.sample(n_cand, conditions={target: minority}, random_state=int(rng.integers(2**62)))
    cand = _align(cand, frame, target)
    reference = _critic_reference(frame, synth, target, minority, n_rows, n_minority, dp, rng)
    features = [c for c in frame.columns if c != target]
    is_min = (reference[target] == minority).to_numpy().astype(int)
    if len(np.unique(is_min)) < 2 or not features:
        rows = cand.iloc[rng.permutation(n_cand)[:n_add]]
        return Generated(rows, synth, n_add, source, {"applied": False, "reason": "no critic could be trained"})
    critic = fit_classifier(reference[features], is_min, kind="hgb", seed=0)
    score = critic.proba(cand[features])
    if not dp:  # a generated gap in a column the real rows never leave empty is unrealistic
        complete = [c for c in features if frame[c].notna().all()]
        score = np.where(cand[complete].isna().any(axis=1).to_numpy(), -1.0, score)
    n_keep = max(n_add, int(round(settings.keep * n_cand)))
    ranked = np.argsort(-score, kind="stable")
    kept = ranked[:n_keep]
    pick = rng.permutation(kept)[:n_add]
    info = {
        "applied": True,
        "critic": "gradient boosting trained on DP synthetic rows of every class (post-processing)"
        if dp
        else "gradient boosting trained on the real rows",
        "candidates": n_cand,
        "kept_share": round(n_keep / n_cand, 4),
        "rule": f"the {n_keep} candidates the critic finds most like the minority class; {n_add} drawn from them",
        "critic_score_kept_min": float(score[kept].min()),
        "critic_score_dropped_median": float(np.median(score[ranked[n_keep:]])) if n_keep < n_cand else None,
    }
    return Generated(cand.iloc[pick].reset_index(drop=True), synth, n_add, source, info)
