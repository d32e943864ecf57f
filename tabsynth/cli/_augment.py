"""``tabsynth augment``: real rows + generated minority rows, and whether they help (``--evaluate``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..exceptions import PrivacyWarning

__all__ = ["augment_command", "render_augment"]

_LABELS = {
    "real_only": "real only",
    "augmented": "real + generated",
    "smote": "real + SMOTE-NC",
    "class_weight": "real, class weights",
}


def _cell(metric: dict[str, Any]) -> str:
    if metric.get("value") is None:
        return "-"
    ci = metric.get("ci")
    return f"{metric['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def render_augment(card: dict[str, Any], evaluation: dict[str, Any] | None, paths: list[Path]) -> None:
    """Print what was written, the privacy status and (with --evaluate) the table and recommendation."""
    from ._render import at_least

    console = at_least(130, Console(highlight=False))
    console.print(f"Augmented table written to {escape(str(paths[0]))}", soft_wrap=True)
    console.print(f"Privacy card written to {escape(str(paths[1]))}", soft_wrap=True)
    console.print(
        f"{card['real_rows']} real rows + {card['generated_rows']} generated rows of class {escape(card['minority'])}: "
        f"minority share {card['real_minority_rows'] / card['real_rows']:.1%} -> {card['share_achieved']:.1%} "
        f"(requested {card['share_requested']:.1%})"
    )
    privacy = card["privacy"]
    if privacy["generated_rows_are_dp"]:
        console.print(
            f"The generated rows are differentially private (epsilon={privacy['epsilon']:g}, "
            f"delta={privacy['delta']:g}); the real rows in the file are not."
        )
    else:
        console.print(
            "[bold yellow]warning:[/bold yellow] epsilon=none: the generated rows are NOT differentially private."
        )
    if evaluation is None:
        console.print("Run with --evaluate EVAL.json to check whether the generated rows help your model.")
        return
    table = Table(box=box.SIMPLE, caption="95% bootstrap CIs on the held-out real rows")
    for head in ("training table", "PR AUC ↑", "ROC AUC ↑", "Brier ↓", "recall@precision ↑"):
        table.add_column(head, no_wrap=True)
    for name, label in _LABELS.items():
        scores = evaluation[name]
        table.add_row(label, *(_cell(scores[m]) for m in ("pr_auc", "roc_auc", "brier", "recall_at_precision")))
    console.print(table)
    for name in _LABELS:
        if evaluation[name].get("note"):
            console.print(
                f"[bold yellow]note:[/bold yellow] {escape(_LABELS[name])}: {escape(evaluation[name]['note'])}"
            )
    console.print(f"Evaluation written to {escape(str(paths[2]))} (page: {escape(str(paths[3]))})", soft_wrap=True)
    console.print(f"[bold]recommendation:[/bold] {escape(evaluation['recommendation'])}")


def augment_command(
    data: Annotated[Path, typer.Argument(help="Real table (CSV or Parquet).")],
    target: Annotated[str, typer.Option("--target", help="Label column.")],
    minority: Annotated[str, typer.Option("--minority", help="The class to add rows of (its value).")],
    share: Annotated[float, typer.Option("--share", help="Minority share after augmentation, in (0, 1).")],
    out: Annotated[Path, typer.Option("--out", help="Augmented table to write (.csv or .parquet).")],
    epsilon: Annotated[str, typer.Option("--epsilon", help="Generator's privacy budget, or 'none' (no DP).")] = "1",
    delta: Annotated[float, typer.Option("--delta", help="Generator's delta.")] = 1e-6,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    evaluate: Annotated[
        Path | None, typer.Option("--evaluate", help="Also check on held-out rows; write this JSON (+ .html).")
    ] = None,
    evaluate_model: Annotated[
        str, typer.Option("--evaluate-model", help="Model of the check: hgb (default) or logreg.")
    ] = "hgb",
    no_filter: Annotated[bool, typer.Option("--no-filter", help="Keep every generated row (no critic).")] = False,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Generator epochs (default: the model's).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")] = False,
) -> None:
    """Add generated minority rows to the real table, and (with --evaluate) say whether they help."""
    from ..augmentation import augment, check_free, output_paths, write_augmentation
    from ..io import read_table
    from .main import _parse_epsilon

    paths = output_paths(out, evaluate)
    check_free(paths, overwrite=overwrite)  # before any work: never silently overwrite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyWarning)  # rendered below instead
        result = augment(
            read_table(data),
            target=target,
            minority=minority,
            share=share,
            epsilon=_parse_epsilon(epsilon),
            delta=delta,
            seed=seed,
            evaluate=evaluate is not None,
            evaluate_model=evaluate_model,
            quality_filter=not no_filter,
            epochs=epochs,
        )
    write_augmentation(result, out, evaluate=evaluate, overwrite=overwrite)
    render_augment(result.card, result.evaluation, paths)
