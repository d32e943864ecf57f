"""Fidelity: does the synthetic table look and behave like the real one?

* ``fidelity.quality``: the sdmetrics ``QualityReport`` overall score (column shapes and
  column-pair trends). sdmetrics objects never leave this module.
* ``fidelity.tstr_auc`` / ``fidelity.trtr_auc``: a gradient-boosting classifier trained on
  synthetic (resp. real training) rows, scored on the real holdout.
* ``fidelity.detection_auc``: how well a classifier tells real rows from synthetic ones.

The baseline of each metric is what the real holdout gets in place of the synthetic table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from ._data import AuditData, Kind, Role
from ._stats import delong_auc, percentile_ci, poisson_weights, pr_summary
from ._util import MetricUnavailable, captured_warnings, seed_from
from .config import AuditConfig
from .results import Direction, MetricResult

__all__ = ["QUALITY", "TRTR", "TSTR", "DETECTION", "detection_auc", "quality", "utility"]

QUALITY = "fidelity.quality"
TSTR = "fidelity.tstr_auc"
TRTR = "fidelity.trtr_auc"
DETECTION = "fidelity.detection_auc"

_MAX_HGB_CATEGORIES = 255  # HistGradientBoosting's limit for native categorical features
_MAX_TARGET_CLASSES = 20


# ---- sdmetrics quality -------------------------------------------------------------------
def _sdmetrics_metadata(data: AuditData) -> dict[str, Any]:
    """sdmetrics column types: numbers with more than 10 distinct training values are numerical."""
    columns: dict[str, dict[str, str]] = {}
    for name, kind in data.kinds.items():
        numerical = kind is Kind.NUMERIC and data.train[name].nunique() > 10
        columns[name] = {"sdtype": "numerical" if numerical else "categorical"}
    return {"tables": {"table": {"columns": columns}}}


@dataclass(frozen=True, slots=True)
class _QualityRun:
    overall: float
    shapes: float
    pairs: float
    shape_details: list[dict[str, Any]]
    pair_details: list[dict[str, Any]]
    thresholds: tuple[float, float]


def _run_quality(
    real: pd.DataFrame, other: pd.DataFrame, metadata: dict[str, Any], *, thresholded: bool
) -> _QualityRun:
    from sdmetrics.reports import QualityReport  # heavy import, only when the metric runs

    report = QualityReport()
    if not thresholded:
        report.real_correlation_threshold = 0
        report.real_association_threshold = 0
    report.generate({"table": real}, {"table": other}, metadata, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    return _QualityRun(
        overall=float(report.get_score()),
        shapes=float(properties.get("Column Shapes", np.nan)),
        pairs=float(properties.get("Column Pair Trends", np.nan)),
        shape_details=[
            {"column": r["Column"], "metric": r["Metric"], "score": r["Score"]} for _, r in shapes.iterrows()
        ],
        pair_details=[_pair_row(r) for _, r in pairs.iterrows()],
        thresholds=(
            float(getattr(report, "real_correlation_threshold", 0.0)),
            float(getattr(report, "real_association_threshold", 0.0)),
        ),
    )


def _is_true(value: object) -> bool:
    return isinstance(value, (bool, np.bool_)) and bool(value)


def _merged_pairs(thresholded: _QualityRun, unthresholded: _QualityRun) -> list[dict[str, Any]]:
    """Scores of every pair (thresholds off), with the real association and the threshold flag of the default run."""
    flags = {(p["column_1"], p["column_2"]): p for p in thresholded.pair_details}
    merged = []
    for pair in unthresholded.pair_details:
        default = flags.get((pair["column_1"], pair["column_2"]), {})
        merged.append(
            {
                **pair,
                "real_association": default.get("real_association"),
                "meets_threshold": bool(default.get("meets_threshold", False)),
            }
        )
    return merged


def _pair_row(row: pd.Series) -> dict[str, Any]:
    return {
        "column_1": row["Column 1"],
        "column_2": row["Column 2"],
        "metric": row["Metric"],
        "score": row.get("Score"),
        "real_correlation": row.get("Real Correlation"),
        "synthetic_correlation": row.get("Synthetic Correlation"),
        "real_association": row.get("Real Association"),
        "meets_threshold": _is_true(row.get("Meets Threshold?")),
    }


def quality(data: AuditData) -> MetricResult:
    """The sdmetrics QualityReport overall score of the synthetic table against the training rows.

    The value uses sdmetrics' default pair thresholds (in 0.32: a numeric pair counts only if
    its real Pearson |r| > 0.5, any other pair only if its real Cramer's V > 0.3); the score
    over *all* pairs (thresholds off, as in sdmetrics < 0.2x) is in ``details["all_pairs"]``.
    The baseline is the same score for the real holdout.
    """
    import sdmetrics

    sink: list[str] = []
    metadata = _sdmetrics_metadata(data)
    with captured_warnings(sink):
        synth = _run_quality(data.train, data.synthetic, metadata, thresholded=True)
        synth_all = _run_quality(data.train, data.synthetic, metadata, thresholded=False)
        base = _run_quality(data.train, data.holdout, metadata, thresholded=True)
        base_all = _run_quality(data.train, data.holdout, metadata, thresholded=False)
    scored = [p for p in synth.pair_details if p["meets_threshold"]]
    details: dict[str, Any] = {
        "sdmetrics_version": sdmetrics.__version__,
        "real_correlation_threshold": synth.thresholds[0],
        "real_association_threshold": synth.thresholds[1],
        "threshold_rule": (
            "numeric pairs (CorrelationSimilarity, Pearson) count only if |real correlation| > "
            f"{synth.thresholds[0]}; other pairs (ContingencySimilarity, numbers in 10 bins) only if "
            f"real Cramer's V > {synth.thresholds[1]}; overall = mean(column shapes, pair trends)"
        ),
        "column_shapes": synth.shapes,
        "column_pair_trends": synth.pairs,
        "n_pairs": len(synth.pair_details),
        "n_pairs_scored": len(scored),
        "all_pairs": {"overall": synth_all.overall, "column_pair_trends": synth_all.pairs},
        "baseline_properties": {"column_shapes": base.shapes, "column_pair_trends": base.pairs},
        "baseline_all_pairs": {"overall": base_all.overall, "column_pair_trends": base_all.pairs},
        "columns": synth.shape_details,
        "pairs": _merged_pairs(synth, synth_all),
        "pairs_meeting_threshold": [(p["column_1"], p["column_2"]) for p in scored],
        "sdtypes": {c: v["sdtype"] for c, v in metadata["tables"]["table"]["columns"].items()},
        "warnings": sink,
    }
    if not np.isfinite(synth.pairs):
        details["note"] = "no column pair meets the thresholds: the overall score is the column-shapes score"
    return MetricResult(
        name=QUALITY, value=synth.overall, direction=Direction.HIGHER_IS_BETTER, baseline=base.overall, details=details
    )


# ---- features for the classifiers --------------------------------------------------------
def _features(data: AuditData, frame: pd.DataFrame, columns: tuple[str, ...]) -> NDArray[np.float64]:
    return data.matrix(frame, columns)


def _categorical_mask(data: AuditData, columns: tuple[str, ...]) -> NDArray[np.bool_]:
    return np.array(
        [data.kinds[c] is Kind.CATEGORICAL and len(data.vocab[c]) <= _MAX_HGB_CATEGORIES for c in columns], dtype=bool
    )


def _one_thread() -> threadpool_limits:
    """Run gradient boosting on one OpenMP thread.

    On a shared 2-core machine, OpenMP's spinning workers slow HistGradientBoosting down by
    two orders of magnitude when other processes hold the cores (measured: 37 s instead of
    0.12 s for 1,300 rows); one thread is fast enough for audit-sized tables.
    """
    return threadpool_limits(limits=1, user_api="openmp")


def _classifier(data: AuditData, columns: tuple[str, ...], seed: int) -> HistGradientBoostingClassifier:
    mask = _categorical_mask(data, columns)
    return HistGradientBoostingClassifier(categorical_features=mask if mask.any() else None, random_state=seed)


# ---- TSTR / TRTR ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Target:
    classes: tuple[str, ...]
    minority: str
    minority_share: float


def _target_info(data: AuditData) -> _Target | str:
    """The classes of the target in the training rows, or why no AUC can be computed."""
    y = data.train[data.target].dropna()
    counts = y.value_counts()
    if len(counts) < 2:
        return f"the target {data.target!r} has {len(counts)} class(es) in the training rows; AUC needs two or more"
    if len(counts) > _MAX_TARGET_CLASSES:
        return (
            f"the target {data.target!r} has {len(counts)} distinct values; an AUC needs a categorical target "
            f"with at most {_MAX_TARGET_CLASSES} classes"
        )
    classes = tuple(sorted(str(c) for c in counts.index))
    minority = str(counts.index[-1])
    return _Target(classes, minority, float(counts.iloc[-1] / counts.sum()))


def _labelled(
    data: AuditData, frame: pd.DataFrame, target: _Target
) -> tuple[NDArray[np.float64], NDArray[np.object_], int]:
    features = tuple(c for c in data.columns if c != data.target)
    y = frame[data.target]
    keep = y.isin(target.classes).to_numpy()
    return _features(data, frame.loc[keep], features), y[keep].to_numpy(dtype=object), int((~keep).sum())


def _aligned_proba(
    model: HistGradientBoostingClassifier, x: NDArray[np.float64], classes: tuple[str, ...]
) -> NDArray[np.float64]:
    proba = model.predict_proba(x)
    out = np.zeros((len(x), len(classes)))
    for j, cls in enumerate(model.classes_):
        out[:, classes.index(str(cls))] = proba[:, j]
    return out


def _auc_with_ci(
    y: NDArray[np.object_], proba: NDArray[np.float64], target: _Target, config: AuditConfig, rng: np.random.Generator
) -> tuple[float, tuple[float, float] | None]:
    if len(target.classes) == 2:
        positive = target.classes.index(target.minority)
        auc, lo, hi = delong_auc(y == target.minority, proba[:, positive], config.confidence_level)
        return auc, (lo, hi)
    present = [j for j, c in enumerate(target.classes) if 0 < (y == c).sum() < len(y)]
    auc = float(np.mean([delong_auc(y == target.classes[j], proba[:, j], 0.95)[0] for j in present]))
    draws = []
    for _ in range(min(config.n_bootstrap, 100)):
        idx = rng.integers(0, len(y), len(y))
        per = [delong_auc(y[idx] == target.classes[j], proba[idx, j], 0.95)[0] for j in present]
        draws.append(np.nanmean(per) if per else np.nan)
    return auc, percentile_ci(np.asarray(draws, dtype=np.float64), config.confidence_level)


def _minority_details(
    y: NDArray[np.object_], proba: NDArray[np.float64], target: _Target, config: AuditConfig, rng: np.random.Generator
) -> dict[str, Any]:
    is_minority = y == target.minority
    score = proba[:, target.classes.index(target.minority)]
    ap, recall = pr_summary(is_minority, score, min_precision=config.min_precision)
    weights = poisson_weights(len(y), config.n_bootstrap, rng)
    ap_draws, recall_draws = pr_summary(is_minority, score, min_precision=config.min_precision, weights=weights)
    return {
        "minority_class": target.minority,
        "minority_share_train": target.minority_share,
        "imbalanced": target.minority_share < config.imbalance_threshold,
        "pr_auc": float(ap[0]),
        "pr_auc_ci": percentile_ci(ap_draws, config.confidence_level),
        "pr_auc_chance": float(is_minority.mean()),
        "min_precision": config.min_precision,
        "minority_recall_at_precision": float(recall[0]),
        "minority_recall_at_precision_ci": percentile_ci(recall_draws, config.confidence_level),
    }


@dataclass(frozen=True, slots=True)
class _Scored:
    auc: float
    ci: tuple[float, float] | None
    details: dict[str, Any]


def _fit_and_score(
    data: AuditData, source: Role, target: _Target, config: AuditConfig, rng: np.random.Generator
) -> _Scored:
    """Train on ``source`` rows, score on the holdout.

    Raises:
        MetricUnavailable: either side holds fewer than two classes of the target.
    """
    x_train, y_train, dropped = _labelled(data, data.table(source), target)
    x_test, y_test, dropped_test = _labelled(data, data.holdout, target)
    if len(set(y_train)) < 2:
        raise MetricUnavailable(
            f"the {source.value} rows hold {len(set(y_train))} class(es) of the target {data.target!r}; "
            "a classifier needs two"
        )
    if len(set(y_test)) < 2:
        raise MetricUnavailable(f"the holdout holds {len(set(y_test))} class(es) of the target; an AUC needs two")
    features = tuple(c for c in data.columns if c != data.target)
    sink: list[str] = []
    with captured_warnings(sink), _one_thread():
        model = _classifier(data, features, seed_from(rng)).fit(x_train, y_train)
        proba = _aligned_proba(model, x_test, target.classes)
    auc, ci = _auc_with_ci(y_test, proba, target, config, rng)
    details = {
        "model": "sklearn HistGradientBoostingClassifier (defaults, native categorical features)",
        "trained_on": source.value,
        "n_train_rows": len(y_train),
        "n_holdout_rows": len(y_test),
        "rows_dropped_unknown_target": dropped,
        "holdout_rows_dropped_unknown_target": dropped_test,
        "classes": list(target.classes),
        "average": "binary" if len(target.classes) == 2 else "macro one-vs-rest",
        **_minority_details(y_test, proba, target, config, rng),
        "warnings": sink,
    }
    return _Scored(auc, ci, details)


def _scored_result(name: str, compute: Callable[[], _Scored], baseline: float | None, note: str | None) -> MetricResult:
    try:
        scored = compute()
    except MetricUnavailable as reason:
        return MetricResult.unknown(name, Direction.HIGHER_IS_BETTER, str(reason), baseline=baseline)
    details = scored.details if note is None else {**scored.details, "note": note}
    return MetricResult(
        name=name,
        value=scored.auc,
        ci=scored.ci,
        baseline=baseline,
        direction=Direction.HIGHER_IS_BETTER,
        details=details,
    )


def utility(data: AuditData, config: AuditConfig, rng: np.random.Generator) -> tuple[MetricResult, MetricResult]:
    """``fidelity.tstr_auc`` and ``fidelity.trtr_auc`` (train on synthetic/real, test on holdout).

    ROC AUC for the target (the minority class is the positive class of a binary target;
    macro one-vs-rest for more classes), with a DeLong interval (bootstrap for multiclass).
    Details add the minority class's PR AUC and its recall at precision >= ``min_precision``.
    The baseline of TSTR is TRTR, its ceiling.
    """
    target = _target_info(data)
    if isinstance(target, str):
        return (
            MetricResult.unknown(TSTR, Direction.HIGHER_IS_BETTER, target),
            MetricResult.unknown(TRTR, Direction.HIGHER_IS_BETTER, target),
        )
    trtr = _scored_result(
        TRTR, lambda: _fit_and_score(data, Role.TRAIN, target, config, rng), None, "the ceiling for fidelity.tstr_auc"
    )
    tstr = _scored_result(TSTR, lambda: _fit_and_score(data, Role.SYNTHETIC, target, config, rng), trtr.value, None)
    return tstr, trtr


# ---- detection ---------------------------------------------------------------------------
def _detection(
    data: AuditData, other: Role, config: AuditConfig, rng: np.random.Generator
) -> tuple[float, float, float, int, list[str]]:
    other_frame = data.table(other)
    n = min(len(data.train), len(other_frame), config.detection_rows)
    real_rows = data.train.iloc[rng.choice(len(data.train), n, replace=False)]
    other_rows = other_frame.iloc[rng.choice(len(other_frame), n, replace=False)]
    x = _features(data, pd.concat([real_rows, other_rows], ignore_index=True), data.columns)
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    folds = min(config.detection_folds, n)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed_from(rng))
    sink: list[str] = []
    with captured_warnings(sink), _one_thread():
        proba = cross_val_predict(_classifier(data, data.columns, seed_from(rng)), x, y, cv=cv, method="predict_proba")
    auc, lo, hi = delong_auc(y == 1, proba[:, 1], config.confidence_level)
    return auc, lo, hi, n, sink


def fold_auc(auc: float, lo: float, hi: float) -> tuple[float, tuple[float, float]]:
    """``max(AUC, 1 - AUC)`` and its interval: telling apart is symmetric.

    A cross-validated classifier scores far *below* 0.5 when the synthetic rows are twins
    of training rows (a row's twin sits in the other class of the training folds), which
    is as detectable as an AUC far above 0.5.
    """
    folded = max(auc, 1.0 - auc)
    ends = (max(lo, 1.0 - lo), max(hi, 1.0 - hi))
    lower = 0.5 if lo <= 0.5 <= hi else min(ends)
    return folded, (lower, max(ends))


def detection_auc(data: AuditData, config: AuditConfig, rng: np.random.Generator) -> MetricResult:
    """Out-of-fold ROC AUC of a classifier separating training rows from synthetic rows.

    0.5 means indistinguishable; the value is folded (``max(AUC, 1 - AUC)``, see
    :func:`fold_auc`), the raw AUC is in the details. The baseline is the same classifier
    separating training rows from holdout rows (about 0.5 for any real sample).
    """
    if min(len(data.train), len(data.synthetic), len(data.holdout)) < 2 * config.detection_folds:
        raise MetricUnavailable(f"too few rows for {config.detection_folds}-fold cross-validated detection")
    auc, lo, hi, n, sink = _detection(data, Role.SYNTHETIC, config, rng)
    b_auc, b_lo, b_hi, b_n, b_sink = _detection(data, Role.HOLDOUT, config, rng)
    value, ci = fold_auc(auc, lo, hi)
    baseline, baseline_ci = fold_auc(b_auc, b_lo, b_hi)
    details = {
        "model": "sklearn HistGradientBoostingClassifier, out-of-fold predictions",
        "folds": config.detection_folds,
        "n_rows_per_side": n,
        "raw_auc": auc,
        "raw_auc_ci": [lo, hi],
        "baseline_ci": list(baseline_ci),
        "baseline_raw_auc": b_auc,
        "baseline_n_rows_per_side": b_n,
        "ideal": 0.5,
        "warnings": sink + [w for w in b_sink if w not in sink],
    }
    return MetricResult(
        name=DETECTION, value=value, ci=ci, baseline=baseline, direction=Direction.LOWER_IS_BETTER, details=details
    )
