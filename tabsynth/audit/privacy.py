"""Privacy leakage: copies, closeness and membership inference, always against a real holdout.

The holdout plays the part of "real people the generator never saw". Every comparison
uses equal-size real samples on both sides (training rows and holdout rows), so the "no
leak" level is known exactly: 0.5 for the DCR share and for an attack's ROC AUC. Only the
synthetic side is subsampled.

* ``privacy.exact_match_rate``: synthetic rows identical to a training row.
* ``privacy.dcr_share``: synthetic rows closer to the training sample than to the holdout.
* ``privacy.mia_auc``: membership inference (distance to the synthetic data, and a
  DOMIAS-style density ratio synthetic/reference).
* ``privacy.attack_epsilon``: the epsilon the attacks imply *for this one run* (a heuristic:
  the member set is fixed, not randomised, so it is no lower bound on the mechanism's epsilon;
  ``tabsynth audit-dp`` gives a valid one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._data import AuditData
from ._distance import nearest, nearest_and_log_density
from ._groups import by_group, group_labels, worst_group
from ._stats import (
    clopper_pearson,
    clopper_pearson_ci,
    delong_auc,
    epsilon_from_rates,
    percentile_ci,
    tpr_at_fpr,
    wilson,
)
from ._util import MetricUnavailable
from .config import AuditConfig
from .results import Direction, MetricResult

__all__ = [
    "ATTACK_EPSILON",
    "DCR_SHARE",
    "EXACT_MATCH",
    "MIA_AUC",
    "MembershipScores",
    "PrivacySamples",
    "attack_epsilon",
    "dcr_share",
    "draw_samples",
    "exact_match_rate",
    "membership_scores",
    "mia_auc",
]

EXACT_MATCH = "privacy.exact_match_rate"
DCR_SHARE = "privacy.dcr_share"
MIA_AUC = "privacy.mia_auc"
ATTACK_EPSILON = "privacy.attack_epsilon"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# ---- samples ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacySamples:
    """Row indices shared by the privacy metrics.

    ``train`` and ``holdout`` have the same size. ``members`` are the first rows of
    ``train`` and ``non_members`` the first rows of ``holdout`` (same count); ``reference``
    is the rest of ``holdout`` (the DOMIAS reference population, disjoint from the targets).
    """

    train: IntArray
    holdout: IntArray
    synthetic_dcr: IntArray
    synthetic: IntArray
    n_mia: int

    @property
    def members(self) -> IntArray:
        return self.train[: self.n_mia]

    @property
    def non_members(self) -> IntArray:
        return self.holdout[: self.n_mia]

    @property
    def reference(self) -> IntArray:
        return self.holdout[self.n_mia :]


def draw_samples(data: AuditData, config: AuditConfig, rng: np.random.Generator) -> PrivacySamples:
    """Draw equal-size real samples and the synthetic subsamples."""
    n_real = min(len(data.train), len(data.holdout), config.max_real_rows)
    n_syn = len(data.synthetic)
    return PrivacySamples(
        train=rng.choice(len(data.train), n_real, replace=False),
        holdout=rng.choice(len(data.holdout), n_real, replace=False),
        synthetic_dcr=rng.choice(n_syn, min(n_syn, config.dcr_synthetic_rows), replace=False),
        synthetic=rng.choice(n_syn, min(n_syn, config.max_synthetic_rows), replace=False),
        n_mia=min(config.mia_rows, n_real // 2),
    )


# ---- exact matches -------------------------------------------------------------------------
def _row_hashes(data: AuditData, frame: pd.DataFrame) -> NDArray[np.uint64]:
    hashes = pd.util.hash_pandas_object(frame[list(data.columns)], index=False)
    return np.asarray(hashes, dtype=np.uint64)


def _rate_entry(hits: NDArray[np.bool_], config: AuditConfig) -> dict[str, Any]:
    rate = wilson(float(hits.sum()), len(hits), config.confidence_level)
    return {"value": rate.mle, "ci": list(rate.ci), "n_rows": len(hits)}


def exact_match_rate(data: AuditData, config: AuditConfig) -> MetricResult:
    """Share of synthetic rows identical (in every audited column) to some training row.

    The baseline is the share of holdout rows identical to a training row: the rate at which
    real, unseen people coincide with training rows by chance. All rows are used.
    """
    train = set(_row_hashes(data, data.train).tolist())
    synth_hash = _row_hashes(data, data.synthetic)
    hold_hash = _row_hashes(data, data.holdout)
    hits = np.fromiter((h in train for h in synth_hash.tolist()), dtype=bool, count=len(synth_hash))
    base_hits = np.fromiter((h in train for h in hold_hash.tolist()), dtype=bool, count=len(hold_hash))
    holdout_set = set(hold_hash.tolist())
    in_holdout = np.fromiter((h in holdout_set for h in synth_hash.tolist()), dtype=bool, count=len(synth_hash))
    rate = wilson(float(hits.sum()), len(hits), config.confidence_level)
    details: dict[str, Any] = {
        "n_synthetic_rows": len(hits),
        "n_matches": int(hits.sum()),
        "holdout_in_train_rate": float(base_hits.mean()),
        "synthetic_in_holdout_rate": float(in_holdout.mean()),
        "synthetic_duplicate_rate": float(1.0 - len(set(synth_hash.tolist())) / len(synth_hash)),
        "ci_method": "Wilson score",
        "by_group": by_group(
            data,
            {"synthetic": data.synthetic},
            lambda m: (
                _rate_entry(hits[m["synthetic"]], config) if m["synthetic"].sum() >= config.min_group_rows else None
            ),
        ),
    }
    details["worst_group"] = worst_group(details["by_group"], lambda e: e["value"])
    return MetricResult(
        name=EXACT_MATCH,
        value=rate.mle,
        ci=rate.ci,
        baseline=float(base_hits.mean()),
        direction=Direction.LOWER_IS_BETTER,
        details=details,
    )


# ---- distance to closest record ------------------------------------------------------------
def _nndr(dist: FloatArray) -> FloatArray:
    """Nearest / second-nearest distance; 1 where both are 0 (a repeated, not a unique, row)."""
    first, second = dist[:, 0], dist[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(second > 0, first / np.where(second > 0, second, 1.0), 1.0)


def _normalised(share: FloatArray | float, null: float) -> FloatArray:
    """Map a raw share onto the 0.5-is-no-leak scale: ``null`` -> 0.5, 1 -> 1, 0 -> 0 (piecewise linear).

    With ``n_t`` training and ``n_h`` holdout rows, a fresh row's nearest real row is a
    training row with probability ``null = n_t / (n_t + n_h)`` (all real rows are
    exchangeable), so the raw share of a perfect generator is ``null``, not 0.5. The map is
    monotone, so it carries intervals over unchanged.
    """
    raw = np.asarray(share, dtype=np.float64)
    if null <= 0.0 or null >= 1.0:
        return raw
    return np.where(raw <= null, 0.5 * raw / null, 0.5 + 0.5 * (raw - null) / (1.0 - null))


def _share_entry(closer: FloatArray, null: float, config: AuditConfig) -> dict[str, Any]:
    rate = wilson(float(closer.sum()), len(closer), config.confidence_level)
    lo, hi = _normalised(np.array(rate.ci), null)
    value = float(_normalised(float(closer.mean()), null))
    return {"value": value, "ci": [float(lo), float(hi)], "n_rows": len(closer)}


def _dcr_interval(
    closer: FloatArray,
    near_train: IntArray,
    near_hold: IntArray,
    sizes: tuple[int, int],
    config: AuditConfig,
    rng: np.random.Generator,
) -> tuple[float, float] | None:
    """Cluster-bootstrap interval of the raw share, resampling the real rows.

    Each synthetic row is attached to the real row it is closest to (a tie is split half
    and half), so every real row carries a "mass" of synthetic rows. Resampling the real
    rows of both samples with their masses captures both sources of randomness: which
    synthetic rows were drawn, and which real rows were drawn. Neighbours are not
    recomputed, so an exact copy stays attached to its source row in every resample.
    """
    n_train, n_hold = sizes
    mass_train = np.bincount(near_train, weights=closer, minlength=n_train)
    mass_hold = np.bincount(near_hold, weights=1.0 - closer, minlength=n_hold)
    w_train = rng.poisson(1.0, (config.n_bootstrap, n_train)).astype(np.float64)
    w_hold = rng.poisson(1.0, (config.n_bootstrap, n_hold)).astype(np.float64)
    numerator = w_train @ mass_train
    denominator = numerator + w_hold @ mass_hold
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = numerator / denominator
    return percentile_ci(draws, config.confidence_level)


def _dcr_train_rows(data: AuditData, config: AuditConfig, rng: np.random.Generator) -> IntArray:
    """Every training row (up to ``dcr_train_rows``): a copy of any of them must be found."""
    n = len(data.train)
    if n <= config.dcr_train_rows:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, config.dcr_train_rows, replace=False)).astype(np.int64)


def dcr_share(data: AuditData, samples: PrivacySamples, config: AuditConfig, rng: np.random.Generator) -> MetricResult:
    """Share of synthetic rows whose closest real row is a training row rather than a holdout row.

    Each synthetic row is compared with *every* training row (up to ``dcr_train_rows``) and
    the holdout sample, so a copy of any training row is found: a verbatim copy of the
    training table reads 1.0. Comparing with a training sample of the holdout's size (as
    before) diluted it: a copy of an unsampled row looks fresh (0.62 for a full copy). The
    two sides then differ in size, so the raw share of a perfect generator is
    ``n_t / (n_t + n_h)``; the value is normalised so that this reads 0.5 and 1 stays 1
    (:func:`_normalised`); the raw share and its null level are in the details.

    Distances: numeric columns scaled by their range, a category mismatch costs 1 (squared
    Euclidean). Equal distances count one half. The interval is a cluster bootstrap over the
    real rows of both sides, each carrying the synthetic rows closest to it
    (:func:`_dcr_interval`), mapped like the value. The plain Wilson interval over synthetic
    rows alone is in ``details["binomial_ci"]``; it ignores that the real samples are random
    too (measured on 30 null replicates: 27/30 covered 0.5 at a nominal 95%, against 29/30
    for the interval reported). NNDR (nearest / second-nearest distance) is in the details.
    """
    synth = data.synthetic.iloc[samples.synthetic_dcr]
    train_rows = _dcr_train_rows(data, config, rng)
    q = data.encode(synth).euclidean()
    d_train, i_train = nearest(q, data.encode(data.train.iloc[train_rows]).euclidean(), k=2)
    d_hold, i_hold = nearest(q, data.encode(data.holdout.iloc[samples.holdout]).euclidean(), k=2)
    closer = (d_train[:, 0] < d_hold[:, 0]) + 0.5 * (d_train[:, 0] == d_hold[:, 0])
    sizes = (len(train_rows), len(samples.holdout))
    null = sizes[0] / (sizes[0] + sizes[1])
    raw = float(closer.mean())
    binomial = wilson(float(closer.sum()), len(closer), config.confidence_level)
    interval = _dcr_interval(closer, i_train[:, 0], i_hold[:, 0], sizes, config, rng)
    raw_ci = binomial.ci if interval is None else interval
    lo, hi = _normalised(np.array(raw_ci), null)
    details: dict[str, Any] = {
        "n_synthetic_rows": len(closer),
        "n_train_rows": sizes[0],
        "n_holdout_rows": sizes[1],
        "raw_share": raw,
        "raw_ci": list(raw_ci),
        "null_share": null,
        "normalisation": "raw share mapped piecewise linearly so that n_t / (n_t + n_h) reads 0.5 and 1 reads 1",
        "ties_share": float((d_train[:, 0] == d_hold[:, 0]).mean()),
        "ci_method": "cluster bootstrap over the real rows of both samples (ties count one half)",
        "binomial_ci": [float(c) for c in _normalised(np.array(binomial.ci), null)],
        "distance": "squared Euclidean: (dx/range)^2 per number + 1 per mismatched category",
        **_distance_summary(d_train, d_hold),
        "train_fraction_sampled": sizes[0] / len(data.train),
        "estimated_memorised_share": float(np.clip((raw - null) / (1.0 - null), 0.0, 1.0)),
        "ideal": 0.5,
        "by_group": by_group(
            data,
            {"synthetic": synth},
            lambda m: (
                _share_entry(closer[m["synthetic"]], null, config)
                if m["synthetic"].sum() >= config.min_group_rows
                else None
            ),
        ),
    }
    details["worst_group"] = worst_group(details["by_group"], lambda e: e["value"])
    return MetricResult(
        name=DCR_SHARE,
        value=float(_normalised(raw, null)),
        ci=(float(lo), float(hi)),
        baseline=0.5,
        direction=Direction.LOWER_IS_BETTER,
        details=details,
    )


def _distance_summary(d_train: FloatArray, d_hold: FloatArray) -> dict[str, float]:
    nndr_train, nndr_hold = _nndr(d_train[:, :2]), _nndr(d_hold[:, :2])
    return {
        "dcr_train_median": float(np.median(d_train[:, 0])),
        "dcr_holdout_median": float(np.median(d_hold[:, 0])),
        "dcr_train_p05": float(np.quantile(d_train[:, 0], 0.05)),
        "dcr_holdout_p05": float(np.quantile(d_hold[:, 0], 0.05)),
        "nndr_train_median": float(np.median(nndr_train)),
        "nndr_holdout_median": float(np.median(nndr_hold)),
        "nndr_train_below_0.5": float((nndr_train < 0.5).mean()),
        "nndr_holdout_below_0.5": float((nndr_hold < 0.5).mean()),
    }


# ---- membership inference ------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipScores:
    """Attack scores (higher = "more likely a member") for members and non-members."""

    attacks: dict[str, FloatArray]
    is_member: NDArray[np.bool_]
    targets: pd.DataFrame
    bandwidth: float
    n_synthetic: int
    n_reference: int
    reference_distance: FloatArray


def _bandwidth(reference: FloatArray, rng: np.random.Generator) -> float:
    """Median leave-one-out nearest-neighbour distance within the reference rows."""
    probe = reference[rng.choice(len(reference), min(len(reference), 1000), replace=False)]
    dist, _ = nearest(probe, reference, k=2)
    nn = dist[:, 1]  # the first neighbour of a reference row is itself
    positive = nn[nn > 0]
    if len(positive) == 0:
        return 1.0
    median = float(np.median(nn))
    return median if median > 0 else float(positive.mean())


def membership_scores(data: AuditData, samples: PrivacySamples, rng: np.random.Generator) -> MembershipScores:
    """Run both membership attacks on ``n_mia`` members and as many non-members.

    * distance: score = -(distance to the closest synthetic row).
    * density ratio (DOMIAS, van Breugel et al. 2023): score = log p_synthetic(x) - log
      p_reference(x), both Gaussian kernel densities with the same bandwidth; the reference
      rows are holdout rows that are not targets.
    """
    if samples.n_mia < 2 or len(samples.reference) < 2:
        raise MetricUnavailable(f"too few rows for membership inference ({samples.n_mia} members)")
    targets = pd.concat([data.train.iloc[samples.members], data.holdout.iloc[samples.non_members]], ignore_index=True)
    x = data.encode(targets).euclidean()
    synth = data.encode(data.synthetic.iloc[samples.synthetic]).euclidean()
    reference = data.encode(data.holdout.iloc[samples.reference]).euclidean()
    h = _bandwidth(reference, rng)
    d_synth, log_p_synth = nearest_and_log_density(x, synth, bandwidth=h)
    d_ref, log_p_ref = nearest_and_log_density(x, reference, bandwidth=h)
    return MembershipScores(
        attacks={"distance": -d_synth, "density_ratio": log_p_synth - log_p_ref},
        is_member=np.r_[np.ones(samples.n_mia, dtype=bool), np.zeros(samples.n_mia, dtype=bool)],
        targets=targets,
        bandwidth=h,
        n_synthetic=len(synth),
        n_reference=len(reference),
        reference_distance=np.asarray(d_ref, dtype=np.float64),
    )


def _attack_level(config: AuditConfig, n_attacks: int) -> float:
    """Bonferroni: the worst of ``n_attacks`` is reported, so each interval is widened."""
    return 1.0 - (1.0 - config.confidence_level) / n_attacks


#: The low false-positive rates at which every attack's TPR is reported (the privacy literature's
#: operating points, Carlini et al. 2022): ``tpr_at_fpr_0.001`` and ``tpr_at_fpr_0.01``.
LOW_FPRS = (0.001, 0.01)


def _tpr_entry(y: NDArray[np.bool_], score: FloatArray, fpr: float, level: float) -> dict[str, Any]:
    tp, n_pos, fp, n_neg = tpr_at_fpr(y, score, fpr)
    return {
        "tpr": tp / n_pos,
        "ci": list(clopper_pearson_ci(tp, n_pos, level)),
        "fpr_achieved": fp / n_neg,
        # at 0.1% FPR with 1,000 non-members the threshold rests on one row: say how many it rests on
        "false_positives_allowed": int(np.floor(fpr * n_neg + 1e-9)),
    }


def _attack_summary(y: NDArray[np.bool_], score: FloatArray, config: AuditConfig, level: float) -> dict[str, Any]:
    auc, lo, hi = delong_auc(y, score, level)
    tp, n_pos, fp, n_neg = tpr_at_fpr(y, score, config.mia_fpr)
    low = {f"tpr_at_fpr_{fpr:g}": _tpr_entry(y, score, fpr, level) for fpr in LOW_FPRS}
    return {
        "auc": auc,
        "auc_ci": [lo, hi],
        "tpr_at_fpr": tp / n_pos,
        "tpr_at_fpr_ci": list(clopper_pearson_ci(tp, n_pos, level)),
        "fpr_achieved": fp / n_neg,
        **low,
        "n_members": n_pos,
        "n_non_members": n_neg,
    }


def _most_exposed(data: AuditData, scores: MembershipScores, attack: str, share: float = 0.01) -> dict[str, Any]:
    """What kind of members the attack ranks most exposed (its top ``share``): groups, not records.

    For every sensitive group, its share among the most exposed members against its share
    among all members; plus how many are outliers (their distance to the nearest reference
    row is above the members' 90th percentile). Aggregates only: no row, no value.
    """
    member_scores = scores.attacks[attack][scores.is_member]
    k = max(1, int(np.ceil(share * len(member_scores))))
    top = np.argsort(-member_scores, kind="stable")[:k]
    members = scores.targets.iloc[: len(member_scores)]
    over: list[dict[str, Any]] = []
    for column in data.sensitive:
        labels = group_labels(data, members, column)
        for group in np.unique(labels.astype(str)):
            all_share = float((labels == group).mean())
            top_share = float((labels[top] == group).mean())
            if top_share > all_share:
                over.append({"column": column, "group": group, "share_exposed": top_share, "share_members": all_share})
    over.sort(key=lambda e: e["share_exposed"] - e["share_members"], reverse=True)
    outlier = scores.reference_distance[: len(member_scores)]
    cut = float(np.quantile(outlier, 0.9))
    return {
        "attack": attack,
        "n_most_exposed": k,
        "share": share,
        "over_represented_groups": over[:5],
        "outlier_share": float((outlier[top] > cut).mean()),
        "outlier_share_expected": 0.1,
        "outlier_definition": "distance to the nearest reference (holdout) row above the members' 90th percentile",
    }


def _group_attack(scores: MembershipScores, mask: NDArray[np.bool_], config: AuditConfig) -> dict[str, Any] | None:
    y = scores.is_member[mask]
    if y.sum() < config.min_group_rows or (~y).sum() < config.min_group_rows:
        return None
    level = _attack_level(config, len(scores.attacks))
    return {name: _attack_summary(y, s[mask], config, level) for name, s in scores.attacks.items()}


def mia_auc(data: AuditData, scores: MembershipScores, config: AuditConfig) -> MetricResult:
    """The strongest membership attack's ROC AUC (0.5 = no membership signal).

    Each attack also reports TPR at FPR = ``config.mia_fpr`` with a Clopper-Pearson interval
    (at the threshold read off the non-members' scores). Because the strongest of several
    attacks is reported, every interval is Bonferroni-widened to ``1 - (1 - level) / k``.
    """
    level = _attack_level(config, len(scores.attacks))
    attacks = {name: _attack_summary(scores.is_member, s, config, level) for name, s in scores.attacks.items()}
    worst = max(attacks, key=lambda a: attacks[a]["auc"])
    details: dict[str, Any] = {
        "attacks": attacks,
        "worst_attack": worst,
        **{key: attacks[worst][key] for key in (f"tpr_at_fpr_{fpr:g}" for fpr in LOW_FPRS)},
        "most_exposed": _most_exposed(data, scores, worst),
        "fpr": config.mia_fpr,
        "kde_bandwidth": scores.bandwidth,
        "n_synthetic_rows": scores.n_synthetic,
        "n_reference_rows": scores.n_reference,
        "ci_method": "DeLong (AUC), Clopper-Pearson (TPR); Bonferroni over the attacks",
        "ci_level_per_attack": level,
        "ideal": 0.5,
        "by_group": by_group(data, {"targets": scores.targets}, lambda m: _group_attack(scores, m["targets"], config)),
    }
    details["worst_group"] = worst_group(details["by_group"], lambda e: max(a["auc"] for a in e.values()))
    return MetricResult(
        name=MIA_AUC,
        value=attacks[worst]["auc"],
        ci=tuple(attacks[worst]["auc_ci"]),
        baseline=0.5,
        direction=Direction.LOWER_IS_BETTER,
        details=details,
    )


# ---- attack epsilon (heuristic) ------------------------------------------------------------
def _best_threshold(member: FloatArray, non_member: FloatArray, alpha: float, delta: float) -> float:
    """The threshold with the largest epsilon bound on the selection half."""
    candidates = np.unique(np.quantile(np.r_[member, non_member], np.linspace(0.0, 1.0, 201)))
    best, best_eps = candidates[0], -1.0
    for t in candidates:
        tp, fp = float((member > t).sum()), float((non_member > t).sum())
        eps = epsilon_from_rates(
            clopper_pearson(tp, len(member), alpha)[0], clopper_pearson(fp, len(non_member), alpha)[1], delta
        )
        if eps > best_eps:
            best, best_eps = t, eps
    return float(best)


def _epsilon_for_attack(
    score: FloatArray, is_member: NDArray[np.bool_], alpha: float, delta: float, rng: np.random.Generator
) -> dict[str, Any]:
    """Select a threshold on one half of the targets, bound epsilon on the other half."""
    member, non_member = rng.permutation(score[is_member]), rng.permutation(score[~is_member])
    half_m, half_n = len(member) // 2, len(non_member) // 2
    threshold = _best_threshold(member[:half_m], non_member[:half_n], alpha, delta)
    eval_m, eval_n = member[half_m:], non_member[half_n:]
    tp, fp = float((eval_m > threshold).sum()), float((eval_n > threshold).sum())
    tpr_lower = clopper_pearson(tp, len(eval_m), alpha)[0]
    fpr_upper = clopper_pearson(fp, len(eval_n), alpha)[1]
    return {
        "epsilon_lower": epsilon_from_rates(tpr_lower, fpr_upper, delta),
        "epsilon_point": epsilon_from_rates(tp / len(eval_m), max(fp, 0.5) / len(eval_n), delta),
        "threshold": threshold,
        "tpr": tp / len(eval_m),
        "fpr": fp / len(eval_n),
        "tpr_lower": tpr_lower,
        "fpr_upper": fpr_upper,
        "n_members_eval": len(eval_m),
        "n_non_members_eval": len(eval_n),
    }


def attack_epsilon(
    scores: MembershipScores, config: AuditConfig, rng: np.random.Generator, *, epsilon_claimed: float | None
) -> MetricResult:
    """``privacy.attack_epsilon``: the epsilon the membership attacks imply on this one release.

    For each attack a threshold is chosen on half of the targets; on the other half,
    Clopper-Pearson bounds give TPR_low and FPR_high, and ``TPR <= e^eps FPR + delta``,
    ``1 - FPR <= e^eps (1 - TPR) + delta`` give the smallest epsilon consistent with them.

    What it does *not* show: it comes from one training run with a fixed member set, so it
    bounds how distinguishable *these* members are in *this* table, not the epsilon of the
    training mechanism. A statistically valid lower bound needs randomised inclusion (each
    record in or out by a coin flip before training): that is ``tabsynth audit-dp``
    (Steinke, Nasr and Jagielski 2023). A value above ``epsilon_claimed`` is a warning sign
    to investigate, not a proof that the guarantee fails.
    """
    alpha = (1.0 - config.confidence_level) / (2 * len(scores.attacks))
    per_attack = {
        name: _epsilon_for_attack(s, scores.is_member, alpha, config.delta, rng) for name, s in scores.attacks.items()
    }
    worst = max(per_attack, key=lambda a: per_attack[a]["epsilon_lower"])
    value = per_attack[worst]["epsilon_lower"]
    n_eval = min(per_attack[worst]["n_members_eval"], per_attack[worst]["n_non_members_eval"])
    details: dict[str, Any] = {
        "attacks": per_attack,
        "worst_attack": worst,
        "delta": config.delta,
        "confidence_level": config.confidence_level,
        "bound": "one-sided; Clopper-Pearson at alpha/(2 x attacks) per rate; threshold chosen on a disjoint half",
        "kind": "heuristic",
        "caveat": (
            "one run with a fixed member set: not a lower bound on the mechanism's epsilon "
            "(that needs randomised inclusion; run 'tabsynth audit-dp')"
        ),
        "max_provable": epsilon_from_rates(
            clopper_pearson(n_eval, n_eval, alpha)[0], clopper_pearson(0, n_eval, alpha)[1], config.delta
        ),
        "epsilon_claimed": epsilon_claimed,
        "exceeds_claimed": bool(epsilon_claimed is not None and value > epsilon_claimed),
    }
    return MetricResult(
        name=ATTACK_EPSILON,
        value=value,
        ci=None,
        baseline=0.0,
        direction=Direction.LOWER_IS_BETTER,
        details=details,
    )
