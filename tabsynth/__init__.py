"""tabsynth: privacy-first synthetic tabular data.

Public names are loaded lazily (PEP 562) so that ``import tabsynth`` stays cheap and has no side
effects; ``from tabsynth import Synthesizer`` imports torch only then.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__ as __version__

_EXPORTS = {
    "ALL_ERRORS": "tabsynth.exceptions",
    "BudgetExceededError": "tabsynth.exceptions",
    "ColumnKind": "tabsynth.schema",
    "ColumnSpec": "tabsynth.schema",
    "DPTableTransformer": "tabsynth.transform",
    "GateDecision": "tabsynth.policy",
    "ReleaseConfig": "tabsynth.pipeline",
    "ReleasePolicy": "tabsynth.policy",
    "PrivacyLedger": "tabsynth.privacy",
    "PrivacyWarning": "tabsynth.exceptions",
    "SchemaError": "tabsynth.exceptions",
    "Synthesizer": "tabsynth.synthesizers",
    "TableSchema": "tabsynth.schema",
    "TabsynthError": "tabsynth.exceptions",
    "evaluate_policy": "tabsynth.policy",
    "infer_schema": "tabsynth.schema",
    "load_policy": "tabsynth.policy",
    "load_schema": "tabsynth.schema",
    "read_table": "tabsynth.io",
    "release": "tabsynth.pipeline",
    "run_audit": "tabsynth.audit",
    "split_holdout": "tabsynth.split",
    "subsample_rows": "tabsynth.split",
    "write_report": "tabsynth.report",
    "write_table": "tabsynth.io",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tabsynth' has no attribute {name!r}")
