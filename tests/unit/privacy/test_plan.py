"""The one budget split and the one reading of a user's epsilon."""

from __future__ import annotations

import math

import pytest

from tabsynth.privacy import PrivacyError
from tabsynth.privacy.plan import PrivacyConfig, parse_epsilon, plan_budget


@pytest.mark.parametrize("raw", [None, "none", " None "])
def test_no_dp_only_by_name(raw: object) -> None:
    assert parse_epsilon(raw) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["inf", math.inf, "nan", 0, -1, "abc", True])
def test_everything_else_must_be_a_positive_number(raw: object) -> None:
    with pytest.raises(PrivacyError, match="positive number"):
        parse_epsilon(raw)  # type: ignore[arg-type]


def test_plan_shares_add_up_and_depend_on_the_schema_only() -> None:
    declared = plan_budget(1.0, 1e-6)
    inferred = plan_budget(1.0, 1e-6, infer_schema=True)
    assert declared.schema == 0.0 and inferred.schema == pytest.approx(0.1)
    assert declared.preprocessing == inferred.preprocessing == pytest.approx(0.2)
    assert inferred.schema + inferred.preprocessing + inferred.training == pytest.approx(1.0)
    assert plan_budget(None, 1e-6).to_dict()["training"] is None


def test_privacy_config_validates_once() -> None:
    assert PrivacyConfig.from_user("2", 1e-7) == PrivacyConfig(epsilon=2.0, delta=1e-7)
    with pytest.raises(PrivacyError, match="delta"):
        PrivacyConfig(epsilon=1.0, delta=2.0)
