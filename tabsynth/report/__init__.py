"""Self-contained HTML reports of an audit and a release decision (inline CSS and SVG, offline).

Example:
    >>> from tabsynth.report import write_report
    >>> write_report("reports/run.html", audit=report, audience="internal")  # doctest: +SKIP
"""

from ._document import Audience
from .html import render_report, write_report
from .notebook import notebook_html

__all__ = ["Audience", "notebook_html", "render_report", "write_report"]
