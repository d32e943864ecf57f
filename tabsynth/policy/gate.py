"""Judge an audit against a release policy: PASS, CONDITIONAL, FAIL or UNKNOWN.

* PASS: every rule holds.
* CONDITIONAL: only soft rules failed (or could not be computed).
* FAIL: a hard rule failed.
* UNKNOWN: no hard rule failed, but a hard rule's metric could not be computed; this blocks a
  release just like FAIL (absence of evidence is not evidence of safety).

``privacy.epsilon`` and ``privacy.delta`` come from the privacy ledger (a generator trained
without DP has epsilon = infinity), else from the epsilon the audit was told was claimed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..audit.results import AuditReport
from .model import BASELINE, CLAIMED_EPSILON, JudgeOn, ReleasePolicy, Rule

__all__ = ["GateDecision", "Outcome", "RuleOutcome", "Verdict", "evaluate_policy"]


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
    NOT_APPLICABLE = "not_applicable"


_ADVICE = {
    "privacy.epsilon": "train with a smaller epsilon (the 'epsilon' of the release config)",
    "privacy.delta": "use a smaller delta (at most 1/n for n the number of people in the data)",
    "fidelity": (
        "improve fidelity: declare a public schema (no budget spent on preprocessing), train more epochs, "
        "or use a larger epsilon if the policy allows it"
    ),
    "privacy": (
        "reduce leakage: lower epsilon or the number of epochs, and check that the synthetic table is not a "
        "copy of (or mixed with) real rows"
    ),
    "privacy.empirical_epsilon_lower": (
        "an attack beat the claimed guarantee: this is a bug in training or accounting; do not release, report it"
    ),
    "fairness.representation": (
        "a group's share changed: declare the sensitive columns' categories in the schema, give training more "
        "budget, or merge very small groups"
    ),
    "fairness.label_rate_gap": (
        "a group's outcome rate changed (DP noise hits small groups hardest): raise epsilon within the policy, "
        "train longer, or merge very small groups"
    ),
    "fairness": (
        "models trained on this data are less fair than models trained on the real data: sample with "
        "fair: true (target independent of the sensitive columns) if de-biased data is wanted, or raise epsilon"
    ),
}


def _advice(rule: Rule) -> str:
    if rule.advice:
        return rule.advice
    return _ADVICE.get(rule.metric) or _ADVICE[rule.metric.split(".")[0]]


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
        failed = self.outcome in (Outcome.FAIL, Outcome.UNKNOWN)
        return {
            "metric": self.rule.metric,
            "bound": self.rule.bound,
            "threshold": _finite(self.threshold),
            "threshold_spec": self.rule.threshold,
            "hard": self.rule.hard,
            "judged_on": judged_on,
            "value": _finite(self.value),
            "ci": None if self.ci is None else list(self.ci),
            "judged_value": _finite(self.judged_value),
            "outcome": self.outcome.value,
            "rationale": self.rule.rationale,
            "reason": self.reason,
            "advice": _advice(self.rule) if failed else None,
        }

    @property
    def summary(self) -> str:
        """One line, e.g. ``privacy.mia_auc = 0.71 (judged 0.73) > max 0.55 [hard]``."""
        kind = "hard" if self.rule.hard else "soft"
        if self.outcome is Outcome.UNKNOWN or self.judged_value is None:
            return f"{self.rule.metric}: could not be judged ({self.reason}) [{kind}]"
        op = ">=" if self.rule.bound == "min" else "<="
        shown = "inf" if math.isinf(self.judged_value) else f"{self.judged_value:.4g}"
        return f"{self.rule.metric}: {shown} must be {op} {self.threshold:.4g} [{kind}]"


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

    @property
    def blocks(self) -> bool:
        return self.verdict.blocks or (self.verdict is Verdict.CONDITIONAL and not self.policy.release_on_conditional)

    @property
    def failures(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome in (Outcome.FAIL, Outcome.UNKNOWN))

    def with_released(self, released: bool) -> GateDecision:
        return GateDecision(
            verdict=self.verdict, outcomes=self.outcomes, policy=self.policy, released=released, notes=self.notes
        )

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
            "notes": list(self.notes),
        }


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
        return measured.baseline + rule.margin
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
    holds = judged >= threshold if rule.bound == "min" else judged <= threshold
    return RuleOutcome(
        rule=rule,
        outcome=Outcome.PASS if holds else Outcome.FAIL,
        value=measured.value,
        ci=measured.ci,
        judged_value=judged,
        threshold=threshold,
        reason=measured.note,
    )


def _verdict(outcomes: tuple[RuleOutcome, ...]) -> Verdict:
    hard = [o.outcome for o in outcomes if o.rule.hard]
    soft = [o.outcome for o in outcomes if not o.rule.hard]
    if Outcome.FAIL in hard:
        return Verdict.FAIL
    if Outcome.UNKNOWN in hard:
        return Verdict.UNKNOWN
    if Outcome.FAIL in soft or Outcome.UNKNOWN in soft:
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
    return GateDecision(verdict=_verdict(outcomes), outcomes=outcomes, policy=policy)
