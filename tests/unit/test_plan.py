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


def _wide_frame(n: int, n_cols: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {f"c{i}": rng.choice(["a", "b", "c"], n) for i in range(n_cols - 1)}
    return pd.DataFrame({**cols, "y": rng.choice(["no", "yes"], n)})


def test_plan_schema_stage_is_the_noise_inference_spends_and_predicts_refusal() -> None:
    from tabsynth.exceptions import SchemaError
    from tabsynth.inference import infer_schema_dp

    n_cols = 12
    planning = TableSchema(
        columns=tuple(ColumnSpec(name=c, kind=ColumnKind.CATEGORICAL) for c in _wide_frame(1, n_cols))
    )
    plan = plan_table(planning, epsilon=1.0, target="y", infer_schema=True)
    (stage,) = plan.stages
    assert stage.stage == "schema-inference" and stage.epsilon == pytest.approx(0.1)
    assert plan.min_rows == pytest.approx(6.0 * stage.noise_sd_rows)
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    big = _wide_frame(int(3 * plan.min_rows), n_cols)  # 12 sd above the bar: accepted
    infer_schema_dp(big, ledger=ledger, epsilon=stage.epsilon, target="y")
    spent = {e.event.noise_multiplier for e in ledger.entries if e.label.startswith("schema:")}  # type: ignore[union-attr]
    assert len(spent) == 1 and spent.pop() == pytest.approx(stage.noise_sd_rows)
    small = _wide_frame(int(0.2 * plan.min_rows), n_cols)  # 5 sd of the mean row count under the bar: refused
    with pytest.raises(SchemaError, match="too small"):
        infer_schema_dp(small, ledger=PrivacyLedger(epsilon=1.0, delta=1e-6), epsilon=stage.epsilon, target="y")
    declared = plan_table(planning, epsilon=1.0, target="y", n_rows=int(0.5 * plan.min_rows), infer_schema=True)
    assert any("will be refused" in a for a in declared.assumptions)
    assert plan_table(planning, epsilon=1.0, target="y").stages == ()  # a declared schema: no inference stage


def test_plan_marginals_stage_is_the_noise_the_filter_spends() -> None:
    from tabsynth.marginals import measure_marginals
    from tabsynth.privacy.plan import MARGINALS_SHARE

    schema = TableSchema(
        columns=(
            ColumnSpec(name="y", kind=ColumnKind.CATEGORICAL, categories=("no", "yes")),
            ColumnSpec(name="a", kind=ColumnKind.CATEGORICAL, categories=("p", "q", "r")),
            ColumnSpec(name="b", kind=ColumnKind.CATEGORICAL, categories=("s", "t")),
            ColumnSpec(name="x", kind=ColumnKind.INTEGER, bounds=(0, 9)),
        ),
        target="y",
    )
    plan = plan_table(schema, epsilon=1.0, filter_on=True)
    (stage,) = plan.stages
    assert stage.stage == "marginals" and stage.epsilon == pytest.approx(MARGINALS_SHARE)
    assert "up to 3 2-way tables" in stage.text and "up to 3 more" in stage.text
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame(
        {
            "y": rng.choice(["no", "yes"], n),
            "a": rng.choice(["p", "q", "r"], n),
            "b": rng.choice(["s", "t"], n),
            "x": rng.integers(0, 10, n),
        }
    )
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    tr = DPTableTransformer().fit(frame, schema, ledger=ledger, epsilon=0.2, random_state=rng)
    measure_marginals(tr.transform(frame), tr, ledger=ledger, epsilon=stage.epsilon)
    spent = {
        e.event.noise_multiplier  # type: ignore[union-attr]
        for e in ledger.entries
        if e.label.startswith("marginal:") and not e.label.startswith("marginal:select")
    }
    assert len(spent) == 1 and spent.pop() == pytest.approx(stage.noise_sd_rows)  # all dense: the bound is exact
    assert plan_table(schema, epsilon=1.0, filter_on=False).stages == ()


def test_plan_cli_names_the_stages_of_a_fit_without_a_schema(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("y,x\na,1\nb,2\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["plan", str(path), "--target", "y", "--epsilon", "1"]).output
    assert "Stage schema-inference (epsilon 0.1)" in out and "refuses tables under about" in out
    assert "Stage marginals (epsilon 0.3)" in out
    off = CliRunner().invoke(app, ["plan", str(path), "--target", "y", "--epsilon", "1", "--no-filter"]).output
    assert "Stage schema-inference" in off and "Stage marginals" not in off
