"""The privacy ledger: one (epsilon, delta) budget, an append-only list of spends.

The ledger also fixes the *unit* the guarantee protects: one row (``"unit": "row"``), or one
entity with at most ``max_rows_per_entity`` rows (``"unit": "entity"``, issue 18); the
mechanisms read :attr:`PrivacyLedger.sensitivity` from it, so every histogram is calibrated to
the unit without each caller having to know.

Every statistic of private data that tabsynth releases goes through :meth:`PrivacyLedger.spend`,
which composes the would-be total first and raises :class:`BudgetExceededError` *before*
recording anything when the budget would be exceeded. The ledger travels with models and
reports as JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .accountant import RDPAccountant
from .errors import BudgetExceededError, PrivacyError
from .events import DPEvent, DPSGDEvent, event_from_dict, event_to_dict
from .randomness import NoiseSource

__all__ = ["LedgerEntry", "PrivacyLedger", "check_budget", "check_contribution_bound"]

LEDGER_FORMAT = 1
_SLACK = 1e-9  # float round-off allowed when comparing a spend with the budget


def check_budget(epsilon: float | None, delta: float) -> None:
    """Validate a user's (epsilon, delta); only ``epsilon=None`` means no DP (``inf`` is refused)."""
    if epsilon is not None:
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or math.isnan(epsilon):
            raise PrivacyError(f"epsilon must be a positive number, got {epsilon!r}. Example: epsilon=1.0.")
        if epsilon <= 0:
            raise PrivacyError(f"epsilon must be > 0, got {epsilon!r}. Use e.g. 1.0, or None to train without DP.")
        if math.isinf(epsilon):
            raise PrivacyError(
                "epsilon=inf is not accepted: an infinite budget is no privacy at all. Say so explicitly: "
                "epsilon=None in Python, --epsilon none on the command line."
            )
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not (0 < delta < 1):
        raise PrivacyError(
            f"delta must be a number in (0, 1), got {delta!r}. Use a value well below 1/n_rows, e.g. 1e-6."
        )


def check_contribution_bound(max_rows_per_entity: int | None) -> None:
    """Validate a public per-entity row bound (``None``: row-level privacy)."""
    k = max_rows_per_entity
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000):
        raise PrivacyError(
            f"max_rows_per_entity must be an integer in [1, 1000], got {k!r}. It is a public setting: "
            "pick it from what you know about the table (e.g. 10 tests per patient), not from the data."
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One spend: a human label (``"bounds:age"``, ``"training"``) and its event."""

    label: str
    event: DPEvent

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "event": event_to_dict(self.event)}


class PrivacyLedger:
    """Append-only record of DP spends against a total (epsilon, delta) budget.

    Args:
        epsilon: total epsilon budget; ``None`` or ``inf`` disables DP (nothing is checked,
            and :attr:`is_dp` is False so every report can say so).
        delta: total delta budget, fixed by the user, never derived from the data.
        noise: the secret randomness every mechanism spending from this ledger draws from
            (default: a fresh OS-keyed :class:`~tabsynth.privacy.randomness.NoiseSource`). A
            replayable test source makes :attr:`is_secure` False, and every report says NOT DP.

    Example:
        >>> ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
        >>> _ = ledger.spend("counts:income", GaussianEvent(noise_multiplier=20.0))
        >>> ledger.spent()[0] < 1.0
        True
    """

    def __init__(
        self,
        epsilon: float | None,
        delta: float,
        *,
        noise: NoiseSource | None = None,
        max_rows_per_entity: int | None = None,
    ) -> None:
        check_budget(epsilon, delta)
        check_contribution_bound(max_rows_per_entity)
        self.epsilon = math.inf if epsilon is None else float(epsilon)
        self.delta = float(delta)
        self.max_rows_per_entity = max_rows_per_entity
        self.noise = NoiseSource.fresh() if noise is None else noise
        self._secure = self.noise.is_secure
        self._entries: list[LedgerEntry] = []
        self._accountant = RDPAccountant()
        #: The planned split of the budget between stages (public settings only), if one was made.
        self.plan: dict[str, float | None] | None = None

    @property
    def is_dp(self) -> bool:
        """Whether spends are accounted (a finite budget); see :attr:`guarantees_dp` for the claim."""
        return math.isfinite(self.epsilon)

    @property
    def unit(self) -> str:
        """The protected unit: ``"entity"`` when each entity's rows are bounded, else ``"row"``."""
        return "row" if self.max_rows_per_entity is None else "entity"

    @property
    def sensitivity(self) -> int:
        """L2 sensitivity of a histogram of rows (each row in one cell) under this ledger's unit.

        One entity holds at most ``max_rows_per_entity`` rows, and all of them may fall in the
        same cell, so adding or removing it moves one cell by up to ``k``: the L2 norm of the
        change is at most ``k`` (not ``sqrt(k)``). Under row-level neighbouring it is 1.
        """
        return 1 if self.max_rows_per_entity is None else self.max_rows_per_entity

    def tighten_contribution_bound(self, max_rows_per_entity: int) -> None:
        """Lower the per-entity row bound (entity-level ledgers only; never raise it).

        Safe at any time: every event already spent was noised for the larger bound, so it stays
        valid for entities of at most the new bound. Used when the bound is chosen from a DP
        histogram of rows per entity (``max_rows_per_entity="auto"``).
        """
        check_contribution_bound(max_rows_per_entity)
        if self.max_rows_per_entity is None or max_rows_per_entity > self.max_rows_per_entity:
            raise PrivacyError(
                f"A contribution bound can only be lowered: the ledger's is {self.max_rows_per_entity!r}, "
                f"got {max_rows_per_entity!r}."
            )
        self.max_rows_per_entity = max_rows_per_entity

    @property
    def is_secure(self) -> bool:
        """Whether every DP draw came from secret randomness (False in the deterministic test mode)."""
        return self._secure

    @property
    def guarantees_dp(self) -> bool:
        """The (epsilon, delta) claim holds: a finite budget *and* secret noise."""
        return self.is_dp and self._secure

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(self._entries)

    def fork(self, epsilon: float) -> PrivacyLedger:
        """A ledger with the same spends and another budget: one branch of a parallel composition.

        The caller records the branches' new events in this ledger as one
        :class:`~tabsynth.privacy.events.ParallelEvent`.
        """
        child = PrivacyLedger(epsilon, self.delta, noise=self.noise, max_rows_per_entity=self.max_rows_per_entity)
        child._secure = self._secure
        child.plan = self.plan
        for entry in self._entries:
            child._entries.append(entry)
            child._accountant.compose(entry.event)
        return child

    def epsilon_if(self, *events: DPEvent) -> float:
        """Total epsilon (at the budget's delta) if ``events`` were spent as well."""
        trial = self._accountant.copy()
        for event in events:
            trial.compose(event)
        return trial.get_epsilon(self.delta)

    def can_spend(self, *events: DPEvent) -> bool:
        return (not self.is_dp) or self.epsilon_if(*events) <= self.epsilon + _SLACK

    def spend(self, label: str, event: DPEvent) -> LedgerEntry:
        """Record ``event`` under ``label``; raise before recording if it would go over budget."""
        if self.is_dp and not self.can_spend(event):
            would = self.epsilon_if(event)
            raise BudgetExceededError(
                f"Spending {label!r} would bring epsilon to {would:.4g}, over the budget of "
                f"{self.epsilon:.4g} (already spent {self.spent()[0]:.4g}). Nothing was spent: "
                "raise epsilon, declare more of the schema as public, or train for fewer steps."
            )
        entry = LedgerEntry(label, event)
        self._entries.append(entry)
        self._accountant.compose(event)
        return entry

    def spend_steps(self, label: str, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Spend DP-SGD steps, merging with the last entry when it is the same segment.

        Merging is exact: k steps of one subsampled Gaussian compose to the same RDP curve
        whether recorded as one event or k.
        """
        step = DPSGDEvent(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
        last = self._entries[-1] if self._entries else None
        self.spend(label, step)
        if (
            last is not None
            and last.label == label
            and isinstance(last.event, DPSGDEvent)
            and (last.event.noise_multiplier, last.event.sample_rate) == (noise_multiplier, sample_rate)
        ):
            merged = DPSGDEvent(
                noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=last.event.steps + steps
            )
            self._entries[-2:] = [LedgerEntry(label, merged)]

    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) spent so far; delta is the budget's delta once anything was spent."""
        if not self._entries:
            return 0.0, 0.0
        return self._accountant.get_epsilon(self.delta), self.delta

    def remaining(self) -> float:
        """Epsilon left at the budget's delta (``inf`` without DP)."""
        return max(0.0, self.epsilon - self.spent()[0]) if self.is_dp else math.inf

    # ---- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        eps, _ = self.spent()
        return {
            "format": LEDGER_FORMAT,
            "accountant": "rdp",
            "neighboring": "add_or_remove_one",
            "unit": self.unit,
            "max_rows_per_entity": self.max_rows_per_entity,
            "budget": {"epsilon": self.epsilon if self.is_dp else None, "delta": self.delta},
            "epsilon": eps if self.is_dp else None,
            "delta": self.delta,
            "is_dp": self.guarantees_dp,
            "secure_randomness": self._secure,
            "entries": [e.to_dict() for e in self._entries],
            **({"plan": dict(self.plan)} if self.plan is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacyLedger:
        """Rebuild a ledger; the spent epsilon is recomputed, never trusted from the file."""
        try:
            budget = data["budget"]
            ledger = cls(
                epsilon=budget["epsilon"],
                delta=budget["delta"],
                max_rows_per_entity=data.get("max_rows_per_entity"),  # absent in ledgers before issue 18: rows
            )
            entries = data["entries"]
            # Ledgers written before secret randomness existed drew their noise from a stored seed.
            ledger._secure = bool(data.get("secure_randomness", False))
        except (KeyError, TypeError) as exc:
            raise PrivacyError(f"Not a tabsynth privacy ledger: missing {exc}.") from None
        if data.get("format", 0) > LEDGER_FORMAT:
            raise PrivacyError(f"Ledger format {data['format']} is newer than this tabsynth understands.")
        plan = data.get("plan")
        ledger.plan = {str(k): (None if v is None else float(v)) for k, v in plan.items()} if plan else None
        for item in entries:
            event = event_from_dict(item["event"])
            ledger._entries.append(LedgerEntry(str(item["label"]), event))
            ledger._accountant.compose(event)
        return ledger

    @classmethod
    def from_json(cls, text: str) -> PrivacyLedger:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PrivacyError(f"Ledger is not valid JSON: {exc}.") from None
        return cls.from_dict(data)

    def __repr__(self) -> str:
        eps, _ = self.spent()
        return (
            f"PrivacyLedger(spent={eps:.4g}, epsilon={self.epsilon}, delta={self.delta}, unit={self.unit!r}, "
            f"entries={len(self._entries)})"
        )
