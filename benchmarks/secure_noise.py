"""What secret randomness costs: Adult fit time with Opacus's secure_mode noise on and off, and the
discrete-Gaussian preprocessing against the continuous Gaussian it replaced.

Usage (from the repo root, with the shared folder next to it):

    python benchmarks/secure_noise.py [--repeats 3] [--out benchmarks/results/secure_noise.json]

Each repeat fits DP-TVAE at epsilon = 1 on Adult's 32,561 training rows, nothing declared, once
with secure noise and once without (alternating, so machine load hits both alike), and times the
transformer's preprocessing alone. Prints one JSON line per fit and a summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import tabsynth.synthesizers._trainer as trainer
from tabsynth.privacy import PrivacyLedger
from tabsynth.schema import infer_schema
from tabsynth.synthesizers import Synthesizer
from tabsynth.transform import DPTableTransformer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "adult_train.csv"


def _fit_seconds(frame: pd.DataFrame, secure: bool) -> float:
    trainer.SECURE_NOISE = secure
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Synthesizer("dp-tvae", epsilon=1.0, delta=1e-6, random_state=0).fit(frame, target="income")
    return time.perf_counter() - started


def _preprocessing_seconds(frame: pd.DataFrame) -> float:
    schema = infer_schema(frame, target="income")
    started = time.perf_counter()
    DPTableTransformer().fit(frame, schema, ledger=PrivacyLedger(1.0, 1e-6), epsilon=0.2)
    return time.perf_counter() - started


def _noise_cost() -> dict[str, float]:
    """Milliseconds to draw one step's gradient noise for 300,000 parameters, plain vs secure_mode."""
    import torch
    from opacus.optimizers.optimizer import _generate_noise

    reference, generator, out = torch.zeros(300_000), torch.Generator().manual_seed(1), {}
    for secure in (False, True):
        started = time.perf_counter()
        for _ in range(200):
            _generate_noise(1.0, reference, generator, secure)
        out["secure" if secure else "plain"] = round((time.perf_counter() - started) / 200 * 1e3, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "secure_noise.json")
    args = parser.parse_args()
    frame = pd.read_csv(DATA)
    runs: dict[str, list[float]] = {"secure": [], "plain": [], "preprocessing": []}
    for i in range(args.repeats):
        for mode in ("secure", "plain") if i % 2 == 0 else ("plain", "secure"):
            seconds = _fit_seconds(frame, mode == "secure")
            runs[mode].append(seconds)
            print(json.dumps({"repeat": i, "noise": mode, "fit_seconds": round(seconds, 2)}), flush=True)
        runs["preprocessing"].append(_preprocessing_seconds(frame))
    summary: dict[str, object] = {
        k: {"min": round(min(v), 2), "median": round(statistics.median(v), 2), "runs": [round(x, 2) for x in v]}
        for k, v in runs.items()
    }
    # the minimum is the run least disturbed by other load on the machine
    summary["secure_over_plain_min"] = round(min(runs["secure"]) / min(runs["plain"]), 3)
    summary["secure_over_plain_median"] = round(float(np.median(runs["secure"]) / np.median(runs["plain"])), 3)
    summary["noise_ms_per_step"] = _noise_cost()
    print(json.dumps(summary))
    args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
