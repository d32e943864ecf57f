"""The typed interface every generator implements, so a new one (a DP diffusion model, say) plugs
into the facade, the stratified wrapper, persistence and the contract tests unchanged.

A generator is built by :func:`tabsynth.synthesizers.registry.build_model` from the table's
:class:`~tabsynth.synthesizers._data.Layout`, the conditioning columns and its config, and then:

* ``fit(table, generator=..., n_rows_estimate=..., ledger=..., config=..., callback=...,
  progress=..., distributed=...)`` trains on the encoded private table, spending every DP step
  through ``ledger`` (normally by calling :func:`tabsynth.synthesizers._trainer.train`);
* ``sample(n_rows, fixed, generator, device)`` returns encoded ``(slots, positions)`` for rows
  whose conditioning slots in ``fixed`` are given (post-processing: reads only the weights);
* ``modules()`` names the ``nn.Module`` s whose state dicts are the model's weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from ..distributed import DistributedInfo
from ..privacy import PrivacyLedger
from ._data import TensorTable
from ._trainer import EpochInfo, TrainingConfig, TrainResult

__all__ = ["GeneratorConfig", "GeneratorModel"]


@runtime_checkable
class GeneratorConfig(Protocol):
    """A generator's settings: JSON-serialisable, and whether sampling needs the target given."""

    @property
    def needs_target(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class GeneratorModel(Protocol):
    """What the facade needs from a generator (see the module docstring)."""

    cond_columns: tuple[int, ...]
    config: Any

    def fit(
        self,
        table: TensorTable,
        *,
        generator: torch.Generator,
        n_rows_estimate: float,
        ledger: PrivacyLedger,
        config: TrainingConfig,
        callback: Callable[[EpochInfo], None] | None = None,
        progress: bool = False,
        distributed: DistributedInfo | None = None,
        entities: torch.Tensor | None = None,
    ) -> TrainResult: ...

    def sample(
        self, n_rows: int, fixed: dict[int, torch.Tensor], generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def modules(self) -> dict[str, nn.Module]: ...
