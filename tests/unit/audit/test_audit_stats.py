"""Statistics behind the audit's intervals, against hand-computed values and sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from tabsynth.audit._stats import (
    Rate,
    clopper_pearson,
    delong_auc,
    epsilon_from_rates,
    pr_summary,
    residual_risk,
    tpr_at_fpr,
    wilson,
)


def test_wilson_matches_the_textbook_interval_for_30_of_100() -> None:
    rate = wilson(30, 100, 0.95)
    # centre (k + z^2/2) / (n + z^2) and the Wilson half-width, worked by hand with z = 1.959964
    assert rate.center == pytest.approx(31.920729 / 103.841459, abs=1e-6)
    assert rate.ci == pytest.approx((0.2189, 0.3958), abs=1e-4)
    assert rate.mle == 0.3


def test_clopper_pearson_edges_have_closed_forms() -> None:
    assert clopper_pearson(0, 10, 0.05) == pytest.approx((0.0, 1 - 0.05 ** (1 / 10)))
    assert clopper_pearson(10, 10, 0.05) == pytest.approx((0.05 ** (1 / 10), 1.0))
    lo, hi = clopper_pearson(5, 10, 0.05)
    assert 0 < lo < 0.5 < hi < 1


def test_residual_risk_propagates_both_errors() -> None:
    attack = Rate(100, 50, 0.5, 0.1)
    control = Rate(100, 20, 0.2, 0.05)
    risk, error = residual_risk(attack, control)
    assert risk == pytest.approx(0.375)  # (0.5 - 0.2) / (1 - 0.2)
    assert error == pytest.approx(math.sqrt(0.125**2 + 0.0390625**2))  # 0.1 * 1.25 and 0.05 * 0.78125


def test_epsilon_from_rates_uses_both_dp_inequalities() -> None:
    assert epsilon_from_rates(0.5, 0.05, 0.0) == pytest.approx(math.log(10))
    assert epsilon_from_rates(0.5, 0.05, 0.1) == pytest.approx(math.log(8))
    assert epsilon_from_rates(0.98, 0.5, 0.0) == pytest.approx(math.log(0.5 / 0.02))  # 1 - FPR <= e^eps (1 - TPR)
    assert epsilon_from_rates(0.3, 0.3, 0.0) == 0.0


def test_delong_auc_counts_pairs_and_ties() -> None:
    auc, lo, hi = delong_auc(np.array([1, 1, 1, 0, 0], bool), np.array([0.9, 0.8, 0.4, 0.7, 0.3]), 0.95)
    assert auc == pytest.approx(5 / 6)
    assert lo <= auc <= hi
    assert delong_auc(np.array([1, 0], bool), np.array([1.0, 1.0]), 0.95)[0] == 0.5


def _delong_variance_by_pairs(y: np.ndarray, s: np.ndarray) -> float:
    """Direct O(m n) DeLong structural components, as an oracle for the midrank version."""
    pos, neg = s[y], s[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg))


def test_delong_matches_sklearn_auc_and_the_pairwise_variance() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    s = np.round(y * 0.8 + rng.normal(size=300), 1)  # rounding makes ties
    auc, lo, hi = delong_auc(y, s, 0.95)
    assert auc == pytest.approx(roc_auc_score(y, s))
    half = 1.959964 * math.sqrt(_delong_variance_by_pairs(y, s))
    assert (lo, hi) == pytest.approx((auc - half, auc + half), abs=1e-6)


def test_tpr_at_fpr_never_exceeds_the_false_positive_budget() -> None:
    negatives = np.arange(100, dtype=float)
    positives = np.array([50.5, 98.5, 99.5, 200.0])
    y = np.r_[np.ones(4, bool), np.zeros(100, bool)]
    tp, n_pos, fp, n_neg = tpr_at_fpr(y, np.r_[positives, negatives], 0.01)
    assert (tp, n_pos, fp, n_neg) == (3, 4, 1, 100)  # threshold 98: one negative (99) above it


def test_pr_summary_by_hand_and_against_sklearn() -> None:
    y = np.array([1, 1, 0, 1, 0], bool)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    ap, recall = pr_summary(y, s, min_precision=0.8)
    assert ap[0] == pytest.approx(1 / 3 + 1 / 3 + 0.75 / 3)
    assert recall[0] == pytest.approx(2 / 3)
    assert pr_summary(y, s, min_precision=0.75)[1][0] == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    y2 = rng.random(500) < 0.2
    s2 = np.round(y2 + rng.normal(size=500), 1)
    assert pr_summary(y2, s2, min_precision=0.5)[0][0] == pytest.approx(average_precision_score(y2, s2))
