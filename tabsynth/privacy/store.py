"""A dataset's budget across runs: one JSON ledger of every DP release made from it.

Each ``tabsynth release`` has its own (epsilon, delta), but a blocked release that is re-run, or
a second release for another partner, spends again on the same people. The store records every
release's budget *before* it reads the data (a reservation: a run that crashes still counts) and
refuses a release that would take the dataset past its lifetime epsilon. Releases compose by
basic composition (epsilons and deltas add up), which holds whatever each release did inside.

File format (JSON, written atomically, guarded by an exclusive lock while updated)::

    {"format": 1, "releases": [{"id": ..., "label": ..., "reserved_at": ..., "epsilon": ...,
      "delta": ..., "status": "reserved" | "released" | "blocked" | "failed", "epsilon_spent": ...}]}

Pure Python; depends on nothing else in tabsynth.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import BudgetExceededError, PrivacyError

__all__ = ["BudgetStore", "StoredRelease"]

STORE_FORMAT = 1
_SLACK = 1e-9
_STATUSES = ("reserved", "released", "blocked", "failed")


def _eps(epsilon: float | None) -> str:
    return "none (no DP)" if epsilon is None else f"{epsilon:g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRelease:
    """One release's budget in the store (``epsilon`` is what it was allowed to spend)."""

    id: str
    label: str
    reserved_at: str
    epsilon: float | None  # None: a release without DP (an infinite spend)
    delta: float
    status: str = "reserved"
    epsilon_spent: float | None = None


class BudgetStore:
    """The budget store at ``path`` (created on first reservation).

    Example:
        >>> store = BudgetStore("budget.json")
        >>> rid = store.reserve("partner-A", epsilon=1.0, delta=1e-6, lifetime_epsilon=3.0)  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    # ---- reading ----------------------------------------------------------------------
    def releases(self) -> tuple[StoredRelease, ...]:
        if not self.path.exists():
            return ()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != STORE_FORMAT:
                raise PrivacyError(f"{self.path} has budget-store format {data.get('format')!r}; expected 1.")
            return tuple(StoredRelease(**item) for item in data["releases"])
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise PrivacyError(
                f"{self.path} is not a tabsynth budget store ({type(exc).__name__}): restore it from a backup; "
                "never delete it to reset the budget."
            ) from None

    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) reserved so far, by basic composition (``inf`` after a non-DP release)."""
        eps = sum(math.inf if r.epsilon is None else r.epsilon for r in self.releases())
        return eps, sum(r.delta for r in self.releases())

    # ---- writing ----------------------------------------------------------------------
    def reserve(self, label: str, *, epsilon: float | None, delta: float, lifetime_epsilon: float) -> str:
        """Record a release's budget before it starts; raise :class:`BudgetExceededError` if over the lifetime.

        Returns the reservation's id, for :meth:`settle`.
        """
        if not (lifetime_epsilon > 0 and math.isfinite(lifetime_epsilon)):
            raise PrivacyError(f"lifetime_epsilon must be a positive finite number, got {lifetime_epsilon!r}.")
        with self._locked() as releases:
            spent = sum(math.inf if r.epsilon is None else r.epsilon for r in releases)
            asked = math.inf if epsilon is None else epsilon
            if spent + asked > lifetime_epsilon + _SLACK:
                history = "; ".join(
                    f"{r.reserved_at} {r.label}: epsilon={_eps(r.epsilon)} ({r.status})" for r in releases
                )
                raise BudgetExceededError(
                    f"This release asks for epsilon={_eps(epsilon)}, but the "
                    f"dataset has spent {spent:g} of its lifetime epsilon {lifetime_epsilon:g} (store {self.path}): "
                    f"{history or 'nothing yet'}. Nothing was read or spent. Lower epsilon, or raise "
                    "lifetime_epsilon if your data owner agrees."
                )
            record = StoredRelease(
                id=uuid.uuid4().hex,
                label=label,
                reserved_at=datetime.now(UTC).isoformat(timespec="seconds"),
                epsilon=epsilon,
                delta=delta,
            )
            releases.append(record)
        return record.id

    def settle(self, release_id: str, *, status: str, epsilon_spent: float | None) -> None:
        """Mark a reservation's outcome; the reserved epsilon stays counted whatever the outcome."""
        if status not in _STATUSES:
            raise PrivacyError(f"status must be one of {', '.join(_STATUSES)}, got {status!r}.")
        with self._locked() as releases:
            for i, r in enumerate(releases):
                if r.id == release_id:
                    releases[i] = StoredRelease(**{**asdict(r), "status": status, "epsilon_spent": epsilon_spent})
                    return
        raise PrivacyError(f"No reservation {release_id!r} in {self.path}.")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[StoredRelease]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                releases = list(self.releases())
                yield releases
                self._write(releases)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, releases: list[StoredRelease]) -> None:
        data: dict[str, Any] = {"format": STORE_FORMAT, "releases": [asdict(r) for r in releases]}
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def to_dict(self) -> dict[str, Any]:
        eps, delta = self.spent()
        return {
            "path": str(self.path),
            "epsilon_spent": None if math.isinf(eps) else eps,
            "delta_spent": delta,
            "composition": "basic (epsilons and deltas add up across releases)",
            "releases": [asdict(r) for r in self.releases()],
        }
