"""The evaluation's offline page: a metrics table and a PR-curve plot in inline SVG (no JS, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import escape

__all__ = ["render_page"]

_COLORS = {"real_only": "#444444", "augmented": "#1f77b4", "smote": "#d62728", "class_weight": "#2ca02c"}
_LABELS = {
    "real_only": "real only",
    "augmented": "real + generated",
    "smote": "real + SMOTE-NC",
    "class_weight": "real, class weights",
}


def _pr_svg(curves: Mapping[str, Mapping[str, list[float]]], base_rate: float) -> str:
    size, left, top, bottom = 300, 48, 20, 40
    width, height = left + size + 190, top + size + bottom
    body = [f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/>']
    y0 = top + size - base_rate * size
    body.append(
        f'<line x1="{left}" x2="{left + size}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="#bbb" stroke-dasharray="4 3"/>'
    )
    for t in (0.0, 0.5, 1.0):
        body.append(f'<text x="{left + t * size:.1f}" y="{top + size + 14}" text-anchor="middle">{t:.1f}</text>')
        body.append(f'<text x="{left - 6}" y="{top + size - t * size + 4:.1f}" text-anchor="end">{t:.1f}</text>')
    body.append(f'<text x="{left + size / 2}" y="{height - 8}" text-anchor="middle" fill="#666">recall</text>')
    body.append(f'<text x="{left - 40}" y="{top - 6}" fill="#666">precision</text>')
    for i, (name, curve) in enumerate(curves.items()):
        color = _COLORS.get(name, "#000")
        pts = " ".join(
            f"{left + r * size:.1f},{top + size - p * size:.1f}"
            for r, p in zip(curve["recall"], curve["precision"], strict=True)
        )
        body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        y = top + 14 + 18 * i
        body.append(
            f'<line x1="{left + size + 12}" x2="{left + size + 32}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        body.append(f'<text x="{left + size + 38}" y="{y}">{escape(_LABELS.get(name, name))}</text>')
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="precision-recall curves" font-size="11" font-family="sans-serif">' + "".join(body) + "</svg>"
    )


def _cell(metric: Mapping[str, Any]) -> str:
    value, ci = metric.get("value"), metric.get("ci")
    if value is None:
        return "-"
    text = f"{value:.3f}"
    if ci:
        text += f' <span class="ci">[{ci[0]:.3f}, {ci[1]:.3f}]</span>'
    return text


def render_page(evaluation: Mapping[str, Any]) -> str:
    """The HTML page for an evaluation dict (as written to EVAL.json)."""
    setup = evaluation["setup"]
    rows = []
    for name in ("real_only", "augmented", "smote", "class_weight"):
        scores = evaluation[name]
        cells = "".join(f"<td>{_cell(scores[m])}</td>" for m in ("pr_auc", "roc_auc", "brier", "recall_at_precision"))
        note = f'<div class="note">{escape(scores["note"])}</div>' if scores.get("note") else ""
        rows.append(f"<tr><th>{escape(_LABELS[name])}{note}</th>{cells}</tr>")
    title = f"Augmentation check: {setup['model']} on {setup['held_out_rows']} held-out real rows"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}"
        "th{text-align:left}.ci{color:#777;font-size:90%}.note{color:#a60;font-weight:normal;font-size:85%}"
        ".rec{font-size:110%;padding:10px;background:#f4f4f4;border-left:4px solid #1f77b4}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="rec"><b>{escape(evaluation["verdict"])}</b>: {escape(evaluation["recommendation"])}</p>'
        "<table><tr><th>training table</th><th>PR AUC ↑</th><th>ROC AUC ↑</th><th>Brier ↓</th>"
        f"<th>recall at precision {evaluation['reference_precision']:.3f} ↑</th></tr>" + "".join(rows) + "</table>"
        f"<p>95% bootstrap intervals over the held-out rows ({setup['bootstrap']} resamples). "
        f"Recall is read at the precision the real-only model reaches at its 0.5 threshold.</p>"
        + _pr_svg(evaluation.get("pr_curves", {}), float(setup["held_out_minority_share"]))
        + f"<p>{escape(setup['privacy_note'])}</p></body></html>"
    )
