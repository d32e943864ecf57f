"""tabsynth's errors and warnings, and the CLI exit code each maps to.

Tree::

    TabsynthError                 exit 1 unless a subclass says otherwise
    ├── InputError (ValueError)   exit 2: bad file, bad option, bad value
    │   ├── DataError             a table cannot be read or is unusable
    │   ├── SchemaError           a schema is invalid or does not match the data (lists all problems)
    │   └── ConfigError           an option or config value is invalid
    ├── NotFittedError (ValueError, AttributeError)
    ├── IncompatibleModelError    exit 2: a model directory is foreign, tampered or too new
    ├── PolicyError               exit 2: a release policy is invalid
    ├── GateFailedError           exit 4: the release gate blocked the output
    └── PrivacyError (ValueError) exit 2: from tabsynth.privacy, which depends on nothing else
        └── BudgetExceededError   exit 3: a spend would go over the privacy budget

One root: :class:`TabsynthError` is defined in ``tabsynth.privacy.errors`` (the privacy layer
imports nothing from the rest of the package) and re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

from .privacy.errors import BudgetExceededError, PrivacyError, TabsynthError

__all__ = [
    "ALL_ERRORS",
    "BudgetExceededError",
    "ConfigError",
    "DataError",
    "GateFailedError",
    "IncompatibleModelError",
    "InputError",
    "NotFittedError",
    "PolicyError",
    "PrivacyError",
    "PrivacyWarning",
    "SchemaError",
    "TabsynthError",
    "exit_code_for",
]


class InputError(TabsynthError, ValueError):
    """The user's input (file, option, value) is invalid."""

    exit_code = 2


class DataError(InputError):
    """A table cannot be read, or holds nothing usable."""


class ConfigError(InputError):
    """An option or a configuration value is invalid."""


class SchemaError(InputError):
    """A schema is invalid or does not match the data; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        if len(self.errors) == 1:
            message = self.errors[0]
        else:
            message = f"{len(self.errors)} schema problems:\n" + "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(message)


class NotFittedError(TabsynthError, ValueError, AttributeError):
    """A method that needs a fitted object was called before ``fit``."""

    exit_code = 2


class IncompatibleModelError(TabsynthError):
    """A model directory is not tabsynth's, was tampered with, or is from a newer version."""

    exit_code = 2


class PolicyError(TabsynthError):
    """A release policy file is invalid."""

    exit_code = 2


class GateFailedError(TabsynthError):
    """The release gate blocked the release; nothing was written."""

    exit_code = 4


class PrivacyWarning(UserWarning):
    """Something weakens or removes the privacy guarantee (e.g. training without DP)."""


ALL_ERRORS: tuple[type[Exception], ...] = (TabsynthError,)  # kept for callers of the old two-root API


def exit_code_for(error: BaseException) -> int:
    """The CLI exit code for an error: its ``exit_code`` or 1 for anything unexpected."""
    code = getattr(error, "exit_code", 1)
    return code if isinstance(code, int) else 1
