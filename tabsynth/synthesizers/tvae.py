"""DP-TVAE: a conditional tabular VAE whose encoder *and* decoder are trained with DP-SGD.

Both networks see records (the encoder reads them, the decoder is scored against them), so
both sit inside the one module that the trainer makes private. The decoder has a softmax
head per column (one-hot over slots: categories, numeric bins, missing) and, per numeric
column, a mean and a log-scale for the within-bin position. The scale is an output of the
decoder's last Linear layer, so Opacus computes its per-sample gradients like any other
weight.

Conditioning: the target and the categorical sensitive columns form a condition vector.
During training each conditioning column is hidden at random (condition dropout), so the
same model samples with all, some or none of the conditions given; a condition that is
given is also written into the output, so counts by condition are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import DistributedInfo
from ..privacy import PrivacyLedger
from ._data import Layout, TensorTable
from ._nn import gumbel_argmax, init_linear_layers, without_slots
from ._trainer import EpochInfo, TrainingConfig, TrainResult, train

__all__ = ["TVAEConfig", "TVAEModel"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TVAEConfig:
    hidden: int = 128
    latent: int = 16
    condition_dropout: float = 0.5
    kl_weight: float = 1.0
    autoregressive: bool = True
    ar_hidden: int = 0  # > 0: each autoregressive head is a one-hidden-layer MLP instead of linear
    target_dropout: float = 0.0  # > 0: the target is sometimes hidden and can be generated

    @property
    def needs_target(self) -> bool:
        """Whether sampling must be given the target (drawn from its DP marginal when not)."""
        return self.target_dropout == 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, d_out)
    )


class _AutoregressiveHeads(nn.Module):
    """Logit shifts for column j from the one-hots of columns before it (and, for a numeric
    column's position, from its own bin too): pairwise dependencies such as education ->
    education_num are modelled directly instead of only through the latent code.

    Plain ``nn.Linear`` layers on prefixes of the one-hot layout, so Opacus clips them per sample.
    """

    def __init__(self, layout: Layout, d_cond: int, hidden: int = 0) -> None:
        super().__init__()
        self.offsets = tuple(d_cond + off for off in layout.offsets)  # inputs are [condition, one-hots]
        self.n_slots = layout.n_slots

        def head(d_in: int, d_out: int) -> nn.Module:
            if not hidden:  # linear: pairwise logit interactions
                return nn.Linear(d_in, d_out)
            return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))

        self.columns = nn.ModuleList(head(max(off, 1), n) for off, n in zip(self.offsets, self.n_slots, strict=True))
        self.positions = nn.ModuleList(head(self.offsets[j] + self.n_slots[j], 1) for j in layout.numeric)
        self.numeric = layout.numeric

    def column_shift(self, j: int, inputs: torch.Tensor) -> torch.Tensor:
        prefix = inputs[:, : self.offsets[j]] if self.offsets[j] else torch.zeros_like(inputs[:, :1])
        out: torch.Tensor = self.columns[j](prefix)
        return out

    def position_shift(self, k: int, inputs: torch.Tensor) -> torch.Tensor:
        j = self.numeric[k]
        out: torch.Tensor = self.positions[k](inputs[:, : self.offsets[j] + self.n_slots[j]])
        return out

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.cat([self.column_shift(j, inputs) for j in range(len(self.columns))], dim=1)
        if not self.numeric:
            return logits, inputs[:, :0]
        return logits, torch.cat([self.position_shift(k, inputs) for k in range(len(self.numeric))], dim=1)


class _VAE(nn.Module):
    def __init__(self, layout: Layout, d_cond: int, config: TVAEConfig) -> None:
        super().__init__()
        d_heads = layout.onehot_dim + 2 * layout.n_numeric
        self.encoder = _mlp(layout.dense_dim + d_cond, config.hidden, 2 * config.latent)
        self.decoder = _mlp(config.latent + d_cond, config.hidden, d_heads)
        self.ar = _AutoregressiveHeads(layout, d_cond, config.ar_hidden) if config.autoregressive else None
        self.onehot_dim, self.n_numeric = layout.onehot_dim, layout.n_numeric

    def forward(self, x: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mu, logvar = self.encoder(torch.cat([x, cond], dim=1)).chunk(2, dim=1)
        logvar = logvar.clamp(-10.0, 10.0)
        z = mu + noise * torch.exp(0.5 * logvar)
        heads = self.decoder(torch.cat([z, cond], dim=1))
        if self.ar is not None:  # teacher forcing: the shifts see the record's own earlier columns
            logits, positions = self.ar(torch.cat([cond, x[:, : self.onehot_dim]], dim=1))
            shift = torch.cat([logits, positions, torch.zeros_like(positions)], dim=1)
            heads = heads + shift
        return heads, mu, logvar

    def decode(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.decoder(torch.cat([z, cond], dim=1))
        return out


class TVAEModel:
    """The DP-TVAE network, its loss and its sampler, over a :class:`Layout`."""

    def __init__(self, layout: Layout, cond_columns: tuple[int, ...], config: TVAEConfig, generator: torch.Generator):
        self.layout = layout
        self.cond_columns = cond_columns
        self.config = config
        d_cond = sum(layout.n_slots[c] for c in cond_columns)
        self.net = _VAE(layout, d_cond, config)
        init_linear_layers(self.net, generator)
        self._cond_offsets = [sum(layout.n_slots[c] for c in cond_columns[:i]) for i in range(len(cond_columns))]

    # ---- conditions ------------------------------------------------------------------
    def condition(self, slots: dict[int, torch.Tensor], n_rows: int, device: torch.device) -> torch.Tensor:
        """Condition vector; columns absent from ``slots`` are hidden (all zeros)."""
        width = sum(self.layout.n_slots[c] for c in self.cond_columns)
        cond = torch.zeros((n_rows, width), device=device)
        for i, col in enumerate(self.cond_columns):
            if col in slots:
                cond.scatter_(1, (slots[col] + self._cond_offsets[i]).view(-1, 1), 1.0)
        return cond

    def _training_condition(self, table: TensorTable, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        # The first conditioning column (the target) is always given; the others are hidden at
        # random so they can be left to the model at sampling time.
        keep = torch.rand((len(rows), len(self.cond_columns)), generator=generator, device=table.device)
        if self.config.target_dropout == 0.0:
            keep[:, :1] = 1.0
        else:  # rescale so the target is hidden with probability target_dropout
            keep[:, :1] = keep[:, :1] * self.config.condition_dropout / self.config.target_dropout
        cond = self.condition({c: table.slots[rows, c] for c in self.cond_columns}, len(rows), table.device)
        if not self.cond_columns:
            return cond
        mask = torch.cat(
            [
                (keep[:, i : i + 1] >= self.config.condition_dropout).float().expand(-1, self.layout.n_slots[c])
                for i, c in enumerate(self.cond_columns)
            ],
            dim=1,
        )
        return cond * mask

    # ---- training ---------------------------------------------------------------------
    def forward_fn(self, table: TensorTable, generator: torch.Generator) -> Any:
        def forward(module: nn.Module, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
            x = table.dense(rows)
            cond = self._training_condition(table, rows, generator)
            noise = torch.randn((len(rows), self.config.latent), generator=generator, device=table.device)
            return tuple(module(x, cond, noise))

        return forward

    def loss_fn(self, table: TensorTable) -> Any:
        layout = self.layout

        def loss(outputs: tuple[torch.Tensor, ...], rows: torch.Tensor) -> torch.Tensor:
            heads, mu, logvar = outputs
            slots = table.slots[rows]
            recon = torch.zeros(len(rows), device=heads.device)
            for j, (start, width) in enumerate(zip(layout.offsets, layout.n_slots, strict=True)):
                recon = recon + F.cross_entropy(heads[:, start : start + width], slots[:, j], reduction="none")
            if layout.n_numeric:
                k, base = layout.n_numeric, layout.onehot_dim
                mean, log_scale = heads[:, base : base + k], heads[:, base + k : base + 2 * k].clamp(-6.0, 2.0)
                z = (table.positions[rows] - torch.tanh(mean)) * torch.exp(-log_scale)
                nll = 0.5 * z**2 + log_scale
                recon = recon + (nll * table.interval_mask[rows]).sum(dim=1)
            kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(dim=1)
            return recon + self.config.kl_weight * kl

        return loss

    @torch.no_grad()
    def record_loss(self, table: TensorTable, *, n_draws: int = 8, generator: torch.Generator) -> torch.Tensor:
        """Each row's training loss (negative ELBO), every condition given, averaged over latent draws.

        Post-processing of the trained weights: the white-box score of ``tabsynth audit-dp`` (a
        record the model memorised has a low loss). ``n_draws`` latent draws per row smooth the
        reparameterisation noise; the conditions are not dropped.
        """
        rows = torch.arange(len(table), device=table.device)
        x = table.dense(rows)
        cond = self.condition({c: table.slots[rows, c] for c in self.cond_columns}, len(rows), table.device)
        loss = self.loss_fn(table)
        total = torch.zeros(len(rows), device=table.device)
        for _ in range(n_draws):
            noise = torch.randn((len(rows), self.config.latent), generator=generator, device=table.device)
            total += loss(tuple(self.net(x, cond, noise)), rows)
        return total / n_draws

    # ---- sampling ---------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n_rows: int, fixed: dict[int, torch.Tensor], generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(slots, positions) for ``n_rows``; columns in ``fixed`` take the given slots exactly."""
        layout = self.layout
        z = torch.randn((n_rows, self.config.latent), generator=generator, device=device)
        cond = self.condition({c: s for c, s in fixed.items() if c in self.cond_columns}, n_rows, device)
        heads = self.net.decode(z, cond)
        ar = self.net.ar
        d_cond = cond.shape[1]
        inputs = torch.zeros((n_rows, d_cond + layout.onehot_dim), device=device)  # [condition, one-hots so far]
        inputs[:, :d_cond] = cond
        rows = torch.arange(n_rows, device=device)
        slots = torch.empty((n_rows, len(layout.n_slots)), dtype=torch.long, device=device)
        for j, (start, width) in enumerate(zip(layout.offsets, layout.n_slots, strict=True)):
            if j in fixed:
                slots[:, j] = fixed[j]
            else:
                logits = heads[:, start : start + width]
                if ar is not None:
                    logits = logits + ar.column_shift(j, inputs)
                slots[:, j] = gumbel_argmax(without_slots(logits, layout.unsupported(j)), generator)
            inputs[rows, d_cond + start + slots[:, j]] = 1.0
        k, base = layout.n_numeric, layout.onehot_dim
        mean, log_scale = heads[:, base : base + k], heads[:, base + k : base + 2 * k].clamp(-6.0, 2.0)
        if ar is not None and k:
            mean = mean + torch.cat([ar.position_shift(i, inputs) for i in range(k)], dim=1)
        noise = torch.randn(mean.shape, generator=generator, device=device)
        positions = (torch.tanh(mean) + noise * torch.exp(log_scale)).clamp(-1.0, 1.0)
        return slots, positions

    # ---- the generator protocol (fit / state) ------------------------------------------
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
        """Train encoder and decoder together under DP-SGD (both see records)."""
        self.net.to(table.device)
        return train(
            self.net,
            forward=self.forward_fn(table, generator),
            loss=self.loss_fn(table),
            n_rows=len(table),
            generator=generator,
            device=table.device,
            n_rows_estimate=n_rows_estimate,
            ledger=ledger,
            config=config,
            callback=callback,
            progress=progress,
            distributed=distributed,
            entities=entities,
        )

    def modules(self) -> dict[str, nn.Module]:
        return {"vae": self.net}
