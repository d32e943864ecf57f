"""Rich notebook display: the audit and the gate decision as one HTML fragment each.

``AuditReport._repr_html_`` and ``GateDecision._repr_html_`` call :func:`notebook_html`. The
fragment is built from the same document as the report (:func:`build_document`: the same
audience filter) and drawn with the same macros and SVG figures (``_macros.html.j2``,
:mod:`tabsynth.report._svg`), through the report's Jinja2 environment (autoescape on). It is
one ``<div>`` with CSS scoped to it, inline SVG, no script and nothing fetched.

The default audience is ``internal``: whoever runs the audit in a notebook holds the real
rows. Pass ``audience="partner"`` for the view a partner may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..audit.results import AuditReport
from ._document import Audience, build_document
from .html import _environment

__all__ = ["notebook_html"]


def notebook_html(
    audit: AuditReport | None,
    *,
    decision: Mapping[str, Any] | None = None,
    privacy: Mapping[str, Any] | None = None,
    audience: str | Audience = "internal",
) -> str:
    """The notebook fragment of an audit and, when given, a gate decision (``decision.to_dict()``).

    Args:
        audit: the audit to show; ``None`` shows the decision's rules only.
        decision: the gate decision as a mapping; ``None`` shows the audit only ("NOT GATED").
        privacy: the privacy card; defaults to the one the audit holds (``meta.privacy``).
        audience: ``"internal"`` (default) or ``"partner"``, filtered as in the report.

    Raises:
        ConfigError: an unknown audience or verdict.

    Example:
        >>> html = notebook_html(report)  # doctest: +SKIP
        >>> "<svg" in html  # doctest: +SKIP
        True
    """
    shown = audit if audit is not None else AuditReport(metrics=())
    card = privacy if privacy is not None else shown.meta.get("privacy")
    title = "tabsynth audit" if decision is None else "tabsynth release gate"
    document = build_document(shown, decision=decision, privacy=card, audience=audience, title=title)
    return _environment().get_template("notebook.html.j2").render(doc=document)
