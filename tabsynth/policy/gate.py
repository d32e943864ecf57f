"""Judge an audit against a release policy: PASS, CONDITIONAL, FAIL or UNKNOWN.

* PASS: every rule holds.
* CONDITIONAL: only soft rules failed, or a rule could not be decided and its policy says
  ``warn`` (``on_unknown`` / ``on_insufficient``).
* FAIL: a hard rule failed.
* UNKNOWN: no hard rule failed, but a hard rule could not be decided and its policy says
  ``block``; this blocks a release just like FAIL (absence of evidence is not evidence of
  safety).

Each rule ends in one of five outcomes:

* ``pass``: the pessimistic end of the interval (or the value) meets the threshold;
* ``fail``: the point estimate itself misses the threshold and its interval excludes the
  baseline (what unseen real rows score): evidence against the rule;
* ``insufficient``: the value meets the threshold but the pessimistic end does not, or the
  value misses but the interval still holds the baseline: the audit had too few rows to
  decide. Never reported as a failure;
* ``unknown``: the metric could not be computed; the advice says why and what would make it
  computable;
* ``not_applicable``: the metric does not apply (no sensitive column) and the rule allows it.

``privacy.epsilon`` and ``privacy.delta`` come from the privacy ledger (a generator trained
without DP has epsilon = infinity), else from the epsilon the audit was told was claimed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..audit.catalog import CATALOG
from ..audit.results import AuditReport
from .model import BASELINE, CLAIMED_EPSILON, JudgeOn, OnMissing, ReleasePolicy, Rule

__all__ = ["GateDecision", "Outcome", "RuleOutcome", "Verdict", "evaluate_policy", "rule_lines"]


class Verdict(StrEnum):
    PASS = "PASS"
    CONDITIONAL = "CONDITIONAL"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"

    @property
    def blocks(self) -> bool:
        """FAIL and UNKNOWN block a release."""
        return self in (Verdict.FAIL, Verdict.UNKNOWN)


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    INSUFFICIENT = "insufficient"
    NOT_APPLICABLE = "not_applicable"

    @property
    def undecided(self) -> bool:
        """Unknown or insufficient: the rule could not be decided either way."""
        return self in (Outcome.UNKNOWN, Outcome.INSUFFICIENT)


#: Display order: failures first, then what could not be decided, then what holds.
OUTCOME_ORDER = {"fail": 0, "unknown": 1, "insufficient": 2, "pass": 3, "not_applicable": 4}


def _advice(rule: Rule, outcome: Outcome = Outcome.FAIL, reason: str | None = None) -> str:
    if outcome is Outcome.UNKNOWN:
        how = CATALOG[rule.metric].computable
        why = f"{rule.metric} could not be computed ({reason or 'no reason given'})"
        return f"{why}; to make it computable: {how}" if how else why
    if outcome is Outcome.INSUFFICIENT:
        return (
            "not enough rows to decide: the value meets the threshold but its interval reaches past it; audit with "
            "more holdout rows (and more synthetic rows: tabsynth audit --model DIR --n-rows N samples them), "
            "or judge this rule on the value (judge_on: value) if the policy owner accepts that"
        )
    return rule.advice or CATALOG[rule.metric].fix


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOutcome:
    """How one rule fared: the numbers it was judged on and the result."""

    rule: Rule
    outcome: Outcome
    value: float | None
    ci: tuple[float, float] | None
    judged_value: float | None
    threshold: float | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        judged_on = "value"
        if self.rule.judge_on is JudgeOn.PESSIMISTIC and self.ci is not None:
            judged_on = "ci_lower" if self.rule.bound == "min" else "ci_upper"
        failed = self.outcome in (Outcome.FAIL, Outcome.UNKNOWN, Outcome.INSUFFICIENT)
        return {
            "metric": self.rule.metric,
            "bound": self.rule.bound,
            "threshold": _finite(self.threshold),
            "threshold_spec": self.rule.threshold,
            "factor": self.rule.factor,
            "margin": self.rule.margin,
            "hard": self.rule.hard,
            "on_unknown": self.rule.on_unknown.value,
            "on_insufficient": self.rule.on_insufficient.value,
            "judged_on": judged_on,
            "value": _finite(self.value),
            "ci": None if self.ci is None else list(self.ci),
            "judged_value": _finite(self.judged_value),
            "outcome": self.outcome.value,
            "rationale": self.rule.rationale,
            "reason": self.reason,
            "advice": _advice(self.rule, self.outcome, self.reason) if failed else None,
        }

    @property
    def summary(self) -> str:
        """One line, e.g. ``privacy.mia_auc = 0.71 (judged 0.73) > max 0.55 [hard]``."""
        kind = "hard" if self.rule.hard else "soft"
        if self.outcome is Outcome.NOT_APPLICABLE:
            return f"{self.rule.metric}: not applicable ({self.reason}) [{kind}]"
        if self.outcome is Outcome.UNKNOWN or self.judged_value is None or self.threshold is None:
            return f"{self.rule.metric}: could not be judged ({self.reason}) [{kind}]"
        op = ">=" if self.rule.bound == "min" else "<="
        shown = "inf" if math.isinf(self.judged_value) else f"{self.judged_value:.4g}"
        tail = " (not enough rows to decide)" if self.outcome is Outcome.INSUFFICIENT else ""
        return f"{self.rule.metric}: {shown} must be {op} {self.threshold:.4g} [{kind}]{tail}"


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


@dataclass(frozen=True, slots=True, kw_only=True)
class GateDecision:
    """The verdict and every rule's outcome. ``released`` says whether the output was let out."""

    verdict: Verdict
    outcomes: tuple[RuleOutcome, ...]
    policy: ReleasePolicy
    released: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: the audit judged and the privacy card, kept for the notebook display only (not in to_dict)
    audit: AuditReport | None = field(default=None, repr=False, compare=False)
    privacy: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def blocks(self) -> bool:
        return self.verdict.blocks or (self.verdict is Verdict.CONDITIONAL and not self.policy.release_on_conditional)

    @property
    def failures(self) -> tuple[RuleOutcome, ...]:
        """Rules that failed or could not be decided."""
        return tuple(o for o in self.outcomes if o.outcome is Outcome.FAIL or o.outcome.undecided)

    def with_released(self, released: bool) -> GateDecision:
        return GateDecision(
            verdict=self.verdict,
            outcomes=self.outcomes,
            policy=self.policy,
            released=released,
            notes=self.notes,
            audit=self.audit,
            privacy=self.privacy,
        )

    def _repr_html_(self) -> str:
        """The notebook display: the verdict, one line per rule, then the audit with the report's figures."""
        from ..report.notebook import notebook_html  # the report formats decisions; loaded only when shown

        return notebook_html(self.audit, decision=self.to_dict(), privacy=self.privacy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "released": self.released,
            "blocks": self.blocks,
            "policy": {
                "name": self.policy.name,
                "description": self.policy.description,
                "path": self.policy.source,
                "sha256": self.policy.sha256,
            },
            "rules": [o.to_dict() for o in self.outcomes],
            "lines": rule_lines([o.to_dict() for o in self.outcomes]),
            "notes": list(self.notes),
        }


def _worst(rules: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    return min(rules, key=lambda r: (OUTCOME_ORDER.get(str(r["outcome"]), 9), not r["hard"]))


def rule_lines(rules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One line per metric (a hard and a soft rule on the same metric share it), failures first.

    Each line has the metric, its value and interval, the worst outcome (a hard rule's ranks
    before a soft one's), and ``thresholds``: each rule's bound, threshold, kind, judged value
    and outcome, hard first. The CLI and the report both print these lines.
    """
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for rule in rules:
        by_metric.setdefault(str(rule["metric"]), []).append(rule)
    lines = []
    for metric, group in by_metric.items():
        worst = _worst(group)
        known = next((r for r in group if r.get("value") is not None), group[0])
        lines.append(
            {
                "metric": metric,
                "value": known.get("value"),
                "ci": known.get("ci"),
                "outcome": worst["outcome"],
                "hard": any(r["outcome"] == worst["outcome"] and r["hard"] for r in group),
                "reason": worst.get("reason"),
                "advice": worst.get("advice"),
                "rationale": group[0].get("rationale"),
                "thresholds": [
                    {
                        k: r.get(k)
                        for k in ("bound", "threshold", "threshold_spec", "factor", "margin", "hard")
                        + ("judged_on", "judged_value", "outcome", "rationale")
                    }
                    for r in sorted(group, key=lambda r: not r["hard"])
                ],
            }
        )
    return sorted(lines, key=lambda line: (OUTCOME_ORDER.get(str(line["outcome"]), 9), not line["hard"]))


@dataclass(frozen=True, slots=True)
class _Measured:
    """The numbers a rule is judged on (``value`` may be infinite: epsilon without DP)."""

    value: float
    ci: tuple[float, float] | None = None
    baseline: float | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class _Missing:
    reason: str
    not_applicable: bool = False


def _ledger_value(key: str, audit: AuditReport, privacy: Mapping[str, Any] | None) -> _Measured | _Missing:
    """``epsilon`` / ``delta`` from the ledger, else the values the audit was told were claimed."""
    source = privacy if privacy is not None else audit.meta.get("privacy")
    if isinstance(source, Mapping):
        if key == "epsilon" and source.get("is_dp") is False:
            return _Measured(
                math.inf, note="the generator was trained without differential privacy (epsilon is infinite)"
            )
        if source.get(key) is not None:
            return _Measured(float(source[key]))
    claimed = audit.meta.get(f"{key}_claimed")
    if claimed is not None:
        return _Measured(float(claimed))
    return _Missing(f"no privacy ledger and no claimed {key} were given with the audit")


def _measure(rule: Rule, audit: AuditReport, privacy: Mapping[str, Any] | None) -> _Measured | _Missing:
    if rule.metric in ("privacy.epsilon", "privacy.delta"):
        return _ledger_value(rule.metric.split(".")[1], audit, privacy)
    if rule.metric not in audit:
        return _Missing(f"the audit has no metric {rule.metric!r} (audited with an older tabsynth?)")
    metric = audit[rule.metric]
    if not metric.is_ok or metric.value is None:
        return _Missing(metric.reason or "not computed", bool(metric.details.get("not_applicable")))
    return _Measured(metric.value, metric.ci, metric.baseline)


def _threshold(rule: Rule, measured: _Measured, audit: AuditReport, privacy: Mapping[str, Any] | None) -> float | str:
    """The rule's threshold as a number, or why it cannot be known."""
    if rule.threshold == BASELINE:
        if measured.baseline is None:
            return f"{rule.metric} has no baseline to compare with"
        return rule.factor * measured.baseline + rule.margin
    if rule.threshold == CLAIMED_EPSILON:
        claimed = _ledger_value("epsilon", audit, privacy)
        return claimed.reason if isinstance(claimed, _Missing) else claimed.value + rule.margin
    return float(rule.threshold)


def _judge(rule: Rule, audit: AuditReport, privacy: Mapping[str, Any] | None) -> RuleOutcome:
    measured = _measure(rule, audit, privacy)
    unknown = {"value": None, "ci": None, "judged_value": None, "threshold": None}
    if isinstance(measured, _Missing):
        outcome = Outcome.NOT_APPLICABLE if measured.not_applicable and rule.allow_not_applicable else Outcome.UNKNOWN
        return RuleOutcome(rule=rule, outcome=outcome, reason=measured.reason, **unknown)
    threshold = _threshold(rule, measured, audit, privacy)
    if isinstance(threshold, str):
        return RuleOutcome(rule=rule, outcome=Outcome.UNKNOWN, reason=threshold, **unknown)
    judged = measured.value
    if rule.judge_on is JudgeOn.PESSIMISTIC and measured.ci is not None:
        judged = measured.ci[0] if rule.bound == "min" else measured.ci[1]

    def meets(number: float) -> bool:
        return number >= threshold if rule.bound == "min" else number <= threshold

    # only the interval misses: too few rows to show the rule holds. The value misses too, but the
    # interval still holds what real rows score (the baseline): no evidence either way. Otherwise: fail.
    baseline_inside = (
        rule.judge_on is JudgeOn.PESSIMISTIC
        and measured.ci is not None
        and measured.baseline is not None
        and measured.ci[0] <= measured.baseline <= measured.ci[1]
    )
    if meets(judged):
        outcome = Outcome.PASS
    elif meets(measured.value) or baseline_inside:
        outcome = Outcome.INSUFFICIENT
    else:
        outcome = Outcome.FAIL
    return RuleOutcome(
        rule=rule,
        outcome=outcome,
        value=measured.value,
        ci=measured.ci,
        judged_value=judged,
        threshold=threshold,
        reason=measured.note,
    )


def _blocks_undecided(outcome: RuleOutcome) -> bool:
    """A hard rule that could not be decided and whose policy says ``block``."""
    if not outcome.rule.hard:
        return False
    if outcome.outcome is Outcome.UNKNOWN:
        return outcome.rule.on_unknown is OnMissing.BLOCK
    return outcome.outcome is Outcome.INSUFFICIENT and outcome.rule.on_insufficient is OnMissing.BLOCK


def _verdict(outcomes: tuple[RuleOutcome, ...]) -> Verdict:
    if any(o.outcome is Outcome.FAIL and o.rule.hard for o in outcomes):
        return Verdict.FAIL
    if any(_blocks_undecided(o) for o in outcomes):
        return Verdict.UNKNOWN
    if any(o.outcome is Outcome.FAIL or o.outcome.undecided for o in outcomes):
        return Verdict.CONDITIONAL
    return Verdict.PASS


def evaluate_policy(
    policy: ReleasePolicy, audit: AuditReport, *, privacy: Mapping[str, Any] | None = None
) -> GateDecision:
    """Judge ``audit`` (and the privacy ledger ``privacy``, a ``PrivacyLedger.to_dict()``) against ``policy``.

    Example:
        >>> decision = evaluate_policy(load_policy("partner"), report, privacy=ledger.to_dict())  # doctest: +SKIP
        >>> decision.verdict  # doctest: +SKIP
        <Verdict.PASS: 'PASS'>
    """
    outcomes = tuple(_judge(rule, audit, privacy) for rule in policy.rules)
    return GateDecision(verdict=_verdict(outcomes), outcomes=outcomes, policy=policy, audit=audit, privacy=privacy)
