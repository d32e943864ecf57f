"""The privacy card: the guarantee of one fitted generator, frozen and typed.

Built once from the ledger and the training plan (:meth:`tabsynth.Synthesizer.privacy_card`)
and passed as this type to the audit, the gate, the report and the manifests; each of them
serialises it with :meth:`PrivacyCard.to_dict` at its own boundary (JSON files), and
:meth:`PrivacyCard.from_dict` reads it back (a saved model folder, ``audit.json``).

It is read-only :class:`~collections.abc.Mapping` as well (``card["epsilon"]``), the shape the
JSON files have always had, so code that reads a card from a file and code that holds one in
memory read it the same way.

Pure Python; depends on nothing else in tabsynth.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClassTraining", "PrivacyCard", "TrainingSummary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSummary:
    """The DP-SGD run as the accountant saw it (one model; the joint run of a stratified one)."""

    noise_multiplier: float | None
    sample_rate: float | None
    steps: int | None
    stopped_early: bool = False
    epochs: int | None = None
    batch_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "steps": self.steps,
            "stopped_early": self.stopped_early,
        }
        if self.epochs is not None or self.batch_size is not None:
            out.update(epochs=self.epochs, batch_size=self.batch_size)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassTraining:
    """One target class's DP-SGD run in a stratified (per-class) model."""

    label: str
    noise_multiplier: float | None
    sample_rate: float | None
    steps: int | None
    batch_size: int | None = None
    epochs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "class": self.label,
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "steps": self.steps,
        }
        if self.batch_size is not None or self.epochs is not None:
            out.update(batch_size=self.batch_size, epochs=self.epochs)
        return out


@dataclass(frozen=True, kw_only=True)
class PrivacyCard(Mapping[str, Any]):
    """Everything a reader needs to judge the guarantee of one fitted generator.

    Attributes:
        generator: the registered model name (``"dp-tvae"``, ...).
        unit: what one neighbouring change adds or removes: ``"row"``, or ``"entity"`` (every
            row of one entity, at most ``max_rows_per_entity`` of them).
        epsilon, delta: the total guarantee (None, None without DP).
        is_dp: False for fits without DP and for the deterministic test mode.
        secure_randomness: every DP draw came from the ledger's secret noise source.
        accountant, neighboring: how the ledger composed and what a neighbour is.
        max_grad_norm: DP-SGD's clipping norm; ``sampling`` its batch sampling.
        stratified_by_target: one generator per target class.
        dp_row_count: the DP row count already paid for (None without DP): the table size a
            partner may be told.
        entries: the ledger's entries, each with the epsilon it would cost on its own.
        training: the DP-SGD run; ``per_class_training`` the runs of a stratified model.
    """

    generator: str
    epsilon: float | None
    delta: float | None
    is_dp: bool
    secure_randomness: bool
    accountant: str
    neighboring: str
    max_grad_norm: float | None = None
    unit: str = "row"
    max_rows_per_entity: int | None = None
    sampling: str = "poisson"
    stratified_by_target: bool = False
    dp_row_count: int | None = None
    entries: tuple[Mapping[str, Any], ...] = ()
    training: TrainingSummary | None = None
    per_class_training: tuple[ClassTraining, ...] = ()

    # ---- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready plain data (a fresh copy; the layout of the JSON files)."""
        return self._to_flat()

    def _to_flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "generator": self.generator,
            "unit": self.unit,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "is_dp": self.is_dp,
            "secure_randomness": self.secure_randomness,
            "accountant": self.accountant,
            "neighboring": self.neighboring,
            "max_grad_norm": self.max_grad_norm,
            "sampling": self.sampling,
            "stratified_by_target": self.stratified_by_target,
            "dp_row_count": self.dp_row_count,
            "entries": [dict(e) for e in self.entries],
        }
        if self.max_rows_per_entity is not None:
            out["max_rows_per_entity"] = self.max_rows_per_entity
        if self.training is not None:
            out.update(self.training.to_dict())
        if self.per_class_training:
            out["per_class_training"] = [c.to_dict() for c in self.per_class_training]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyCard:
        """Read a card back from its :meth:`to_dict` form (unknown keys are ignored)."""
        if isinstance(data, PrivacyCard):
            return data
        training = None
        if any(k in data for k in ("noise_multiplier", "sample_rate", "steps")):
            training = TrainingSummary(
                noise_multiplier=_opt_float(data.get("noise_multiplier")),
                sample_rate=_opt_float(data.get("sample_rate")),
                steps=_opt_int(data.get("steps")),
                stopped_early=bool(data.get("stopped_early", False)),
                epochs=_opt_int(data.get("epochs")),
                batch_size=_opt_int(data.get("batch_size")),
            )
        per_class = tuple(
            ClassTraining(
                label=str(c["class"]),
                noise_multiplier=_opt_float(c.get("noise_multiplier")),
                sample_rate=_opt_float(c.get("sample_rate")),
                steps=_opt_int(c.get("steps")),
                batch_size=_opt_int(c.get("batch_size")),
                epochs=_opt_int(c.get("epochs")),
            )
            for c in data.get("per_class_training") or ()
        )
        return cls(
            generator=str(data.get("generator", "unknown")),
            unit=str(data.get("unit", "row")),
            max_rows_per_entity=_opt_int(data.get("max_rows_per_entity")),
            epsilon=_opt_float(data.get("epsilon")),
            delta=_opt_float(data.get("delta")),
            is_dp=bool(data.get("is_dp", data.get("epsilon") is not None)),
            secure_randomness=bool(data.get("secure_randomness", False)),
            accountant=str(data.get("accountant", "rdp")),
            neighboring=str(data.get("neighboring", "add_or_remove_one")),
            max_grad_norm=_opt_float(data.get("max_grad_norm")),
            sampling=str(data.get("sampling", "poisson")),
            stratified_by_target=bool(data.get("stratified_by_target", False)),
            dp_row_count=_opt_int(data.get("dp_row_count")),
            entries=tuple(dict(e) for e in data.get("entries") or ()),
            training=training,
            per_class_training=per_class,
        )

    # ---- read-only mapping view (the JSON layout) --------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._to_flat()[key]  # a fresh copy: nothing read from the card writes through

    def __iter__(self) -> Iterator[str]:
        return iter(self._to_flat())

    def __len__(self) -> int:
        return len(self._to_flat())


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
