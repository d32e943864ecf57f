"""Aggregate plot data for the HTML report, computed once during the audit.

The report only formats what is here: :func:`figure_data` returns a JSON-serialisable mapping
of figure id to figure, and every figure says which side of the data it shows::

    {"distribution.age": {"type": "histogram", "side": "real_vs_synthetic", "title": ..., ...}, ...}

* ``real_vs_synthetic``: compares the real training rows with the synthetic ones; for
  internal readers only.
* ``synthetic_only``: made from the synthetic rows alone; fine to show a partner who gets
  the synthetic table anyway.
* ``dp_released``: statistics released under differential privacy (none is made here; the
  value is reserved for the release pipeline).

What is never stored, so that no real record can be read back from a report (the rules live in
:mod:`tabsynth.audit.disclosure`, shared with the report's fairness tables):

* no row and no per-row value: only counts, shares and summary statistics;
* numeric histogram edges lie on a "nice" grid (multiples of 1, 2, 2.5 or 5 times a power
  of ten) spanning the pooled 0.5%-99.5% range, so an edge is never a row's exact value;
* a histogram bin holding between 1 and ``min_count - 1`` real rows is **merged** with its
  neighbours (bins become wider) until every bin holds none or at least ``min_count`` real
  rows; merging keeps the totals, where suppressing would make the bars lie;
* a category with fewer than ``min_count`` real rows is merged into ``"(other)"`` before
  anything is counted (on both sides, so the bars stay comparable); a category absent from
  the real rows is kept only if the synthetic rows hold it ``min_count`` times or more;
  an ``"(other)"`` or ``"(missing)"`` share resting on 1 to ``min_count - 1`` real rows is
  stored as ``null`` and drawn as "fewer than min_count rows";
* per-group labels of numeric sensitive columns lose their outer edges (the training
  minimum and maximum): ``[17, 28)`` becomes ``< 28`` (see :func:`public_group_labels`).

Computing a figure never fails the audit: a figure that cannot be made is left out and the
reason is returned as a note.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._data import AuditData, Kind
from ._distance import nearest
from .config import AuditConfig
from .disclosure import (
    category_labels,
    kept_categories,
    merge_sparse,
    missing_share,
    public_group_labels,
)
from .privacy import MembershipScores, PrivacySamples
from .results import MetricResult

__all__ = ["OTHER_LABEL", "Side", "figure_data", "public_group_labels"]

logger = logging.getLogger(__name__)

OTHER_LABEL = "(other)"
_N_BINS = 20
_MAX_ASSOCIATION_COLUMNS = 30
_DCR_PLOT_ROWS = 2_000
_DCR_BINS = 30
_ROC_POINTS = 101
_GROUP_METRICS = {
    "privacy.exact_match_rate": ("value", "ci"),
    "privacy.dcr_share": ("value", "ci"),
    "privacy.linkability_risk": ("risk", "risk_ci"),
    "privacy.inference_risk": ("risk", "risk_ci"),
}

FloatArray = NDArray[np.float64]


class Side:
    """Which data a figure shows (plain strings, so the JSON stays plain)."""

    REAL_VS_SYNTHETIC = "real_vs_synthetic"
    SYNTHETIC_ONLY = "synthetic_only"
    DP_RELEASED = "dp_released"
    ALL = (REAL_VS_SYNTHETIC, SYNTHETIC_ONLY, DP_RELEASED)


# ---- numeric histograms ------------------------------------------------------------------------
def _nice_step(span: float, n_bins: int, *, integer: bool) -> float:
    raw = span / n_bins if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-12))
    return max(step, 1.0) if integer else step


def nice_edges(lo: float, hi: float, n_bins: int = _N_BINS, *, integer: bool = False) -> FloatArray:
    """Equal-width edges on a round grid covering ``[lo, hi]`` (never the data's own extremes)."""
    step = _nice_step(hi - lo, n_bins, integer=integer)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    if stop <= start:
        stop = start + step
    n = max(1, round((stop - start) / step))
    return np.round(start + step * np.arange(n + 1), 12)


def _shares(counts: NDArray[np.int64], total: int) -> list[float]:
    return [round(float(c) / total, 6) if total else 0.0 for c in counts]


def _robust_range(arrays: Sequence[FloatArray]) -> tuple[float, float]:
    lows = [float(np.quantile(a, 0.005)) for a in arrays if len(a)]
    highs = [float(np.quantile(a, 0.995)) for a in arrays if len(a)]
    return (min(lows), max(highs)) if lows else (0.0, 1.0)


def _histogram(
    column: str, series: Mapping[str, pd.Series], min_count: int, side: str, *, guarded_first: bool
) -> dict[str, Any]:
    """One histogram over shared nice edges; the first series is the one whose sparse bins are merged."""
    values = {name: s.to_numpy(dtype=np.float64) for name, s in series.items()}
    finite = {name: v[np.isfinite(v)] for name, v in values.items()}
    integer = all(bool(np.all(np.mod(v, 1) == 0)) for v in finite.values())
    lo, hi = _robust_range(list(finite.values()))
    edges = nice_edges(lo, hi, integer=integer)
    counts = [np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)[0].astype(np.int64) for v in finite.values()]
    n_before = len(edges) - 1
    if guarded_first:
        edges, counts = merge_sparse(edges, counts, min_count)
    return {
        "type": "histogram",
        "side": side,
        "title": f"{column}: distribution",
        "column": column,
        "edges": edges.tolist(),
        "series": {name: _shares(c, len(finite[name])) for name, c in zip(series, counts, strict=True)},
        "n_rows": {name: int(len(v)) for name, v in values.items()},
        "missing": {
            name: missing_share(int(len(values[name]) - len(finite[name])), len(values[name]), min_count, guarded=True)
            for name in series
        },
        "merged_bins": n_before - (len(edges) - 1),
        "min_count": min_count,
        "clipped_to": [float(edges[0]), float(edges[-1])],
    }


# ---- categorical bars ----------------------------------------------------------------------------
def _bars(column: str, series: Mapping[str, pd.Series], min_count: int, side: str) -> dict[str, Any]:
    """Category shares; the first series decides which categories are named, the rest go to ``(other)``."""
    names = list(series)
    others = series[names[1]] if len(names) > 1 else None
    kept = kept_categories(series[names[0]], others, min_count)
    shares: dict[str, list[float | None]] = {}
    for i, name in enumerate(names):
        labels = category_labels(series[name])
        mapped = labels.where(labels.isin(kept), OTHER_LABEL)
        counts = mapped.value_counts()
        total = len(labels)
        row: list[float | None] = [float(counts.get(c, 0)) / total if total else 0.0 for c in kept]
        n_other = int(counts.get(OTHER_LABEL, 0))
        guarded = i == 0 or len(names) == 1
        row.append(None if guarded and 0 < n_other < min_count else (n_other / total if total else 0.0))
        shares[name] = row
    if all(row[-1] == 0 for row in shares.values()):  # nothing merged: no "(other)" bar
        shares = {name: row[:-1] for name, row in shares.items()}
        categories = list(kept)
    else:
        categories = [*kept, OTHER_LABEL]
    return {
        "type": "bars",
        "side": side,
        "title": f"{column}: categories",
        "column": column,
        "categories": categories,
        "series": shares,
        "n_rows": {name: int(len(s)) for name, s in series.items()},
        "min_count": min_count,
    }


def _distributions(data: AuditData, min_count: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for column, kind in data.kinds.items():
        both = {"real": data.train[column], "synthetic": data.synthetic[column]}
        alone = {"synthetic": data.synthetic[column]}
        if kind is Kind.NUMERIC:
            out[f"distribution.{column}"] = _histogram(
                column, both, min_count, Side.REAL_VS_SYNTHETIC, guarded_first=True
            )
            out[f"synthetic_distribution.{column}"] = _histogram(
                column, alone, 1, Side.SYNTHETIC_ONLY, guarded_first=False
            )
        else:
            out[f"distribution.{column}"] = _bars(column, both, min_count, Side.REAL_VS_SYNTHETIC)
            out[f"synthetic_distribution.{column}"] = _bars(column, alone, min_count, Side.SYNTHETIC_ONLY)
    return out


# ---- associations --------------------------------------------------------------------------------
def _codes(s: pd.Series, kept: Sequence[str]) -> NDArray[np.int64]:
    labels = category_labels(s)
    index = pd.Index([*kept, OTHER_LABEL])
    codes = index.get_indexer(labels.where(labels.isin(kept), OTHER_LABEL))
    return np.asarray(codes, dtype=np.int64)


def _cramers_v(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    table = pd.crosstab(a, b).to_numpy(dtype=np.float64)
    n = table.sum()
    if n == 0 or min(table.shape) < 2:
        return 0.0
    expected = table.sum(1, keepdims=True) @ table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1.0)).sum())
    return float(math.sqrt(chi2 / (n * (min(table.shape) - 1))))


def _correlation_ratio(codes: NDArray[np.int64], values: FloatArray) -> float:
    ok = np.isfinite(values)
    codes, values = codes[ok], values[ok]
    if len(values) < 2 or np.var(values) == 0:
        return 0.0
    sums = np.bincount(codes, weights=values)
    counts = np.bincount(codes)
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    between = float((counts * (means - values.mean()) ** 2).sum())
    return float(math.sqrt(between / (np.var(values) * len(values))))


def _pearson(x: FloatArray, y: FloatArray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _association_matrix(
    frame: pd.DataFrame, data: AuditData, columns: Sequence[str], kept: Mapping[str, Sequence[str]]
) -> tuple[list[list[float]], list[list[str]]]:
    n = len(columns)
    values = np.eye(n)
    measure = [["" for _ in columns] for _ in columns]
    prepared: dict[str, Any] = {
        c: frame[c].to_numpy(dtype=np.float64) if data.kinds[c] is Kind.NUMERIC else _codes(frame[c], kept[c])
        for c in columns
    }
    for i in range(n):
        for j in range(i + 1, n):
            a, b = columns[i], columns[j]
            ka, kb = data.kinds[a], data.kinds[b]
            if ka is Kind.NUMERIC and kb is Kind.NUMERIC:
                v, m = _pearson(prepared[a], prepared[b]), "pearson"
            elif ka is Kind.CATEGORICAL and kb is Kind.CATEGORICAL:
                v, m = _cramers_v(prepared[a], prepared[b]), "cramers_v"
            else:
                cat, num = (a, b) if ka is Kind.CATEGORICAL else (b, a)
                v, m = _correlation_ratio(prepared[cat], prepared[num]), "correlation_ratio"
            values[i, j] = values[j, i] = v
            measure[i][j] = measure[j][i] = m
    return np.round(values, 4).tolist(), measure


def _associations(data: AuditData, min_count: int) -> dict[str, dict[str, Any]]:
    columns = list(data.columns)[:_MAX_ASSOCIATION_COLUMNS]
    if len(columns) < 2:
        return {}
    kept_both = {c: kept_categories(data.train[c], data.synthetic[c], min_count) for c in data.categorical}
    kept_synth = {c: kept_categories(data.synthetic[c], None, min_count) for c in data.categorical}
    real, measure = _association_matrix(data.train, data, columns, kept_both)
    synth, _ = _association_matrix(data.synthetic, data, columns, kept_both)
    synth_alone, _ = _association_matrix(data.synthetic, data, columns, kept_synth)
    difference = np.round(np.abs(np.asarray(real) - np.asarray(synth)), 4).tolist()
    note = "Pearson r for two numbers, Cramer's V for two categories, correlation ratio for a number and a category"
    return {
        "association.difference": {
            "type": "heatmap",
            "side": Side.REAL_VS_SYNTHETIC,
            "title": "Association difference |real - synthetic|",
            "columns": columns,
            "values": difference,
            "real": real,
            "synthetic": synth,
            "measure": measure,
            "range": [0.0, 1.0],
            "note": note,
        },
        "association.synthetic": {
            "type": "heatmap",
            "side": Side.SYNTHETIC_ONLY,
            "title": "Associations in the synthetic table",
            "columns": columns,
            "values": synth_alone,
            "measure": measure,
            "range": [-1.0, 1.0],
            "note": note,
        },
    }


# ---- privacy -----------------------------------------------------------------------------------
def _dcr(data: AuditData, samples: PrivacySamples) -> dict[str, dict[str, Any]]:
    """Distances (squared Euclidean, as in ``privacy.dcr_share``) of synthetic rows to the two real samples."""
    synth = data.synthetic.iloc[samples.synthetic_dcr[:_DCR_PLOT_ROWS]]
    q = data.encode(synth).euclidean()
    d_train, _ = nearest(q, data.encode(data.train.iloc[samples.train]).euclidean(), k=1)
    d_hold, _ = nearest(q, data.encode(data.holdout.iloc[samples.holdout]).euclidean(), k=1)
    d_train, d_hold = d_train[:, 0], d_hold[:, 0]
    top = float(np.quantile(np.r_[d_train, d_hold], 0.99))
    edges = nice_edges(0.0, top if top > 0 else 1.0, _DCR_BINS)
    hist = {
        name: np.histogram(np.clip(d, edges[0], edges[-1]), bins=edges)[0].astype(np.int64)
        for name, d in (("train", d_train), ("holdout", d_hold))
    }
    return {
        "privacy.dcr": {
            "type": "histogram",
            "side": Side.REAL_VS_SYNTHETIC,
            "title": "Distance of synthetic rows to their closest real row",
            "edges": edges.tolist(),
            "series": {name: _shares(c, len(q)) for name, c in hist.items()},
            "exact_copies": {"train": float((d_train == 0).mean()), "holdout": float((d_hold == 0).mean())},
            "n_synthetic_rows": len(q),
            "n_real_rows_per_side": len(samples.train),
            "distance": "squared Euclidean: (dx/range)^2 per number + 1 per mismatched category",
            "x_label": "distance to the closest real row",
        }
    }


def _roc_points(is_member: NDArray[np.bool_], score: FloatArray) -> tuple[list[float], list[float]]:
    """The ROC curve read at <= 101 false-positive rates (dense near 0, where attacks matter)."""
    order = np.argsort(-score, kind="stable")
    y = is_member[order]
    distinct = np.r_[np.flatnonzero(np.diff(score[order])), len(y) - 1]
    tps = np.r_[0, np.cumsum(y)[distinct]]
    fps = np.r_[0, np.cumsum(~y)[distinct]]
    fpr, tpr = fps / max(1, (~y).sum()), tps / max(1, y.sum())
    grid = np.unique(np.r_[0.0, np.logspace(-3, 0, 40), np.linspace(0, 1, 60)])[:_ROC_POINTS]
    at = np.searchsorted(fpr, grid, side="right") - 1
    return np.round(grid, 5).tolist(), np.round(tpr[np.clip(at, 0, len(tpr) - 1)], 5).tolist()


def _mia(scores: MembershipScores, metrics: Mapping[str, MetricResult]) -> dict[str, dict[str, Any]]:
    attacks_detail = metrics["privacy.mia_auc"].details.get("attacks", {}) if "privacy.mia_auc" in metrics else {}
    curves = {}
    for name, score in scores.attacks.items():
        fpr, tpr = _roc_points(scores.is_member, score)
        curves[name] = {"fpr": fpr, "tpr": tpr, "auc": (attacks_detail.get(name) or {}).get("auc")}
    return {
        "privacy.mia_roc": {
            "type": "roc",
            "side": Side.REAL_VS_SYNTHETIC,
            "title": "Membership inference: ROC of each attack",
            "curves": curves,
            "n_members": int(scores.is_member.sum()),
            "n_non_members": int((~scores.is_member).sum()),
        }
    }


# ---- per-group risks ---------------------------------------------------------------------------
def _group_entry(metric: str, entry: Mapping[str, Any]) -> tuple[float | None, list[float] | None]:
    if metric == "privacy.mia_auc":
        best = max(entry.values(), key=lambda a: a.get("auc") or 0.0, default=None)
        return (None, None) if best is None else (best.get("auc"), best.get("auc_ci"))
    value_key, ci_key = _GROUP_METRICS[metric]
    return entry.get(value_key), entry.get(ci_key)


def _allowed_groups(data: AuditData, column: str, min_count: int) -> set[str] | None:
    if data.kinds.get(column) is Kind.CATEGORICAL:
        return set(kept_categories(data.train[column], None, min_count))
    return None


def _group_risks(data: AuditData, metrics: Mapping[str, MetricResult], min_count: int) -> dict[str, dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for metric in ("privacy.dcr_share", "privacy.mia_auc", "privacy.exact_match_rate", *list(_GROUP_METRICS)[2:]):
        result = metrics.get(metric)
        breakdown = result.details.get("by_group") if result is not None and result.is_ok else None
        if not isinstance(breakdown, Mapping):
            continue
        for column, groups in breakdown.items():
            allowed = _allowed_groups(data, column, min_count)
            public = public_group_labels([str(g) for g in groups])
            for group, entry in groups.items():
                if allowed is not None and str(group) not in allowed:
                    continue
                value, ci = _group_entry(metric, entry)
                if value is not None:
                    rows.append(
                        {"metric": metric, "attribute": column, "group": public[str(group)], "value": value, "ci": ci}
                    )
    if not rows:
        return {}
    return {
        "privacy.group_risks": {
            "type": "intervals",
            "side": Side.REAL_VS_SYNTHETIC,
            "title": "Privacy risks per sensitive group",
            "rows": rows,
            "baseline": {
                "privacy.dcr_share": 0.5,
                "privacy.mia_auc": 0.5,
                "privacy.exact_match_rate": 0.0,
                "privacy.linkability_risk": 0.0,
                "privacy.inference_risk": 0.0,
            },
        }
    }


# ---- entry point -----------------------------------------------------------------------------
def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def figure_data(
    data: AuditData,
    *,
    config: AuditConfig,
    samples: PrivacySamples | None = None,
    scores: MembershipScores | None = None,
    metrics: Sequence[MetricResult] = (),
) -> tuple[dict[str, Any], list[str]]:
    """Every figure the report can draw, and a note for each figure that could not be made.

    Args:
        data: the prepared audit tables.
        config: the audit config (``report_min_count`` is the smallest count stored).
        samples: the privacy samples of the audit (for the DCR distributions).
        scores: the membership attack scores (for the ROC curves).
        metrics: the computed metrics (for the per-group risks).

    Returns:
        ``(figures, notes)``. ``figures`` maps a figure id to a JSON-serialisable figure with
        at least ``type``, ``side`` and ``title``; it never raises.

    Example:
        >>> figures, notes = figure_data(data, config=AuditConfig())  # doctest: +SKIP
        >>> figures["distribution.age"]["side"]  # doctest: +SKIP
        'real_vs_synthetic'
    """
    min_count = config.report_min_count
    by_name = {m.name: m for m in metrics}
    start = time.perf_counter()
    steps: list[tuple[str, Callable[[], dict[str, dict[str, Any]]]]] = [
        ("column distributions", lambda: _distributions(data, min_count)),
        ("associations", lambda: _associations(data, min_count)),
        ("per-group risks", lambda: _group_risks(data, by_name, min_count)),
    ]
    if samples is not None:
        steps.append(("DCR distributions", lambda: _dcr(data, samples)))
    if scores is not None:
        steps.append(("membership ROC curves", lambda: _mia(scores, by_name)))
    figures: dict[str, Any] = {}
    notes: list[str] = []
    for label, make in steps:
        try:
            figures.update(make())
        except Exception as error:  # a figure must never take the audit down with it
            logger.warning("report figures (%s) failed: %s", label, _reason(error))
            notes.append(f"report figures ({label}) could not be computed: {_reason(error)}")
    logger.debug("report figures took %.2f s", time.perf_counter() - start)
    return figures, notes
