"""Sensitive-group labels for per-group breakdowns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._data import MISSING_LABEL, AuditData, Kind

_N_NUMERIC_BINS = 4


def _coarse(value: float) -> float:
    """``value`` rounded to two significant digits: a public grid, not a data value."""
    if value == 0 or not np.isfinite(value):
        return 0.0
    digits = 1 - int(np.floor(np.log10(abs(value))))
    return float(round(value, digits))


def _format_edge(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.2g}"


def numeric_edges(data: AuditData, column: str) -> NDArray[np.float64]:
    """Inner quartile edges of a numeric sensitive column (training rows), rounded to two digits.

    The outer bins are open (``< q1``, ``>= q3``): their ends would be the training minimum
    and maximum, one person's values each; the inner edges sit on a coarse grid, so no exact
    value of the data labels a group (the audit JSON is internal, but it must not carry them).
    """
    values = data.train[column].to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.array([0.0])
    inner = np.quantile(finite, np.linspace(0, 1, _N_NUMERIC_BINS + 1)[1:-1])
    return np.unique([_coarse(v) for v in inner])


def _bin_labels(edges: NDArray[np.float64]) -> list[str]:
    """``Q1: < 28``, ``Q2: 28 to 37``, ..., ``Q4: >= 48`` (fewer when edges coincide)."""
    shown = [_format_edge(e) for e in edges]
    labels = [f"< {shown[0]}"]
    labels += [f"{shown[i]} to {shown[i + 1]}" for i in range(len(edges) - 1)]
    labels.append(f">= {shown[-1]}")
    return [f"Q{i + 1}: {label}" for i, label in enumerate(labels)]


def group_labels(data: AuditData, frame: pd.DataFrame, column: str) -> NDArray[np.object_]:
    """The group of each row: the category, or the training quartile bin of a number."""
    values = frame[column]
    if data.kinds[column] is Kind.CATEGORICAL:
        return np.asarray(values.fillna(MISSING_LABEL).astype(str), dtype=object)
    edges = numeric_edges(data, column)
    numbers = values.to_numpy(dtype=np.float64)
    slot = np.searchsorted(edges, numbers, side="right")  # 0: below the first edge
    labels = _bin_labels(edges)
    out = np.asarray([labels[min(int(s), len(labels) - 1)] for s in slot], dtype=object)
    out[np.isnan(numbers)] = MISSING_LABEL
    return out


def by_group(
    data: AuditData,
    frames: dict[str, pd.DataFrame],
    compute: Callable[[dict[str, NDArray[np.bool_]]], dict[str, Any] | None],
) -> dict[str, dict[str, Any]]:
    """Apply ``compute`` to every group of every sensitive column.

    ``frames`` names the row sets whose group membership ``compute`` needs (e.g. members
    and non-members); ``compute`` receives one boolean mask per row set and returns the
    group's entry, or ``None`` to leave the group out.
    """
    out: dict[str, dict[str, Any]] = {}
    for column in data.sensitive:
        labels = {name: group_labels(data, frame, column) for name, frame in frames.items()}
        groups = sorted(set().union(*(set(v) for v in labels.values())), key=str)
        entries: dict[str, Any] = {}
        for group in groups:
            entry = compute({name: lab == group for name, lab in labels.items()})
            if entry is not None:
                entries[str(group)] = entry
        out[column] = entries
    return out


def worst_group(
    breakdown: dict[str, dict[str, Any]], value_of: Callable[[dict[str, Any]], float | None]
) -> dict[str, Any] | None:
    """The most exposed group over all sensitive columns (largest value), or ``None``."""
    best: dict[str, Any] | None = None
    for column, groups in breakdown.items():
        for group, entry in groups.items():
            value = value_of(entry)
            if value is not None and np.isfinite(value) and (best is None or value > best["value"]):
                size = entry.get("n_rows", entry.get("n_attacks"))
                best = {"column": column, "group": group, "value": float(value), "n": size}
    return best
