from __future__ import annotations

import pytest

from tabsynth.privacy import (
    BudgetExceededError,
    DPSGDEvent,
    GaussianEvent,
    PrivacyLedger,
    RDPAccountant,
    gaussian_noise_for,
    noise_multiplier_for,
    split_budget,
    threshold_for,
)


def test_split_budget_by_weights() -> None:
    assert split_budget(2.0, {"a": 1, "b": 3}) == pytest.approx({"a": 0.5, "b": 1.5})


def test_gaussian_noise_hits_target_tightly() -> None:
    sigma = gaussian_noise_for(0.1, 1e-6, n_mechanisms=20)
    acc = RDPAccountant()
    for _ in range(20):
        acc.compose(GaussianEvent(noise_multiplier=sigma))
    assert 0.099 <= acc.get_epsilon(1e-6) <= 0.1


def test_noise_multiplier_accounts_for_prior_spends() -> None:
    fresh = PrivacyLedger(epsilon=1.0, delta=1e-6)
    used = PrivacyLedger(epsilon=1.0, delta=1e-6)
    used.spend("pre", GaussianEvent(noise_multiplier=50.0))
    s_fresh = noise_multiplier_for(fresh, sample_rate=0.01, steps=1000)
    s_used = noise_multiplier_for(used, sample_rate=0.01, steps=1000)
    assert s_used > s_fresh
    event = DPSGDEvent(noise_multiplier=s_used, sample_rate=0.01, steps=1000)
    assert used.epsilon_if(event) <= 1.0
    assert used.epsilon_if(DPSGDEvent(noise_multiplier=s_used * 0.99, sample_rate=0.01, steps=1000)) > 1.0


def test_noise_multiplier_refuses_when_budget_is_gone() -> None:
    ledger = PrivacyLedger(epsilon=0.5, delta=1e-6)
    ledger.spend("pre", GaussianEvent(noise_multiplier=12.0))
    with pytest.raises(BudgetExceededError):
        noise_multiplier_for(ledger, sample_rate=0.01, steps=10, target_epsilon=ledger.spent()[0])


def test_threshold_for_uses_the_sub_gaussian_tail() -> None:
    # exp(-t^2 / 2) = 1e-6 at t = sqrt(2 ln 1e6) = 5.2565 (above the normal quantile 4.7534)
    assert threshold_for(10.0, 1e-6) == pytest.approx(1 + 10 * 5.2565, rel=1e-4)
