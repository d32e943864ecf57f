"""Calibrate noise up front, before any private data is touched.

``split_budget`` divides an epsilon between stages; ``gaussian_noise_for`` finds the noise for
a batch of Gaussian histograms that fits a stage; ``noise_multiplier_for`` finds the smallest
DP-SGD noise multiplier that, added to what a ledger already holds, stays within its budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from .accountant import RDPAccountant
from .errors import BudgetExceededError, PrivacyError
from .events import DPSGDEvent, GaussianEvent
from .ledger import PrivacyLedger

__all__ = [
    "gaussian_noise_for",
    "noise_multiplier_for",
    "split_budget",
    "threshold_for",
]


def split_budget(epsilon: float, weights: Mapping[str, float]) -> dict[str, float]:
    """Split ``epsilon`` by ``weights`` (the shares of :func:`tabsynth.privacy.plan.plan_budget`).

    The shares are targets for calibration; the ledger still checks the composed total, which
    under RDP is at most the sum of the parts.
    """
    weights = dict(weights)
    if not weights or any((not isinstance(w, (int, float))) or w < 0 for w in weights.values()):
        raise PrivacyError(f"Budget weights must be non-negative numbers, got {weights!r}.")
    total = float(sum(weights.values()))
    if total <= 0:
        raise PrivacyError("At least one budget weight must be positive.")
    return {name: epsilon * w / total for name, w in weights.items()}


def _bisect_log(predicate: Callable[[float], bool], low: float, high: float, iters: int = 60) -> float:
    """Smallest x in [low, high] (log scale) with predicate(x) True; predicate is monotone."""
    if not predicate(high):
        raise BudgetExceededError(
            "No amount of noise fits the remaining privacy budget: it is already used up. "
            "Raise epsilon or declare more of the schema as public."
        )
    for _ in range(iters):
        mid = math.sqrt(low * high)
        if predicate(mid):
            high = mid
        else:
            low = mid
        if high / low < 1 + 1e-6:
            break
    return high


def gaussian_noise_for(epsilon: float, delta: float, *, n_mechanisms: float = 1) -> float:
    """Noise multiplier so that ``n_mechanisms`` Gaussian mechanisms compose to (epsilon, delta).

    ``n_mechanisms`` may be fractional (budget units): k Gaussians of noise sigma have the RDP
    curve of one Gaussian of noise sigma / sqrt(k).
    """
    if not n_mechanisms > 0:
        raise PrivacyError(f"n_mechanisms must be > 0, got {n_mechanisms}.")

    def fits(sigma: float) -> bool:
        acc = RDPAccountant().compose(GaussianEvent(noise_multiplier=sigma / math.sqrt(n_mechanisms)))
        return acc.get_epsilon(delta) <= epsilon

    return _bisect_log(fits, 1e-3, 1e7)


def threshold_for(noise_multiplier: float, delta: float) -> float:
    """Count threshold so that a lone record's key is released with probability <= ``delta``.

    Uses the sub-Gaussian tail ``P(Z >= t) <= exp(-t^2 / (2 sigma^2))``, which holds for the
    discrete Gaussian the mechanisms draw (and the continuous one), so ``1 + sigma * sqrt(2 ln(1/delta))``.
    """
    if not (0 < delta < 0.5):
        raise PrivacyError(f"Threshold delta must be in (0, 0.5), got {delta!r}.")
    return 1.0 + noise_multiplier * math.sqrt(2.0 * math.log(1.0 / delta))


def noise_multiplier_for(
    ledger: PrivacyLedger,
    *,
    sample_rate: float,
    steps: int,
    target_epsilon: float | None = None,
) -> float:
    """Smallest DP-SGD noise multiplier whose ``steps`` fit in the ledger's remaining budget.

    Args:
        ledger: the ledger the training will spend from (its prior spends count).
        sample_rate: Poisson sampling rate of each step.
        steps: number of steps planned.
        target_epsilon: total epsilon allowed after training (default: the ledger's budget).

    Raises:
        BudgetExceededError: nothing is left for training.
    """
    target = ledger.epsilon if target_epsilon is None else target_epsilon

    def fits(sigma: float) -> bool:
        event = DPSGDEvent(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps)
        return ledger.epsilon_if(event) <= target

    return _bisect_log(fits, 0.1, 1e4)
