"""The knobs of an audit: sample sizes, attack sizes and confidence level."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..exceptions import ConfigError

__all__ = ["AuditConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditConfig:
    """Settings of :func:`tabsynth.audit.run_audit`; defaults keep an Adult-sized audit under a minute.

    Args:
        confidence_level: level of every two-sided confidence interval (and of the
            one-sided bound behind the empirical epsilon), in (0, 1).
        min_holdout_rows: fewer holdout rows than this is an input error.
        max_real_rows: cap on the equal-size real samples (train and holdout rows) used by
            the privacy metrics.
        dcr_synthetic_rows: synthetic rows sampled for DCR/NNDR.
        dcr_train_rows: training rows each DCR synthetic row is compared with (all of them
            up to this cap, so that a copy of any training row is found).
        max_synthetic_rows: synthetic rows used by the membership, linkability and
            inference attacks (a memorised row must be in the sample to be found).
        mia_rows: members (and as many non-members) attacked by the membership attacks;
            at most half the holdout sample, the other half is the DOMIAS reference.
        mia_fpr: false-positive rate at which the attacks' TPR is reported.
        delta: the delta of the (epsilon, delta) guarantee used in the epsilon lower bound.
        detection_rows: rows per side for the real-vs-synthetic detection classifier.
        detection_folds: cross-validation folds of the detection classifier.
        n_attacks: targets (or queries) of each anonymeter-style attack.
        singling_out_n_cols: columns combined in one multivariate singling-out query.
        singling_out_max_attempts: cap on candidate singling-out queries.
        linkability_aux_cols: the attacker's two column sets; default: the columns split
            alternately in table order.
        linkability_n_neighbors: synthetic neighbours compared by the linkability attack.
        inference_secrets: columns the inference attack tries to guess; default: the
            target and the sensitive columns.
        inference_tolerance: relative tolerance of a correct numeric guess.
        min_precision: precision at which minority-class recall is reported.
        imbalance_threshold: a target whose minority share is below this is "imbalanced".
        min_group_rows: smallest group reported in per-group breakdowns.
        max_categories: most frequent categories kept per column in distance computations
            (rarer ones share one "other" slot).
        n_bootstrap: bootstrap resamples for the intervals that have no closed form.
        positive_label: the target class counted as the positive label by the fairness
            metrics; default: the training minority class.
        fairness_min_group_rows: a sensitive group with fewer rows (on either side) is
            reported as small and left out of the fairness headline values.
        fairness_intersections: also audit pairwise intersections of sensitive attributes.
        fairness_max_groups: a sensitive attribute keeps at most this many of its largest
            groups (each with at least ``fairness_min_group_rows`` training rows); the rest
            are pooled into one ``(other groups)`` group, so a 50-level state column is judged
            on its big states plus the pooled rest.
        exclude: columns left out of the whole audit (e.g. ones that leak the target and
            inflate TSTR); recorded in ``meta.excluded_by_request``.
        report_min_count: smallest count of real rows the report's figures show: rarer
            categories are merged into "(other)" and sparser histogram bins are merged with
            their neighbours (see :mod:`tabsynth.audit.figures`).
    """

    confidence_level: float = 0.95
    min_holdout_rows: int = 50
    max_real_rows: int = 20_000
    dcr_synthetic_rows: int = 10_000
    dcr_train_rows: int = 200_000
    max_synthetic_rows: int = 50_000
    mia_rows: int = 5_000
    mia_fpr: float = 0.01
    delta: float = 1e-5
    detection_rows: int = 10_000
    detection_folds: int = 3
    n_attacks: int = 1_000
    singling_out_n_cols: int = 3
    singling_out_max_attempts: int = 200_000
    linkability_aux_cols: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    linkability_n_neighbors: int = 1
    inference_secrets: tuple[str, ...] | None = None
    inference_tolerance: float = 0.05
    min_precision: float = 0.8
    imbalance_threshold: float = 0.3
    min_group_rows: int = 20
    max_categories: int = 100
    n_bootstrap: int = 200
    report_min_count: int = 10
    positive_label: str | None = None
    fairness_min_group_rows: int = 100
    fairness_intersections: bool = True
    fairness_max_groups: int = 10
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        errors: list[str] = []
        for name in ("confidence_level", "mia_fpr", "min_precision", "imbalance_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                errors.append(f"{name} must be in (0, 1), got {value!r}")
        if not 0.0 <= self.delta < 1.0:
            errors.append(f"delta must be in [0, 1), got {self.delta!r}")
        if not self.inference_tolerance >= 0.0:
            errors.append(f"inference_tolerance must be >= 0, got {self.inference_tolerance!r}")
        minimums = {
            "min_holdout_rows": 2,
            "max_real_rows": 10,
            "dcr_synthetic_rows": 10,
            "dcr_train_rows": 10,
            "max_synthetic_rows": 10,
            "mia_rows": 5,
            "detection_rows": 10,
            "detection_folds": 2,
            "n_attacks": 1,
            "singling_out_n_cols": 1,
            "singling_out_max_attempts": 1,
            "linkability_n_neighbors": 1,
            "min_group_rows": 1,
            "max_categories": 2,
            "n_bootstrap": 10,
            "report_min_count": 1,
            "fairness_min_group_rows": 1,
            "fairness_max_groups": 1,
        }
        for name, lowest in minimums.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
                errors.append(f"{name} must be an integer >= {lowest}, got {value!r}")
        if self.linkability_aux_cols is not None:
            first, second = self.linkability_aux_cols
            if not first or not second or set(first) & set(second):
                errors.append("linkability_aux_cols must be two non-empty, disjoint column lists")
        if isinstance(self.exclude, str) or not all(isinstance(c, str) for c in self.exclude):
            errors.append(f"exclude must be a list of column names, got {self.exclude!r}")
        else:
            object.__setattr__(self, "exclude", tuple(self.exclude))
        if errors:
            raise ConfigError("Invalid audit config: " + "; ".join(errors) + ".")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of all settings."""
        return tuple(f.name for f in fields(cls))
