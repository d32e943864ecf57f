"""``tabsynth audit`` end to end through the real CLI entry point (exit codes, JSON file)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tabsynth.audit import METRIC_NAMES
from tabsynth.cli.main import run


@pytest.fixture
def files(tmp_path: Path, train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame) -> dict[str, Path]:
    paths = {}
    for name, frame in {"train": train.iloc[:250], "holdout": holdout.iloc[:250], "synth": fresh.iloc[:250]}.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def _args(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "audit",
        "--real",
        str(files["train"]),
        "--holdout",
        str(files["holdout"]),
        "--synthetic",
        str(files["synth"]),
        "--target",
        "label",
        "--out",
        str(out),
        *extra,
    ]


def test_audit_writes_the_json_contract(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("reports-" + "x" * 90) / "audit.json"  # longer than a line: printed unbroken all the same
    code = run(_args(files, out, "--sensitive", "group", "--sensitive", "region", "--epsilon-claimed", "3"))
    assert code == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    names = [m["name"] for m in data["metrics"]]
    assert "privacy.dcr_share" in names and "fidelity.quality" in names and len(names) == len(METRIC_NAMES)
    assert data["meta"]["sensitive"] == ["group", "region"] and data["meta"]["epsilon_claimed"] == 3.0
    assert set(data["metrics"][0]) == {"name", "value", "ci", "baseline", "direction", "status", "details"}
    printed = capsys.readouterr().out
    assert "privacy.mia_auc" in printed and "fairness.downstream_eo_gap" in printed
    assert str(out) in printed.splitlines()[0]


def test_bad_input_exits_2_with_one_line(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd.read_csv(files["holdout"]).iloc[:20].to_csv(files["holdout"], index=False)
    out = tmp_path / "audit.json"
    assert run(_args(files, out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "the holdout has 20 rows but at least 50" in err
    assert "Traceback" not in err and not out.exists()


def test_target_missing_in_synthetic_exits_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd.read_csv(files["synth"]).drop(columns=["label"]).to_csv(files["synth"], index=False)
    assert run(_args(files, tmp_path / "audit.json")) == 2
    assert "the target column 'label' is missing from the synthetic table" in capsys.readouterr().err


def test_missing_required_option_is_a_usage_error(files: dict[str, Path]) -> None:
    assert run(["audit", "--real", str(files["train"])]) == 2


def test_exclude_flag_is_recorded_and_gate_prints_one_line_per_metric(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit.json"
    code = run(_args(files, out, "--exclude", "hours", "--sensitive", "group", "--epsilon-claimed", "1"))
    assert code == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["meta"]["excluded_by_request"] == ["hours"] and "hours" not in data["meta"]["columns"]
    capsys.readouterr()
    run(["gate", str(out), "--policy", "partner"])
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.strip().startswith("fairness.representation")]
    assert len(rows) == 1 and "soft" in rows[0], printed  # hard and soft thresholds on one line
    assert "- <= -" not in printed


@pytest.fixture(scope="module")
def model_dir(train: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("model")
    train.to_csv(base / "train.csv", index=False)
    # A declared schema: 600 rows are too few for DP schema inference at epsilon 2 (its size check
    # refused this fixture in a run of the slow tests), and this test is about the audit, not the inference.
    assert run(["schema", "infer", str(base / "train.csv"), "--target", "label", "--out", str(base / "s.yaml")]) == 0
    args = ["fit", str(base / "train.csv"), "--schema", str(base / "s.yaml"), "--target", "label"]
    args += ["--epsilon", "2", "--delta", "1e-6"]
    assert run([*args, "--epochs", "1", "--seed", "0", "--out", str(base / "m")]) == 0
    return base / "m"


@pytest.mark.slow  # fits a tiny DP-TVAE (about 15 s on 2 shared cores)
def test_audit_takes_epsilon_and_delta_from_the_model_folder(
    files: dict[str, Path], model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit.json"
    args = [a for a in _args(files, out) if a not in ("--synthetic", str(files["synth"]))]
    assert run([*args, "--model", str(model_dir), "--n-rows", "200"]) == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["meta"]["delta_claimed"] == 1e-6 and data["meta"]["privacy"]["delta"] == 1e-6
    assert data["meta"]["epsilon_claimed"] == pytest.approx(data["meta"]["privacy"]["epsilon"])
    assert 0 < data["meta"]["epsilon_claimed"] <= 2.0
    assert data["meta"]["n_rows"]["synthetic"] == 200
    capsys.readouterr()
    policy = tmp_path / "delta.yaml"
    policy.write_text("name: d\nrules:\n  - {metric: privacy.delta, max: 1.0e-6, rationale: medical delta}\n")
    assert run(["gate", str(out), "--policy", str(policy)]) == 0, capsys.readouterr().out  # 1e-6, not 1e-5
    assert run([*_args(files, out), "--model", str(model_dir), "--delta-claimed", "1e-5"]) == 2  # disagrees


def test_delta_claimed_is_recorded_and_no_default_is_invented(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    assert run(_args(files, out, "--epsilon-claimed", "1")) == 0
    assert json.loads(out.read_text())["meta"]["delta_claimed"] is None
    assert run(_args(files, out, "--epsilon-claimed", "1", "--delta-claimed", "1e-7")) == 0
    assert json.loads(out.read_text())["meta"]["delta_claimed"] == 1e-7


def test_the_vs_baseline_column_says_worse_better_or_about_the_baseline() -> None:
    from tabsynth.audit import MetricResult
    from tabsynth.cli._audit import versus_baseline

    def m(value: float, ci: tuple[float, float] | None, baseline: float | None, direction: str) -> MetricResult:
        return MetricResult(name="x", value=value, ci=ci, baseline=baseline, direction=direction)  # type: ignore[arg-type]

    assert "worse" in versus_baseline(m(1.0, (0.99, 1.0), 0.507, "lower_is_better"))  # detection AUC 1.000
    assert "worse" in versus_baseline(m(0.695, None, 0.98, "higher_is_better"))  # quality far below the holdout's
    assert versus_baseline(m(0.51, (0.48, 0.54), 0.5, "lower_is_better")) == "≈ baseline"
    assert "better" in versus_baseline(m(0.2, (0.1, 0.3), 0.5, "lower_is_better"))
    assert versus_baseline(m(0.9, (0.88, 0.92), None, "higher_is_better")) == "computed"
    assert "unknown" in versus_baseline(MetricResult.unknown("x", "higher_is_better", "one class"))
