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
    assert partner["privacy.attack_epsilon"].threshold == "claimed_epsilon"
    for metric in ("privacy.dcr_share", "privacy.mia_auc"):
        assert medical[metric].threshold == partner[metric].threshold == "baseline"  # 0.5: unseen real rows
        assert medical[metric].margin < partner[metric].margin <= 0.05
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
    hard_fail = [_m("privacy.mia_auc", 0.56, (0.53, 0.59)), *good[1:]]  # the value itself misses
    decision = evaluate_policy(policy, _report(*hard_fail))
    assert decision.verdict is Verdict.FAIL and decision.blocks
    [failure] = decision.failures
    assert failure.rule.metric == "privacy.mia_auc" and failure.judged_value == 0.59
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
    assert evaluate_policy(policy, _report(_m("fidelity.tstr_auc", 0.72, (0.71, 0.75)))).verdict is Verdict.PASS
    assert evaluate_policy(policy, _report(_m("fidelity.tstr_auc", 0.68, (0.65, 0.71)))).verdict is Verdict.FAIL
    # the value passes, the lower end does not: too few rows to decide (warns by default)
    undecided = evaluate_policy(policy, _report(_m("fidelity.tstr_auc", 0.72, (0.69, 0.75))))
    assert undecided.verdict is Verdict.CONDITIONAL and undecided.outcomes[0].outcome is Outcome.INSUFFICIENT
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
    policy = load_policy(_one_rule(tmp_path, "privacy.attack_epsilon", "max", "claimed_epsilon"))
    ok = _report(_m("privacy.attack_epsilon", 0.9), epsilon_claimed=1.0)
    beaten = _report(_m("privacy.attack_epsilon", 1.2), epsilon_claimed=1.0)
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


def test_too_few_rows_to_show_safety_is_its_own_outcome_never_a_failure(tmp_path: Path) -> None:
    # the small-table numbers of the issue: real rows posing as synthetic, 750 of them
    policy = load_policy(REPO / "policies" / "partner.yaml")
    report = _report(
        _m("privacy.exact_match_rate", 0.0, (0.0, 0.0051), baseline=0.0),
        _m("privacy.dcr_share", 0.531, (0.482, 0.578), baseline=0.5),
        _m("privacy.mia_auc", 0.512, (0.465, 0.56), baseline=0.5),
    )
    outcomes = {o.rule.metric: o.outcome for o in evaluate_policy(policy, report).outcomes}
    for metric in ("privacy.exact_match_rate", "privacy.dcr_share", "privacy.mia_auc"):
        assert outcomes[metric] is Outcome.INSUFFICIENT, metric
    # 150 real rows as synthetic: the value is over 0.55, but the interval still holds the baseline 0.5
    noisy = evaluate_policy(policy, _report(_m("privacy.mia_auc", 0.557, (0.451, 0.663), baseline=0.5)))
    assert {o.rule.metric: o.outcome for o in noisy.outcomes}["privacy.mia_auc"] is Outcome.INSUFFICIENT
    leaky = evaluate_policy(policy, _report(_m("privacy.mia_auc", 0.58, (0.55, 0.61), baseline=0.5)))
    assert {o.rule.metric: o.outcome for o in leaky.outcomes}["privacy.mia_auc"] is Outcome.FAIL
    block = load_policy(_one_rule(tmp_path, "privacy.mia_auc", "max", 0.55, ", on_insufficient: block"))
    decision = evaluate_policy(block, _report(_m("privacy.mia_auc", 0.512, (0.465, 0.56))))
    assert decision.verdict is Verdict.UNKNOWN and decision.blocks
    rule = decision.to_dict()["rules"][0]
    assert rule["outcome"] == "insufficient" and "not enough rows to decide" in rule["advice"]
    leak = evaluate_policy(block, _report(_m("privacy.mia_auc", 0.60, (0.57, 0.63))))
    assert leak.verdict is Verdict.FAIL


def test_utility_is_judged_against_the_real_ceiling_of_the_same_audit(tmp_path: Path) -> None:
    policy = load_policy(_one_rule(tmp_path, "fidelity.tstr_auc", "min", "baseline", ", factor: 0.9, judge_on: value"))
    hard_table = _m("fidelity.tstr_auc", 0.695, (0.68, 0.71), baseline=0.71)  # TRTR 0.71: 0.695 >= 0.639
    decision = evaluate_policy(policy, _report(hard_table))
    assert decision.verdict is Verdict.PASS and decision.outcomes[0].threshold == pytest.approx(0.639)
    assert evaluate_policy(policy, _report(_m("fidelity.tstr_auc", 0.6, baseline=0.71))).verdict is Verdict.FAIL
    with pytest.raises(PolicyError, match="'factor' only applies"):
        load_policy(_one_rule(tmp_path, "fidelity.tstr_auc", "min", 0.7, ", factor: 0.9"))


def test_on_unknown_warn_makes_an_uncomputable_rule_conditional_with_advice(tmp_path: Path) -> None:
    small = _m("fairness.downstream_eo_gap", None, reason="no two holdout groups of 100+ rows")
    extra = ", allow_not_applicable: true"
    blocking = load_policy(_one_rule(tmp_path, "fairness.downstream_eo_gap", "max", 0.3, extra))
    assert evaluate_policy(blocking, _report(small)).verdict is Verdict.UNKNOWN
    warning = load_policy(_one_rule(tmp_path, "fairness.downstream_eo_gap", "max", 0.3, extra + ", on_unknown: warn"))
    decision = evaluate_policy(warning, _report(small))
    assert decision.verdict is Verdict.CONDITIONAL and not decision.blocks
    advice = decision.to_dict()["rules"][0]["advice"]
    assert "no two holdout groups" in advice and "fairness_min_group_rows" in advice
    assert "raise epsilon" not in advice


def test_builtin_policies_warn_for_uncomputable_fairness_and_judge_leakage_on_the_baseline() -> None:
    for name in BUILTIN_POLICIES:
        for rule in load_policy(name).rules:
            if rule.metric.startswith("fairness."):
                assert rule.on_unknown.value == "warn", (name, rule.metric)
    partner = {r.metric: r for r in load_policy("partner").rules}
    assert partner["fidelity.tstr_auc"].threshold == "baseline" and partner["fidelity.tstr_auc"].factor == 0.9
    assert partner["privacy.dcr_share"].threshold == "baseline"


def test_one_line_per_metric_holds_both_thresholds_failures_first() -> None:
    partner = load_policy("partner")
    report = _report(
        _m("fairness.representation", 0.7, (0.6, 0.8)),
        _m("privacy.mia_auc", 0.7, (0.68, 0.72), baseline=0.5),
    )
    lines = evaluate_policy(partner, report).to_dict()["lines"]
    metrics = [line["metric"] for line in lines]
    assert len(metrics) == len(set(metrics))
    assert metrics[0] == "privacy.mia_auc" and lines[0]["outcome"] == "fail"
    [rep] = [line for line in lines if line["metric"] == "fairness.representation"]
    assert [(t["hard"], t["threshold"]) for t in rep["thresholds"]] == [(True, 0.5), (False, 0.8)]
    assert [t["outcome"] for t in rep["thresholds"]] == ["pass", "fail"]


def test_the_old_epsilon_metric_name_still_reads_in_audits_and_policies(tmp_path: Path) -> None:
    old = {"name": "privacy.empirical_epsilon_lower", "value": 0.2, "direction": "lower_is_better", "status": "ok"}
    report = AuditReport.from_dict({"metrics": [old], "meta": {"epsilon_claimed": 1.0}})
    assert report.names == ("privacy.attack_epsilon",)
    policy = load_policy(_one_rule(tmp_path, "privacy.empirical_epsilon_lower", "max", "claimed_epsilon"))
    assert policy.rules[0].metric == "privacy.attack_epsilon"
    assert evaluate_policy(policy, report).verdict is Verdict.PASS
