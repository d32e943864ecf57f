"""``run_audit``: every fidelity and privacy metric of a synthetic table, in one report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import ConfigError
from ..schema import TableSchema
from ._data import AuditData, prepare
from ._util import MetricUnavailable, child_rng
from .catalog import AUDIT_METRICS
from .config import AuditConfig
from .fairness import FAIRNESS_METRICS, fairness
from .fidelity import DETECTION, QUALITY, TRTR, TSTR, detection_auc, quality, utility
from .figures import figure_data
from .privacy import (
    ATTACK_EPSILON,
    DCR_SHARE,
    EXACT_MATCH,
    MIA_AUC,
    MembershipScores,
    PrivacySamples,
    attack_epsilon,
    dcr_share,
    draw_samples,
    exact_match_rate,
    membership_scores,
    mia_auc,
)
from .results import AuditReport, Direction, MetricResult
from .risks import INFERENCE, LINKABILITY, SINGLING_OUT, inference_risk, linkability_risk, singling_out_risk
from .violations import CONSTRAINT_VIOLATIONS, constraint_violations, declared_constraints

__all__ = ["METRIC_NAMES", "run_audit"]

logger = logging.getLogger(__name__)

#: Every metric an audit reports, in report order, with its direction (from :data:`CATALOG`).
METRIC_NAMES: dict[str, Direction] = {name: info.direction for name, info in AUDIT_METRICS.items()}


#: Steps an audit reports to its ``progress`` callback (metric groups, then the figures).
AUDIT_STEPS = 13


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Runner:
    """Runs each metric, turning any failure into an UNKNOWN result and timing every step."""

    def __init__(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        self.results: dict[str, MetricResult] = {}
        self.seconds: dict[str, float] = {}
        self.progress = progress
        self.steps = 0

    def step(self, label: str) -> None:
        """Report progress: ``progress(done, total, label)`` before each step."""
        if self.progress is not None:
            self.progress(min(self.steps, AUDIT_STEPS), AUDIT_STEPS, label)
        self.steps += 1

    def run(self, names: Sequence[str], compute: Callable[[], Sequence[MetricResult]]) -> None:
        self.step(names[0])
        start = time.perf_counter()
        try:
            out = list(compute())
        except MetricUnavailable as reason:
            out = [MetricResult.unknown(n, METRIC_NAMES[n], str(reason)) for n in names]
        except Exception as error:  # a metric must never take the audit down with it
            logger.warning("audit metrics %s failed: %s", list(names), _reason(error))
            out = [MetricResult.unknown(n, METRIC_NAMES[n], _reason(error)) for n in names]
        self.seconds[names[0]] = round(time.perf_counter() - start, 3)  # a shared step is timed once
        for result in out:
            self.results[result.name] = result

    def ordered(self) -> tuple[MetricResult, ...]:
        missing = [n for n in METRIC_NAMES if n not in self.results]
        for name in missing:  # defensive: a metric is never silently dropped
            self.results[name] = MetricResult.unknown(name, METRIC_NAMES[name], "not computed")
        return tuple(self.results[n] for n in METRIC_NAMES) + tuple(
            r for n, r in self.results.items() if n not in METRIC_NAMES
        )


def _fidelity(runner: _Runner, data: AuditData, config: AuditConfig, seed: int) -> None:
    runner.run([QUALITY], lambda: [quality(data)])
    runner.run([TSTR, TRTR], lambda: utility(data, config, child_rng(seed, "utility")))
    runner.run([DETECTION], lambda: [detection_auc(data, config, child_rng(seed, "detection"))])


def _membership(
    runner: _Runner,
    data: AuditData,
    samples: PrivacySamples,
    config: AuditConfig,
    seed: int,
    epsilon_claimed: float | None,
) -> MembershipScores | None:
    holder: list[MembershipScores] = []

    def attacks() -> list[MetricResult]:
        holder.append(membership_scores(data, samples, child_rng(seed, "mia")))
        return [mia_auc(data, holder[0], config)]

    runner.run([MIA_AUC, ATTACK_EPSILON], attacks)
    if holder:
        runner.run(
            [ATTACK_EPSILON],
            lambda: [attack_epsilon(holder[0], config, child_rng(seed, "epsilon"), epsilon_claimed=epsilon_claimed)],
        )
    return holder[0] if holder else None


def _privacy(
    runner: _Runner, data: AuditData, config: AuditConfig, seed: int, epsilon_claimed: float | None
) -> tuple[PrivacySamples, MembershipScores | None]:
    samples = draw_samples(data, config, child_rng(seed, "samples"))
    runner.run([EXACT_MATCH], lambda: [exact_match_rate(data, config)])
    runner.run([DCR_SHARE], lambda: [dcr_share(data, samples, config, child_rng(seed, "dcr"))])
    scores = _membership(runner, data, samples, config, seed, epsilon_claimed)
    runner.run([SINGLING_OUT], lambda: [singling_out_risk(data, samples, config, child_rng(seed, "singling_out"))])
    runner.run([LINKABILITY], lambda: [linkability_risk(data, samples, config, child_rng(seed, "linkability"))])
    runner.run([INFERENCE], lambda: [inference_risk(data, samples, config, child_rng(seed, "inference"))])
    return samples, scores


def _notes(
    data: AuditData, results: dict[str, MetricResult], epsilon_claimed: float | None, config: AuditConfig
) -> list[str]:
    notes: list[str] = []
    if data.excluded:
        notes.append(f"Columns left out of the audit (identifier-like or empty): {list(data.excluded)}.")
    if config.exclude:
        notes.append(f"Columns left out of the audit on request (exclude): {list(config.exclude)}.")
    if data.unmatched.get("absent_from_synthetic"):
        notes.append(
            "Columns the synthetic table lacks, left out of the audit (a generator drops identifiers and "
            f"entity keys): {list(data.unmatched['absent_from_synthetic'])}."
        )
    if data.unmatched.get("only_in_synthetic"):
        notes.append(
            f"Columns only the synthetic table has, left out of the audit: {list(data.unmatched['only_in_synthetic'])}."
        )
    eps = results.get(ATTACK_EPSILON)
    if (
        eps is not None
        and eps.is_ok
        and epsilon_claimed is not None
        and eps.value is not None
        and eps.value > epsilon_claimed
    ):
        notes.append(
            f"The attack epsilon {eps.value:.3g} exceeds the claimed epsilon {epsilon_claimed:g}. It comes from one "
            "run with a fixed member set, so it is a warning sign, not a proof that the guarantee fails: check the "
            "DP training and accounting, and run 'tabsynth audit-dp' for a valid lower bound."
        )
    exact = results.get(EXACT_MATCH)
    if exact is not None and exact.is_ok:
        in_holdout = float(exact.details.get("synthetic_in_holdout_rate") or 0.0)
        expected = float(exact.details.get("holdout_in_train_rate") or 0.0)
        if in_holdout > max(0.2, 5 * expected):
            notes.append(
                f"{in_holdout:.0%} of synthetic rows are exact copies of holdout rows (real rows copy training "
                f"rows at {expected:.1%}): was the holdout passed as the synthetic table? Privacy metrics compare "
                "against the holdout and are not meaningful then; pass a disjoint sample."
            )
    broken = results.get(CONSTRAINT_VIOLATIONS)
    if broken is not None and broken.is_ok:
        for row in broken.details.get("constraints") or ():
            if row.get("synthetic_violations"):
                notes.append(
                    f"{row['synthetic_violations']} synthetic row(s) violate the declared constraint "
                    f"{row['constraint']}; fit enforces declared constraints on every generated row."
                )
    for result in results.values():
        if not result.is_ok and not result.details.get("not_applicable"):
            notes.append(f"{result.name} could not be computed: {result.reason}")
    return notes


def run_audit(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    holdout: pd.DataFrame,
    target: str,
    sensitive: Sequence[str] = (),
    epsilon_claimed: float | None = None,
    delta_claimed: float | None = None,
    random_state: int | None = 0,
    schema: TableSchema | None = None,
    config: AuditConfig | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    privacy: Mapping[str, Any] | None = None,
    constraints: Sequence[Any] | None = None,
) -> AuditReport:
    """Audit a synthetic table for fidelity and privacy leakage against real training and holdout rows.

    Args:
        real: the real rows the generator was trained on.
        synthetic: the synthetic table (same types; columns only one of real and synthetic has are
            left out and named in the notes and ``meta.unmatched_columns``).
        holdout: real rows from the same population that the generator never saw (at least
            ``config.min_holdout_rows``); every privacy metric is measured against it.
        target: the column predicted in the TSTR/TRTR utility metrics (categorical).
        sensitive: columns whose groups get per-group privacy breakdowns (numbers in
            training quartiles) and which the inference attack tries to guess.
        epsilon_claimed: the epsilon the generator claims; the audit flags an attack
            epsilon above it.
        delta_claimed: the delta of that guarantee (recorded in ``meta.delta_claimed`` for
            the gate's ``privacy.delta`` rule, and used by the attack epsilon instead of
            ``config.delta``); ``None`` records no delta, never a default.
        random_state: seed of every random choice (samples, models, attacks).
        schema: declared column kinds (identifier/text columns are left out); inferred
            from the dtypes when omitted. Its ``constraints`` are checked on the synthetic
            and holdout rows (``constraints.violation_rate``).
        config: sample sizes, attack sizes and the confidence level (:class:`AuditConfig`).
        progress: called as ``progress(done, total, label)`` before each step (for a progress bar).
        privacy: the generator's privacy card (e.g. ``Synthesizer.privacy_card()``), stored in
            ``meta.privacy``; the gate reads epsilon and delta from it.
        constraints: more constraints to check (objects of :mod:`tabsynth.constraints` or their
            schema mappings), e.g. those a fitted model's schema holds; added to the schema's,
            each checked once. With none at all, ``constraints.violation_rate`` is not applicable.

    Returns:
        An :class:`AuditReport` with every metric of :data:`METRIC_NAMES`; a metric that
        could not be computed is present with status ``unknown`` and the reason.

    Raises:
        DataError: the tables do not fit together (columns, types, empty synthetic table,
            missing target, too few holdout rows).
        ConfigError: ``epsilon_claimed`` is not a positive number.
        SchemaError: a mapping in ``constraints`` is not a valid constraint.

    Example:
        >>> report = run_audit(train, synth, holdout=test, target="income")  # doctest: +SKIP
        >>> report["privacy.dcr_share"].value  # doctest: +SKIP
        0.502
    """
    config = config or AuditConfig()
    if epsilon_claimed is not None and not (np.isfinite(epsilon_claimed) and epsilon_claimed > 0):
        raise ConfigError(f"epsilon_claimed must be a positive number, got {epsilon_claimed!r}.")
    if delta_claimed is not None:
        if not 0.0 <= delta_claimed < 1.0:
            raise ConfigError(f"delta_claimed must be in [0, 1), got {delta_claimed!r} (e.g. 1e-6).")
        config = replace(config, delta=float(delta_claimed))
    seed = int(np.random.default_rng().integers(0, 2**31 - 1)) if random_state is None else int(random_state)
    declared = declared_constraints(schema, constraints)
    start = time.perf_counter()
    data = prepare(real, synthetic, holdout=holdout, target=target, sensitive=sensitive, schema=schema, config=config)
    runner = _Runner(progress)
    _fidelity(runner, data, config, seed)
    samples, scores = _privacy(runner, data, config, seed, epsilon_claimed)
    runner.run(list(FAIRNESS_METRICS), lambda: fairness(data, config, child_rng(seed, "fairness")))
    # on the tables as given: a constraint may name a column the audit leaves out (an identifier, --exclude)
    runner.run([CONSTRAINT_VIOLATIONS], lambda: [constraint_violations(synthetic, holdout, declared)])
    metrics = runner.ordered()
    runner.step("figures")
    figure_start = time.perf_counter()
    figures, figure_notes = figure_data(data, config=config, samples=samples, scores=scores, metrics=metrics)
    runner.seconds["figures"] = round(time.perf_counter() - figure_start, 3)
    if progress is not None:
        progress(AUDIT_STEPS, AUDIT_STEPS, "done")
    meta: dict[str, Any] = {
        "tabsynth_version": __version__,
        "n_rows": {"train": len(data.train), "holdout": len(data.holdout), "synthetic": len(data.synthetic)},
        "columns": {c: k.value for c, k in data.kinds.items()},
        "excluded_columns": list(data.excluded),
        "unmatched_columns": {k: list(v) for k, v in data.unmatched.items()},
        "excluded_by_request": list(config.exclude),
        "target": target,
        "sensitive": list(data.sensitive),
        "epsilon_claimed": epsilon_claimed,
        "delta_claimed": delta_claimed,
        "random_state": seed,
        "constraints": [c.to_dict() for c in declared],
        "confidence_level": config.confidence_level,
        "seconds": {**runner.seconds, "total": round(time.perf_counter() - start, 3)},
    }
    if privacy is not None:
        meta["privacy"] = dict(privacy)
    notes = (*_notes(data, runner.results, epsilon_claimed, config), *figure_notes)
    return AuditReport(metrics=metrics, meta=meta, notes=notes, figures=figures)
