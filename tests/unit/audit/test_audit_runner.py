"""run_audit as a whole: the metric list, UNKNOWN instead of dropping, determinism, roles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import METRIC_NAMES, AuditConfig, AuditReport, MetricStatus, run_audit
from tabsynth.exceptions import DataError
from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema

ISSUE_METRICS = [
    "fidelity.quality",
    "fidelity.tstr_auc",
    "fidelity.trtr_auc",
    "fidelity.detection_auc",
    "privacy.exact_match_rate",
    "privacy.dcr_share",
    "privacy.mia_auc",
    "privacy.attack_epsilon",
    "privacy.singling_out_risk",
    "privacy.linkability_risk",
    "privacy.inference_risk",
    "fairness.representation",
    "fairness.label_rate_gap",
    "fairness.downstream_dp_gap",
    "fairness.downstream_eo_gap",
    "constraints.violation_rate",
]
FAIRNESS = {m for m in ISSUE_METRICS if m.startswith("fairness.")}
#: Not applicable without a sensitive column or a declared constraint.
NOT_APPLICABLE = FAIRNESS | {"constraints.violation_rate"}

SMALL = AuditConfig(n_attacks=200, singling_out_max_attempts=10_000, n_bootstrap=50, detection_rows=300)


@pytest.fixture(scope="module")
def small(train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    return train.iloc[:300], holdout.iloc[:300], fresh.iloc[:300]


def test_the_report_holds_exactly_the_issue_metrics_in_json(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    report = run_audit(train, synth, holdout=holdout, target="label", config=SMALL)
    assert list(report.names) == ISSUE_METRICS == list(METRIC_NAMES)
    for metric in json.loads(report.to_json())["metrics"]:
        assert set(metric) == {"name", "value", "ci", "baseline", "direction", "status", "details"}
        assert metric["status"] in ("ok", "unknown")
        assert metric["ci"] is None or (len(metric["ci"]) == 2 and metric["ci"][0] <= metric["ci"][1])
    assert report["fidelity.quality"].details["real_correlation_threshold"] == 0.5
    assert report["fidelity.quality"].details["real_association_threshold"] == 0.3
    assert report.meta["n_rows"] == {"train": 300, "holdout": 300, "synthetic": 300}


def test_same_seed_same_report(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    first, second = (
        run_audit(train, synth, holdout=holdout, target="label", random_state=7, config=SMALL) for _ in range(2)
    )
    strip = lambda r: {**r.to_dict(), "meta": {**r.meta, "seconds": None}}  # noqa: E731
    assert strip(first) == strip(second)


def test_a_metric_that_cannot_be_computed_is_unknown_not_dropped(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    one_class = synth.assign(label="no")
    report = run_audit(train, one_class, holdout=holdout, target="label", config=SMALL)
    tstr = report["fidelity.tstr_auc"]
    assert tstr.status is MetricStatus.UNKNOWN and tstr.value is None
    assert "1 class(es) of the target 'label'" in (tstr.reason or "")
    assert tstr.baseline == report["fidelity.trtr_auc"].value
    assert report["fidelity.trtr_auc"].is_ok and report["privacy.dcr_share"].is_ok
    assert any(n.startswith("fidelity.tstr_auc could not be computed") for n in report.notes)


def test_an_unexpected_failure_is_unknown_with_its_reason(
    small: tuple[pd.DataFrame, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tabsynth.audit.runner as runner

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("sdmetrics exploded")

    monkeypatch.setattr(runner, "quality", broken)  # the sdmetrics boundary
    train, holdout, synth = small
    report = run_audit(train, synth, holdout=holdout, target="label", config=SMALL)
    assert report["fidelity.quality"].reason == "RuntimeError: sdmetrics exploded"
    assert sum(m.is_ok for m in report.metrics) == len(ISSUE_METRICS) - 1 - len(NOT_APPLICABLE)


def test_misnamed_linkability_columns_make_that_metric_unknown(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    config = AuditConfig(n_attacks=50, linkability_aux_cols=(("nope",), ("age",)), singling_out_max_attempts=2000)
    report = run_audit(train, synth, holdout=holdout, target="label", config=config)
    assert (
        report["privacy.linkability_risk"].reason == "linkability_aux_cols name columns that are not audited: ['nope']"
    )


def test_identifier_columns_are_left_out_and_noted(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    with_ids = [t.assign(customer=[f"c{i}-{id(t)}" for i in range(len(t))]) for t in (train, holdout, synth)]
    report = run_audit(with_ids[0], with_ids[2], holdout=with_ids[1], target="label", config=SMALL)
    assert report.meta["excluded_columns"] == ["customer"]
    assert any("customer" in note for note in report.notes)


def test_a_declared_schema_sets_the_column_kinds(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    kinds = {
        "age": ColumnKind.CATEGORICAL,
        "income": ColumnKind.CONTINUOUS,
        "group": ColumnKind.CATEGORICAL,
        "region": ColumnKind.CATEGORICAL,
        "hours": ColumnKind.CONTINUOUS,
        "label": ColumnKind.CATEGORICAL,
    }
    schema = TableSchema(columns=tuple(ColumnSpec(name=n, kind=k) for n, k in kinds.items()))
    report = run_audit(train, synth, holdout=holdout, target="label", schema=schema, config=SMALL)
    assert report.meta["columns"]["age"] == "categorical"


def test_numeric_sensitive_columns_are_grouped_in_training_quartiles(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    report = run_audit(train, synth, holdout=holdout, target="label", sensitive=["age"], config=SMALL)
    groups = report["privacy.dcr_share"].details["by_group"]["age"]
    assert len(groups) == 4 and sorted(groups)[0].startswith("Q1: < ") and sorted(groups)[-1].startswith("Q4: >= ")
    bounds = [label.split(": ")[1].replace("<", "").replace(">=", "") for label in groups]
    edges = [float(x) for bound in bounds for x in bound.split(" to ")]
    assert min(train["age"]) not in edges and max(train["age"]) not in edges  # no exact min/max labels a group
    assert all(e == float(f"{e:.2g}") for e in edges)  # inner edges on a two-digit grid
    assert report.to_dict()["note"].startswith("INTERNAL")
    inference = report["privacy.inference_risk"].details
    assert set(inference["secrets"]) == {"label", "age"}


def test_missing_values_are_audited(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    rng = np.random.default_rng(0)

    def with_gaps(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.loc[rng.random(len(out)) < 0.1, "hours"] = np.nan
        out.loc[rng.random(len(out)) < 0.1, "region"] = None
        return out

    report = run_audit(with_gaps(train), with_gaps(synth), holdout=with_gaps(holdout), target="label", config=SMALL)
    assert all(m.is_ok for m in report.metrics if m.name not in NOT_APPLICABLE), [
        (m.name, m.reason) for m in report.metrics
    ]
    assert all(report[m].details.get("not_applicable") for m in NOT_APPLICABLE)  # no sensitive column, no constraint
    assert isinstance(AuditReport.from_json(report.to_json()), AuditReport)


def test_excluded_columns_are_left_out_and_recorded(small: tuple[pd.DataFrame, ...]) -> None:
    train, holdout, synth = small
    config = AuditConfig(n_attacks=200, singling_out_max_attempts=10_000, n_bootstrap=50, exclude=("income",))
    report = run_audit(train, synth, holdout=holdout, target="label", config=config)
    assert "income" not in report.meta["columns"] and report.meta["excluded_by_request"] == ["income"]
    assert any("on request" in note and "income" in note for note in report.notes)
    with pytest.raises(DataError, match="target 'label' cannot be excluded"):
        run_audit(train, synth, holdout=holdout, target="label", config=AuditConfig(exclude=("label",)))
    with pytest.raises(DataError, match=r"excluded columns \['nope'\] are not in the real table"):
        run_audit(train, synth, holdout=holdout, target="label", config=AuditConfig(exclude=("nope",)))
