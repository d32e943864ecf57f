"""Smoke tests of the runnable examples on tiny settings (the real runs use ../shared data)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--smoke"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "verdict" in done.stdout and "500 minority rows" in done.stdout
    assert (tmp_path / "reports" / "quickstart.html").exists()


def test_fraud_rebalance_compares_three_training_sets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    balance = rng.gamma(2.0, 400.0, n)
    frame = pd.DataFrame(
        {
            "student": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
            "balance": balance,
            "income": rng.normal(40_000, 10_000, n),
            "default": np.where(balance + rng.normal(0, 300, n) > 2000, "Yes", "No"),
        }
    )
    path = tmp_path / "credit.csv"
    frame.to_csv(path, index=False)
    results = _load("fraud_rebalance").main(["--data", str(path), "--epochs", "2", "--epsilon", "3"])
    assert len(results) == 3
    assert all(0.0 <= r["pr_auc"] <= 1.0 and 0.0 <= r["recall"] <= 1.0 for r in results.values())


def test_medical_sharing_runs_the_gated_release(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 1500
    age = rng.integers(50, 100, n)
    creatinine = rng.normal(1.0, 0.3, n)
    creatinine[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "age": age,
            "sex": rng.choice(["F", "M"], n),
            "kappa": rng.gamma(2.0, 0.8, n),
            "creatinine": creatinine,
            "futime": rng.integers(0, 5000, n),
            "chapter": rng.choice(["Circulatory", "Neoplasms"], n),
            "death": (rng.random(n) < (age - 40) / 80).astype(int),
        }
    )
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "release"
    # epsilon 4: on 1,050 training rows the DP bounds of a gamma-tailed lab value need more than epsilon 1
    result = _load("medical_sharing").main(["--data", str(path), "--out", str(out), "--epochs", "2", "--epsilon", "4"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["policy"]["name"] == "medical" and manifest["released"] == result.released
    assert "futime" not in result.audit.meta["columns"] and "chapter" not in result.audit.meta["columns"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bias_audit_compares_faithful_and_fair_sampling(tmp_path: Path) -> None:
    table = _load("bias_audit").main(["--out", str(tmp_path), "--rows", "4000", "--epochs", "3"])
    assert set(table) == {"faithful", "fair"}
    assert table["fair"]["verdict"] in ("PASS", "CONDITIONAL", "FAIL", "UNKNOWN")
    assert (tmp_path / "faithful.html").exists() and (tmp_path / "fair.html").exists()
