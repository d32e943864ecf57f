"""Rich rendering for the CLI (the only place that prints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from ..schema import TableSchema

console = Console(highlight=False)


def at_least(width: int, base: Console) -> Console:
    """``base``, widened to ``width`` columns (pipes and CI logs default to 80, truncating tables)."""
    return Console(
        file=base.file, width=max(base.width, width), highlight=False, no_color=base.no_color, stderr=base.stderr
    )


def render_schema(schema: TableSchema, out: Path) -> None:
    console.print(f"Schema written to {escape(str(out))}", soft_wrap=True)
    table = Table(show_lines=False)
    table.add_column("column")
    table.add_column("kind")
    table.add_column("role")
    table.add_column("public knowledge")
    for spec in schema.columns:
        role = "target" if spec.name == schema.target else ("sensitive" if spec.name in schema.sensitive else "")
        if not spec.kind.is_modelled:
            public = f"never modelled ({(spec.handling.value if spec.handling else 'drop')})"
        elif spec.bounds is not None or spec.categories is not None:
            public = "declared"
        else:
            public = "none yet (DP estimate, spends budget)"
        table.add_row(spec.name, spec.kind.value, role, public)
    console.print(table)
    console.print("Declare bounds and categories in the YAML to spend no privacy budget on them.")


def _privacy_line(spent: dict[str, Any]) -> str:
    if not spent["is_dp"]:
        return "[bold red]NOT differentially private[/bold red] (epsilon=none): do not share this output."
    return f"privacy spent: epsilon = {spent['epsilon']:.4g}, delta = {spent['delta']:.3g} (RDP accountant)"


def render_fit(synth: Any, out: Path) -> None:
    spent = synth.privacy_spent()
    console.print(f"Model written to [bold]{escape(str(out))}[/bold]", soft_wrap=True)
    console.print(_privacy_line(spent))
    result = synth.train_result_
    if result is not None and result.noise_multiplier is not None:
        console.print(
            f"DP-SGD: noise multiplier {result.noise_multiplier:.3f}, sample rate {result.sample_rate:.4f}, "
            f"{result.steps} steps, Poisson sampling"
        )


def render_sample(synth: Any, frame: Any, out: Path) -> None:
    console.print(f"Wrote {len(frame):,} synthetic rows to [bold]{out}[/bold]")
    console.print(_privacy_line(synth.privacy_spent()))


def render_budget(spent: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "epsilon": spent["epsilon"],
                    "delta": spent["delta"],
                    "is_dp": spent["is_dp"],
                    "unit": spent.get("unit", "row"),
                    "secure_randomness": spent.get("secure_randomness"),
                    "entries": spent["entries"],
                }
            )
        )
        return
    console.print(_privacy_line(spent))
    table = Table(title="Privacy ledger")
    table.add_column("#", justify="right")
    table.add_column("spend")
    table.add_column("mechanism")
    table.add_column("parameters")
    for i, entry in enumerate(spent["entries"], start=1):
        event = dict(entry["event"])
        kind = event.pop("type")
        table.add_row(
            str(i),
            entry["label"],
            kind,
            ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.items()),
        )
    console.print(table)


def render_store(store: dict[str, Any], *, as_json: bool) -> None:
    """A dataset's budget store: every release's reserved epsilon and what it became."""
    if as_json:
        console.print_json(json.dumps(store))
        return
    eps = store["epsilon_spent"]
    console.print(
        f"{store['path']}: epsilon {'none (a release without DP)' if eps is None else f'{eps:.4g}'} and "
        f"delta {store['delta_spent']:.3g} spent across {len(store['releases'])} release(s), {store['composition']}."
    )
    table = Table(title="Releases")
    for column in ("reserved at", "release", "epsilon", "delta", "status", "epsilon spent"):
        table.add_column(column)
    for r in store["releases"]:
        table.add_row(
            r["reserved_at"],
            r["label"],
            "none" if r["epsilon"] is None else f"{r['epsilon']:.4g}",
            f"{r['delta']:.3g}",
            r["status"],
            "-" if r["epsilon_spent"] is None else f"{r['epsilon_spent']:.4g}",
        )
    console.print(table)
