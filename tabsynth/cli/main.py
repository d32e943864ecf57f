"""The ``tabsynth`` command line: parse, call the library, render, exit code.

Exit codes (a contract other tools rely on): 0 ok, 1 internal error, 2 invalid input or
usage, 3 privacy budget refused, 4 release blocked by the gate. Errors print one line and no
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..exceptions import ALL_ERRORS, exit_code_for
from ._render import console

app = typer.Typer(
    name="tabsynth",
    help="Privacy-first synthetic tabular data: DP generators, audits and a release gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
schema_app = typer.Typer(help="Infer and check table schemas.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")

_err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """tabsynth command line."""


@schema_app.command("infer")
def schema_infer(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the schema YAML.")],
    target: Annotated[str | None, typer.Option("--target", help="Target (label) column.")] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive column (repeatable).")] = None,
) -> None:
    """Infer an editable schema (kinds and identifier flags only; no values are recorded)."""
    from ..io import read_table
    from ..schema import infer_schema

    schema = infer_schema(read_table(data), target=target, sensitive=sensitive or ())
    schema.save(out)
    from ._render import render_schema

    render_schema(schema, out)


@schema_app.command("check")
def schema_check(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    schema: Annotated[Path, typer.Option("--schema", help="Schema YAML to check the data against.")],
) -> None:
    """Validate a table against a declared schema, listing every problem at once."""
    from ..io import read_table
    from ..schema import load_schema

    load_schema(schema).validate_frame(read_table(data))
    console.print(f"[green]OK[/green]: {data} matches {schema}")


def _register_optional_commands() -> None:
    """Commands that live in their own modules (registered once, at import)."""
    try:
        from ._audit import audit_command
    except ImportError:  # the audit extra is part of the base install; this guards partial trees
        return
    app.command("audit")(audit_command)


_register_optional_commands()


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (``main`` exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accept --debug anywhere on the line
        args = ["--debug", *(a for a in args if a != "--debug")]
    try:
        app(args=args, prog_name="tabsynth", standalone_mode=True)
    except SystemExit as exc:  # click's own exits: --help (0), usage errors (2)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ALL_ERRORS as exc:
        if debug:
            raise
        _err.print(f"[bold red]error:[/bold red] {exc}", markup=True)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        _err.print("interrupted")
        return 130
    except Exception as exc:  # anything unexpected is our bug: say so, exit 1
        if debug:
            raise
        _err.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc} (rerun with --debug for a traceback)")
        return 1
    return 0


def main() -> None:
    sys.exit(run())
