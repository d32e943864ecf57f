"""The three GDPR-style attacks of anonymeter (Giomi et al. 2022, PoPETs 2023), implemented natively.

Each attack is run three times: against training rows (the attack), against holdout rows
(the control: what the synthetic data reveals about people it never saw) and as a naive
random guesser (the baseline). Success rates are Wilson-score estimates; the risk is the
excess of attack over control success, ``(attack - control) / (1 - control)``, clipped to
[0, 1], with its error propagated from both rates (as anonymeter does). Training and
holdout samples have the same size, so no size correction of the control is needed.

* ``privacy.singling_out_risk``: predicates built from synthetic rows that isolate one
  synthetic row; success when the predicate isolates exactly one real row.
* ``privacy.linkability_risk``: the attacker holds two column sets of a person and links
  them through the nearest synthetic row; success when both halves pick the same row.
* ``privacy.inference_risk``: the attacker knows all columns but a secret one and guesses
  it from the nearest synthetic row.

Distances are anonymeter's Gower-style mixed distance (see ``_distance.gower_nearest``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._data import AuditData, Kind
from ._distance import gower_nearest
from ._groups import by_group, worst_group
from ._stats import residual_risk, wilson
from ._util import MetricUnavailable
from .config import AuditConfig
from .privacy import PrivacySamples
from .results import Direction, MetricResult

__all__ = ["INFERENCE", "LINKABILITY", "SINGLING_OUT", "inference_risk", "linkability_risk", "singling_out_risk"]

SINGLING_OUT = "privacy.singling_out_risk"
LINKABILITY = "privacy.linkability_risk"
INFERENCE = "privacy.inference_risk"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
CodeArray = NDArray[np.int32]  # dense rank codes of a table, -1 for missing


# ---- shared result building ----------------------------------------------------------------
def _clip01(value: float) -> float:
    return float(min(max(value, 0.0), 1.0))


@dataclass(frozen=True, slots=True)
class AttackCounts:
    """Successes and trials of the attack, the control and the naive baseline."""

    n_attack: int
    success: float
    n_control: int
    control: float
    n_baseline: int
    baseline: float

    def summary(self, confidence_level: float) -> dict[str, Any]:
        """Rates, the risk and its interval, in anonymeter's conventions."""
        attack = wilson(self.success, self.n_attack, confidence_level)
        control = wilson(self.control, self.n_control, confidence_level)
        naive = wilson(self.baseline, self.n_baseline, confidence_level)
        risk, error = residual_risk(attack, control)
        return {
            "risk": _clip01(risk),
            "risk_ci": [_clip01(risk - error), _clip01(risk + error)],
            "risk_unclipped": risk,
            "attack_rate": attack.center,
            "attack_rate_error": attack.error,
            "control_rate": control.center,
            "control_rate_error": control.error,
            "baseline_rate": naive.center,
            "n_attacks": self.n_attack,
            "n_success": self.success,
            "n_control_attacks": self.n_control,
            "n_control_success": self.control,
            "n_baseline_attacks": self.n_baseline,
            "n_baseline_success": self.baseline,
            "attack_weaker_than_random": bool(attack.center <= naive.center),
        }


def _result(name: str, summary: dict[str, Any], details: dict[str, Any]) -> MetricResult:
    return MetricResult(
        name=name,
        value=summary["risk"],
        ci=tuple(summary["risk_ci"]),
        baseline=0.0,
        direction=Direction.LOWER_IS_BETTER,
        details={**summary, **details, "ci_method": "Wilson score rates, first-order error propagation"},
    )


def _group_summary(
    success: NDArray[np.bool_],
    control: NDArray[np.bool_],
    counts: AttackCounts,
    masks: dict[str, NDArray[np.bool_]],
    config: AuditConfig,
) -> dict[str, Any] | None:
    m_att, m_ctl = masks["targets"], masks["controls"]
    if m_att.sum() < config.min_group_rows or m_ctl.sum() < config.min_group_rows:
        return None
    group = AttackCounts(
        int(m_att.sum()),
        float(success[m_att].sum()),
        int(m_ctl.sum()),
        float(control[m_ctl].sum()),
        counts.n_baseline,
        counts.baseline,
    )
    summary = group.summary(config.confidence_level)
    return {k: summary[k] for k in ("risk", "risk_ci", "attack_rate", "control_rate", "n_attacks", "n_control_attacks")}


def _targets(
    data: AuditData, samples: PrivacySamples, config: AuditConfig, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = min(config.n_attacks, len(samples.train))
    ori = data.train.iloc[rng.choice(samples.train, n, replace=False)].reset_index(drop=True)
    ctl = data.holdout.iloc[rng.choice(samples.holdout, n, replace=False)].reset_index(drop=True)
    return ori, ctl


# ---- singling out --------------------------------------------------------------------------
class Op(IntEnum):
    """Predicate operators."""

    EQ = 0
    NE = 1
    GE = 2
    LE = 3
    GT = 4
    LT = 5
    IS_NULL = 6
    NOT_NULL = 7


@dataclass(frozen=True, slots=True)
class Queries:
    """Conjunctive predicates: row i is ``AND_j column[cols[i,j]] ops[i,j] vals[i,j]``.

    Values are dense rank codes of the column (see :func:`rank_codes`); -1 is missing.
    """

    cols: IntArray
    ops: IntArray
    vals: IntArray

    def __len__(self) -> int:
        return int(self.cols.shape[0])

    def take(self, index: IntArray) -> Queries:
        return Queries(self.cols[index], self.ops[index], self.vals[index])

    @classmethod
    def concat(cls, parts: list[Queries], n_cols: int) -> Queries:
        if not parts:
            empty = np.zeros((0, n_cols), dtype=np.int64)
            return cls(empty, empty.copy(), empty.copy())
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("cols", "ops", "vals")))


def rank_codes(*matrices: FloatArray) -> list[CodeArray]:
    """Dense ranks per column over all ``matrices`` together; missing is -1.

    Ranks keep every comparison (=, <, >) between values of a column, and make matching
    exact and cheap (int32 instead of floats).
    """
    stacked = np.vstack(matrices)
    out = np.full(stacked.shape, -1, dtype=np.int32)
    for j in range(stacked.shape[1]):
        present = ~np.isnan(stacked[:, j])
        out[present, j] = np.unique(stacked[present, j], return_inverse=True)[1]
    bounds = np.cumsum([0] + [len(m) for m in matrices])
    return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=False)]


_INT_MAX = int(np.iinfo(np.int32).max)


def _bounds(ops: IntArray, vals: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Each condition as ``lo <= x <= hi and x != excluded`` on rank codes (missing = -1)."""
    cases = [ops == op for op in (Op.EQ, Op.NE, Op.GE, Op.LE, Op.GT, Op.LT, Op.IS_NULL, Op.NOT_NULL)]
    lo = np.select(cases, [vals, 0, np.maximum(vals, 0), 0, np.maximum(vals + 1, 0), 0, -1, 0])
    hi = np.select(cases, [vals, _INT_MAX, _INT_MAX, vals, _INT_MAX, vals - 1, -1, _INT_MAX])
    excluded = np.where(ops == Op.NE, vals, -2)  # -2 is never a code
    return lo.astype(np.int32), hi.astype(np.int32), excluded.astype(np.int32)


def count_matches(codes: CodeArray, queries: Queries) -> IntArray:
    """How many rows of ``codes`` each query matches (batched; no per-query Python loop).

    Plain numpy on purpose: these are many small element-wise passes, which torch's
    OpenMP pool runs 30x slower than one thread when another process holds the cores.
    """
    if len(queries) == 0 or len(codes) == 0:
        return np.zeros(len(queries), dtype=np.int64)
    by_column = np.ascontiguousarray(codes.T, dtype=np.int32)  # row gathers are contiguous
    lo, hi, excluded = (a[:, :, None] for a in _bounds(queries.ops, queries.vals))
    has_ne = bool((queries.ops == Op.NE).any())
    step = max(1, 4_000_000 // len(codes))
    out = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), step):
        sl = slice(start, start + step)
        mask = np.ones((len(queries.cols[sl]), len(codes)), dtype=bool)
        for j in range(queries.cols.shape[1]):
            x = by_column[queries.cols[sl, j]]
            mask &= x >= lo[sl, j]
            mask &= x <= hi[sl, j]
            if has_ne:
                mask &= x != excluded[sl, j]
        out[sl] = mask.sum(axis=1)
    return out


def _unique_rows(codes: CodeArray) -> CodeArray:
    """Distinct rows in first-seen order, as anonymeter deduplicates every table first."""
    if len(codes) == 0:
        return codes
    _, first = np.unique(codes, axis=0, return_index=True)
    return np.asarray(codes[np.sort(first)], dtype=np.int32)


def _candidate_queries(
    syn: CodeArray, numeric: NDArray[np.bool_], medians: FloatArray, n_cols: int, size: int, rng: np.random.Generator
) -> Queries:
    """Predicates from random synthetic rows: equality for categories, the tail side for numbers."""
    rows = rng.integers(0, len(syn), size)
    cols = np.sort(np.argsort(rng.random((size, syn.shape[1])), axis=1)[:, :n_cols], axis=1)
    vals = syn[rows[:, None], cols].astype(np.int64)
    ops = np.where(numeric[cols], np.where(vals > medians[cols], Op.GE, Op.LE), Op.EQ)
    ops = np.where(vals < 0, Op.IS_NULL, ops).astype(np.int64)
    return Queries(cols.astype(np.int64), ops, vals)


def _query_keys(queries: Queries) -> list[bytes]:
    packed = np.concatenate([queries.cols, queries.ops, queries.vals], axis=1).astype(np.int64)
    return [row.tobytes() for row in packed]


def _isolating(syn: CodeArray, batch: Queries, screen: int) -> IntArray:
    """Indices of the queries that match exactly one synthetic row.

    A query matching two rows of the first ``screen`` rows cannot isolate one row of all
    of them, so only the survivors of that cheap screen are counted on every row.
    """
    survivors = np.flatnonzero(count_matches(syn[:screen], batch) <= 1)
    counts = count_matches(syn, batch.take(survivors))
    return np.asarray(survivors[counts == 1], dtype=np.int64)


def _unseen(index: IntArray, keys: list[bytes], seen: set[bytes]) -> list[int]:
    """The indices whose key is new; records the keys in ``seen``."""
    fresh: list[int] = []
    for i, key in zip(index.tolist(), keys, strict=False):
        if key not in seen:
            seen.add(key)
            fresh.append(i)
    return fresh


def _singling_out_queries(
    syn: CodeArray, numeric: NDArray[np.bool_], config: AuditConfig, rng: np.random.Generator
) -> tuple[Queries, int]:
    """Up to ``n_attacks`` distinct predicates that each isolate exactly one synthetic row."""
    medians = np.array([np.median(c[c >= 0]) if (c >= 0).any() else 0.0 for c in syn.T])
    n_cols = min(config.singling_out_n_cols, syn.shape[1])
    kept: list[Queries] = []
    seen: set[bytes] = set()
    attempts = n_kept = 0
    while n_kept < config.n_attacks and attempts < config.singling_out_max_attempts:
        size = min(2000, config.singling_out_max_attempts - attempts)
        batch = _candidate_queries(syn, numeric, medians, n_cols, size, rng)
        attempts += size
        hits = _isolating(syn, batch, screen=1000)
        fresh = _unseen(hits, _query_keys(batch.take(hits)), seen)
        kept.append(batch.take(np.asarray(fresh, dtype=np.int64)))
        n_kept += len(fresh)
    queries = Queries.concat(kept, n_cols)
    return queries.take(np.arange(min(len(queries), config.n_attacks))), attempts


def _random_queries(
    syn: CodeArray, numeric: NDArray[np.bool_], n_cols: int, size: int, rng: np.random.Generator
) -> Queries:
    """The naive attacker: random columns, random observed values, random operators."""
    cols = np.sort(np.argsort(rng.random((size, syn.shape[1])), axis=1)[:, :n_cols], axis=1)
    vals = np.empty(cols.shape, dtype=np.int64)
    for j in range(syn.shape[1]):
        where = cols == j
        vals[where] = rng.choice(np.unique(syn[:, j]), where.sum())
    num_ops = np.array([Op.EQ, Op.NE, Op.GT, Op.LT, Op.GE, Op.LE])
    cat_ops = np.array([Op.EQ, Op.NE])
    ops = np.where(numeric[cols], rng.choice(num_ops, cols.shape), rng.choice(cat_ops, cols.shape))
    ops = np.where(vals < 0, np.where(ops == Op.EQ, Op.IS_NULL, Op.NOT_NULL), ops)
    return Queries(cols.astype(np.int64), ops.astype(np.int64), vals)


def singling_out_risk(
    data: AuditData, samples: PrivacySamples, config: AuditConfig, rng: np.random.Generator
) -> MetricResult:
    """Multivariate singling-out risk (``singling_out_n_cols`` columns per predicate).

    Predicates are generated from (a sample of) the synthetic rows; success is a predicate
    that matches exactly one row of the training sample (attack) or of the equally large
    holdout sample (control). Not broken down by group: a predicate belongs to no group
    before it is evaluated.
    """
    columns = data.columns
    numeric = np.array([data.kinds[c] is Kind.NUMERIC for c in columns])
    syn, ori, ctl = (
        _unique_rows(c)
        for c in rank_codes(
            data.matrix(data.synthetic.iloc[samples.synthetic_dcr], columns),
            data.matrix(data.train.iloc[samples.train], columns),
            data.matrix(data.holdout.iloc[samples.holdout], columns),
        )
    )
    queries, attempts = _singling_out_queries(syn, numeric, config, rng)
    if len(queries) == 0:
        return MetricResult.unknown(
            SINGLING_OUT,
            Direction.LOWER_IS_BETTER,
            f"no predicate on {config.singling_out_n_cols} columns isolates a single synthetic row "
            f"after {attempts} attempts",
            baseline=0.0,
        )
    baseline = _random_queries(syn, numeric, queries.cols.shape[1], config.n_attacks, rng)
    counts = AttackCounts(
        len(queries),
        float((count_matches(ori, queries) == 1).sum()),
        len(queries),
        float((count_matches(ctl, queries) == 1).sum()),
        len(baseline),
        float((count_matches(ori, baseline) == 1).sum()),
    )
    details = {
        "mode": "multivariate",
        "n_cols": int(queries.cols.shape[1]),
        "n_queries_requested": config.n_attacks,
        "n_candidate_queries": attempts,
        "n_rows_per_side": len(samples.train),
        "n_synthetic_rows": len(samples.synthetic_dcr),
        "by_group": "not defined: a predicate belongs to no group until it is evaluated",
    }
    return _result(SINGLING_OUT, counts.summary(config.confidence_level), details)


# ---- linkability ---------------------------------------------------------------------------
def _aux_split(data: AuditData, config: AuditConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if config.linkability_aux_cols is not None:
        first, second = config.linkability_aux_cols
        unknown = [c for c in (*first, *second) if c not in data.columns]
        if unknown:
            raise MetricUnavailable(f"linkability_aux_cols name columns that are not audited: {unknown}")
        return tuple(first), tuple(second)
    return data.columns[0::2], data.columns[1::2]


def _links(
    data: AuditData, targets: pd.DataFrame, synth: pd.DataFrame, split: tuple[tuple[str, ...], tuple[str, ...]], k: int
) -> NDArray[np.bool_]:
    first = gower_nearest(data.encode(targets, split[0]), data.encode(synth, split[0]), k=k)
    second = gower_nearest(data.encode(targets, split[1]), data.encode(synth, split[1]), k=k)
    return np.array([bool(set(a) & set(b)) for a, b in zip(first.tolist(), second.tolist(), strict=False)])


def linkability_risk(
    data: AuditData, samples: PrivacySamples, config: AuditConfig, rng: np.random.Generator
) -> MetricResult:
    """Linkability risk: can two halves of a person's record be joined through the synthetic data?"""
    if len(data.columns) < 2:
        return MetricResult.unknown(
            LINKABILITY, Direction.LOWER_IS_BETTER, "linkability needs at least two columns", baseline=0.0
        )
    split = _aux_split(data, config)
    synth = data.synthetic.iloc[samples.synthetic]
    ori, ctl = _targets(data, samples, config, rng)
    k = min(config.linkability_n_neighbors, len(synth))
    success = _links(data, ori, synth, split, k)
    control = _links(data, ctl, synth, split, k)
    guesses = [rng.choice(len(synth), (len(ori), k), replace=True) for _ in range(2)]
    naive = np.array([bool(set(a) & set(b)) for a, b in zip(guesses[0].tolist(), guesses[1].tolist(), strict=False)])
    counts = AttackCounts(
        len(ori), float(success.sum()), len(ctl), float(control.sum()), len(naive), float(naive.sum())
    )
    details: dict[str, Any] = {
        "aux_cols": [list(split[0]), list(split[1])],
        "n_neighbors": k,
        "n_synthetic_rows": len(synth),
        "by_group": by_group(
            data, {"targets": ori, "controls": ctl}, lambda m: _group_summary(success, control, counts, m, config)
        ),
    }
    details["worst_group"] = worst_group(details["by_group"], lambda e: e["risk"])
    return _result(LINKABILITY, counts.summary(config.confidence_level), details)


# ---- inference -----------------------------------------------------------------------------
def _correct(data: AuditData, secret: str, guesses: pd.Series, truth: pd.Series, tolerance: float) -> NDArray[np.bool_]:
    g, t = guesses.to_numpy(), truth.to_numpy()
    both_missing = pd.isna(g) & pd.isna(t)
    if data.kinds[secret] is Kind.NUMERIC:
        g, t = g.astype(np.float64), t.astype(np.float64)
        with np.errstate(invalid="ignore"):
            match = np.abs(g - t) <= tolerance * np.abs(t)
        return np.asarray(match | both_missing, dtype=bool)
    return np.asarray((g == t) | both_missing, dtype=bool)


def _inference_for_secret(
    data: AuditData,
    secret: str,
    synth: pd.DataFrame,
    ori: pd.DataFrame,
    ctl: pd.DataFrame,
    config: AuditConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    aux = tuple(c for c in data.columns if c != secret)
    synth_aux = data.encode(synth, aux)
    secrets = synth[secret].reset_index(drop=True)
    guess_ori = secrets.iloc[gower_nearest(data.encode(ori, aux), synth_aux)[:, 0]]
    guess_ctl = secrets.iloc[gower_nearest(data.encode(ctl, aux), synth_aux)[:, 0]]
    success = _correct(data, secret, guess_ori, ori[secret], config.inference_tolerance)
    control = _correct(data, secret, guess_ctl, ctl[secret], config.inference_tolerance)
    naive_guess = secrets.iloc[rng.integers(0, len(secrets), len(ori))]
    naive = _correct(data, secret, naive_guess, ori[secret], config.inference_tolerance)
    counts = AttackCounts(
        len(ori), float(success.sum()), len(ctl), float(control.sum()), len(naive), float(naive.sum())
    )
    summary = counts.summary(config.confidence_level)
    summary["by_group"] = by_group(
        data, {"targets": ori, "controls": ctl}, lambda m: _group_summary(success, control, counts, m, config)
    )
    return summary


def inference_risk(
    data: AuditData, samples: PrivacySamples, config: AuditConfig, rng: np.random.Generator
) -> MetricResult:
    """Attribute-inference risk; the value is the largest risk over the secret columns.

    Secrets default to the target and the sensitive columns. A numeric guess is correct
    within ``inference_tolerance`` of the true value (relative).
    """
    secrets = config.inference_secrets or (data.target, *data.sensitive)
    unknown = [s for s in secrets if s not in data.columns]
    if unknown:
        return MetricResult.unknown(
            INFERENCE, Direction.LOWER_IS_BETTER, f"secret columns {unknown} are not audited", baseline=0.0
        )
    if len(data.columns) < 2:
        return MetricResult.unknown(
            INFERENCE, Direction.LOWER_IS_BETTER, "inference needs at least two columns", baseline=0.0
        )
    synth = data.synthetic.iloc[samples.synthetic]
    ori, ctl = _targets(data, samples, config, rng)
    per_secret = {s: _inference_for_secret(data, s, synth, ori, ctl, config, rng) for s in dict.fromkeys(secrets)}
    worst = max(per_secret, key=lambda s: per_secret[s]["risk_unclipped"])
    top = {k: v for k, v in per_secret[worst].items() if k != "by_group"}
    details = {
        "worst_secret": worst,
        "secrets": per_secret,
        "tolerance": config.inference_tolerance,
        "n_synthetic_rows": len(synth),
        "by_group": per_secret[worst]["by_group"],
        "worst_group": worst_group(per_secret[worst]["by_group"], lambda e: e["risk"]),
    }
    return _result(INFERENCE, top, details)
