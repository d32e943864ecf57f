"""``tabsynth split``: a neighbour-stable holdout split, reproducible with a key file, no overwrite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabsynth import split_holdout
from tabsynth.cli.main import run
from tabsynth.io import read_table
from tests.conftest import make_frame


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    make_frame(600, seed=1).to_csv(path, index=False)
    return path


def _split(data: Path, out: Path, *extra: str) -> int:
    return run(
        [
            "split",
            str(data),
            "--holdout",
            "0.3",
            "--out-train",
            str(out / "train.csv"),
            "--out-holdout",
            str(out / "holdout.parquet"),
            *extra,
        ]
    )


def test_split_with_key_file_matches_the_library_and_reproduces(data: Path, tmp_path: Path) -> None:
    key = tmp_path / "split.key"
    key.write_bytes(bytes(range(100, 132)))
    assert _split(data, tmp_path / "a", "--key-file", str(key)) == 0
    assert _split(data, tmp_path / "b", "--key-file", str(key)) == 0
    train = pd.read_csv(tmp_path / "a" / "train.csv")
    holdout = pd.read_parquet(tmp_path / "a" / "holdout.parquet")
    assert len(train) + len(holdout) == 600
    assert not set(train["customer_id"]) & set(holdout["customer_id"])
    _, expected = split_holdout(read_table(data), 0.3, key=bytes(range(100, 132)))
    assert sorted(holdout["customer_id"]) == sorted(expected["customer_id"])
    assert sorted(pd.read_parquet(tmp_path / "b" / "holdout.parquet")["customer_id"]) == sorted(expected["customer_id"])


def test_split_refuses_existing_outputs_and_writes_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "holdout.parquet").write_text("keep")
    assert _split(data, out) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["holdout.parquet"]
    assert (out / "holdout.parquet").read_text() == "keep"
    assert _split(data, out, "--overwrite") == 0
    assert sorted(p.name for p in out.iterdir()) == ["holdout.parquet", "train.csv"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--holdout", "0"], "--holdout must be a share"),
        (["--holdout", "1.2"], "--holdout must be a share"),
        (["--holdout", "0.3", "--key-file", "nope.key"], "not found"),
        (["--holdout", "0.3", "--out-train", "x.xlsx"], "Unsupported file type"),
    ],
)
def test_split_bad_input(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "o"
    argv = ["split", str(data), "--out-train", str(out / "t.csv"), "--out-holdout", str(out / "h.csv"), *args]
    assert run(argv) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_short_key_file(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "k").write_bytes(b"tooshort\n")
    assert _split(data, tmp_path / "o", "--key-file", str(tmp_path / "k")) == 2
    assert "fewer than 16 bytes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
