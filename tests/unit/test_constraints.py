"""Constraints: the schema syntax, the safe expression parser, and transforms that invert exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tabsynth.constraints import (
    Combinations,
    Derived,
    Expression,
    Inequality,
    Range,
    apply_constraints,
    parse_constraint,
    restore_constraints,
    violations,
    with_constraints,
)
from tabsynth.exceptions import SchemaError
from tabsynth.schema import TableSchema

ISSUE_YAML = """
columns:
  start: {kind: integer}
  end: {kind: integer}
  minutes: {kind: continuous}
  charge: {kind: continuous}
  city: {kind: categorical}
  country: {kind: categorical}
  age: {kind: integer}
constraints:
  - {type: inequality, low: start, high: end}                     # end >= start
  - {type: derived, column: charge, expression: "0.17 * minutes"} # arithmetic on other columns
  - {type: combinations, columns: [city, country], allowed: [[Paris, FR], [Lyon, FR], [Berlin, DE]]}
  - {type: range, column: age, min: 0, max: 120}
"""


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start": [1, 5, 2],
            "end": [3, 5, 10],
            "minutes": [10.0, 20.0, 0.0],
            "charge": [1.7, 3.4, 0.0],
            "city": ["Paris", "Berlin", "Lyon"],
            "country": ["FR", "DE", "FR"],
            "age": [30, 120, 0],
        }
    )


def _schema() -> TableSchema:
    return TableSchema.from_dict(yaml.safe_load(ISSUE_YAML))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * a", [3.0, 5.0]),
        ("(1 + 2) * a", [3.0, 6.0]),
        ("-a + b / 2", [0.0, 0.0]),
        ("0.17 * `a`", [0.17, 0.34]),
        ("a - -1", [2.0, 3.0]),
        ("1e1 * a", [10.0, 20.0]),
        ("b / (a - 1)", [np.nan, 4.0]),  # division by zero is missing, not inf
    ],
)
def test_expression_values(text: str, expected: list[float]) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [2.0, 4.0]})
    np.testing.assert_allclose(Expression.parse(text).evaluate(frame), expected)


@pytest.mark.parametrize(
    "text", ["a ** 2", "__import__('os').system('x')", "a; b", "a +", "(a", "a)", "", "a b", "lambda: 1", "a % 2"]
)
def test_expression_refuses_anything_else(text: str) -> None:
    with pytest.raises(SchemaError):
        Expression.parse(text)


def test_expression_names() -> None:
    assert Expression.parse("x * (y + x) / `total due`").names() == ("x", "y", "total due")


def test_issue_syntax_parses_and_round_trips() -> None:
    schema = _schema()
    assert schema.constraints == (
        Inequality(low="start", high="end"),
        Derived(column="charge", expression=Expression.parse("0.17 * minutes")),
        Combinations(names=("city", "country"), allowed=(("Paris", "FR"), ("Lyon", "FR"), ("Berlin", "DE"))),
        Range(column="age", min=0.0, max=120.0),
    )
    again = TableSchema.from_dict(yaml.safe_load(schema.to_yaml()))
    assert again.constraints == schema.constraints
    assert schema.with_roles(target="city").constraints == schema.constraints


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"type": "unique", "column": "a"}, "'type' one of"),
        ({"type": "inequality", "low": "a"}, "missing keys ['high']"),
        ({"type": "inequality", "low": "a", "high": "b", "strict": True}, "unknown keys ['strict']"),
        ({"type": "range", "column": "a"}, "min, max or both"),
        ({"type": "range", "column": "a", "min": 5, "max": 1}, "must not exceed"),
        ({"type": "derived", "column": "a", "expression": "b ** 2"}, "unexpected"),
        ({"type": "combinations", "columns": ["a", "b"], "allowed": [["x"]]}, "must list 2 values"),
        ({"type": "combinations", "columns": ["a"], "allowed": [["x"]]}, "at least two"),
    ],
)
def test_bad_constraints(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(SchemaError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_constraint(raw)


def test_schema_collects_constraint_problems() -> None:
    raw = yaml.safe_load(ISSUE_YAML)
    raw["constraints"].append({"type": "nope"})
    with pytest.raises(SchemaError, match=r"constraints\[5\]"):
        TableSchema.from_dict(raw)


def test_transforms_by_hand() -> None:
    frame, schema = _frame(), _schema()
    encoded, inner = apply_constraints(frame, schema)
    assert "charge" not in encoded.columns and "charge" not in inner.names  # derived: not modelled
    assert encoded["end"].tolist() == [2, 0, 8]  # inequality: end - start
    assert inner["end"].bounds is None
    assert encoded["city+country"].tolist() == ['["Paris", "FR"]', '["Berlin", "DE"]', '["Lyon", "FR"]']
    assert inner["city+country"].categories == ('["Paris", "FR"]', '["Lyon", "FR"]', '["Berlin", "DE"]')
    assert inner["age"].bounds == (0.0, 120.0)  # range: declared bounds, no budget spent on them
    # what a generator might produce: a negative difference, an age out of range, the 'other' slot
    generated = encoded.assign(
        end=pd.array([-4, 3, 1], dtype="Int64"),
        age=pd.array([-3, 150, 40], dtype="Int64"),
        start=pd.array([1, 5, 2], dtype="Int64"),
    )
    generated.loc[2, "city+country"] = "<other>"
    out = restore_constraints(inner, generated)
    assert list(out.columns) == list(frame.columns)  # the original order
    assert out["end"].tolist() == [1, 8, 3]  # start + max(difference, 0)
    assert out["age"].tolist() == [0, 120, 40]
    assert out["charge"].tolist() == pytest.approx([1.7, 3.4, 0.0])
    assert out[["city", "country"]].values.tolist() == [["Paris", "FR"], ["Berlin", "DE"], ["Paris", "FR"]]
    assert set(violations(out, schema.constraints).values()) == {0}


def test_data_that_violates_a_constraint_is_refused_without_values() -> None:
    frame = _frame()
    frame.loc[1, "end"] = -987654
    with pytest.raises(SchemaError) as info:
        apply_constraints(frame, _schema())
    message = str(info.value)
    assert "inequality" in message and "Some rows" in message
    assert "987654" not in message and "5" not in message.replace('"start"', "")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"charge": [1.7, 3.4, 0.5]}, {"derived": 1}),
        ({"country": ["FR", "FR", "FR"]}, {"combinations": 1}),
        ({"age": [30, 121, -1]}, {"range": 2}),
        ({"end": [0, 4, 10]}, {"inequality": 2}),
    ],
)
def test_violations_count_rows(change: dict[str, list[object]], expected: dict[str, int]) -> None:
    counts = violations(_frame().assign(**change), _schema().constraints)
    by_type = {
        next(t for t in ("inequality", "derived", "combinations", "range") if t in k): v for k, v in counts.items()
    }
    assert by_type == {"inequality": 0, "derived": 0, "combinations": 0, "range": 0, **expected}


def test_refused_combinations() -> None:
    schema = _schema()
    chain = with_constraints(schema, [{"type": "inequality", "low": "end", "high": "age"}])
    with pytest.raises(SchemaError, match="not supported"):
        apply_constraints(_frame(), chain)
    with pytest.raises(SchemaError, match="not in the schema"):
        apply_constraints(_frame(), with_constraints(schema, [{"type": "range", "column": "zz", "min": 0}]))
    with pytest.raises(SchemaError, match="target or a sensitive column"):
        apply_constraints(_frame(), schema.with_roles(target="city"))
    with pytest.raises(SchemaError, match="must be continuous or integer"):
        apply_constraints(
            _frame(),
            with_constraints(
                TableSchema.from_dict({"columns": yaml.safe_load(ISSUE_YAML)["columns"]}),
                [{"type": "range", "column": "city", "min": 0}],
            ),
        )


def test_decimals_for_rounded_derived_columns() -> None:
    frame = pd.DataFrame({"minutes": [10.3, 7.1], "charge": [1.75, 1.21]})  # 1.751, 1.207 rounded to cents
    schema = TableSchema.from_dict({"columns": {"minutes": {"kind": "continuous"}, "charge": {"kind": "continuous"}}})
    exact = with_constraints(schema, [{"type": "derived", "column": "charge", "expression": "0.17 * minutes"}])
    with pytest.raises(SchemaError, match="Some rows"):
        apply_constraints(frame, exact)
    rounded = with_constraints(
        schema, [{"type": "derived", "column": "charge", "expression": "0.17 * minutes", "decimals": 2}]
    )
    encoded, inner = apply_constraints(frame, rounded)
    assert restore_constraints(inner, encoded)["charge"].tolist() == [1.75, 1.21]
