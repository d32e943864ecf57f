"""Render the report: one self-contained HTML file (inline CSS and SVG, no script) and its JSON twin."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..audit.results import AuditReport
from ..exceptions import ConfigError
from ..io import write_text
from . import _svg
from ._document import Audience, build_document

__all__ = ["render_report", "write_report"]


@functools.cache
def _environment() -> Environment:
    """The Jinja2 environment; autoescaping is on for every template (created on first use)."""
    env = Environment(
        loader=PackageLoader("tabsynth.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        plot=_svg.plot,
        bar_chart=_svg.bar_chart,
        interval_chart=_svg.interval_chart,
        fmt=_svg.fmt,
        pct=_svg.pct,
    )
    return env


def _render(document: Mapping[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(doc=document)


def render_report(
    *,
    audit: AuditReport,
    decision: Mapping[str, Any] | None = None,
    privacy: Mapping[str, Any] | None = None,
    audience: str | Audience = "partner",
    title: str | None = None,
) -> str:
    """The report as one HTML string. See :func:`write_report` for the arguments.

    Example:
        >>> html = render_report(audit=report, audience="internal")  # doctest: +SKIP
    """
    return _render(build_document(audit, decision=decision, privacy=privacy, audience=audience, title=title))


def write_report(
    path: str | Path,
    *,
    audit: AuditReport,
    decision: Mapping[str, Any] | None = None,
    privacy: Mapping[str, Any] | None = None,
    audience: str | Audience = "partner",
    title: str | None = None,
) -> tuple[Path, Path]:
    """Write the HTML report and, beside it, a JSON file with the same content.

    The HTML needs nothing but a browser: CSS and plots (inline SVG) are in the file, there is
    no script, and a Content-Security-Policy forbids every request. Both files are written
    atomically.

    Args:
        path: where the HTML goes; the JSON is ``path.with_suffix(".json")``.
        audit: the audit to show; its figures were computed by the audit, the report
            computes nothing.
        decision: the release gate's decision (verdict, per-rule outcomes, policy); ``None``
            shows "NOT GATED".
        privacy: the privacy card (generator, epsilon, delta, accountant, ledger entries...);
            ``None`` says that none was supplied.
        audience: ``"partner"`` (default) shows only synthetic-side and DP-released figures
            plus the scalar metrics, the verdict and the privacy card; ``"internal"`` also
            shows real-vs-synthetic figures.
        title: the page title (default "Synthetic data report").

    Returns:
        ``(html_path, json_path)``.

    Raises:
        ConfigError: ``audience`` is not ``"internal"`` or ``"partner"``, ``decision``
            has an unknown verdict, or ``path`` ends in ``.json``.

    Example:
        >>> write_report("reports/run.html", audit=report, decision=None)  # doctest: +SKIP
        (PosixPath('reports/run.html'), PosixPath('reports/run.json'))
    """
    html_path = Path(path)
    json_path = html_path.with_suffix(".json")
    if json_path == html_path:
        raise ConfigError(f"The report path {html_path} ends in .json, where its JSON twin goes; use .html.")
    document = build_document(audit, decision=decision, privacy=privacy, audience=audience, title=title)
    html = _render(document)
    write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", json_path)
    write_text(html, html_path)
    return html_path, json_path
