"""``tabsynth audit``: parse, call :func:`tabsynth.audit.run_audit`, write the JSON, summarise."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._render import at_least

if TYPE_CHECKING:  # the audit stack loads torch, scikit-learn and fairlearn: only when a command runs
    from ..audit import AuditReport, MetricResult

__all__ = ["audit_command", "render_audit", "render_decision", "versus_baseline"]

_VERDICT_COLOURS = {"PASS": "green", "CONDITIONAL": "yellow", "FAIL": "red", "UNKNOWN": "red"}
_OUTCOMES = {
    "pass": "[green]pass[/green]",
    "fail": "[red]FAIL[/red]",
    "unknown": "[red]unknown[/red]",
    "insufficient": "[yellow]not enough rows[/yellow]",
    "not_applicable": "n/a",
}


def _num(value: object) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.3g}"


def _threshold_text(rule: dict[str, Any], has_ci: bool) -> str:
    op = ">=" if rule["bound"] == "min" else "<="
    spec = rule.get("threshold_spec")
    kind = "" if rule["hard"] else "soft "
    if spec == "claimed_epsilon":
        shown = f"claimed eps ({_num(rule['threshold'])})"
    elif spec == "baseline":
        factor = "" if rule.get("factor", 1.0) == 1.0 else f"{rule['factor']:g} x "
        margin = "" if not rule.get("margin") else f" {rule['margin']:+g}"
        shown = f"{factor}baseline{margin} ({_num(rule['threshold'])})"
    else:
        shown = _num(rule["threshold"] if rule["threshold"] is not None else spec)
    on_value = has_ci and rule.get("judged_on") == "value"  # without an interval every rule reads the value
    return f"{kind}{op} {shown}{' (value)' if on_value else ''}"


def _line_outcome(line: dict[str, Any]) -> str:
    parts = []
    for rule in line["thresholds"]:
        text = _OUTCOMES.get(str(rule["outcome"]), str(rule["outcome"]))
        parts.append(text if rule["hard"] else f"soft {text}")
    return " / ".join(dict.fromkeys(parts))


def render_decision(decision: dict[str, Any], console: Console) -> None:
    """The verdict, then one line per metric (failures first; hard and soft thresholds together), then advice."""
    from ..policy.gate import rule_lines

    console = at_least(100, console)
    verdict = decision["verdict"]
    lines = decision.get("lines") or rule_lines(decision["rules"])
    table = Table(
        title=f"Policy {decision['policy']['name']!r}",
        box=box.SIMPLE,
        caption="judged on the pessimistic end of the interval, unless marked (value)",
    )
    table.add_column("rule", no_wrap=True)
    table.add_column("value [CI]")
    table.add_column("threshold(s)")
    table.add_column("outcome", no_wrap=True)
    for line in lines:
        ci = "" if line["ci"] is None else f" [{_num(line['ci'][0])}, {_num(line['ci'][1])}]"
        value = "-" if line["value"] is None else _num(line["value"]) + ci
        thresholds = "; ".join(_threshold_text(r, line["ci"] is not None) for r in line["thresholds"])
        table.add_row(line["metric"], value, thresholds, _line_outcome(line))
    console.print(table)
    for line in lines:
        if line["outcome"] in ("fail", "unknown"):
            mark = "[red]✗[/red]" if line["outcome"] == "fail" else "[yellow]?[/yellow]"
            why = f" ({escape(line['reason'])})" if line.get("reason") and line["outcome"] == "fail" else ""
            console.print(f"  {mark} {line['metric']}{why}: {escape(line['advice'] or '')}", soft_wrap=True)
    undecided = [line for line in lines if line["outcome"] == "insufficient"]
    if undecided:
        names = ", ".join(line["metric"] for line in undecided)
        console.print(f"  [yellow]?[/yellow] {names}: {escape(undecided[0]['advice'] or '')}", soft_wrap=True)
    colour = _VERDICT_COLOURS[verdict]
    console.print(f"verdict: [bold {colour}]{verdict}[/bold {colour}]")


def _format_value(metric: MetricResult) -> str:
    if metric.value is None:
        return "-"
    return f"{metric.value:.3f}"


def _format_ci(metric: MetricResult) -> str:
    return "" if metric.ci is None else f"[{metric.ci[0]:.3f}, {metric.ci[1]:.3f}]"


def versus_baseline(metric: MetricResult) -> str:
    """``worse`` / ``better`` / ``≈ baseline``, ``computed`` (no baseline) or ``unknown``, as rich markup."""
    from ..audit import Direction

    if not metric.is_ok or metric.value is None:
        return "[yellow]unknown[/yellow]"
    if metric.baseline is None:
        return "computed"
    lo, hi = metric.ci if metric.ci is not None else (metric.value, metric.value)
    if lo <= metric.baseline <= hi:
        return "≈ baseline"
    above = lo > metric.baseline
    worse = above != (metric.direction is Direction.HIGHER_IS_BETTER)
    return "[red]worse[/red]" if worse else "[green]better[/green]"


def render_audit(report: AuditReport, out: Path, console: Console | None = None) -> None:
    """Print a one-table summary of ``report`` and where its JSON went."""
    from ..audit import Direction

    console = at_least(100, console or Console(highlight=False))
    # the path goes on its own soft-wrapped line so that it can be copied whole
    console.print(f"Audit written to {escape(str(out))}", soft_wrap=True)
    table = Table(
        box=box.SIMPLE,
        caption=(
            "↑ higher is better, ↓ lower is better. vs baseline: the value against what real holdout rows score "
            "(worse / better: the interval excludes the baseline; ≈: it holds it; no interval: the value alone)"
        ),
    )
    table.add_column("metric", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("CI", no_wrap=True)
    table.add_column("baseline", no_wrap=True)
    table.add_column("vs baseline")
    for m in report.metrics:
        arrow = "↑" if m.direction is Direction.HIGHER_IS_BETTER else "↓"
        baseline = "" if m.baseline is None else f"{m.baseline:.3f}"
        table.add_row(f"{m.name} {arrow}", _format_value(m), _format_ci(m), baseline, versus_baseline(m))
    console.print(table)
    for note in report.notes:
        console.print(f"[bold yellow]note:[/bold yellow] {escape(note)}")


def _model_privacy(model: Path) -> tuple[Any, dict[str, Any]]:
    """The fitted synthesizer of a model folder and its privacy card (epsilon, delta, ledger entries)."""
    from ..synthesizers import Synthesizer

    synth = Synthesizer.load(model, device="cpu")
    card = synth.privacy_card().to_dict()
    estimate = getattr(synth.transformer_, "n_rows_estimate_", None)
    if estimate is not None:  # paid for through the ledger: the one row count a partner may see
        card["dp_row_count"] = int(estimate)
    return synth, card


def _claims(
    card: dict[str, Any] | None, epsilon_claimed: float | None, delta_claimed: float | None
) -> tuple[float | None, float | None]:
    """Epsilon and delta for the audit: the model's ledger, else the flags; a disagreement is an error."""
    if card is None:
        return epsilon_claimed, delta_claimed
    model_eps = card.get("epsilon") if card.get("is_dp") else None
    model_delta = card.get("delta")
    from ..exceptions import ConfigError

    checks = (("--epsilon-claimed", epsilon_claimed, model_eps), ("--delta-claimed", delta_claimed, model_delta))
    for flag, given, found in checks:
        if given is not None and (found is None or not math.isclose(float(given), float(found), rel_tol=1e-9)):
            raise ConfigError(
                f"{flag} {given:g} disagrees with the model folder's ledger ({found}); "
                "drop the flag (the ledger is what the model spent) or audit another model."
            )
    return model_eps, model_delta


def audit_command(
    real: Annotated[Path, typer.Option("--real", help="Real training rows (CSV or Parquet).")],
    holdout: Annotated[Path, typer.Option("--holdout", help="Real rows the generator never saw (>= 50).")],
    target: Annotated[str, typer.Option("--target", help="Target column for TSTR/TRTR.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the audit JSON.")],
    synthetic: Annotated[
        Path | None, typer.Option("--synthetic", help="Synthetic table to audit (or sample one with --model).")
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Model folder of 'tabsynth fit': epsilon and delta come from its ledger."),
    ] = None,
    n_rows: Annotated[
        int | None, typer.Option("--n-rows", help="With --model and no --synthetic: rows to sample (default: as real).")
    ] = None,
    sensitive: Annotated[
        list[str] | None, typer.Option("--sensitive", help="Sensitive column for per-group risks (repeatable).")
    ] = None,
    epsilon_claimed: Annotated[
        float | None, typer.Option("--epsilon-claimed", help="Epsilon the generator claims; flagged if beaten.")
    ] = None,
    delta_claimed: Annotated[
        float | None, typer.Option("--delta-claimed", help="Delta of the generator's guarantee (else from --model).")
    ] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="Declared schema YAML (column kinds).")] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Column to leave out of the audit (e.g. one leaking the target; repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of samples, models and attacks.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write an offline HTML report here (and its JSON beside it).")
    ] = None,
    audience: Annotated[
        Literal["internal", "partner"],
        typer.Option("--audience", help="Report audience: partner hides real-vs-synthetic figures."),
    ] = "partner",
) -> None:
    """Audit a synthetic table: fidelity and privacy leakage against real train and holdout rows."""
    from ..audit import AuditConfig, run_audit
    from ..exceptions import ConfigError
    from ..io import read_table, write_text
    from ..report import Audience, write_report
    from ..schema import load_schema

    if report is not None and report.with_suffix(".json").resolve() == out.resolve():
        raise ConfigError(
            f"--report {report} would write its JSON over the audit JSON {out}; give the report another name."
        )
    if synthetic is None and model is None:
        raise ConfigError(
            "Nothing to audit: give the synthetic table (--synthetic FILE) or a model folder to sample (--model DIR)."
        )
    synth: Any = None
    card: dict[str, Any] | None = None
    if model is not None:
        synth, card = _model_privacy(model)
    epsilon, delta = _claims(card, epsilon_claimed, delta_claimed)
    train = read_table(real)
    if synthetic is not None:
        table = read_table(synthetic)
    else:  # post-processing of the fitted model: a seed is fine here
        table = synth.sample(n_rows or len(train), random_state=seed)
    result = run_audit(
        train,
        table,
        holdout=read_table(holdout),
        target=target,
        sensitive=tuple(sensitive or ()),
        epsilon_claimed=epsilon,
        delta_claimed=delta,
        random_state=seed,
        schema=None if schema is None else load_schema(schema),
        config=AuditConfig(exclude=tuple(exclude or ())),
        privacy=card,
        constraints=None if synth is None else synth.transformer_.schema_.constraints,  # the model's declarations
    )
    write_text(result.to_json(), out)
    render_audit(result, out)
    if report is not None:
        html, _ = write_report(report, audit=result, decision=None, privacy=card, audience=Audience(audience))
        Console(highlight=False).print(f"Report written to {escape(str(html))} (audience: {audience})", soft_wrap=True)
