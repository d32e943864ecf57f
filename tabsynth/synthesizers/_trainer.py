"""The DP training loop shared by all generators (DP-SGD through Opacus).

Privacy argument, in the order the code runs:

1. The noise multiplier is calibrated *before* training, from the ledger's state (which
   already holds every preprocessing spend), for exactly the planned number of steps.
2. Each step first spends one DP-SGD step in the ledger; the ledger refuses (and training
   stops) before a step that would go over budget.
3. Batches are Poisson samples: each record is included independently with probability
   ``sample_rate``, the sampling the RDP accountant assumes. The rate comes from the
   expected batch size and the DP estimate of the row count, not from the exact count.
4. The generator that draws the Poisson masks and the gradient noise is seeded from the
   ledger's secret :class:`~tabsynth.privacy.randomness.NoiseSource` (never from the public
   ``random_state``), and Opacus's ``secure_mode`` noise is used (see docs/privacy.md).
5. Per-sample gradients are clipped to ``max_grad_norm`` with Opacus's ghost clipping and
   Gaussian noise of std ``noise_multiplier * max_grad_norm`` is added to their sum
   (``DPOptimizerFastGradientClipping``). Modules are validated by Opacus's
   ``ModuleValidator`` (no BatchNorm).
6. An empty Poisson batch still takes a noise-only step, so every accounted step releases
   exactly what the accountant assumes.
7. A large Poisson batch may be split into physical micro-batches (``max_physical_batch_size``,
   automatic on CUDA): the clipped per-sample gradient sums of the micro-batches are
   accumulated and the noise is added and the optimizer steps *once* per logical batch, so the
   release, and its accounting, do not change (Opacus's ``BatchMemoryManager`` protocol:
   ``signal_skip_step`` before every micro-batch but the last).
8. Entity-level DP (issue 18, ``entities`` given): the Poisson sample is over *entities*, each
   included with probability ``sample_rate`` together with all its kept rows, and each row's
   gradient is clipped to ``max_grad_norm / n_e``, where ``n_e <= max_rows_per_entity`` is the
   number of kept rows of its entity. One entity's summed contribution then has norm at most
   ``max_grad_norm`` whatever its rows are, so the noise (std ``noise_multiplier *
   max_grad_norm``) and the accountant's subsampled Gaussian (rate ``sample_rate``, multiplier
   ``noise_multiplier``) are exactly those of row-level DP-SGD with the entity as the record
   (user-level DP-SGD; the argument is in docs/privacy.md). ``n_e`` is a function of the entity's
   own rows, so it may set that entity's clipping bound.
9. Across processes (``torchrun``, see :mod:`tabsynth.distributed`) each rank Poisson-samples
   its own shard of the rows at the same rate with its own random stream, so the union is a
   Poisson sample of the table; Opacus's distributed optimizer adds the noise on rank 0 only
   and sums the ranks' clipped sums, so each step releases exactly the single-process update.
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

from ..distributed import DistributedInfo
from ..exceptions import ConfigError, PrivacyWarning
from ..privacy import BudgetExceededError, PrivacyLedger, noise_multiplier_for

__all__ = [
    "EpochInfo",
    "TrainingConfig",
    "TrainingPlan",
    "TrainResult",
    "dp_batch_size",
    "entity_row_weights",
    "epochs_for_min_steps",
    "plan_training",
    "physical_batch_size",
    "poisson_rate",
    "resolve_device",
    "train",
]

logger = logging.getLogger(__name__)

PerSampleLoss = Callable[[nn.Module, torch.Tensor], torch.Tensor]

# Rows per physical micro-batch on CUDA when not set: the bundled generators hold a few tens of
# KB of activations per row under ghost clipping, so this stays well under 1 GB of GPU memory.
CUDA_PHYSICAL_BATCH_SIZE = 8192
# Opacus's secure_mode noise (mean of four draws per value). Always on; a module constant only so
# that benchmarks/secure_noise.py can measure what it costs.
SECURE_NOISE = True


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingConfig:
    """How to train (privacy-relevant values are recorded in the ledger and the manifest).

    Args:
        epochs: passes over the data (in expectation: steps = epochs / sample_rate).
        batch_size: *expected* Poisson batch size.
        learning_rate: Adam learning rate.
        max_grad_norm: per-sample gradient clipping norm.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        max_physical_batch_size: largest micro-batch run through the network at once; a larger
            Poisson batch is split and its clipped gradients accumulated (same release, same
            accounting). ``None``: no split on CPU, ``CUDA_PHYSICAL_BATCH_SIZE`` rows on CUDA.
    """

    epochs: int = 10
    batch_size: int = 1024
    learning_rate: float = 2e-3
    max_grad_norm: float = 1.0
    device: str = "auto"
    max_physical_batch_size: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ConfigError(f"epochs must be an integer >= 1, got {self.epochs!r}.")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 2):
            raise ConfigError(f"batch_size must be an integer >= 2, got {self.batch_size!r}.")
        if not (self.learning_rate > 0 and self.max_grad_norm > 0):
            raise ConfigError("learning_rate and max_grad_norm must be positive.")
        physical = self.max_physical_batch_size
        if physical is not None and (isinstance(physical, bool) or not isinstance(physical, int) or physical < 1):
            raise ConfigError(f"max_physical_batch_size must be an integer >= 1 or None, got {physical!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingPlan:
    """The one derivation of DP-SGD's schedule from a config and the DP row estimate.

    ``sample_rate = batch_size / n_rows_estimate`` (capped at 1) and ``steps = ceil(epochs /
    sample_rate)``: the expected number of passes is ``epochs``. Everything here is public
    (settings, and the row count's DP estimate).
    """

    batch_size: int
    epochs: int
    sample_rate: float
    steps: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "sample_rate": self.sample_rate,
            "steps": self.steps,
        }


def plan_training(config: TrainingConfig, n_rows_estimate: float) -> TrainingPlan:
    """The schedule ``config`` gives on a table of (DP-estimated) ``n_rows_estimate`` rows."""
    rate = poisson_rate(config.batch_size, n_rows_estimate)
    return TrainingPlan(
        batch_size=config.batch_size,
        epochs=config.epochs,
        sample_rate=rate,
        steps=max(1, math.ceil(config.epochs / rate)),
    )


def dp_batch_size(n_rows_estimate: float, *, minimum: int, maximum: int) -> int:
    """The DP default batch: about 1/8 of the (DP-estimated) rows, a power of two in [minimum, maximum].

    Small tables get more, smaller steps (measured on Adult and credit_default).
    """
    auto = 2 ** round(math.log2(max(n_rows_estimate / 8, 1)))
    return int(min(maximum, max(minimum, auto)))


def epochs_for_min_steps(epochs: int, *, batch_size: int, n_rows: float, min_steps: int) -> int:
    """``epochs``, raised so that training takes at least ``min_steps`` steps (steps = epochs / rate)."""
    return max(epochs, math.ceil(min_steps * poisson_rate(batch_size, n_rows)))


@dataclass(frozen=True, slots=True)
class EpochInfo:
    """What callbacks see after each epoch.

    ``loss`` and ``rows_per_second`` are *not* DP (functions of the private rows and of the
    Poisson batch sizes): they are for the curator's terminal only and are never written to a
    model folder, a report or a release.
    """

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
    rows_per_second: float = 0.0  # over the whole training run (this process's rows)
    world_size: int = 1
    plan: TrainingPlan | None = None  # the schedule the noise was calibrated for


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


def physical_batch_size(config: TrainingConfig, device: torch.device) -> int | None:
    """The micro-batch size the trainer uses on ``device`` (``None``: never split)."""
    if config.max_physical_batch_size is not None:
        return config.max_physical_batch_size
    return CUDA_PHYSICAL_BATCH_SIZE if device.type == "cuda" else None


def poisson_rate(batch_size: int, n_rows: float) -> float:
    """Each record's inclusion probability for an *expected* batch of ``batch_size`` out of ``n_rows``."""
    return min(1.0, batch_size / max(n_rows, batch_size))


def _poisson_batch(rows: torch.Tensor, sample_rate: float, generator: torch.Generator) -> torch.Tensor:
    """Each of ``rows`` independently with probability ``sample_rate`` (the accountant's sampling)."""
    mask = torch.rand(len(rows), generator=generator, device=rows.device) < sample_rate
    return rows[mask]


def _entity_batch(
    entities: torch.Tensor, n_entities: int, sample_rate: float, generator: torch.Generator
) -> torch.Tensor:
    """The rows of a Poisson sample of entities: each entity with probability ``sample_rate``, all its rows with it."""
    chosen = torch.rand(n_entities, generator=generator, device=entities.device) < sample_rate
    return torch.nonzero(chosen[entities], as_tuple=False).flatten()


def entity_row_weights(entities: torch.Tensor, n_entities: int) -> torch.Tensor:
    """``1 / n_e`` for each row, where ``n_e`` is the number of rows of the row's entity."""
    sizes = torch.bincount(entities, minlength=n_entities).to(torch.float32)
    return 1.0 / sizes[entities]


def _rank_generator(generator: torch.Generator, rank: int, device: torch.device) -> torch.Generator:
    """An independent stream per rank, derived from the shared one (ranks must not share Poisson draws)."""
    base = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    seed = (base + 0x9E3779B97F4A7C15 * (rank + 1)) % 2**63
    return torch.Generator(device=device).manual_seed(seed)


def train(
    module: nn.Module,
    *,
    forward: Callable[[nn.Module, torch.Tensor], Any],
    loss: Callable[[Any, torch.Tensor], torch.Tensor],
    n_rows: int,
    n_rows_estimate: float,
    ledger: PrivacyLedger,
    config: TrainingConfig,
    generator: torch.Generator,
    device: torch.device,
    callback: Callable[[EpochInfo], None] | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    progress: bool = False,
    label: str = "training",
    distributed: DistributedInfo | None = None,
    entities: torch.Tensor | None = None,
) -> TrainResult:
    """Train ``module`` with DP-SGD (or plainly when the ledger is not DP).

    Args:
        forward: ``forward(module, row_indices) -> outputs`` (builds the batch on ``device``).
        loss: ``loss(outputs, row_indices) -> per-sample losses`` of shape ``(batch,)``.
        n_rows: rows in the private table (only used to index it).
        n_rows_estimate: DP estimate of the row count, which sets the sampling rate.
        after_step: called with the (private) model after each optimizer step; whatever it does
            must only read the model, never the data (post-processing).
        distributed: this rank's place when training data-parallel across processes; every
            rank must call ``train`` with the same table, ledger state and config.
        entities: entity-level DP: the entity code (0..E-1) of every row, on ``device``. The
            Poisson sample is then over entities (``sample_rate`` is each entity's inclusion
            probability) and each entity's summed gradient is bounded by ``max_grad_norm``.
    """
    from opacus.validators import ModuleValidator

    ModuleValidator.validate(module, strict=True)  # raises on BatchNorm and friends
    if distributed is not None and after_step is not None:
        raise ConfigError(
            "Data-parallel training (torchrun) does not support a separate post-processing step such as "
            "dp-ctgan's generator step: use dp-tvae under torchrun, or train dp-ctgan in one process."
        )
    if distributed is not None and entities is not None:
        raise ConfigError(
            "Entity-level DP (entity=...) trains in one process: its Poisson sample is over entities, which "
            "the data-parallel shards (by row) would split. Run without torchrun."
        )
    plan = plan_training(config, n_rows_estimate)
    sample_rate, planned_steps = plan.sample_rate, plan.steps
    world = 1 if distributed is None else distributed.world_size
    if distributed is None:
        own_rows, sampler = torch.arange(n_rows, device=device), generator
    else:  # this rank's shard, sampled with its own stream at the global rate
        own_rows = torch.arange(distributed.rank, n_rows, world, device=device)
        sampler = _rank_generator(generator, distributed.rank, device)
    physical = physical_batch_size(config, device)
    optimizer = torch.optim.Adam(module.parameters(), lr=config.learning_rate)
    criterion = _Criterion(loss)
    n_entities = int(entities.max().item()) + 1 if entities is not None and len(entities) else 0
    weights = None if entities is None else entity_row_weights(entities, n_entities)
    if ledger.is_dp:
        sigma = noise_multiplier_for(ledger, sample_rate=sample_rate, steps=planned_steps)
        model, optimizer, criterion = _make_private(
            module, optimizer, criterion, sigma, config, generator, distributed, entity_level=entities is not None
        )
    else:
        warnings.warn(
            "Training without DP (epsilon=None): the model is NOT differentially private.", PrivacyWarning, stacklevel=3
        )
        sigma, model = None, _broadcast_parameters(module) if distributed is not None else module
    history: list[EpochInfo] = []
    steps = total_rows = 0
    stopped = False
    model.train()
    run_started = time.perf_counter()
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
                if entities is None:
                    rows_idx = _poisson_batch(own_rows, sample_rate, sampler)
                else:
                    rows_idx = _entity_batch(entities, n_entities, sample_rate, sampler)
                losses.append(_step(model, optimizer, criterion, forward, rows_idx, physical, distributed, weights))
                if after_step is not None:  # e.g. a GAN's generator step (post-processing)
                    after_step(model)
                rows += len(rows_idx)
                steps += 1
            total_rows += rows
            info = EpochInfo(
                epoch=epoch,
                n_epochs=config.epochs,
                steps=steps,
                loss=float(torch.stack(losses).mean().item()) if losses else 0.0,  # one device sync per epoch
                epsilon=ledger.spent()[0] if ledger.is_dp else None,
                rows_per_second=rows / max(time.perf_counter() - started, 1e-9),
            )
            history.append(info)
            if progress:  # the library logs; drawing a bar is the caller's business (see callback)
                logger.info(
                    "epoch %d/%d: %d steps, epsilon %s",
                    epoch,
                    config.epochs,
                    steps,
                    "none" if info.epsilon is None else f"{info.epsilon:.3f}",
                )
            if callback is not None:
                callback(info)
            if stopped:
                break
    finally:
        model.eval()
    rate = total_rows / max(time.perf_counter() - run_started, 1e-9)
    return TrainResult(sigma, sample_rate, steps, stopped, tuple(history), rate, world, plan)


def _broadcast_parameters(module: nn.Module) -> nn.Module:
    from opacus.distributed import DifferentiallyPrivateDistributedDataParallel as DPDDP

    wrapped: nn.Module = DPDDP(module)  # broadcasts rank 0's initial weights; forward is the module's
    return wrapped


def _make_private(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: _Criterion,
    sigma: float,
    config: TrainingConfig,
    generator: torch.Generator,
    distributed: DistributedInfo | None = None,
    *,
    entity_level: bool = False,
) -> tuple[nn.Module, Any, Any]:
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DistributedDPOptimizerFastGradientClipping, DPOptimizerFastGradientClipping
    from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping

    wrapped = module if distributed is None else _broadcast_parameters(module)
    grad_sample_cls = _entity_clipping_class() if entity_level else GradSampleModuleFastGradientClipping
    model = grad_sample_cls(
        wrapped, batch_first=True, loss_reduction="mean", max_grad_norm=config.max_grad_norm, use_ghost_clipping=True
    )
    optimizer_cls: type[Any] = DPOptimizerFastGradientClipping
    if distributed is not None:  # adds the noise on rank 0 only and sums the ranks' gradients
        optimizer_cls = DistributedDPOptimizerFastGradientClipping
    dp_optimizer = optimizer_cls(
        optimizer,
        noise_multiplier=sigma,
        max_grad_norm=config.max_grad_norm,
        # Opacus's convention: the per-rank expected batch; the ranks' scaled sums are then
        # summed and divided by the world size, i.e. divided by the global expected batch.
        expected_batch_size=config.batch_size if distributed is None else config.batch_size / distributed.world_size,
        loss_reduction="mean",
        generator=generator,
        # Each noise value is the mean of four draws: defeats floating-point attacks on the noise
        # (arXiv:2107.10138); the generator itself is seeded from the ledger's secret stream.
        secure_mode=SECURE_NOISE,
    )
    return model, dp_optimizer, DPLossFastGradientClipping(model, dp_optimizer, criterion, "mean")


def _entity_clipping_class() -> type[Any]:
    """Opacus's ghost-clipping module with a per-row clipping bound ``max_grad_norm * row_weights``.

    A subclass, not a patch: only :meth:`get_clipping_coef` changes. ``row_weights`` is set by
    the trainer before each micro-batch (``1 / n_e`` per real row, see the module docstring);
    samples past the real rows (a GAN's fake rows, which hold no record) keep the plain bound.
    """
    from opacus.grad_sample import GradSampleModuleFastGradientClipping

    class EntityClippingModule(GradSampleModuleFastGradientClipping):  # type: ignore[misc]
        row_weights: torch.Tensor | None = None

        def get_clipping_coef(self) -> torch.Tensor:
            norm = self.get_norm_sample()
            bound = torch.full_like(norm, float(self.max_grad_norm))
            if self.row_weights is not None:
                n = min(len(self.row_weights), len(norm))
                bound[:n] = bound[:n] * self.row_weights[:n].to(norm.device)
            coef: torch.Tensor = (bound / (norm + 1e-6)).clamp(max=1.0)
            return coef

    return EntityClippingModule


def _step(
    model: nn.Module,
    optimizer: Any,
    criterion: Any,
    forward: Callable[..., Any],
    rows: torch.Tensor,
    physical: int | None = None,
    distributed: DistributedInfo | None = None,
    row_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """One logical step on the Poisson batch ``rows``, in micro-batches of at most ``physical`` rows.

    ``row_weights`` (entity-level DP): each row's share of its entity's clipping bound.
    Returns the batch's mean loss as a (detached) tensor, so the loop does not sync the device.
    """
    dp = hasattr(optimizer, "noise_multiplier")
    optimizer.zero_grad(set_to_none=True)
    if len(rows) == 0:
        _empty_step(model, optimizer, dp=dp, distributed=distributed)
        return torch.zeros((), device=rows.device)
    chunks = torch.split(rows, physical) if physical is not None and len(rows) > physical else (rows,)
    total = torch.zeros((), device=rows.device)
    for i, chunk in enumerate(chunks):
        if dp and row_weights is not None:
            model.row_weights = row_weights[chunk]
        outputs = forward(model, chunk)
        if dp:
            if i < len(chunks) - 1:  # accumulate the clipped sums; noise and step after the last one
                optimizer.signal_skip_step(do_skip=True)
            loss = criterion(outputs, chunk)
        else:
            loss = criterion.fn(outputs, chunk).sum() / len(rows)
        with warnings.catch_warnings():
            # Opacus's ghost clipping hooks fire on module outputs by design; torch warns about it.
            warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
            loss.backward()
        if dp:
            optimizer.step()  # a signalled micro-batch only accumulates (Opacus pre_step)
            total = total + loss.detach() * len(chunk)
        else:
            total = total + loss.detach() * len(rows)
    if not dp:
        if distributed is not None:
            _average_gradients(model)
        optimizer.step()
    return total / len(rows)


def _average_gradients(model: nn.Module) -> None:
    import torch.distributed as dist

    for p in model.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= dist.get_world_size()


def _empty_step(model: nn.Module, optimizer: Any, *, dp: bool, distributed: DistributedInfo | None) -> None:
    """An empty Poisson batch: release only the calibrated noise, as the accountant assumes.

    The clipped-gradient sum is zero; the DP optimizer adds the noise (on rank 0 when
    distributed), joins the ranks' all-reduce and steps, exactly as for a non-empty batch.
    """
    if not dp and distributed is None:
        return  # non-DP training in one process: nothing to release
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
    if dp:
        optimizer.step()
    else:
        _average_gradients(model)
        optimizer.step()
