"""The controls the issue requires: a real sample scores as "no leak", copies are caught.

* positive: a real sample the generator never saw, passed as synthetic (a fresh sample, and
  one half of the holdout with the other half as the holdout);
* negative: a copy of the training rows;
* a lightly perturbed copy (numbers jittered by 1% of their spread, 5% of cells replaced);
* shuffled columns (marginals kept, relations destroyed).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tabsynth.audit import AuditReport, run_audit

from .conftest import perturbed_copy, shuffled_columns


def _audit(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame) -> AuditReport:
    return run_audit(train, synthetic, holdout=holdout, target="label", sensitive=["group"], epsilon_claimed=1.0)


@pytest.fixture(scope="module")
def fresh_report(train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame) -> AuditReport:
    return _audit(train, fresh, holdout)


@pytest.fixture(scope="module")
def copy_report(train: pd.DataFrame, holdout: pd.DataFrame) -> AuditReport:
    return _audit(train, train.copy(), holdout)


@pytest.fixture(scope="module")
def perturbed_report(train: pd.DataFrame, holdout: pd.DataFrame) -> AuditReport:
    return _audit(train, perturbed_copy(train, seed=4), holdout)


@pytest.fixture(scope="module")
def shuffled_report(train: pd.DataFrame, holdout: pd.DataFrame) -> AuditReport:
    return _audit(train, shuffled_columns(train, seed=5), holdout)


def _contains(report: AuditReport, name: str, value: float) -> bool:
    ci = report[name].ci
    assert ci is not None, name
    return ci[0] <= value <= ci[1]


def test_every_metric_is_computed(fresh_report: AuditReport) -> None:
    computed = [m for m in fresh_report.metrics if m.name != "constraints.violation_rate"]
    assert all(m.is_ok for m in computed), [(m.name, m.reason) for m in computed]
    assert fresh_report["constraints.violation_rate"].details["not_applicable"]  # no constraint declared


def test_positive_control_fresh_real_sample(fresh_report: AuditReport) -> None:
    assert _contains(fresh_report, "privacy.dcr_share", 0.5)
    assert _contains(fresh_report, "privacy.mia_auc", 0.5)
    exact = fresh_report["privacy.exact_match_rate"]
    assert exact.value == exact.baseline == 0.0  # continuous columns: real rows never coincide
    assert fresh_report["privacy.attack_epsilon"].value == pytest.approx(0.0, abs=0.5)
    assert not fresh_report.notes


def test_positive_control_half_of_the_holdout(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    report = _audit(train, holdout.iloc[300:], holdout.iloc[:300])
    assert _contains(report, "privacy.dcr_share", 0.5)
    assert _contains(report, "privacy.mia_auc", 0.5)
    assert report["privacy.exact_match_rate"].value == report["privacy.exact_match_rate"].baseline
    quality = report["fidelity.quality"]
    assert quality.value == pytest.approx(quality.baseline, abs=0.05)


def test_negative_control_copy_of_the_training_rows(copy_report: AuditReport) -> None:
    assert copy_report["privacy.exact_match_rate"].value == 1.0
    assert copy_report["privacy.dcr_share"].value == 1.0
    assert copy_report["privacy.mia_auc"].value >= 0.99
    epsilon = copy_report["privacy.attack_epsilon"]
    assert epsilon.value is not None and epsilon.value > 3.0
    assert epsilon.details["exceeds_claimed"] is True
    assert any("exceeds the claimed epsilon 1" in n and "not a proof" in n for n in copy_report.notes)
    for name in ("privacy.singling_out_risk", "privacy.linkability_risk", "privacy.inference_risk"):
        assert copy_report[name].value > 0.9, name
    assert copy_report["fidelity.detection_auc"].value > 0.8  # twins of training rows are detectable


def test_perturbed_copy_is_still_caught(perturbed_report: AuditReport) -> None:
    assert perturbed_report["privacy.exact_match_rate"].value == 0.0  # jitter hides exact copies ...
    dcr, mia = perturbed_report["privacy.dcr_share"], perturbed_report["privacy.mia_auc"]
    assert dcr.ci is not None and dcr.ci[0] > 0.75  # ... but not closeness
    assert mia.ci is not None and mia.ci[0] > 0.75
    assert perturbed_report["privacy.attack_epsilon"].value > 1.0


def test_shuffled_columns_score_poorly_on_relations(shuffled_report: AuditReport, fresh_report: AuditReport) -> None:
    quality = shuffled_report["fidelity.quality"]
    assert quality.details["column_shapes"] > 0.95  # marginals are kept ...
    assert quality.details["column_pair_trends"] < quality.details["baseline_properties"]["column_pair_trends"] - 0.2
    tstr, trtr = shuffled_report["fidelity.tstr_auc"], shuffled_report["fidelity.trtr_auc"]
    assert tstr.ci is not None and trtr.ci is not None and tstr.ci[1] < trtr.ci[0]
    assert tstr.value < 0.6 and tstr.baseline == trtr.value
    detection = shuffled_report["fidelity.detection_auc"]
    assert detection.value > 0.8 and detection.ci is not None and detection.baseline is not None
    assert detection.ci[0] > detection.baseline
    assert fresh_report["fidelity.detection_auc"].ci[0] <= 0.55  # a real sample is not detected


def test_holdout_passed_as_synthetic_is_flagged(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    report = _audit(train, holdout, holdout)
    assert any("was the holdout passed as the synthetic table" in n for n in report.notes)


def test_breakdowns_by_sensitive_group(perturbed_report: AuditReport) -> None:
    for name in ("privacy.exact_match_rate", "privacy.dcr_share", "privacy.mia_auc", "privacy.linkability_risk"):
        groups = perturbed_report[name].details["by_group"]["group"]
        assert {"a", "b"} <= set(groups), name  # "c" (10%) may fall under the minimum group size
    dcr_a = perturbed_report["privacy.dcr_share"].details["by_group"]["group"]["a"]
    assert dcr_a["value"] > 0.75 and dcr_a["n_rows"] > 100
    mia_b = perturbed_report["privacy.mia_auc"].details["by_group"]["group"]["b"]
    assert mia_b["distance"]["auc"] > 0.75


def test_membership_tpr_at_low_false_positive_rates_has_intervals(
    copy_report: AuditReport, fresh_report: AuditReport
) -> None:
    for key in ("tpr_at_fpr_0.001", "tpr_at_fpr_0.01"):
        copied, fresh = copy_report["privacy.mia_auc"].details[key], fresh_report["privacy.mia_auc"].details[key]
        assert copied["tpr"] >= 0.9 and copied["ci"][0] >= 0.8, (key, copied)  # a copy exposes nearly everyone
        assert fresh["ci"][0] <= 0.05 and fresh["fpr_achieved"] <= float(key.rsplit("_", 1)[1]) + 1e-12
        for attack in ("distance", "density_ratio"):  # the DOMIAS-style density attack reports them too
            entry = fresh_report["privacy.mia_auc"].details["attacks"][attack][key]
            assert entry["ci"][0] <= entry["tpr"] <= entry["ci"][1]


def test_the_most_exposed_members_are_described_by_kind_not_by_row(perturbed_report: AuditReport) -> None:
    most = perturbed_report["privacy.mia_auc"].details["most_exposed"]
    assert most["n_most_exposed"] >= 1 and 0.0 <= most["outlier_share"] <= 1.0
    assert set(most) >= {"attack", "over_represented_groups", "outlier_share", "outlier_share_expected"}
    for group in most["over_represented_groups"]:
        assert set(group) == {"column", "group", "share_exposed", "share_members"}
        assert group["share_exposed"] > group["share_members"]
