"""Result objects: validation, the JSON contract and round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tabsynth.audit import AuditReport, Direction, MetricResult, MetricStatus
from tabsynth.exceptions import DataError


def _metric(**overrides: object) -> MetricResult:
    fields: dict[str, object] = {
        "name": "privacy.dcr_share",
        "value": np.float64(0.52),
        "direction": "lower_is_better",
        "ci": (0.49, 0.55),
        "baseline": 0.5,
        "details": {"n": np.int64(3), "nan": float("nan"), "arr": np.array([1.0, 2.0])},
    }
    fields.update(overrides)
    return MetricResult(**fields)  # type: ignore[arg-type]


def test_values_are_plain_json_and_strings_become_enums() -> None:
    m = _metric()
    assert m.direction is Direction.LOWER_IS_BETTER and m.status is MetricStatus.OK
    assert type(m.value) is float
    assert m.details == {"n": 3, "nan": None, "arr": [1.0, 2.0]}
    assert m.to_dict() == {
        "name": "privacy.dcr_share",
        "value": 0.52,
        "ci": [0.49, 0.55],
        "baseline": 0.5,
        "direction": "lower_is_better",
        "status": "ok",
        "details": {"n": 3, "nan": None, "arr": [1.0, 2.0]},
    }


def test_unknown_needs_a_reason_and_has_no_value() -> None:
    m = MetricResult.unknown("fidelity.tstr_auc", "higher_is_better", "one class only")
    assert m.status is MetricStatus.UNKNOWN and m.value is None and m.reason == "one class only"
    with pytest.raises(DataError, match="no 'reason'"):
        MetricResult(name="x", value=None, direction="higher_is_better", status="unknown")
    with pytest.raises(DataError, match="no finite value"):
        MetricResult(name="x", value=float("nan"), direction="higher_is_better")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"ci": (0.6, 0.4)}, "above its upper"), ({"direction": "sideways"}, "sideways"), ({"name": ""}, "non-empty")],
)
def test_invalid_results_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        _metric(**overrides)


def test_report_round_trips_through_strict_json() -> None:
    report = AuditReport(
        metrics=(_metric(), MetricResult.unknown("privacy.mia_auc", "lower_is_better", "too few rows")),
        meta={"n_rows": {"train": np.int64(10)}},
        notes=("a note",),
    )
    text = report.to_json()
    assert "NaN" not in text
    assert set(json.loads(text)) == {"note", "metrics", "meta", "notes", "figures"}
    assert json.loads(text)["note"].startswith("INTERNAL")  # the audit JSON says it is not for partners
    again = AuditReport.from_json(text)
    assert again == report
    assert again["privacy.mia_auc"].reason == "too few rows"
    assert "privacy.dcr_share" in again and again.names == ("privacy.dcr_share", "privacy.mia_auc")


def test_report_rejects_duplicates_and_foreign_json() -> None:
    with pytest.raises(DataError, match="Duplicate"):
        AuditReport(metrics=(_metric(), _metric()))
    with pytest.raises(DataError, match="invalid JSON"):
        AuditReport.from_json("{not json")
    with pytest.raises(DataError, match="'metrics' list"):
        AuditReport.from_dict({"rows": []})
    with pytest.raises(KeyError, match="No metric 'nope'"):
        AuditReport(metrics=(_metric(),))["nope"]
