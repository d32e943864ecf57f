"""``tabsynth release`` and ``tabsynth gate``: run the gated pipeline, or re-judge an audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ._audit import render_decision  # one line per metric, hard and soft thresholds together

if TYPE_CHECKING:
    from ..exceptions import GateFailedError

__all__ = ["gate_command", "release_command", "render_decision"]


def _blocked(decision: dict[str, Any]) -> GateFailedError:
    from ..exceptions import GateFailedError

    hard = [r for r in decision["rules"] if r.get("hard", True)]
    failing = [r["metric"] for r in hard if r["outcome"] == "fail"]
    undecided = [r["metric"] for r in hard if r["outcome"] in ("unknown", "insufficient")]
    tail = f"; could not be decided: {undecided}" if undecided else ""
    return GateFailedError(
        f"Release blocked by policy {decision['policy']['name']!r} (verdict {decision['verdict']}): "
        f"failing rules {failing or undecided}{tail if failing else ''}. Nothing was released; see the "
        "advice above and the report."
    )


def release_command(
    config: Annotated[Path, typer.Argument(help="Release config YAML (see examples/release_adult.yaml).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing release folder.")] = False,
) -> None:
    """Private table in, gated synthetic release out: fit, sample, audit, gate, write (exit 4 if blocked)."""
    from ..pipeline import release
    from ._render import ReleaseDisplay

    with ReleaseDisplay() as display:
        result = release(config, overwrite=overwrite, progress=display.progress)
    finish_release(result)


def finish_release(result: Any) -> None:
    """Print the decision, the privacy spent and where everything went; exit 4 when blocked."""
    console = Console(highlight=False)
    decision = result.decision.to_dict()
    render_decision(decision, console)
    privacy = result.privacy
    if privacy.get("is_dp"):
        console.print(f"privacy spent: epsilon = {privacy['epsilon']:.4g}, delta = {privacy['delta']:.3g}")
    else:
        console.print("[bold red]NOT differentially private[/bold red] (epsilon=none)")
    if result.released:
        tables = ", ".join(sorted(n for n in result.files if n.startswith("synthetic.")))
        console.print(f"released: {result.path} ({tables}, model/, audit.json, manifest.json)", soft_wrap=True)
    else:
        console.print(
            f"[bold red]BLOCKED[/bold red]: {result.path} holds the audit and the report, no synthetic table",
            soft_wrap=True,
        )
    console.print(f"report: {result.path / 'report.html'}", soft_wrap=True)
    took = result.seconds
    console.print(f"took {took['total']:.0f} s (fit {took['fit']:.0f} s, audit {took['audit']:.0f} s)")
    if not result.released:
        raise _blocked(decision)


def gate_command(
    audit: Annotated[Path, typer.Argument(help="audit.json written by 'tabsynth audit' or a release.")],
    policy: Annotated[str, typer.Option("--policy", help="Policy YAML, or internal / partner / medical.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Re-judge an existing audit against a policy (exit 0 if it would release, 4 if blocked)."""
    from ..audit import AuditReport
    from ..exceptions import DataError
    from ..policy import evaluate_policy, load_policy

    if not audit.is_file():
        raise DataError(f"{audit} not found: expected the audit.json of 'tabsynth audit' or of a release.")
    report = AuditReport.from_json(audit.read_text(encoding="utf-8"))
    decision = evaluate_policy(load_policy(policy), report)
    decision = decision.with_released(not decision.blocks)
    data = decision.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        render_decision(data, Console(highlight=False))
    if decision.blocks:
        raise _blocked(data)
