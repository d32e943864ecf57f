"""Audit a synthetic table: fidelity and privacy leakage, with baselines and confidence intervals.

Example:
    >>> from tabsynth.audit import run_audit
    >>> report = run_audit(train, synthetic, holdout=test, target="income")  # doctest: +SKIP
    >>> report["privacy.mia_auc"].ci  # doctest: +SKIP
    (0.49, 0.52)
"""

from __future__ import annotations

from typing import Any

from .catalog import CATALOG, MetricInfo
from .config import AuditConfig
from .results import AuditReport, Direction, MetricResult, MetricStatus

__all__ = [
    "CATALOG",
    "METRIC_NAMES",
    "AuditConfig",
    "AuditReport",
    "Direction",
    "MetricInfo",
    "MetricResult",
    "MetricStatus",
    "run_audit",
]


def __getattr__(name: str) -> Any:
    # the runner imports torch, scikit-learn and fairlearn: load it only when an audit is run
    # (so ``import tabsynth.policy``, which reads results and the catalog, stays light)
    if name in ("run_audit", "METRIC_NAMES"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'tabsynth.audit' has no attribute {name!r}")
