"""Parallel composition over disjoint partitions: the worst branch per Rényi order."""

from __future__ import annotations

import numpy as np
import pytest

from tabsynth.privacy import (
    DPSGDEvent,
    GaussianEvent,
    ParallelEvent,
    PrivacyError,
    PrivacyLedger,
    RDPAccountant,
    event_from_dict,
    event_to_dict,
)
from tabsynth.privacy.accountant import rdp_curve


def test_a_parallel_event_costs_its_worst_branch() -> None:
    cheap, dear = GaussianEvent(noise_multiplier=10.0), GaussianEvent(noise_multiplier=2.0)
    event = ParallelEvent(branches=((cheap,), (dear,)), partition="target class")
    np.testing.assert_allclose(rdp_curve(event), rdp_curve(dear))
    alone = RDPAccountant().compose(dear).get_epsilon(1e-6)
    assert RDPAccountant().compose(event).get_epsilon(1e-6) == pytest.approx(alone)
    both = RDPAccountant().compose(cheap).compose(dear).get_epsilon(1e-6)
    assert alone < both  # sequential composition would cost more


def test_a_branch_composes_sequentially_and_the_max_is_per_order() -> None:
    sgd_a = DPSGDEvent(noise_multiplier=1.0, sample_rate=0.5, steps=10)
    sgd_b = DPSGDEvent(noise_multiplier=3.0, sample_rate=0.01, steps=1000)
    gauss = GaussianEvent(noise_multiplier=5.0)
    event = ParallelEvent(branches=((sgd_a, gauss), (sgd_b,)))
    expected = np.maximum(rdp_curve(sgd_a) + rdp_curve(gauss), rdp_curve(sgd_b))
    np.testing.assert_allclose(rdp_curve(event), expected)


def test_parallel_events_round_trip_and_validate() -> None:
    event = ParallelEvent(
        branches=(
            (DPSGDEvent(noise_multiplier=2.0, sample_rate=0.1, steps=5),),
            (GaussianEvent(noise_multiplier=3.0),),
        ),
        partition="income",
    )
    assert event_from_dict(event_to_dict(event)) == event
    with pytest.raises(PrivacyError):
        ParallelEvent(branches=())
    with pytest.raises(PrivacyError, match="nested"):
        ParallelEvent(branches=((event,),))  # type: ignore[arg-type]


def test_a_forked_ledger_keeps_the_spends_and_the_parent_records_the_branches() -> None:
    ledger = PrivacyLedger(epsilon=2.0, delta=1e-6)
    ledger.spend("counts", GaussianEvent(noise_multiplier=8.0))
    child = ledger.fork(1.5)
    assert child.spent() == ledger.spent() and child.epsilon == 1.5
    child.spend_steps("train", noise_multiplier=4.0, sample_rate=0.1, steps=20)
    assert len(ledger.entries) == 1  # the parent is untouched
    branch = tuple(e.event for e in child.entries[1:])
    ledger.spend("train:by class", ParallelEvent(branches=(branch, branch)))
    assert ledger.spent()[0] == pytest.approx(child.spent()[0])
    assert PrivacyLedger.from_dict(ledger.to_dict()).spent()[0] == pytest.approx(ledger.spent()[0])
