"""The dataset budget store: reservations before reading, basic composition, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tabsynth.privacy import BudgetExceededError, PrivacyError
from tabsynth.privacy.store import BudgetStore


def test_reservations_add_up_and_refuse_past_the_lifetime(tmp_path: Path) -> None:
    store = BudgetStore(tmp_path / "b.json")
    first = store.reserve("a", epsilon=1.0, delta=1e-6, lifetime_epsilon=2.0)
    store.settle(first, status="blocked", epsilon_spent=0.98)
    store.reserve("b", epsilon=0.5, delta=1e-6, lifetime_epsilon=2.0)
    assert store.spent() == (1.5, 2e-6)
    with pytest.raises(BudgetExceededError, match="spent 1.5 of its lifetime epsilon 2"):
        store.reserve("c", epsilon=0.6, delta=1e-6, lifetime_epsilon=2.0)
    assert [r.label for r in store.releases()] == ["a", "b"]
    assert store.releases()[0].status == "blocked"  # a blocked release still counts in full
    store.reserve("d", epsilon=0.5, delta=1e-6, lifetime_epsilon=2.0)  # exactly the lifetime fits


def test_a_release_without_dp_is_an_infinite_spend(tmp_path: Path) -> None:
    store = BudgetStore(tmp_path / "b.json")
    with pytest.raises(BudgetExceededError, match="none"):
        store.reserve("plain", epsilon=None, delta=1e-6, lifetime_epsilon=100.0)
    assert store.spent() == (0, 0)


def test_damaged_store_is_an_error_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("{not json")
    with pytest.raises(PrivacyError, match="never delete it"):
        BudgetStore(path).reserve("x", epsilon=1.0, delta=1e-6, lifetime_epsilon=3.0)
    path.write_text(json.dumps({"format": 1, "releases": []}))
    assert BudgetStore(path).spent() == (0, 0)


def test_lifetime_must_be_finite(tmp_path: Path) -> None:
    with pytest.raises(PrivacyError, match="lifetime_epsilon"):
        BudgetStore(tmp_path / "b.json").reserve("x", epsilon=1.0, delta=1e-6, lifetime_epsilon=math.inf)
