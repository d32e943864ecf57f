"""Secret randomness: the discrete Gaussian sampler, key handling and the ledger's use of it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tabsynth.privacy import PrivacyLedger
from tabsynth.privacy.mechanisms import noisy_categories, noisy_histogram
from tabsynth.privacy.randomness import NoiseSource


def _discrete_gaussian_pmf(sigma: float, support: np.ndarray) -> np.ndarray:
    k = np.arange(-int(12 * sigma) - 1, int(12 * sigma) + 2)
    norm = np.exp(-(k**2) / (2 * sigma**2)).sum()
    return np.exp(-(support**2) / (2 * sigma**2)) / norm


def test_discrete_gaussian_matches_its_pmf() -> None:
    draws = NoiseSource.insecure_from_seed(1).discrete_gaussian(2.0, 20_000)
    assert draws.dtype == np.int64
    support = np.arange(-6, 7)
    observed = np.array([(draws == v).mean() for v in support])
    expected = _discrete_gaussian_pmf(2.0, support)
    # 20,000 draws: each frequency within ~4 standard errors of its probability
    assert np.all(np.abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / 20_000) + 1e-4)
    assert abs(draws.var() - 4.0) < 0.2


def test_discrete_gaussian_rejects_bad_sigma() -> None:
    with pytest.raises(ValueError, match="positive finite"):
        NoiseSource.fresh().discrete_gaussian(0.0, 3)
    with pytest.raises(ValueError, match="positive finite"):
        NoiseSource.fresh().discrete_gaussian(math.inf, 3)


def test_fresh_sources_differ_and_test_sources_replay() -> None:
    a, b = NoiseSource.fresh(), NoiseSource.fresh()
    assert a.is_secure and b.is_secure
    assert not np.array_equal(a.discrete_gaussian(50.0, 64), b.discrete_gaussian(50.0, 64))
    x, y = NoiseSource.insecure_from_seed(5), NoiseSource.insecure_from_seed(5)
    assert not x.is_secure
    assert np.array_equal(x.discrete_gaussian(50.0, 64), y.discrete_gaussian(50.0, 64))


def test_key_never_in_repr() -> None:
    source = NoiseSource.fresh()
    assert source.share_key().hex() not in repr(source)
    assert repr(source) == "NoiseSource(is_secure=True)"


def test_child_streams_are_independent_and_keyed() -> None:
    parent = NoiseSource.insecure_from_seed(9)
    one, two = parent.child("rank-1"), parent.child("rank-2")
    assert one.randbits(64) != two.randbits(64)
    assert NoiseSource.insecure_from_seed(9).child("rank-1").randbits(64) == parent.child("rank-1").randbits(64)


def test_randbelow_is_uniform() -> None:
    source = NoiseSource.insecure_from_seed(2)
    draws = np.array([source.randbelow(3) for _ in range(6000)])
    assert set(draws.tolist()) == {0, 1, 2}
    assert np.all(np.abs(np.bincount(draws) / 6000 - 1 / 3) < 0.03)


def test_noisy_histogram_ignores_the_callers_rng_and_releases_integers() -> None:
    # Same caller rng, same data: a secret ledger's noise still differs between runs.
    counts = np.array([10, 20, 30])
    first = noisy_histogram(
        counts, noise_multiplier=50.0, ledger=PrivacyLedger(1.0, 1e-6), label="c", rng=np.random.default_rng(0)
    )
    second = noisy_histogram(
        counts, noise_multiplier=50.0, ledger=PrivacyLedger(1.0, 1e-6), label="c", rng=np.random.default_rng(0)
    )
    assert first.dtype.kind == "i" and second.dtype.kind == "i"
    assert not np.array_equal(first, second)


def test_noisy_histogram_refuses_fractional_counts() -> None:
    with pytest.raises(ValueError, match="integer counts"):
        ledger = PrivacyLedger(1.0, 1e-6)
        noisy_histogram(np.array([1.5]), noise_multiplier=5.0, ledger=ledger, label="c", rng=np.random.default_rng())


def test_noisy_categories_counts_are_integers() -> None:
    ledger = PrivacyLedger(5.0, 1e-6)
    released = noisy_categories(
        ["a", "b"],
        np.array([500, 3]),
        null_count=0,
        noise_multiplier=2.0,
        threshold=20.0,
        ledger=ledger,
        label="k",
        rng=np.random.default_rng(),
    )
    assert released.categories == ("a",)
    assert float(released.counts[0]).is_integer() and float(released.other_count).is_integer()


def test_ledger_records_whether_randomness_was_secret() -> None:
    secure = PrivacyLedger(1.0, 1e-6)
    insecure = PrivacyLedger(1.0, 1e-6, noise=NoiseSource.insecure_from_seed(0))
    assert secure.to_dict()["secure_randomness"] is True and secure.to_dict()["is_dp"] is True
    assert insecure.to_dict()["secure_randomness"] is False and insecure.to_dict()["is_dp"] is False
    assert PrivacyLedger.from_dict(insecure.to_dict()).guarantees_dp is False
    assert PrivacyLedger.from_dict(secure.to_dict()).guarantees_dp is True
    assert insecure.fork(0.5).is_secure is False
    old = secure.to_dict()
    del old["secure_randomness"]  # ledgers written before secret randomness drew noise from a stored seed
    assert PrivacyLedger.from_dict(old).guarantees_dp is False


def test_infinite_epsilon_is_refused() -> None:
    from tabsynth.privacy import PrivacyError

    with pytest.raises(PrivacyError, match="epsilon=None"):
        PrivacyLedger(math.inf, 1e-6)
