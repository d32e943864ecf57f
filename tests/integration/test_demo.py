"""The README's main job, end to end (slow: trains on the bundled Adult table)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tabsynth.cli.main import run


@pytest.mark.slow
def test_demo_fast_runs_the_release_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["demo", "--fast", "--out", str(tmp_path)])
    assert code in (0, 4)  # released, or blocked by the gate (the fast run is under-trained on purpose)
    out = capsys.readouterr().out
    assert "verdict:" in out and "epsilon = 1" in out and "report:" in out
    [folder] = list(tmp_path.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["policy"]["name"] == "partner" and manifest["privacy"]["epsilon"] <= 1.0 + 1e-9
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert (folder / "synthetic.parquet").exists() == (code == 0)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--epsilon", "0"], "--epsilon must be a positive, finite number"),
        (["--epsilon", "-1"], "--epsilon must be a positive, finite number"),
        (["--epsilon", "abc"], "--epsilon must be a positive, finite number"),
        (["--epsilon", "nan"], "--epsilon must be a positive, finite number"),
        (["--epsilon", "inf"], "--epsilon must be a positive, finite number"),
        (["--epsilon", "none"], "--epsilon must be a positive, finite number"),
        (["--bogus"], "No such option"),
        (["--fast", "extra-argument"], "unexpected extra argument"),
    ],
)
def test_demo_bad_options_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out), *args]) == 2
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert needle.lower() in text.lower()
    assert "internal error" not in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == []


def test_demo_out_inside_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert run(["demo", "--fast", "--out", str(tmp_path / "file" / "demo")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_demo_config_validates_like_the_cli(tmp_path: Path) -> None:
    from tabsynth.demo import demo_config
    from tabsynth.exceptions import ConfigError

    with pytest.raises(ConfigError, match="--epsilon"):
        demo_config(tmp_path, epsilon=0.0)
    config = demo_config(tmp_path, fast=True, epsilon=2.0)
    assert config.epsilon == 2.0 and config.max_input_rows is not None
