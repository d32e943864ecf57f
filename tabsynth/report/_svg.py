"""Small inline-SVG plots: no JavaScript, a few kilobytes each, and they print well.

Every function takes already-aggregated numbers and returns :class:`markupsafe.Markup`; every
piece of text that reaches the SVG (column names, category labels, titles) goes through
:func:`markupsafe.escape`, so a column called ``<script>`` stays text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

__all__ = ["bar_chart", "fmt", "group_intervals", "heatmap", "histogram", "interval_chart", "pct", "plot", "roc_chart"]

_W = 560
_FONT = 11


def fmt(value: Any, digits: int = 3) -> str:
    """A number for people: ``-`` for missing, 3 decimals below 10, 3 significant digits above."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.2g}"
    if abs(value) >= 10:
        return f"{value:.{max(digits - 2, 0)}f}" if abs(value) < 100 else f"{value:.0f}"
    return f"{value:.{digits}f}"


def _num(value: float) -> str:
    return f"{value:.4g}"


def pct(value: float | None) -> str:
    """A share for people: ``12.5%``, ``<0.1%`` for a tiny non-zero one, ``-`` for missing."""
    if value is None:
        return "-"
    return "<0.1%" if 0 < value < 0.001 else f"{100 * value:.1f}%"


_pct = pct


def _tick(value: float) -> str:
    """A short axis label: 250k, 1.5M, 0.25."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}"


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", extra: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}{extra}>{escape(text)}</text>'


def _clip(label: str, n: int = 22) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _svg(width: float, height: float, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="plot" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}" '
        f'font-size="{_FONT}">' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" class="s{i}"/>')
        out.append(_text(x + 14, y, name))
        x += 24 + 7 * len(name)
    return out


def histogram(fig: Mapping[str, Any]) -> Markup:
    """Bars over (possibly unequal) bins, one colour per series, height = share / bin width."""
    edges: list[float] = list(fig["edges"])
    series: dict[str, list[float]] = dict(fig["series"])
    names = list(series)
    left, right, top, bottom = 46, 12, 22, 40
    height = 190
    pw, ph = _W - left - right, height - top - bottom
    lo, hi = edges[0], edges[-1]
    span = hi - lo if hi > lo else 1.0
    widths = [max(b - a, 1e-12) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    dens = {n: [s / w for s, w in zip(series[n], widths, strict=True)] for n in names}
    peak = max((d for v in dens.values() for d in v), default=0.0) or 1.0
    body = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="frame"/>']
    k = len(names)
    for b, (a, w) in enumerate(zip(edges[:-1], widths, strict=True)):
        x0 = left + (a - lo) / span * pw
        bw = w / span * pw
        for i, name in enumerate(names):
            h = dens[name][b] / peak * ph
            x = x0 + bw * i / k
            share = series[name][b]
            body.append(
                f'<rect x="{x:.2f}" y="{top + ph - h:.2f}" width="{max(bw / k - 0.6, 0.6):.2f}" '
                f'height="{h:.2f}" class="s{i}"><title>{escape(name)}: {_pct(share)} in '
                f"[{_num(a)}, {_num(a + w)})</title></rect>"
            )
    ticks: list[float] = []
    for e in edges:  # at most ~7 labels, at least a seventh of the axis apart
        if not ticks or (e - ticks[-1]) / span >= 1 / 7:
            ticks.append(e)
    if ticks[-1] != edges[-1]:  # always label the right end; it replaces a tick too close to it
        ticks[-1 if len(ticks) > 1 else len(ticks) :] = [edges[-1]]
    for e in ticks:
        x = left + (e - lo) / span * pw
        anchor = "end" if e == edges[-1] else "start" if e == edges[0] else "middle"
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}" class="axis"/>')
        body.append(_text(x, top + ph + 15, _tick(e), anchor=anchor))
    body.append(_text(left - 6, top + 10, "density", anchor="end", cls="muted"))
    if fig.get("x_label"):
        body.append(_text(left + pw / 2, height - 6, str(fig["x_label"]), anchor="middle", cls="muted"))
    copies = fig.get("exact_copies")
    if copies:
        text = "exact copies (distance 0): " + ", ".join(f"{n} {_pct(v)}" for n, v in copies.items())
        body.append(_text(left + pw, top - 8, text, anchor="end", cls="muted"))
    missing = fig.get("missing") or {}
    if any(v != 0 for v in missing.values()):
        text = "missing: " + ", ".join(
            f"{n} {'< ' + str(fig.get('min_count', 10)) + ' rows' if v is None else _pct(v)}"
            for n, v in missing.items()
        )
        body.append(_text(left, height - 6, text, cls="muted"))
    body += _legend(names, left + 4, 14)
    return _svg(_W, height, body, str(fig.get("title", "histogram")))


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    percent: bool = True,
    none_text: str = "fewer than 10 rows",
    x_max: float | None = None,
) -> Markup:
    """Horizontal grouped bars, one row per category; ``None`` is drawn as ``none_text``."""
    names = list(series)
    k = max(1, len(names))
    bar_h, gap = 9, 7
    row_h = k * bar_h + gap
    left, right, top = 200, 60, 22
    height = top + row_h * len(categories) + 10
    pw = _W - left - right
    peak = x_max or max((v for s in series.values() for v in s if v is not None), default=0.0) or 1.0
    body = _legend(names, left, 14) if len(names) > 1 else []
    for r, cat in enumerate(categories):
        y0 = top + r * row_h
        body.append(_text(left - 6, y0 + k * bar_h / 2 + 4, _clip(str(cat), 30), anchor="end"))
        for i, name in enumerate(names):
            v = series[name][r]
            y = y0 + i * bar_h
            if v is None:
                if i > 0 and series[names[0]][r] is None:
                    continue  # said once per row
                body.append(_text(left + 4, y + bar_h - 1, none_text, cls="muted small"))
                continue
            w = max(min(v, peak), 0.0) / peak * pw
            shown = _pct(v) if percent else fmt(v)
            body.append(
                f'<rect x="{left}" y="{y:.1f}" width="{w:.2f}" height="{bar_h - 1}" class="s{i}">'
                f"<title>{escape(str(cat))}, {escape(name)}: {escape(shown)}</title></rect>"
            )
            body.append(_text(left + w + 4, y + bar_h - 1, shown, cls="small"))
    return _svg(_W, height, body, title)


def _color(value: float, lo: float, hi: float) -> str:
    """White to red for a [0, 1] scale; blue-white-red for a signed one."""
    if lo < 0:
        t = max(-1.0, min(1.0, value / max(abs(lo), abs(hi))))
        r, g, b = (255, int(255 * (1 - t)), int(255 * (1 - t))) if t >= 0 else (int(255 * (1 + t)),) * 2 + (255,)
        return f"rgb({r},{g},{b})"
    t = max(0.0, min(1.0, (value - lo) / (hi - lo or 1.0)))
    return f"rgb(255,{int(255 * (1 - 0.85 * t))},{int(255 * (1 - t))})"


def heatmap(fig: Mapping[str, Any]) -> Markup:
    """A square matrix of pairwise values with row and column labels."""
    columns = [str(c) for c in fig["columns"]]
    values: list[list[float]] = fig["values"]
    lo, hi = (fig.get("range") or [0.0, 1.0])[:2]
    n = len(columns)
    cell = max(10.0, min(26.0, 420.0 / max(n, 1)))
    left, top = 130, 110
    width, height = left + cell * n + 20, top + cell * n + 30
    body = []
    for j, col in enumerate(columns):
        x = left + (j + 0.5) * cell
        body.append(_text(x, top - 6, _clip(col, 16), extra=f' transform="rotate(-55 {x:.1f} {top - 6})"'))
    measure = fig.get("measure")
    for i, row_name in enumerate(columns):
        y = top + i * cell
        body.append(_text(left - 6, y + cell / 2 + 4, _clip(row_name, 20), anchor="end"))
        for j, v in enumerate(values[i]):
            how = f" ({measure[i][j]})" if measure and measure[i][j] else ""
            body.append(
                f'<rect x="{left + j * cell:.1f}" y="{y:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
                f'fill="{_color(v, lo, hi)}" class="cell"><title>{escape(row_name)} × {escape(columns[j])}: '
                f"{fmt(v)}{escape(how)}</title></rect>"
            )
    body.append(
        _text(left, height - 8, f"scale: {fmt(lo)} (white{'/blue' if lo < 0 else ''}) to {fmt(hi)} (red)", cls="muted")
    )
    return _svg(width, height, body, str(fig.get("title", "heatmap")))


def roc_chart(fig: Mapping[str, Any]) -> Markup:
    """ROC curves of the membership attacks, with the chance diagonal."""
    size, left, top, bottom = 230, 44, 24, 36
    width, height = left + size + 210, top + size + bottom
    body = [
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" class="frame"/>',
        f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top}" class="chance"/>',
    ]
    names = []
    for i, (name, curve) in enumerate(dict(fig["curves"]).items()):
        pts = " ".join(
            f"{left + f * size:.1f},{top + size - t * size:.1f}"
            for f, t in zip(curve["fpr"], curve["tpr"], strict=True)
        )
        body.append(f'<polyline points="{pts}" class="line l{i}"/>')
        names.append(f"{name} (AUC {fmt(curve.get('auc'))})")
    for t in (0.0, 0.5, 1.0):
        body.append(_text(left + t * size, top + size + 14, fmt(t, 1), anchor="middle"))
        body.append(_text(left - 5, top + size - t * size + 4, fmt(t, 1), anchor="end"))
    body.append(_text(left + size / 2, height - 6, "false-positive rate", anchor="middle", cls="muted"))
    body.append(_text(left - 30, top - 8, "true-positive rate", cls="muted"))
    for i, name in enumerate(names):
        y = top + 16 + 18 * i
        body.append(
            f'<line x1="{left + size + 14}" x2="{left + size + 34}" y1="{y - 4}" y2="{y - 4}" class="line l{i}"/>'
        )
        body.append(_text(left + size + 40, y, name))
    return _svg(width, height, body, str(fig.get("title", "ROC")))


def interval_chart(rows: Sequence[Mapping[str, Any]], *, title: str, reference: float | None = None) -> Markup:
    """A dot per row with its interval as a whisker; rows: ``label``, ``value``, ``ci``, optional ``reference``."""
    shown = [r for r in rows if r.get("value") is not None]
    points = [float(r["value"]) for r in shown] + [float(x) for r in shown for x in (r.get("ci") or [])]
    points += [float(r["reference"]) for r in shown if r.get("reference") is not None]
    if reference is not None:
        points.append(reference)
    lo, hi = (min(points), max(points)) if points else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or 0.05
    lo, hi = lo - pad, hi + pad
    left, right, top, row_h = 200, 60, 16, 20
    height = top + row_h * max(len(shown), 1) + 28
    pw = _W - left - right

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    body = [f'<rect x="{left}" y="{top - 8}" width="{pw}" height="{row_h * max(len(shown), 1) + 4}" class="frame"/>']
    if reference is not None:
        body.append(
            f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="{top - 8}" '
            f'y2="{top + row_h * len(shown) - 4}" class="ref"/>'
        )
    for i, r in enumerate(shown):
        y = top + i * row_h + 4
        body.append(_text(left - 6, y + 4, _clip(str(r["label"]), 30), anchor="end"))
        if r.get("ci"):
            a, b = (float(c) for c in r["ci"])
            body.append(f'<line x1="{x(a):.1f}" x2="{x(b):.1f}" y1="{y}" y2="{y}" class="whisker"/>')
        if r.get("reference") is not None:
            rx = x(float(r["reference"]))
            body.append(f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="{y - 6}" y2="{y + 6}" class="ref"/>')
        ci = "" if not r.get("ci") else f" [{fmt(r['ci'][0])}, {fmt(r['ci'][1])}]"
        body.append(
            f'<circle cx="{x(float(r["value"])):.1f}" cy="{y}" r="4" class="dot">'
            f"<title>{escape(str(r['label']))}: {fmt(r['value'])}{ci}</title></circle>"
        )
        body.append(_text(_W - right + 6, y + 4, fmt(r["value"]), cls="small"))
    axis_y = top + row_h * max(len(shown), 1) + 10
    for v in (lo + pad, (lo + hi) / 2, hi - pad):
        body.append(_text(x(v), axis_y, fmt(v), anchor="middle", cls="muted"))
    return _svg(_W, height, body, title)


def group_intervals(fig: Mapping[str, Any]) -> Markup:
    """One interval chart per metric of a per-group breakdown (the metrics have different scales)."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for r in fig["rows"]:
        label = f"{r['attribute']} = {r['group']}"
        by_metric.setdefault(str(r["metric"]), []).append({"label": label, "value": r["value"], "ci": r["ci"]})
    baselines = fig.get("baseline") or {}
    charts = [
        Markup('<div class="subplot"><h4>')
        + escape(metric)
        + Markup("</h4>")
        + interval_chart(rows, title=f"{metric} per group", reference=baselines.get(metric))
        + Markup("</div>")
        for metric, rows in by_metric.items()
    ]
    return Markup('<div class="grid">') + Markup("").join(charts) + Markup("</div>")


def plot(fig: Mapping[str, Any]) -> Markup:
    """Draw one audit figure by its ``type``."""
    kind = fig.get("type")
    if kind == "histogram":
        return histogram(fig)
    if kind == "bars":
        return bar_chart(
            fig["categories"],
            fig["series"],
            title=str(fig.get("title", "")),
            none_text=f"fewer than {fig.get('min_count', 10)} rows",
        )
    if kind == "heatmap":
        return heatmap(fig)
    if kind == "roc":
        return roc_chart(fig)
    if kind == "intervals":
        return group_intervals(fig)
    return Markup(f'<p class="muted">Figure type {escape(str(kind))} cannot be drawn by this version.</p>')
