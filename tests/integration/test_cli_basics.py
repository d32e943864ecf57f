"""CLI basics: help without torch, -h, --version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tabsynth import __version__
from tabsynth.cli.main import run

_ROOT = Path(__file__).resolve().parents[2]
_HEAVY = ("torch", "sklearn", "fairlearn", "opacus")


def _modules_after(argv: list[str]) -> tuple[int, set[str], str]:
    """Run the CLI in a fresh interpreter; return its exit code, loaded top-level modules, stdout."""
    script = (
        "import json, sys\n"
        "from tabsynth.cli.main import run\n"
        f"code = run({argv!r})\n"
        "sys.stdout.flush()\n"
        "print('\\n@@' + json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(_ROOT), "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=_ROOT, check=True, timeout=120
    )
    out, _, payload = done.stdout.rpartition("\n@@")
    code, modules = json.loads(payload)
    return code, set(modules), out


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["fit", "--help"], ["audit", "-h"], ["schema", "infer", "-h"]])
def test_help_does_not_load_torch(argv: list[str]) -> None:
    code, modules, out = _modules_after(argv)
    assert code == 0
    assert "Usage" in out
    assert not modules & set(_HEAVY), modules & set(_HEAVY)


def test_root_help_lists_every_command() -> None:
    code, _, out = _modules_after(["--help"])
    assert code == 0
    for command in ("fit", "sample", "budget", "demo", "audit", "release", "gate", "schema", "split"):
        assert command in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tabsynth {__version__}"


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no-such-command"]) == 2
