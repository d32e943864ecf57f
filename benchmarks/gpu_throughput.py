"""DP-TVAE training throughput (rows/s) on GPU, on CPU, and data-parallel under torchrun.

Usage (from the repo root):

    python benchmarks/gpu_throughput.py                                 # auto device (CUDA if present)
    python benchmarks/gpu_throughput.py --device cpu --rows 8000 --batch-sizes 512 2048
    torchrun --nproc_per_node 2 benchmarks/gpu_throughput.py --device cpu   # gloo on CPU, nccl on GPUs

Trains DP-TVAE (epsilon 1, the bundled Adult table with its public schema, tiled to --rows)
for --epochs at each expected batch size, and prints one JSON line per run: rows/s over the
training loop (summed over ranks under torchrun), fit seconds, the micro-batch size used and,
on CUDA, the peak GPU memory. Under torchrun rank 0 alone prints and writes --out.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from tabsynth.distributed import current, init_distributed, shutdown_distributed
from tabsynth.schema import load_schema
from tabsynth.synthesizers import Synthesizer
from tabsynth.synthesizers._trainer import physical_batch_size

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tabsynth" / "data"


def _table(n_rows: int) -> pd.DataFrame:
    adult = pd.read_parquet(DATA / "adult.parquet")
    reps = -(-n_rows // len(adult))
    return pd.concat([adult] * reps, ignore_index=True).iloc[:n_rows]


def _run(frame: pd.DataFrame, batch_size: int, args: argparse.Namespace) -> dict[str, Any]:
    dist = current()
    schema = load_schema(DATA / "adult_schema.yaml")
    synth = Synthesizer(
        "dp-tvae",
        epsilon=1.0,
        delta=1e-6,
        random_state=0,
        epochs=args.epochs,
        batch_size=batch_size,
        device=args.device,
        max_physical_batch_size=args.max_physical_batch_size,
    )
    cuda = torch.cuda.is_available() and args.device != "cpu"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(frame, schema, target="income")
    if cuda:
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - started
    result = synth.train_result_
    assert result is not None
    rate = torch.tensor([result.rows_per_second], dtype=torch.float64)
    if dist is not None:  # each rank processes its shard: the table's rate is the sum
        import torch.distributed as tdist

        tdist.all_reduce(rate)
    config = synth._training_config(synth.transformer_.n_rows_estimate_)
    return {
        "device": str(synth.device_),
        "device_name": torch.cuda.get_device_name(synth.device_) if synth.device_.type == "cuda" else "cpu",
        "world_size": result.world_size,
        "rows": len(frame),
        "batch_size": config.batch_size,
        "max_physical_batch_size": physical_batch_size(config, synth.device_),
        "epochs": args.epochs,
        "steps": result.steps,
        "noise_multiplier": round(result.noise_multiplier or 0.0, 4),
        "epsilon_spent": round(synth.privacy_spent()["epsilon"], 4),
        "rows_per_second": round(float(rate.item())),
        "fit_seconds": round(fit_s, 2),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--max-physical-batch-size", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="Also write the runs to this JSON file.")
    args = parser.parse_args()
    dist = init_distributed()  # None unless launched by torchrun with several processes
    is_main = dist is None or dist.is_main
    frame = _table(args.rows)
    runs = []
    try:
        for batch_size in args.batch_sizes:
            runs.append(_run(frame, batch_size, args))
            if is_main:
                print(json.dumps(runs[-1]), flush=True)
    finally:
        shutdown_distributed()
    if args.out is not None and is_main:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
