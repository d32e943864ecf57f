"""DP-TVAE on Adult and credit_default, scored by the shared judge, beside ctgan's TVAE.

Usage (from the repo root, with the shared folder next to it):

    python benchmarks/tvae_adult.py [--skip-ctgan] [--out benchmarks/results/tvae.json]

Runs, in one process on one machine:
  * tabsynth DP-TVAE at epsilon = 1 (delta = 1e-5), inferred schema (everything paid from the budget);
  * the same with the public Adult schema (examples/schema_adult.yaml);
  * tabsynth DP-TVAE without DP;
  * ctgan's TVAE (100 epochs, its defaults) when the ctgan package is installed;
  * credit_default: DP-TVAE at epsilon = 1, rebalance to 50/50 and the minority rows' TSTR AUC.
Every synthetic table has as many rows as the training table. Prints one JSON line per run.
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
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(SHARED / "judge"))

import score as judge  # noqa: E402

from tabsynth.schema import load_schema  # noqa: E402
from tabsynth.synthesizers import Synthesizer  # noqa: E402


def _fit_sample(
    train: pd.DataFrame,
    *,
    epsilon: float | None,
    target: str,
    sensitive: list[str],
    schema_path: Path | None = None,
    **params: Any,
) -> tuple[Synthesizer, pd.DataFrame, float, float]:
    schema = load_schema(schema_path) if schema_path else None
    synth = Synthesizer("dp-tvae", epsilon=epsilon, delta=1e-5, random_state=0, **params)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(train, schema, target=target, sensitive=sensitive)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = synth.sample(len(train), random_state=1)
    sample_s = time.perf_counter() - started
    return synth, synthetic, fit_s, sample_s


def _throughput(synth: Synthesizer, n_rows: int, fit_s: float) -> float:
    epochs = synth.train_result_.steps * synth.train_result_.sample_rate
    return n_rows * epochs / fit_s


def run_adult(skip_ctgan: bool) -> list[dict[str, Any]]:
    train, test, _ = judge.load("adult")
    runs = []
    for name, eps, schema in [
        ("dp-tvae eps=1 (inferred schema)", 1.0, None),
        ("dp-tvae eps=1 (public schema)", 1.0, ROOT / "examples" / "schema_adult.yaml"),
        ("dp-tvae no DP", None, None),
    ]:
        synth, synthetic, fit_s, sample_s = _fit_sample(
            train, epsilon=eps, target="income", sensitive=["sex", "race"], schema_path=schema
        )
        scores = judge.score("adult", synthetic)
        runs.append(
            {
                "dataset": "adult",
                "system": name,
                "fit_s": round(fit_s, 1),
                "rows_x_epochs_per_s": round(_throughput(synth, len(train), fit_s)),
                "sample_rows_per_s": round(len(train) / sample_s),
                "epsilon_spent": synth.privacy_spent()["epsilon"],
                **scores,
            }
        )
        print(json.dumps(runs[-1]), flush=True)
    if not skip_ctgan:
        runs.append(_ctgan_tvae(train))
        print(json.dumps(runs[-1]), flush=True)
    return runs


def _ctgan_tvae(train: pd.DataFrame) -> dict[str, Any]:
    from ctgan import TVAE

    discrete = [c for c in train.columns if train[c].dtype == object]
    model = TVAE(epochs=100)
    started = time.perf_counter()
    model.fit(train.fillna({c: "missing" for c in discrete}), discrete_columns=discrete)
    fit_s = time.perf_counter() - started
    synthetic = model.sample(len(train))
    scores = judge.score("adult", synthetic)
    return {
        "dataset": "adult",
        "system": "ctgan TVAE (100 epochs, no DP)",
        "fit_s": round(fit_s, 1),
        "rows_x_epochs_per_s": round(len(train) * 100 / fit_s),
        **scores,
    }


def run_credit_default() -> dict[str, Any]:
    train, test, spec = judge.load("credit_default")
    synth, _, fit_s, _ = _fit_sample(
        train,
        epsilon=1.0,
        target="default",
        sensitive=["student"],
        schema_path=ROOT / "benchmarks" / "schema_credit_default.yaml",
    )
    balanced = synth.rebalance("default", {"Yes": 0.5, "No": 0.5}, n_rows=len(train))
    counts = balanced["default"].value_counts().to_dict()
    minority = synth.sample(len(train) // 2, conditions={"default": "Yes"}, random_state=5)
    majority = train[train["default"] == "No"]
    # minority-only TSTR: synthetic minority rows + real majority rows, scored on the real test rows
    mixed = pd.concat([majority, minority[train.columns]], ignore_index=True)
    result = {
        "dataset": "credit_default",
        "system": "dp-tvae eps=1",
        "fit_s": round(fit_s, 1),
        "rebalance_counts": counts,
        "requested": {"Yes": len(train) // 2 + len(train) % 2, "No": len(train) // 2},
        "tstr_auc_balanced_synthetic": round(judge.tstr(balanced, test, spec), 4),
        "tstr_auc_real_majority_plus_synthetic_minority": round(judge.tstr(mixed, test, spec), 4),
        "trtr_auc": round(judge.tstr(train, test, spec), 4),
        "epsilon_spent": synth.privacy_spent()["epsilon"],
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-ctgan", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tvae.json")
    args = parser.parse_args()
    np.seterr(all="ignore")
    results = run_adult(args.skip_ctgan) + [run_credit_default()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
