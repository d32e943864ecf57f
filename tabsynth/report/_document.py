"""The report's content as plain data: what the HTML shows and the JSON beside it holds.

Nothing here computes a statistic: it selects, renames and filters what the audit, the gate
decision and the privacy card already hold. The audience filter happens here, once, so the
HTML and the JSON can never disagree about what a partner sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .._version import __version__
from ..audit.catalog import CATALOG
from ..audit.disclosure import fairness_groups, public_group_labels
from ..audit.figures import OTHER_LABEL, Side
from ..audit.results import AuditReport, MetricResult, to_jsonable
from ..exceptions import ConfigError
from ..policy.gate import OUTCOME_ORDER, rule_lines

__all__ = ["Audience", "VERDICTS", "build_document", "check_audience"]

FORMAT = "tabsynth-report/1"
NOT_GATED = "NOT GATED"
VERDICTS = ("PASS", "CONDITIONAL", "FAIL", "UNKNOWN")
_DEFAULT_MIN_COUNT = 10

#: Plain-language names of the metrics (the dotted name is shown too), from the metric catalog.
METRIC_LABELS = {name: info.label for name, info in CATALOG.items()}

_PRIVACY_KEYS = (
    "generator",
    "epsilon",
    "delta",
    "is_dp",
    "accountant",
    "neighboring",
    "unit",  # issue 18: "row" or "entity"
    "max_rows_per_entity",
    "noise_multiplier",
    "max_grad_norm",
    "sampling",
    "sample_rate",
    "epochs",
    "steps",
    "dp_row_count",
)

#: Metrics a partner never sees, not even by name: the real-data model's own score.
_REAL_ONLY = ("fidelity.trtr_auc",)
#: Metrics whose value rests on the synthetic table and public declarations alone: a partner sees the value.
_SYNTHETIC_SIDE = frozenset(name for name, info in CATALOG.items() if info.synthetic_side)
#: What a partner sees of a constraint check: the declaration and the synthetic rows, never the holdout's.
_PARTNER_CONSTRAINT_KEYS = ("constraint", "type", "columns", "synthetic_violations", "synthetic_rate")
#: What a partner sees of a rule: which metric, which bound, the outcome, and why the rule exists.
_PARTNER_RULE_KEYS = ("metric", "label", "bound", "threshold_spec", "factor", "margin", "hard", "outcome", "rationale")


def _partner_threshold(rule: Mapping[str, Any], metric: str | None = None) -> dict[str, Any]:
    """A rule without the numbers measured on real data: a baseline threshold keeps its form, not its value.

    A synthetic-side metric (see :data:`_SYNTHETIC_SIDE`) keeps its value: it holds no real row.
    """
    out = {k: rule.get(k) for k in _PARTNER_RULE_KEYS if k in rule}
    spec = rule.get("threshold_spec")
    out["threshold"] = None if isinstance(spec, str) else rule.get("threshold")
    out.update(value=None, ci=None, judged_value=None, judged_on=None, reason=None, advice=None)
    if (metric or rule.get("metric")) in _SYNTHETIC_SIDE and not isinstance(spec, str):
        out.update(value=rule.get("value"), judged_value=rule.get("judged_value"), judged_on=rule.get("judged_on"))
    return out


def _partner_metric(row: Mapping[str, Any]) -> dict[str, Any]:
    if row["name"] in _SYNTHETIC_SIDE:
        return {**row, "baseline": None, "reason": None}
    return {**row, "value": None, "ci": None, "baseline": None, "reason": None, "withheld": True}


def _partner_constraints(block: Mapping[str, Any]) -> dict[str, Any]:
    rows = [{k: r.get(k) for k in _PARTNER_CONSTRAINT_KEYS} for r in block.get("rows") or ()]
    return {**block, "rows": rows, "holdout_rows_violating": None, "n_holdout": None, "reason": None}


def _partner_safe(doc: dict[str, Any]) -> dict[str, Any]:
    """The partner's view: DP estimates, synthetic-side figures and pass/fail per rule, nothing else.

    No seed, no exact row counts (the DP row count of the privacy card instead), no score of
    a model trained on real rows (TRTR), no value, interval or judged value of a metric measured
    against real rows, no notes or reasons (they quote real counts). Thresholds that are a
    baseline show their form ("0.9 x baseline"), not the real number behind it.
    """
    verdict = dict(doc["verdict"])
    verdict["rules"] = [_partner_threshold(r) for r in verdict["rules"] if r.get("metric") not in _REAL_ONLY]
    verdict["lines"] = [
        {
            **_partner_threshold(line),
            "thresholds": [_partner_threshold(t, line.get("metric")) for t in line.get("thresholds") or ()],
        }
        for line in verdict["lines"]
        if line.get("metric") not in _REAL_ONLY
    ]
    metrics = {
        section: [_partner_metric(row) for row in rows if row["name"] not in _REAL_ONLY]
        for section, rows in doc["metrics"].items()
    }
    card = doc["privacy"]
    return {
        **doc,
        "verdict": verdict,
        "metrics": metrics,
        "charts": {"utility": [], "risks": []},
        "fairness": {**doc["fairness"], "downstream": [], "groups": []},
        "constraints": _partner_constraints(doc["constraints"]),
        "notes": [],
        "exposure": None,
        "audit": {
            "n_rows": None,
            "dp_row_count": card.get("dp_row_count"),
            "n_columns": doc["audit"]["n_columns"],
            "target": doc["audit"]["target"],
            "sensitive": doc["audit"]["sensitive"],
            "confidence_level": doc["audit"]["confidence_level"],
            "random_state": None,
            "tabsynth_version": doc["audit"]["tabsynth_version"],
        },
    }


class Audience(StrEnum):
    """Who reads the report: ``internal`` sees real-vs-synthetic figures, ``partner`` does not."""

    INTERNAL = "internal"
    PARTNER = "partner"

    @property
    def sides(self) -> tuple[str, ...]:
        """The figure sides this audience may see."""
        if self is Audience.INTERNAL:
            return Side.ALL
        return (Side.SYNTHETIC_ONLY, Side.DP_RELEASED)


def check_audience(audience: str | Audience) -> Audience:
    """Convert a string to :class:`Audience`, raising :class:`ConfigError` on anything else."""
    try:
        return Audience(audience)
    except ValueError:
        choices = ", ".join(repr(a.value) for a in Audience)
        raise ConfigError(f"audience must be one of {choices}, got {audience!r}.") from None


def _as_mapping(value: Any, what: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) and callable(getattr(value, "to_dict", None)):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping (or have to_dict()), got {type(value).__name__}.")
    return value


# ---- verdict ---------------------------------------------------------------------------------
def _rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    outcome = str(rule.get("outcome", "unknown")).lower()
    return {
        "metric": str(rule.get("metric", "?")),
        "label": METRIC_LABELS.get(str(rule.get("metric")), ""),
        "bound": rule.get("bound"),
        "threshold": rule.get("threshold"),
        "hard": bool(rule.get("hard", True)),
        "judged_on": rule.get("judged_on"),
        "value": rule.get("value"),
        "ci": rule.get("ci"),
        "judged_value": rule.get("judged_value"),
        "outcome": outcome,
        "rationale": rule.get("rationale"),
        "advice": rule.get("advice") if outcome != "pass" else None,
    }


def _verdict(decision: Mapping[str, Any] | None) -> dict[str, Any]:
    if decision is None:
        return {"status": NOT_GATED, "released": None, "blocked": False, "policy": None, "rules": [], "lines": []}
    status = str(decision.get("verdict", "UNKNOWN")).upper()
    if status not in VERDICTS:
        raise ConfigError(f"decision['verdict'] must be one of {list(VERDICTS)}, got {decision.get('verdict')!r}.")
    released = decision.get("released")
    policy = _as_mapping(decision.get("policy"), "decision['policy']")
    return {
        "status": status,
        "released": None if released is None else bool(released),
        "blocked": released is False,
        "policy": None if policy is None else dict(policy),
        "rules": sorted(
            (_rule(r) for r in decision.get("rules") or ()),
            key=lambda r: (OUTCOME_ORDER.get(r["outcome"], 9), not r["hard"]),
        ),
        "lines": [_line(line) for line in (decision.get("lines") or rule_lines(list(decision.get("rules") or ())))],
    }


def _line(line: Mapping[str, Any]) -> dict[str, Any]:
    """One metric's rules on one row (hard and soft thresholds together), as :func:`rule_lines` builds it."""
    return {**dict(line), "label": METRIC_LABELS.get(str(line.get("metric")), "")}


# ---- privacy card ----------------------------------------------------------------------------
def _privacy_card(privacy: Mapping[str, Any] | None, meta: Mapping[str, Any]) -> dict[str, Any]:
    if privacy is None:
        return {"supplied": False, "epsilon_claimed": meta.get("epsilon_claimed"), "entries": []}
    card: dict[str, Any] = {"supplied": True}
    card.update({k: privacy[k] for k in _PRIVACY_KEYS if k in privacy})
    if "is_dp" not in card and "epsilon" in card:
        card["is_dp"] = card["epsilon"] is not None
    entries = []
    for entry in privacy.get("entries") or ():
        event = entry.get("event") or {}
        entries.append(
            {
                "label": str(entry.get("label", "")),
                "epsilon": entry.get("epsilon"),
                "event": {str(k): v for k, v in event.items()} if isinstance(event, Mapping) else {"event": event},
            }
        )
    card["entries"] = entries
    return card


# ---- metrics ---------------------------------------------------------------------------------
def _metric_row(metric: MetricResult) -> dict[str, Any]:
    return {
        "name": metric.name,
        "label": METRIC_LABELS.get(metric.name, ""),
        "value": metric.value,
        "ci": None if metric.ci is None else list(metric.ci),
        "baseline": metric.baseline,
        "direction": metric.direction.value,
        "status": metric.status.value,
        "reason": metric.reason,
    }


def _metric_sections(audit: AuditReport) -> dict[str, list[dict[str, Any]]]:
    sections: dict[str, list[dict[str, Any]]] = {
        "fidelity": [],
        "privacy": [],
        "fairness": [],
        "constraints": [],
        "other": [],
    }
    for metric in audit.metrics:
        prefix = metric.name.split(".", 1)[0]
        sections[prefix if prefix in sections else "other"].append(_metric_row(metric))
    return sections


# ---- declared constraints ----------------------------------------------------------------------
def _constraints(audit: AuditReport) -> dict[str, Any]:
    """The per-constraint table: whether any constraint is declared, and each one's violations."""
    name = "constraints.violation_rate"
    metric = audit[name] if name in audit else None
    declared = list(audit.meta.get("constraints") or ())
    out: dict[str, Any] = {
        "present": metric is not None,
        "declared": bool(declared) or (metric is not None and metric.is_ok),
        "status": None if metric is None else metric.status.value,
        "value": None if metric is None else metric.value,
        "rows": [],
        "synthetic_rows_violating": None,
        "holdout_rows_violating": None,
        "n_synthetic": None,
        "n_holdout": None,
        "reason": None,
    }
    if metric is None:
        return out
    if not metric.is_ok:
        out["reason"] = None if metric.details.get("not_applicable") else metric.reason
        return out
    details = metric.details
    out["rows"] = [dict(r) for r in details.get("constraints") or ()]
    for key in ("synthetic_rows_violating", "holdout_rows_violating", "n_synthetic", "n_holdout"):
        out[key] = details.get(key)
    return out


# ---- fairness --------------------------------------------------------------------------------
def _downstream(audit: AuditReport) -> list[dict[str, Any]]:
    rows = []
    for name in ("fairness.downstream_dp_gap", "fairness.downstream_eo_gap"):
        if name not in audit or not audit[name].is_ok:
            continue
        for attribute, entry in (audit[name].details.get("attributes") or {}).items():
            rows.append(
                {
                    "metric": name,
                    "attribute": str(attribute),
                    "real_model": entry.get("real_model"),
                    "synthetic_model": entry.get("synthetic_model"),
                    "gap": entry.get("gap"),
                }
            )
    return rows


def _fairness(audit: AuditReport, audience: Audience, min_count: int) -> dict[str, Any]:
    present = any(m.name.startswith("fairness.") for m in audit.metrics)
    out: dict[str, Any] = {"present": present, "downstream": _downstream(audit), "groups": []}
    if present and audience is Audience.INTERNAL:
        n_train = (audit.meta.get("n_rows") or {}).get("train")
        out["groups"], extra = fairness_groups(audit, n_train, min_count)
        if extra:
            out.update(extra)
    return out


# ---- chart rows of scalar metrics (both audiences) ---------------------------------------------
def _charts(audit: AuditReport) -> dict[str, list[dict[str, Any]]]:
    utility = [
        {"label": label, "value": audit[name].value, "ci": audit[name].ci}
        for name, label in (("fidelity.tstr_auc", "TSTR (train synthetic)"), ("fidelity.trtr_auc", "TRTR (train real)"))
        if name in audit and audit[name].is_ok
    ]
    risks = [
        {"label": m.name.split(".", 1)[1], "value": m.value, "ci": m.ci, "reference": m.baseline}
        for m in audit.metrics
        if m.name.startswith("privacy.") and m.is_ok and m.ci is not None
    ]
    return {"utility": utility, "risks": risks}


# ---- membership exposure (internal only) ---------------------------------------------------------
def _exposure(audit: AuditReport, audience: Audience) -> dict[str, Any] | None:
    """TPR at low FPRs of each attack, and what kind of members are most exposed (groups, never rows)."""
    if audience is not Audience.INTERNAL or "privacy.mia_auc" not in audit or not audit["privacy.mia_auc"].is_ok:
        return None
    details = audit["privacy.mia_auc"].details
    attacks = {
        str(name): {k: v for k, v in entry.items() if k.startswith("tpr_at_fpr_0")}
        for name, entry in (details.get("attacks") or {}).items()
    }
    most = details.get("most_exposed") or {}
    public = public_group_labels([str(g.get("group")) for g in most.get("over_represented_groups") or ()])
    groups = [
        {**g, "group": public.get(str(g.get("group")), g.get("group"))}
        for g in most.get("over_represented_groups") or ()
    ]
    return {"attacks": attacks, "most_exposed": {**most, "over_represented_groups": groups} if most else None}


# ---- figures ---------------------------------------------------------------------------------
def _figures(audit: AuditReport, audience: Audience) -> dict[str, Any]:
    """The figures this audience may see; a synthetic-only view is dropped where its real-vs-synthetic twin is shown."""
    allowed = {
        str(fid): dict(fig)
        for fid, fig in audit.figures.items()
        if isinstance(fig, Mapping) and fig.get("side") in audience.sides
    }
    twins = {f"synthetic_{fid}" for fid in allowed if fid.startswith("distribution.")}
    if "association.difference" in allowed:
        twins.add("association.synthetic")
    return {fid: fig for fid, fig in allowed.items() if fid not in twins}


def _min_count(audit: AuditReport) -> int:
    counts = [f.get("min_count") for f in audit.figures.values() if isinstance(f, Mapping)]
    found = [int(c) for c in counts if isinstance(c, (int, float)) and math.isfinite(c)]
    return max(found) if found else _DEFAULT_MIN_COUNT


def build_document(
    audit: AuditReport,
    *,
    decision: Mapping[str, Any] | None,
    privacy: Mapping[str, Any] | None,
    audience: str | Audience,
    title: str | None,
) -> dict[str, Any]:
    """Everything the report shows, as strict-JSON-ready data (see :func:`tabsynth.report.write_report`)."""
    if not isinstance(audit, AuditReport):
        raise ConfigError(f"audit must be an AuditReport, got {type(audit).__name__}.")
    who = check_audience(audience)
    decision = _as_mapping(decision, "decision")
    privacy = _as_mapping(privacy, "privacy")
    min_count = _min_count(audit)
    meta = audit.meta
    sensitive: Sequence[str] = meta.get("sensitive") or ()
    doc = {
        "format": FORMAT,
        "title": title or "Synthetic data report",
        "audience": who.value,
        "tabsynth_version": __version__,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdict": _verdict(decision),
        "privacy": _privacy_card(privacy, meta),
        "metrics": _metric_sections(audit),
        "figures": _figures(audit, who),
        "charts": _charts(audit),
        "fairness": _fairness(audit, who, min_count),
        "constraints": _constraints(audit),
        "exposure": _exposure(audit, who),
        "notes": list(audit.notes),
        "audit": {
            "n_rows": meta.get("n_rows"),
            "n_columns": len(meta.get("columns") or {}),
            "target": meta.get("target"),
            "sensitive": list(sensitive),
            "confidence_level": meta.get("confidence_level"),
            "random_state": meta.get("random_state"),
            "tabsynth_version": meta.get("tabsynth_version"),
        },
        "min_count": min_count,
        "other_label": OTHER_LABEL,
    }
    if who is Audience.PARTNER:
        doc = _partner_safe(doc)
    result: dict[str, Any] = to_jsonable(doc)
    return result
