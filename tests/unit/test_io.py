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


def test_tsv_by_extension_and_by_sep(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = write_table(frame, tmp_path / "t.tsv")
    assert "\t" in path.read_text().splitlines()[0]
    back = read_table(path)
    assert list(back.columns) == list(frame.columns) and back["income"].tolist() == frame["income"].tolist()
    (tmp_path / "t.txt").write_text("a;b\n1;x\n2;y\n")
    back = read_table(tmp_path / "t.txt", sep=";")
    assert back["a"].tolist() == [1, 2] and back["b"].tolist() == ["x", "y"]
    (tmp_path / "u.txt").write_text("a\tb\n1\tx\n")
    assert read_table(tmp_path / "u.txt", sep="tab")["b"].tolist() == ["x"]
    with pytest.raises(DataError, match="one character"):
        read_table(tmp_path / "t.txt", sep=";;")


def test_unsupported_suffix_lists_what_is(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "x.json")
    for suffix in (".csv", ".tsv", ".parquet"):
        assert suffix in str(info.value)


def _stray_csv(tmp_path: Path) -> Path:
    """An integer column that holds '<other>' in 20 rows, after the rows polars infers types from."""
    values: list[object] = list(range(12_000))
    for i in range(11_000, 11_020):
        values[i] = "<other>"
    path = tmp_path / "stray.csv"
    pd.DataFrame({"id": range(12_000), "visits": values, "w": 1.5}).to_csv(path, index=False)
    return path


def test_stray_string_in_numeric_column_names_the_column(tmp_path: Path) -> None:
    path = _stray_csv(tmp_path)
    with pytest.raises(DataError) as info:
        read_table(path)
    message = str(info.value).replace(str(path), "PATH")
    assert "'visits'" in message and "integers" in message
    assert "same number" not in message
    assert "<other>" not in message and "20" not in message  # private by default: no value, no count
    with pytest.raises(DataError, match="found '<other>'"):
        read_table(path, show_values=True)


def test_check_output(tmp_path: Path) -> None:
    from tabsynth.io import check_output

    assert check_output(tmp_path / "new.csv", overwrite=False) == tmp_path / "new.csv"
    (tmp_path / "old.csv").write_text("x")
    with pytest.raises(DataError, match="already exists"):
        check_output(tmp_path / "old.csv", overwrite=False)
    assert check_output(tmp_path / "old.csv", overwrite=True) == tmp_path / "old.csv"
    with pytest.raises(DataError, match="Unsupported file type"):
        check_output(tmp_path / "new.xlsx", overwrite=True)
    assert check_output(tmp_path / "folder", overwrite=False, table=False) == tmp_path / "folder"


def test_mixed_object_column_is_written_as_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"member": [True, False, "<other>", None], "n": [1, 2, 3, 4]})
    for name in ("m.csv", "m.parquet"):
        back = read_table(write_table(frame, tmp_path / name))
        assert back["member"].tolist() == ["True", "False", "<other>", None]
        assert back["n"].tolist() == [1, 2, 3, 4]
