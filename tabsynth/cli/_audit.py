"""``tabsynth audit``: parse, call :func:`tabsynth.audit.run_audit`, write the JSON, summarise."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._render import at_least

if TYPE_CHECKING:  # the audit stack loads torch, scikit-learn and fairlearn: only when a command runs
    from ..audit import AuditReport, MetricResult

__all__ = ["audit_command", "render_audit"]


def _format_value(metric: MetricResult) -> str:
    if metric.value is None:
        return "-"
    return f"{metric.value:.3f}"


def _format_ci(metric: MetricResult) -> str:
    return "" if metric.ci is None else f"[{metric.ci[0]:.3f}, {metric.ci[1]:.3f}]"


def render_audit(report: AuditReport, out: Path, console: Console | None = None) -> None:
    """Print a one-table summary of ``report`` and where its JSON went."""
    from ..audit import Direction

    console = at_least(100, console or Console(highlight=False))
    # the path goes on its own soft-wrapped line so that it can be copied whole
    console.print(f"Audit written to {escape(str(out))}", soft_wrap=True)
    table = Table(box=box.SIMPLE, caption="↑ higher is better, ↓ lower is better")
    table.add_column("metric", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("CI", no_wrap=True)
    table.add_column("baseline", no_wrap=True)
    table.add_column("status")
    for m in report.metrics:
        arrow = "↑" if m.direction is Direction.HIGHER_IS_BETTER else "↓"
        status = "ok" if m.is_ok else "[yellow]unknown[/yellow]"
        baseline = "" if m.baseline is None else f"{m.baseline:.3f}"
        table.add_row(f"{m.name} {arrow}", _format_value(m), _format_ci(m), baseline, status)
    console.print(table)
    for note in report.notes:
        console.print(f"[bold yellow]note:[/bold yellow] {escape(note)}")


def audit_command(
    real: Annotated[Path, typer.Option("--real", help="Real training rows (CSV or Parquet).")],
    holdout: Annotated[Path, typer.Option("--holdout", help="Real rows the generator never saw (>= 50).")],
    synthetic: Annotated[Path, typer.Option("--synthetic", help="Synthetic table to audit.")],
    target: Annotated[str, typer.Option("--target", help="Target column for TSTR/TRTR.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the audit JSON.")],
    sensitive: Annotated[
        list[str] | None, typer.Option("--sensitive", help="Sensitive column for per-group risks (repeatable).")
    ] = None,
    epsilon_claimed: Annotated[
        float | None, typer.Option("--epsilon-claimed", help="Epsilon the generator claims; flagged if beaten.")
    ] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="Declared schema YAML (column kinds).")] = None,
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
    from ..audit import run_audit
    from ..exceptions import ConfigError
    from ..io import read_table, write_text
    from ..report import Audience, write_report
    from ..schema import load_schema

    if report is not None and report.with_suffix(".json").resolve() == out.resolve():
        raise ConfigError(
            f"--report {report} would write its JSON over the audit JSON {out}; give the report another name."
        )
    result = run_audit(
        read_table(real),
        read_table(synthetic),
        holdout=read_table(holdout),
        target=target,
        sensitive=tuple(sensitive or ()),
        epsilon_claimed=epsilon_claimed,
        random_state=seed,
        schema=None if schema is None else load_schema(schema),
    )
    write_text(result.to_json(), out)
    render_audit(result, out)
    if report is not None:
        html, _ = write_report(report, audit=result, decision=None, audience=Audience(audience))
        Console(highlight=False).print(f"Report written to {escape(str(html))} (audience: {audience})", soft_wrap=True)
