"""The anonymeter-style attacks on tiny hand-made tables (risks worked out by hand)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig
from tabsynth.audit._data import prepare
from tabsynth.audit.privacy import draw_samples
from tabsynth.audit.risks import (
    Op,
    Queries,
    _singling_out_queries,
    count_matches,
    inference_risk,
    linkability_risk,
    rank_codes,
)

TINY = AuditConfig(min_holdout_rows=2, n_attacks=4, min_group_rows=1)
Z = 1.959963984540054


def _wilson_center_error(k: int, n: int) -> tuple[float, float]:
    center = (k + Z * Z / 2) / (n + Z * Z)
    error = Z / (n + Z * Z) * math.sqrt(k * (n - k) / n + Z * Z / 4)
    return center, error


def _risk_by_hand(k_attack: int, k_control: int, n: int) -> float:
    a, _ = _wilson_center_error(k_attack, n)
    c, _ = _wilson_center_error(k_control, n)
    return (a - c) / (1 - c)


def test_rank_codes_keep_order_equality_and_missing() -> None:
    first, second = rank_codes(np.array([[2.5], [np.nan], [10.0]]), np.array([[2.5], [-1.0]]))
    assert first[:, 0].tolist() == [1, -1, 2] and second[:, 0].tolist() == [1, 0]


def test_count_matches_agrees_with_a_row_by_row_oracle() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 4, (60, 3)).astype(np.int32)
    n_q = 200
    queries = Queries(
        np.sort(np.argsort(rng.random((n_q, 3)), axis=1)[:, :2], axis=1),
        rng.integers(0, len(Op), (n_q, 2)),
        rng.integers(-1, 4, (n_q, 2)),
    )
    ops = {
        Op.EQ: lambda x, v: x == v,
        Op.NE: lambda x, v: x >= 0 and x != v,
        Op.GE: lambda x, v: x >= 0 and x >= v,
        Op.LE: lambda x, v: x >= 0 and x <= v,
        Op.GT: lambda x, v: x >= 0 and x > v,
        Op.LT: lambda x, v: x >= 0 and x < v,
        Op.IS_NULL: lambda x, v: x < 0,
        Op.NOT_NULL: lambda x, v: x >= 0,
    }
    expected = [
        sum(all(ops[Op(o)](row[c], v) for c, o, v in zip(cs, os, vs, strict=True)) for row in codes)
        for cs, os, vs in zip(queries.cols, queries.ops, queries.vals, strict=True)
    ]
    assert count_matches(codes, queries).tolist() == expected


def test_singling_out_queries_each_isolate_one_distinct_synthetic_row() -> None:
    rng = np.random.default_rng(1)
    syn = rng.integers(0, 6, (300, 5)).astype(np.int32)
    numeric = np.array([True, True, False, False, False])
    queries, attempts = _singling_out_queries(syn, numeric, AuditConfig(n_attacks=50), np.random.default_rng(2))
    assert len(queries) == 50 and attempts >= 50
    assert (count_matches(syn, queries) == 1).all()
    keys = {tuple(np.r_[c, o, v]) for c, o, v in zip(queries.cols, queries.ops, queries.vals, strict=True)}
    assert len(keys) == 50


def test_linkability_by_hand() -> None:
    cfg = AuditConfig(min_holdout_rows=2, n_attacks=4, min_group_rows=1, linkability_aux_cols=(("x",), ("y",)))
    real = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [0.0, 10, 20, 30], "label": list("pqpq")})
    # the control rows pair x with the "wrong" y: their two halves point at different synthetic rows
    control = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [30.0, 20, 10, 0], "label": list("pqpq")})
    data = prepare(real, real.copy(), holdout=control, target="label", sensitive=(), schema=None, config=cfg)
    result = linkability_risk(data, draw_samples(data, cfg, np.random.default_rng(0)), cfg, np.random.default_rng(0))
    assert (result.details["n_success"], result.details["n_control_success"]) == (4, 0)
    assert result.value == pytest.approx(_risk_by_hand(4, 0, 4))  # 0.6756
    assert result.ci is not None and result.ci[1] == 1.0 and result.ci[0] < result.value


def test_inference_by_hand() -> None:
    cfg = AuditConfig(min_holdout_rows=2, n_attacks=4, min_group_rows=1)
    real = pd.DataFrame({"x": [0.0, 1, 2, 3], "label": list("pqpq")})
    control = pd.DataFrame({"x": [0.0, 1, 2, 3], "label": list("qpqp")})  # the secret flips for unseen people
    data = prepare(real, real.copy(), holdout=control, target="label", sensitive=(), schema=None, config=cfg)
    result = inference_risk(data, draw_samples(data, cfg, np.random.default_rng(0)), cfg, np.random.default_rng(0))
    assert result.details["worst_secret"] == "label"
    assert (result.details["n_success"], result.details["n_control_success"]) == (4, 0)
    assert result.value == pytest.approx(_risk_by_hand(4, 0, 4))


def test_numeric_secret_is_guessed_within_a_relative_tolerance() -> None:
    cfg = AuditConfig(min_holdout_rows=2, n_attacks=4, inference_secrets=("income",))
    real = pd.DataFrame({"x": [0.0, 1, 2, 3], "income": [100.0, 200, 300, 400], "label": list("pqpq")})
    synth = real.assign(income=[104.0, 212, 300, 379])  # within 5%: rows 0, 2 (4%, 0%); not 1 (6%), 3 (5.25%)
    data = prepare(
        real, synth, holdout=real.assign(x=[9.0, 9, 9, 9]), target="label", sensitive=(), schema=None, config=cfg
    )
    result = inference_risk(data, draw_samples(data, cfg, np.random.default_rng(0)), cfg, np.random.default_rng(0))
    assert result.details["n_success"] == 2
