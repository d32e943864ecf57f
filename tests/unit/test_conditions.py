"""Parsing of sampling conditions and rebalance shares; oversample-and-select on a fake model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabsynth.conditions import RangeCondition, parse_conditions, parse_rebalance, sample_with_ranges
from tabsynth.exceptions import ConfigError


def test_parse_conditions() -> None:
    exact, ranges = parse_conditions(["label=yes", "age >= 65", "income<3e4", "city==Paris"])
    assert exact == {"label": "yes", "city": "Paris"}
    assert ranges == [RangeCondition("age", ">=", 65.0), RangeCondition("income", "<", 30000.0)]
    for bad in ("oops", "=x", "age>=", "age>=nan", "age>inf"):
        with pytest.raises(ConfigError):
            parse_conditions([bad])
    with pytest.raises(ConfigError, match="both"):
        parse_conditions(["age=3", "age>1"])


def test_parse_rebalance() -> None:
    assert parse_rebalance("label=yes:0.25,no:0.75") == ("label", {"yes": 0.25, "no": 0.75})
    assert parse_rebalance("label=yes:0.5,label=no:0.5") == ("label", {"yes": 0.5, "no": 0.5})
    assert parse_rebalance("t=a:b:1") == ("t", {"a:b": 1.0})  # the share follows the last colon
    for bad in ("yes:1", "label=yes", "label=yes:x", "label=yes:-1,no:2", "label=yes:0.5,other=no:0.5"):
        with pytest.raises(ConfigError):
            parse_rebalance(bad)


class _Uniform:
    """A stand-in model: x uniform on [0, 100), so about 10% of rows have x >= 90."""

    def __init__(self) -> None:
        self.calls = 0

    def sample(self, n: int, *, conditions: Any = None, fair: bool = False, random_state: int | None = None) -> Any:
        self.calls += 1
        rng = np.random.default_rng(random_state)
        return pd.DataFrame({"x": rng.uniform(0, 100, n), "k": rng.integers(0, 3, n)})


def test_oversample_and_select_is_exact() -> None:
    model = _Uniform()
    out = sample_with_ranges(model, 2500, [RangeCondition("x", ">=", 90.0)], random_state=0)
    assert len(out) == 2500 and (out["x"] >= 90).all()
    assert 0.0 < out["x"].min() and out["x"].mean() == pytest.approx(95, abs=0.5)  # uniform on [90, 100)
    again = sample_with_ranges(_Uniform(), 2500, [RangeCondition("x", ">=", 90.0)], random_state=0)
    pd.testing.assert_frame_equal(out, again)  # reproducible with a seed


def test_impossible_range_stops_with_an_error() -> None:
    with pytest.raises(ConfigError, match="rarely generates"):
        sample_with_ranges(_Uniform(), 10, [RangeCondition("x", ">", 100.0)], random_state=0)
