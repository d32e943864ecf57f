"""Renyi-DP accounting over all of tabsynth's privacy events.

One accountant composes every mechanism (noisy counts, thresholded histograms, DP-SGD)
by adding their RDP curves order by order, then converts to (epsilon, delta) with the
hypothesis-testing conversion of Balle et al. 2020 (Theorem 21). The subsampled-Gaussian
curve comes from ``opacus.accountants.analysis.rdp`` (the analysis Opacus's own RDP
accountant uses); the closed forms for the Gaussian, Laplace and pure-DP mechanisms are
Mironov 2017 (Prop. 7 and Cor. 4) and Bun & Steinke 2016 (Prop. 1.4).

Thresholded histograms add a failure probability to delta (see
:class:`~tabsynth.privacy.events.ThresholdedGaussianEvent`); the accountant keeps that part
apart and converts the RDP curve at the remaining delta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import logsumexp

from .errors import PrivacyError
from .events import (
    DPEvent,
    DPSGDEvent,
    GaussianEvent,
    LaplaceEvent,
    ParallelEvent,
    PureDPEvent,
    ThresholdedGaussianEvent,
)

__all__ = ["ORDERS", "RDPAccountant", "delta_extra", "epsilon_from_rdp", "rdp_curve"]

# Low orders suit DP-SGD at moderate noise, high orders the very noisy histograms of
# preprocessing (their optimal order grows like sigma * sqrt(2 log(1/delta))).
ORDERS: np.ndarray = np.unique(
    np.concatenate(
        [
            1.0 + np.arange(1, 100) / 10.0,
            np.arange(12, 64),
            np.arange(64, 257, 8),
            np.geomspace(320, 100_000, 40).round(),
        ]
    )
).astype(float)

# The subsampled-Gaussian series costs O(order) per order; above this order we use the
# trivially valid bound +inf (the minimum over orders then ignores them).
_MAX_SGD_ORDER = 256.0


@lru_cache(maxsize=256)
def _sgd_step_curve(noise_multiplier: float, sample_rate: float) -> np.ndarray:
    # Imported here: opacus pulls in torch, which the rest of the ledger does not need.
    from opacus.accountants.analysis.rdp import compute_rdp

    curve = np.full(ORDERS.shape, np.inf)
    low = ORDERS <= _MAX_SGD_ORDER
    curve[low] = compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=list(ORDERS[low]))
    curve.setflags(write=False)
    return curve


def _laplace_curve(epsilon: float) -> np.ndarray:
    a = ORDERS
    # Mironov 2017, Prop. 6, with scale b = 1/epsilon, in log space for stability.
    terms = np.stack([np.log(a / (2 * a - 1)) + (a - 1) * epsilon, np.log((a - 1) / (2 * a - 1)) - a * epsilon])
    curve = logsumexp(terms, axis=0) / (a - 1)
    return np.asarray(np.minimum(curve, epsilon), dtype=np.float64)


def rdp_curve(event: DPEvent) -> np.ndarray:
    """The RDP epsilon of ``event`` at each order in :data:`ORDERS`."""
    if isinstance(event, (GaussianEvent, ThresholdedGaussianEvent)):
        return ORDERS / (2.0 * event.noise_multiplier**2)
    if isinstance(event, LaplaceEvent):
        return _laplace_curve(event.epsilon)
    if isinstance(event, PureDPEvent):
        return np.minimum(event.epsilon, ORDERS * event.epsilon**2 / 2.0)
    if isinstance(event, DPSGDEvent):
        if event.steps == 0:
            return np.zeros_like(ORDERS)
        return _sgd_step_curve(float(event.noise_multiplier), float(event.sample_rate)) * event.steps
    if isinstance(event, ParallelEvent):  # disjoint partitions: the worst branch, order by order
        curves = [np.sum([rdp_curve(e) for e in branch], axis=0) for branch in event.branches]
        return np.asarray(np.max(np.stack(curves), axis=0), dtype=np.float64)
    raise PrivacyError(f"The RDP accountant does not support {type(event).__name__}.")


def delta_extra(event: DPEvent) -> float:
    """The part of delta an event spends outside its RDP curve (thresholding failures)."""
    if isinstance(event, ThresholdedGaussianEvent):
        # P(1 + Z >= threshold) for Z the (discrete or continuous) Gaussian of this sigma, bounded by
        # its sub-Gaussian tail exp(-z^2 / 2) (Canonne, Kamath, Steinke 2020, for the discrete one).
        z = (event.threshold - 1.0) / event.noise_multiplier
        return math.exp(-0.5 * z * z)
    if isinstance(event, ParallelEvent):
        return max(sum(delta_extra(e) for e in branch) for branch in event.branches)
    return 0.0


def epsilon_from_rdp(rdp: np.ndarray, delta: float) -> float:
    """Smallest epsilon over orders such that the RDP curve implies (epsilon, delta)-DP."""
    if not (0 < delta < 1):
        return math.inf
    a = ORDERS
    with np.errstate(invalid="ignore", over="ignore"):
        eps = rdp - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    eps = eps[np.isfinite(eps)]
    if eps.size == 0:
        return math.inf
    return max(0.0, float(eps.min()))


@dataclass(slots=True)
class RDPAccountant:
    """Composes events; ``get_epsilon(delta)`` answers for everything composed so far."""

    rdp: np.ndarray = field(default_factory=lambda: np.zeros_like(ORDERS))
    delta_extra: float = 0.0
    # Sum of epsilons while only pure-DP events were composed (basic composition is then
    # exact and can beat the RDP conversion); None once any other event was composed.
    pure_epsilon: float | None = 0.0

    def compose(self, event: DPEvent) -> RDPAccountant:
        """Add ``event`` to the composition (in place) and return ``self``."""
        self.rdp = self.rdp + rdp_curve(event)
        self.delta_extra += delta_extra(event)
        if self.pure_epsilon is not None:
            if isinstance(event, (LaplaceEvent, PureDPEvent)):
                self.pure_epsilon = self.pure_epsilon + event.epsilon
            else:
                self.pure_epsilon = None
        return self

    def copy(self) -> RDPAccountant:
        return RDPAccountant(rdp=self.rdp.copy(), delta_extra=self.delta_extra, pure_epsilon=self.pure_epsilon)

    def get_epsilon(self, delta: float) -> float:
        """Epsilon at total ``delta`` (the thresholding part is taken out first)."""
        if not np.any(self.rdp) and self.delta_extra == 0.0:
            return 0.0
        eps = epsilon_from_rdp(self.rdp, delta - self.delta_extra)
        return eps if self.pure_epsilon is None else min(eps, self.pure_epsilon)
