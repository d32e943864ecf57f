"""The ``tabsynth`` command line: parse, call the library, render, exit code.

Exit codes (a contract other tools rely on): 0 ok, 1 internal error, 2 invalid input or
usage, 3 privacy budget refused, 4 release blocked by the gate. Errors print one line and no
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..exceptions import ALL_ERRORS, ConfigError, PrivacyWarning, exit_code_for
from ._render import console, render_budget, render_fit, render_sample, render_schema

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


def _parse_epsilon(raw: str) -> float | None:
    if raw.strip().lower() in ("none", "inf", "infinity"):
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(
            f"--epsilon must be a positive number (or 'none' to train without DP), got {raw!r}."
        ) from None


def _parse_conditions(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        col, sep, value = item.partition("=")
        if not sep or not col:
            raise ConfigError(f"--condition must look like COLUMN=VALUE, got {item!r}.")
        out[col] = value
    return out


@app.command("fit")
def fit(
    data: Annotated[Path, typer.Argument(help="Private table (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    epsilon: Annotated[str, typer.Option("--epsilon", help="Total privacy budget, or 'none' for no DP.")],
    target: Annotated[str | None, typer.Option("--target", help="Target column (conditioning).")] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive column (repeatable).")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="Declared schema YAML (public knowledge).")] = None,
    delta: Annotated[float, typer.Option("--delta", help="Total delta (fixed, never derived from the data).")] = 1e-6,
    model: Annotated[str, typer.Option("--model", help="dp-tvae or dp-ctgan.")] = "dp-tvae",
    epochs: Annotated[int | None, typer.Option("--epochs", help="Training epochs (default: the model's).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Expected Poisson batch (global under torchrun).")
    ] = None,
    max_physical_batch_size: Annotated[
        int | None, typer.Option("--max-physical-batch-size", help="Micro-batch rows (default: 8192 on CUDA).")
    ] = None,
    stratify: Annotated[
        bool | None,
        typer.Option(
            "--stratify/--no-stratify",
            help="One DP generator per target class, dp-tvae only (default: when the smallest class is under 10%).",
        ),
    ] = None,
) -> None:
    """Fit a DP generator and write a model folder (data-parallel when run under torchrun)."""
    from ..distributed import init_distributed, shutdown_distributed
    from ..io import read_table
    from ..schema import load_schema
    from ..synthesizers import Synthesizer

    dist = init_distributed()  # None unless launched by torchrun with several processes
    try:
        synth = Synthesizer(
            model,
            epsilon=_parse_epsilon(epsilon),
            delta=delta,
            random_state=seed,
            epochs=epochs,
            batch_size=batch_size,
            device=device,
            max_physical_batch_size=max_physical_batch_size,
            stratify="auto" if stratify is None else stratify,
            verbose=True,
        )
        declared = load_schema(schema) if schema is not None else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrivacyWarning)  # rendered below instead
            synth.fit(read_table(data), declared, target=target, sensitive=sensitive or ())
        if dist is None or dist.is_main:  # every rank holds the same model; rank 0 alone writes
            synth.save(out)
            render_fit(synth, out)
    except BaseException:
        shutdown_distributed(barrier=False)
        raise
    shutdown_distributed()


@app.command("plan")
def plan_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file (only its header and storage types are read).")],
    epsilon: Annotated[float, typer.Option("--epsilon", help="Total privacy budget of the planned fit.")],
    schema: Annotated[Path | None, typer.Option("--schema", help="Declared schema YAML.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target (label) column.")] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive column (repeatable).")] = None,
    delta: Annotated[float, typer.Option("--delta", help="Total delta.")] = 1e-6,
) -> None:
    """Before spending anything: what DP preprocessing at this epsilon keeps or collapses, per column."""
    from ..plan import plan_command_text

    console.print(escape(plan_command_text(data, schema, epsilon, delta, target, sensitive or ())), soft_wrap=True)


@app.command("sample")
def sample(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'tabsynth fit'.")],
    n_rows: Annotated[int, typer.Option("--n-rows", help="Number of rows to generate.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet).")],
    condition: Annotated[list[str] | None, typer.Option("--condition", help="COLUMN=VALUE (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Generate synthetic rows (exactly --n-rows, all meeting the conditions)."""
    from ..io import write_table
    from ..synthesizers import Synthesizer

    synth = Synthesizer.load(model_dir, device=device)
    frame = synth.sample(n_rows, conditions=_parse_conditions(condition), random_state=seed)
    write_table(frame, out)
    render_sample(synth, frame, out)


@app.command("budget")
def budget(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'tabsynth fit'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the ledger as JSON.")] = False,
) -> None:
    """Show the privacy ledger of a model: where the budget went."""
    from ..synthesizers import Synthesizer

    synth = Synthesizer.load(model_dir, device="cpu")
    render_budget(synth.privacy_spent(), as_json=as_json)


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's releases.")] = Path("reports/demo"),
    fast: Annotated[bool, typer.Option("--fast", help="A small, quick smoke run of the same pipeline.")] = False,
    epsilon: Annotated[float, typer.Option("--epsilon", help="Total privacy budget.")] = 1.0,
) -> None:
    """Run the gated release pipeline on the bundled Adult table (DP-TVAE, epsilon 1, partner policy)."""
    from ..demo import run_demo
    from ._release import finish_release

    console = Console(stderr=True, highlight=False)
    console.print(
        "[bold]tabsynth demo[/bold]: bundled Adult table (target income; sensitive sex, race), DP-TVAE, "
        f"epsilon={epsilon:g}, partner policy{' (fast smoke run)' if fast else ''}"
    )
    finish_release(run_demo(out, fast=fast, epsilon=epsilon, console=console))


def _register_audit() -> None:
    from ._audit import audit_command

    app.command("audit")(audit_command)


_register_audit()


def _register_release() -> None:
    from ._release import gate_command, release_command

    app.command("release")(release_command)
    app.command("gate")(gate_command)


_register_release()


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
        _err.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        _err.print("interrupted")
        return 130
    except Exception as exc:  # anything unexpected is our bug: say so, exit 1
        if debug:
            raise
        _err.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__}: {escape(str(exc))} "
            "(rerun with --debug for a traceback)"
        )
        return 1
    return 0


def main() -> None:
    sys.exit(run())
