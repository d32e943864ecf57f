"""The README's step-by-step commands run as written, on a small generated table."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tabsynth.cli.main import run
from tests.conftest import make_frame

README = Path(__file__).resolve().parents[2] / "README.md"


def _steps() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"### Step by step\s+```bash\n(.*?)```", text, re.S)
    assert block is not None, "the README lost its step-by-step block"
    joined = block.group(1).replace("\\\n", " ")
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("tabsynth ")]


@pytest.mark.filterwarnings("ignore::tabsynth.exceptions.PrivacyWarning")
def test_readme_step_by_step_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_frame(2500, seed=4).drop(columns="customer_id").to_csv("data.csv", index=False)
    steps = _steps()
    assert [s[0] for s in steps][:3] == ["split", "schema", "fit"]
    for args in steps:
        args = [a.replace("label=fraud", "label=yes") for a in args]
        if args[0] == "fit":
            args += ["--epochs", "2"]  # the README's defaults, only shorter
        code = run(args)
        allowed = (0, 4) if args[0] == "gate" else (0,)
        assert code in allowed, f"tabsynth {' '.join(args)} exited {code}"
    assert Path("audit.json").is_file() and Path("report.html").is_file() and Path("minority.parquet").is_file()
