"""With/without evaluation: does adding the generated rows make a better model on real rows?

A held-out part of the real rows (a seeded stratified split) scores four training tables with
the same model: the real rows only, real + generated minority rows, real + SMOTE-NC rows (to the
same share) and the real rows with balanced class weights. Each metric carries a bootstrap CI
over the held-out rows; the recommendation reads the paired bootstrap difference to real only.

This evaluation reads real rows (the held-out part) without DP: its JSON and page are for the
data owner, not for release.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score

from ..exceptions import DataError
from ._features import fit_classifier, is_categorical

__all__ = ["METRICS", "VARIANTS", "bootstrap_metrics", "recommend", "smote_rows", "split_holdout"]

VARIANTS = ("real_only", "augmented", "smote", "class_weight")
METRICS = ("pr_auc", "roc_auc", "brier", "recall_at_precision")
#: A PR AUC change smaller than this is "no measurable difference" (about the seed-to-seed spread
#: of a booster on a few hundred positives).
TOLERANCE = 0.005


def split_holdout(
    frame: pd.DataFrame, target: str, minority: Any, holdout_share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split, stratified on minority vs the rest: (fit part, held-out part)."""
    from sklearn.model_selection import train_test_split

    y = (frame[target] == minority).to_numpy()
    n_min = int(y.sum())
    if n_min < 4 or (len(y) - n_min) < 4:
        raise DataError(
            f"--evaluate needs at least 4 rows of each side of the split (minority {n_min}, others {len(y) - n_min})."
        )
    fit, held = train_test_split(frame, test_size=holdout_share, stratify=y, random_state=seed)
    return fit.reset_index(drop=True), held.reset_index(drop=True)


def smote_rows(frame: pd.DataFrame, target: str, minority: Any, n_add: int, seed: int) -> pd.DataFrame | str:
    """``n_add`` SMOTE-NC minority rows, or the reason there are none (imbalanced-learn missing)."""
    try:
        from imblearn.over_sampling import SMOTE, SMOTENC
    except ImportError:
        return "imbalanced-learn is not installed (pip install imbalanced-learn): no SMOTE-NC comparison"
    features = frame.drop(columns=[target])
    filled = features.copy()
    for c in features.columns:
        if is_categorical(features[c]):
            filled[c] = features[c].astype(object).where(features[c].notna(), "(missing)").astype(str)
        else:
            filled[c] = features[c].fillna(features[c].median())
    is_min = (frame[target] == minority).to_numpy()
    n_min = int(is_min.sum())
    if n_min < 2:
        return f"SMOTE-NC needs at least 2 minority rows (found {n_min})"
    cat_idx = [i for i, c in enumerate(features.columns) if is_categorical(features[c])]
    k = min(5, n_min - 1)
    labels = np.where(is_min, 1, 0)
    want = {1: n_min + n_add}
    if cat_idx and len(cat_idx) == features.shape[1]:
        return "SMOTE-NC needs at least one numeric column"
    sampler = (
        SMOTENC(categorical_features=cat_idx, sampling_strategy=want, random_state=seed, k_neighbors=k)
        if cat_idx
        else SMOTE(sampling_strategy=want, random_state=seed, k_neighbors=k)
    )
    x, yr = sampler.fit_resample(filled, labels)
    new = pd.DataFrame(x, columns=features.columns).iloc[len(frame) :]
    for c in features.columns:
        if not is_categorical(features[c]):
            new[c] = pd.to_numeric(new[c])
    new[target] = minority
    return new[frame.columns].reset_index(drop=True)


def _recall_at_precision(y: np.ndarray, p: np.ndarray, precision: float) -> float:
    prec, rec, _ = precision_recall_curve(y, p)
    ok = prec >= precision - 1e-12
    return float(rec[ok].max()) if ok.any() else 0.0


def _reference_precision(y: np.ndarray, p_real: np.ndarray) -> float:
    """The real-only model's precision at its default threshold (0.5), or at its top-k (k = positives)."""
    flagged = p_real >= 0.5
    if flagged.any():
        return float(y[flagged].mean())
    top = np.argsort(-p_real, kind="stable")[: max(1, int(y.sum()))]
    return float(y[top].mean())


def _metrics(y: np.ndarray, p: np.ndarray, precision: float) -> dict[str, float]:
    return {
        "pr_auc": float(average_precision_score(y, p)),
        "roc_auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "recall_at_precision": _recall_at_precision(y, p, precision),
    }


def bootstrap_metrics(
    y: np.ndarray, predictions: dict[str, np.ndarray], *, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """Point values, percentile CIs and paired differences to ``real_only`` for every prediction set."""
    rng = np.random.default_rng(seed)
    names = list(predictions)
    ref = predictions["real_only"]
    point_precision = _reference_precision(y, ref)
    point = {n: _metrics(y, predictions[n], point_precision) for n in names}
    draws: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    n = len(y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        precision = _reference_precision(yb, ref[idx])
        for name in names:
            draws[name].append(_metrics(yb, predictions[name][idx], precision))
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2

    def interval(values: list[float]) -> list[float] | None:
        return [float(np.quantile(values, lo)), float(np.quantile(values, hi))] if values else None

    out: dict[str, Any] = {}
    for name in names:
        out[name] = {m: {"value": point[name][m], "ci": interval([d[m] for d in draws[name]])} for m in METRICS}
        if name != "real_only":
            out[name]["difference_to_real_only"] = {
                m: {
                    "value": point[name][m] - point["real_only"][m],
                    "ci": interval([a[m] - b[m] for a, b in zip(draws[name], draws["real_only"], strict=True)]),
                }
                for m in METRICS
            }
    out["_reference_precision"] = point_precision
    return out


def pr_curve(y: np.ndarray, p: np.ndarray, points: int = 120) -> dict[str, list[float]]:
    """A PR curve thinned to about ``points`` points (for the page)."""
    prec, rec, _ = precision_recall_curve(y, p)
    keep = np.unique(np.linspace(0, len(prec) - 1, min(points, len(prec))).astype(int))
    return {"recall": [round(float(r), 4) for r in rec[keep]], "precision": [round(float(q), 4) for q in prec[keep]]}


def recommend(scores: dict[str, Any], model: str) -> tuple[str, str]:
    """``(verdict, sentence)``: verdict is "augment", "no-gain" or "do-not-augment"."""
    diff = scores["augmented"]["difference_to_real_only"]["pr_auc"]
    value, ci = diff["value"], diff["ci"]
    base = scores["real_only"]["pr_auc"]["value"]
    best_other = max(
        (n for n in ("smote", "class_weight") if _finite(scores[n]["pr_auc"]["value"])),
        key=lambda n: scores[n]["pr_auc"]["value"],
        default=None,
    )
    other = ""
    if (
        best_other is not None
        and scores[best_other]["pr_auc"]["value"] > max(base, scores["augmented"]["pr_auc"]["value"]) + TOLERANCE
    ):
        label = "SMOTE-NC" if best_other == "smote" else "class weights"
        other = f" ({label} scored higher here: PR AUC {scores[best_other]['pr_auc']['value']:.3f})"
    span = f"PR AUC {base:.3f} -> {base + value:.3f}"
    ci_text = f", 95% CI of the change [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
    if ci is not None and ci[0] > 0:
        return "augment", f"Use the augmented table: it helps {model} ({span}{ci_text}).{other}"
    if value >= -TOLERANCE:
        return (
            "no-gain",
            f"Augmentation gives no clear gain for {model} ({span}{ci_text}): the change is within noise, "
            f"so train on the real rows unless you need the extra rows for another reason.{other}",
        )
    how = f"it hurts {model}" if ci is not None and ci[1] < 0 else f"{model} scored lower (though within noise)"
    return "do-not-augment", f"Do not augment: {how} ({span}{ci_text}); train on the real rows.{other}"


def _finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def score_variants(
    tables: dict[str, pd.DataFrame | str],
    held: pd.DataFrame,
    *,
    target: str,
    minority: Any,
    model: str,
    seed: int,
    n_boot: int,
) -> tuple[dict[str, Any], dict[str, dict[str, list[float]]]]:
    """Train ``model`` on each table (``class_weight``: the real table, balanced) and score on ``held``."""
    y = (held[target] == minority).to_numpy().astype(int)
    features = [c for c in held.columns if c != target]
    predictions: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    for name in VARIANTS:
        table = tables["real_only" if name == "class_weight" else name]
        if isinstance(table, str):
            notes[name] = table
            continue
        labels = (table[target] == minority).to_numpy().astype(int)
        weight = "balanced" if name == "class_weight" else None
        fitted = fit_classifier(table[features], labels, kind=model, class_weight=weight, seed=seed)
        predictions[name] = fitted.proba(held[features])
    scores = bootstrap_metrics(y, predictions, n_boot=n_boot, seed=seed)
    for name, note in notes.items():
        scores[name] = {m: {"value": None, "ci": None} for m in METRICS} | {"note": note}
    curves = {name: pr_curve(y, p) for name, p in predictions.items()}
    return scores, curves
