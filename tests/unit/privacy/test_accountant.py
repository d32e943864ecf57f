"""The accountant against an independent implementation (Google's dp_accounting) and basic laws."""

from __future__ import annotations

import math

import dp_accounting as dpa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabsynth.privacy import (
    DPSGDEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDPEvent,
    RDPAccountant,
    ThresholdedGaussianEvent,
)
from tabsynth.privacy.accountant import ORDERS


def _reference(events: list[object], delta: float) -> float:
    acc = dpa.rdp.RdpAccountant(list(ORDERS))
    for e in events:
        acc.compose(e)
    return float(acc.get_epsilon(delta))


PINNED = [
    # (ours, theirs, delta)
    (
        [DPSGDEvent(noise_multiplier=1.0, sample_rate=0.01, steps=1000)],
        [dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.01, dpa.GaussianDpEvent(1.0)), 1000)],
        1e-5,
    ),
    (
        [DPSGDEvent(noise_multiplier=0.8, sample_rate=0.004, steps=5000)],
        [dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.004, dpa.GaussianDpEvent(0.8)), 5000)],
        1e-6,
    ),
    (
        [GaussianEvent(noise_multiplier=200.0)] * 20 + [DPSGDEvent(noise_multiplier=1.3, sample_rate=0.02, steps=300)],
        [
            dpa.SelfComposedDpEvent(dpa.GaussianDpEvent(200.0), 20),
            dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.02, dpa.GaussianDpEvent(1.3)), 300),
        ],
        1e-6,
    ),
    ([LaplaceEvent(epsilon=0.1)] * 5, [dpa.SelfComposedDpEvent(dpa.LaplaceDpEvent(10.0), 5)], 1e-6),
]


@pytest.mark.parametrize(("ours", "theirs", "delta"), PINNED)
def test_matches_dp_accounting(ours: list, theirs: list, delta: float) -> None:
    acc = RDPAccountant()
    for e in ours:
        acc.compose(e)
    assert acc.get_epsilon(delta) == pytest.approx(_reference(theirs, delta), rel=1e-3)


def test_pinned_golden_value() -> None:
    # Golden value, also what Opacus's RDP accountant reports for these settings.
    acc = RDPAccountant().compose(DPSGDEvent(noise_multiplier=1.0, sample_rate=0.01, steps=1000))
    assert acc.get_epsilon(1e-5) == pytest.approx(2.1014, abs=1e-3)


def test_no_events_is_zero() -> None:
    assert RDPAccountant().get_epsilon(1e-6) == 0.0


def test_pure_dp_never_exceeds_its_epsilon() -> None:
    acc = RDPAccountant().compose(PureDPEvent(epsilon=0.5))
    assert acc.get_epsilon(1e-6) <= 0.5 + 1e-9


def test_threshold_failure_probability_moves_into_delta() -> None:
    plain = RDPAccountant().compose(GaussianEvent(noise_multiplier=10.0))
    thresholded = RDPAccountant().compose(ThresholdedGaussianEvent(noise_multiplier=10.0, threshold=51.0))
    # The sub-Gaussian tail bound exp(-z^2 / 2) at z = 5, which covers the discrete Gaussian the
    # mechanisms draw (and is above the continuous Gaussian's Q(5) ~ 2.87e-7)
    assert thresholded.delta_extra == pytest.approx(math.exp(-12.5), rel=1e-9)
    assert thresholded.delta_extra > 0.5 * math.erfc(5 / math.sqrt(2))
    assert thresholded.get_epsilon(1e-5) > plain.get_epsilon(1e-5)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.5, 5.0), st.floats(0.001, 0.1), st.integers(1, 500))
def test_epsilon_grows_with_steps(sigma: float, q: float, steps: int) -> None:
    a = RDPAccountant().compose(DPSGDEvent(noise_multiplier=sigma, sample_rate=q, steps=steps))
    b = RDPAccountant().compose(DPSGDEvent(noise_multiplier=sigma, sample_rate=q, steps=steps + 1))
    assert b.get_epsilon(1e-6) >= a.get_epsilon(1e-6)


def test_orders_cover_noisy_histograms() -> None:
    # The optimal order of a very noisy Gaussian is large; the grid must reach it.
    assert np.max(ORDERS) > 5_000
