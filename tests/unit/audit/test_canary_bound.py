"""The one-run audit's bound (Steinke, Nasr and Jagielski 2023) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tabsynth.audit.canary import (
    best_guesses,
    count_correct,
    epsilon_lower_bound,
    fresh_column,
    fresh_values,
    guess_grid,
    make_canaries,
    p_value,
)
from tabsynth.schema import ColumnKind, ColumnSpec, TableSchema
from tests.conftest import make_frame


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_p_value_without_delta_is_the_binomial_tail() -> None:
    for r, v, eps in ((50, 40, 1.0), (20, 20, 0.0), (100, 55, 0.3), (7, 0, 2.0)):
        q = math.exp(eps) / (1 + math.exp(eps))
        direct = sum(math.comb(r, j) * q**j * (1 - q) ** (r - j) for j in range(v, r + 1))
        assert p_value(canaries=r, guesses=r, correct=v, epsilon=eps, delta=0.0) == pytest.approx(direct, rel=1e-9)
        assert direct == pytest.approx(stats.binom.sf(v - 1, r, q), rel=1e-9)


def test_p_value_delta_term_by_hand() -> None:
    # m = 10, r = 2, v = 2, eps = 0: q = 1/2, P[B >= 2] = 1/4;
    # i = 1: P[B = 1] / 1 = 1/2; i = 2: (P[B = 1] + P[B = 0]) / 2 = 3/8; max 1/2
    # p = 1/4 + 2 * 10 * 0.01 * 1/2 = 0.35
    assert p_value(canaries=10, guesses=2, correct=2, epsilon=0.0, delta=0.01) == pytest.approx(0.35)
    # capped at 1
    assert p_value(canaries=1000, guesses=2, correct=2, epsilon=0.0, delta=0.01) == 1.0


@pytest.mark.parametrize("r", [10, 20, 50, 200])
def test_all_correct_bound_is_the_logit_of_the_level_root(r: int) -> None:
    # P[B >= r] = q^r <= 0.05 exactly when q >= 0.05 ** (1/r)
    expected = _logit(0.05 ** (1 / r))
    got = epsilon_lower_bound(canaries=r, guesses=r, correct=r, delta=0.0)
    assert got == pytest.approx(expected, abs=1e-6)
    assert got <= expected + 1e-12  # rounded down, never up
    assert epsilon_lower_bound(canaries=r, guesses=r, correct=r, delta=0.0, confidence=0.99) == pytest.approx(
        _logit(0.01 ** (1 / r)), abs=1e-6
    )


def test_bound_against_a_direct_binomial_search() -> None:
    # delta = 0: the largest eps with P[Bin(100, q) >= 80] <= 0.05, by scipy on a fine grid
    eps_grid = np.linspace(0, 3, 30001)
    tails = stats.binom.sf(79, 100, 1 / (1 + np.exp(-eps_grid)))
    expected = eps_grid[tails <= 0.05].max()
    got = epsilon_lower_bound(canaries=500, guesses=100, correct=80, delta=0.0)
    assert got == pytest.approx(expected, abs=2e-4)


def test_bound_edge_cases_and_monotonicity() -> None:
    assert epsilon_lower_bound(canaries=100, guesses=0, correct=0, delta=1e-6) == 0.0
    assert epsilon_lower_bound(canaries=100, guesses=20, correct=10, delta=0.0) == 0.0  # chance level
    assert epsilon_lower_bound(canaries=100, guesses=4, correct=4, delta=0.0) == 0.0  # 1/16 > 0.05
    bounds = [epsilon_lower_bound(canaries=1000, guesses=100, correct=v, delta=1e-6) for v in (70, 80, 90, 100)]
    assert bounds == sorted(bounds) and bounds[0] > 0
    # delta only weakens the bound
    assert epsilon_lower_bound(canaries=1000, guesses=100, correct=90, delta=1e-3) < epsilon_lower_bound(
        canaries=1000, guesses=100, correct=90, delta=0.0
    )
    with pytest.raises(ValueError):
        epsilon_lower_bound(canaries=10, guesses=20, correct=5, delta=0.0)


def test_bound_is_valid_for_randomised_response() -> None:
    # An eps-DP mechanism at its worst: each guess right with probability e^eps / (1 + e^eps).
    # At 95% the bound may exceed eps in at most 5% of runs (here far fewer: 300 runs).
    rng = np.random.default_rng(0)
    eps, r = 1.0, 60
    correct = rng.binomial(r, 1 / (1 + math.exp(-eps)), 300)
    above = sum(epsilon_lower_bound(canaries=r, guesses=r, correct=int(v), delta=0.0) > eps for v in correct)
    assert above <= 0.05 * 300 + 3 * math.sqrt(0.05 * 0.95 * 300)


def test_count_correct_by_hand() -> None:
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    members = np.array([True, False, True, False, False])
    assert count_correct(scores, members, 2, 2) == 3  # top {5, 4}: one in; bottom {2, 1}: both out
    assert count_correct(scores, members, 1, 0) == 1
    assert count_correct(scores, members, 0, 1) == 1
    with pytest.raises(ValueError):
        count_correct(scores, members, 3, 3)


def test_best_guesses_is_bonferroni_corrected() -> None:
    assert guess_grid(500) == (10, 25, 50, 100, 250)
    assert guess_grid(2) == (1,)
    members = np.arange(100) < 50
    scores = members.astype(float) + np.linspace(0, 0.1, 100)  # perfect separation
    best = best_guesses(scores, members, delta=0.0)
    assert (best.k, best.guesses, best.correct) == (50, 100, 100)
    # each of the 5 grid points is tested at level 0.05 / 5
    assert best.epsilon_lower_bound == pytest.approx(_logit(0.01 ** (1 / 100)), abs=1e-6)
    assert len(best.tried) == len(guess_grid(100)) and best.tests == 5
    # two scores: 10 tests at level 0.005; the useless one is tried but the good one wins
    both = best_guesses({"reversed": np.linspace(0, 1, 100), "good": scores}, members, delta=0.0)
    assert (both.score, both.tests, both.correct) == ("good", 10, 100)
    assert both.epsilon_lower_bound == pytest.approx(_logit(0.005 ** (1 / 100)), abs=1e-6)
    assert len(both.tried) == 10


def test_canaries_stay_inside_the_declared_domain() -> None:
    frame = make_frame(200, seed=3)
    schema = TableSchema(
        columns=(
            ColumnSpec(name="customer_id", kind=ColumnKind.IDENTIFIER),
            ColumnSpec(name="age", kind=ColumnKind.INTEGER, bounds=(18, 90)),
            ColumnSpec(name="sex", kind=ColumnKind.CATEGORICAL, categories=("F", "M", "X")),
            ColumnSpec(name="city", kind=ColumnKind.CATEGORICAL, categories=("Paris", "Lyon", "Nice", "Lille")),
            ColumnSpec(name="hours", kind=ColumnKind.INTEGER, bounds=(0, 99)),
            ColumnSpec(name="income", kind=ColumnKind.CONTINUOUS, bounds=(0.0, 200_000.0)),
            ColumnSpec(name="member", kind=ColumnKind.BOOLEAN),
            ColumnSpec(name="label", kind=ColumnKind.CATEGORICAL, categories=("no", "yes")),
        ),
        target="label",
    )
    canaries = make_canaries(frame, 300, schema=schema, rng=np.random.default_rng(0))
    assert list(canaries.columns) == list(frame.columns) and len(canaries) == 300
    schema.validate_frame(canaries)  # raises on any value outside the domain
    assert canaries["age"].between(18, 90).all() and (canaries["age"] > 79).any()  # beyond the table's range
    assert set(canaries["sex"]) == {"F", "M", "X"}  # a declared category the table lacks
    assert not set(canaries["customer_id"]) & set(frame["customer_id"])
    assert canaries.notna().all().all()
    # without a schema: the table's own categories and ranges
    plain = make_canaries(frame, 300, rng=np.random.default_rng(0))
    assert (
        set(plain["city"]) <= set(frame["city"].dropna())
        and plain["income"].between(frame["income"].min(), frame["income"].max()).all()
    )
    assert pd.api.types.is_bool_dtype(plain["member"])


def test_fresh_values_only_where_the_domain_is_open() -> None:
    frame = make_frame(200, seed=3)
    assert fresh_column(frame, None, "label") == "city"  # the text column with the most values
    assert fresh_column(frame, None, "city") == "sex"  # never the target
    declared = TableSchema(
        columns=(
            ColumnSpec(name="sex", kind=ColumnKind.CATEGORICAL, categories=("F", "M")),
            ColumnSpec(name="city", kind=ColumnKind.CATEGORICAL, categories=("Paris", "Lyon", "Nice", "Lille")),
            ColumnSpec(name="label", kind=ColumnKind.CATEGORICAL, categories=("no", "yes")),
        ),
        target="label",
    )
    assert fresh_column(frame[["sex", "city", "label"]], declared, "label") is None  # closed domains
    canaries = make_canaries(frame, 50, rng=np.random.default_rng(1), fresh="city")
    assert canaries["city"].nunique() == 50 and not set(canaries["city"]) & set(frame["city"].dropna())
    clash = frame.assign(city="canary-3")
    assert "canary-3" not in fresh_values(clash, "city", 10)
