"""Entity-level vs row-level DP on a covid-testing-shaped table (issue 18).

Usage (from the repo root, with the shared folder next to it):

    python benchmarks/entity_level.py [--seeds 0 1] [--out benchmarks/results/entity_level.json]

The table is generated here (no real data): about 12,000 patients with 1 to 20 tests each
(most have one, as in the covid-testing table of issue 18), patient-level age, sex and region,
test-level coded test type, symptom flags with missing values, days since symptom onset
(missing when no symptoms) and a binary result. Per seed it fits DP-TVAE at epsilon = 1,
delta = 1e-6 twice on the same rows: row-level (the patient id dropped) and entity-level
(``entity="patient_id"``, for each ``--bounds`` setting of ``max_rows_per_entity``: ``auto``
and the default 10 unless told otherwise). It reports the ledger's unit and
epsilon, fit seconds, the judge's quality score (sdmetrics QualityReport from
``shared/judge/score.py``) of the modelled columns against a real test table of the same
generator, and, for the entity fit, the total-variation distance between the real and the
synthetic distribution of rows per entity (real: as in the data, uncapped).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tabsynth.exceptions import TabsynthError
from tabsynth.synthesizers import Synthesizer

ROOT = Path(__file__).resolve().parents[1]
JUDGE = ROOT.parent / "shared" / "judge" / "score.py"


def covid_table(n_patients: int, seed: int) -> pd.DataFrame:
    """A synthetic covid-testing table: 1-20 tests per patient, coded categoricals, missing values."""
    rng = np.random.default_rng(seed)
    tests = np.minimum(rng.geometric(0.78, n_patients), 20)  # mean ~1.27 tests per patient
    heavy = rng.random(n_patients) < 0.01  # a few patients tested very often (care homes, staff)
    tests[heavy] = rng.integers(8, 21, heavy.sum())
    pid = np.repeat(np.arange(n_patients), tests)
    age = np.clip(rng.normal(45, 20, n_patients), 0, 99).round().astype(int)[pid]
    sex = rng.choice([1, 2], n_patients)[pid]
    region = rng.choice(np.arange(1, 9), n_patients, p=[0.25, 0.2, 0.15, 0.1, 0.1, 0.08, 0.07, 0.05])[pid]
    n = len(pid)
    test_type = rng.choice([1, 2, 3], n, p=[0.6, 0.3, 0.1])
    fever = rng.random(n) < 0.25
    cough = rng.random(n) < 0.3 + 0.2 * fever
    logit = -2.6 + 1.4 * fever + 0.8 * cough + 0.012 * (age - 45) - 0.4 * (test_type == 2)
    result = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    days = np.where(fever | cough, rng.poisson(3, n), -1).astype(float)
    days[days < 0] = np.nan
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{p:06d}" for p in pid],
            "age": age,
            "sex": sex,
            "region": region,
            "test_type": test_type,
            "fever": np.where(rng.random(n) < 0.05, np.nan, fever.astype(float)),
            "cough": np.where(rng.random(n) < 0.05, np.nan, cough.astype(float)),
            "days_since_onset": days,
            "result": result,
        }
    )
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # tests in no particular order


def rows_per_entity_tv(real_ids: pd.Series, synth_ids: pd.Series) -> float:
    """Total-variation distance between the two distributions of rows per entity."""
    a = real_ids.value_counts().value_counts(normalize=True)
    b = synth_ids.value_counts().value_counts(normalize=True)
    keys = a.index.union(b.index)
    return float(0.5 * np.abs(a.reindex(keys, fill_value=0) - b.reindex(keys, fill_value=0)).sum())


def _judge():
    spec = importlib.util.spec_from_file_location("judge_score", JUDGE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _budget_json(model_dir: Path) -> dict[str, object]:
    """``tabsynth budget MODEL --json``, run as a user would."""
    code = "import sys; from tabsynth.cli.main import run; sys.exit(run(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "budget", str(model_dir), "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"},
    )
    return json.loads(done.stdout)


def run_one(seed: int, n_patients: int, epochs: int | None, bounds: list[str]) -> list[dict[str, object]]:
    judge = _judge()
    train = covid_table(n_patients, seed)
    test = covid_table(n_patients // 3, seed + 1000)
    modelled = [c for c in train.columns if c != "patient_id"]
    out = []
    for unit in ("row", *(f"entity:{b}" for b in bounds)):
        bound: int | str = 10 if unit == "row" else unit.split(":")[1]
        bound = int(bound) if str(bound).isdigit() else bound
        synth = Synthesizer(
            "dp-tvae", epsilon=1.0, delta=1e-6, random_state=seed, epochs=epochs, max_rows_per_entity=bound
        )
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if unit == "row":
                    synth.fit(train[modelled], target="result")
                else:
                    synth.fit(train, target="result", entity="patient_id")
        except TabsynthError as exc:  # a refusal is a result too (e.g. a column too small at this budget)
            failed = {"seed": seed, "setting": unit, "refused": str(exc)}
            print(json.dumps(failed), flush=True)
            out.append(failed)
            continue
        fit_seconds = time.perf_counter() - started
        sample = synth.sample(len(train), random_state=seed)
        with tempfile.TemporaryDirectory() as tmp:
            synth.save(Path(tmp) / "model")
            budget = _budget_json(Path(tmp) / "model")
        row: dict[str, object] = {
            "seed": seed,
            "setting": unit,
            "unit": budget["unit"],
            "max_rows_per_entity": budget.get("max_rows_per_entity"),
            "epsilon": budget["epsilon"],
            "rows": len(train),
            "patients": int(train["patient_id"].nunique()),
            "fit_seconds": round(fit_seconds, 1),
            "quality": round(judge.quality(test[modelled], sample[modelled]), 4),
            "quality_vs_train": round(judge.quality(train[modelled], sample[modelled]), 4),
            "positive_rate_real": round(float(train["result"].mean()), 4),
            "positive_rate_synth": round(float(pd.to_numeric(sample["result"], errors="coerce").mean()), 4),
        }
        if unit != "row":
            row["rows_per_entity_tv"] = round(rows_per_entity_tv(train["patient_id"], sample["patient_id"]), 4)
            row["synthetic_entities"] = int(sample["patient_id"].nunique())
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--patients", type=int, default=12_000)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--bounds", nargs="+", default=["auto", "10"], help="max_rows_per_entity settings to run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = [r for seed in args.seeds for r in run_one(seed, args.patients, args.epochs, args.bounds)]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
