"""Audit a synthetic table: fidelity and privacy leakage, with baselines and confidence intervals.

Example:
    >>> from tabsynth.audit import run_audit
    >>> report = run_audit(train, synthetic, holdout=test, target="income")  # doctest: +SKIP
    >>> report["privacy.mia_auc"].ci  # doctest: +SKIP
    (0.49, 0.52)
"""

from .config import AuditConfig
from .results import AuditReport, Direction, MetricResult, MetricStatus
from .runner import METRIC_NAMES, run_audit

__all__ = ["AuditConfig", "AuditReport", "Direction", "METRIC_NAMES", "MetricResult", "MetricStatus", "run_audit"]
