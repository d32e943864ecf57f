"""Audit results: one :class:`MetricResult` per metric, collected in an :class:`AuditReport`.

Results are plain, frozen data. They serialise to the JSON contract of ``tabsynth audit``::

    {"metrics": [{"name": ..., "value": ..., "ci": [lo, hi] | null, "baseline": ...,
                  "direction": ..., "status": "ok" | "unknown", "details": {...}}, ...],
     "meta": {...}, "notes": [...], "figures": {...}}

``figures`` holds the aggregate plot data of the HTML report (see
:mod:`tabsynth.audit.figures`); JSON written before it existed still loads (empty figures).

A metric that could not be computed is kept, with ``status="unknown"``, ``value=None`` and the
reason in ``details["reason"]``: nothing is silently dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from ..exceptions import DataError

__all__ = ["INTERNAL_NOTE", "RENAMED_METRICS", "AuditReport", "Direction", "MetricResult", "MetricStatus"]

#: The top-level ``note`` of every audit JSON: it is an internal document.
INTERNAL_NOTE = (
    "INTERNAL: this audit holds exact statistics of the real training and holdout rows (row counts, seed, real-model "
    "scores, per-group values). Do not share it; give a partner the partner report (tabsynth audit --report R.html "
    "--audience partner), which shows only DP estimates, synthetic-side figures and pass/fail per rule."
)

#: Old metric names still read from audit JSON and policies (old name -> current name).
#: ``privacy.empirical_epsilon_lower`` claimed to be a lower bound; it is a one-run heuristic.
RENAMED_METRICS = {"privacy.empirical_epsilon_lower": "privacy.attack_epsilon"}


class Direction(StrEnum):
    """Which way a metric improves."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class MetricStatus(StrEnum):
    """Whether a metric was computed."""

    OK = "ok"
    UNKNOWN = "unknown"


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and non-finite floats into plain JSON values.

    NaN and infinities become ``None`` (JSON has no NaN); mapping keys become strings.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, StrEnum):
        return value.value
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _finite_or_none(value: Any, what: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return number


def _check_ci(ci: Any, name: str) -> tuple[float, float] | None:
    if ci is None:
        return None
    if not (isinstance(ci, (tuple, list)) and len(ci) == 2):
        raise DataError(f"Metric {name!r}: ci must be a pair [lower, upper] or null, got {ci!r}.")
    lo, hi = (float(c) for c in ci)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if lo > hi + 1e-12:
        raise DataError(f"Metric {name!r}: ci lower bound {lo} is above its upper bound {hi}.")
    return (lo, hi)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricResult:
    """One audit metric with its uncertainty and reference level.

    Args:
        name: dotted metric name, e.g. ``"privacy.dcr_share"``.
        value: the measured value; ``None`` when ``status`` is unknown.
        direction: which way the metric improves (a :class:`Direction` or its string value).
        ci: two-sided confidence interval ``(lower, upper)`` at the audit's confidence level,
            or ``None`` where no interval exists.
        baseline: what a real holdout gets on the same metric: the ceiling for fidelity
            metrics, the "no leak" level for privacy metrics.
        status: :class:`MetricStatus`; ``unknown`` when the metric could not be computed.
        details: JSON-serialisable extra information (per-column scores, per-group
            breakdowns, sample sizes, the reason of an unknown status).

    Example:
        >>> m = MetricResult(name="privacy.dcr_share", value=0.51, direction="lower_is_better",
        ...                  ci=(0.49, 0.53), baseline=0.5)
        >>> m.to_dict()["status"]
        'ok'
    """

    name: str
    value: float | None
    direction: Direction
    ci: tuple[float, float] | None = None
    baseline: float | None = None
    status: MetricStatus = MetricStatus.OK
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DataError(f"A metric name must be a non-empty string, got {self.name!r}.")
        try:
            object.__setattr__(self, "direction", Direction(self.direction))
            object.__setattr__(self, "status", MetricStatus(self.status))
        except ValueError as exc:
            raise DataError(f"Metric {self.name!r}: {exc}.") from None
        object.__setattr__(self, "value", _finite_or_none(self.value, "value"))
        object.__setattr__(self, "baseline", _finite_or_none(self.baseline, "baseline"))
        object.__setattr__(self, "ci", _check_ci(self.ci, self.name))
        object.__setattr__(self, "details", to_jsonable(dict(self.details)))
        if self.status is MetricStatus.OK and self.value is None:
            raise DataError(f"Metric {self.name!r} has status ok but no finite value; use MetricResult.unknown().")
        if self.status is MetricStatus.UNKNOWN and not self.details.get("reason"):
            raise DataError(f"Metric {self.name!r} is unknown but details has no 'reason'.")

    @classmethod
    def unknown(
        cls,
        name: str,
        direction: Direction | str,
        reason: str,
        *,
        baseline: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> MetricResult:
        """A metric that could not be computed, with the reason why.

        Example:
            >>> MetricResult.unknown("fidelity.tstr_auc", "higher_is_better", "one class only").status
            <MetricStatus.UNKNOWN: 'unknown'>
        """
        return cls(
            name=name,
            value=None,
            direction=Direction(direction),
            baseline=baseline,
            status=MetricStatus.UNKNOWN,
            details={**(details or {}), "reason": reason},
        )

    @property
    def is_ok(self) -> bool:
        """Whether the metric was computed."""
        return self.status is MetricStatus.OK

    @property
    def reason(self) -> str | None:
        """Why the metric is unknown (``None`` when it was computed)."""
        reason = self.details.get("reason")
        return None if reason is None else str(reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (keys: name, value, ci, baseline, direction, status, details)."""
        return {
            "name": self.name,
            "value": self.value,
            "ci": None if self.ci is None else [self.ci[0], self.ci[1]],
            "baseline": self.baseline,
            "direction": self.direction.value,
            "status": self.status.value,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        """Rebuild a result from :meth:`to_dict` output.

        Raises:
            DataError: a required key is missing or a value is invalid.
        """
        if not isinstance(data, Mapping):
            raise DataError(f"A metric must be a JSON object, got {type(data).__name__}.")
        missing = [k for k in ("name", "value", "direction", "status") if k not in data]
        if missing:
            raise DataError(f"Metric {data.get('name', '?')!r} is missing keys {missing}.")
        ci = data.get("ci")
        name = data["name"] if not isinstance(data["name"], str) else RENAMED_METRICS.get(data["name"], data["name"])
        return cls(
            name=name,
            value=data["value"],
            direction=data["direction"],
            ci=None if ci is None else (ci[0], ci[1]),
            baseline=data.get("baseline"),
            status=data["status"],
            details=data.get("details") or {},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    """Every metric of one audit, plus what was audited.

    Args:
        metrics: the results, in a fixed order; names are unique.
        meta: sizes, versions, seeds and timings of the run (JSON-serialisable).
        notes: human-readable warnings raised by the audit (e.g. an empirical epsilon above
            the claimed one).
        figures: aggregate plot data for the report, figure id to a JSON-serialisable
            figure with ``type``, ``side`` and ``title`` (:func:`tabsynth.audit.figures.figure_data`).

    Example:
        >>> r = AuditReport(metrics=(MetricResult(name="a", value=1.0, direction="higher_is_better"),))
        >>> r["a"].value
        1.0
    """

    metrics: tuple[MetricResult, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "figures", to_jsonable(dict(self.figures)))
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))
        object.__setattr__(self, "meta", to_jsonable(dict(self.meta)))
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DataError(f"Duplicate metric names in an audit report: {dupes}.")

    @property
    def names(self) -> tuple[str, ...]:
        """The metric names, in report order."""
        return tuple(m.name for m in self.metrics)

    def __getitem__(self, name: str) -> MetricResult:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"No metric {name!r} in the report; metrics are {list(self.names)}.")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def _repr_html_(self) -> str:
        """The notebook display: metrics, constraints and the report's figures (internal view, escaped)."""
        from ..report.notebook import notebook_html  # the report formats results; loaded only when shown

        return notebook_html(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"note": ..., "metrics": [...], "meta": {...}, "notes": [...], "figures": {...}}``.

        ``note`` is :data:`INTERNAL_NOTE`: the audit JSON is internal, never for a partner.
        """
        return {
            "note": INTERNAL_NOTE,
            "metrics": [m.to_dict() for m in self.metrics],
            "meta": dict(self.meta),
            "notes": list(self.notes),
            "figures": dict(self.figures),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to strict JSON (no NaN)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditReport:
        """Rebuild a report from :meth:`to_dict` output.

        Raises:
            DataError: the data is not an audit report.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("metrics"), Sequence):
            raise DataError("Not an audit report: expected a JSON object with a 'metrics' list.")
        return cls(
            metrics=tuple(MetricResult.from_dict(m) for m in data["metrics"]),
            meta=data.get("meta") or {},
            notes=tuple(data.get("notes") or ()),
            figures=data.get("figures") or {},
        )

    @classmethod
    def from_json(cls, text: str) -> AuditReport:
        """Parse :meth:`to_json` output.

        Raises:
            DataError: the text is not valid JSON or not an audit report.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"Not an audit report: invalid JSON ({exc.msg} at line {exc.lineno}).") from None
        return cls.from_dict(data)
