from __future__ import annotations

import numpy as np
import pytest

from tabsynth.privacy import PrivacyLedger
from tabsynth.privacy.mechanisms import (
    magnitude_bucket_edges,
    magnitude_buckets,
    noisy_bounds,
    noisy_categories,
    noisy_histogram,
)


def test_histogram_noise_has_the_calibrated_scale(rng: np.random.Generator) -> None:
    ledger = PrivacyLedger(epsilon=1e6, delta=1e-6)
    counts = np.full(20_000, 100.0)
    noisy = noisy_histogram(counts, noise_multiplier=3.0, ledger=ledger, label="h", rng=rng)
    assert np.std(noisy - counts) == pytest.approx(3.0, rel=0.03)
    assert np.mean(noisy - counts) == pytest.approx(0.0, abs=0.1)
    assert [e.label for e in ledger.entries] == ["h"]


def test_histogram_without_dp_is_exact_and_free(rng: np.random.Generator) -> None:
    ledger = PrivacyLedger(epsilon=None, delta=1e-6)
    out = noisy_histogram(np.array([1, 2, 3]), noise_multiplier=3.0, ledger=ledger, label="h", rng=rng)
    assert out.tolist() == [1.0, 2.0, 3.0]
    assert ledger.entries == ()


def test_threshold_hides_rare_keys(rng: np.random.Generator) -> None:
    ledger = PrivacyLedger(epsilon=1e6, delta=1e-6)
    released = [
        noisy_categories(
            ["big", "rare"],
            np.array([1000, 1]),
            null_count=5,
            noise_multiplier=5.0,
            threshold=40.0,
            ledger=ledger,
            label=f"c{i}",
            rng=rng,
        )
        for i in range(200)
    ]
    assert all(r.categories == ("big",) for r in released)
    others = np.array([r.other_count for r in released])
    assert others.mean() == pytest.approx(1.0, abs=1.5)  # the rare key's row lands in <other>


def test_bounds_are_bucket_edges_not_exact_extremes(rng: np.random.Generator) -> None:
    ledger = PrivacyLedger(epsilon=None, delta=1e-6)
    values = np.array([17.0] * 10 + [90.0] * 10)
    assert noisy_bounds(values, noise_multiplier=1.0, ledger=ledger, label="b", rng=rng) == (16.0, 128.0)


def test_bounds_none_when_too_few_rows(rng: np.random.Generator) -> None:
    ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    assert (
        noisy_bounds(np.array([5.0, 6.0]), noise_multiplier=100.0, ledger=ledger, label="b", rng=rng, min_count=1000.0)
        is None
    )


def test_magnitude_buckets_contain_their_values() -> None:
    values = np.array([-1e9, -3.5, -1e-9, 0.0, 1e-9, 0.75, 3.0, 12345.6, 1e15])
    lower, upper = magnitude_bucket_edges()
    idx = magnitude_buckets(values)
    assert np.all(lower[idx] <= values) and np.all(values <= upper[idx])


def test_bounds_span_a_zero_atom_and_far_positive_values(rng: np.random.Generator) -> None:
    # capital_gain-like: most rows are 0, the rest in the thousands; the empty magnitudes in
    # between must not cut the range at 0.
    values = np.concatenate([np.zeros(5000), rng.uniform(2000, 20000, 1000)])
    for epsilon in (None, 1e6):
        ledger = PrivacyLedger(epsilon=epsilon, delta=1e-6)
        lower, upper = noisy_bounds(values, noise_multiplier=20.0, ledger=ledger, label="b", rng=rng)
        assert lower == 0.0 and upper >= 16384.0
