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

from .._version import __version__
from ..entity import DEFAULT_MAX_ROWS_PER_ENTITY
from ._audit import audit_command
from ._audit_dp import audit_dp_command
from ._augment import augment_command
from ._release import gate_command, release_command
from ._render import EpochBar, console, render_budget, render_fit, render_sample, render_schema, render_store

# Every command imports what it needs (torch, scikit-learn, the audit stack) inside its own body,
# so that `tabsynth --help` answers at once (tests/integration/test_cli_basics.py checks it).
_HELP = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="tabsynth",
    help="Privacy-first synthetic tabular data: DP generators, audits and a release gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=_HELP,
)
schema_app = typer.Typer(help="Infer and check table schemas.", no_args_is_help=True, context_settings=_HELP)
app.add_typer(schema_app, name="schema")

_err = Console(stderr=True, highlight=False, soft_wrap=True)

#: Options shared by several commands.
Sep = Annotated[
    str | None, typer.Option("--sep", help="Field separator of a text table ('tab' for TSV); default: by extension.")
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output (never done silently).")]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tabsynth {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """tabsynth command line."""


@schema_app.command("infer")
def schema_infer(
    data: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the schema YAML.")],
    target: Annotated[str | None, typer.Option("--target", help="Target (label) column.")] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive column (repeatable).")] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="Entity column, recorded as 'entity:' (never modelled).")
    ] = None,
    sep: Sep = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
) -> None:
    """Draft an editable schema from the data, exactly (kinds and identifier flags; no values recorded).

    The draft reads the private rows exactly: it is for you, the curator, to review. Once passed
    with --schema it is a declaration (public, no budget spent on it).
    """
    from ..entity import entity_key_candidates, entity_warning, infer_schema_with_entity
    from ..io import check_output, read_table

    check_output(out, overwrite=overwrite, table=False)
    frame = read_table(data, sep=sep)
    schema = infer_schema_with_entity(frame, target=target, sensitive=sensitive or (), entity=entity)
    schema.save(out)
    render_schema(schema, out)
    if entity is None and (
        keyish := entity_key_candidates(frame, exclude=[c for c in (target, *(sensitive or ())) if c])
    ):
        console.print(f"[yellow]{escape(entity_warning(keyish))}[/yellow]", soft_wrap=True)


@schema_app.command("check")
def schema_check(
    data: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file.")],
    schema: Annotated[Path, typer.Option("--schema", help="Schema YAML to check the data against.")],
    sep: Sep = None,
) -> None:
    """Validate a table against a declared schema, listing every problem at once."""
    from ..io import read_table
    from ..schema import load_schema

    declared = load_schema(schema)
    frame = read_table(data, sep=sep, show_values=True)
    declared.validate_frame(frame)
    if declared.constraints:
        from ..constraints import violations
        from ..exceptions import SchemaError

        broken = [name for name, count in violations(frame, declared.constraints).items() if count]
        if broken:
            raise SchemaError([f"Some rows of the data violate the constraint {name}." for name in broken])
    console.print(f"[green]OK[/green]: {data} matches {schema}")


def _parse_epsilon(raw: str) -> float | None:
    from ..exceptions import ConfigError
    from ..privacy.plan import parse_epsilon

    try:
        return parse_epsilon(raw)
    except ValueError as exc:  # PrivacyError: shown as a bad --epsilon (exit 2)
        raise ConfigError(f"--{exc}") from None


def _parse_bound(raw: str) -> int | str:
    """``--max-rows-per-entity``: a positive integer or 'auto'."""
    from ..exceptions import ConfigError

    if raw.strip().lower() == "auto":
        return "auto"
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"--max-rows-per-entity must be an integer or 'auto', got {raw!r}.") from None


def _check_model_out(out: Path, overwrite: bool) -> None:
    """Refuse an existing --out (or, with --overwrite, one that is not a model folder) before any work."""
    from ..artifacts import MANIFEST
    from ..exceptions import DataError
    from ..io import check_output

    check_output(out, overwrite=overwrite, table=False)
    if out.exists() and not (out / MANIFEST).is_file():
        raise DataError(f"{out} exists and is not a tabsynth model folder; --overwrite replaces only a model folder.")


@app.command("fit")
def fit(
    data: Annotated[Path, typer.Argument(help="Private table (CSV, TSV or Parquet).")],
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
            help="One DP generator per target class, dp-tvae only (default: a target of 2 to 10 classes of 32+ rows).",
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option("--entity", help="Column naming the person of each row: protect whole entities, not rows."),
    ] = None,
    max_rows_per_entity: Annotated[
        str,
        typer.Option(
            "--max-rows-per-entity", help="With --entity: rows kept per entity (public setting), or 'auto' (DP choice)."
        ),
    ] = str(DEFAULT_MAX_ROWS_PER_ENTITY),
    quality_filter: Annotated[
        bool,
        typer.Option(
            "--filter/--no-filter",
            help="Under DP: measure DP 1- and 2-way marginals and keep the sampled rows that match them "
            "(on by default; --no-filter spends that share of the budget on training instead).",
        ),
    ] = True,
    sep: Sep = None,
    overwrite: Overwrite = False,
) -> None:
    """Fit a DP generator and write a model folder (data-parallel when run under torchrun)."""
    from ..distributed import init_distributed, shutdown_distributed
    from ..exceptions import PrivacyWarning
    from ..io import read_table
    from ..schema import load_schema
    from ..synthesizers import Synthesizer

    _check_model_out(out, overwrite)
    eps = _parse_epsilon(epsilon)
    dist = init_distributed()  # None unless launched by torchrun with several processes
    try:
        synth = Synthesizer(
            model,
            epsilon=eps,
            delta=delta,
            random_state=seed,
            epochs=epochs,
            batch_size=batch_size,
            device=device,
            max_physical_batch_size=max_physical_batch_size,
            stratify="auto" if stratify is None else stratify,
            max_rows_per_entity=_parse_bound(max_rows_per_entity),
            filter="marginals" if quality_filter else None,
        )
        declared = load_schema(schema) if schema is not None else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrivacyWarning)  # rendered below instead
            frame = read_table(data, sep=sep, show_values=eps is None)
            bar = EpochBar(enabled=dist is None or dist.is_main)
            try:
                synth.fit(frame, declared, target=target, sensitive=sensitive or (), callback=bar, entity=entity)
            finally:
                bar.close()
        if dist is None or dist.is_main:  # every rank holds the same model; rank 0 alone writes
            _check_model_out(out, overwrite)  # again: it may have appeared while training ran
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
    entity: Annotated[
        str | None, typer.Option("--entity", help="Entity column (plan entity-level DP: noise per entity).")
    ] = None,
    max_rows_per_entity: Annotated[
        str, typer.Option("--max-rows-per-entity", help="With --entity: rows kept per entity, or 'auto'.")
    ] = str(DEFAULT_MAX_ROWS_PER_ENTITY),
    suggest_bound: Annotated[
        float | None,
        typer.Option(
            "--suggest-bound",
            help="With --entity: spend this epsilon (on top of the fit's) on a DP histogram of rows per entity "
            "and suggest --max-rows-per-entity. Reads the entity column.",
        ),
    ] = None,
    quality_filter: Annotated[
        bool,
        typer.Option("--filter/--no-filter", help="Plan the quality filter's DP marginals (on by default, as in fit)."),
    ] = True,
) -> None:
    """Before spending anything: what DP preprocessing at this epsilon keeps or collapses, per column.

    Reads the header and storage types only, unless --suggest-bound asks for one DP statistic.
    """
    from ..plan import plan_command_text

    bound = _parse_bound(max_rows_per_entity)
    text = plan_command_text(
        data, schema, epsilon, delta, target, sensitive or (), entity, bound, suggest_bound, filter_on=quality_filter
    )
    console.print(escape(text), soft_wrap=True)


@app.command("sample")
def sample(
    model_dir: Annotated[Path, typer.Argument(help="Model folder written by 'tabsynth fit'.")],
    n_rows: Annotated[int, typer.Option("--n-rows", help="Number of rows to generate.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv, .tsv or .parquet).")],
    condition: Annotated[
        list[str] | None,
        typer.Option("--condition", help="COLUMN=VALUE, or a numeric range such as 'age>=65' (repeatable)."),
    ] = None,
    rebalance: Annotated[
        str | None,
        typer.Option("--rebalance", help="Exact shares of one column: COLUMN=VALUE:SHARE,VALUE:SHARE,..."),
    ] = None,
    fair: Annotated[
        bool, typer.Option("--fair", help="Draw the target independently of the sensitive columns.")
    ] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    overwrite: Overwrite = False,
) -> None:
    """Generate synthetic rows: exactly --n-rows, all meeting the conditions, in the --rebalance shares.

    COLUMN=VALUE conditions use the model's conditional sampling. Numeric ranges (>=, <=, >, <)
    are met by drawing rows in rounds and keeping the first --n-rows in the range; the count is
    exact, and a range the model (almost) never produces is an error.
    """
    from ..conditions import parse_conditions, parse_rebalance, sample_with_ranges
    from ..exceptions import ConfigError
    from ..io import check_output, write_table
    from ..synthesizers import Synthesizer

    check_output(out, overwrite=overwrite)
    exact, ranges = parse_conditions(condition)
    shares = parse_rebalance(rebalance) if rebalance is not None else None
    if shares is not None and (exact or ranges or fair):
        raise ConfigError(
            "--rebalance sets the shares of its column itself: do not combine it with --condition or --fair."
        )
    synth = Synthesizer.load(model_dir, device=device)
    if shares is not None:
        frame = synth.rebalance(shares[0], shares[1], n_rows=n_rows, random_state=seed)
    else:
        frame = sample_with_ranges(synth, n_rows, ranges, conditions=exact, fair=fair, random_state=seed)
    check_output(out, overwrite=overwrite)  # again: it may have appeared while sampling ran
    write_table(frame, out)
    render_sample(synth, frame, out)


@app.command("split")
def split(
    data: Annotated[Path, typer.Argument(help="Private table (CSV, TSV or Parquet).")],
    holdout: Annotated[float, typer.Option("--holdout", help="Expected share of rows held out, in (0, 1).")],
    out_train: Annotated[Path, typer.Option("--out-train", help="Where to write the training rows.")],
    out_holdout: Annotated[Path, typer.Option("--out-holdout", help="Where to write the holdout rows.")],
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Secret key (>= 16 bytes, e.g. 'head -c 32 /dev/urandom') to reproduce it."),
    ] = None,
    sep: Sep = None,
    overwrite: Overwrite = False,
) -> None:
    """Split a table into training and holdout rows; each row's side depends only on that row.

    A row is held out iff a keyed hash (HMAC-SHA256) of its values falls below --holdout, so
    adding or removing a row moves no other row. Without --key-file a fresh secret key is used
    and forgotten. Keep the key secret: with it, anyone can tell which side a known row took.
    """
    from ..exceptions import ConfigError, DataError
    from ..io import check_output, read_table, write_tables
    from ..split import split_holdout

    if out_train.resolve() == out_holdout.resolve():
        raise ConfigError("--out-train and --out-holdout name the same file; give each its own path.")
    for path in (out_train, out_holdout):
        check_output(path, overwrite=overwrite)
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"--holdout must be a share in (0, 1), e.g. 0.3; got {holdout:g}.")
    key = None
    if key_file is not None:
        if not key_file.is_file():
            raise DataError(f"--key-file {key_file} not found.")
        key = key_file.read_bytes().rstrip(b"\r\n")
        if len(key) < 16:
            raise ConfigError(
                f"--key-file {key_file} holds fewer than 16 bytes; make one with 'head -c 32 /dev/urandom'."
            )
    train, held = split_holdout(read_table(data, sep=sep), holdout, key=key)
    write_tables({out_train: train, out_holdout: held})
    console.print(f"training rows written to {escape(str(out_train))}", soft_wrap=True)
    console.print(f"holdout rows written to {escape(str(out_holdout))}", soft_wrap=True)
    console.print("The holdout rows are not covered by the generator's DP guarantee: keep them internal.")


@app.command("budget")
def budget(
    model_dir: Annotated[Path | None, typer.Argument(help="Model folder written by 'tabsynth fit'.")] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="A dataset's budget store (release config 'budget_store').")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ledger as JSON.")] = False,
) -> None:
    """Show the privacy ledger of a model (where its budget went), or a dataset's budget store."""
    from ..exceptions import ConfigError

    if (model_dir is None) == (store is None):
        raise ConfigError("Give either a model folder (tabsynth budget MODEL) or --store PATH, not both.")
    if store is not None:
        from ..privacy.store import BudgetStore

        if not store.is_file():
            raise ConfigError(f"No budget store at {store}: it is created by the first release that names it.")
        render_store(BudgetStore(store).to_dict(), as_json=as_json)
        return
    from ..synthesizers import Synthesizer

    synth = Synthesizer.load(model_dir if model_dir is not None else Path(), device="cpu")
    render_budget(synth.privacy_spent(), as_json=as_json)


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's releases.")] = Path("reports/demo"),
    fast: Annotated[bool, typer.Option("--fast", help="A small, quick smoke run of the same pipeline.")] = False,
    epsilon: Annotated[str, typer.Option("--epsilon", help="Total privacy budget (a positive number).")] = "1",
) -> None:
    """Run the gated release pipeline on the bundled Adult table (DP-TVAE, epsilon 1, partner policy)."""
    from ..demo import check_demo_options, run_demo
    from ..exceptions import ConfigError
    from ._release import finish_release

    try:
        eps = float(epsilon)
    except ValueError:
        raise ConfigError(f"--epsilon must be a positive, finite number such as 1, got {epsilon!r}.") from None
    check_demo_options(out, epsilon=eps)  # before the banner: a bad option runs and writes nothing
    console = Console(stderr=True, highlight=False)
    console.print(
        "[bold]tabsynth demo[/bold]: bundled Adult table (target income; sensitive sex, race), DP-TVAE, "
        f"epsilon={eps:g}, partner policy{' (fast smoke run)' if fast else ''}"
    )
    from ._render import ReleaseDisplay

    with ReleaseDisplay() as display:
        result = run_demo(out, fast=fast, epsilon=eps, progress=display.progress)
    finish_release(result)


# Commands defined in their own modules (each imports its heavy dependencies lazily).
app.command("audit")(audit_command)
app.command("audit-dp")(audit_dp_command)
app.command("release")(release_command)
app.command("gate")(gate_command)
app.command("augment")(augment_command)


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
    except KeyboardInterrupt:
        _err.print("interrupted")
        return 130
    except Exception as exc:
        from ..exceptions import ALL_ERRORS, exit_code_for  # here: tabsynth.privacy loads scipy

        if debug:
            raise
        if isinstance(exc, ALL_ERRORS):
            _err.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
            return exit_code_for(exc)
        # anything unexpected is our bug: say so, exit 1
        _err.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__}: {escape(str(exc))} "
            "(rerun with --debug for a traceback)"
        )
        return 1
    return 0


def main() -> None:
    sys.exit(run())
