"""Confidence intervals and curve statistics used by the audit (no tabsynth imports)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]


def z_value(confidence_level: float) -> float:
    """The two-sided normal quantile, e.g. 1.96 for 0.95."""
    return float(stats.norm.ppf(0.5 * (1.0 + confidence_level)))


@dataclass(frozen=True, slots=True)
class Rate:
    """A Wilson-score estimate of a success rate: ``center`` +- ``error``."""

    n_total: int
    n_success: float
    center: float
    error: float

    @property
    def mle(self) -> float:
        """The plain ratio ``n_success / n_total``."""
        return self.n_success / self.n_total if self.n_total else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        """The Wilson interval, clipped to [0, 1]."""
        return (max(0.0, self.center - self.error), min(1.0, self.center + self.error))


def wilson(n_success: float, n_total: int, confidence_level: float) -> Rate:
    """Wilson score estimate of a binomial rate (Wilson 1927).

    The centre ``(k + z^2/2) / (n + z^2)`` is the estimate anonymeter reports as the
    attack's success rate; ``error`` is the interval half-width.
    """
    if n_total <= 0:
        return Rate(0, 0.0, math.nan, math.nan)
    z = z_value(confidence_level)
    z2 = z * z
    denominator = n_total + z2
    center = (n_success + 0.5 * z2) / denominator
    spread = n_success * (n_total - n_success) / n_total + 0.25 * z2
    error = (z / denominator) * math.sqrt(max(spread, 0.0))
    return Rate(n_total, float(n_success), center, error)


def residual_risk(attack: Rate, control: Rate) -> tuple[float, float]:
    """Excess of attack success over control success, normalised: ``(a - c) / (1 - c)``.

    Returns:
        ``(risk, error)``: the unclipped risk and its error, propagated to first order
        from the two Wilson half-widths (the Giomi et al. 2022 definition).
    """
    a, c = attack.center, control.center
    if not c < 1.0:
        return (math.nan, math.nan)
    risk = (a - c) / (1.0 - c)
    d_attack = 1.0 / (1.0 - c)
    d_control = (a - 1.0) / (1.0 - c) ** 2
    error = math.sqrt((attack.error * d_attack) ** 2 + (control.error * d_control) ** 2)
    return (risk, error)


def clopper_pearson(k: float, n: int, alpha: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds ``(lower, upper)``, each holding with prob. ``1 - alpha``."""
    if n <= 0:
        return (0.0, 1.0)
    k = float(np.clip(k, 0, n))
    lower = 0.0 if k <= 0 else float(stats.beta.ppf(alpha, k, n - k + 1))
    upper = 1.0 if k >= n else float(stats.beta.ppf(1.0 - alpha, k + 1, n - k))
    return (lower, upper)


def clopper_pearson_ci(k: float, n: int, confidence_level: float) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval at ``confidence_level``."""
    return clopper_pearson(k, n, 0.5 * (1.0 - confidence_level))


def delong_auc(y_true: NDArray[np.bool_], score: FloatArray, confidence_level: float) -> tuple[float, float, float]:
    """ROC AUC of ``score`` for ``y_true`` with DeLong's variance (fast midrank form, Sun & Xu 2014).

    Ties count one half. Returns ``(auc, lower, upper)``, the interval clipped to [0, 1].
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = s[y], s[~y]
    m, n = len(pos), len(neg)
    if m < 1 or n < 1:
        return (math.nan, math.nan, math.nan)
    rank_pos = stats.rankdata(pos)
    rank_neg = stats.rankdata(neg)
    rank_all = stats.rankdata(np.concatenate([pos, neg]))
    auc = float((rank_all[:m].sum() - m * (m + 1) / 2.0) / (m * n))
    v_pos = (rank_all[:m] - rank_pos) / n
    v_neg = 1.0 - (rank_all[m:] - rank_neg) / m
    var_pos = float(np.var(v_pos, ddof=1)) if m > 1 else 0.0
    var_neg = float(np.var(v_neg, ddof=1)) if n > 1 else 0.0
    half = z_value(confidence_level) * math.sqrt(max(var_pos / m + var_neg / n, 0.0))
    return (auc, max(0.0, auc - half), min(1.0, auc + half))


def tpr_at_fpr(y_true: NDArray[np.bool_], score: FloatArray, fpr: float) -> tuple[int, int, int, int]:
    """Counts at the most permissive threshold whose false-positive rate is at most ``fpr``.

    The decision is ``score > threshold`` with the threshold taken from the negatives'
    scores, so ties at the threshold are never counted as positives.

    Returns:
        ``(true_positives, n_positives, false_positives, n_negatives)``.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = s[y], s[~y]
    allowed = int(math.floor(fpr * len(neg) + 1e-9))
    ordered = np.sort(neg)[::-1]
    threshold = ordered[allowed] if allowed < len(ordered) else -np.inf
    return (int((pos > threshold).sum()), len(pos), int((neg > threshold).sum()), len(neg))


def epsilon_from_rates(tpr_lower: float, fpr_upper: float, delta: float) -> float:
    """The epsilon an (epsilon, delta)-DP mechanism needs to allow these attack rates.

    Uses both hypothesis-testing inequalities of DP: ``TPR <= e^eps FPR + delta`` and
    ``1 - FPR <= e^eps (1 - TPR) + delta`` (Kairouz et al. 2015), evaluated at a lower bound
    on TPR and an upper bound on FPR. Never negative.
    """
    candidates = [0.0]
    if tpr_lower - delta > 0 and fpr_upper > 0:
        candidates.append(math.log((tpr_lower - delta) / fpr_upper))
    tnr_lower, fnr_upper = 1.0 - fpr_upper, 1.0 - tpr_lower
    if tnr_lower - delta > 0 and fnr_upper > 0:
        candidates.append(math.log((tnr_lower - delta) / fnr_upper))
    return max(candidates)


def _sorted_counts(y: NDArray[np.bool_], score: FloatArray, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Cumulative (weighted) true and false positives at each distinct threshold, high to low.

    ``weights`` has shape (n_resamples, n); the outputs have shape (n_resamples, n_thresholds).
    """
    order = np.argsort(-score, kind="mergesort")
    s, yy, w = score[order], y[order], weights[:, order]
    tp = np.cumsum(w * yy, axis=1)
    fp = np.cumsum(w * ~yy, axis=1)
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    return tp[:, last_of_tie], fp[:, last_of_tie]


def pr_summary(
    y_true: NDArray[np.bool_], score: FloatArray, *, min_precision: float, weights: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Average precision and the best recall at ``precision >= min_precision``.

    Average precision is ``sum_k (R_k - R_{k-1}) P_k`` over distinct thresholds, the
    definition of ``sklearn.metrics.average_precision_score``. With ``weights`` of shape
    (B, n) (bootstrap weights) it returns B values of each; else one.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    w = np.ones((1, len(s))) if weights is None else weights
    tp, fp = _sorted_counts(y, s, w)
    total_pos = tp[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        recall = np.where(total_pos > 0, tp / total_pos, np.nan)
    recall_prev = np.concatenate([np.zeros((len(w), 1)), recall[:, :-1]], axis=1)
    average_precision = np.sum((recall - recall_prev) * precision, axis=1)
    eligible = np.where(precision >= min_precision, recall, 0.0)
    return average_precision, eligible.max(axis=1)


def percentile_ci(values: FloatArray, confidence_level: float) -> tuple[float, float] | None:
    """The percentile bootstrap interval of ``values`` (``None`` if too few finite values)."""
    finite = values[np.isfinite(values)]
    if len(finite) < 10:
        return None
    alpha = 1.0 - confidence_level
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def poisson_weights(n: int, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Poisson(1) bootstrap weights, shape (n_resamples, n)."""
    return rng.poisson(1.0, size=(n_resamples, n)).astype(np.float64)
