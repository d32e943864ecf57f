"""Sensitive-group labels for per-group breakdowns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._data import MISSING_LABEL, AuditData, Kind

_N_NUMERIC_BINS = 4


def _format_edge(value: float) -> str:
    return f"{value:.6g}"


def numeric_edges(data: AuditData, column: str) -> NDArray[np.float64]:
    """Quartile edges of a numeric sensitive column, from the training rows."""
    values = data.train[column].to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.array([0.0, 1.0])
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, _N_NUMERIC_BINS + 1)))
    return edges if len(edges) > 1 else np.array([edges[0], edges[0] + 1.0])


def group_labels(data: AuditData, frame: pd.DataFrame, column: str) -> NDArray[np.object_]:
    """The group of each row: the category, or the training quartile bin of a number."""
    values = frame[column]
    if data.kinds[column] is Kind.CATEGORICAL:
        return np.asarray(values.fillna(MISSING_LABEL).astype(str), dtype=object)
    edges = numeric_edges(data, column)
    numbers = values.to_numpy(dtype=np.float64)
    slot = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, len(edges) - 2)
    labels = [
        f"[{_format_edge(edges[i])}, {_format_edge(edges[i + 1])}{']' if i == len(edges) - 2 else ')'}"
        for i in range(len(edges) - 1)
    ]
    out = np.asarray([labels[s] for s in slot], dtype=object)
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
