"""The explicit registry of generators: name -> how to build it and its training defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from ..exceptions import ConfigError
from ._data import Layout
from .base import GeneratorModel
from .ctgan import CTGANConfig, CTGANModel
from .tvae import TVAEConfig, TVAEModel

__all__ = ["MODELS", "ModelEntry", "build_model"]


@dataclass(frozen=True, slots=True)
class ModelEntry:
    config_cls: type[Any]
    model_cls: Callable[..., Any]
    dp_defaults: Mapping[str, Any]
    plain_defaults: Mapping[str, Any]
    #: Whether one model per target class (``stratify=True``) makes sense for this generator.
    stratifiable: bool = True
    #: Under DP, default epochs are raised until training takes at least this many steps (small tables).
    dp_min_steps: int = 0
    #: Whether it trains data-parallel under torchrun (every update inside DP-SGD's step).
    distributed: bool = True

    def training_defaults(self, *, dp: bool) -> dict[str, Any]:
        return dict(self.dp_defaults if dp else self.plain_defaults)


MODELS: dict[str, ModelEntry] = {
    "dp-ctgan": ModelEntry(
        CTGANConfig,
        CTGANModel,
        dp_defaults={"epochs": 20, "batch_size": 1024, "learning_rate": 5e-4},
        plain_defaults={"epochs": 60, "batch_size": 500, "learning_rate": 5e-4},
        # Its generator loss matches the table-wide DP marginals of every column, so per-class
        # models would all be pulled to the same rows (measured: Adult TSTR 0.51 at epsilon 1).
        stratifiable=False,
        # A GAN needs many small steps: on credit_default (7,000 rows, 3% positives) the default
        # 20 epochs are 137 steps and the minority conditional is not learned (TSTR 0.375 at
        # epsilon 3, mean of 6 seeds); at 1,000 steps 0.713 (benchmarks/ctgan_seeds.py).
        dp_min_steps=1000,
        # Its generator steps run outside DP-SGD's step, which the data-parallel trainer does not sync.
        distributed=False,
    ),
    "dp-tvae": ModelEntry(
        TVAEConfig,
        TVAEModel,
        dp_defaults={"epochs": 40, "batch_size": 4096, "learning_rate": 4e-3},
        plain_defaults={"epochs": 30, "batch_size": 512, "learning_rate": 1e-3},
    ),
}


def build_model(
    name: str, layout: Layout, cond_columns: tuple[int, ...], options: Mapping[str, Any], *, generator: torch.Generator
) -> GeneratorModel:
    """Build the generator ``name`` (wrapped per target class when ``options`` say ``stratify``)."""
    entry = MODELS[name]
    options = dict(options)
    stratify = bool(options.pop("stratify", False))
    trained = tuple(options.pop("trained_classes", ()) or ()) or None
    allowed = {f.name for f in fields(entry.config_cls)}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"Unknown model_options {unknown} for {name!r}; allowed: {sorted(allowed)}.")
    config = entry.config_cls(**options)
    if stratify and not entry.stratifiable:
        raise ConfigError(f"{name} cannot train one model per target class (stratify=True); use dp-tvae.")
    if not stratify:
        model: GeneratorModel = entry.model_cls(layout, cond_columns, config, generator)
        return model
    from .stratified import StratifiedConfig, StratifiedModel

    return StratifiedModel(
        lambda gen: entry.model_cls(layout, cond_columns, config, gen),
        layout,
        cond_columns,
        StratifiedConfig(config, trained),
        generator,
    )
