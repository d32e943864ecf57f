"""On a CUDA device: data and model stay on the GPU, large Poisson batches run as micro-batches
with the same release as one batch, and rows/s are reported. Deselected by default (-m gpu)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tabsynth.privacy import PrivacyLedger
from tabsynth.synthesizers import Synthesizer
from tabsynth.synthesizers._nn import init_linear_layers
from tabsynth.synthesizers._trainer import TrainingConfig, train

from ..conftest import make_frame

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _toy_fit(physical: int | None) -> tuple[nn.Module, PrivacyLedger]:
    device = torch.device("cuda")
    data = torch.randn(4000, 8, generator=torch.Generator(device=device).manual_seed(0), device=device)
    module = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 1))
    init_linear_layers(module, torch.Generator().manual_seed(1))
    module.to(device)

    def forward(m: nn.Module, rows: torch.Tensor) -> torch.Tensor:
        assert rows.device.type == "cuda"  # batches are drawn and built on the GPU
        return m(data[rows]).squeeze(1)

    ledger = PrivacyLedger(epsilon=5.0, delta=1e-6)
    train(
        module,
        forward=forward,
        loss=lambda out, rows: (out - data[rows, 0]) ** 2,
        n_rows=4000,
        n_rows_estimate=4000,
        ledger=ledger,
        config=TrainingConfig(epochs=2, batch_size=2000, max_physical_batch_size=physical, device="cuda"),
        generator=torch.Generator(device=device).manual_seed(2),
        device=device,
    )
    return module, ledger


def test_micro_batches_on_cuda_release_the_same_update() -> None:
    whole, ledger_whole = _toy_fit(4096)
    split, ledger_split = _toy_fit(300)
    for a, b in zip(whole.parameters(), split.parameters(), strict=True):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert ledger_split.to_json() == ledger_whole.to_json()


def test_synthesizer_trains_on_the_gpu_with_large_batches() -> None:
    frame = make_frame(3000)
    synth = Synthesizer(
        epsilon=3.0, random_state=0, epochs=2, batch_size=2048, max_physical_batch_size=512, device="cuda"
    )
    synth.fit(frame, target="label")
    assert synth.device_.type == "cuda"
    assert all(p.device.type == "cuda" for m in synth.generator_.modules().values() for p in m.parameters())
    result = synth.train_result_
    assert result is not None and result.rows_per_second > 0
    assert synth.privacy_spent()["epsilon"] <= 3.0 + 1e-9
    assert len(synth.sample(500)) == 500
