"""Augmentation on imbalanced tables the generator was not tuned on, scored like the shared judge.

Builds two imbalanced tables from the shared datasets (a seeded subsample, nothing else changed):

* ``adult_rare``: 6,000 rows of Adult's training file, 8% with income ``>50K`` (480 rows);
* ``flchain_rare``: flchain's survivors plus 10% deaths (``chapter`` and ``futime`` leak the label and
  are left out of the models, as in the judge);

then, per seed, runs ``tabsynth.augment`` (share 0.2, with and without the quality filter) on the
judge's 70/30 training split and scores every table with HistGradientBoosting (the judge's
``fit_score``) and logistic regression (``tabsynth.augmentation._features.fit_classifier``) on
the real test rows, beside real only and the judge's SMOTE-NC (3 seeds). Prints and writes JSON.

    python benchmarks/imbalanced_tables.py --epsilon none --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
JUDGE = ROOT.parent / "shared" / "judge"
DATASETS = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(JUDGE))

import augment as judge_augment  # noqa: E402
import score as judge  # noqa: E402


def _rare(frame: pd.DataFrame, target: str, positive: Any, rate: float, n: int | None, seed: int) -> pd.DataFrame:
    is_pos = frame[target].astype(str) == str(positive)
    neg = frame[~is_pos]
    if n is not None:
        neg = neg.sample(int(round(n * (1 - rate))), random_state=seed)
    n_pos = int(round(len(neg) * rate / (1 - rate)))
    pos = frame[is_pos].sample(n_pos, random_state=seed)
    return pd.concat([neg, pos]).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def build(folder: Path) -> list[str]:
    """Write the imbalanced tables into ``folder`` and register them with the judge."""
    folder.mkdir(parents=True, exist_ok=True)
    adult = pd.read_csv(DATASETS / "adult_train.csv")
    flchain = pd.read_csv(DATASETS / "flchain.csv")
    tables = {
        "adult_rare": (_rare(adult, "income", ">50K", 0.08, 6000, 0), "income", ">50K", []),
        "flchain_rare": (_rare(flchain, "death", 1, 0.10, None, 0), "death", 1, ["chapter", "futime"]),
    }
    for name, (frame, target, positive, leak) in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
        judge.SPECS[name] = {"file": f"{name}.csv", "target": target, "positive": positive, "leak": leak}
    judge.ROOTS.insert(0, folder)
    return list(tables)


def _logreg_pr_auc(table: pd.DataFrame, test: pd.DataFrame, spec: dict[str, Any]) -> float:
    from sklearn.metrics import average_precision_score

    from tabsynth.augmentation._features import fit_classifier

    t, pos = spec["target"], str(spec["positive"])
    features = [c for c in table.columns if c != t and c not in spec.get("leak", [])]
    model = fit_classifier(table[features], (table[t].astype(str) == pos).to_numpy().astype(int), kind="logreg")
    return float(average_precision_score((test[t].astype(str) == pos).astype(int), model.proba(test[features])))


def _scores(table: pd.DataFrame, test: pd.DataFrame, spec: dict[str, Any]) -> dict[str, float]:
    pr, roc = judge_augment.fit_score(table, test, spec)
    logreg = _logreg_pr_auc(table, test, spec)
    return {"hgb_pr_auc": round(pr, 4), "hgb_roc_auc": round(roc, 4), "logreg_pr_auc": round(logreg, 4)}


def run(name: str, epsilon: float | None, seeds: list[int], share: float) -> dict[str, Any]:
    from tabsynth import PrivacyWarning, augment

    train, test, spec = judge.load(name)
    out: dict[str, Any] = {"table": name, "epsilon": epsilon, "rows": len(train), "share": share}
    out["positive_rate"] = round(float((train[spec["target"]].astype(str) == str(spec["positive"])).mean()), 4)
    out["real_only"] = _scores(train, test, spec)
    smote = [_scores(judge_augment.smote(train, spec, share, s), test, spec) for s in range(3)]
    out["smote"] = {k: round(float(np.mean([s[k] for s in smote])), 4) for k in smote[0]}
    for quality_filter in (True, False):
        runs = []
        for seed in seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PrivacyWarning)
                result = augment(
                    train.drop(columns=spec.get("leak", [])),
                    target=spec["target"],
                    minority=str(spec["positive"]),
                    share=share,
                    epsilon=epsilon,
                    seed=seed,
                    quality_filter=quality_filter,
                )
            runs.append({**_scores(result.table, test, spec), "seconds": round(time.perf_counter() - start, 1)})
        key = "augmented" if quality_filter else "augmented_no_filter"
        out[key] = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in runs[0]}
        out[key]["per_seed"] = runs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", default="none")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--tables", default="adult_rare,flchain_rare")
    parser.add_argument("--work", type=Path, default=ROOT / "reports" / "imbalanced_tables")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "imbalanced_tables.json")
    args = parser.parse_args()
    build(args.work / "data")
    epsilon = None if args.epsilon.lower() == "none" else float(args.epsilon)
    results = []
    for name in args.tables.split(","):
        record = run(name, epsilon, args.seeds, args.share)
        print(json.dumps(record), flush=True)
        results.append(record)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
