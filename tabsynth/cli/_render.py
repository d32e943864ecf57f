"""Rich rendering for the CLI (the only place that prints)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..schema import TableSchema

console = Console(highlight=False)


def render_schema(schema: TableSchema, out: Path) -> None:
    table = Table(title=f"Schema written to {out}", show_lines=False)
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
