"""Fairness of DP-TVAE output on Adult, faithful vs fair sampling (issue 6).

Usage (repo root, shared folder beside it):  OMP_NUM_THREADS=2 python benchmarks/fairness_adult.py

Fits DP-TVAE once at epsilon = 1 (public Adult schema; sensitive sex and race) on adult_train,
samples as many rows faithfully and with ``fair=True`` (target drawn independently of sex and
race), and audits both against adult_test as the holdout. Prints the fairness metrics and the
label-rate parity difference by sex (real vs synthetic) for each, as JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from tabsynth.audit import AuditConfig, run_audit
from tabsynth.schema import load_schema
from tabsynth.synthesizers import Synthesizer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"


def main() -> None:
    train = pd.read_csv(DATA / "adult_train.csv")
    holdout = pd.read_csv(DATA / "adult_test.csv")
    schema = load_schema(ROOT / "tabsynth" / "data" / "adult_schema.yaml")
    started = time.perf_counter()
    synth = Synthesizer("dp-tvae", epsilon=1.0, delta=1e-6, random_state=0).fit(train, schema)
    fit_seconds = time.perf_counter() - started
    config = AuditConfig(n_attacks=200, mia_rows=500)  # only the fairness metrics matter here
    for mode in ("faithful", "fair"):
        synthetic = synth.sample(len(train), fair=mode == "fair", random_state=1)
        report = run_audit(train, synthetic, holdout=holdout, target="income", sensitive=["sex", "race"], config=config)
        out = {"mode": mode, "epsilon": synth.privacy_spent()["epsilon"], "fit_seconds": round(fit_seconds, 1)}
        for name in ("fidelity.quality", "fidelity.tstr_auc", *(n for n in report.names if n.startswith("fairness."))):
            metric = report[name]
            out[name] = {"value": metric.value, "ci": metric.ci}
        parity = report["fairness.label_rate_gap"].details["label_parity_difference"]["sex"]
        out["label_parity_difference_sex"] = parity
        downstream = report["fairness.downstream_dp_gap"].details["attributes"]["sex"]
        out["downstream_dp_sex"] = downstream
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
