"""Data-parallel DP training across processes (``torchrun``), one process per GPU or CPU worker.

Run any tabsynth program unchanged under ``torchrun --nproc_per_node N``: call
:func:`init_distributed` first (the ``tabsynth fit`` command does), then ``Synthesizer.fit``
trains data-parallel and every rank ends with the same model; only the main rank should write
or print (:func:`is_main_process`).

The privacy argument (what :mod:`tabsynth.synthesizers._trainer` does with this context):

* Every rank reads the whole table and fits the DP transformer with the *same* seed (rank 0's,
  broadcast), so the noisy preprocessing statistics are released once, identically on all
  ranks; the ledgers are compared across ranks before training.
* Rank ``r`` owns the rows ``r, r + N, r + 2N, ...`` and Poisson-samples them at the global
  rate ``q`` with its own random stream, so the union of the local batches is a Poisson
  sample of the whole table at rate ``q``: the event the accountant composes, exactly as in
  one process with the same expected batch size.
* Opacus's distributed optimizer adds the Gaussian noise on rank 0 only and sums the
  clipped gradient sums of all ranks, so the summed update carries exactly the
  single-process noise (std ``noise_multiplier * max_grad_norm``) once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from .exceptions import ConfigError

__all__ = ["DistributedInfo", "current", "init_distributed", "is_main_process", "shutdown_distributed"]


@dataclass(frozen=True, slots=True)
class DistributedInfo:
    """This process's place in the process group."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def check_same(self, obj: Any, what: str) -> None:
        """Raise on every rank when ``obj`` differs between ranks (compared by digest)."""
        import torch.distributed as dist

        digest = sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
        digests: list[Any] = [None] * self.world_size
        dist.all_gather_object(digests, digest)
        if len(set(digests)) != 1:
            raise ConfigError(
                f"{what} differs between ranks: every rank must read the same table with the same settings."
            )


def _env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE must be an integer, got {os.environ['WORLD_SIZE']!r}.") from None


def current() -> DistributedInfo | None:
    """The process group's view when more than one process trains, else ``None``.

    Raises ``ConfigError`` when launched by ``torchrun`` with several processes but the process
    group was never initialised: each rank would otherwise train (and spend the budget) alone.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() == 1:
            return None
        return DistributedInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if _env_world_size() > 1:
        raise ConfigError(
            "Launched with WORLD_SIZE > 1 but torch.distributed is not initialised: call "
            "tabsynth.distributed.init_distributed() before fitting."
        )
    return None


def init_distributed(backend: str | None = None) -> DistributedInfo | None:
    """Join the process group that ``torchrun`` describes in the environment.

    Args:
        backend: ``"nccl"`` or ``"gloo"``; default NCCL when CUDA is available, else gloo.

    Returns:
        This process's :class:`DistributedInfo`, or ``None`` when not launched with more than
        one process (then nothing is initialised and training runs in this process alone).
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        if _env_world_size() <= 1:
            return None
        if not dist.is_available():
            raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed support.")
        cuda = torch.cuda.is_available()
        if cuda:  # one GPU per process: 'auto' and 'cuda' then mean this rank's GPU
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend or ("nccl" if cuda else "gloo"))
    return current()


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a process group (the one that writes and prints)."""
    info = current()
    return info is None or info.is_main


def shutdown_distributed(*, barrier: bool = True) -> None:
    """Leave the process group (after a barrier, so rank 0 has finished writing); no-op without one.

    Pass ``barrier=False`` on an error path, where the other ranks may never reach the barrier.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
