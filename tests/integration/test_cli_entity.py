"""CLI contract for entity-level DP (issue 18): --entity on fit, the unit in budget --json, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabsynth.cli.main import run

SCHEMA = """
target: result
columns:
  age: {kind: integer, bounds: [0, 99]}
  sex: {kind: categorical, categories: [F, M]}
  result: {kind: categorical, categories: [0, 1]}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    sizes = np.minimum(rng.geometric(0.5, 600), 30)
    sizes[0] = 50  # one patient far over the bound
    pid = np.repeat(np.arange(len(sizes)), sizes)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{p:04d}" for p in pid],
            "age": rng.integers(0, 99, len(sizes))[pid],
            "sex": rng.choice(["F", "M"], len(sizes))[pid],
            "result": rng.integers(0, 2, len(pid)),
        }
    )
    folder = tmp_path_factory.mktemp("entity")
    frame.to_csv(folder / "tests.csv", index=False)
    (folder / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    return folder


def _fit(data: Path, out: Path, *extra: str) -> int:
    return run(
        [
            "fit",
            str(data / "tests.csv"),
            "--schema",
            str(data / "schema.yaml"),
            "--epsilon",
            "8",
            "--epochs",
            "1",
            "--seed",
            "0",
            "--out",
            str(out),
            *extra,
        ]
    )


@pytest.mark.slow
def test_fit_with_entity_reports_the_unit_and_samples_fake_entities(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    assert _fit(data, model, "--entity", "patient_id", "--max-rows-per-entity", "5") == 0
    assert "per entity (at most 5 rows each)" in " ".join(capsys.readouterr().out.split())
    assert run(["budget", str(model), "--json"]) == 0
    budget = json.loads(capsys.readouterr().out)
    assert budget["unit"] == "entity" and budget["max_rows_per_entity"] == 5
    assert budget["epsilon"] <= 8
    assert budget["entries"][0]["label"] == "entities:rows_per_entity"
    out = tmp_path / "s.csv"
    assert run(["sample", str(model), "--n-rows", "300", "--seed", "1", "--out", str(out)]) == 0
    sample = pd.read_csv(out)
    assert list(sample.columns) == ["patient_id", "age", "sex", "result"]
    assert sample["patient_id"].value_counts().max() <= 5  # fake entities, never over the bound
    assert sample["patient_id"].nunique() < len(sample)  # rows are grouped


@pytest.mark.slow
def test_fit_without_entity_is_row_level(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(data / "tests.csv").drop(columns=["patient_id"])
    frame.to_csv(tmp_path / "tests.csv", index=False)
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    model = tmp_path / "model"
    assert _fit(tmp_path, model) == 0
    capsys.readouterr()
    assert run(["budget", str(model), "--json"]) == 0
    budget = json.loads(capsys.readouterr().out)
    assert budget["unit"] == "row" and budget["max_rows_per_entity"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entity", "nope"], "entity column 'nope' is not in the table"),
        (["--entity", "result"], "also the target"),
        (["--entity", "patient_id", "--max-rows-per-entity", "0"], "max_rows_per_entity"),
    ],
)
def test_bad_entity_exits_2_without_traceback_or_output(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    model = tmp_path / "model"
    assert _fit(data, model, *args) == 2
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert message in text
    assert "Traceback" not in text
    assert not model.exists()


def test_schema_infer_warns_about_an_entity_key(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(["schema", "infer", str(data / "tests.csv"), "--out", str(tmp_path / "s.yaml"), "--target", "result"]) == 0
    )
    text = " ".join(capsys.readouterr().out.split())
    assert "'patient_id' looks like an entity key" in text and "per ROW" in text
    assert (
        run(
            [
                "schema",
                "infer",
                str(data / "tests.csv"),
                "--out",
                str(tmp_path / "e.yaml"),
                "--target",
                "result",
                "--entity",
                "patient_id",
            ]
        )
        == 0
    )
    assert "looks like an entity key" not in capsys.readouterr().out
    written = (tmp_path / "e.yaml").read_text(encoding="utf-8")
    assert "entity: patient_id" in written and "patient_id:" not in written.split("columns:")[1]


def test_plan_warns_and_plans_per_entity(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["plan", str(data / "tests.csv"), "--epsilon", "1", "--target", "result"]) == 0
    assert "looks like an entity key" in " ".join(capsys.readouterr().out.split())
    assert run(["plan", str(data / "tests.csv"), "--epsilon", "1", "--target", "result", "--entity", "patient_id"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "entity-level DP: at most 10 rows per entity" in text
    assert "looks like an entity key" not in text


@pytest.mark.slow
def test_release_config_entity_key(data: Path, tmp_path: Path) -> None:
    from tabsynth.pipeline import release

    config = {
        "input": str(data / "tests.csv"),
        "output": str(tmp_path / "release"),
        "schema": str(data / "schema.yaml"),
        "entity": "patient_id",
        "max_rows_per_entity": 4,
        "holdout": 0.3,
        "epsilon": 8.0,
        "epochs": 1,
        "policy": "internal",
        "formats": ["csv"],
        "audit": {"n_attacks": 100, "mia_rows": 300, "detection_rows": 300, "n_bootstrap": 20},
    }
    (tmp_path / "release.yaml").write_text(json.dumps(config), encoding="utf-8")
    result = release(tmp_path / "release.yaml")
    assert result.privacy["unit"] == "entity" and result.privacy["max_rows_per_entity"] == 4
    manifest = json.loads((tmp_path / "release" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["privacy"]["unit"] == "entity" and manifest["privacy"]["max_rows_per_entity"] == 4
    if result.released:
        synthetic = pd.read_csv(tmp_path / "release" / "synthetic.csv")
        assert synthetic.columns[0] == "patient_id" and synthetic["patient_id"].value_counts().max() <= 4
