"""The metric catalog: one entry per metric, read by the runner, the policy schema, the gate and the report.

Each :class:`MetricInfo` says which way the metric improves, the range a policy threshold may
take, a plain-language label, how to fix a failure and what makes it computable when it is
unknown. Adding a metric is one entry here plus the function that computes it (wired in
:mod:`tabsynth.audit.runner`). This module imports nothing heavy (no torch, scikit-learn or
fairlearn), so ``import tabsynth.policy`` stays light.

Example:
    >>> CATALOG["privacy.mia_auc"].direction.value
    'lower_is_better'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .results import Direction

__all__ = ["AUDIT_METRICS", "CATALOG", "LEDGER_METRICS", "MetricInfo"]

_UP, _DOWN = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER

_FIX_FIDELITY = (
    "improve fidelity: declare a public schema (no budget spent on preprocessing), train more epochs, "
    "or use a larger epsilon if the policy allows it"
)
_FIX_LEAK = (
    "reduce leakage: lower epsilon or the number of epochs, and check that the synthetic table is not a "
    "copy of (or mixed with) real rows"
)
_FIX_DOWNSTREAM = (
    "models trained on this data are less fair than models trained on the real data: sample with "
    "fair: true (target independent of the sensitive columns) if de-biased data is wanted, or raise epsilon"
)
_COMPUTE_FIDELITY = "check the target column: both the synthetic and the real rows need at least two of its classes"
_COMPUTE_LEAK = "give the audit more holdout rows (at least a few hundred) and a synthetic table of similar size"
_COMPUTE_FAIRNESS = (
    "every group compared needs fairness_min_group_rows rows on each side (and, for equalized odds, half that "
    "many of each class): lower fairness_min_group_rows in the audit config, declare a sensitive column with "
    "fewer, larger groups, or merge small groups into one (the audit pools groups below the minimum into "
    "'(other groups)')"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricInfo:
    """What everyone needs to know about one metric.

    Args:
        name: the dotted name.
        direction: which way it improves.
        low, high: the range a policy threshold may take.
        label: plain-language name for reports.
        fix: what to change when a rule on it fails.
        computable: what would make it computable when it comes back unknown.
        source: ``"audit"`` (computed by :func:`tabsynth.audit.run_audit`) or ``"ledger"``
            (read from the privacy ledger or the claims by the gate).
        synthetic_side: the value depends on the synthetic table and public declarations
            alone (no real row), so the partner report may show it.
    """

    name: str
    direction: Direction
    low: float = 0.0
    high: float = 1.0
    label: str
    fix: str
    computable: str
    source: str = "audit"
    synthetic_side: bool = False


_ENTRIES = (
    MetricInfo(
        name="fidelity.quality",
        direction=_UP,
        label="Quality score (column shapes and pair trends)",
        fix=_FIX_FIDELITY,
        computable=_COMPUTE_FIDELITY,
    ),
    MetricInfo(
        name="fidelity.tstr_auc",
        direction=_UP,
        label="Train on synthetic, test on real (AUC)",
        fix=_FIX_FIDELITY,
        computable=_COMPUTE_FIDELITY,
    ),
    MetricInfo(
        name="fidelity.trtr_auc",
        direction=_UP,
        label="Train on real, test on real (AUC)",
        fix="the real-data ceiling: nothing to fix in the synthetic table (check the target and --exclude leaks)",
        computable=_COMPUTE_FIDELITY,
    ),
    MetricInfo(
        name="fidelity.detection_auc",
        direction=_DOWN,
        label="Real-vs-synthetic detection (AUC, 0.5 ideal)",
        fix=_FIX_FIDELITY,
        computable=_COMPUTE_FIDELITY,
    ),
    MetricInfo(
        name="privacy.exact_match_rate",
        direction=_DOWN,
        label="Synthetic rows that copy a training row",
        fix=_FIX_LEAK,
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="privacy.dcr_share",
        direction=_DOWN,
        label="Closer to training than to holdout (0.5 ideal)",
        fix=_FIX_LEAK,
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="privacy.mia_auc",
        direction=_DOWN,
        label="Membership inference AUC (0.5 ideal)",
        fix=_FIX_LEAK,
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="privacy.attack_epsilon",
        direction=_DOWN,
        high=math.inf,
        label="Attack epsilon (heuristic from one run; not a DP lower bound)",
        fix=(
            "the attacks imply more distinguishability than the claimed epsilon allows (a heuristic from one run): "
            "check that the table is not mixed with real rows, check the DP training and accounting, and run "
            "tabsynth audit-dp for a valid lower bound before releasing"
        ),
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="privacy.singling_out_risk",
        direction=_DOWN,
        low=-1.0,
        label="Singling-out risk",
        fix=_FIX_LEAK,
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="privacy.linkability_risk",
        direction=_DOWN,
        low=-1.0,
        label="Linkability risk",
        fix=_FIX_LEAK,
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="privacy.inference_risk",
        direction=_DOWN,
        low=-1.0,
        label="Attribute inference risk",
        fix=_FIX_LEAK,
        computable=_COMPUTE_LEAK,
    ),
    MetricInfo(
        name="fairness.representation",
        direction=_UP,
        label="Group representation (worst ratio, 1 ideal)",
        fix=(
            "a group's share changed: declare the sensitive columns' categories in the schema, give training more "
            "budget, or merge very small groups"
        ),
        computable=_COMPUTE_FAIRNESS,
    ),
    MetricInfo(
        name="fairness.label_rate_gap",
        direction=_DOWN,
        label="Label-rate gap (worst group)",
        fix=(
            "a group's outcome rate changed (DP noise hits small groups hardest): raise epsilon within the policy, "
            "train longer, or merge very small groups"
        ),
        computable=_COMPUTE_FAIRNESS,
    ),
    MetricInfo(
        name="fairness.downstream_dp_gap",
        direction=_DOWN,
        low=-1.0,
        label="Downstream demographic parity gap (synthetic - real model)",
        fix=_FIX_DOWNSTREAM,
        computable=_COMPUTE_FAIRNESS,
    ),
    MetricInfo(
        name="fairness.downstream_eo_gap",
        direction=_DOWN,
        low=-1.0,
        label="Downstream equalized odds gap (synthetic - real model)",
        fix=_FIX_DOWNSTREAM,
        computable=_COMPUTE_FAIRNESS,
    ),
    MetricInfo(
        name="constraints.violation_rate",
        direction=_DOWN,
        label="Synthetic rows violating a declared constraint (0 expected)",
        fix=(
            "generated rows break a declared constraint, which fit enforces by construction: sample from a model "
            "fitted with this schema (tabsynth fit --schema), or check that the synthetic table was not edited or "
            "produced by another tool; the per-constraint table of the report names the constraint"
        ),
        computable=(
            "declare the constraints in the schema (constraints: [...]) and pass it to the audit (--schema), or audit "
            "the model folder (--model DIR); every column a constraint names must be in the synthetic table"
        ),
        synthetic_side=True,
    ),
    MetricInfo(
        name="privacy.epsilon",
        direction=_DOWN,
        high=math.inf,
        label="Epsilon spent (privacy ledger)",
        fix="train with a smaller epsilon (the 'epsilon' of the release config)",
        computable=(
            "give the audit the model folder (tabsynth audit --model DIR, which reads epsilon and delta from its "
            "manifest) or --epsilon-claimed"
        ),
        source="ledger",
    ),
    MetricInfo(
        name="privacy.delta",
        direction=_DOWN,
        label="Delta of the guarantee (privacy ledger)",
        fix="use a smaller delta (at most 1/n for n the number of people in the data)",
        computable="give the audit the model folder (tabsynth audit --model DIR) or --delta-claimed",
        source="ledger",
    ),
)

#: Every metric, in report order (the audit's, then the ledger's).
CATALOG: dict[str, MetricInfo] = {entry.name: entry for entry in _ENTRIES}
#: The metrics an audit computes, in report order.
AUDIT_METRICS: dict[str, MetricInfo] = {n: m for n, m in CATALOG.items() if m.source == "audit"}
#: The metrics the gate reads from the privacy ledger (or the claims).
LEDGER_METRICS: dict[str, MetricInfo] = {n: m for n, m in CATALOG.items() if m.source == "ledger"}
