"""DP-CTGAN on a small imbalanced table across seeds: how many DP steps the GAN needs.

Usage (from the repo root, with the shared folder next to it):

    OMP_NUM_THREADS=2 python benchmarks/ctgan_seeds.py [--dataset credit_default] [--epsilon 3]
        [--seeds 0,1,2,3,4,5] [--out benchmarks/results/ctgan_seeds.json]

For every seed, fits tabsynth DP-CTGAN (public target categories from
``benchmarks/schema_<dataset>.yaml``, everything else paid from epsilon, delta = 1e-5) three ways:
the old default (20 epochs, credit_default: 137 steps; generator conditions drawn from the DP
marginal), the current default (at least 1,000 steps, the same conditions), and at least 1,000
steps with conditions drawn from marginal ** 0.5 (``model_options={"condition_power": 0.5}``). Scores
each synthetic table (as many rows as the training table) with the shared judge's TSTR AUC and
quality; prints one JSON line per fit and a mean / min / max summary per setting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent / "shared" / "judge"))

import score as judge  # noqa: E402

from tabsynth.schema import load_schema  # noqa: E402
from tabsynth.synthesizers import Synthesizer  # noqa: E402

SETTINGS: dict[str, dict[str, Any]] = {
    "20 epochs, condition_power 1 (old default)": {"epochs": 20, "model_options": {"condition_power": 1.0}},
    ">= 1,000 steps, condition_power 1 (default)": {"model_options": {"condition_power": 1.0}},
    ">= 1,000 steps, condition_power 0.5": {"model_options": {"condition_power": 0.5}},
}


def _fit_and_score(dataset: str, epsilon: float, seed: int, setting: dict[str, Any]) -> dict[str, Any]:
    train, test, spec = judge.load(dataset)
    schema = load_schema(ROOT / "benchmarks" / f"schema_{dataset}.yaml")
    synth = Synthesizer("dp-ctgan", epsilon=epsilon, delta=1e-5, random_state=seed, device="cpu", **setting)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(train, schema)
        synthetic = synth.sample(len(train), random_state=seed + 100)
        quality = judge.quality(train, synthetic)
    result = synth.train_result_
    return {
        "steps": result.steps,
        "noise_multiplier": round(result.noise_multiplier or 0.0, 3),
        "fit_and_sample_s": round(time.perf_counter() - started, 1),
        "tstr_auc": round(judge.tstr(synthetic, test, spec), 4),
        "quality": round(quality, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="credit_default")
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--seeds", default="0,1,2,3,4,5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ctgan_seeds.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for name, setting in SETTINGS.items():
        for seed in seeds:
            record = {"setting": name, "seed": seed, **_fit_and_score(args.dataset, args.epsilon, seed, setting)}
            print(json.dumps(record), flush=True)
            runs.append(record)
    summary = {}
    for name in SETTINGS:
        tstr = [r["tstr_auc"] for r in runs if r["setting"] == name]
        quality = [r["quality"] for r in runs if r["setting"] == name]
        summary[name] = {
            "tstr_mean": round(statistics.mean(tstr), 3),
            "tstr_min": min(tstr),
            "tstr_max": max(tstr),
            "quality_mean": round(statistics.mean(quality), 3),
        }
    print(json.dumps(summary, indent=2))
    out = {"dataset": args.dataset, "epsilon": args.epsilon, "delta": 1e-5, "runs": runs, "summary": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
