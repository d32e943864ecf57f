"""``constraints.violation_rate``: synthetic rows that break a constraint declared in the schema.

Constraints (:mod:`tabsynth.constraints`) are public declarations, enforced on every generated
row by construction, so 0 is the expected value. The audit counts, per constraint, the
synthetic rows that violate it, and for context (internal only) the real holdout rows that
do: a holdout violation means the declaration does not describe the real population either.

The metric's value is the share of synthetic rows that violate *at least one* declared
constraint. It is an exact count on the table being audited (the table a partner gets), so it
has no interval: a rule ``max: 0`` passes only when no row violates anything. With no
constraint declared the metric is unknown and marked ``not_applicable`` (a rule with
``allow_not_applicable: true`` passes), never a failure.

The value and the per-constraint synthetic counts depend on the synthetic table and the
public declarations alone (``synthetic_side`` in the catalog: a partner may see them); the
holdout counts and the baseline are real-data statistics for the internal audience.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..constraints import ColumnOrder, Constraint, parse_constraints
from ..schema import TableSchema
from ._util import MetricUnavailable
from .results import Direction, MetricResult

__all__ = ["CONSTRAINT_VIOLATIONS", "constraint_violations", "declared_constraints"]

CONSTRAINT_VIOLATIONS = "constraints.violation_rate"
_NOT_APPLICABLE = "no constraints are declared in the schema (not applicable)"


def declared_constraints(
    schema: TableSchema | None, constraints: Sequence[Any] | None = None
) -> tuple[Constraint, ...]:
    """The constraints to check: ``constraints`` (objects or schema mappings) and the schema's, once each.

    The internal column-order entry of a fitted model's schema is not a constraint and is dropped.

    Raises:
        SchemaError: a mapping in ``constraints`` is not a valid constraint.
    """
    found = [*(schema.constraints if schema is not None else ()), *parse_constraints(list(constraints or ()))]
    unique: dict[str, Constraint] = {}
    for constraint in found:
        if not isinstance(constraint, ColumnOrder):
            unique.setdefault(json.dumps(constraint.to_dict(), ensure_ascii=False, sort_keys=True), constraint)
    return tuple(unique.values())


def _missing(frame: pd.DataFrame, constraint: Constraint) -> list[str]:
    return [c for c in constraint.columns() if c not in frame.columns]


def constraint_violations(
    synthetic: pd.DataFrame, holdout: pd.DataFrame, constraints: Sequence[Constraint]
) -> MetricResult:
    """Per declared constraint, the synthetic and holdout rows that violate it.

    Args:
        synthetic: the synthetic table as audited (before any column is left out).
        holdout: the real holdout rows (context for the internal audience).
        constraints: the declared constraints (see :func:`declared_constraints`).

    Returns:
        ``constraints.violation_rate``: the share of synthetic rows violating at least one
        constraint; baseline: the same share of holdout rows; ``details["constraints"]``: one
        entry per constraint (its schema form, type, columns, counts and shares on both sides).

        With no constraint, an unknown result marked ``not_applicable``.

    Raises:
        MetricUnavailable: a constraint names a column the synthetic table lacks.

    Example:
        >>> from tabsynth.constraints import Range
        >>> frame = pd.DataFrame({"age": [10, 130, 50, -1]})
        >>> constraint_violations(frame, frame, [Range("age", 0, 120)]).value
        0.5
    """
    if not constraints:
        return MetricResult.unknown(
            CONSTRAINT_VIOLATIONS, Direction.LOWER_IS_BETTER, _NOT_APPLICABLE, details={"not_applicable": True}
        )
    lacking = {json.dumps(c.to_dict(), ensure_ascii=False): _missing(synthetic, c) for c in constraints}
    lacking = {name: cols for name, cols in lacking.items() if cols}
    if lacking:
        listed = "; ".join(f"{name} needs {cols}" for name, cols in lacking.items())
        raise MetricUnavailable(f"the synthetic table lacks columns that declared constraints name ({listed})")
    any_synthetic = np.zeros(len(synthetic), dtype=bool)
    any_holdout = np.zeros(len(holdout), dtype=bool)
    rows = []
    for constraint in constraints:
        synthetic_mask = np.asarray(constraint.violating(synthetic), dtype=bool)
        any_synthetic |= synthetic_mask
        entry: dict[str, Any] = {
            "constraint": json.dumps(constraint.to_dict(), ensure_ascii=False),
            "type": constraint.type,
            "columns": list(constraint.columns()),
            "synthetic_violations": int(synthetic_mask.sum()),
            "synthetic_rate": float(synthetic_mask.mean()) if len(synthetic) else 0.0,
            "holdout_violations": None,
            "holdout_rate": None,
        }
        if not _missing(holdout, constraint):
            holdout_mask = np.asarray(constraint.violating(holdout), dtype=bool)
            any_holdout |= holdout_mask
            entry["holdout_violations"] = int(holdout_mask.sum())
            entry["holdout_rate"] = float(holdout_mask.mean()) if len(holdout) else 0.0
        rows.append(entry)
    holdout_checked = all(r["holdout_violations"] is not None for r in rows)
    return MetricResult(
        name=CONSTRAINT_VIOLATIONS,
        value=float(any_synthetic.mean()) if len(synthetic) else 0.0,
        direction=Direction.LOWER_IS_BETTER,
        baseline=float(any_holdout.mean()) if holdout_checked and len(holdout) else None,
        details={
            "constraints": rows,
            "n_constraints": len(rows),
            "synthetic_rows_violating": int(any_synthetic.sum()),
            "holdout_rows_violating": int(any_holdout.sum()) if holdout_checked else None,
            "n_synthetic": len(synthetic),
            "n_holdout": len(holdout),
        },
    )
