"""Time a full ``run_audit`` on Adult, at several sizes, and run the controls on the full table.

Usage (from the repository root)::

    .venv/bin/python benchmarks/audit_speed.py                 # sizes 25%, 50%, 100%
    .venv/bin/python benchmarks/audit_speed.py --controls      # plus the four controls at 100%
    .venv/bin/python benchmarks/audit_speed.py --out bench.json

Adult: adult_train.csv (32,561 rows) is the training table, adult_test.csv (16,281) the
holdout, and the "synthetic" table is a jittered copy of the training rows (age, hours and
fnlwgt moved by up to 2 units, 5% of all cells replaced by another row's value). Each size
takes the same fraction of all three tables. This is a benchmark, not a test: it reads the
shared datasets folder, which a fresh clone does not have.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabsynth.audit import AuditReport, run_audit
from tabsynth.io import read_table

DATA = Path(os.environ.get("TABSYNTH_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
if not (DATA / "adult_train.csv").exists():
    DATA = Path("/work/shared/datasets")
TARGET, SENSITIVE = "income", ("sex", "race", "age")
HEADLINE = (
    "fidelity.quality",
    "fidelity.tstr_auc",
    "fidelity.detection_auc",
    "privacy.exact_match_rate",
    "privacy.dcr_share",
    "privacy.mia_auc",
    "privacy.attack_epsilon",
    "privacy.singling_out_risk",
    "privacy.linkability_risk",
    "privacy.inference_risk",
)


def jittered_copy(frame: pd.DataFrame, seed: int, *, cell_share: float = 0.05) -> pd.DataFrame:
    """The training rows, numbers moved a little and a share of cells swapped with other rows."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for col in ("age", "hours_per_week", "fnlwgt"):
        out[col] = out[col] + rng.integers(-2, 3, len(out))
    for col in out.columns:
        change = rng.random(len(out)) < cell_share
        out.loc[change, col] = frame[col].to_numpy()[rng.integers(0, len(out), int(change.sum()))]
    return out


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})


def _summary(report: AuditReport) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in HEADLINE:
        m = report[name]
        out[name] = {"value": m.value, "ci": m.ci, "baseline": m.baseline, "status": m.status.value}
    return out


def _timed(train: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame, **kwargs: Any) -> tuple[AuditReport, float]:
    start = time.perf_counter()
    report = run_audit(train, synth, holdout=holdout, target=TARGET, sensitive=SENSITIVE, **kwargs)
    return report, time.perf_counter() - start


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def sizes(train: pd.DataFrame, holdout: pd.DataFrame, fractions: list[float]) -> list[dict[str, Any]]:
    rows = []
    for fraction in fractions:
        tr = train.sample(frac=fraction, random_state=0).reset_index(drop=True)
        ho = holdout.sample(frac=fraction, random_state=1).reset_index(drop=True)
        report, seconds = _timed(tr, jittered_copy(tr, seed=2), ho)
        rows.append(
            {
                "fraction": fraction,
                "n_train": len(tr),
                "n_holdout": len(ho),
                "n_synthetic": len(tr),
                "seconds": round(seconds, 2),
                "steps": report.meta["seconds"],
                "metrics": _summary(report),
            }
        )
        print(  # noqa: T201
            f"size {fraction:>4.0%}: train {len(tr):>6,} holdout {len(ho):>6,} synthetic {len(tr):>6,} "
            f"-> {seconds:6.1f} s  (load avg {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        print("   steps: " + ", ".join(f"{k.split('.', 1)[-1]} {v:.1f}" for k, v in report.meta["seconds"].items()))  # noqa: T201
    return rows


def controls(train: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, Any]:
    half = len(holdout) // 2
    cases = {
        "holdout half as synthetic (positive)": (train, holdout.iloc[half:], holdout.iloc[:half]),
        "copy of train (negative)": (train, train.copy(), holdout),
        "jittered copy, 5% cells": (train, jittered_copy(train, seed=2), holdout),
        "shuffled columns": (train, shuffled(train, seed=3), holdout),
    }
    out = {}
    for name, (tr, sy, ho) in cases.items():
        report, seconds = _timed(tr, sy, ho, epsilon_claimed=1.0)
        out[name] = {
            "seconds": round(seconds, 2),
            "metrics": _summary(report),
            "pair_trends": report["fidelity.quality"].details["column_pair_trends"],
            "pair_trends_baseline": report["fidelity.quality"].details["baseline_properties"]["column_pair_trends"],
            "notes": list(report.notes),
        }
        print(f"\n== {name} ({seconds:.1f} s)")  # noqa: T201
        for metric, m in out[name]["metrics"].items():
            ci = "" if m["ci"] is None else f"[{_fmt(m['ci'][0])}, {_fmt(m['ci'][1])}]"
            print(f"   {metric:34s} {_fmt(m['value']):>7s} {ci:18s} baseline {_fmt(m['baseline'])}")  # noqa: T201
        print(f"   pair trends {out[name]['pair_trends']:.3f} (holdout {out[name]['pair_trends_baseline']:.3f})")  # noqa: T201
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--controls", action="store_true", help="also run the four controls on full Adult")
    parser.add_argument("--out", type=Path, help="write all numbers as JSON")
    args = parser.parse_args(argv)
    train = read_table(DATA / "adult_train.csv")
    holdout = read_table(DATA / "adult_test.csv")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")  # noqa: T201
    result: dict[str, Any] = {"cpu_count": os.cpu_count(), "sizes": sizes(train, holdout, args.fractions)}
    if args.controls:
        result["controls"] = controls(train, holdout)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
