"""Errors of the privacy layer.

``tabsynth.privacy`` depends on nothing else in tabsynth, so its errors have their own
root, :class:`PrivacyError`; ``tabsynth.exceptions`` re-exports them and the CLI maps
:class:`BudgetExceededError` to exit code 3.
"""

from __future__ import annotations

__all__ = ["BudgetExceededError", "PrivacyError"]


class PrivacyError(ValueError):
    """A privacy parameter or privacy record is invalid."""

    exit_code = 2


class BudgetExceededError(PrivacyError):
    """A spend would take the ledger over its (epsilon, delta) budget; nothing was spent."""

    exit_code = 3
