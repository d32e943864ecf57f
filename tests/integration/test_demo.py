"""The README's main job, end to end (slow: trains on the bundled Adult table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabsynth.cli.main import run


@pytest.mark.slow
def test_demo_fast_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--fast", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epsilon = 1" in out
    minority = pd.read_csv(tmp_path / "minority_income_gt50k.csv")
    assert len(minority) == 1000 and (minority["income"] == ">50K").all()
    assert (tmp_path / "model" / "manifest.json").exists()
