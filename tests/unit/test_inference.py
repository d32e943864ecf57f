"""DP schema inference: kinds from noisy counts, stable under adding or removing one row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabsynth.exceptions import SchemaError
from tabsynth.inference import ValueClass, coerce_frame, infer_schema_dp, value_classes
from tabsynth.privacy import PrivacyLedger
from tabsynth.privacy.randomness import NoiseSource
from tabsynth.schema import ColumnKind, infer_schema


def _table(n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "hours": rng.integers(10, 60, n),
            "member_no": np.arange(n) + 10_000,
            "flag": rng.choice([0, 1], n),
            "income": rng.normal(50_000, 9_000, n).round(2),
            "city": rng.choice(["Lille", "Lyon", "Nice"], n),
            "email": [f"user{i}@example.org" for i in range(n)],
            "clinic_name": rng.choice(["North", "South", "East"], n),
            "label": rng.choice(["no", "yes"], n),
        }
    )


def _infer(frame: pd.DataFrame, seed: int = 0) -> dict[str, str]:
    ledger = PrivacyLedger(1.0, 1e-6, noise=NoiseSource.insecure_from_seed(seed))
    schema, _ = infer_schema_dp(frame, ledger=ledger, epsilon=0.1, target="label")
    return {c.name: c.kind.value for c in schema.columns}


def test_value_classes_by_hand() -> None:
    col = pd.Series(["1", "2.5", None, "2020-01-31", "true", "a@b.org", "+1 555 0100 22", "x" * 41, "Paris"])
    assert value_classes(col).tolist() == [
        ValueClass.INTEGRAL,
        ValueClass.FRACTIONAL,
        ValueClass.MISSING,
        ValueClass.DATE,
        ValueClass.BOOLEAN,
        ValueClass.EMAIL,
        ValueClass.PHONE,
        ValueClass.LONG_TEXT,
        ValueClass.TEXT,
    ]
    assert value_classes(pd.Series([1.0, 2.5, np.nan])).tolist() == [1, 2, 0]
    assert value_classes(pd.Series([True, False])).tolist() == [ValueClass.BOOLEAN] * 2


def test_kinds_on_a_clear_table() -> None:
    kinds = _infer(_table())
    assert kinds == {
        "hours": "integer",
        "member_no": "integer",  # no key-like name: a number, not an identifier
        "flag": "integer",
        "income": "continuous",
        "city": "categorical",
        "email": "identifier",
        "clinic_name": "categorical",  # a handful of names: a real category, not an identifier
        "label": "categorical",
    }


def test_repeating_numeric_patient_id_is_an_identifier() -> None:
    frame = _table().rename(columns={"member_no": "patient_id"})
    frame["patient_id"] = frame["patient_id"] // 2  # every id on two rows
    assert _infer(frame)["patient_id"] == "identifier"


@pytest.mark.parametrize(
    "extra",
    [
        {"hours": 40.5},  # one fractional hour: the exact rule flips to continuous
        {"member_no": 10_000},  # a duplicated member number: the exact rule stops calling it an id
        {"flag": 2},  # a third flag value: the exact rule flips categorical -> integer
    ],
)
def test_one_added_row_does_not_change_the_dp_schema(extra: dict[str, object]) -> None:
    frame = _table()
    row = frame.iloc[[0]].copy()
    for col, value in extra.items():
        row[col] = value
    neighbour = pd.concat([frame, row], ignore_index=True)
    # Same secret-noise draws (test seed), tables that differ by one row: same schema.
    assert _infer(frame) == _infer(neighbour)


def test_exact_inference_is_not_neighbour_stable() -> None:
    # Why DP inference exists: the exact draft flips on one row.
    frame = pd.DataFrame({"flag": [0, 1] * 20, "y": ["a", "b"] * 20})
    neighbour = pd.concat([frame, pd.DataFrame({"flag": [2], "y": ["a"]})], ignore_index=True)
    assert infer_schema(frame)["flag"].kind is ColumnKind.CATEGORICAL
    assert infer_schema(neighbour)["flag"].kind is ColumnKind.INTEGER


def test_spends_through_the_ledger_within_its_share() -> None:
    ledger = PrivacyLedger(1.0, 1e-6)
    infer_schema_dp(_table(), ledger=ledger, epsilon=0.1, target="label")
    labels = [e.label for e in ledger.entries]
    assert "schema:hours" in labels and "schema:city:distinct" in labels
    assert ledger.spent()[0] <= 0.1 + 1e-9


def test_small_table_is_refused_without_counts() -> None:
    frame = _table(300)
    with pytest.raises(SchemaError) as info:
        infer_schema_dp(frame, ledger=PrivacyLedger(1.0, 1e-6), epsilon=0.1, target="label")
    message = str(info.value)
    assert "schema infer" in message and "300" not in message


def test_coerce_frame_is_row_local() -> None:
    frame = pd.DataFrame({"n": ["1", "2", "oops"], "c": ["a", "b", "c"]})
    ledger = PrivacyLedger(None, 1e-6)
    from tabsynth.schema import ColumnSpec, TableSchema

    schema = TableSchema(columns=(ColumnSpec(name="n", kind=ColumnKind.INTEGER),))
    out = coerce_frame(frame, schema)
    assert list(out.columns) == ["n"] and out["n"].isna().tolist() == [False, False, True]
    assert ledger.spent() == (0.0, 0.0)


def test_boolean_columns_are_read_from_values_not_storage() -> None:
    frame = _table()
    words = frame.assign(member=np.where(np.arange(len(frame)) % 3 == 0, "true", "false"))
    bools = frame.assign(member=np.arange(len(frame)) % 3 == 0)
    assert _infer(words)["member"] == _infer(bools)["member"] == "boolean"
    from tabsynth.schema import ColumnSpec, TableSchema

    schema = TableSchema(columns=(ColumnSpec(name="b", kind=ColumnKind.BOOLEAN),))
    out = coerce_frame(pd.DataFrame({"b": ["true", "false", "maybe", None]}), schema)
    assert out["b"].tolist()[:2] == [True, False] and out["b"].isna().tolist()[2:] == [True, True]
