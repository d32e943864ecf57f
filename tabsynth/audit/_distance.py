"""Batched nearest-neighbour and kernel-density computations with torch (never a cross join).

The candidate matrix stays whole; queries go through in blocks sized so that one block of
distances holds about ``_BLOCK_ELEMENTS`` numbers. The search runs in float32 on centred
features; the distances of the chosen neighbours are then recomputed exactly in float64,
so an exact copy has distance 0.0 and ties between equal rows are real ties.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import NDArray

from ._data import Encoded

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_BLOCK_ELEMENTS = 8_000_000


def _block_size(n_candidates: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(1, n_candidates))


def _sq_block(q: torch.Tensor, c: torch.Tensor, c_norm: torch.Tensor) -> torch.Tensor:
    d2 = (q * q).sum(1, keepdim=True) + c_norm[None, :] - 2.0 * (q @ c.T)
    return d2.clamp_min_(0.0)


def _exact_sq(queries: FloatArray, candidates: FloatArray, index: IntArray) -> FloatArray:
    """Exact squared distances from each query to its chosen candidates, shape like ``index``."""
    out = np.empty(index.shape, dtype=np.float64)
    step = max(1, _BLOCK_ELEMENTS // 8 // max(1, index.shape[1] * queries.shape[1]))
    for start in range(0, len(queries), step):
        diff = queries[start : start + step, None, :] - candidates[index[start : start + step]]
        out[start : start + step] = np.einsum("nkd,nkd->nk", diff, diff)
    return out


def nearest(queries: FloatArray, candidates: FloatArray, *, k: int = 1) -> tuple[FloatArray, IntArray]:
    """The ``k`` nearest candidates of each query in Euclidean distance.

    Returns:
        ``(distances, indices)``, both of shape (n_queries, k), nearest first.
    """
    k = min(k, len(candidates))
    center = candidates.mean(axis=0) if len(candidates) else 0.0
    c = torch.from_numpy(np.ascontiguousarray(candidates - center, dtype=np.float32))
    q_all = torch.from_numpy(np.ascontiguousarray(queries - center, dtype=np.float32))
    c_norm = (c * c).sum(1)
    index = np.empty((len(queries), k), dtype=np.int64)
    step = _block_size(len(candidates))
    with torch.no_grad():
        for start in range(0, len(queries), step):
            d2 = _sq_block(q_all[start : start + step], c, c_norm)
            index[start : start + step] = torch.topk(d2, k, dim=1, largest=False).indices.numpy()
    exact = _exact_sq(queries, candidates, index)
    order = np.argsort(exact, axis=1, kind="stable")
    return np.sqrt(np.take_along_axis(exact, order, 1)), np.take_along_axis(index, order, 1)


def nearest_and_log_density(
    queries: FloatArray, candidates: FloatArray, *, bandwidth: float, exclude_self: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Distance to the nearest candidate and a Gaussian kernel log-density at each query.

    The log-density is ``log mean_j exp(-||x - c_j||^2 / (2 h^2))`` (the normalising constant
    of the kernel is left out: it cancels in density ratios with the same bandwidth). With
    ``exclude_self`` the queries *are* the candidates and each row leaves itself out.
    """
    center = candidates.mean(axis=0) if len(candidates) else 0.0
    c = torch.from_numpy(np.ascontiguousarray(candidates - center, dtype=np.float32))
    q_all = torch.from_numpy(np.ascontiguousarray(queries - center, dtype=np.float32))
    c_norm = (c * c).sum(1)
    n_cand = len(candidates) - (1 if exclude_self else 0)
    nearest_index = np.empty(len(queries), dtype=np.int64)
    log_density = np.empty(len(queries), dtype=np.float64)
    scale = 1.0 / (2.0 * bandwidth * bandwidth)
    step = _block_size(len(candidates))
    with torch.no_grad():
        for start in range(0, len(queries), step):
            d2 = _sq_block(q_all[start : start + step], c, c_norm)
            if exclude_self:
                rows = torch.arange(d2.shape[0])
                d2[rows, rows + start] = float("inf")
            nearest_index[start : start + step] = d2.argmin(1).numpy()
            log_density[start : start + step] = (torch.logsumexp(-d2 * scale, 1).double() - math.log(n_cand)).numpy()
    exact = _exact_sq(queries, candidates, nearest_index[:, None])[:, 0]
    return np.sqrt(exact), log_density


def gower_nearest(queries: Encoded, candidates: Encoded, *, k: int = 1) -> IntArray:
    """Indices of the ``k`` nearest candidates in a Gower-style distance.

    The distance is ``sum |dx| / range`` over numeric columns plus the number of mismatched
    categories (anonymeter's mixed-type distance; missing values form their own category).
    Ties go to the lower candidate index.
    """
    k = min(k, len(candidates))
    c_num = torch.from_numpy(np.ascontiguousarray(candidates.num, dtype=np.float64))
    c_hot = torch.from_numpy(np.ascontiguousarray(candidates.onehot, dtype=np.float32))
    q_num = torch.from_numpy(np.ascontiguousarray(queries.num, dtype=np.float64))
    q_hot = torch.from_numpy(np.ascontiguousarray(queries.onehot, dtype=np.float32))
    index = np.empty((len(queries), k), dtype=np.int64)
    step = _block_size(len(candidates))
    tie_break = torch.arange(len(candidates), dtype=torch.float64) * 1e-12
    with torch.no_grad():
        for start in range(0, len(queries), step):
            stop = start + step
            dist = torch.full(
                (min(step, len(queries) - start), len(candidates)), float(queries.n_blocks), dtype=torch.float64
            )
            if q_num.shape[1]:
                dist += torch.cdist(q_num[start:stop], c_num, p=1.0)
            if q_hot.shape[1]:
                dist -= (q_hot[start:stop] @ c_hot.T).double()
            dist += tie_break
            index[start:stop] = torch.topk(dist, k, dim=1, largest=False).indices.numpy()
    return index
