"""CLI contract for fit / sample / budget: outputs, exit codes, nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tabsynth.cli.main import run
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.csv"
    make_frame(3000, seed=2).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("m") / "model"
    code = run(
        [
            "fit",
            str(data),
            "--target",
            "label",
            "--sensitive",
            "sex",
            "--epsilon",
            "8",
            "--delta",
            "1e-6",
            "--model",
            "dp-tvae",
            "--epochs",
            "2",
            "--seed",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_sample_csv_and_parquet_with_condition(model_dir: Path, tmp_path: Path) -> None:
    for name in ("s.csv", "s.parquet"):
        out = tmp_path / name
        assert (
            run(
                [
                    "sample",
                    str(model_dir),
                    "--n-rows",
                    "250",
                    "--condition",
                    "label=yes",
                    "--seed",
                    "1",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        frame = pd.read_csv(out) if name.endswith("csv") else pd.read_parquet(out)
        assert len(frame) == 250 and (frame["label"] == "yes").all()


def test_budget_json(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["budget", str(model_dir), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) >= {"epsilon", "delta", "entries"}
    assert 0 < payload["epsilon"] <= 8.0 and payload["delta"] == 1e-6
    # a binary target: stratify="auto" trains one model per class, one parallel composition of DP-SGD runs
    last = payload["entries"][-1]["event"]
    assert last["type"] == "parallel" and all(b[0]["type"] == "dp_sgd" for b in last["branches"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--epsilon", "0"], "epsilon must be a positive number"),
        (["--epsilon", "-1"], "epsilon must be a positive number"),
        (["--epsilon", "abc"], "--epsilon must be a positive number"),
        (["--epsilon", "1", "--delta", "1"], "delta must be a number in (0, 1)"),
        (["--epsilon", "1", "--delta", "2.5"], "delta must be a number in (0, 1)"),
        (["--epsilon", "1", "--target", "nope"], "'nope'"),
        (["--epsilon", "1", "--model", "gpt"], "Unknown model"),
    ],
)
def test_fit_bad_input(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "model"
    assert run(["fit", str(data), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--n-rows", "0"], "positive integer"),
        (["--n-rows", "5", "--condition", "label=maybe"], "no category 'maybe'"),
        (["--n-rows", "5", "--condition", "income=3"], "numeric column"),
        (["--n-rows", "5", "--condition", "oops"], "COLUMN=VALUE"),
    ],
)
def test_sample_bad_input(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "s.csv"
    assert run(["sample", str(model_dir), "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_budget_too_small_for_dp_statistics(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["fit", str(data), "--target", "label", "--epsilon", "0.001", "--out", str(tmp_path / "m")])
    assert code == 2
    err = capsys.readouterr().err
    # Without a schema the first DP statistics (the column kinds) already say how to declare one.
    assert "schema infer DATA --out schema.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_budget_error_maps_to_exit_3() -> None:
    from tabsynth.exceptions import BudgetExceededError, GateFailedError, exit_code_for

    assert exit_code_for(BudgetExceededError("x")) == 3
    assert exit_code_for(GateFailedError("x")) == 4
    assert exit_code_for(RuntimeError("x")) == 1


def test_sample_from_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sample", str(tmp_path), "--n-rows", "5", "--out", str(tmp_path / "s.csv")]) == 2
    assert "not a tabsynth model folder" in capsys.readouterr().err


def test_fit_refuses_an_existing_out(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run(["fit", str(data), "--epsilon", "8", "--epochs", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # --overwrite replaces only a model folder, and says so before training
    assert run(["fit", str(data), "--epsilon", "8", "--epochs", "1", "--out", str(out), "--overwrite"]) == 2
    assert "not a tabsynth model folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_fit_overwrite_replaces_a_model_folder(model_dir: Path, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    args = ["fit", str(data), "--epsilon", "8", "--epochs", "1", "--seed", "3", "--out", str(out)]
    assert run(args) == 0
    first = (out / "manifest.json").read_bytes()
    assert run(args) == 2
    assert (out / "manifest.json").read_bytes() == first
    assert run([*args, "--overwrite"]) == 0
    assert (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left behind


def test_sample_refuses_an_existing_file(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.csv"
    out.write_text("precious\n")
    args = ["sample", str(model_dir), "--n-rows", "20", "--seed", "1", "--out", str(out)]
    assert run(args) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err
    assert out.read_text() == "precious\n"
    assert run([*args, "--overwrite"]) == 0
    assert len(pd.read_csv(out)) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]  # no temporary file left


def test_sample_unsupported_extension_is_refused_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the model folder does not exist either: the output is checked first, so the error is about it
    assert run(["sample", str(tmp_path / "nomodel"), "--n-rows", "5", "--out", str(tmp_path / "s.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "'.xlsx'" in err and ".csv" in err and ".tsv" in err and ".parquet" in err
    assert list(tmp_path.iterdir()) == []


def test_sample_tsv_output(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.tsv"
    assert run(["sample", str(model_dir), "--n-rows", "30", "--seed", "1", "--out", str(out)]) == 0
    frame = pd.read_csv(out, sep="\t")
    assert len(frame) == 30 and "label" in frame.columns


@pytest.mark.parametrize("raw", ["inf", "infinity", "nan"])
def test_fit_epsilon_inf_is_not_no_dp(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str) -> None:
    assert run(["fit", str(data), "--epsilon", raw, "--out", str(tmp_path / "m")]) == 2
    assert "'none' to train without DP" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_sample_numeric_range_is_exact(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "old.csv"
    argv = ["sample", str(model_dir), "--n-rows", "120", "--condition", "age>=60", "--condition", "label=yes"]
    assert run([*argv, "--seed", "2", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 120 and (frame["age"] >= 60).all() and (frame["label"] == "yes").all()


def test_sample_rebalance_gives_exact_shares(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    argv = ["sample", str(model_dir), "--n-rows", "100", "--rebalance", "label=yes:0.7,no:0.3", "--out", str(out)]
    assert run(argv) == 0
    assert pd.read_csv(out)["label"].value_counts().to_dict() == {"yes": 70, "no": 30}


def test_sample_fair(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    assert run(["sample", str(model_dir), "--n-rows", "80", "--fair", "--seed", "0", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 80


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--condition", "age>=abc"], "finite number"),
        (["--condition", "zzz>=1"], "Unknown condition column 'zzz'"),
        (["--condition", "sex>=1"], "not numeric"),
        (["--condition", "age>=1000"], "rarely generates rows with age>=1000"),
        (["--rebalance", "label=yes:0.5"], "sum to 1"),
        (["--rebalance", "label=yes:0.5,no:0.5", "--fair"], "do not combine"),
        (["--rebalance", "label=maybe:1"], "no category 'maybe'"),
    ],
)
def test_sample_range_and_rebalance_bad_input(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "s.csv"
    assert run(["sample", str(model_dir), "--n-rows", "20", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "internal error" not in err
    assert not out.exists()


def test_budget_store_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tabsynth.privacy.store import BudgetStore

    path = tmp_path / "budget.json"
    BudgetStore(path).reserve("partner-A", epsilon=1.0, delta=1e-6, lifetime_epsilon=3.0)
    assert run(["budget", "--store", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["epsilon_spent"] == 1.0 and shown["releases"][0]["label"] == "partner-A"
    assert run(["budget", "--store", str(tmp_path / "none.json")]) == 2
    assert run(["budget"]) == 2


def test_budget_json_names_the_unit(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["budget", str(model_dir), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["unit"] == "row" and shown["secure_randomness"] is True
