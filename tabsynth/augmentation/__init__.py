"""Augmentation that says whether it pays off: real rows + generated minority rows, and a check.

``augment(frame, target=..., minority=..., share=...)`` keeps every real row and adds generated
rows of the minority class until it makes up ``share`` of the table. The rows come from a
per-class DP-TVAE, oversampled and filtered by a critic (see :mod:`._generate` for what is DP and
why). ``evaluate=True`` also trains the chosen model on a held-out split with and without the
rows (and against SMOTE-NC and class weights) and says whether to use them.

Example:
    >>> result = augment(frame, target="default", minority="Yes", share=0.2, epsilon=1.0, evaluate=True)
    >>> result.evaluation["recommendation"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import ConfigError, DataError, PrivacyWarning
from ..io import SUPPORTED_SUFFIXES, write_table, write_text
from ._evaluate import VARIANTS, score_variants, smote_rows, split_holdout
from ._evaluate import recommend as _recommend
from ._features import MODELS
from ._generate import Generated, GeneratorSettings, generate_minority, resolve_minority
from ._page import render_page

__all__ = ["AugmentResult", "augment", "output_paths", "write_augmentation"]

_HOLDOUT_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class AugmentResult:
    """The augmented table (real rows first, then the generated ones) and what to know about it.

    Attributes:
        table: every real row, then the generated minority rows.
        generated: the generated rows alone (a DP release when ``card["differentially_private"]``).
        card: counts, the filter's record and the privacy card (written beside the table).
        evaluation: the with/without check (``evaluate=True``), else ``None``.
    """

    table: pd.DataFrame
    generated: pd.DataFrame
    card: dict[str, Any]
    evaluation: dict[str, Any] | None = None

    @property
    def recommendation(self) -> str | None:
        return None if self.evaluation is None else str(self.evaluation["recommendation"])


def _check_inputs(frame: Any, target: str, share: Any, model: str, holdout_share: float) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"augment expects a pandas DataFrame, got {type(frame).__name__}.")
    if frame.shape[0] == 0:
        raise DataError("Cannot augment an empty table.")
    if target not in frame.columns:
        raise DataError(f"Target column {target!r} is not in the table; columns are {list(frame.columns)}.")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not (0 < share < 1):
        raise ConfigError(f"share must be a number in (0, 1) (the minority's share after adding rows), got {share!r}.")
    if model not in MODELS:
        raise ConfigError(f"Unknown evaluation model {model!r}: choose one of {', '.join(MODELS)}.")
    if not (0 < holdout_share < 1):
        raise ConfigError(f"holdout_share must be in (0, 1), got {holdout_share!r}.")


def _privacy_section(gen: Generated, settings: GeneratorSettings) -> dict[str, Any]:
    dp = settings.epsilon is not None
    section: dict[str, Any] = {
        "generated_rows_are_dp": dp,
        "epsilon": settings.epsilon,
        "delta": settings.delta if dp else None,
        "real_rows": "copied unchanged into the output: the table as a whole is NOT differentially private; "
        "share only the generated rows if they must leave the data owner",
    }
    if dp:
        section["row_count"] = (
            "the number of generated rows follows from the model's DP estimates of the row count and the "
            "minority share (post-processing), not from the exact counts; the achieved share is therefore "
            "close to, not exactly, the requested one"
        )
        section["filter"] = "the critic is trained on DP synthetic rows only (post-processing)"
        section["public"] = "the target's class labels (declared public, never counted without noise)"
    else:
        section["warning"] = "epsilon=None: the generated rows are NOT differentially private (internal use only)"
    section["card"] = gen.synthesizer.privacy_card().to_dict()
    return section


def _card(
    frame: pd.DataFrame, gen: Generated, target: str, minority: Any, share: float, settings: GeneratorSettings
) -> dict[str, Any]:
    n_real = len(frame)
    n_min = int((frame[target] == minority).sum())
    n_gen = len(gen.rows)
    return {
        "tabsynth_version": __version__,
        "kind": "augmentation",
        "target": target,
        "minority": str(minority),
        "share_requested": share,
        "share_achieved": round((n_min + n_gen) / (n_real + n_gen), 4),
        "real_rows": n_real,
        "real_minority_rows": n_min,
        "generated_rows": n_gen,
        "generated_rows_position": f"the last {n_gen} rows (after the {n_real} real rows)",
        "counts_from": gen.counts_source,
        "differentially_private": settings.epsilon is not None,
        "generator": "dp-tvae, one model per target class",
        "quality_filter": gen.filter,
        "privacy": _privacy_section(gen, settings),
    }


def _evaluate(
    frame: pd.DataFrame,
    *,
    target: str,
    minority: Any,
    share: float,
    settings: GeneratorSettings,
    model: str,
    holdout_share: float,
    n_bootstrap: int,
) -> dict[str, Any]:
    seed = 0 if settings.seed is None else int(settings.seed)
    fit, held = split_holdout(frame, target, minority, holdout_share, seed)
    gen = generate_minority(fit, target=target, minority=minority, share=share, settings=settings)
    tables: dict[str, pd.DataFrame | str] = {
        "real_only": fit,
        "augmented": pd.concat([fit, gen.rows], ignore_index=True),
        "smote": (
            smote_rows(fit, target, minority, len(gen.rows), seed)
            if len(gen.rows)
            else "no rows to add: the minority already has the share"
        ),
    }
    if isinstance(tables["smote"], pd.DataFrame):
        tables["smote"] = pd.concat([fit, tables["smote"]], ignore_index=True)
    scores, curves = score_variants(
        tables, held, target=target, minority=minority, model=model, seed=seed, n_boot=n_bootstrap
    )
    verdict, sentence = _recommend(scores, model)
    reference_precision = scores.pop("_reference_precision")
    held_share = float((held[target] == minority).mean())
    return {
        **{name: scores[name] for name in VARIANTS},
        "recommendation": sentence,
        "verdict": verdict,
        "reference_precision": reference_precision,
        "setup": {
            "model": model,
            "fit_rows": len(fit),
            "held_out_rows": len(held),
            "held_out_minority_share": round(held_share, 4),
            "generated_rows": len(gen.rows),
            "split": f"seeded stratified split, {holdout_share:.0%} held out (seed {seed})",
            "bootstrap": n_bootstrap,
            "epsilon": settings.epsilon,
            "privacy_note": "This evaluation scores models on real held-out rows and is NOT differentially "
            "private: keep it with the data owner. Its generator was fitted on the fit part only; the rows in the "
            "output come from a second generator fitted on every row.",
        },
        "pr_curves": curves,
    }


def augment(
    frame: pd.DataFrame,
    *,
    target: str,
    minority: Any,
    share: float,
    epsilon: float | None = 1.0,
    delta: float = 1e-6,
    seed: int | None = None,
    evaluate: bool = False,
    evaluate_model: str = "hgb",
    holdout_share: float = _HOLDOUT_SHARE,
    quality_filter: bool = True,
    epochs: int | None = None,
    n_bootstrap: int = 200,
) -> AugmentResult:
    """Real rows plus generated ``minority`` rows up to ``share`` of the table, and (optionally) a check.

    Args:
        frame: the real table.
        target: the label column (categorical).
        minority: the class to add rows of; a string matches a numeric label by its text ("2").
        share: the minority's share after augmentation, in (0, 1). When it already has that share
            nothing is generated.
        epsilon, delta: the generator's privacy budget; ``epsilon=None`` trains without DP (warned).
        seed: seed of the split, the generator and the sampling.
        evaluate: also run the with/without check (:attr:`AugmentResult.evaluation`).
        evaluate_model: ``"hgb"`` (HistGradientBoosting) or ``"logreg"`` (logistic regression).
        holdout_share: share of the real rows held out by the check.
        quality_filter: oversample candidates and keep those a critic finds most minority-like.
        epochs: generator epochs (default: the model's).
        n_bootstrap: bootstrap resamples for the check's intervals.

    Raises:
        DataError, ConfigError, SchemaError: invalid input (exit code 2 in the CLI).
    """
    _check_inputs(frame, target, share, evaluate_model, holdout_share)
    value = resolve_minority(frame, target, minority)
    settings = GeneratorSettings(
        epsilon=None if epsilon is not None and math.isinf(epsilon) else epsilon,
        delta=delta,
        seed=seed,
        epochs=epochs,
        quality_filter=quality_filter,
    )
    settings.check()
    if settings.epsilon is None:
        warnings.warn("epsilon=None: the generated rows are NOT differentially private.", PrivacyWarning, stacklevel=2)
    evaluation = None
    if evaluate:
        evaluation = _evaluate(
            frame,
            target=target,
            minority=value,
            share=share,
            settings=settings,
            model=evaluate_model,
            holdout_share=holdout_share,
            n_bootstrap=n_bootstrap,
        )
    gen = generate_minority(frame, target=target, minority=value, share=share, settings=settings)
    table = pd.concat([frame, gen.rows], ignore_index=True) if len(gen.rows) else frame.reset_index(drop=True)
    card = _card(frame, gen, target, value, share, settings)
    if evaluation is not None:
        card["evaluation"] = {"verdict": evaluation["verdict"], "recommendation": evaluation["recommendation"]}
    return AugmentResult(table=table, generated=gen.rows, card=card, evaluation=evaluation)


def output_paths(out: str | Path, evaluate: str | Path | None = None) -> list[Path]:
    """Every file :func:`write_augmentation` writes: the table, its card, the evaluation and its page."""
    out = Path(out)
    if out.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ConfigError(f"--out must end in one of {', '.join(SUPPORTED_SUFFIXES)}, got {out.name!r}.")
    paths = [out, out.with_name(out.stem + ".privacy.json")]
    if evaluate is not None:
        ev = Path(evaluate)
        if ev.suffix.lower() != ".json":
            raise ConfigError(f"--evaluate must name a .json file, got {ev.name!r}.")
        paths += [ev, ev.with_suffix(".html")]
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise ConfigError(f"The output files collide: {', '.join(str(p) for p in paths)}; choose other names.")
    return paths


def write_augmentation(
    result: AugmentResult, out: str | Path, *, evaluate: str | Path | None = None, overwrite: bool = False
) -> list[Path]:
    """Write the table, its ``<stem>.privacy.json`` card and (optionally) the evaluation JSON and page.

    Each file is written atomically; the card is written before the table, so a table on disk
    always has its card. Raises :class:`ConfigError` when a file exists and ``overwrite`` is false.
    """
    paths = output_paths(out, evaluate)
    check_free(paths, overwrite=overwrite)
    if evaluate is not None and result.evaluation is None:
        raise ConfigError("No evaluation to write: call augment(..., evaluate=True).")
    write_text(json.dumps(result.card, indent=2, default=_json_default) + "\n", paths[1])
    if evaluate is not None and result.evaluation is not None:
        write_text(json.dumps(result.evaluation, indent=2, default=_json_default) + "\n", paths[2])
        write_text(render_page(result.evaluation), paths[3])
    write_table(result.table, paths[0])
    return paths


def check_free(paths: list[Path], *, overwrite: bool) -> None:
    """Raise :class:`ConfigError` when one of ``paths`` exists (unless ``overwrite``)."""
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        raise ConfigError(
            f"{', '.join(str(p) for p in taken)} already exist(s): pass --overwrite (overwrite=True) "
            "or choose another --out."
        )
    folders = [p for p in taken if p.is_dir()]
    if folders:
        raise ConfigError(f"{folders[0]} is a folder; expected a file path.")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
