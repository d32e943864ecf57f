"""The DP training loop shared by all generators (DP-SGD through Opacus).

Privacy argument, in the order the code runs:

1. The noise multiplier is calibrated *before* training, from the ledger's state (which
   already holds every preprocessing spend), for exactly the planned number of steps.
2. Each step first spends one DP-SGD step in the ledger; the ledger refuses (and training
   stops) before a step that would go over budget.
3. Batches are Poisson samples: each record is included independently with probability
   ``sample_rate``, the sampling the RDP accountant assumes. The rate comes from the
   expected batch size and the DP estimate of the row count, not from the exact count.
4. Per-sample gradients are clipped to ``max_grad_norm`` with Opacus's ghost clipping and
   Gaussian noise of std ``noise_multiplier * max_grad_norm`` is added to their sum
   (``DPOptimizerFastGradientClipping``). Modules are validated by Opacus's
   ``ModuleValidator`` (no BatchNorm).
5. An empty Poisson batch still takes a noise-only step, so every accounted step releases
   exactly what the accountant assumes.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..exceptions import ConfigError, PrivacyWarning
from ..privacy import BudgetExceededError, PrivacyLedger, noise_multiplier_for

__all__ = ["EpochInfo", "TrainingConfig", "TrainResult", "resolve_device", "train"]

logger = logging.getLogger(__name__)

PerSampleLoss = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingConfig:
    """How to train (privacy-relevant values are recorded in the ledger and the manifest).

    Args:
        epochs: passes over the data (in expectation: steps = epochs / sample_rate).
        batch_size: *expected* Poisson batch size.
        learning_rate: Adam learning rate.
        max_grad_norm: per-sample gradient clipping norm.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    epochs: int = 10
    batch_size: int = 1024
    learning_rate: float = 2e-3
    max_grad_norm: float = 1.0
    device: str = "auto"

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ConfigError(f"epochs must be an integer >= 1, got {self.epochs!r}.")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 2):
            raise ConfigError(f"batch_size must be an integer >= 2, got {self.batch_size!r}.")
        if not (self.learning_rate > 0 and self.max_grad_norm > 0):
            raise ConfigError("learning_rate and max_grad_norm must be positive.")


@dataclass(frozen=True, slots=True)
class EpochInfo:
    """What the progress bar and callbacks see after each epoch."""

    epoch: int
    n_epochs: int
    steps: int
    loss: float
    epsilon: float | None
    rows_per_second: float


@dataclass(frozen=True, slots=True)
class TrainResult:
    noise_multiplier: float | None
    sample_rate: float
    steps: int
    stopped_early: bool
    history: tuple[EpochInfo, ...]


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available; an explicit device must exist."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"Unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} was requested but no CUDA device is available; use 'auto' or 'cpu'.")
    return resolved


class _Criterion:
    """Adapter giving a per-sample loss function the ``reduction`` attribute Opacus expects."""

    def __init__(self, fn: Callable[[Any, torch.Tensor], torch.Tensor]) -> None:
        self.fn = fn
        self.reduction = "mean"

    def __call__(self, outputs: Any, batch: torch.Tensor) -> torch.Tensor:
        losses = self.fn(outputs, batch)
        if self.reduction == "none":
            return losses
        return losses.mean() if self.reduction == "mean" else losses.sum()


def _poisson_batch(n_rows: int, sample_rate: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    mask = torch.rand(n_rows, generator=generator, device=device) < sample_rate
    return mask.nonzero(as_tuple=True)[0]


def train(
    module: nn.Module,
    *,
    forward: Callable[[nn.Module, torch.Tensor], Any],
    loss: Callable[[Any, torch.Tensor], torch.Tensor],
    n_rows: int,
    n_rows_estimate: int,
    ledger: PrivacyLedger,
    config: TrainingConfig,
    generator: torch.Generator,
    device: torch.device,
    callback: Callable[[EpochInfo], None] | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    progress: bool = False,
    label: str = "training",
) -> TrainResult:
    """Train ``module`` with DP-SGD (or plainly when the ledger is not DP).

    Args:
        forward: ``forward(module, row_indices) -> outputs`` (builds the batch on ``device``).
        loss: ``loss(outputs, row_indices) -> per-sample losses`` of shape ``(batch,)``.
        n_rows: rows in the private table (only used to index it).
        n_rows_estimate: DP estimate of the row count, which sets the sampling rate.
        after_step: called with the (private) model after each optimizer step; whatever it does
            must only read the model, never the data (post-processing).
    """
    from opacus.validators import ModuleValidator

    ModuleValidator.validate(module, strict=True)  # raises on BatchNorm and friends
    sample_rate = min(1.0, config.batch_size / max(n_rows_estimate, config.batch_size))
    planned_steps = max(1, math.ceil(config.epochs / sample_rate))
    optimizer = torch.optim.Adam(module.parameters(), lr=config.learning_rate)
    criterion = _Criterion(loss)
    if ledger.is_dp:
        sigma = noise_multiplier_for(ledger, sample_rate=sample_rate, steps=planned_steps)
        model, optimizer, criterion = _make_private(module, optimizer, criterion, sigma, config, generator)
    else:
        warnings.warn(
            "Training without DP (epsilon=None): the model is NOT differentially private.", PrivacyWarning, stacklevel=3
        )
        sigma, model = None, module
    history: list[EpochInfo] = []
    steps = 0
    stopped = False
    bar = _ProgressBar(config.epochs, enabled=progress)
    model.train()
    try:
        for epoch in range(1, config.epochs + 1):
            started, losses, rows = time.perf_counter(), [], 0
            epoch_end = round(planned_steps * epoch / config.epochs)  # spreads the planned steps evenly
            while steps < epoch_end:
                if sigma is not None:
                    try:
                        ledger.spend_steps(label, noise_multiplier=sigma, sample_rate=sample_rate)
                    except BudgetExceededError:
                        stopped = True
                        logger.warning("Privacy budget reached after %d steps; training stops here.", steps)
                        break
                rows_idx = _poisson_batch(n_rows, sample_rate, generator, device)
                losses.append(_step(model, optimizer, criterion, forward, rows_idx))
                if after_step is not None:  # e.g. a GAN's generator step (post-processing)
                    after_step(model)
                rows += len(rows_idx)
                steps += 1
            info = EpochInfo(
                epoch=epoch,
                n_epochs=config.epochs,
                steps=steps,
                loss=float(sum(losses) / max(1, len(losses))),
                epsilon=ledger.spent()[0] if ledger.is_dp else None,
                rows_per_second=rows / max(time.perf_counter() - started, 1e-9),
            )
            history.append(info)
            bar.update(info)
            if callback is not None:
                callback(info)
            if stopped:
                break
    finally:
        bar.close()
    model.eval()
    return TrainResult(sigma, sample_rate, steps, stopped, tuple(history))


def _make_private(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: _Criterion,
    sigma: float,
    config: TrainingConfig,
    generator: torch.Generator,
) -> tuple[nn.Module, Any, Any]:
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizerFastGradientClipping
    from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping

    model = GradSampleModuleFastGradientClipping(
        module, batch_first=True, loss_reduction="mean", max_grad_norm=config.max_grad_norm, use_ghost_clipping=True
    )
    dp_optimizer = DPOptimizerFastGradientClipping(
        optimizer,
        noise_multiplier=sigma,
        max_grad_norm=config.max_grad_norm,
        expected_batch_size=config.batch_size,
        loss_reduction="mean",
        generator=generator,
    )
    return model, dp_optimizer, DPLossFastGradientClipping(model, dp_optimizer, criterion, "mean")


def _step(model: nn.Module, optimizer: Any, criterion: Any, forward: Callable[..., Any], rows: torch.Tensor) -> float:
    optimizer.zero_grad(set_to_none=True)
    if len(rows) == 0:
        _noise_only_step(optimizer)
        return 0.0
    outputs = forward(model, rows)
    loss = criterion(outputs, rows)
    with warnings.catch_warnings():
        # Opacus's ghost clipping hooks fire on module outputs by design; torch warns about it.
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        loss.backward()
    optimizer.step()
    return float(loss.item() if hasattr(loss, "item") else loss)


def _noise_only_step(optimizer: Any) -> None:
    """An empty Poisson batch: release only the calibrated noise, as the accountant assumes."""
    if not hasattr(optimizer, "noise_multiplier"):
        return  # non-DP training: nothing to release
    std = optimizer.noise_multiplier * optimizer.max_grad_norm
    for group in optimizer.param_groups:
        for p in group["params"]:
            noise = torch.normal(0.0, std, p.shape, device=p.device, generator=optimizer.generator)
            p.grad = noise / optimizer.expected_batch_size
    optimizer.original_optimizer.step()


class _ProgressBar:
    """A rich progress bar on stderr: epoch, loss, epsilon spent, rows/s."""

    def __init__(self, n_epochs: int, *, enabled: bool) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task("train", total=n_epochs, status="")
        self._bar.start()

    def update(self, info: EpochInfo) -> None:
        if self._bar is None:
            return
        eps = "no DP" if info.epsilon is None else f"ε={info.epsilon:.3f}"
        status = f"loss {info.loss:.3f}  {eps}  {info.rows_per_second:,.0f} rows/s"
        self._bar.update(self._task, completed=info.epoch, status=status)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
