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
