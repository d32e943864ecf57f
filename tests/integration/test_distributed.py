"""Data-parallel DP training on CPU with two processes and the gloo backend.

* The Opacus distributed optimizer, as the trainer wires it, releases exactly the
  single-process update: the clipped sums of the ranks' rows divided by the *global* expected
  batch, plus the Gaussian noise once (std ``noise_multiplier * max_grad_norm``, from rank 0).
* ``tabsynth fit`` under ``torchrun --nproc_per_node 2`` trains, writes one model whose ledger
  equals the single-process run's with the same settings, and the model samples.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from tabsynth import Synthesizer
from tabsynth.distributed import DistributedInfo
from tabsynth.exceptions import ConfigError
from tabsynth.synthesizers._nn import init_linear_layers
from tabsynth.synthesizers._trainer import TrainingConfig, _Criterion, _make_private, _step

from ..conftest import make_frame
from ..contract.test_synthesizer_contract import SCHEMA

WORLD = 2
N_ROWS = 40
CLIP = 0.5


def _problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    module = nn.Linear(6, 50)
    init_linear_layers(module, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    return module, torch.randn(N_ROWS, 6, generator=gen), torch.randn(N_ROWS, 50, generator=gen)


def _gradients(
    sigma: float, rows: torch.Tensor, info: DistributedInfo | None, physical: int | None
) -> list[torch.Tensor]:
    """The update the DP optimizer hands to the wrapped optimizer (SGD with lr 0 leaves the weights)."""
    module, x, y = _problem()
    criterion = _Criterion(lambda out, r: ((out - y[r]) ** 2).sum(1))
    config = TrainingConfig(epochs=1, batch_size=N_ROWS, max_grad_norm=CLIP)
    model, optimizer, criterion = _make_private(
        module,
        torch.optim.SGD(module.parameters(), lr=0.0),
        criterion,
        sigma,
        config,
        torch.Generator().manual_seed(5),
        info,
    )
    _step(model, optimizer, criterion, lambda m, r: m(x[r]), rows, physical, info)
    return [p.grad.detach().clone() for p in module.parameters()]


def _worker(rank: int, store: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    info = DistributedInfo(rank, WORLD, 0)
    shard = torch.arange(rank, N_ROWS, WORLD)
    results: dict[str, Any] = {
        "clipped": _gradients(0.0, shard, info, None),
        "clipped_micro": _gradients(0.0, shard, info, 3),  # micro-batches of 3 rows on each rank
        "one_empty": _gradients(0.0, shard if rank == 1 else shard[:0], info, None),
        "noise": _gradients(1.0, shard[:0], info, None),  # both ranks empty: the noise alone
    }
    try:  # dp-ctgan's generator step is outside DP-SGD: refused under torchrun, before any spend
        Synthesizer("dp-ctgan", epsilon=1.0, random_state=0).fit(make_frame(60), target="label")
    except ConfigError as exc:
        results["ctgan_refused"] = "dp-tvae under torchrun" in str(exc)
    torch.save(results, Path(out) / f"rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(str(tmp / "store"), str(tmp)), nprocs=WORLD, join=True)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def test_dp_ctgan_is_refused_on_every_rank(ranks: list[dict[str, Any]]) -> None:
    assert [r.get("ctgan_refused") for r in ranks] == [True, True]


def test_ranks_end_with_the_same_update(ranks: list[dict[str, Any]]) -> None:
    for key in ("clipped", "clipped_micro", "one_empty", "noise"):
        for a, b in zip(ranks[0][key], ranks[1][key], strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_summed_update_equals_the_single_process_update(ranks: list[dict[str, Any]]) -> None:
    everyone = _gradients(0.0, torch.arange(N_ROWS), None, None)
    only_rank1 = _gradients(0.0, torch.arange(1, N_ROWS, WORLD), None, None)
    for key, expected in (("clipped", everyone), ("clipped_micro", everyone), ("one_empty", only_rank1)):
        for got, want in zip(ranks[0][key], expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    assert any(float(g.abs().max()) > 1e-3 for g in everyone)  # not vacuous: rows do move the update


def test_noise_is_added_once_with_the_single_process_std(ranks: list[dict[str, Any]]) -> None:
    # the released update is noise / global expected batch; noise std = sigma * C (sigma = 1)
    noise = torch.cat([g.flatten() for g in ranks[0]["noise"]]) * N_ROWS
    assert noise.numel() == 350
    assert float(noise.mean().abs()) < 0.1 * CLIP
    # one noise draw: std C (each rank adding its own would give sqrt(2) C)
    assert float(noise.std()) == pytest.approx(CLIP, rel=0.12)


# ---- the CLI under torchrun ---------------------------------------------------------------
def _fit(args: list[str], cwd: Path, *, world: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    tabsynth = [sys.executable, "-c", "from tabsynth.cli.main import main; main()"]
    if world > 1:  # --standalone: a local rendezvous on a free port
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(world)]
        cmd = [*launcher, "--no-python", *tabsynth, *args]
    else:
        cmd = [*tabsynth, *args]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def test_torchrun_fit_matches_the_single_process_ledger_and_samples(tmp_path: Path) -> None:
    frame = make_frame(400, seed=3)
    frame.to_csv(tmp_path / "t.csv", index=False)
    SCHEMA.save(tmp_path / "s.yaml")  # declared bounds and categories: 400 rows are too few to estimate them
    common = ["fit", "t.csv", "--schema", "s.yaml", "--epsilon", "4", "--target", "label", "--epochs", "2"]
    common += ["--seed", "11", "--device", "cpu", "--no-stratify", "--filter"]  # torchrun trains one joint model
    single = _fit([*common, "--out", "one"], tmp_path, world=1)
    assert single.returncode == 0, single.stderr
    multi = _fit([*common, "--out", "two"], tmp_path, world=WORLD)
    assert multi.returncode == 0, multi.stdout + multi.stderr
    assert multi.stdout.count("Model written to") == 1  # rank 0 alone prints and writes

    one = json.loads((tmp_path / "one" / "manifest.json").read_text())
    two = json.loads((tmp_path / "two" / "manifest.json").read_text())

    # The DP noise is secret, so two fits never release the same numbers; they spend the same
    # mechanisms in the same order within the same budget. (Inside one torchrun job every rank
    # shares rank 0's secret key: fit refuses when the ranks' DP statistics differ.)
    # The quality filter's exponential mechanism may pick other pairs in another fit: pair labels
    # are compared as "a pair", everything else exactly.
    def labels(manifest: dict) -> list[list[str]]:
        def name(label: str) -> str:
            return "marginal:<pair>" if label.startswith("marginal:") and "x" in label[9:] else label

        return [[name(e["label"]), e["event"]["type"]] for e in manifest["ledger"]["entries"]]

    assert labels(two) == labels(one)
    assert any(label == "marginal:select:1" for label, _ in labels(one))
    assert two["ledger"]["is_dp"] and two["ledger"]["epsilon"] <= 4 + 1e-9
    assert two["training"]["world_size"] == WORLD and one["training"]["world_size"] == 1
    assert two["transformer"]["schema"] == one["transformer"]["schema"]

    synth = Synthesizer.load(tmp_path / "two", device="cpu")
    sample = synth.sample(50, random_state=0)
    assert len(sample) == 50 and {"age", "income", "label"} <= set(sample.columns)
