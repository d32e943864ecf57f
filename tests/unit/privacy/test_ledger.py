from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabsynth.privacy import (
    BudgetExceededError,
    DPSGDEvent,
    GaussianEvent,
    LaplaceEvent,
    PrivacyError,
    PrivacyLedger,
    ThresholdedGaussianEvent,
)


def test_spend_refuses_before_mutating() -> None:
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    ledger.spend("a", LaplaceEvent(epsilon=0.6))
    before = ledger.spent()
    with pytest.raises(BudgetExceededError, match="over the budget"):
        ledger.spend("b", LaplaceEvent(epsilon=0.6))
    assert ledger.spent() == before
    assert [e.label for e in ledger.entries] == ["a"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.3, 50.0), min_size=1, max_size=40), st.floats(0.1, 5.0))
def test_ledger_never_exceeds_budget(sigmas: list[float], budget: float) -> None:
    ledger = PrivacyLedger(epsilon=budget, delta=1e-6)
    for i, sigma in enumerate(sigmas):
        try:
            ledger.spend(f"m{i}", GaussianEvent(noise_multiplier=sigma))
        except BudgetExceededError:
            pass
        assert ledger.spent()[0] <= budget + 1e-9


def test_spend_steps_merges_exactly() -> None:
    merged = PrivacyLedger(epsilon=10.0, delta=1e-6)
    for _ in range(50):
        merged.spend_steps("training", noise_multiplier=1.1, sample_rate=0.01)
    single = PrivacyLedger(epsilon=10.0, delta=1e-6)
    single.spend("training", DPSGDEvent(noise_multiplier=1.1, sample_rate=0.01, steps=50))
    assert len(merged.entries) == 1
    assert merged.entries[0].event == DPSGDEvent(noise_multiplier=1.1, sample_rate=0.01, steps=50)
    assert merged.spent()[0] == pytest.approx(single.spent()[0], rel=1e-12)


def test_json_round_trip_recomputes_epsilon() -> None:
    ledger = PrivacyLedger(epsilon=3.0, delta=1e-6)
    ledger.spend("counts:x", GaussianEvent(noise_multiplier=30.0))
    ledger.spend("categories:y", ThresholdedGaussianEvent(noise_multiplier=30.0, threshold=200.0))
    ledger.spend_steps("training", noise_multiplier=1.0, sample_rate=0.01, steps=100)
    again = PrivacyLedger.from_json(ledger.to_json())
    assert again.spent() == ledger.spent()
    assert again.entries == ledger.entries
    data = ledger.to_dict()
    data["epsilon"] = 0.0  # a forged total is ignored: epsilon is recomputed from the events
    assert PrivacyLedger.from_dict(data).spent()[0] == pytest.approx(ledger.spent()[0])


def test_loading_rejects_unknown_events() -> None:
    data = PrivacyLedger(epsilon=1.0, delta=1e-6).to_dict()
    data["entries"] = [{"label": "x", "event": {"type": "magic", "epsilon": 0.0}}]
    with pytest.raises(PrivacyError, match="Unknown privacy event"):
        PrivacyLedger.from_dict(data)


def test_non_dp_ledger_records_nothing_and_says_so() -> None:
    ledger = PrivacyLedger(epsilon=None, delta=1e-6)
    assert not ledger.is_dp
    assert ledger.remaining() == math.inf
    assert ledger.to_dict()["is_dp"] is False


@pytest.mark.parametrize("epsilon", [0, -1, float("nan"), "1", True])
def test_bad_epsilon(epsilon: object) -> None:
    with pytest.raises(PrivacyError, match="epsilon"):
        PrivacyLedger(epsilon=epsilon, delta=1e-6)  # type: ignore[arg-type]


@pytest.mark.parametrize("delta", [0, 1, 1.5, -1e-6])
def test_bad_delta(delta: float) -> None:
    with pytest.raises(PrivacyError, match="delta"):
        PrivacyLedger(epsilon=1.0, delta=delta)
