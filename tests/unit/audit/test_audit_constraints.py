"""constraints.violation_rate: per declared constraint, the synthetic (and holdout) rows that violate it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig, AuditReport, MetricStatus, run_audit
from tabsynth.audit.violations import constraint_violations, declared_constraints
from tabsynth.constraints import ColumnOrder, Range, parse_constraints, with_constraints
from tabsynth.policy import Outcome, Verdict, evaluate_policy, load_policy
from tabsynth.report import render_report
from tabsynth.report._document import build_document
from tabsynth.schema import infer_schema

NAME = "constraints.violation_rate"
DECLARED = [
    {"type": "inequality", "low": "start", "high": "end"},
    {"type": "range", "column": "age", "min": 0, "max": 120},
    {"type": "derived", "column": "total", "expression": "a + b"},
    {"type": "combinations", "columns": ["city", "country"], "allowed": [["Paris", "FR"], ["Berlin", "DE"]]},
]
HOLDOUT_ONLY_AGE = 777  # a holdout value that must never reach a partner


def _synthetic() -> pd.DataFrame:
    # row 0 meets everything; row 1: end < start, age 130, Paris/DE; row 2: age -1, total 5 != 3 + 1;
    # row 3: total missing where a + b = 5, Lyon/FR; row 4 meets everything (start missing: nothing to compare)
    return pd.DataFrame(
        {
            "start": [1.0, 5.0, 3.0, 0.0, None],
            "end": [2.0, 4.0, 3.0, 1.0, 9.0],
            "age": [10, 130, -1, 50, 120],
            "a": [1, 2, 3, 4, 0],
            "b": [1, 1, 1, 1, 0],
            "total": [2.0, 3.0, 5.0, None, 0.0],
            "city": ["Paris", "Paris", "Berlin", "Lyon", "Berlin"],
            "country": ["FR", "DE", "DE", "FR", "DE"],
        }
    )


def _holdout() -> pd.DataFrame:
    # row 0: age out of range; row 1 meets everything
    frame = _synthetic().iloc[[0, 0]].reset_index(drop=True)
    frame.loc[0, "age"] = HOLDOUT_ONLY_AGE
    return frame


def test_hand_counted_violations_per_constraint_and_the_share_of_rows_violating_any() -> None:
    result = constraint_violations(_synthetic(), _holdout(), parse_constraints(DECLARED))
    assert result.is_ok and result.ci is None  # an exact count on the audited table: no interval
    rows = {r["type"]: r for r in result.details["constraints"]}
    assert {t: r["synthetic_violations"] for t, r in rows.items()} == {
        "inequality": 1,
        "range": 2,
        "derived": 2,
        "combinations": 2,
    }
    assert rows["range"]["synthetic_rate"] == pytest.approx(2 / 5)
    assert {t: r["holdout_violations"] for t, r in rows.items()} == {
        "inequality": 0,
        "range": 1,
        "derived": 0,
        "combinations": 0,
    }
    assert result.details["synthetic_rows_violating"] == 3  # rows 1, 2 and 3
    assert result.value == pytest.approx(3 / 5)
    assert result.baseline == pytest.approx(1 / 2)
    assert json.loads(rows["derived"]["constraint"]) == DECLARED[2]


def test_a_clean_table_scores_zero() -> None:
    clean = _synthetic().iloc[[0, 4]]
    result = constraint_violations(clean, clean, parse_constraints(DECLARED))
    assert result.value == 0.0 and result.baseline == 0.0
    assert all(r["synthetic_violations"] == 0 for r in result.details["constraints"])


def test_no_constraint_is_not_applicable_not_a_failure() -> None:
    result = constraint_violations(_synthetic(), _holdout(), ())
    assert result.status is MetricStatus.UNKNOWN and result.details["not_applicable"] is True


def test_a_column_the_synthetic_table_lacks_makes_the_metric_unknown_in_the_audit() -> None:
    frame = pd.DataFrame({"x": np.arange(60.0), "label": ["a", "b"] * 30})
    report = run_audit(frame, frame, holdout=frame, target="label", constraints=[Range("age", 0, 1)], config=_FAST)
    metric = report[NAME]
    assert metric.status is MetricStatus.UNKNOWN and not metric.details.get("not_applicable")
    assert "lacks columns" in (metric.reason or "") and "['age']" in (metric.reason or "")


def test_declared_constraints_merge_the_schema_and_extra_ones_once_and_drop_the_column_order() -> None:
    schema = with_constraints(infer_schema(_synthetic()), DECLARED[:2])
    found = declared_constraints(schema, [DECLARED[1], DECLARED[2], ColumnOrder(("a", "b"))])
    assert [c.type for c in found] == ["inequality", "range", "derived"]


# ---- through run_audit, the gate and the report ------------------------------------------------
_FAST = AuditConfig(n_attacks=50, singling_out_max_attempts=500, n_bootstrap=20, detection_rows=100, mia_rows=50)


def _population(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 50, n_rows)
    return pd.DataFrame(
        {
            "start": start,
            "end": start + rng.integers(0, 20, n_rows),
            "kind": rng.choice(["a", "b"], n_rows),
            "label": rng.choice(["no", "yes"], n_rows),
        }
    )


@pytest.fixture(scope="module")
def audited() -> tuple[AuditReport, AuditReport]:
    train, holdout, synthetic = _population(200, 1), _population(200, 2), _population(200, 3)
    broken = synthetic.copy()
    broken.loc[:9, "end"] = broken.loc[:9, "start"] - 1  # 10 of 200 rows end before they start
    schema = with_constraints(infer_schema(train, target="label"), [DECLARED[0]])
    with_violations = run_audit(train, broken, holdout=holdout, target="label", schema=schema, config=_FAST)
    without = run_audit(train, synthetic, holdout=holdout, target="label", config=_FAST)
    return with_violations, without


def test_the_audit_finds_the_schemas_constraints(audited: tuple[AuditReport, AuditReport]) -> None:
    report, without = audited
    metric = report[NAME]
    assert metric.value == pytest.approx(10 / 200) and metric.baseline == 0.0
    assert metric.details["constraints"][0]["synthetic_violations"] == 10
    assert report.meta["constraints"] == [DECLARED[0]]
    assert any("10 synthetic row(s) violate the declared constraint" in n for n in report.notes)
    assert without[NAME].details["not_applicable"] and without.meta["constraints"] == []
    assert not any(NAME in n for n in without.notes)  # not applicable is not a problem to note
    again = AuditReport.from_json(report.to_json())
    assert again[NAME].details == metric.details


@pytest.mark.parametrize("policy", ["partner", "medical"])
def test_the_builtin_policy_blocks_a_table_with_violations_and_allows_no_constraints(
    audited: tuple[AuditReport, AuditReport], policy: str
) -> None:
    report, without = audited
    decision = evaluate_policy(load_policy(policy), report)
    [outcome] = [o for o in decision.outcomes if o.rule.metric == NAME]
    assert outcome.outcome is Outcome.FAIL and outcome.rule.hard and outcome.threshold == 0.0
    assert decision.verdict is Verdict.FAIL and decision.blocks
    [skipped] = [o for o in evaluate_policy(load_policy(policy), without).outcomes if o.rule.metric == NAME]
    assert skipped.outcome is Outcome.NOT_APPLICABLE


def test_a_rule_passes_a_table_without_violations(tmp_path: Path) -> None:
    clean = constraint_violations(_synthetic().iloc[[0, 4]], _holdout(), parse_constraints(DECLARED))
    policy = tmp_path / "p.yaml"
    policy.write_text(f"name: p\nrules:\n  - {{metric: {NAME}, max: 0, rationale: r}}\n", encoding="utf-8")
    assert evaluate_policy(load_policy(policy), AuditReport(metrics=(clean,))).verdict is Verdict.PASS


def _section(html: str) -> str:
    start = html.index('<section id="constraints">')
    return html[start : html.index("</section>", start)]


def test_the_report_shows_a_table_per_constraint_and_the_partner_sees_no_holdout_count() -> None:
    metric = constraint_violations(_synthetic(), _holdout(), parse_constraints(DECLARED))
    audit = AuditReport(metrics=(metric,), meta={"constraints": DECLARED})
    internal, partner = (_section(render_report(audit=audit, audience=a)) for a in ("internal", "partner"))
    for html in (internal, partner):
        assert 'id="constraints-table"' in html and html.count('class="constraint-violated"') == 4
        assert "&#34;type&#34;: &#34;inequality&#34;" in html  # the declaration, escaped
        assert "<b>3</b> of 5 synthetic rows" in html
        assert "40.0%" in html  # the range: 2 of 5 synthetic rows
    assert "real holdout rows violating" in internal and "1 of 2 real holdout rows" in internal
    assert "holdout" not in partner and "0.500" not in partner  # neither the holdout counts nor the baseline
    assert "0.600" in partner  # the synthetic-side value is shown to a partner
    doc = build_document(audit, decision=None, privacy=None, audience="partner", title=None)
    keys = {"constraint", "type", "columns", "synthetic_violations", "synthetic_rate"}
    assert all(set(r) == keys for r in doc["constraints"]["rows"])
    assert doc["constraints"]["holdout_rows_violating"] is None and doc["constraints"]["n_holdout"] is None
    assert str(HOLDOUT_ONLY_AGE) not in json.dumps(doc)


def test_the_report_says_when_no_constraint_is_declared(audited: tuple[AuditReport, AuditReport]) -> None:
    _, without = audited
    html = _section(render_report(audit=without, audience="internal"))
    assert 'id="no-constraints"' in html and "No constraints are declared" in html
    assert 'id="constraints-table"' not in html
