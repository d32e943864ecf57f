"""Disclosure control in one place: what a report, a figure or a notebook view may show of
the real rows.

Every aggregate of the real rows that leaves the audit goes through these rules (the audit's
figure data in :mod:`tabsynth.audit.figures`, the report's fairness tables in
:mod:`tabsynth.report`):

* no row and no per-row value: only counts, shares and summary statistics;
* a histogram bin holding between 1 and ``min_count - 1`` real rows is merged with its
  neighbours until every bin holds none or at least ``min_count`` (:func:`merge_sparse`);
* a category held by fewer than ``min_count`` real rows is not named (:func:`kept_categories`),
  and a missing/other share resting on 1 to ``min_count - 1`` rows is withheld
  (:func:`missing_share`);
* a sensitive group is named only when no training row or at least ``min_count`` training rows
  hold it; rarer groups are counted, not named (:func:`fairness_groups`);
* interval labels of numeric groups lose their outer edges, which are the training minimum and
  maximum, i.e. one person's values (:func:`public_group_labels`).

The partner audience sees none of the real-side figures at all (see :mod:`tabsynth.report`).
Pure pandas/numpy; imports nothing from the report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._data import MISSING_LABEL

if TYPE_CHECKING:
    from .results import AuditReport

FloatArray = NDArray[np.float64]
MAX_CATEGORIES = 25  # categories named in one figure at most

__all__ = [
    "MAX_CATEGORIES",
    "MISSING_LABEL",
    "category_labels",
    "fairness_groups",
    "kept_categories",
    "merge_sparse",
    "missing_share",
    "public_group_labels",
]


def category_labels(s: pd.Series) -> pd.Series:
    """Values as text, missing ones as ``"(missing)"`` (the labels every figure counts by)."""
    return s.astype(object).where(s.notna(), MISSING_LABEL).astype(str)


def merge_sparse(edges: FloatArray, counts: list[NDArray[np.int64]], min_count: int) -> tuple[FloatArray, list[Any]]:
    """Merge bins so that the first series (the real rows) has 0 or >= ``min_count`` rows in each.

    Left to right, a group of bins grows until it holds ``min_count`` real rows; a run of
    bin with no real row stays as it is. A sparse last group joins the one before it.
    """
    real = counts[0]
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(real)):
        if current and real[current].sum() == 0:
            groups.append(current)
            current = []
        current.append(i)
        if real[current].sum() >= min_count:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    while len(groups) > 1 and 0 < real[groups[-1]].sum() < min_count:
        last = groups.pop()
        groups[-1].extend(last)
    new_edges = np.array([edges[g[0]] for g in groups] + [edges[-1]])
    merged = [np.array([series[g].sum() for g in groups], dtype=np.int64) for series in counts]
    return new_edges, merged


def missing_share(n_missing: int, n_total: int, min_count: int, *, guarded: bool) -> float | None:
    if guarded and 0 < n_missing < min_count:
        return None
    return n_missing / n_total if n_total else 0.0


def kept_categories(reference: pd.Series, other: pd.Series | None, min_count: int) -> list[str]:
    """Categories shown by name: at least ``min_count`` reference rows (or none there and that many in ``other``)."""
    ref_counts = category_labels(reference).value_counts()
    kept = [str(c) for c, n in ref_counts.items() if n >= min_count]
    if other is not None:
        other_counts = category_labels(other).value_counts()
        kept += [str(c) for c, n in other_counts.items() if c not in ref_counts.index and n >= min_count]
    return kept[:MAX_CATEGORIES]


# ---- per-group labels and fairness groups ----------------------------------------------------
_INTERVAL = re.compile(r"\[(?P<lo>[^,\[\]()]+), (?P<hi>[^,\[\]()]+)[\])]")


def public_group_labels(labels: Sequence[str]) -> dict[str, str]:
    """Drop the outer edges of interval labels: ``[17, 28)`` -> ``< 28`` and ``[48, 90]`` -> ``>= 48``.

    The lowest and highest edges of quartile bins are the training minimum and maximum, which
    are one person's values; inner edges are quartiles. Intervals are compared by their place
    in the label, so an intersection label such as ``F & [17, 28)`` is handled too. Labels
    without intervals are kept as they are.

    Example:
        >>> public_group_labels(["[17, 28)", "[28, 90]"])
        {'[17, 28)': '< 28', '[28, 90]': '>= 28'}
    """
    found = {label: list(_INTERVAL.finditer(label)) for label in labels}
    lows: dict[int, float] = {}
    highs: dict[int, float] = {}
    try:
        for matches in found.values():
            for k, m in enumerate(matches):
                lows[k] = min(lows.get(k, math.inf), float(m["lo"]))
                highs[k] = max(highs.get(k, -math.inf), float(m["hi"]))
    except ValueError:
        return {label: label for label in labels}
    out: dict[str, str] = {}
    for label, matches in found.items():
        text, shift = label, 0
        for k, m in enumerate(matches):
            lo, hi = float(m["lo"]), float(m["hi"])
            if lo == lows[k] and hi == highs[k]:
                new = "all"
            elif lo == lows[k]:
                new = f"< {m['hi']}"
            elif hi == highs[k]:
                new = f">= {m['lo']}"
            else:
                continue
            start, end = m.start() + shift, m.end() + shift
            text = text[:start] + new + text[end:]
            shift += len(new) - (m.end() - m.start())
        out[label] = text
    return out


def _count_ok(row: Mapping[str, Any], n_train: int | None, min_count: int) -> bool:
    """Whether a group may be named: no training row (nobody to point at) or at least ``min_count``."""
    raw = row.get("real_share")
    if raw is None or n_train is None:
        return False
    share = float(raw)
    return share == 0 or share * n_train >= min_count - 1e-9


def _empty(row: Mapping[str, Any]) -> bool:
    return row.get("real_share") == 0 and row.get("synthetic_share") == 0


def fairness_groups(
    audit: AuditReport, n_train: int | None, min_count: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Representation and label-rate rows for the internal report; small groups lose their numbers.

    A small group is named only when at least ``min_count`` training rows hold it; rarer
    groups are counted, not named (a rare category's name alone can point at a person).
    """
    rep = audit["fairness.representation"] if "fairness.representation" in audit else None
    rate = audit["fairness.label_rate_gap"] if "fairness.label_rate_gap" in audit else None
    rep_rows = list(rep.details.get("groups") or ()) if rep is not None and rep.is_ok else []
    rate_rows = list(rate.details.get("groups") or ()) if rate is not None and rate.is_ok else []
    empty = {(r.get("attribute"), r.get("group")) for r in rep_rows if _empty(r)}
    rep_rows = [r for r in rep_rows if not _empty(r)]
    rate_rows = [r for r in rate_rows if (r.get("attribute"), r.get("group")) not in empty]
    nameable = {(r.get("attribute"), r.get("group")) for r in rep_rows if _count_ok(r, n_train, min_count)}
    nameable |= {(r.get("attribute"), r.get("group")) for r in rate_rows if not r.get("small")}
    nameable |= {(r.get("attribute"), r.get("group")) for r in rep_rows if not r.get("small")}
    out: dict[str, dict[str, Any]] = {}
    for kind, rows, keys in (
        ("representation", rep_rows, ("real_share", "synthetic_share", "ratio")),
        ("label_rate", rate_rows, ("real_rate", "synthetic_rate", "gap")),
    ):
        by_attr: dict[str, list[Mapping[str, Any]]] = {}
        for r in rows:
            by_attr.setdefault(str(r.get("attribute")), []).append(r)
        for attribute, group_rows in by_attr.items():
            public = public_group_labels([str(r.get("group")) for r in group_rows])
            entry = out.setdefault(
                attribute,
                {
                    "attribute": attribute,
                    "representation": [],
                    "label_rate": [],
                    "unnamed_small_groups": {"representation": 0, "label_rate": 0},
                },
            )
            for r in group_rows:
                key = (r.get("attribute"), r.get("group"))
                if key not in nameable:
                    entry["unnamed_small_groups"][kind] += 1
                    continue
                row: dict[str, Any] = {"group": public[str(r.get("group"))], "small": bool(r.get("small"))}
                if not row["small"]:
                    row.update({k: r.get(k) for k in keys})
                    if r.get("ci") is not None:
                        row["ci"] = r.get("ci")
                entry[kind].append(row)
    for entry in out.values():
        for kind, (real_key, synth_key) in (
            ("representation", ("real_share", "synthetic_share")),
            ("label_rate", ("real_rate", "synthetic_rate")),
        ):
            big = [r for r in entry[kind] if not r["small"]]
            entry[f"{kind}_chart"] = {
                "categories": [r["group"] for r in big],
                "real": [r.get(real_key) for r in big],
                "synthetic": [r.get(synth_key) for r in big],
                "small_groups": [r["group"] for r in entry[kind] if r["small"]],
            }
    positive = rate.details.get("positive_label") if rate is not None and rate.is_ok else None
    return list(out.values()), ({"positive_label": positive} if positive is not None else None)
