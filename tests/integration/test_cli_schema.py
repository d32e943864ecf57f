"""CLI contract for the foundation: exit codes, one-line errors, nothing written on failure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabsynth.cli.main import run
from tabsynth.schema import ColumnKind, load_schema


def test_schema_infer_writes_editable_yaml(
    tmp_path: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "schema.yaml"
    assert run(["schema", "infer", str(data), "--out", str(out), "--target", "label", "--sensitive", "sex"]) == 0
    schema = load_schema(out)
    assert schema.target == "label" and schema.sensitive == ("sex",)
    assert schema["customer_id"].kind is ColumnKind.IDENTIFIER
    # the YAML holds no values from the data
    text = out.read_text()
    assert "Paris" not in text and "1000" not in text
    assert run(["schema", "check", str(data), "--schema", str(out)]) == 0


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        (None, [], "File not found"),
        ("", [], "is empty"),
        ("a,b\n", [], "no data rows"),
        ("a,b\n1,2\n3\n", [], "ragged"),
        ("a,b\n1,\n2,\n", [], "no values"),
        ("a,b\n1,5\n2,5\n", [], "constant"),
        ("a,b\n1,x\n2,y\n", ["--target", "zz"], "'zz'"),
    ],
)
def test_bad_input_exit_2_no_traceback_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, extra: list[str], needle: str
) -> None:
    data = tmp_path / "d.csv"
    if content is not None:
        data.write_text(content)
    out = tmp_path / "schema.yaml"
    assert run(["schema", "infer", str(data), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists()


def test_binary_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_bytes(bytes(range(256)) * 4)
    assert run(["schema", "infer", str(data), "--out", str(tmp_path / "s.yaml")]) == 2
    assert "binary" in capsys.readouterr().err


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema", "infer"]) == 2


def test_debug_shows_traceback(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="File not found"):
        run(["--debug", "schema", "infer", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.yaml")])


def test_schema_infer_reads_tsv_and_sep(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "d.txt", sep=";", index=False)
    for data, extra in ((tmp_path / "d.tsv", []), (tmp_path / "d.txt", ["--sep", ";"])):
        out = tmp_path / f"{data.suffix[1:]}.yaml"
        assert run(["schema", "infer", str(data), "--out", str(out), *extra]) == 0
        assert [c.name for c in load_schema(out).columns] == list(frame.columns)


def test_schema_infer_never_overwrites_silently(tmp_path: Path) -> None:
    from tabsynth.cli.main import run
    from tests.conftest import make_frame

    data = tmp_path / "d.csv"
    make_frame(50).to_csv(data, index=False)
    out = tmp_path / "schema.yaml"
    out.write_text("# my reviewed schema\n")
    assert run(["schema", "infer", str(data), "--out", str(out)]) == 2
    assert out.read_text() == "# my reviewed schema\n"
    assert run(["schema", "infer", str(data), "--out", str(out), "--overwrite"]) == 0
    assert "columns:" in out.read_text()
