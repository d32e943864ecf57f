from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabsynth.exceptions import SchemaError
from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema, infer_schema, load_schema


def test_inference_records_kinds_only(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame, target="label", sensitive=["sex"])
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "customer_id": ColumnKind.IDENTIFIER,
        "age": ColumnKind.INTEGER,
        "sex": ColumnKind.CATEGORICAL,
        "city": ColumnKind.CATEGORICAL,
        "hours": ColumnKind.INTEGER,
        "income": ColumnKind.CONTINUOUS,
        "member": ColumnKind.BOOLEAN,
        "label": ColumnKind.CATEGORICAL,
    }
    assert all(c.bounds is None and c.categories is None for c in schema.columns)
    assert schema.target == "label" and schema.sensitive == ("sex",)


def test_identifiers_by_name_and_by_value() -> None:
    n = 60
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "full_name": [f"Person {i}" for i in range(n)],
            "contact": [f"p{i}@mail.example.com" for i in range(n)],
            "tel": [f"+44 20 7946 {i:04d}" for i in range(n)],
            "ref": [f"R{rng.integers(1e9)}-{i}" for i in range(n)],
            "note": [f"free text note number {i} about the customer's long history with us" for i in range(n)],
            "telephone": rng.choice(["yes", "no"], n),  # a yes/no flag named like an identifier
        }
    )
    kinds = {c.name: (c.kind, c.fake) for c in infer_schema(frame).columns}
    assert kinds["full_name"] == (ColumnKind.IDENTIFIER, "name")
    assert kinds["contact"] == (ColumnKind.IDENTIFIER, "email")
    assert kinds["tel"] == (ColumnKind.IDENTIFIER, "phone")
    assert kinds["ref"][0] is ColumnKind.IDENTIFIER
    assert kinds["note"][0] is ColumnKind.TEXT
    assert kinds["telephone"][0] is ColumnKind.CATEGORICAL


def test_unusable_columns_are_all_reported() -> None:
    frame = pd.DataFrame({"empty": [None, None, None], "const": [1, 1, 1], "ok": [1, 2, 3]})
    with pytest.raises(SchemaError) as err:
        infer_schema(frame, target="missing")
    assert len(err.value.errors) == 3
    text = str(err.value)
    assert "'empty'" in text and "'const'" in text and "'missing'" in text


def test_yaml_round_trip(tmp_path: Path, frame: pd.DataFrame) -> None:
    schema = TableSchema(
        columns=(
            ColumnSpec(name="age", kind=ColumnKind.INTEGER, bounds=(18, 90), nullable=False),
            ColumnSpec(name="label", kind=ColumnKind.CATEGORICAL, categories=("no", "yes"), frequencies=(0.7, 0.3)),
            ColumnSpec(name="when", kind=ColumnKind.DATETIME, bounds=(0.0, 1.7e9)),
        ),
        target="label",
    )
    path = schema.save(tmp_path / "s.yaml")
    assert load_schema(path) == schema
    assert "PUBLIC" in path.read_text()


def test_validation_collects_every_problem(tmp_path: Path) -> None:
    schema = TableSchema(
        columns=(
            ColumnSpec(name="a", kind=ColumnKind.INTEGER, nullable=False),
            ColumnSpec(name="b", kind=ColumnKind.CATEGORICAL, categories=("x", "y")),
            ColumnSpec(name="gone", kind=ColumnKind.CONTINUOUS),
        )
    )
    frame = pd.DataFrame({"a": [1.0, None, 3.0], "b": ["x", "z", "y"], "extra": [1, 2, 3]})
    with pytest.raises(SchemaError) as err:
        schema.validate_frame(frame)
    assert len(err.value.errors) == 4  # missing column, extra column, null in non-nullable, unknown category


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("columns: {a: {kind: nope}}", "kind must be one of"),
        ("columns: {a: {kind: integer, bounds: [5, 1]}}", "lower < upper"),
        ("columns: {a: {kind: integer, boundz: [1, 5]}}", "unknown keys"),
        ("columns: {a: {kind: integer}}\ntarget: a", "must be categorical"),
        ("colums: {}", "'columns' mapping"),
        ("columns: {a: [1, 2", "not valid YAML"),
    ],
)
def test_bad_schema_files(tmp_path: Path, yaml_text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SchemaError, match=needle):
        load_schema(path)


def test_integer_target_becomes_categorical() -> None:
    frame = pd.DataFrame({"y": [0, 1, 2, 1] * 10, "x": np.arange(40.0) * 0.5})
    assert infer_schema(frame, target="y")["y"].kind is ColumnKind.CATEGORICAL


def test_private_validation_names_columns_never_values_or_counts() -> None:
    import pandas as pd
    import pytest

    from tabsynth.exceptions import SchemaError
    from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema

    schema = TableSchema(
        columns=(
            ColumnSpec(name="n", kind=ColumnKind.INTEGER, nullable=False),
            ColumnSpec(name="c", kind=ColumnKind.CATEGORICAL, categories=("a", "b")),
        )
    )
    frame = pd.DataFrame({"n": ["1", "secret-7", None], "c": ["a", "zebra", "b"]})
    with pytest.raises(SchemaError) as public:
        schema.validate_frame(frame)
    assert "zebra" in str(public.value)  # the curator's own check may list values
    with pytest.raises(SchemaError) as private:
        schema.validate_frame(frame, private=True)
    text = str(private.value)
    assert "'n'" in text and "secret-7" not in text and "zebra" not in text
    assert text.startswith("2 schema problems")  # how many kinds of problem, nothing about the rows
    assert not any(ch.isdigit() for ch in text.split(":", 1)[1])
