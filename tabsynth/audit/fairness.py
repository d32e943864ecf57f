"""Fairness of a synthetic table against the real one, per sensitive group (fairlearn).

Four metrics, each over every declared sensitive attribute and, with two or more, their
pairwise intersections ("sex & race"). Numbers are grouped in training quartiles. A group with
fewer than ``fairness_min_group_rows`` rows on either side is reported as ``small`` and left out
of the headline value (never silently dropped). The *positive label* is ``positive_label`` from
the config, else the training minority class (as in TSTR).

* ``fairness.representation``: each group's share of synthetic rows over its share of real
  rows. The value is the worst group's ``min(ratio, 1 / ratio)``, so the usual four-fifths
  band 0.8 <= ratio <= 1.25 reads as value >= 0.8 (higher is better).
* ``fairness.label_rate_gap``: per group, the positive-label rate in synthetic minus real rows
  (a fairlearn ``MetricFrame`` of ``selection_rate`` with the label as the prediction), with a
  parametric bootstrap interval. The value is the largest absolute gap: whether the generator
  amplified or erased a bias.
* ``fairness.downstream_dp_gap`` / ``fairness.downstream_eo_gap``: a classifier trained on
  synthetic rows and one trained on real rows are both scored on the real holdout; the value
  is the synthetic model's demographic-parity (equalized-odds) difference minus the real
  model's, maximised over attributes. Positive: training on synthetic data made the model
  less fair than training on the real data would have; the baseline is 0.

Intervals: each group's interval (delta method on the log share ratio for representation, a
parametric bootstrap of the two binomial rates for the label-rate gap), folded and combined like
the value (the worst group's ends); for the downstream gaps, a Poisson bootstrap of the holdout
rows with both models fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    selection_rate,
)
from numpy.typing import NDArray

from ._data import AuditData, Role
from ._groups import group_labels
from ._stats import percentile_ci, z_value
from ._util import MetricUnavailable, captured_warnings, seed_from
from .config import AuditConfig
from .fidelity import _aligned_proba, _classifier, _labelled, _one_thread, _target_info
from .results import Direction, MetricResult

__all__ = [
    "DOWNSTREAM_DP_GAP",
    "DOWNSTREAM_EO_GAP",
    "FAIRNESS_METRICS",
    "LABEL_RATE_GAP",
    "REPRESENTATION",
    "fairness",
]

REPRESENTATION = "fairness.representation"
LABEL_RATE_GAP = "fairness.label_rate_gap"
DOWNSTREAM_DP_GAP = "fairness.downstream_dp_gap"
DOWNSTREAM_EO_GAP = "fairness.downstream_eo_gap"

#: The fairness metrics and their directions, in report order.
FAIRNESS_METRICS: dict[str, Direction] = {
    REPRESENTATION: Direction.HIGHER_IS_BETTER,
    LABEL_RATE_GAP: Direction.LOWER_IS_BETTER,
    DOWNSTREAM_DP_GAP: Direction.LOWER_IS_BETTER,
    DOWNSTREAM_EO_GAP: Direction.LOWER_IS_BETTER,
}

_INTERSECTION = " & "
#: The group that pools the groups of an attribute beyond its largest ``fairness_max_groups``.
POOLED_LABEL = "(other groups)"


@dataclass(frozen=True, slots=True)
class _Attribute:
    """One sensitive attribute (or intersection) with the group label of every row of each table."""

    name: str
    labels: dict[Role, NDArray[np.object_]]


def _pooled(attr: _Attribute, config: AuditConfig) -> _Attribute:
    """Keep the largest groups (by training rows, at least the minimum); pool the rest into one group.

    A high-cardinality column (50 states) would otherwise have no group large enough to
    judge, or be judged on its tiniest group's noise. Pooling only when two or more groups
    would be merged keeps a single small group visible as itself.
    """
    values, counts = np.unique(attr.labels[Role.TRAIN].astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    kept = {str(values[i]) for i in order[: config.fairness_max_groups] if counts[i] >= config.fairness_min_group_rows}
    every = set().union(*(set(v.astype(str)) for v in attr.labels.values()))
    if len(every - kept) < 2:
        return attr
    labels = {
        role: np.where(np.isin(v.astype(str), sorted(kept)), v.astype(str), POOLED_LABEL).astype(object)
        for role, v in attr.labels.items()
    }
    return _Attribute(attr.name, labels)


def attributes(data: AuditData, config: AuditConfig) -> list[_Attribute]:
    """The sensitive attributes, then their pairwise intersections (small groups pooled, see :func:`_pooled`)."""
    single = [
        _pooled(_Attribute(col, {role: group_labels(data, data.table(role), col) for role in Role}), config)
        for col in data.sensitive
    ]
    out = list(single)
    if config.fairness_intersections:
        for a, b in combinations(single, 2):
            joined = {
                role: np.asarray(
                    [
                        f"{a.name}={x}{_INTERSECTION}{b.name}={y}"
                        for x, y in zip(a.labels[role], b.labels[role], strict=True)
                    ],
                    dtype=object,
                )
                for role in Role
            }
            out.append(_pooled(_Attribute(f"{a.name}{_INTERSECTION}{b.name}", joined), config))
    return out


def _positive_label(data: AuditData, config: AuditConfig) -> str:
    if config.positive_label is not None:
        classes = set(data.train[data.target].dropna())
        if config.positive_label not in classes:
            raise MetricUnavailable(
                f"positive_label {config.positive_label!r} is not a class of the target {data.target!r} "
                f"(classes: {sorted(map(str, classes))})"
            )
        return config.positive_label
    info = _target_info(data)
    if isinstance(info, str):
        raise MetricUnavailable(info)
    return info.minority


def _require_sensitive(data: AuditData) -> None:
    if not data.sensitive:
        raise MetricUnavailable("no sensitive attributes were declared (not applicable)")


def _unknown_all(reason: str) -> list[MetricResult]:
    details = {"not_applicable": True} if "not applicable" in reason else {}
    return [MetricResult.unknown(n, d, reason, details=details) for n, d in FAIRNESS_METRICS.items()]


# ---- representation ----------------------------------------------------------------------
def _parity(ratio: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ratio > 0, np.minimum(ratio, 1.0 / ratio), 0.0)


def representation(data: AuditData, attrs: Sequence[_Attribute], config: AuditConfig, z: float) -> MetricResult:
    """``fairness.representation``: the worst group's ``min(ratio, 1/ratio)`` of synthetic/real shares.

    The interval is simultaneous over groups: each group's log ratio +- z standard errors
    (delta method on two binomial shares), folded and minimised like the value.
    """
    rows: list[dict[str, Any]] = []
    folded: list[tuple[float, float, float]] = []  # (|log r|, lower, upper) per scored group
    for attr in attrs:
        real, synth = attr.labels[Role.TRAIN], attr.labels[Role.SYNTHETIC]
        n_real, n_syn = len(real), len(synth)
        for group in sorted(set(real) | set(synth), key=str):
            k_real, k_syn = int((real == group).sum()), int((synth == group).sum())
            p_real, p_syn = k_real / n_real, k_syn / n_syn
            small = min(k_real, p_real * n_syn) < config.fairness_min_group_rows
            ratio = p_syn / p_real if p_real > 0 else None
            rows.append(
                {
                    "attribute": attr.name,
                    "group": str(group),
                    "real_share": p_real,
                    "synthetic_share": p_syn,
                    "ratio": None if small else ratio,
                    "small": small,
                }
            )
            if small:
                continue
            if k_syn == 0:
                folded.append((math.inf, math.inf, math.inf))
                continue
            log_ratio = abs(math.log(p_syn / p_real))
            se = math.sqrt((1 - p_real) / k_real + (1 - p_syn) / k_syn)
            folded.append((log_ratio, max(log_ratio - z * se, 0.0), log_ratio + z * se))
            rows[-1]["ci"] = [math.exp(-(log_ratio + z * se)), math.exp(-max(log_ratio - z * se, 0.0))]
    if not folded:
        raise MetricUnavailable(f"every sensitive group has fewer than {config.fairness_min_group_rows} rows")
    worst = max(range(len(folded)), key=lambda i: folded[i][0])
    scored = [r for r in rows if not r["small"]]
    return MetricResult(
        name=REPRESENTATION,
        value=math.exp(-folded[worst][0]),
        ci=(math.exp(-max(f[2] for f in folded)), math.exp(-max(f[1] for f in folded))),
        baseline=1.0,
        direction=Direction.HIGHER_IS_BETTER,
        details={
            "groups": rows,
            "worst_group": {k: scored[worst][k] for k in ("attribute", "group", "ratio")},
            "reference_band": [0.8, 1.25],
            "min_group_rows": config.fairness_min_group_rows,
        },
    )


# ---- label rates -------------------------------------------------------------------------
def _rates(labels: NDArray[np.object_], positive: NDArray[np.bool_]) -> pd.Series:
    """Positive-label rate per group: a MetricFrame with the label as the prediction."""
    frame = MetricFrame(
        metrics=selection_rate, y_true=positive, y_pred=positive, sensitive_features=pd.Series(labels, name="group")
    )
    return frame.by_group


def _gap_interval(
    real: tuple[float, int], synthetic: tuple[float, int], config: AuditConfig, rng: np.random.Generator
) -> tuple[float, float]:
    """Parametric bootstrap interval of one group's signed rate gap (binomial resamples of both sides)."""
    (r, n_r), (s, n_s) = real, synthetic
    draws = rng.binomial(n_s, s, config.n_bootstrap) / n_s - rng.binomial(n_r, r, config.n_bootstrap) / n_r
    ci = percentile_ci(draws.astype(np.float64), config.confidence_level)
    gap = s - r
    return (min(ci[0], gap), max(ci[1], gap)) if ci is not None else (gap, gap)


def _fold(lo: float, hi: float) -> tuple[float, float]:
    """The interval of |gap| given one of the signed gap."""
    if lo >= 0:
        return lo, hi
    if hi <= 0:
        return -hi, -lo
    return 0.0, max(-lo, hi)


def label_rate_gap(
    data: AuditData, attrs: Sequence[_Attribute], positive_label: str, config: AuditConfig, rng: np.random.Generator
) -> MetricResult:
    """``fairness.label_rate_gap``: the largest |synthetic - real| positive-label rate over groups.

    Each group's gap has a parametric bootstrap interval (binomial resamples of both rates);
    the metric's interval folds those to |gap| and takes the worst group's ends, like the value.
    """
    pos_real = (data.train[data.target] == positive_label).to_numpy()
    pos_syn = (data.synthetic[data.target] == positive_label).to_numpy()
    rows: list[dict[str, Any]] = []
    folded: list[tuple[float, float, float]] = []
    parity: dict[str, dict[str, float]] = {}
    for attr in attrs:
        real, synth = attr.labels[Role.TRAIN], attr.labels[Role.SYNTHETIC]
        rate_real, rate_syn = _rates(real, pos_real), _rates(synth, pos_syn)
        kept: list[tuple[float, float]] = []
        for group in sorted(set(real) | set(synth), key=str):
            n_r, n_s = int((real == group).sum()), int((synth == group).sum())
            small = min(n_r, n_s) < config.fairness_min_group_rows
            r, s = float(rate_real.get(group, np.nan)), float(rate_syn.get(group, np.nan))
            row: dict[str, Any] = {"attribute": attr.name, "group": str(group), "small": small}
            if not small:
                lo, hi = _gap_interval((r, n_r), (s, n_s), config, rng)
                row.update(real_rate=r, synthetic_rate=s, gap=s - r, ci=[lo, hi])
                folded.append((abs(s - r), *_fold(lo, hi)))
                kept.append((r, s))
            rows.append(row)
        if kept:
            parity[attr.name] = {
                "real_parity_difference": max(k[0] for k in kept) - min(k[0] for k in kept),
                "synthetic_parity_difference": max(k[1] for k in kept) - min(k[1] for k in kept),
            }
    if not folded:
        raise MetricUnavailable(f"every sensitive group has fewer than {config.fairness_min_group_rows} rows")
    scored = [r for r in rows if not r["small"]]
    worst = max(range(len(folded)), key=lambda i: folded[i][0])
    return MetricResult(
        name=LABEL_RATE_GAP,
        value=folded[worst][0],
        ci=(max(f[1] for f in folded), max(f[2] for f in folded)),
        baseline=0.0,
        direction=Direction.LOWER_IS_BETTER,
        details={
            "positive_label": positive_label,
            "groups": rows,
            "worst_group": {k: scored[worst][k] for k in ("attribute", "group", "gap")},
            "label_parity_difference": parity,
            "min_group_rows": config.fairness_min_group_rows,
        },
    )


# ---- downstream parity -------------------------------------------------------------------
def _predictions(data: AuditData, source: Role, positive_label: str, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Predicted positives on the holdout of a classifier trained on ``source`` rows."""
    info = _target_info(data)
    if isinstance(info, str):
        raise MetricUnavailable(info)
    x_train, y_train, _ = _labelled(data, data.table(source), info)
    if len(set(y_train)) < 2:
        raise MetricUnavailable(f"the {source.value} rows hold one class of the target; a classifier needs two")
    features = tuple(c for c in data.columns if c != data.target)
    x_test = data.matrix(data.holdout, features)
    sink: list[str] = []
    with captured_warnings(sink), _one_thread():
        model = _classifier(data, features, seed_from(rng)).fit(x_train, y_train)
        proba = _aligned_proba(model, x_test, info.classes)
    others = [j for j, c in enumerate(info.classes) if c != positive_label]
    positive: NDArray[np.bool_] = proba[:, info.classes.index(positive_label)] > proba[:, others].max(axis=1)
    return positive


FloatArray = NDArray[np.float64]


def _dp_gap(
    pred: NDArray[np.bool_], truth: NDArray[np.bool_], codes: NDArray[np.int64], weights: FloatArray
) -> FloatArray:
    """Demographic-parity difference (max - min group selection rate), one per row of ``weights``.

    Row 0 of ``weights`` is all ones (the point estimate); the others are bootstrap resamples.
    """
    del truth  # demographic parity ignores the true labels
    rates = []
    for g in np.unique(codes):
        w = weights[:, codes == g]
        with np.errstate(divide="ignore", invalid="ignore"):
            rates.append((w * pred[codes == g]).sum(1) / w.sum(1))
    stacked = np.stack(rates, 1)
    return np.asarray(np.nanmax(stacked, 1) - np.nanmin(stacked, 1), dtype=np.float64)


def _eo_gap(
    pred: NDArray[np.bool_], truth: NDArray[np.bool_], codes: NDArray[np.int64], weights: FloatArray
) -> FloatArray:
    """Equalized-odds difference: the larger of the true- and false-positive-rate gaps."""
    tpr_gap = _dp_gap(pred[truth], truth[truth], codes[truth], weights[:, truth])
    fpr_gap = _dp_gap(pred[~truth], truth[~truth], codes[~truth], weights[:, ~truth])
    return np.maximum(tpr_gap, fpr_gap)


def _eligible(
    codes: NDArray[np.int64], truth: NDArray[np.bool_], n_groups: int, min_rows: int, per_class: bool
) -> NDArray[np.bool_]:
    """Groups large enough to score: ``min_rows`` rows, or ``min_rows // 2`` of each true class
    for equalized odds (whose rates are computed within each class)."""
    if not per_class:
        return np.bincount(codes, minlength=n_groups) >= min_rows
    positives = np.bincount(codes[truth], minlength=n_groups)
    negatives = np.bincount(codes[~truth], minlength=n_groups)
    return np.minimum(positives, negatives) >= max(min_rows // 2, 1)


def _fairlearn(metric: Any, truth: NDArray[np.bool_], pred: NDArray[np.bool_], labels: NDArray[np.object_]) -> float:
    """fairlearn's value of a parity metric (reported next to our bootstrap-ready numpy version)."""
    sink: list[str] = []
    with captured_warnings(sink):
        return float(metric(truth, pred, sensitive_features=pd.Series(labels.astype(str), name="group")))


def _too_small(name: str, attrs: Sequence[_Attribute], truth: NDArray[np.bool_], config: AuditConfig) -> str:
    """Why no attribute has two groups large enough, with the largest group's counts."""
    need = config.fairness_min_group_rows
    sizes = []
    for attr in attrs:
        labels = attr.labels[Role.HOLDOUT].astype(str)
        for group in np.unique(labels):
            in_group = labels == group
            sizes.append((int(in_group.sum()), int((in_group & truth).sum()), int((in_group & ~truth).sum())))
    second = sorted(sizes, reverse=True)[1] if len(sizes) > 1 else (sizes[0] if sizes else (0, 0, 0))
    if name == DOWNSTREAM_EO_GAP:
        half = max(need // 2, 1)
        per_class = sorted((min(p, n) for _, p, n in sizes), reverse=True)
        shown = per_class[1] if len(per_class) > 1 else (per_class[0] if per_class else 0)
        return (
            f"equalized odds needs two holdout groups with at least {half} rows of each target class "
            f"(fairness_min_group_rows / 2); the second-best group has {shown} of its rarer class"
        )
    return f"no sensitive attribute has two holdout groups of {need}+ rows (the second-largest group has {second[0]})"


def downstream_gaps(
    data: AuditData, attrs: Sequence[_Attribute], positive_label: str, config: AuditConfig, rng: np.random.Generator
) -> list[MetricResult]:
    """``fairness.downstream_dp_gap`` and ``fairness.downstream_eo_gap`` on the real holdout."""
    pred = {role: _predictions(data, role, positive_label, rng) for role in (Role.TRAIN, Role.SYNTHETIC)}
    truth = (data.holdout[data.target] == positive_label).to_numpy()
    n = len(truth)
    weights = np.vstack([np.ones(n), rng.poisson(1.0, (config.n_bootstrap, n)).astype(np.float64)])
    out = []
    for name, gap_of, fairlearn_gap in (
        (DOWNSTREAM_DP_GAP, _dp_gap, demographic_parity_difference),
        (DOWNSTREAM_EO_GAP, _eo_gap, equalized_odds_difference),
    ):
        per_attr: dict[str, dict[str, Any]] = {}
        excess: list[NDArray[np.float64]] = []
        for attr in attrs:
            labels = attr.labels[Role.HOLDOUT]
            groups, codes = np.unique(labels.astype(str), return_inverse=True)
            big = _eligible(codes, truth, len(groups), config.fairness_min_group_rows, name == DOWNSTREAM_EO_GAP)
            if big.sum() < 2:
                continue
            keep = big[codes]
            c, t, w = codes[keep], truth[keep], weights[:, keep]
            real_gap = gap_of(pred[Role.TRAIN][keep], t, c, w)
            syn_gap = gap_of(pred[Role.SYNTHETIC][keep], t, c, w)
            per_attr[attr.name] = {
                "real_model": _fairlearn(fairlearn_gap, t, pred[Role.TRAIN][keep], labels[keep]),
                "synthetic_model": _fairlearn(fairlearn_gap, t, pred[Role.SYNTHETIC][keep], labels[keep]),
                "gap": float(syn_gap[0] - real_gap[0]),
                "small_groups": [str(g) for g in groups[~big]],
            }
            excess.append(syn_gap - real_gap)
        if not excess:
            # each metric stands alone: a rare positive class can leave EO uncomputable while DP is fine
            out.append(MetricResult.unknown(name, FAIRNESS_METRICS[name], _too_small(name, attrs, truth, config)))
            continue
        worst = np.max(np.vstack(excess), axis=0)
        out.append(
            MetricResult(
                name=name,
                value=float(worst[0]),
                ci=percentile_ci(worst[1:], config.confidence_level),
                baseline=0.0,
                direction=Direction.LOWER_IS_BETTER,
                details={
                    "attributes": per_attr,
                    "positive_label": positive_label,
                    "evaluated_on": "holdout",
                    "model": "sklearn HistGradientBoostingClassifier (defaults), trained on real and on synthetic rows",
                    "min_group_rows": config.fairness_min_group_rows,
                },
            )
        )
    return out


def fairness(data: AuditData, config: AuditConfig, rng: np.random.Generator) -> list[MetricResult]:
    """Every fairness metric; unknown (with the reason) where one cannot be computed."""
    try:
        _require_sensitive(data)
        attrs = attributes(data, config)
        positive = _positive_label(data, config)
        z = z_value(config.confidence_level)
    except MetricUnavailable as reason:
        return _unknown_all(str(reason))
    results: list[MetricResult] = []
    steps: tuple[tuple[list[str], Callable[[], list[MetricResult]]], ...] = (
        ([REPRESENTATION], lambda: [representation(data, attrs, config, z)]),
        ([LABEL_RATE_GAP], lambda: [label_rate_gap(data, attrs, positive, config, rng)]),
        ([DOWNSTREAM_DP_GAP, DOWNSTREAM_EO_GAP], lambda: downstream_gaps(data, attrs, positive, config, rng)),
    )
    for names, compute in steps:
        try:
            results.extend(compute())
        except MetricUnavailable as reason:
            results.extend(MetricResult.unknown(n, FAIRNESS_METRICS[n], str(reason)) for n in names)
    return results
