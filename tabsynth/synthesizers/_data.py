"""The encoded table on the training device, and the layouts generators share.

Generators see a dense layout per row: for each modelled column a one-hot block over its
slots, then one position per numeric column. ``TensorTable`` keeps the compact encoding on
the device and builds dense batches with one scatter, so data never leaves the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..transform import DPTableTransformer, EncodedTable, NumericEncoder

__all__ = ["Layout", "TensorTable"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Offsets of each column's one-hot block and the numeric columns' interval slots."""

    n_slots: tuple[int, ...]  # per modelled column
    offsets: tuple[int, ...]  # start of each column's block in the one-hot part
    numeric: tuple[int, ...]  # modelled-column index of each numeric column
    interval_slots: tuple[tuple[int, int], ...]  # [first, last+1) slots that are intervals, per numeric
    marginals: tuple[tuple[float, ...], ...] = ()  # DP (or public) share of each slot, per column

    @property
    def onehot_dim(self) -> int:
        return sum(self.n_slots)

    @property
    def n_numeric(self) -> int:
        return len(self.numeric)

    @property
    def dense_dim(self) -> int:
        return self.onehot_dim + self.n_numeric

    def unsupported(self, j: int) -> tuple[int, ...]:
        """Slots of column ``j`` whose DP (or public) share is zero, when another slot has mass.

        Sampling never draws them: the DP evidence shows no row there (e.g. the letters F and G
        of an adopted ``letter_grades`` vocabulary in a column that holds A to E only).
        """
        if j >= len(self.marginals):
            return ()
        shares = self.marginals[j]
        if not any(m > 0 for m in shares):
            return ()
        return tuple(i for i, m in enumerate(shares) if not m > 0)

    @classmethod
    def from_transformer(cls, transformer: DPTableTransformer) -> Layout:
        n_slots = tuple(e.n_slots for e in transformer.encoders_)
        offsets = tuple(int(x) for x in np.cumsum((0, *n_slots[:-1])))
        numeric = transformer.numeric_columns
        intervals = []
        for j in numeric:
            enc = transformer.encoders_[j]
            assert isinstance(enc, NumericEncoder)
            intervals.append((len(enc.atoms), len(enc.atoms) + len(enc.edges) - 1))
        marginals = tuple(tuple(e.marginal) for e in transformer.encoders_)
        return cls(n_slots, offsets, numeric, tuple(intervals), marginals)


class TensorTable:
    """Compact encoded rows on a device, with dense batches on demand."""

    def __init__(self, encoded: EncodedTable, layout: Layout, device: torch.device) -> None:
        self.layout = layout
        self.device = device
        self.slots = torch.as_tensor(encoded.slots, dtype=torch.long, device=device)
        self.positions = torch.as_tensor(encoded.positions, dtype=torch.float32, device=device)
        self._offsets = torch.as_tensor(layout.offsets, dtype=torch.long, device=device)
        if layout.n_numeric:
            num_slots = self.slots[:, list(layout.numeric)]
            lo = torch.as_tensor([a for a, _ in layout.interval_slots], device=device)
            hi = torch.as_tensor([b for _, b in layout.interval_slots], device=device)
            self.interval_mask = ((num_slots >= lo) & (num_slots < hi)).float()
        else:
            self.interval_mask = torch.zeros((len(self.slots), 0), device=device)

    def __len__(self) -> int:
        return int(self.slots.shape[0])

    def subset(self, rows: torch.Tensor) -> TensorTable:
        """The given rows as a table of their own (e.g. one target class)."""
        out = TensorTable.__new__(TensorTable)
        out.layout, out.device, out._offsets = self.layout, self.device, self._offsets
        out.slots, out.positions = self.slots[rows], self.positions[rows]
        out.interval_mask = self.interval_mask[rows]
        return out

    def dense(self, rows: torch.Tensor) -> torch.Tensor:
        """One-hot blocks followed by positions, for the given row indices."""
        slots = self.slots[rows]
        out = torch.zeros((len(rows), self.layout.dense_dim), device=self.device)
        out.scatter_(1, slots + self._offsets, 1.0)
        out[:, self.layout.onehot_dim :] = self.positions[rows]
        return out


def onehot_from_slots(slots: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Dense one-hot blocks for slot indices (e.g. condition vectors)."""
    offsets = torch.as_tensor(layout.offsets, dtype=torch.long, device=slots.device)
    out = torch.zeros((slots.shape[0], layout.onehot_dim), device=slots.device)
    out.scatter_(1, slots + offsets, 1.0)
    return out
