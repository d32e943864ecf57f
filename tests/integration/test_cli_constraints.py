"""Declared constraints end to end: fit with a schema, sample, 0 violations, also after save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tabsynth import Synthesizer
from tabsynth.cli.main import run
from tabsynth.constraints import violations
from tabsynth.schema import load_schema

SCHEMA = {
    "target": "churn",
    "columns": {
        "start": {"kind": "integer", "bounds": [0, 1000]},
        "end": {"kind": "integer", "bounds": [0, 1400]},
        "minutes": {"kind": "continuous", "bounds": [0, 1000]},
        "charge": {"kind": "continuous", "bounds": [0, 170]},
        "city": {"kind": "categorical"},
        "country": {"kind": "categorical"},
        "age": {"kind": "integer"},
        "churn": {"kind": "categorical", "categories": ["no", "yes"]},
    },
    "constraints": [
        {"type": "inequality", "low": "start", "high": "end"},
        {"type": "derived", "column": "charge", "expression": "0.17 * minutes"},
        {
            "type": "combinations",
            "columns": ["city", "country"],
            "allowed": [["Paris", "FR"], ["Lyon", "FR"], ["Berlin", "DE"]],
        },
        {"type": "range", "column": "age", "min": 18, "max": 90},
    ],
}


def churn(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 1000, n)
    minutes = np.round(rng.gamma(3.0, 60.0, n), 1)
    cities = [("Paris", "FR"), ("Lyon", "FR"), ("Berlin", "DE")]
    pick = rng.choice(3, n, p=[0.5, 0.2, 0.3])
    return pd.DataFrame(
        {
            "start": start,
            "end": start + rng.integers(0, 400, n),
            "minutes": minutes,
            "charge": 0.17 * minutes,
            "city": [cities[i][0] for i in pick],
            "country": [cities[i][1] for i in pick],
            "age": rng.integers(18, 91, n),
            "churn": np.where(rng.random(n) < 0.3, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("constraints")
    churn(1500).to_csv(folder / "churn.csv", index=False)
    (folder / "schema.yaml").write_text(yaml.safe_dump(SCHEMA))
    return folder / "churn.csv", folder / "schema.yaml"


def test_fit_and_sample_meet_every_constraint(files: tuple[Path, Path], tmp_path: Path) -> None:
    data, schema = files
    model = tmp_path / "model"
    fit = ["fit", str(data), "--schema", str(schema), "--epsilon", "1", "--epochs", "2", "--seed", "0"]
    assert run([*fit, "--out", str(model)]) == 0
    out = tmp_path / "s.csv"
    assert run(["sample", str(model), "--n-rows", "3000", "--seed", "1", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(SCHEMA["columns"])
    counts = violations(frame, load_schema(schema).constraints)
    assert len(counts) == 4 and set(counts.values()) == {0}, counts
    both = frame[["charge", "minutes"]].dropna()
    assert len(both) > 1000 and both["charge"].corr(both["minutes"]) == pytest.approx(1.0, abs=1e-9)
    # conditional sampling still gives exact counts
    yes = Synthesizer.load(model).sample(500, conditions={"churn": "yes"}, random_state=2)
    assert len(yes) == 500 and (yes["churn"] == "yes").all()
    assert set(violations(yes, load_schema(schema).constraints).values()) == {0}


def test_data_that_violates_a_constraint_exits_2_without_values(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, schema = files
    frame = pd.read_csv(data)
    frame.loc[7, "end"] = frame.loc[7, "start"] - 123457
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    assert run(["fit", str(bad), "--schema", str(schema), "--epsilon", "1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert '"inequality"' in err and "Some rows of the data violate" in err
    assert "123457" not in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_schema_check_reports_violated_constraints(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, schema = files
    assert run(["schema", "check", str(data), "--schema", str(schema)]) == 0
    frame = pd.read_csv(data)
    frame.loc[3, "country"] = "DE"  # Paris or Lyon in DE
    frame.loc[4, "charge"] = frame.loc[4, "charge"] + 1
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    assert run(["schema", "check", str(bad), "--schema", str(schema)]) == 2
    err = capsys.readouterr().err
    assert "2 schema problems" in err and '"combinations"' in err and '"derived"' in err and '"range"' not in err


# ---- the audit finds the declared constraints (issue 21: the audit reports violations per constraint) --------
AUDIT_FAST = {"n_attacks": 60, "mia_rows": 200, "detection_rows": 300, "n_bootstrap": 20}


@pytest.fixture(scope="module")
def fitted(files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    data, schema = files
    model = tmp_path_factory.mktemp("fitted") / "model"
    fit = ["fit", str(data), "--schema", str(schema), "--epsilon", "1", "--epochs", "1", "--seed", "0"]
    assert run([*fit, "--out", str(model)]) == 0
    return model


def _violation_metric(path: Path) -> dict[str, object]:
    import json

    [metric] = [m for m in json.loads(path.read_text())["metrics"] if m["name"] == "constraints.violation_rate"]
    return metric


@pytest.mark.slow
def test_audit_of_a_model_folder_checks_the_models_constraints(
    files: tuple[Path, Path], fitted: Path, tmp_path: Path
) -> None:
    data, _ = files
    frame = pd.read_csv(data)
    frame.iloc[:1000].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[1000:].to_csv(tmp_path / "holdout.csv", index=False)
    out = tmp_path / "audit.json"
    args = ["audit", "--real", str(tmp_path / "train.csv"), "--holdout", str(tmp_path / "holdout.csv")]
    assert run([*args, "--target", "churn", "--model", str(fitted), "--n-rows", "600", "--out", str(out)]) == 0
    metric = _violation_metric(out)  # no --schema: the constraints come from the model folder
    assert metric["status"] == "ok" and metric["value"] == 0.0 and metric["baseline"] == 0.0
    details = metric["details"]
    assert isinstance(details, dict) and details["n_constraints"] == 4
    assert {row["type"] for row in details["constraints"]} == {"inequality", "derived", "combinations", "range"}


@pytest.mark.slow
def test_audit_with_a_schema_counts_violations_of_an_edited_table(files: tuple[Path, Path], tmp_path: Path) -> None:
    data, schema = files
    frame = pd.read_csv(data)
    frame.iloc[:1000].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[1000:].to_csv(tmp_path / "holdout.csv", index=False)
    edited = churn(600, seed=5)
    edited.loc[:5, "age"] = 95  # 6 rows out of the declared range [18, 90]
    edited.to_csv(tmp_path / "synthetic.csv", index=False)
    out, report = tmp_path / "audit.json", tmp_path / "report.html"
    args = ["audit", "--real", str(tmp_path / "train.csv"), "--holdout", str(tmp_path / "holdout.csv")]
    args += ["--target", "churn", "--synthetic", str(tmp_path / "synthetic.csv"), "--schema", str(schema)]
    assert run([*args, "--out", str(out), "--report", str(report), "--audience", "partner"]) == 0
    metric = _violation_metric(out)
    assert metric["value"] == pytest.approx(6 / 600)
    rows = {row["type"]: row["synthetic_violations"] for row in metric["details"]["constraints"]}  # type: ignore[index]
    assert rows == {"inequality": 0, "derived": 0, "combinations": 0, "range": 6}
    html = report.read_text(encoding="utf-8")
    assert 'id="constraints-table"' in html and "holdout rows violating" not in html


@pytest.mark.slow
def test_a_release_with_declared_constraints_audits_and_gates_them(files: tuple[Path, Path], tmp_path: Path) -> None:
    import json

    from tabsynth.pipeline import release

    data, schema = files
    config = {
        "input": str(data),
        "output": "release",
        "schema": str(schema),
        "holdout": 0.3,
        "epsilon": 3.0,
        "epochs": 1,
        "policy": "internal",
        "formats": ["csv"],
        "audit": AUDIT_FAST,
    }
    path = tmp_path / "release.yaml"
    path.write_text(json.dumps(config))
    result = release(path)
    metric = result.audit["constraints.violation_rate"]
    assert metric.is_ok and metric.value == 0.0 and metric.details["n_constraints"] == 4
    [outcome] = [o for o in result.decision.outcomes if o.rule.metric == "constraints.violation_rate"]
    assert outcome.outcome.value == "pass"
    assert 'id="constraints-table"' in (result.path / "report.html").read_text(encoding="utf-8")
