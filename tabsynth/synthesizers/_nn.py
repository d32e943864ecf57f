"""Small network helpers shared by the generators."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["gumbel_argmax", "init_linear_layers"]


def init_linear_layers(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear init for every Linear in ``module``, drawn from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / layer.in_features**0.5
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)


def without_slots(logits: torch.Tensor, slots: tuple[int, ...]) -> torch.Tensor:
    """``logits`` with the given slots (columns) made impossible (-inf), for sampling only."""
    if not slots:
        return logits
    out = logits.clone()
    out[:, list(slots)] = float("-inf")
    return out


def gumbel_argmax(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One category per row, sampled from softmax(logits) by the Gumbel-max trick."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_min(1e-20)
    return (logits - torch.log(-torch.log(u))).argmax(dim=1)
