"""What a fitted synthesizer learned, in text (``Synthesizer.summary()``) and in a notebook (HTML).

Everything shown is either public (the schema, the declared constraints) or already released
with the model (DP estimates: the noisy row count, DP bounds and discovered categories, the
ledger). Nothing here reads the private table.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["describe", "synthesizer_html", "synthesizer_summary"]


def _column_notes(synth: Any) -> list[dict[str, str]]:
    schema = synth.transformer_.schema_
    encoders = {e.name: e for e in synth.transformer_.encoders_}
    roles = {schema.target: "target", **dict.fromkeys(schema.sensitive, "sensitive")}
    rows = []
    for spec in schema.columns:
        enc = encoders.get(spec.name)
        if enc is None:
            handling = spec.handling.value if spec.handling is not None else "drop"
            note = f"never modelled ({handling})"
        elif hasattr(enc, "categories"):
            n = len(enc.categories)
            note = (
                f"{n} categories declared (public)" if spec.categories is not None else f"{n} categories found with DP"
            )
            if getattr(enc, "has_other", False):
                note += ", plus an 'other' slot"
        elif spec.bounds is not None:
            note = f"bounds declared (public): [{spec.bounds[0]:g}, {spec.bounds[1]:g}]"
        else:
            note = f"bounds estimated with DP: [{enc.lower:.4g}, {enc.upper:.4g}]"
        rows.append({"column": spec.name, "kind": spec.kind.value, "role": roles.get(spec.name, ""), "notes": note})
    return rows


def describe(synth: Any) -> dict[str, Any]:
    """The summary's content as a mapping (``fitted: False`` and the parameters before ``fit``)."""
    if not hasattr(synth, "generator_"):
        return {"fitted": False, "model": synth.model, "epsilon": synth.epsilon, "delta": synth.delta}
    from .constraints import ColumnOrder

    card = synth.privacy_card()
    constraints = [
        json.dumps(c.to_dict(), ensure_ascii=False)
        for c in synth.transformer_.schema_.constraints
        if not isinstance(c, ColumnOrder)
    ]
    return {
        "fitted": True,
        "model": synth.model,
        "card": card,
        "rows_estimate": synth.transformer_.n_rows_estimate_,
        "columns": _column_notes(synth),
        "constraints": constraints,
    }


def _privacy_line(card: dict[str, Any]) -> str:
    if not card["is_dp"]:
        return "NOT differentially private (epsilon=none): do not share its output."
    return (
        f"(epsilon={card['epsilon']:.4g}, delta={card['delta']:.3g})-DP, {card['accountant']} accountant, "
        f"{card['neighboring']} neighbouring, unit: {card.get('unit', 'row')}"
        + (f" (at most {card['max_rows_per_entity']} rows each)" if card.get("unit") == "entity" else "")
    )


def _training_line(card: dict[str, Any]) -> str | None:
    if card.get("steps") is None:
        return None
    sigma = card.get("noise_multiplier")
    noise = f"noise multiplier {sigma:.3f}, " if sigma is not None else ""
    return (
        f"DP-SGD: {noise}sample rate {card['sample_rate']:.4f}, {card['steps']} steps "
        f"({card.get('epochs')} epochs, expected batch {card.get('batch_size')}), Poisson sampling, "
        f"clipping norm {card['max_grad_norm']:g}"
    )


def synthesizer_summary(synth: Any) -> str:
    """A plain-text summary: what was learned, the privacy card, per-column DP notes, constraints."""
    info = describe(synth)
    if not info["fitted"]:
        return f"Synthesizer({info['model']}, epsilon={info['epsilon']!r}, delta={info['delta']!r}): not fitted yet."
    card = info["card"]
    lines = [f"{info['model']} synthesizer, trained on about {info['rows_estimate']:,} rows (DP estimate)"]
    lines.append("privacy: " + _privacy_line(card))
    training = _training_line(card)
    if training:
        lines.append(training)
    lines.append("budget:")
    for entry in card["entries"]:
        eps = entry.get("epsilon")
        lines.append(f"  - {entry['label']}" + (f" (epsilon {eps:.3g} on its own)" if eps is not None else ""))
    width = max(len(c["column"]) for c in info["columns"])
    lines.append("columns:")
    for col in info["columns"]:
        role = f" [{col['role']}]" if col["role"] else ""
        lines.append(f"  {col['column']:<{width}}  {col['kind']:<11} {col['notes']}{role}")
    if info["constraints"]:
        lines.append("constraints (enforced on every generated row):")
        lines.extend(f"  - {c}" for c in info["constraints"])
    return "\n".join(lines)


def synthesizer_html(synth: Any) -> str:
    """The same content as an HTML fragment for notebooks (every value escaped)."""
    info = describe(synth)
    esc = html.escape
    if not info["fitted"]:
        return f"<p><b>Synthesizer</b> {esc(str(info['model']))}: not fitted yet.</p>"
    card = info["card"]
    colour = "#1a7f37" if card["is_dp"] else "#cf222e"
    parts = [
        "<div class='tabsynth-synthesizer'>",
        f"<p><b>{esc(info['model'])}</b> synthesizer, trained on about {info['rows_estimate']:,} rows "
        "(DP estimate)</p>",
        f"<p style='color:{colour}'>{esc(_privacy_line(card))}</p>",
    ]
    training = _training_line(card)
    if training:
        parts.append(f"<p>{esc(training)}</p>")
    parts.append("<table><thead><tr><th>column</th><th>kind</th><th>role</th><th>what is public, what is DP</th>")
    parts.append("</tr></thead><tbody>")
    for col in info["columns"]:
        cells = "".join(f"<td>{esc(col[k])}</td>" for k in ("column", "kind", "role", "notes"))
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    if info["constraints"]:
        items = "".join(f"<li><code>{esc(str(c))}</code></li>" for c in info["constraints"])
        parts.append(f"<p>Constraints (enforced on every generated row):</p><ul>{items}</ul>")
    items = "".join(f"<li>{esc(str(e['label']))}</li>" for e in card["entries"])
    parts.append(
        f"<details><summary>privacy ledger ({len(card['entries'])} entries)</summary><ul>{items}</ul></details>"
    )
    parts.append("</div>")
    return "".join(parts)
