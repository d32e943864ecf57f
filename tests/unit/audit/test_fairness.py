"""Fairness metrics: hand-computed values on tiny frames, and agreement with fairlearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from tabsynth.audit import AuditConfig
from tabsynth.audit._data import prepare
from tabsynth.audit.fairness import _dp_gap, _eo_gap, fairness

CONFIG = AuditConfig(min_holdout_rows=2, fairness_min_group_rows=5, fairness_intersections=False)


def _frame(groups: dict[str, tuple[int, int]], seed: int = 0) -> pd.DataFrame:
    """``{group: (rows, positives)}`` -> rows with a group column, a label and a noise feature."""
    rows = []
    for group, (n, positives) in groups.items():
        rows += [{"sex": group, "label": "yes" if i < positives else "no"} for i in range(n)]
    frame = pd.DataFrame(rows)
    frame["x"] = np.random.default_rng(seed).normal(size=len(frame))
    return frame


def _metrics(real: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame, config: AuditConfig = CONFIG) -> dict:
    data = prepare(real, synth, holdout=holdout, target="label", sensitive=["sex"], schema=None, config=config)
    return {m.name: m for m in fairness(data, config, np.random.default_rng(0))}


def test_representation_and_label_rate_gap_by_hand() -> None:
    real = _frame({"A": (60, 30), "B": (40, 10)})  # rates 0.5 and 0.25; positives ("yes") are the minority
    synth = _frame({"A": (80, 40), "B": (20, 0)})  # B's share halves (0.4 -> 0.2) and its label is erased
    out = _metrics(real, synth, real)
    rep = out["fairness.representation"]
    assert rep.value == pytest.approx(0.5)  # ratio 0.2 / 0.4 (A: 0.8 / 0.6, folded 0.75)
    assert rep.details["worst_group"]["group"] == "B"
    assert rep.ci[0] <= rep.value <= rep.ci[1]
    gap = out["fairness.label_rate_gap"]
    assert gap.value == pytest.approx(0.25)  # B: 0.0 - 0.25; A: 0.5 - 0.5
    assert gap.details["worst_group"] == {"attribute": "sex", "group": "B", "gap": pytest.approx(-0.25)}
    assert gap.details["label_parity_difference"]["sex"] == {
        "real_parity_difference": pytest.approx(0.25),
        "synthetic_parity_difference": pytest.approx(0.5),
    }
    assert gap.ci[0] <= gap.value <= gap.ci[1]


def test_identical_tables_are_perfectly_fair() -> None:
    real = _frame({"A": (60, 30), "B": (40, 10)})
    out = _metrics(real, real.copy(), real)
    assert out["fairness.representation"].value == pytest.approx(1.0)
    assert out["fairness.label_rate_gap"].value == pytest.approx(0.0)
    assert out["fairness.downstream_dp_gap"].value == pytest.approx(0.0, abs=1e-12)


def test_small_groups_are_reported_not_scored() -> None:
    real = _frame({"A": (60, 30), "B": (40, 10), "C": (3, 0)})
    synth = _frame({"A": (60, 30), "B": (40, 10), "C": (30, 30)})  # C exploded, but it is too small to judge
    rep = _metrics(real, synth, real)["fairness.representation"]
    small = {g["group"]: g for g in rep.details["groups"]}
    assert small["C"]["small"] and small["C"]["ratio"] is None
    assert rep.value == pytest.approx(103 / 130)  # A and B lose share to C: (60/130) / (60/103)


def test_intersections_are_audited() -> None:
    real = _frame({"A": (60, 30), "B": (40, 10)})
    real["race"] = np.where(np.arange(len(real)) % 2 == 0, "p", "q")
    config = AuditConfig(min_holdout_rows=2, fairness_min_group_rows=5)
    data = prepare(real, real, holdout=real, target="label", sensitive=["sex", "race"], schema=None, config=config)
    rep = next(m for m in fairness(data, config, np.random.default_rng(0)) if m.name == "fairness.representation")
    assert {g["attribute"] for g in rep.details["groups"]} == {"sex", "race", "sex & race"}
    assert "sex=A & race=p" in {g["group"] for g in rep.details["groups"]}


def test_no_sensitive_attribute_is_not_applicable() -> None:
    real = _frame({"A": (60, 30), "B": (40, 10)})
    data = prepare(real, real, holdout=real, target="label", sensitive=[], schema=None, config=CONFIG)
    for metric in fairness(data, CONFIG, np.random.default_rng(0)):
        assert not metric.is_ok and metric.details["not_applicable"]


def test_unknown_positive_label_is_a_clear_unknown() -> None:
    real = _frame({"A": (60, 30), "B": (40, 10)})
    config = AuditConfig(min_holdout_rows=2, fairness_min_group_rows=5, positive_label="maybe")
    out = _metrics(real, real, real, config)
    assert "positive_label 'maybe' is not a class" in out["fairness.representation"].reason


@pytest.mark.parametrize("seed", range(5))
def test_numpy_parity_gaps_match_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    codes = rng.integers(0, 3, n)
    truth = rng.random(n) < 0.3 + 0.1 * codes
    pred = rng.random(n) < 0.2 + 0.2 * codes
    ones = np.ones((1, n))
    labels = codes.astype(str)
    assert _dp_gap(pred, truth, codes, ones)[0] == pytest.approx(
        demographic_parity_difference(truth, pred, sensitive_features=labels)
    )
    assert _eo_gap(pred, truth, codes, ones)[0] == pytest.approx(
        equalized_odds_difference(truth, pred, sensitive_features=labels)
    )


def test_a_model_trained_on_biased_synthetic_rows_is_less_fair() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    sex = rng.choice(["A", "B"], n)
    x = rng.normal(size=n)
    label = np.where(x + rng.normal(scale=0.5, size=n) > 0.8, "yes", "no")
    real = pd.DataFrame({"sex": sex, "x": x, "label": label})
    biased = real.copy()
    biased.loc[biased.sex == "B", "label"] = "no"  # B never gets the positive label
    out = _metrics(real.iloc[:1000], biased.iloc[:1000], real.iloc[1000:])
    assert out["fairness.downstream_dp_gap"].value > 0.1
    assert out["fairness.downstream_eo_gap"].ci[0] > 0.3
    assert out["fairness.label_rate_gap"].ci[0] > 0.1


def test_a_rare_positive_class_leaves_demographic_parity_computable() -> None:
    # two big groups, but only 2 positives each: equalized odds needs min_rows / 2 of each class per group
    real = _frame({"A": (60, 2), "B": (60, 2)})
    out = _metrics(real, real, real, AuditConfig(min_holdout_rows=2, fairness_min_group_rows=10))
    assert out["fairness.downstream_dp_gap"].is_ok, out["fairness.downstream_dp_gap"].reason
    eo = out["fairness.downstream_eo_gap"]
    assert not eo.is_ok and "of each target class" in (eo.reason or "")
    assert "2 of its rarer class" in (eo.reason or "")


def test_a_high_cardinality_column_keeps_its_top_groups_and_pools_the_rest() -> None:
    groups = {"A": (40, 20), "B": (30, 10)} | {f"s{i}": (3, 1) for i in range(12)}  # 12 tiny "states"
    real = _frame(groups)
    config = AuditConfig(min_holdout_rows=2, fairness_min_group_rows=10, fairness_intersections=False)
    rep = _metrics(real, real, real, config)["fairness.representation"]
    names = {row["group"] for row in rep.details["groups"]}
    assert names == {"A", "B", "(other groups)"}  # 36 pooled rows: a group big enough to judge
    pooled = next(row for row in rep.details["groups"] if row["group"] == "(other groups)")
    assert pooled["real_share"] == pytest.approx(36 / 106) and not pooled["small"]
    capped = AuditConfig(min_holdout_rows=2, fairness_min_group_rows=10, fairness_max_groups=1)
    names = {row["group"] for row in _metrics(real, real, real, capped)["fairness.representation"].details["groups"]}
    assert names == {"A", "(other groups)"}
