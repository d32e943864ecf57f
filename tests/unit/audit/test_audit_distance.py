"""Batched neighbour searches against brute-force numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from tabsynth.audit._data import Encoded
from tabsynth.audit._distance import gower_nearest, nearest, nearest_and_log_density


def _points(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 7))


def test_nearest_matches_brute_force_and_sorts_neighbours() -> None:
    q, c = _points(50, 0), _points(80, 1)
    dist, idx = nearest(q, c, k=3)
    full = np.sqrt(((q[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    assert np.array_equal(idx, np.argsort(full, axis=1)[:, :3])
    assert np.allclose(dist, np.sort(full, axis=1)[:, :3])


def test_an_exact_copy_has_distance_exactly_zero() -> None:
    c = _points(200, 2) * 1e4  # large values: float32 cancellation would leave a residue
    dist, idx = nearest(c[[5, 17]], c, k=1)
    assert dist[:, 0].tolist() == [0.0, 0.0]
    assert idx[:, 0].tolist() == [5, 17]


def test_log_density_is_a_gaussian_kernel_average() -> None:
    q, c = _points(20, 3), _points(60, 4)
    d_min, log_p = nearest_and_log_density(q, c, bandwidth=0.4)
    sq = ((q[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    assert np.allclose(d_min, np.sqrt(sq.min(axis=1)))
    assert np.allclose(log_p, logsumexp(-sq / (2 * 0.4**2), axis=1) - np.log(60), atol=1e-4)


def test_log_density_can_leave_each_row_out() -> None:
    c = _points(30, 5)
    d_min, log_p = nearest_and_log_density(c, c, bandwidth=0.5, exclude_self=True)
    sq = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(sq, np.inf)
    assert np.allclose(d_min, np.sqrt(sq.min(axis=1)))
    assert np.allclose(log_p, logsumexp(-sq / (2 * 0.25), axis=1) - np.log(29), atol=1e-4)


def _encoded(num: np.ndarray, cats: np.ndarray, n_levels: int) -> Encoded:
    onehot = np.zeros((len(cats), cats.shape[1] * n_levels))
    for j in range(cats.shape[1]):
        onehot[np.arange(len(cats)), j * n_levels + cats[:, j]] = 1.0
    return Encoded(num, onehot, cats.shape[1])


def test_gower_nearest_matches_the_mixed_distance_and_breaks_ties_low() -> None:
    rng = np.random.default_rng(6)
    qn, cn = rng.random((40, 2)), rng.random((90, 2))
    qc, cc = rng.integers(0, 3, (40, 2)), rng.integers(0, 3, (90, 2))
    got = gower_nearest(_encoded(qn, qc, 3), _encoded(cn, cc, 3), k=2)
    gower = np.abs(qn[:, None] - cn[None]).sum(-1) + (qc[:, None] != cc[None]).sum(-1)
    assert np.array_equal(got, np.argsort(gower, axis=1, kind="stable")[:, :2])
    tied = _encoded(np.zeros((1, 1)), np.zeros((1, 1), int), 2)
    pool = _encoded(np.zeros((3, 1)), np.zeros((3, 1), int), 2)
    assert gower_nearest(tied, pool, k=1).tolist() == [[0]]


@pytest.mark.parametrize("k", [1, 5])
def test_k_is_capped_at_the_number_of_candidates(k: int) -> None:
    dist, idx = nearest(_points(4, 7), _points(3, 8), k=k)
    assert idx.shape == (4, min(k, 3))
