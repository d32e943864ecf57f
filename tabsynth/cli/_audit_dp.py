"""``tabsynth audit-dp``: parse, call :func:`tabsynth.canary_audit.audit_dp`, write the JSON, summarise."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ._render import EpochBar, console

__all__ = ["audit_dp_command"]


def audit_dp_command(
    data: Annotated[Path, typer.Argument(help="Private table (CSV, TSV or Parquet), as you would pass to fit.")],
    target: Annotated[str, typer.Option("--target", help="Target column (as for fit).")],
    epsilon: Annotated[str, typer.Option("--epsilon", help="Privacy budget of the audited fit, or 'none' for no DP.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the audit JSON (internal: keep it private).")],
    canaries: Annotated[int, typer.Option("--canaries", help="Canary records, each included by a secret coin.")] = 500,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="Sensitive column (repeatable).")] = None,
    schema: Annotated[Path | None, typer.Option("--schema", help="Declared schema YAML (public knowledge).")] = None,
    delta: Annotated[float, typer.Option("--delta", help="Total delta (as for fit).")] = 1e-6,
    model: Annotated[str, typer.Option("--model", help="Generator (dp-tvae: scored by its per-record loss).")] = (
        "dp-tvae"
    ),
    epochs: Annotated[int | None, typer.Option("--epochs", help="Training epochs (default: the model's).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Expected Poisson batch.")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the weights and the canaries (not the coins).")
    ] = (None),
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    stratify: Annotated[
        bool | None, typer.Option("--stratify/--no-stratify", help="As for fit (default: auto).")
    ] = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence of the lower bound.")] = 0.95,
    sep: Annotated[str | None, typer.Option("--sep", help="Field separator of a text table ('tab' for TSV).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
) -> None:
    """Empirical lower bound on a fit's epsilon from one training run with canaries (Steinke et al. 2023).

    Inserts --canaries records drawn inside the table's domain, each kept by a secret fair
    coin, fits once exactly as 'tabsynth fit' would, guesses which canaries were trained on
    from the model's per-record loss, and turns the right guesses into an epsilon that the fit
    provably exceeds, at --confidence. A bound above the claimed epsilon means the guarantee
    does not hold. The model is discarded; the JSON is an internal artefact.
    """
    from ..canary_audit import audit_dp
    from ..exceptions import ConfigError, PrivacyWarning
    from ..io import check_output, read_table, write_text
    from ..privacy.plan import parse_epsilon
    from ..schema import load_schema

    check_output(out, overwrite=overwrite, table=False)
    try:
        eps = parse_epsilon(epsilon)
    except ValueError as exc:
        raise ConfigError(f"--{exc}") from None
    declared = load_schema(schema) if schema is not None else None
    frame = read_table(data, sep=sep, show_values=eps is None)
    bar = EpochBar(enabled=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyWarning)  # the JSON and the summary say "no DP" themselves
        try:
            result = audit_dp(
                frame,
                target=target,
                epsilon=eps,
                delta=delta,
                canaries=canaries,
                schema=declared,
                sensitive=tuple(sensitive or ()),
                model=model,
                epochs=epochs,
                batch_size=batch_size,
                random_state=seed,
                device=device,
                stratify="auto" if stratify is None else stratify,
                confidence=confidence,
                callback=bar,
            )
        finally:
            bar.close()
    check_output(out, overwrite=overwrite, table=False)  # again: it may have appeared while training ran
    write_text(result.to_json() + "\n", out)
    claimed = "none (no DP)" if result.epsilon_claimed is None else f"{result.epsilon_claimed:g}"
    console.print(
        f"epsilon lower bound {result.epsilon_lower_bound:.3f} at {result.confidence:.0%} confidence "
        f"(claimed {claimed}); {result.correct} of {result.guesses} guesses right, "
        f"{result.canaries} canaries ({result.included} trained on), {result.runtime_s:.0f} s",
        soft_wrap=True,
    )
    if result.exceeds_claim:
        console.print("[bold red]The bound exceeds the claimed epsilon: the DP guarantee does not hold.[/bold red]")
    console.print(f"Internal audit written to {escape(str(out))} (keep it with the data owner)", soft_wrap=True)
