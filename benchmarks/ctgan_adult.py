"""DP-CTGAN on Adult, scored by the shared judge, beside the ``ctgan`` package's CTGAN.

Usage (from the repo root, with the shared folder next to it):

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/ctgan_adult.py [--skip-ctgan] [--threads 1]
        [--out benchmarks/results/ctgan.json]

Runs, in one process on one machine (CPU, ``--threads`` torch threads for every system):
  * ctgan's CTGAN (100 epochs, otherwise its defaults: batch 500, pac 10), no DP;
  * tabsynth DP-CTGAN at epsilon = 1 (delta = 1e-5), inferred schema (everything paid from the budget);
  * tabsynth DP-CTGAN without DP.
Every synthetic table has as many rows as the training table. Throughput is rows x epochs per
second of the whole ``fit`` (preprocessing included). Prints one JSON line per run, then the
ratios the issue asks for (time and throughput against ctgan's CTGAN in this same run).
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
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(SHARED / "judge"))

import score as judge  # noqa: E402

from tabsynth.synthesizers import Synthesizer  # noqa: E402


def _ours(train: pd.DataFrame, *, epsilon: float | None) -> dict[str, Any]:
    synth = Synthesizer("dp-ctgan", epsilon=epsilon, delta=1e-5, random_state=0, device="cpu")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(train, target="income", sensitive=["sex", "race"])
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = synth.sample(len(train), random_state=1)
    sample_s = time.perf_counter() - started
    result = synth.train_result_
    epochs = result.steps * result.sample_rate
    return {
        "dataset": "adult",
        "system": f"tabsynth dp-ctgan {'eps=1' if epsilon is not None else 'no DP'}",
        "epochs": round(epochs, 2),
        "expected_batch": round(result.sample_rate * len(train)),
        "noise_multiplier": result.noise_multiplier,
        "fit_s": round(fit_s, 1),
        "rows_x_epochs_per_s": round(len(train) * epochs / fit_s),
        "sample_rows_per_s": round(len(train) / sample_s),
        "epsilon_spent": synth.privacy_spent()["epsilon"],
        **judge.score("adult", synthetic),
    }


def _ctgan(train: pd.DataFrame, epochs: int = 100) -> dict[str, Any]:
    from ctgan import CTGAN

    discrete = [c for c in train.columns if train[c].dtype == object]
    model = CTGAN(epochs=epochs, enable_gpu=False)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train.fillna({c: "missing" for c in discrete}), discrete_columns=discrete)
    fit_s = time.perf_counter() - started
    synthetic = model.sample(len(train))
    return {
        "dataset": "adult",
        "system": f"ctgan CTGAN ({epochs} epochs, no DP)",
        "epochs": epochs,
        "expected_batch": 500,
        "fit_s": round(fit_s, 1),
        "rows_x_epochs_per_s": round(len(train) * epochs / fit_s),
        **judge.score("adult", synthetic),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-ctgan", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ctgan.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    np.seterr(all="ignore")
    train, _, _ = judge.load("adult")
    runs: list[dict[str, Any]] = []
    if not args.skip_ctgan:
        runs.append(_ctgan(train))
        print(json.dumps(runs[-1]), flush=True)
    for eps in (1.0, None):
        runs.append(_ours(train, epsilon=eps))
        print(json.dumps(runs[-1]), flush=True)
    summary: dict[str, Any] = {"torch_threads": args.threads}
    if not args.skip_ctgan:
        ref, dp, plain = runs
        summary |= {
            "no_dp_time_share_of_ctgan": round(plain["fit_s"] / ref["fit_s"], 3),
            "dp_throughput_x_ctgan": round(dp["rows_x_epochs_per_s"] / ref["rows_x_epochs_per_s"], 2),
        }
        print(json.dumps(summary), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
