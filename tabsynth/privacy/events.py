"""Immutable records of the DP mechanisms tabsynth runs on private data.

An event says *what* was released (which mechanism, with which noise); the accountant
says what it *costs*. Events are frozen and serialise to plain JSON dictionaries with a
``"type"`` tag, so a ledger written by one version stays loadable by the next: fields are
only ever added with defaults, never renamed or removed.

Sensitivities are normalised: a noise multiplier is the noise standard deviation divided by
the L2 sensitivity of the released vector, under the add/remove-one-record neighbouring
relation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from .errors import PrivacyError

__all__ = [
    "DPEvent",
    "DPSGDEvent",
    "GaussianEvent",
    "LaplaceEvent",
    "ParallelEvent",
    "PureDPEvent",
    "ThresholdedGaussianEvent",
    "event_from_dict",
]


def _check_positive(name: str, value: float, *, allow_inf: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if ok and not allow_inf:
        ok = math.isfinite(value)
    if not ok:
        raise PrivacyError(f"{name} must be a positive finite number, got {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class GaussianEvent:
    """One Gaussian mechanism (e.g. a noisy histogram over a public domain).

    Args:
        noise_multiplier: noise standard deviation / L2 sensitivity.
    """

    type: ClassVar[str] = "gaussian"
    noise_multiplier: float

    def __post_init__(self) -> None:
        _check_positive("noise_multiplier", self.noise_multiplier)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdedGaussianEvent:
    """A Gaussian histogram over an *unknown* domain, releasing only keys above a threshold.

    A record that is alone in its key is revealed only if its noisy count clears the
    threshold, which happens with probability ``P(1 + N(0, sigma^2) > threshold)``; that
    probability is added to delta (union bound), the rest is a Gaussian mechanism.

    Args:
        noise_multiplier: noise standard deviation / L2 sensitivity (sensitivity 1).
        threshold: keys whose noisy count is below this are not released.
    """

    type: ClassVar[str] = "thresholded_gaussian"
    noise_multiplier: float
    threshold: float

    def __post_init__(self) -> None:
        _check_positive("noise_multiplier", self.noise_multiplier)
        if not (math.isfinite(self.threshold) and self.threshold > 1):
            raise PrivacyError(f"threshold must be a finite number > 1, got {self.threshold!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class LaplaceEvent:
    """One Laplace mechanism with L1 sensitivity 1 and scale ``1 / epsilon``."""

    type: ClassVar[str] = "laplace"
    epsilon: float

    def __post_init__(self) -> None:
        _check_positive("epsilon", self.epsilon)


@dataclass(frozen=True, slots=True, kw_only=True)
class PureDPEvent:
    """Any ``epsilon``-DP mechanism (e.g. an exponential-mechanism quantile)."""

    type: ClassVar[str] = "pure_dp"
    epsilon: float

    def __post_init__(self) -> None:
        _check_positive("epsilon", self.epsilon)


@dataclass(frozen=True, slots=True, kw_only=True)
class DPSGDEvent:
    """A segment of DP-SGD: ``steps`` Poisson-subsampled Gaussian steps.

    Args:
        noise_multiplier: noise std / per-sample clipping norm.
        sample_rate: Poisson inclusion probability of each record in each step.
        steps: number of optimizer steps in the segment.
    """

    type: ClassVar[str] = "dp_sgd"
    noise_multiplier: float
    sample_rate: float
    steps: int

    def __post_init__(self) -> None:
        _check_positive("noise_multiplier", self.noise_multiplier)
        if not (0 < self.sample_rate <= 1):
            raise PrivacyError(f"sample_rate must be in (0, 1], got {self.sample_rate!r}.")
        if not (isinstance(self.steps, int) and self.steps >= 0):
            raise PrivacyError(f"steps must be a non-negative integer, got {self.steps!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelEvent:
    """Mechanisms run on *disjoint* partitions of the records (parallel composition).

    Each branch is the sequence of events run on one partition, where the partition is chosen
    by a property of the record itself (e.g. its target class). Under add/remove-one-record
    neighbouring, only the branch of the added or removed record sees a different input, so
    the cost is that of the most expensive branch (per Rényi order).

    Args:
        branches: one tuple of (non-parallel) events per partition.
        partition: what the records are partitioned by, for the ledger's reader.
    """

    type: ClassVar[str] = "parallel"
    branches: tuple[tuple[SimpleEvent, ...], ...]
    partition: str = ""

    def __post_init__(self) -> None:
        branches = tuple(tuple(branch) for branch in self.branches)
        object.__setattr__(self, "branches", branches)
        if not branches or any(not branch for branch in branches):
            raise PrivacyError("A parallel event needs at least one branch, each with at least one event.")
        if any(isinstance(e, ParallelEvent) for branch in branches for e in branch):
            raise PrivacyError("Parallel events cannot be nested.")


SimpleEvent = GaussianEvent | ThresholdedGaussianEvent | LaplaceEvent | PureDPEvent | DPSGDEvent
DPEvent = SimpleEvent | ParallelEvent

_EVENT_TYPES: dict[str, type[Any]] = {
    cls.type: cls for cls in (GaussianEvent, ThresholdedGaussianEvent, LaplaceEvent, PureDPEvent, DPSGDEvent)
}


def event_to_dict(event: DPEvent) -> dict[str, Any]:
    """Serialise an event to a JSON-ready dictionary with a ``type`` tag."""
    if isinstance(event, ParallelEvent):
        return {
            "type": event.type,
            "partition": event.partition,
            "branches": [[event_to_dict(e) for e in branch] for branch in event.branches],
        }
    return {"type": event.type, **asdict(event)}


def event_from_dict(data: dict[str, Any]) -> DPEvent:
    """Rebuild an event from :func:`event_to_dict` output; unknown types or fields raise."""
    if isinstance(data, dict) and data.get("type") == ParallelEvent.type:
        extra = set(data) - {"type", "partition", "branches"}
        if extra or not isinstance(data.get("branches"), list):
            raise PrivacyError(f"Parallel privacy event with unknown fields {sorted(extra)} or no 'branches' list.")
        branches = tuple(tuple(event_from_dict(e) for e in branch) for branch in data["branches"])
        return ParallelEvent(branches=branches, partition=str(data.get("partition", "")))  # type: ignore[arg-type]
    if not isinstance(data, dict) or data.get("type") not in _EVENT_TYPES:
        known = ", ".join(sorted(_EVENT_TYPES))
        raise PrivacyError(f"Unknown privacy event {data!r}: expected a 'type' among {known}.")
    cls = _EVENT_TYPES[data["type"]]
    allowed = {f.name for f in fields(cls)}
    extra = set(data) - allowed - {"type"}
    if extra:
        raise PrivacyError(f"Privacy event of type {data['type']!r} has unknown fields {sorted(extra)}.")
    event: DPEvent = cls(**{k: v for k, v in data.items() if k != "type"})
    return event
