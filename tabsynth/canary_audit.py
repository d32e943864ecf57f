"""``tabsynth audit-dp``: a one-run empirical lower bound on the epsilon of a fit.

Steinke, Nasr and Jagielski (2023), "Privacy Auditing with One (1) Training Run": insert ``m``
canary records, each included by a secret fair coin, train *once* exactly as
``Synthesizer.fit`` does (same preprocessing, ledger and DP-SGD), score every canary with the
trained model and count how many membership guesses come out right. If the fit really is
(epsilon, delta)-DP, many right guesses are unlikely; :mod:`tabsynth.audit.canary` turns the
count into a bound that holds with the stated confidence. A bound above the claimed epsilon
means the guarantee does not hold (a bug in the accounting or the implementation); a bound far
below it is expected (the bound is a lower one, and DP-SGD's analysis is worst-case).

The result is an internal artefact: it was computed from the private table (the canaries'
domain comes from its categories and ranges, and the model trained on it). The model trained
here is thrown away; nothing about individual rows or canaries is written.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._version import __version__
from .audit.canary import best_guesses, fresh_column, make_canaries
from .exceptions import ConfigError, SchemaError
from .schema import TableSchema

__all__ = ["CanaryAuditResult", "audit_dp"]

INTERNAL_NOTICE = (
    "INTERNAL: computed from the private table (canaries drawn from its domain, a model trained on it and its "
    "canaries, then discarded). Keep it with the data owner; it holds no rows, but it is not a release artefact."
)
#: The two scores tried (each with the grid of k; Bonferroni over all tests).
SCORES = {
    "loss": "minus the per-record loss (DP-TVAE negative ELBO, all conditions given, mean of 8 latent draws)",
    "calibrated": "the loss under the model's one-way marginals minus the per-record loss (rare values discounted)",
    "known_value": "whether the model's category list holds the canary's own value (ties: the calibrated score)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryAuditResult:
    """What a one-run canary audit found (the keys of its JSON; see docs/audit.md)."""

    epsilon_lower_bound: float
    epsilon_claimed: float | None
    delta: float
    confidence: float
    canaries: int
    included: int
    guesses: int
    correct: int
    abstained: int
    k: int
    membership_auc: float
    runtime_s: float
    model: str
    rows: int
    epsilon_spent: float | None
    score: str
    tests: int
    scores: dict[str, str] = field(default_factory=lambda: dict(SCORES))
    tried: tuple[dict[str, float | str], ...] = ()
    internal: bool = True
    notice: str = INTERNAL_NOTICE
    method: str = (
        "Steinke, Nasr and Jagielski 2023, one training run: each canary included by a secret fair coin; "
        "k highest scores guessed in, k lowest out, the rest abstained; p-value P[Bin(r, e^eps/(1+e^eps)) >= v] "
        "+ 2 m delta max_i P[v-i <= Bin < v]/i; the score and k from a fixed grid, Bonferroni-corrected"
    )
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exceeds_claim(self) -> bool:
        """Whether the bound contradicts the claimed epsilon (always False without a claim)."""
        return self.epsilon_claimed is not None and self.epsilon_lower_bound > self.epsilon_claimed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tried"] = [dict(t) for t in self.tried]
        data["notes"] = list(self.notes)
        data["exceeds_claim"] = self.exceeds_claim
        data["tabsynth_version"] = __version__
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


def _secret_coins(n: int) -> np.ndarray:
    """``n`` fair coins from the operating system's secret source (never seeded, never stored)."""
    bits = secrets.randbits(n) if n else 0
    return np.array([(bits >> i) & 1 for i in range(n)], dtype=bool)


def _secret_order(n: int) -> np.ndarray:
    order = list(range(n))
    secrets.SystemRandom().shuffle(order)
    return np.asarray(order, dtype=int)


def _check_inputs(frame: pd.DataFrame, target: str, canaries: int, model: str, confidence: float) -> None:
    if isinstance(canaries, bool) or not isinstance(canaries, (int, np.integer)) or canaries < 2:
        raise ConfigError(f"--canaries must be an integer >= 2 (e.g. 500), got {canaries!r}.")
    if model != "dp-tvae":
        raise ConfigError(
            f"audit-dp scores canaries by the generator's per-record loss, which {model!r} does not have; "
            "audit a dp-tvae fit."
        )
    if not 0.5 <= confidence < 1:
        raise ConfigError(f"--confidence must be in [0.5, 1), e.g. 0.95; got {confidence!r}.")
    if target not in frame.columns:
        raise SchemaError(f"Target {target!r} is not in the table; columns are {list(frame.columns)}.")
    if len(frame) == 0:
        raise ConfigError("The table is empty: audit-dp needs the table the model would be fitted on.")


def audit_dp(
    frame: pd.DataFrame,
    *,
    target: str,
    epsilon: float | None,
    delta: float = 1e-6,
    canaries: int = 500,
    schema: TableSchema | None = None,
    sensitive: Sequence[str] = (),
    model: str = "dp-tvae",
    epochs: int | None = None,
    batch_size: int | None = None,
    random_state: int | None = None,
    device: str = "auto",
    stratify: bool | str = "auto",
    confidence: float = 0.95,
    callback: Callable[[Any], None] | None = None,
) -> CanaryAuditResult:
    """Audit one fit of ``frame`` with ``canaries`` canaries; see the module docstring.

    The fit takes the same options as ``Synthesizer`` / ``tabsynth fit``; ``random_state`` also
    fixes the canaries' values (not the coins, which are always secret).

    Raises:
        ConfigError: fewer than 2 canaries, a generator without a per-record loss, a bad confidence.
        SchemaError: the target is not in the table.
    """
    from .synthesizers import Synthesizer

    _check_inputs(frame, target, canaries, model, confidence)
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)
    fresh = fresh_column(frame, schema, target)
    planted = make_canaries(frame, int(canaries), schema=schema, rng=rng, fresh=fresh)
    members = _secret_coins(int(canaries))
    train = pd.concat([frame, planted[members]], ignore_index=True)
    train = train.iloc[_secret_order(len(train))].reset_index(drop=True)
    synth = Synthesizer(
        model,
        epsilon=epsilon,
        delta=delta,
        random_state=random_state,
        epochs=epochs,
        batch_size=batch_size,
        device=device,
        stratify=stratify,
    )
    synth.fit(train, schema, target=target, sensitive=tuple(sensitive), callback=callback)
    loss = synth.record_loss(planted, random_state=random_state)
    scores = {"loss": -loss, "calibrated": synth.marginal_loss(planted) - loss}
    if fresh is not None:
        scores["known_value"] = _known(synth, fresh, planted[fresh]) + _unit_rank(scores["calibrated"])
    best = best_guesses(scores, members, delta=delta, confidence=confidence)
    spent = synth.privacy_spent()
    notes = []
    if epsilon is None:
        notes.append("no DP (--epsilon none): the bound shows what the audit can detect; no claim to check")
    return CanaryAuditResult(
        epsilon_lower_bound=best.epsilon_lower_bound,
        epsilon_claimed=epsilon,
        delta=delta,
        confidence=confidence,
        canaries=int(canaries),
        included=int(members.sum()),
        guesses=best.guesses,
        correct=best.correct,
        abstained=int(canaries) - best.guesses,
        k=best.k,
        membership_auc=_auc(scores[best.score], members),
        score=best.score,
        tests=best.tests,
        runtime_s=round(time.perf_counter() - started, 2),
        model=model,
        rows=len(frame),
        epsilon_spent=spent["epsilon"] if spent["is_dp"] else None,
        tried=best.tried,
        notes=tuple(notes),
    )


def _known(synth: Any, column: str, values: pd.Series) -> np.ndarray:
    """1.0 where the fitted model lists the canary's own value as a category of ``column``, else 0.0.

    Reads the model's category list (post-processing). Under DP, category discovery keeps only
    values that clear a noisy threshold, which one record never does; without DP the list is
    exact, so it names every canary that was trained on.
    """
    try:
        enc = synth.transformer_.encoder(column)
    except SchemaError:  # the column is not modelled (e.g. inferred as an identifier)
        return np.zeros(len(values))
    categories = list(getattr(enc, "categories", ()))
    known = {str(c) for c in categories}
    return np.array([str(v) in known for v in values], dtype=float)


def _unit_rank(scores: np.ndarray) -> np.ndarray:
    """Ranks scaled into [0, 0.5): a tie-break that never outweighs a 0/1 score."""
    order = np.argsort(np.argsort(scores, kind="stable"), kind="stable")
    return 0.5 * order / max(len(scores), 1)


def _auc(scores: np.ndarray, members: np.ndarray) -> float:
    """P(score of an "in" canary > score of an "out" one), ties counted half (a diagnostic, not a bound)."""
    inside, outside = scores[members], scores[~members]
    if not len(inside) or not len(outside):
        return 0.5
    ranks = pd.Series(np.concatenate([inside, outside])).rank().to_numpy()
    u = ranks[: len(inside)].sum() - len(inside) * (len(inside) + 1) / 2
    return float(u / (len(inside) * len(outside)))
