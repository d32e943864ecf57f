"""Bad input: one clear, one-line DataError (exit code 2) before any metric runs."""

from __future__ import annotations

import pandas as pd
import pytest

from tabsynth.audit import AuditConfig, run_audit
from tabsynth.exceptions import ConfigError, DataError, InputError


def _audit(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, **kwargs: object) -> None:
    run_audit(train, synthetic, holdout=holdout, target="label", **kwargs)  # type: ignore[arg-type]


def _expect(match: str, *args: pd.DataFrame, **kwargs: object) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        _audit(*args, **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
    return info.value


def test_columns_of_one_side_are_skipped_and_said(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    # A generator drops identifiers and entity keys (issue 16): the audit compares what both have.
    synth = train.drop(columns=["hours"]).assign(extra=1)
    report = run_audit(train, synth, holdout=holdout, target="label")
    assert "hours" not in report.meta["columns"] and "extra" not in report.meta["columns"]
    assert report.meta["unmatched_columns"] == {"absent_from_synthetic": ["hours"], "only_in_synthetic": ["extra"]}
    assert any("lacks" in n and "['hours']" in n for n in report.notes)
    assert any("only the synthetic" in n and "['extra']" in n for n in report.notes)


def test_a_missing_target_or_holdout_column_is_still_an_error(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    _expect(r"holdout table lacks columns \['hours'\]", train, train, holdout.drop(columns=["hours"]))
    _expect(r"target column 'label' is missing from the synthetic table", train, train.drop(columns=["label"]), holdout)


def test_mismatched_dtypes(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    synth = train.assign(age=train["age"].map(lambda v: f"{v} years"))
    _expect(
        r"column 'age' has mismatched types \(numeric in the real .*categorical in the synthetic", train, synth, holdout
    )


def test_integer_and_float_versions_of_a_number_are_compatible(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    from tabsynth.audit._data import Role, check_inputs

    tables = {Role.TRAIN: train, Role.HOLDOUT: holdout, Role.SYNTHETIC: train.assign(age=train["age"] + 0.5)}
    check_inputs(tables, target="label", sensitive=(), config=AuditConfig())


def test_empty_synthetic_table(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    _expect(r"the synthetic table is empty \(0 rows\)", train, train.iloc[:0], holdout)


@pytest.mark.parametrize("where", ["synthetic", "holdout"])
def test_target_missing_in_one_table(where: str, train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    synth, hold = train, holdout
    if where == "synthetic":
        synth = train.drop(columns=["label"])
    else:
        hold = holdout.drop(columns=["label"])
    _expect(f"the target column 'label' is missing from the {where} table", train, synth, hold)


def test_too_few_holdout_rows(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    _expect("the holdout has 49 rows but at least 50 are needed", train, train, holdout.iloc[:49])


def test_unknown_sensitive_column(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    _expect(r"sensitive columns \['nope'\] are not in the real table", train, train, holdout, sensitive=["nope"])


def test_bad_claimed_epsilon_is_a_config_error(train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="epsilon_claimed must be a positive number"):
        _audit(train, train, holdout, epsilon_claimed=-1.0)


def test_bad_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError, match=r"confidence_level must be in \(0, 1\).*n_attacks must be an integer"):
        AuditConfig(confidence_level=1.5, n_attacks=0)
