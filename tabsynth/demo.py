"""The demo job on the bundled Adult table (what the README's first command runs).

It is the full gated release pipeline: DP-TVAE at epsilon = 1 on the bundled Adult sample
(target ``income``; sensitive ``sex`` and ``race``; the public schema in
``tabsynth/data/adult_schema.yaml``), audited and gated against the partner policy.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from .exceptions import ConfigError
from .pipeline import ReleaseConfig, ReleaseProgress, ReleaseResult, parse_release_config, release

__all__ = ["check_demo_options", "demo_config", "demo_table_path", "run_demo"]

#: Rows and epochs of ``tabsynth demo --fast``: a smoke run of the same pipeline. Under-trained on
#: purpose, it usually ends BLOCKED by the partner policy's fairness rules (measured: a model trained
#: on its output has a 0.3 larger equalized-odds gap by sex), which shows the gate at work.
FAST_ROWS = 12000
FAST_EPOCHS = 20


def demo_table_path() -> Path:
    """Path of the bundled Adult sample (32,561 rows)."""
    return Path(str(resources.files("tabsynth") / "data" / "adult.parquet"))


def demo_schema_path() -> Path:
    """Path of the public Adult schema (categories and bounds from the dataset's documentation)."""
    return Path(str(resources.files("tabsynth") / "data" / "adult_schema.yaml"))


def check_demo_options(out: Path, *, epsilon: float) -> None:
    """Refuse bad demo options before anything runs or is written.

    Raises:
        ConfigError: ``epsilon`` is not a positive finite number (the demo always trains with DP),
            or ``out`` is an existing file, or inside one.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not math.isfinite(epsilon) or epsilon <= 0:
        raise ConfigError(
            f"--epsilon must be a positive, finite number such as 1 (the demo always trains with DP), got {epsilon!r}."
        )
    for parent in (Path(out), *Path(out).parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a folder; choose a folder for the demo.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(f"--out {out}: the folder {parent} is not writable; choose another --out.")
            break


def demo_config(out: Path, *, fast: bool = False, epsilon: float = 1.0) -> ReleaseConfig:
    """The demo's release config; each run gets its own timestamped folder under ``out``.

    Raises:
        ConfigError: a bad option (see :func:`check_demo_options`).
    """
    check_demo_options(out, epsilon=epsilon)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return parse_release_config(
        {
            "input": demo_table_path(),
            "output": Path(out).resolve() / f"release-{stamp}{'-fast' if fast else ''}",
            "schema": demo_schema_path(),
            "target": "income",
            "sensitive": ("sex", "race"),
            "holdout": 0.3,
            "model": "dp-tvae",
            "epsilon": epsilon,
            "delta": 1e-6,
            "epochs": FAST_EPOCHS if fast else None,
            "max_input_rows": FAST_ROWS if fast else None,
            "seed": 0,
            "policy": "partner",
            "formats": ("parquet", "csv"),
        },
        where="demo options",
    )


def run_demo(
    out: Path, *, fast: bool = False, epsilon: float = 1.0, progress: ReleaseProgress | None = None
) -> ReleaseResult:
    """Run the gated release pipeline on the bundled Adult table."""
    return release(demo_config(out, fast=fast, epsilon=epsilon), progress=progress)
