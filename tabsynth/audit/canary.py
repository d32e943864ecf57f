"""One-run DP audit with canaries (Steinke, Nasr and Jagielski 2023): the pure parts.

The procedure (:func:`tabsynth.canary_audit.audit_dp` runs it):

1. Draw ``m`` canary records inside the table's domain (:func:`make_canaries`).
2. Flip a secret fair coin per canary (``secrets``; nothing stores the coins outside the
   internal JSON), and add the "in" canaries to the table.
3. Train once, exactly as ``tabsynth fit`` does.
4. Score every canary with the trained model (higher: looks more like a member), guess "in"
   for the ``k`` highest scores and "out" for the ``k`` lowest, abstain on the rest
   (:func:`count_correct`).
5. Turn the number of correct guesses into a lower bound on epsilon
   (:func:`epsilon_lower_bound`).

The bound is the paper's main theorem for (epsilon, delta)-DP with abstentions: if the
training is (epsilon, delta)-DP with respect to adding or removing one record, the coins are
independent fair coins and the ``r`` guesses are any function of the output, then the number
``W`` of correct guesses satisfies, for every ``v``,

    P[W >= v] <= P[B >= v] + 2 m delta max_{i=1..v} P[v - i <= B < v] / i,
    B ~ Binomial(r, e^epsilon / (1 + e^epsilon)).

The right-hand side is therefore a p-value for the hypothesis "(epsilon, delta)-DP" given
``v`` correct guesses (:func:`p_value`); the lower bound is the largest epsilon that every
smaller epsilon is rejected at level ``1 - confidence``. Choosing ``k`` (or the score) after looking
at the scores would be a multiple test: :func:`best_guesses` tries a fixed grid of ``k`` for
each score and Bonferroni-corrects the level by the number of tests, so the reported bound
stays valid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats

from ..schema import ColumnKind, TableSchema

__all__ = [
    "GuessResult",
    "best_guesses",
    "count_correct",
    "epsilon_lower_bound",
    "fresh_column",
    "fresh_values",
    "guess_grid",
    "make_canaries",
    "p_value",
]

#: Upper end of the epsilon search (a bound this large means "no privacy" in any reading).
_EPS_MAX = 60.0
_GRID_STEP = 0.01


def _check_counts(canaries: int, guesses: int, correct: int) -> None:
    if not 0 <= correct <= guesses <= canaries:
        raise ValueError(f"need 0 <= correct <= guesses <= canaries, got {correct}, {guesses}, {canaries}.")


def p_value(*, canaries: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """P-value of ``correct`` right guesses out of ``guesses`` under the hypothesis (epsilon, delta)-DP.

    Args:
        canaries: m, the number of canaries (each included with probability 1/2).
        guesses: r, the guesses made (abstentions excluded).
        correct: v, the correct guesses.
        epsilon: the hypothesised epsilon (>= 0).
        delta: the hypothesised delta, in [0, 1].

    Returns:
        ``min(1, P[B >= v] + 2 m delta max_i P[v - i <= B < v] / i)``, B ~ Binomial(r, e^eps / (1 + e^eps)).

    Example:
        >>> p_value(canaries=10, guesses=10, correct=10, epsilon=0.0, delta=0.0)  # 0.5 ** 10
        0.0009765625
    """
    _check_counts(canaries, guesses, correct)
    if epsilon < 0 or not 0 <= delta <= 1:
        raise ValueError(f"need epsilon >= 0 and delta in [0, 1], got {epsilon}, {delta}.")
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(stats.binom.sf(correct - 1, guesses, q))  # P[B >= v]
    if delta == 0 or correct == 0:
        return min(1.0, tail)
    below = stats.binom.pmf(np.arange(correct - 1, -1, -1), guesses, q)  # P[B = v-1], P[B = v-2], ..., P[B = 0]
    alpha = float(np.max(np.cumsum(below) / np.arange(1, correct + 1)))
    return min(1.0, tail + 2.0 * canaries * delta * alpha)


def epsilon_lower_bound(*, canaries: int, guesses: int, correct: int, delta: float, confidence: float = 0.95) -> float:
    """The largest epsilon such that (eps', delta)-DP is rejected for every eps' <= epsilon.

    Rejected means :func:`p_value` at most ``1 - confidence``. 0.0 when even epsilon = 0 is not
    rejected. Found by a scan from 0 in steps of 0.01 to the first epsilon that is not rejected,
    then bisection (to 1e-9) between it and the last rejected one: rounded *down* by design.

    Example:
        >>> round(epsilon_lower_bound(canaries=100, guesses=20, correct=20, delta=0.0), 4)  # logit(0.05 ** (1/20))
        1.8227
    """
    _check_counts(canaries, guesses, correct)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    level = 1.0 - confidence

    def rejected(eps: float) -> bool:
        return p_value(canaries=canaries, guesses=guesses, correct=correct, epsilon=eps, delta=delta) <= level

    if guesses == 0 or not rejected(0.0):
        return 0.0
    lo = 0.0
    hi = None
    for eps in np.arange(_GRID_STEP, _EPS_MAX + _GRID_STEP / 2, _GRID_STEP):
        if not rejected(float(eps)):
            hi = float(eps)
            break
        lo = float(eps)
    if hi is None:
        return _EPS_MAX
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rejected(mid) else (lo, mid)
    return lo


def count_correct(scores: np.ndarray, members: np.ndarray, k_in: int, k_out: int) -> int:
    """Correct guesses when the ``k_in`` highest scores are guessed "in" and the ``k_out`` lowest "out".

    Ties are broken by position (a stable sort), which is independent of the coins.
    """
    scores = np.asarray(scores, dtype=float)
    members = np.asarray(members, dtype=bool)
    if k_in < 0 or k_out < 0 or k_in + k_out > len(scores):
        raise ValueError(f"k_in + k_out must be at most the {len(scores)} canaries, got {k_in} + {k_out}.")
    order = np.argsort(-scores, kind="stable")
    top, bottom = order[:k_in], order[len(order) - k_out :]
    return int(members[top].sum() + (~members[bottom]).sum())


def guess_grid(canaries: int) -> tuple[int, ...]:
    """The fixed grid of ``k`` (guesses per side) tried: 2%, 5%, 10%, 20% and 50% of the canaries."""
    ks = {max(1, round(share * canaries)) for share in (0.02, 0.05, 0.1, 0.2)}
    ks.add(canaries // 2)
    return tuple(sorted(k for k in ks if 1 <= k <= canaries // 2))


@dataclass(frozen=True, slots=True, kw_only=True)
class GuessResult:
    """The best test of the grid: its score, ``k`` per side, ``guesses`` (2k), ``correct``, and its bound."""

    score: str
    k: int
    guesses: int
    correct: int
    epsilon_lower_bound: float
    tests: int  # how many (score, k) tests the level was shared between
    tried: tuple[dict[str, float | str], ...]  # every test: score, k, guesses, correct, bound (corrected level)


def best_guesses(
    scores: np.ndarray | Mapping[str, np.ndarray],
    members: np.ndarray,
    *,
    delta: float,
    confidence: float = 0.95,
    grid: Sequence[int] | None = None,
) -> GuessResult:
    """Try each score and each ``k`` of the grid (k "in", k "out"); the largest bound, Bonferroni-corrected.

    Each of the ``len(scores) * len(grid)`` tests runs at level ``(1 - confidence) / tests``, so
    the maximum is a valid bound at ``confidence`` (the union bound over the tests).
    """
    named = {"score": np.asarray(scores)} if isinstance(scores, np.ndarray) else dict(scores)
    m = len(members)
    ks = tuple(grid) if grid is not None else guess_grid(m)
    if not ks or not named:
        raise ValueError(f"no tests to run for {m} canaries (need at least 2 canaries and one score).")
    tests = len(ks) * len(named)
    corrected = 1.0 - (1.0 - confidence) / tests
    tried: list[dict[str, float | str]] = []
    best: dict[str, float | str] | None = None
    for name, values in named.items():
        for k in ks:
            correct = count_correct(values, members, k, k)
            bound = epsilon_lower_bound(canaries=m, guesses=2 * k, correct=correct, delta=delta, confidence=corrected)
            tried.append({"score": name, "k": k, "guesses": 2 * k, "correct": correct, "epsilon_lower_bound": bound})
            if best is None or bound > float(best["epsilon_lower_bound"]):
                best = tried[-1]
    assert best is not None
    return GuessResult(
        score=str(best["score"]),
        k=int(best["k"]),
        guesses=int(best["guesses"]),
        correct=int(best["correct"]),
        epsilon_lower_bound=float(best["epsilon_lower_bound"]),
        tests=tests,
        tried=tuple(tried),
    )


# ---- canaries --------------------------------------------------------------------------------------
def _uniform_numeric(kind: ColumnKind, lower: float, upper: float, n: int, rng: np.random.Generator) -> np.ndarray:
    values = rng.uniform(lower, upper, n)
    if kind is ColumnKind.INTEGER:
        values = np.clip(np.round(values), math.ceil(lower), math.floor(upper))
    return values


def _domain(frame: pd.DataFrame, schema: TableSchema | None, name: str) -> tuple[ColumnKind, object]:
    """The column's kind and domain: the declared one, else what the table holds (an internal artefact)."""
    spec = schema[name] if schema is not None and name in schema.names else None
    col = frame[name]
    if spec is not None:
        kind = spec.kind
    elif pd.api.types.is_bool_dtype(col):
        kind = ColumnKind.BOOLEAN
    elif pd.api.types.is_datetime64_any_dtype(col):
        kind = ColumnKind.DATETIME
    elif pd.api.types.is_integer_dtype(col):
        kind = ColumnKind.INTEGER
    elif pd.api.types.is_float_dtype(col):
        kind = ColumnKind.CONTINUOUS
    else:
        kind = ColumnKind.CATEGORICAL
    if kind.is_numeric:
        if spec is not None and spec.bounds is not None:
            return kind, spec.bounds
        present = col.dropna()
        if kind is ColumnKind.DATETIME:
            seconds = pd.to_datetime(present).astype("int64") / 1e9
            return kind, (float(seconds.min()), float(seconds.max()))
        return kind, (float(present.min()), float(present.max()))
    if kind is ColumnKind.BOOLEAN:
        return kind, (False, True)
    if spec is not None and spec.categories:
        return kind, tuple(spec.categories)
    return kind, tuple(pd.unique(col.dropna()))


def fresh_column(frame: pd.DataFrame, schema: TableSchema | None, target: str | None) -> str | None:
    """The text column whose domain is open (no declared categories) with the most values, if any.

    Each canary gets a value of its own there (``canary-<i>``): inside the domain, since nothing
    declares it closed, and a record only a model that memorises its training rows (or lists
    their exact categories) can know. The target is never chosen.
    """
    best: tuple[int, str] | None = None
    for name in frame.columns:
        col = frame[name]
        if name == target or not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        spec = schema[name] if schema is not None and name in schema.names else None
        if spec is not None and (spec.categories or spec.kind is not ColumnKind.CATEGORICAL):
            continue
        if best is None or col.nunique() > best[0]:
            best = (int(col.nunique()), str(name))
    return None if best is None else best[1]


def fresh_values(frame: pd.DataFrame, column: str, n_rows: int) -> list[str]:
    """``n_rows`` values the column does not hold: ``canary-<i>`` (a suffix added on a clash)."""
    taken = set(frame[column].dropna().astype(str))
    suffix = ""
    while any(f"canary-{i}{suffix}" in taken for i in range(n_rows)):
        suffix += "x"
    return [f"canary-{i}{suffix}" for i in range(n_rows)]


def make_canaries(
    frame: pd.DataFrame,
    n_rows: int,
    *,
    schema: TableSchema | None = None,
    rng: np.random.Generator,
    fresh: str | None = None,
) -> pd.DataFrame:
    """``n_rows`` fresh records, each value drawn uniformly from its column's domain.

    Categorical (and boolean) values are uniform over the declared categories (else the ones
    the table holds), so most canaries carry rare categories in combinations the table does not
    have; numbers are uniform between the declared bounds (else the table's range). Every value
    is inside the domain, so canaries pass the schema's validation; none is missing. Identifier
    and text columns get fresh values that are not in the table (``canary-<i>``, or large
    integers for a numeric identifier).

    In the column ``fresh`` (see :func:`fresh_column`) each canary holds a value of its own.

    The canaries depend on the table (its categories and ranges) but never on the secret coins;
    the bound only needs the coins to be independent of everything else.
    """
    out: dict[str, object] = {}
    for name in frame.columns:
        spec = schema[name] if schema is not None and name in schema.names else None
        if spec is not None and not spec.kind.is_modelled:
            if pd.api.types.is_numeric_dtype(frame[name]):
                top = float(frame[name].max()) if frame[name].notna().any() else 0.0
                out[name] = np.arange(n_rows) + int(max(top, 0)) + 10**6
            else:
                out[name] = [f"canary-{i}" for i in range(n_rows)]
            continue
        kind, domain = _domain(frame, schema, str(name))
        if kind.is_numeric:
            bounds = cast(tuple[float, float], domain)
            values = _uniform_numeric(kind, float(bounds[0]), float(bounds[1]), n_rows, rng)
            if kind is ColumnKind.DATETIME:
                out[name] = pd.to_datetime(values, unit="s").floor("s")
            else:
                out[name] = values
        else:
            choices = list(cast(tuple[object, ...], domain))
            if not choices:
                raise ValueError(f"column {name!r} has no values to draw canaries from.")
            out[name] = [choices[i] for i in rng.integers(0, len(choices), n_rows)]
    if fresh is not None:
        out[fresh] = fresh_values(frame, fresh, n_rows)
    canaries = pd.DataFrame(out, columns=frame.columns)
    for name in frame.columns:  # the table's storage types, so canaries concatenate cleanly
        try:
            canaries[name] = canaries[name].astype(frame[name].dtype)
        except (TypeError, ValueError):
            pass
    return canaries
