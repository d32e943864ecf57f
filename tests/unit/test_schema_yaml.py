"""Reading schemas: YAML 1.1 booleans in category lists, and public vocabularies (issue 16 items 6, 7)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tabsynth.exceptions import SchemaError
from tabsynth.schema import load_schema
from tabsynth.vocab import VOCABULARIES, vocabulary


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_yes_on_off_stay_the_strings_the_user_wrote(tmp_path: Path) -> None:
    schema = load_schema(
        _write(
            tmp_path,
            "columns:\n"
            "  smoker: {kind: categorical, categories: [no, yes], nullable: false}\n"
            "  light: {kind: categorical, categories: [On, OFF, y, n]}\n"
            "  flag: {kind: boolean, nullable: true}\n",
        )
    )
    assert schema["smoker"].categories == ("no", "yes")
    assert schema["smoker"].nullable is False  # true/false are still booleans
    assert schema["light"].categories == ("On", "OFF", "y", "n")
    assert schema["flag"].nullable is True
    schema.validate_frame(pd.DataFrame({"smoker": ["no", "yes"], "light": ["On", "n"], "flag": [True, False]}))


def test_schema_yaml_round_trips_string_categories(tmp_path: Path) -> None:
    schema = load_schema(_write(tmp_path, "columns:\n  smoker: {kind: categorical, categories: [no, yes]}\n"))
    again = load_schema(schema.save(tmp_path / "again.yaml"))
    assert again["smoker"].categories == ("no", "yes")


def test_loader_is_safe(tmp_path: Path) -> None:
    path = _write(tmp_path, "columns: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SchemaError, match="not valid YAML"):
        load_schema(path)


def test_categories_may_name_a_public_vocabulary(tmp_path: Path) -> None:
    schema = load_schema(
        _write(
            tmp_path,
            "columns:\n"
            "  state: {kind: categorical, categories: us_states}\n"
            "  country: {kind: categorical, categories: iso_countries}\n"
            "  answer: {kind: categorical, categories: yes_no}\n"
            "  sex: {kind: categorical, categories: sex}\n",
        )
    )
    assert len(schema["state"].categories or ()) == 51 and "CA" in (schema["state"].categories or ())
    assert "DC" in (schema["state"].categories or ())
    assert {"FR", "US", "JP"} <= set(schema["country"].categories or ())
    assert schema["answer"].categories == ("no", "yes")
    assert schema["sex"].categories == ("Female", "Male")


def test_unknown_vocabulary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="public vocabulary"):
        load_schema(_write(tmp_path, "columns:\n  state: {kind: categorical, categories: us_counties}\n"))
    with pytest.raises(SchemaError, match="Unknown vocabulary"):
        vocabulary("us_counties")


def test_vocabularies_have_no_duplicates() -> None:
    for name, values in VOCABULARIES.items():
        assert len(set(values)) == len(values), name
    assert len(VOCABULARIES["iso_countries"]) == 249
