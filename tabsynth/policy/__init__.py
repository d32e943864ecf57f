"""Release policies (YAML rules) and the gate that judges an audit against them.

Example:
    >>> from tabsynth.policy import evaluate_policy, load_policy
    >>> decision = evaluate_policy(load_policy("partner"), report, privacy=ledger)  # doctest: +SKIP
    >>> decision.verdict.value  # doctest: +SKIP
    'PASS'
"""

from .gate import GateDecision, Outcome, RuleOutcome, Verdict, evaluate_policy
from .model import BUILTIN_POLICIES, METRICS, ReleasePolicy, Rule, load_policy

__all__ = [
    "BUILTIN_POLICIES",
    "METRICS",
    "GateDecision",
    "Outcome",
    "ReleasePolicy",
    "Rule",
    "RuleOutcome",
    "Verdict",
    "evaluate_policy",
    "load_policy",
]
