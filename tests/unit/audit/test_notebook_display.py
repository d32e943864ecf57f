"""The notebook display of an audit and a gate decision: every metric and rule, escaped, with the report's plots."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig, AuditReport, run_audit
from tabsynth.constraints import with_constraints
from tabsynth.policy import GateDecision, evaluate_policy, load_policy
from tabsynth.report import notebook_html
from tabsynth.schema import infer_schema

HOSTILE = "<script>alert(1)</script>"
_FAST = AuditConfig(n_attacks=50, singling_out_max_attempts=500, n_bootstrap=20, detection_rows=100, mia_rows=50)


def _population(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 50, n_rows)
    return pd.DataFrame(
        {
            "start": start,
            "end": start + rng.integers(0, 20, n_rows),
            HOSTILE: rng.choice(["a", "<b>"], n_rows),
            "sex": rng.choice(["F", "M"], n_rows),
            "label": rng.choice(["no", "yes"], n_rows),
        }
    )


@pytest.fixture(scope="module")
def audit() -> AuditReport:
    train, holdout, synthetic = _population(200, 1), _population(200, 2), _population(200, 3)
    schema = with_constraints(
        infer_schema(train, target="label"), [{"type": "inequality", "low": "start", "high": "end"}]
    )
    return run_audit(train, synthetic, holdout=holdout, target="label", sensitive=["sex"], schema=schema, config=_FAST)


@pytest.fixture(scope="module")
def decision(audit: AuditReport) -> GateDecision:
    return evaluate_policy(load_policy("partner"), audit, privacy={"epsilon": 1.0, "delta": 1e-6, "is_dp": True})


def _self_contained(html: str) -> None:
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html
    for match in re.finditer(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html, flags=re.IGNORECASE):
        assert match.group(1).startswith(("#", "data:")), match.group(0)


def test_the_audit_display_holds_every_metric_escaped_with_the_plots(audit: AuditReport) -> None:
    html = audit._repr_html_()
    assert html.lstrip().startswith('<div class="tabsynth-view">')
    for name in audit.names:
        assert f"<code>{name}</code>" in html, name
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;" in html  # a hostile category stays text too
    assert html.count("<svg") >= 5  # distributions, associations, DCR, ROC, risk intervals: the report's figures
    assert 'data-figure="distribution.start"' in html and 'data-figure="privacy.mia_roc"' in html
    assert 'id="constraints-table"' in html and "&#34;inequality&#34;" in html
    _self_contained(html)


def test_the_decision_display_holds_the_verdict_and_every_rule(decision: GateDecision) -> None:
    html = decision._repr_html_()
    assert f'id="verdict">{decision.verdict.value}<' in html
    for outcome in decision.outcomes:
        assert f"<code>{outcome.rule.metric}</code>" in html, outcome.rule.metric
    assert html.count('<tr class="rule-') == len({o.rule.metric for o in decision.outcomes})  # one line per metric
    assert "<svg" in html and HOSTILE not in html
    _self_contained(html)
    released = decision.with_released(False)
    assert released.audit is decision.audit and "<svg" in released._repr_html_()
    assert released.to_dict()["released"] is False and "audit" not in released.to_dict()


def test_a_decision_built_without_its_audit_still_shows_its_rules(decision: GateDecision) -> None:
    bare = GateDecision(verdict=decision.verdict, outcomes=decision.outcomes, policy=decision.policy)
    html = bare._repr_html_()
    assert "<code>privacy.epsilon</code>" in html and "<svg" not in html
    assert bare == decision  # the audit is kept for display only, not part of the decision's value


def test_the_partner_view_drops_the_real_vs_synthetic_figures(audit: AuditReport) -> None:
    internal, partner = notebook_html(audit), notebook_html(audit, audience="partner")
    assert 'data-side="real_vs_synthetic"' in internal
    assert 'data-side="real_vs_synthetic"' not in partner and 'data-side="synthetic_only"' in partner
    assert "holdout rows violating" not in partner
