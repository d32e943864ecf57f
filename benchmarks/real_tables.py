"""Real-table shapes through the main path, nothing declared: fit -> sample -> audit -> gate, then the judge.

Usage (from the repo root, with the shared folder next to it):

    python benchmarks/real_tables.py [--epsilon 1] [--tables coded,rare_class,...] [--no-dp]
        [--out benchmarks/results/real_tables.json]

Builds five tables with the shapes that broke the main path on unseen data (issue 16) and runs
each through the command line as a new user would (`tabsynth fit DATA --target T --epsilon 1`,
no schema; `sample`; `audit`; `gate --policy partner`), then scores the synthetic table with the
shared judge (TSTR AUC, sdmetrics quality) beside the same run without DP:

* ``coded``: 6,000 rows, integer-coded categoricals (a 0/1 flag, a 1..6 code, a 1..10 score), a 0/1 target;
* ``rare_class``: 7,000 rows, a 5% positive class;
* ``wide_cats``: 3,500 rows, a 51-level state column (US state codes), a 10%-share "yes", a 35-level
  sub-grade A1..G5 (an earlier version used made-up codes S00..S49 and G0..G34, in no vocabulary);
* ``dates``: 5,000 rows, two date columns (2015-2020 visits, birth dates);
* ``ids_missing``: 6,000 rows, a patient id repeating over 1-4 rows, a handful of clinic names, missing
  values in two columns only.

Every step's exit code is recorded; a crash is a result, not an exception. Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent / "shared" / "judge"))

import score as judge  # noqa: E402

from tabsynth.vocab import VOCABULARIES  # noqa: E402

STATES = list(VOCABULARIES["us_states"])
GRADES = [f"{letter}{digit}" for letter in "ABCDEFG" for digit in range(1, 6)]


def _coded(rng: np.random.Generator) -> tuple[pd.DataFrame, str, Any]:
    n = 6000
    flag, code, score = rng.choice([0, 1], n, p=[0.7, 0.3]), rng.integers(1, 7, n), rng.integers(1, 11, n)
    age = rng.integers(18, 91, n)
    income = rng.lognormal(10, 0.5, n).round(2)
    logit = -3.2 + 2.0 * flag + 0.45 * score - 0.04 * (age - 50) + 0.8 * (code == 3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"flag": flag, "code": code, "score": score, "age": age, "income": income, "y": y}), "y", 1


def _rare_class(rng: np.random.Generator) -> tuple[pd.DataFrame, str, Any]:
    n = 7000
    amount = rng.gamma(2.0, 50.0, n).round(2)
    channel = rng.choice(["web", "store", "phone"], n, p=[0.5, 0.4, 0.1])
    hour = rng.integers(0, 24, n)
    logit = -5.6 + 0.012 * amount + 2.0 * (channel == "phone") + 1.5 * ((hour < 6) | (hour > 22))
    fraud = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"amount": amount, "channel": channel, "hour": hour, "fraud": fraud}), "fraud", "yes"


def _wide_cats(rng: np.random.Generator) -> tuple[pd.DataFrame, str, Any]:
    # The shapes the issue reports: a 51-value state column written as US state codes (about 69
    # rows a state here, as in a 3,333-row telecom churn table) and a 35-value sub-grade A1..G5
    # with a lending book's skew.
    n = 3500
    state = rng.choice(STATES, n)
    plan = rng.choice(["no", "yes"], n, p=[0.9, 0.1])
    letter_share = np.array([0.17, 0.29, 0.26, 0.15, 0.08, 0.035, 0.015])
    grade = rng.choice(GRADES, n, p=np.repeat(letter_share / 5, 5))
    minutes = rng.normal(180, 50, n).clip(0).round(1)
    risky = np.isin(state, STATES[:5]) | np.isin(grade, GRADES[20:])
    logit = -2.0 + 2.5 * (plan == "yes") + 0.025 * (minutes - 180) + 1.2 * risky
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "True", "False")
    return (
        pd.DataFrame({"state": state, "plan": plan, "grade": grade, "minutes": minutes, "churn": churn}),
        "churn",
        "True",
    )


def _dates(rng: np.random.Generator) -> tuple[pd.DataFrame, str, Any]:
    n = 5000
    visit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 6 * 365, n), unit="D")
    birth = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 70 * 365, n), unit="D")
    age = (visit - birth).days / 365.25
    bmi = rng.normal(27, 5, n).round(1)
    logit = -3 + 0.12 * (age - 50) + 0.25 * (bmi - 27)
    event = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"visit_date": visit.strftime("%Y-%m-%d"), "birth_date": birth.strftime("%Y-%m-%d")})
    return frame.assign(bmi=bmi, event=event), "event", 1


def _ids_missing(rng: np.random.Generator) -> tuple[pd.DataFrame, str, Any]:
    sizes = rng.integers(1, 5, 2400)
    patient = np.repeat(np.arange(100_000, 100_000 + len(sizes)), sizes)[:6000]
    n = len(patient)
    clinic = rng.choice(["North Clinic", "South Clinic", "East Clinic", "West Clinic", "Central"], n)
    creat = rng.lognormal(0, 0.3, n).round(2)
    creat[rng.random(n) < 0.15] = np.nan
    sbp = rng.normal(130, 15, n).round()
    sbp[rng.random(n) < 0.05] = np.nan
    logit = -2 + 4.0 * (np.nan_to_num(creat, nan=1.0) - 1) + 0.08 * (np.nan_to_num(sbp, nan=130) - 130)
    result = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "positive", "negative")
    return (
        pd.DataFrame({"patient_id": patient, "clinic_name": clinic, "creatinine": creat, "sbp": sbp, "result": result}),
        "result",
        "positive",
    )


TABLES = {f.__name__.lstrip("_"): f for f in (_coded, _rare_class, _wide_cats, _dates, _ids_missing)}


def _cli(args: list[str], cwd: Path) -> tuple[int, str]:
    cmd = [sys.executable, "-c", "from tabsynth.cli.main import main; main()", *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return done.returncode, last[:300]


def _typed_quality(name: str, synth: pd.DataFrame) -> dict[str, float]:
    """The judge's quality with date columns read as dates (the judge scores date strings as categories).

    Only for tables with date columns; the judge's own ``quality`` is kept beside it.
    """
    train, test, _ = judge.load(name)
    dates = [c for c in train.columns if c.endswith("_date")]
    if not dates:
        return {}
    from sdmetrics.reports.single_table import QualityReport

    def typed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{c: pd.to_datetime(frame[c], errors="coerce") for c in dates})

    meta = {"columns": {}}
    for c in train.columns:
        numeric = pd.api.types.is_numeric_dtype(train[c]) and train[c].nunique() > 10
        meta["columns"][c] = {"sdtype": "datetime" if c in dates else "numerical" if numeric else "categorical"}

    def score(other: pd.DataFrame) -> float:
        report = QualityReport()
        report.generate(typed(train), typed(other[train.columns]), meta, verbose=False)
        return round(float(report.get_score()), 4)

    ceiling = test.sample(min(len(test), len(synth)), random_state=0)
    return {"quality_dates_typed": score(synth), "quality_dates_typed_ceiling": score(ceiling)}


def _run(name: str, folder: Path, epsilon: str) -> dict[str, Any]:
    train, test, spec = judge.load(name)
    work = folder / f"{name}-eps{epsilon}"
    work.mkdir(parents=True, exist_ok=True)
    train.to_csv(work / "train.csv", index=False)
    target = spec["target"]
    record: dict[str, Any] = {"table": name, "epsilon": epsilon, "rows": len(train), "columns": train.shape[1]}
    started = time.perf_counter()
    steps = {
        "fit": ["fit", "train.csv", "--target", target, "--epsilon", epsilon, "--out", "model", "--overwrite"],
        "sample": ["sample", "model", "--n-rows", str(len(train)), "--seed", "1", "--out", "synth.csv", "--overwrite"],
        "audit": [
            "audit",
            "--real",
            "train.csv",
            "--holdout",
            "test.csv",
            "--synthetic",
            "synth.csv",
            "--target",
            target,
            "--model",
            "model",
            "--out",
            "audit.json",
        ],
        "gate": ["gate", "audit.json", "--policy", "partner"],
    }
    test.to_csv(work / "test.csv", index=False)
    for step, args in steps.items():
        code, last = _cli(args, work)
        record[f"{step}_exit"] = code
        if code not in (0, 4):
            record[f"{step}_error"] = last
            break
        if step == "fit":
            record["fit_seconds"] = round(time.perf_counter() - started, 1)
    if (work / "synth.csv").exists() and record.get("sample_exit") == 0:
        synth = pd.read_csv(work / "synth.csv")
        record.update(judge.score(name, synth))
        record.update(_typed_quality(name, synth))
        record["dtypes_kept"] = {c: str(synth[c].dtype) == str(train[c].dtype) for c in synth.columns if c in train}
        record["missing_share_where_real_has_none"] = {
            c: round(float(synth[c].isna().mean()), 4) for c in synth.columns if c in train and train[c].notna().all()
        }
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", default="1")
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--no-dp", action="store_true", help="also run each table with --epsilon none")
    parser.add_argument("--work", type=Path, default=ROOT / "reports" / "real_tables")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "real_tables.json")
    args = parser.parse_args()
    data = args.work / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i, (name, build) in enumerate(TABLES.items()):
        frame, target, positive = build(np.random.default_rng(100 + i))
        frame.to_csv(data / f"{name}.csv", index=False)
        judge.SPECS[name] = {"file": f"{name}.csv", "target": target, "positive": positive}
    judge.ROOTS.insert(0, data)
    results = []
    for name in args.tables.split(","):
        for eps in [args.epsilon, *(["none"] if args.no_dp else [])]:
            record = _run(name, args.work, eps)
            print(json.dumps(record), flush=True)
            results.append(record)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
