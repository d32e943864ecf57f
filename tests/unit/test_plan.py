"""tabsynth.plan: the preprocessing plan is public-only and agrees with what fit will spend (issue 16 item 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tabsynth.cli.main import app
from tabsynth.exceptions import ConfigError
from tabsynth.plan import plan_table, public_schema_of
from tabsynth.privacy import PrivacyLedger
from tabsynth.privacy.calibration import threshold_for
from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema
from tabsynth.synthesizers.synthesizer import Synthesizer
from tabsynth.transform import DPTableTransformer


def _schema() -> TableSchema:
    return TableSchema(
        columns=(
            ColumnSpec(name="y", kind=ColumnKind.CATEGORICAL),
            ColumnSpec(name="state", kind=ColumnKind.CATEGORICAL),
            ColumnSpec(name="age", kind=ColumnKind.INTEGER),
            ColumnSpec(name="income", kind=ColumnKind.CONTINUOUS, bounds=(0.0, 1e6)),
        ),
        target="y",
        sensitive=("state",),
    )


def test_plan_noise_is_the_noise_fit_spends() -> None:
    schema = _schema()
    plan = plan_table(schema, epsilon=1.0, delta=1e-6, preprocessing_share=0.2)
    planned = {label: sd for c in plan.columns for label, sd in c.statistics.items()}
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame(
        {
            "y": rng.choice(["a", "b"], n),
            "state": rng.choice(["CA", "NY"], n),
            "age": rng.integers(18, 90, n),
            "income": rng.uniform(0, 1e5, n),
        }
    )
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    DPTableTransformer().fit(frame, schema, ledger=ledger, epsilon=plan.preprocessing_epsilon, random_state=rng)
    spent = {e.label: e.event.noise_multiplier for e in ledger.entries if e.label != "count:rows"}  # type: ignore[union-attr]
    assert set(spent) == set(planned)  # income has declared bounds: no bounds mechanism, in both
    for label, sd in planned.items():
        assert spent[label] == pytest.approx(sd), label


def test_plan_survival_rows_follow_the_threshold() -> None:
    schema = _schema()
    plan = plan_table(schema, epsilon=1.0)
    base, threshold_delta, sigmas = DPTableTransformer.noise_levels(schema, epsilon=0.2, delta=1e-6)
    target = next(c for c in plan.columns if c.column == "y")
    sd = sigmas["categories:y"]
    assert target.rows_to_survive == pytest.approx(threshold_for(sd, threshold_delta) + 1.6448536 * sd, rel=1e-6)
    state = next(c for c in plan.columns if c.column == "state")
    assert "us_states" in state.advice  # the name suggests a public vocabulary
    assert (target.rows_to_survive or 0) < (state.rows_to_survive or 0)  # the target gets more budget
    assert plan_table(schema, epsilon=3.0).columns[0].rows_to_survive < target.rows_to_survive  # type: ignore[operator]


def test_plan_reads_only_the_header_of_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("y,x,z\nthis row is not even,valid\n\x00\x00binary", encoding="utf-8")
    schema, notes = public_schema_of(path, target="y")
    assert schema.names == ("y", "x", "z") and schema["y"].kind is ColumnKind.CATEGORICAL
    assert schema["x"].kind is ColumnKind.CONTINUOUS and notes


def test_plan_uses_parquet_storage_types(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"y": ["a", "b"], "n": [1, 2], "when": pd.to_datetime(["2020-01-01", "2021-01-01"])}).to_parquet(path)
    schema, _ = public_schema_of(path)
    assert [s.kind for s in schema.columns] == [ColumnKind.CATEGORICAL, ColumnKind.INTEGER, ColumnKind.DATETIME]


def test_plan_cli_and_facade(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("y,x\na,1\nb,2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", str(path), "--target", "y", "--epsilon", "1"])
    assert result.exit_code == 0, result.output
    assert "public information only" in result.output and "y [categorical, target]" in result.output
    plan = Synthesizer(epsilon=1.0).plan(_schema())
    assert [c.column for c in plan.columns] == ["y", "state", "age", "income"]
    assert plan.to_dict()["columns"][0]["rows_to_survive"] > 0


def test_plan_refuses_a_non_dp_epsilon() -> None:
    with pytest.raises(ConfigError):
        plan_table(_schema(), epsilon=float("inf"))
