"""Release policies: strict loading, and the gate's verdict logic on hand-built audits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tabsynth.audit import AuditReport, MetricResult
from tabsynth.exceptions import PolicyError
from tabsynth.policy import BUILTIN_POLICIES, Outcome, Verdict, evaluate_policy, load_policy

REPO = Path(__file__).resolve().parents[3]


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


RULE = "  - {{metric: {metric}, {bound}: {threshold}, rationale: why{extra}}}\n"


def _one_rule(tmp_path: Path, metric: str, bound: str, threshold: object, extra: str = "") -> Path:
    return _policy(
        tmp_path, "name: t\nrules:\n" + RULE.format(metric=metric, bound=bound, threshold=threshold, extra=extra)
    )


def _m(name: str, value: float | None, ci: tuple[float, float] | None = None, **kw: object) -> MetricResult:
    direction = (
        "higher_is_better" if name.startswith("fidelity.") or name == "fairness.representation" else "lower_is_better"
    )
    if value is None:
        return MetricResult.unknown(name, direction, str(kw.pop("reason", "broken")), details=kw.pop("details", None))
    return MetricResult(name=name, value=value, ci=ci, direction=direction, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", BUILTIN_POLICIES)
def test_builtin_policies_load_and_match_the_repo_copies(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name and len(policy.rules) >= 5
    assert all(rule.rationale.strip() for rule in policy.rules)
    assert (REPO / "policies" / f"{name}.yaml").read_bytes() == Path(policy.source or "").read_bytes()
    assert load_policy(REPO / "policies" / f"{name}.yaml").sha256 == policy.sha256


def test_partner_and_medical_bounds_from_the_issue() -> None:
    partner = {r.metric: r for r in load_policy("partner").rules}
    medical = {r.metric: r for r in load_policy("medical").rules}
    assert partner["privacy.epsilon"].threshold == 3 and medical["privacy.epsilon"].threshold == 1
    assert partner["privacy.empirical_epsilon_lower"].threshold == "claimed_epsilon"
    for metric in ("privacy.dcr_share", "privacy.mia_auc"):
        assert float(medical[metric].threshold) < float(partner[metric].threshold) <= 0.55  # type: ignore[arg-type]
    assert {m for m in partner if m.startswith("fairness.")} == {
        "fairness.representation",
        "fairness.label_rate_gap",
        "fairness.downstream_dp_gap",
        "fairness.downstream_eo_gap",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: t\nrules:\n  - {metric: privacy.mia_auc, max: 0.5, rationale: r, hrad: true}\n",
            "rules.0.hrad: unknown key",
        ),
        ("name: t\nrulez: []\n", "rulez: unknown key"),
        (
            "name: t\nrules:\n  - {metric: privacy.mia_acu, max: 0.5, rationale: r}\n",
            "unknown metric 'privacy.mia_acu'",
        ),
        ("name: t\nrules:\n  - {metric: privacy.mia_auc, max: 1.5, rationale: r}\n", "outside the range [0, 1]"),
        ("name: t\nrules:\n  - {metric: privacy.epsilon, max: -1, rationale: r}\n", "outside the range [0, inf]"),
        ("name: t\nrules:\n  - {metric: privacy.mia_auc, min: 0.5, rationale: r}\n", "needs 'max', not 'min'"),
        ("name: t\nrules:\n  - {metric: fidelity.quality, min: 0.5, max: 0.9, rationale: r}\n", "exactly one of"),
        ("name: t\nrules:\n  - {metric: fidelity.quality, min: 0.5}\n", "rules.0.rationale"),
        (
            "name: t\nrules:\n  - {metric: privacy.mia_auc, max: claimed_epsilon, rationale: r}\n",
            "only a threshold for",
        ),
        ("name: t\nrules:\n  - {metric: privacy.mia_auc, max: 0.5, margin: 0.1, rationale: r}\n", "'margin' only"),
        ("name: t\nrules: []\n", "rules"),
        ("- just a list\n", "expected a mapping"),
        ("name: [unclosed\n", "invalid YAML"),
    ],
)
def test_invalid_policies_are_rejected_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=None) as info:
        load_policy(_policy(tmp_path, text))
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_a_missing_policy_names_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="internal, partner, medical"):
        load_policy(tmp_path / "nope.yaml")


POLICY = """name: t
rules:
  - {metric: privacy.mia_auc, max: 0.55, rationale: leak}
  - {metric: fidelity.quality, min: 0.7, rationale: useful}
  - {metric: fidelity.detection_auc, max: 0.9, hard: false, rationale: soft}
"""


def _report(*metrics: MetricResult, **meta: object) -> AuditReport:
    return AuditReport(metrics=metrics, meta=meta)


def test_pass_conditional_fail_unknown(tmp_path: Path) -> None:
    policy = load_policy(_policy(tmp_path, POLICY))
    good = [_m("privacy.mia_auc", 0.50, (0.48, 0.52)), _m("fidelity.quality", 0.8), _m("fidelity.detection_auc", 0.7)]
    assert evaluate_policy(policy, _report(*good)).verdict is Verdict.PASS
    soft_fail = [*good[:2], _m("fidelity.detection_auc", 0.95)]
    decision = evaluate_policy(policy, _report(*soft_fail))
    assert decision.verdict is Verdict.CONDITIONAL and not decision.blocks
    hard_fail = [_m("privacy.mia_auc", 0.50, (0.48, 0.56)), *good[1:]]  # value passes, the upper end does not
    decision = evaluate_policy(policy, _report(*hard_fail))
    assert decision.verdict is Verdict.FAIL and decision.blocks
    [failure] = decision.failures
    assert failure.rule.metric == "privacy.mia_auc" and failure.judged_value == 0.56
    assert decision.to_dict()["rules"][0]["judged_on"] == "ci_upper"
    assert decision.to_dict()["rules"][0]["advice"]
    unknown = [_m("privacy.mia_auc", None, reason="too few rows"), *good[1:]]
    decision = evaluate_policy(policy, _report(*unknown))
    assert decision.verdict is Verdict.UNKNOWN and decision.blocks
    assert "too few rows" in decision.failures[0].summary
    both = [_m("privacy.mia_auc", None), _m("fidelity.quality", 0.5), good[2]]
    assert evaluate_policy(policy, _report(*both)).verdict is Verdict.FAIL


def test_quality_is_judged_on_the_lower_end(tmp_path: Path) -> None:
    policy = load_policy(_one_rule(tmp_path, "fidelity.tstr_auc", "min", 0.7))
    assert evaluate_policy(policy, _report(_m("fidelity.tstr_auc", 0.72, (0.69, 0.75)))).verdict is Verdict.FAIL
    by_value = load_policy(_one_rule(tmp_path, "fidelity.tstr_auc", "min", 0.7, ", judge_on: value"))
    assert evaluate_policy(by_value, _report(_m("fidelity.tstr_auc", 0.72, (0.69, 0.75)))).verdict is Verdict.PASS


def test_epsilon_comes_from_the_ledger_and_no_dp_fails(tmp_path: Path) -> None:
    policy = load_policy(_one_rule(tmp_path, "privacy.epsilon", "max", 3))
    report = _report(_m("privacy.mia_auc", 0.5))
    assert evaluate_policy(policy, report).verdict is Verdict.UNKNOWN  # nothing says what epsilon is
    assert (
        evaluate_policy(policy, report, privacy={"epsilon": 2.99, "delta": 1e-5, "is_dp": True}).verdict is Verdict.PASS
    )
    assert (
        evaluate_policy(policy, report, privacy={"epsilon": 3.01, "delta": 1e-5, "is_dp": True}).verdict is Verdict.FAIL
    )
    no_dp = evaluate_policy(policy, report, privacy={"epsilon": None, "delta": 1e-5, "is_dp": False})
    assert no_dp.verdict is Verdict.FAIL and "without differential privacy" in (no_dp.failures[0].reason or "")
    claimed = _report(_m("privacy.mia_auc", 0.5), epsilon_claimed=1.0)
    assert evaluate_policy(policy, claimed).verdict is Verdict.PASS


def test_claimed_epsilon_and_baseline_thresholds(tmp_path: Path) -> None:
    policy = load_policy(_one_rule(tmp_path, "privacy.empirical_epsilon_lower", "max", "claimed_epsilon"))
    ok = _report(_m("privacy.empirical_epsilon_lower", 0.9), epsilon_claimed=1.0)
    beaten = _report(_m("privacy.empirical_epsilon_lower", 1.2), epsilon_claimed=1.0)
    assert evaluate_policy(policy, ok).verdict is Verdict.PASS
    assert evaluate_policy(policy, beaten).verdict is Verdict.FAIL
    policy = load_policy(_one_rule(tmp_path, "privacy.exact_match_rate", "max", "baseline", ", margin: 0.01"))
    assert (
        evaluate_policy(policy, _report(_m("privacy.exact_match_rate", 0.02, baseline=0.015))).verdict is Verdict.PASS
    )
    assert (
        evaluate_policy(policy, _report(_m("privacy.exact_match_rate", 0.03, baseline=0.015))).verdict is Verdict.FAIL
    )
    assert evaluate_policy(policy, _report(_m("privacy.exact_match_rate", 0.0))).verdict is Verdict.UNKNOWN


def test_not_applicable_fairness_passes_only_when_allowed(tmp_path: Path) -> None:
    na = _m(
        "fairness.label_rate_gap",
        None,
        reason="no sensitive attributes (not applicable)",
        details={"not_applicable": True},
    )
    strict = load_policy(_one_rule(tmp_path, "fairness.label_rate_gap", "max", 0.1))
    assert evaluate_policy(strict, _report(na)).verdict is Verdict.UNKNOWN
    lenient = load_policy(_one_rule(tmp_path, "fairness.label_rate_gap", "max", 0.1, ", allow_not_applicable: true"))
    decision = evaluate_policy(lenient, _report(na))
    assert decision.verdict is Verdict.PASS and decision.outcomes[0].outcome is Outcome.NOT_APPLICABLE


def test_a_metric_missing_from_an_old_audit_is_unknown(tmp_path: Path) -> None:
    policy = load_policy(_one_rule(tmp_path, "fairness.representation", "min", 0.8))
    decision = evaluate_policy(policy, _report(_m("privacy.mia_auc", 0.5)))
    assert decision.verdict is Verdict.UNKNOWN and "has no metric" in (decision.failures[0].reason or "")


def test_release_on_conditional_false_blocks_soft_failures(tmp_path: Path) -> None:
    text = "name: t\nrelease_on_conditional: false\nrules:\n" + RULE.format(
        metric="fidelity.quality", bound="min", threshold=0.7, extra=", hard: false"
    )
    decision = evaluate_policy(load_policy(_policy(tmp_path, text)), _report(_m("fidelity.quality", 0.5)))
    assert decision.verdict is Verdict.CONDITIONAL and decision.blocks
    assert math.isclose(decision.outcomes[0].judged_value or 0, 0.5)
