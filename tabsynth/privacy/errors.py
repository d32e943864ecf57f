"""Errors of the privacy layer, and the root of every tabsynth error.

``tabsynth.privacy`` depends on nothing else in tabsynth, so the one root,
:class:`TabsynthError`, is defined here and re-exported by ``tabsynth.exceptions``:
``except TabsynthError`` catches budget refusals too. The CLI maps
:class:`BudgetExceededError` to exit code 3.
"""

from __future__ import annotations

__all__ = ["BudgetExceededError", "PrivacyError", "TabsynthError"]


class TabsynthError(Exception):
    """Root of tabsynth's own errors."""

    exit_code = 1


class PrivacyError(TabsynthError, ValueError):
    """A privacy parameter or privacy record is invalid."""

    exit_code = 2


class BudgetExceededError(PrivacyError):
    """A spend would take the ledger over its (epsilon, delta) budget; nothing was spent."""

    exit_code = 3
