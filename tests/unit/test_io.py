from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabsynth.exceptions import DataError
from tabsynth.io import read_table, write_table


def test_csv_and_parquet_round_trip(tmp_path: Path, frame: pd.DataFrame) -> None:
    for name in ("t.csv", "t.parquet"):
        path = write_table(frame, tmp_path / name)
        back = read_table(path)
        assert list(back.columns) == list(frame.columns)
        assert len(back) == len(frame)
        assert back["age"].tolist() == frame["age"].tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.parquet"]  # no temp files left


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "is empty"),
        (b"a,b\n", "no data rows"),
        (b"a,b\n1,2\n3\n", "ragged: line 3"),
        (b"a,b\n1,2,3\n", "ragged: line 2"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary"),
    ],
)
def test_bad_csv_files(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=needle):
        read_table(path)


def test_missing_path_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="File not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(DataError, match="Unsupported file type"):
        read_table(tmp_path / "x.xlsx")


def test_corrupt_parquet(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="Parquet"):
        read_table(tmp_path / "x.parquet")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    bad = pd.DataFrame({"a": [object()]})  # not serialisable by polars
    with pytest.raises(Exception):  # noqa: B017 - any failure; the point is what is left behind
        write_table(bad, tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []
