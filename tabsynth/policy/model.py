"""Release policies as code: a YAML file of rules, validated strictly.

A policy file looks like::

    name: partner
    description: Sharing with an external partner under contract.
    rules:
      - metric: privacy.epsilon
        max: 3
        rationale: Beyond epsilon 3 the guarantee says little about a single record.
      - metric: fidelity.quality
        min: 0.75
        hard: false
        rationale: Below this the partner would not get useful data.

Each rule names one metric (see :data:`METRICS`), exactly one bound (``min`` for metrics where
higher is better, ``max`` where lower is better: a rule can only ask for *safer* or *better*
data, never the opposite), whether it is ``hard`` (default) or soft, and a one-line
``rationale``. By default a rule is judged on the pessimistic end of the metric's confidence
interval (``judge_on: pessimistic``): the upper end for risks, the lower end for quality.

A threshold may also be ``baseline`` (what real rows score on the same metric in the same
audit: the rate at which unseen real people coincide with training rows, the "no leak" 0.5 of
an attack, or the real-data ceiling TRTR for TSTR) or, for the attack epsilon,
``claimed_epsilon``. The number is ``factor * baseline + margin`` (``factor`` defaults to 1), so
``min: baseline, factor: 0.9`` reads "TSTR >= 0.9 x TRTR".

Two outcomes besides pass and fail are handled per rule:

* ``on_unknown: block | warn`` (default ``block``): the metric could not be computed. ``warn``
  makes the verdict CONDITIONAL instead of UNKNOWN.
* ``on_insufficient: block | warn`` (default ``warn``): the point estimate meets the threshold
  but the pessimistic end of its interval does not. The audit had too few rows to *show* the
  rule holds; that is not evidence that it fails, so it is never reported as a failure.

Unknown keys, unknown metric names and thresholds outside a metric's range are errors, so a
typo can never weaken a policy.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..audit.catalog import CATALOG
from ..audit.results import RENAMED_METRICS, Direction
from ..exceptions import PolicyError
from ..io import read_yaml_mapping

__all__ = [
    "BASELINE",
    "BUILTIN_POLICIES",
    "CLAIMED_EPSILON",
    "METRICS",
    "MetricSpec",
    "OnMissing",
    "ReleasePolicy",
    "Rule",
    "load_policy",
]

#: The threshold keyword that stands for the epsilon the generator claims.
CLAIMED_EPSILON = "claimed_epsilon"
#: The threshold keyword that stands for the metric's own baseline (what real holdout rows get).
BASELINE = "baseline"

#: Policies shipped with tabsynth (``policies/<name>.yaml``), loadable by name.
BUILTIN_POLICIES = ("internal", "partner", "medical")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a policy may say about one metric: its direction and the range of a sensible threshold."""

    direction: Direction
    low: float
    high: float


#: Every metric a rule may name: the audit's metrics plus the ledger's spent epsilon and delta,
#: with the direction and threshold range of the metric catalog.
METRICS: dict[str, MetricSpec] = {n: MetricSpec(info.direction, info.low, info.high) for n, info in CATALOG.items()}


class JudgeOn(StrEnum):
    """Which number of a metric a rule compares with its threshold."""

    PESSIMISTIC = "pessimistic"  # the end of the interval on the unsafe side (the value if no interval)
    VALUE = "value"  # the point estimate


class OnMissing(StrEnum):
    """What an outcome other than pass or fail does to the verdict."""

    BLOCK = "block"  # a hard rule blocks (UNKNOWN); a soft one makes the verdict CONDITIONAL
    WARN = "warn"  # the verdict is at worst CONDITIONAL


class Rule(BaseModel):
    """One rule: a metric, one bound, hard or soft, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    min: float | Literal["baseline"] | None = None
    max: float | Literal["claimed_epsilon", "baseline"] | None = None
    margin: float = Field(default=0.0, description="added to a 'baseline' or 'claimed_epsilon' threshold")
    factor: float = Field(default=1.0, gt=0.0, le=10.0, description="multiplies a 'baseline' threshold")
    hard: bool = True
    judge_on: JudgeOn = JudgeOn.PESSIMISTIC
    rationale: str = Field(min_length=1)
    advice: str | None = None
    allow_not_applicable: bool = Field(
        default=False, description="pass the rule when the metric does not apply (e.g. no sensitive columns)"
    )
    on_unknown: OnMissing = Field(
        default=OnMissing.BLOCK, description="what an uncomputable metric does: block, or warn (CONDITIONAL)"
    )
    on_insufficient: OnMissing = Field(
        default=OnMissing.WARN,
        description="what 'not enough rows to decide' does (the value passes, its interval's pessimistic end does not)",
    )

    @field_validator("metric", mode="before")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        value = RENAMED_METRICS.get(value, value)
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; known metrics: {', '.join(METRICS)}")
        return value

    @model_validator(mode="after")
    def _one_bound_in_range(self) -> Rule:
        spec = METRICS[self.metric]
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of 'min' or 'max'")
        wanted = "min" if spec.direction is Direction.HIGHER_IS_BETTER else "max"
        if self.bound != wanted:
            better = "higher" if wanted == "min" else "lower"
            raise ValueError(f"{self.metric} is better when {better}, so its rule needs '{wanted}', not '{self.bound}'")
        if self.max == CLAIMED_EPSILON and self.metric != "privacy.attack_epsilon":
            raise ValueError(f"'{CLAIMED_EPSILON}' is only a threshold for privacy.attack_epsilon")
        if self.factor != 1.0 and self.threshold != BASELINE:
            raise ValueError("'factor' only applies to a 'baseline' threshold")
        if self.threshold in (CLAIMED_EPSILON, BASELINE):
            if not (math.isfinite(self.margin) and abs(self.margin) <= max(1.0, spec.high - spec.low)):
                raise ValueError(f"margin {self.margin:g} is out of range")
            return self
        if self.margin != 0.0:
            raise ValueError("'margin' only applies to a 'baseline' or 'claimed_epsilon' threshold")
        threshold = float(self.threshold)
        if not (math.isfinite(threshold) and spec.low <= threshold <= spec.high):
            raise ValueError(
                f"threshold {threshold:g} is outside the range [{spec.low:g}, {spec.high:g}] of {self.metric}"
            )
        return self

    @property
    def bound(self) -> Literal["min", "max"]:
        return "min" if self.min is not None else "max"

    @property
    def threshold(self) -> float | str:
        return self.min if self.min is not None else self.max  # type: ignore[return-value]


class ReleasePolicy(BaseModel):
    """A named set of rules; ``source`` and ``sha256`` say which file it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    version: int = 1
    release_on_conditional: bool = Field(
        default=True, description="release when only soft rules failed (the verdict stays CONDITIONAL)"
    )
    rules: tuple[Rule, ...] = Field(min_length=1)
    source: str | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)

    def to_dict(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "source": self.source, "sha256": self.sha256}


def _format_errors(error: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key (a typo must not weaken a policy; check the spelling)")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
    return lines


def _builtin_path(name: str) -> Path:
    return Path(str(resources.files("tabsynth.policy").joinpath("builtin", f"{name}.yaml")))


def load_policy(source: str | Path) -> ReleasePolicy:
    """Load a policy from a YAML file, or a built-in one by name (``internal``, ``partner``, ``medical``).

    Raises:
        PolicyError: the file is missing or is not a valid policy; the message lists every problem.
    """
    path = _builtin_path(str(source)) if str(source) in BUILTIN_POLICIES else Path(source)
    if not path.is_file():
        raise PolicyError(
            f"Policy {str(source)!r} not found: expected a YAML file or one of {', '.join(BUILTIN_POLICIES)}."
        )
    raw, text = read_yaml_mapping(path, what="Policy", expected="'name' and 'rules'", error=PolicyError)
    try:
        policy = ReleasePolicy.model_validate(raw)
    except ValidationError as exc:
        problems = _format_errors(exc, raw)
        raise PolicyError(f"Policy {path} is invalid: " + "; ".join(problems) + ".") from None
    return policy.model_copy(update={"source": str(path), "sha256": hashlib.sha256(text).hexdigest()})
