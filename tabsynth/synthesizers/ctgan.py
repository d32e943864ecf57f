"""DP-CTGAN: a conditional GAN whose discriminator is trained with DP-SGD.

Privacy argument:

* Only the discriminator reads records. Each discriminator step takes a Poisson batch of real
  rows plus a fixed number of generated rows (``fake_share`` of the expected batch), clips every
  row's gradient (ghost clipping) and adds Gaussian noise through the shared trainer; a real
  row's presence changes the clipped sum by at most ``max_grad_norm``, the sensitivity the
  accountant assumes. ``pac`` is 1. What the discriminator reads of a row (the row, its
  condition and, with ``interactions``, the row times its target one-hot) is a fixed function of
  that one row, so per-row clipping still bounds its influence. The generated rows (fresh, or
  with ``reuse_fakes`` those of the previous generator step) depend only on released weights.
* The generator never sees records: its loss reads the discriminator's (already DP) weights
  through ``torch.func.functional_call`` with detached parameters, and the conditional vectors
  it is given are drawn from the transformer's DP marginals. Its marginal loss compares its own
  outputs with those same DP marginals (released by the transformer through the ledger). Its
  training is post-processing, so it is not DP-trained and may use BatchNorm.
* The discriminator loss is the non-saturating BCE loss, not WGAN-GP: a gradient penalty needs
  double backward, which per-sample clipping does not support.

Conditional vectors: by default (``condition_on="target"``) the condition is the target column,
as at sampling time; with ``"all"`` one categorical column is picked at random. For a real row
the category is the row's own (so no training-by-sampling of real rows); for generated rows it is
drawn with probability proportional to (DP marginal) ** ``condition_power`` (1 by default: the
marginal itself; 0.5 would give a 3% class 15% of the generator's updates). The generator's
conditional loss (cross entropy between its output for that column and the condition) only
involves generated data.

Marginal loss: for every column (categories, and the bins of numeric columns) the generator is
pulled towards KL(DP marginal || average of its softmax outputs over the batch), the average
weighted by marginal / tilted marginal of each row's condition, so that it estimates the output
distribution under conditions drawn from the marginal itself (as at sampling time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import DistributedInfo
from ..exceptions import ConfigError
from ..privacy import PrivacyLedger
from ._data import Layout, TensorTable
from ._nn import gumbel_argmax, init_linear_layers, without_slots
from ._trainer import EpochInfo, TrainingConfig, TrainResult, train

__all__ = ["CTGANConfig", "CTGANModel"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CTGANConfig:
    embedding: int = 64
    generator_dim: int = 128
    discriminator_dim: int = 64
    # None: 2e-4 under DP (a faster generator outruns the noisy critic), the training learning rate without DP
    generator_lr: float | None = None
    tau: float = 0.2
    generator_steps: int = 1  # generator updates per DP discriminator step (free: post-processing)
    condition_on: str = "target"  # training conditions: the "target" only (as at sampling) or "all" columns
    interactions: bool = True  # the discriminator also reads (target one-hot) x row: class-wise features
    reuse_fakes: bool = True  # the discriminator step reuses the last generator step's rows (one update old)
    fake_share: float = 0.5  # generated rows per step (discriminator and generator), as a share of the batch size
    # generated one-hots exact in the forward pass (gradients via the soft ones); None: under DP only (measured best)
    straight_through: bool | None = None
    marginal_weight: float = 5.0  # generator loss: KL(DP marginal || batch-mean output), per column
    # generated rows' training conditions are drawn with probability proportional to marginal ** power:
    # 1 follows the DP marginal, < 1 gives rare classes more generator updates (importance-weighted back
    # in the marginal loss). 0.5 was not better overall (docs/benchmarks.md), hence 1
    condition_power: float = 1.0

    def __post_init__(self) -> None:
        if self.condition_on not in ("target", "all"):
            raise ConfigError(f"condition_on must be 'target' or 'all', got {self.condition_on!r}.")
        if not 0 < self.fake_share <= 4:
            raise ConfigError(f"fake_share must be in (0, 4], got {self.fake_share!r}.")
        if self.marginal_weight < 0:
            raise ConfigError(f"marginal_weight must be >= 0, got {self.marginal_weight!r}.")
        if not 0 <= self.condition_power <= 1:
            raise ConfigError(f"condition_power must be in [0, 1], got {self.condition_power!r}.")

    @property
    def needs_target(self) -> bool:
        """Sampling conditions on the target, drawn from its DP marginal when not given."""
        return True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Residual(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)  # the generator is not DP-trained: BatchNorm is fine here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class _Generator(nn.Module):
    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_Residual(d_in, hidden), _Residual(d_in + hidden, hidden))
        self.head = nn.Linear(d_in + 2 * hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.body(x))
        return out


def _discriminator(d_in: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)
    )


class CTGANModel:
    """Generator, DP discriminator, conditional vectors and sampler over a :class:`Layout`."""

    def __init__(
        self,
        layout: Layout,
        cond_columns: tuple[int, ...],
        config: CTGANConfig,
        generator: torch.Generator,
    ) -> None:
        self.layout = layout
        self.cond_columns = cond_columns
        self.config = config
        self.discrete = tuple(j for j in range(len(layout.n_slots)) if j not in layout.numeric)
        self.marginals = layout.marginals  # DP: released by the transformer
        self._straight_through = bool(config.straight_through)  # resolved in fit (None: under DP)
        target_only = config.condition_on == "target" and cond_columns
        self.train_columns = (cond_columns[0],) if target_only else self.discrete
        self.generator_net = _Generator(config.embedding + layout.onehot_dim, config.generator_dim, _heads(layout))
        interact = cond_columns and config.interactions and config.condition_on == "target"
        self.interact = cond_columns[0] if interact else None
        if self.interact is None:
            d_in = layout.dense_dim + layout.onehot_dim
        else:
            d_in = (1 + layout.n_slots[self.interact]) * layout.dense_dim
        self.discriminator = _discriminator(d_in, config.discriminator_dim)
        for module in (self.generator_net, self.discriminator):
            init_linear_layers(module, generator)

    # ---- conditional vectors --------------------------------------------------------------
    def _cond_from_slots(self, column: torch.Tensor, slot: torch.Tensor, device: torch.device) -> torch.Tensor:
        offsets = torch.as_tensor(self.layout.offsets, device=device)
        cond = torch.zeros((len(column), self.layout.onehot_dim), device=device)
        cond[torch.arange(len(column), device=device), offsets[column] + slot] = 1.0
        return cond

    def _random_columns(self, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        choice = torch.randint(len(self.train_columns), (n,), generator=gen, device=device)
        return torch.as_tensor(self.train_columns, device=device)[choice]

    def _marginal_slots(
        self, column: torch.Tensor, gen: torch.Generator, device: torch.device, power: float = 1.0
    ) -> torch.Tensor:
        """A category per row of its ``column``, drawn with probability proportional to marginal ** power."""
        slots = torch.zeros_like(column)
        for j in self.discrete:
            mask = column == j
            if mask.any():
                probs = _tilted(torch.as_tensor(self.marginals[j], dtype=torch.float32, device=device), power)
                slots[mask] = torch.multinomial(probs, int(mask.sum()), replacement=True, generator=gen)
        return slots

    def _importance(self, column: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        """Weights (mean 1 in expectation) taking conditions drawn from marginal ** power back to the marginal."""
        power = self.config.condition_power
        weights = torch.ones(len(column), device=column.device)
        if power == 1.0:
            return weights
        for j in self.discrete:
            mask = column == j
            if mask.any():
                marginal = self._marginal_tensors[j]
                ratio = marginal / _tilted(marginal, power).clamp_min(1e-12)
                weights[mask] = ratio[slot[mask]]
        return weights

    # ---- networks ---------------------------------------------------------------------------
    def _generate(self, cond: torch.Tensor, gen: torch.Generator, hard: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense rows (one-hots and positions) and the raw logits, for a batch of conditions."""
        z = torch.randn((len(cond), self.config.embedding), generator=gen, device=cond.device)
        raw = self.generator_net(torch.cat([z, cond], dim=1))
        blocks = []
        for j, (start, width) in enumerate(zip(self.layout.offsets, self.layout.n_slots, strict=True)):
            logits = raw[:, start : start + width]
            if hard:  # sampling: never a slot without DP mass
                drawn = gumbel_argmax(without_slots(logits, self.layout.unsupported(j)), gen)
                blocks.append(F.one_hot(drawn, width).float())
            else:
                u = torch.rand(logits.shape, generator=gen, device=cond.device).clamp_min(1e-20)
                soft = F.softmax((logits - torch.log(-torch.log(u))) / self.config.tau, dim=1)
                if self._straight_through:
                    hard_block = F.one_hot(soft.argmax(dim=1), width).to(soft.dtype)
                    soft = hard_block - soft.detach() + soft
                blocks.append(soft)
        positions = torch.tanh(raw[:, self.layout.onehot_dim :])
        return torch.cat([*blocks, positions], dim=1), raw

    def _conditional_loss(self, raw: torch.Tensor, column: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        loss = torch.zeros(len(column), device=raw.device)
        for j in self.discrete:
            mask = column == j
            if mask.any():
                start, width = self.layout.offsets[j], self.layout.n_slots[j]
                loss[mask] = F.cross_entropy(raw[mask, start : start + width], slot[mask], reduction="none")
        return loss.mean()

    def _marginal_loss(self, raw: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """KL(DP marginal || weighted batch-average generated distribution), averaged over columns."""
        total = raw.new_zeros(())
        w = (weights / weights.sum())[:, None]
        for j, (start, width) in enumerate(zip(self.layout.offsets, self.layout.n_slots, strict=True)):
            target = self._marginal_tensors[j]
            mean = (F.softmax(raw[:, start : start + width], dim=1) * w).sum(dim=0).clamp_min(1e-8)
            total = total + (target * (torch.log(target.clamp_min(1e-8)) - torch.log(mean))).sum()
        return total / len(self.layout.n_slots)

    def _d_input(self, dense: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """What the discriminator reads: the row, its condition and (optionally) row x target one-hot."""
        if self.interact is None:
            return torch.cat([dense, cond], 1)
        start, width = self.layout.offsets[self.interact], self.layout.n_slots[self.interact]
        outer = cond[:, start : start + width, None] * dense[:, None, :]
        return torch.cat([dense, outer.flatten(1)], 1)  # (the condition is the row's own target block)

    # ---- training ---------------------------------------------------------------------------
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
    ) -> TrainResult:
        device = table.device
        self.generator_net.to(device)
        self.discriminator.to(device)
        dp = ledger.is_dp
        st = self.config.straight_through
        self._straight_through = dp if st is None else st
        g_lr = self.config.generator_lr
        if g_lr is None:
            g_lr = 2e-4 if dp else config.learning_rate
        g_opt = torch.optim.Adam(self.generator_net.parameters(), lr=g_lr, betas=(0.5, 0.9))
        n_fake = max(2, round(self.config.fake_share * config.batch_size))
        self._marginal_tensors = [torch.as_tensor(m, dtype=torch.float32, device=device) for m in self.marginals]

        recent: list[tuple[torch.Tensor, torch.Tensor]] = []  # generated rows for the next discriminator step

        def forward(module: nn.Module, rows: torch.Tensor) -> torch.Tensor:
            column = self._random_columns(len(rows), generator, device)
            real_cond = self._cond_from_slots(column, table.slots[rows, column], device)
            if recent:  # the last generator step's rows (one update old): saves a generator pass
                fake, fake_cond = recent.pop()
            else:
                fake_column = self._random_columns(n_fake, generator, device)
                fake_slot = self._marginal_slots(fake_column, generator, device)
                fake_cond = self._cond_from_slots(fake_column, fake_slot, device)
                with torch.no_grad():
                    fake, _ = self._generate(fake_cond, generator, hard=False)
            x = torch.cat([self._d_input(table.dense(rows), real_cond), self._d_input(fake, fake_cond)])
            logits: torch.Tensor = module(x).squeeze(1)
            return logits

        def loss(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            real = torch.ones(len(rows), device=device)
            labels = torch.cat([real, torch.zeros(len(logits) - len(rows), device=device)])
            return F.binary_cross_entropy_with_logits(logits, labels, reduction="none")

        def generator_steps(model: nn.Module) -> None:
            for _ in range(self.config.generator_steps):
                generator_step(model)

        def generator_step(model: nn.Module) -> None:
            self.generator_net.train()
            column = self._random_columns(n_fake, generator, device)
            slot = self._marginal_slots(column, generator, device, self.config.condition_power)
            cond = self._cond_from_slots(column, slot, device)
            fake, raw = self._generate(cond, generator, hard=False)
            if self.config.reuse_fakes:
                recent[:] = [(fake.detach(), cond)]
            d_module = getattr(model, "_module", model)
            params = {name: p.detach() for name, p in d_module.named_parameters()}
            disable_hooks = getattr(model, "disable_hooks", None)
            enable_hooks = getattr(model, "enable_hooks", None)
            if disable_hooks is not None:  # the generator step is not a DP step: no per-sample bookkeeping
                disable_hooks()
            try:
                logits = torch.func.functional_call(d_module, params, (self._d_input(fake, cond),)).squeeze(1)
                g_loss: torch.Tensor = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
                g_loss = g_loss + self._conditional_loss(raw, column, slot)
                if self.config.marginal_weight > 0:
                    weights = self._importance(column, slot)
                    g_loss = g_loss + self.config.marginal_weight * self._marginal_loss(raw, weights)
                g_opt.zero_grad(set_to_none=True)
                torch.autograd.backward(g_loss)
            finally:
                if enable_hooks is not None:
                    enable_hooks()
            g_opt.step()

        return train(
            self.discriminator,
            forward=forward,
            loss=loss,
            n_rows=len(table),
            generator=generator,
            device=device,
            after_step=generator_steps,
            n_rows_estimate=n_rows_estimate,
            ledger=ledger,
            config=config,
            callback=callback,
            progress=progress,
            distributed=distributed,
            entities=entities,
        )

    # ---- sampling ---------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n_rows: int, fixed: dict[int, torch.Tensor], generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.generator_net.eval()
        if fixed:  # condition on one given column (the first), overwrite all given ones
            first = next(iter(fixed))
            column = torch.full((n_rows,), first, dtype=torch.long, device=device)
            cond = self._cond_from_slots(column, fixed[first], device)
        else:
            column = self._random_columns(n_rows, generator, device)
            cond = self._cond_from_slots(column, self._marginal_slots(column, generator, device), device)
        dense, raw = self._generate(cond, generator, hard=True)
        slots = torch.stack(
            [dense[:, s : s + w].argmax(dim=1) for s, w in zip(self.layout.offsets, self.layout.n_slots, strict=True)],
            dim=1,
        )
        for j, value in fixed.items():
            slots[:, j] = value
        return slots, dense[:, self.layout.onehot_dim :].clamp(-1.0, 1.0)

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator_net, "discriminator": self.discriminator}


def _tilted(probs: torch.Tensor, power: float) -> torch.Tensor:
    """``probs ** power``, renormalised (categories with probability 0 stay at 0)."""
    tilted = torch.where(probs > 0, probs.clamp_min(1e-12) ** power, torch.zeros_like(probs))
    return tilted / tilted.sum()


def _heads(layout: Layout) -> int:
    return layout.onehot_dim + layout.n_numeric
