"""CLI contract for ``tabsynth augment``: files written, privacy said, exit 2 on bad input, no overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabsynth.cli.main import run


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    n = 1500  # about 150 minority rows: clearly above the 32 a class model needs, whatever the secret noise
    fraud = rng.random(n) < 0.1
    frame = pd.DataFrame(
        {
            "amount": np.where(fraud, rng.normal(3.0, 0.7, n), rng.normal(0.0, 1.0, n)),
            "channel": rng.choice(["web", "shop"], n),
            "label": np.where(fraud, 1, 0),  # a numeric label, named by its text on the command line
        }
    )
    path = tmp_path_factory.mktemp("data") / "tx.csv"
    frame.to_csv(path, index=False)
    return path


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["augment", str(data), "--target", "label", "--minority", "1", "--share", "0.25", "--out", str(out), *extra]


def test_augment_with_evaluate_writes_table_card_json_and_page(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, ev = tmp_path / "aug.csv", tmp_path / "eval.json"
    code = run(_args(data, out, "--epsilon", "none", "--seed", "0", "--epochs", "2", "--evaluate", str(ev)))
    printed = capsys.readouterr().out
    assert code == 0
    real = pd.read_csv(data)
    table = pd.read_csv(out)
    assert len(table) > len(real) and (table.iloc[len(real) :]["label"] == 1).all()
    assert (table["label"] == 1).mean() >= 0.25
    card = json.loads((tmp_path / "aug.privacy.json").read_text())
    assert card["privacy"]["generated_rows_are_dp"] is False
    evaluation = json.loads(ev.read_text())
    for key in ("real_only", "augmented", "smote", "class_weight"):
        assert set(evaluation[key]) >= {"pr_auc", "roc_auc", "brier", "recall_at_precision"}
        assert 0.0 <= evaluation[key]["pr_auc"]["value"] <= 1.0
    assert evaluation["verdict"] in ("augment", "no-gain", "do-not-augment")
    assert "recommendation:" in printed and "NOT differentially private" in printed
    page = (tmp_path / "eval.html").read_text()
    assert "<svg" in page and "<script" not in page


def test_augment_under_dp_says_the_generated_rows_are_private(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "aug.parquet"
    assert run(_args(data, out, "--epsilon", "4", "--seed", "1", "--epochs", "2")) == 0
    printed = capsys.readouterr().out
    card = json.loads((tmp_path / "aug.privacy.json").read_text())
    assert card["privacy"]["generated_rows_are_dp"] is True and card["counts_from"] == "dp-estimates"
    assert "differentially private (epsilon=4" in printed and "--evaluate" in printed
    assert len(pd.read_parquet(out)) == card["real_rows"] + card["generated_rows"]


def test_existing_output_is_not_overwritten(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "aug.csv"
    out.write_text("keep me\n")
    assert run(_args(data, out, "--epsilon", "none", "--epochs", "1")) == 2
    assert out.read_text() == "keep me\n" and not (tmp_path / "aug.privacy.json").exists()
    assert run(_args(data, out, "--epsilon", "none", "--epochs", "1", "--overwrite")) == 0
    assert out.read_text() != "keep me\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--minority", "7"], "not a value of the target"),
        (["--share", "1.5"], "share"),
        (["--target", "nope"], "not in the table"),
        (["--evaluate-model", "svm", "--evaluate", "e.json"], "Unknown evaluation model"),
        (["--epsilon", "lots"], "--epsilon"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: list[str], message: str
) -> None:
    out = tmp_path / "aug.csv"
    args = _args(data, out, "--epsilon", "none", "--epochs", "1")
    for flag, value in zip(change[::2], change[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value if flag != "--evaluate" else str(tmp_path / value)]
    assert run(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
