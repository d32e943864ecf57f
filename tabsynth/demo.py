"""The demo job on the bundled Adult table (what the README's first command runs)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .io import read_table, write_table
from .schema import load_schema
from .synthesizers import Synthesizer

__all__ = ["DemoResult", "demo_table_path", "run_demo"]


def demo_table_path() -> Path:
    """Path of the bundled Adult sample (32,561 rows)."""
    return Path(str(resources.files("tabsynth") / "data" / "adult.parquet"))


@dataclass(frozen=True, slots=True)
class DemoResult:
    model_dir: Path
    synthetic_path: Path
    minority_path: Path
    n_rows: int
    privacy: dict[str, Any]
    fit_seconds: float


def run_demo(out: Path, *, fast: bool = False, epsilon: float = 1.0) -> DemoResult:
    """Fit DP-TVAE on Adult (target income; sensitive sex and race), sample, rebalance, save."""
    frame = read_table(demo_table_path())
    if fast:
        frame = frame.sample(4000, random_state=0).reset_index(drop=True)
    synth = Synthesizer(
        "dp-tvae", epsilon=epsilon, delta=1e-6, random_state=0, epochs=2 if fast else None, verbose=True
    )
    started = time.perf_counter()
    schema = load_schema(Path(str(resources.files("tabsynth") / "data" / "adult_schema.yaml")))
    synth.fit(frame, schema)
    fit_seconds = time.perf_counter() - started
    out = Path(out)
    model_dir = synth.save(out / "model")
    synthetic = synth.sample(len(frame), random_state=1)
    synthetic_path = write_table(synthetic, out / "synthetic.csv")
    minority = synth.sample(1000, conditions={"income": ">50K"}, random_state=2)
    minority_path = write_table(minority, out / "minority_income_gt50k.csv")
    return DemoResult(model_dir, synthetic_path, minority_path, len(synthetic), synth.privacy_spent(), fit_seconds)
