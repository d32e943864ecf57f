"""The one budget split: which share of (epsilon, delta) pays for which stage of a fit.

Every stage that reads the private table is paid from one ledger. The split below is a
function of the user's settings and of what the schema declares (public information), never of
the data. DP-SGD training gets whatever the earlier stages leave: its noise multiplier is
calibrated against the ledger's actual state (``noise_multiplier_for``), so the total never
exceeds the budget.

Pure Python; depends on nothing else in tabsynth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import PrivacyError
from .ledger import check_budget

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_PREPROCESSING_SHARE",
    "MARGINALS_SHARE",
    "MIN_TRAINING_SHARE",
    "SCHEMA_INFERENCE_SHARE",
    "BudgetPlan",
    "PrivacyConfig",
    "marginals_share_for",
    "parse_epsilon",
    "plan_budget",
]

#: The default delta everywhere (CLI, release configs, the facade); never derived from the data.
DEFAULT_DELTA = 1e-6

#: Share of epsilon for the transformer's DP statistics (bounds, categories, counts).
DEFAULT_PREPROCESSING_SHARE = 0.2
#: Share of epsilon for DP schema inference, spent only when no schema is declared.
SCHEMA_INFERENCE_SHARE = 0.1
#: Share of epsilon for the DP 1- and 2-way marginals of the quality filter (taken from training).
#: Under RDP composition 0.3 of epsilon is about 10% of the budget in zCDP terms at epsilon 1
#: (0.1 of epsilon, about 1%, left each 2-way cell with about 280 rows of noise on Adult).
MARGINALS_SHARE = 0.3
#: The quality filter never leaves DP-SGD training less than this share of epsilon.
MIN_TRAINING_SHARE = 0.2


def marginals_share_for(preprocessing_share: float, *, infer_schema: bool, filter_on: bool = True) -> float:
    """The quality filter's share of epsilon: ``MARGINALS_SHARE``, less when a large preprocessing
    share would leave training under ``MIN_TRAINING_SHARE`` (public settings only; 0 when off).

    Example:
        >>> marginals_share_for(0.5, infer_schema=True)
        0.2
    """
    if not filter_on:
        return 0.0
    left = 1.0 - preprocessing_share - (SCHEMA_INFERENCE_SHARE if infer_schema else 0.0)
    return round(min(MARGINALS_SHARE, max(0.0, left - MIN_TRAINING_SHARE)), 12)


def parse_epsilon(raw: str | float | None) -> float | None:
    """The one reading of a user's epsilon: a positive finite number, or "no DP" said explicitly.

    ``None`` and the word ``"none"`` mean no DP; ``inf``, ``nan``, zero, negatives and other words
    are refused (an infinite budget must be asked for by name, never by accident).
    """
    if raw is None or (isinstance(raw, str) and raw.strip().lower() == "none"):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(raw, bool) or not (math.isfinite(value) and value > 0):
        raise PrivacyError(f"epsilon must be a positive number, or 'none' to train without DP; got {raw!r}.")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyConfig:
    """A user's (epsilon, delta), validated once; ``epsilon=None`` is the no-DP case.

    Example:
        >>> PrivacyConfig.from_user("none").is_dp
        False
    """

    epsilon: float | None
    delta: float = DEFAULT_DELTA

    def __post_init__(self) -> None:
        check_budget(self.epsilon, self.delta)

    @classmethod
    def from_user(cls, epsilon: str | float | None, delta: float = DEFAULT_DELTA) -> PrivacyConfig:
        return cls(epsilon=parse_epsilon(epsilon), delta=delta)

    @property
    def is_dp(self) -> bool:
        return self.epsilon is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetPlan:
    """Epsilon targets per stage (``None`` throughout without DP).

    Attributes:
        epsilon, delta: the total budget.
        schema: epsilon for DP schema inference (0.0 when the schema is declared).
        preprocessing: epsilon for the transformer's statistics.
        marginals: epsilon for the DP marginals of the quality filter (0.0 when the filter is off).
        training: what DP-SGD is planned to get (the ledger's remainder in practice).
    """

    epsilon: float | None
    delta: float
    schema: float | None
    preprocessing: float | None
    training: float | None
    marginals: float | None = None

    @property
    def is_dp(self) -> bool:
        return self.epsilon is not None

    def to_dict(self) -> dict[str, float | None]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "schema": self.schema,
            "preprocessing": self.preprocessing,
            "marginals": self.marginals,
            "training": self.training,
        }


def plan_budget(
    epsilon: float | None,
    delta: float,
    *,
    preprocessing_share: float = DEFAULT_PREPROCESSING_SHARE,
    infer_schema: bool = False,
    schema_share: float = SCHEMA_INFERENCE_SHARE,
    marginals_share: float = 0.0,
) -> BudgetPlan:
    """Split ``epsilon`` between schema inference (when needed), preprocessing, marginals and training.

    Example:
        >>> plan_budget(1.0, 1e-6, infer_schema=True).preprocessing
        0.2
    """
    check_budget(epsilon, delta)
    if not (0 < preprocessing_share < 1):
        raise PrivacyError(f"preprocessing_share must be in (0, 1), got {preprocessing_share!r}.")
    if not (0 < schema_share < 1 - preprocessing_share):
        raise PrivacyError(f"schema_share must be in (0, 1 - preprocessing_share), got {schema_share!r}.")
    if not (0 <= marginals_share < 1 - preprocessing_share - schema_share):
        raise PrivacyError(
            f"marginals_share must be in [0, 1 - preprocessing_share - schema_share), got {marginals_share!r}."
        )
    if epsilon is None:
        return BudgetPlan(epsilon=None, delta=delta, schema=None, preprocessing=None, training=None, marginals=None)
    schema = epsilon * schema_share if infer_schema else 0.0
    pre = epsilon * preprocessing_share
    marg = epsilon * marginals_share
    return BudgetPlan(
        epsilon=epsilon,
        delta=delta,
        schema=schema,
        preprocessing=pre,
        marginals=marg,
        training=epsilon - schema - pre - marg,
    )
