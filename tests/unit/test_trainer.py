"""The DP trainer's accounting: planned steps, empty Poisson batches, callbacks, device choice."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tabsynth.exceptions import ConfigError
from tabsynth.privacy import DPSGDEvent, PrivacyLedger
from tabsynth.synthesizers._nn import init_linear_layers
from tabsynth.synthesizers._trainer import EpochInfo, TrainingConfig, resolve_device, train


def _toy(n_rows: int) -> tuple[nn.Module, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(n_rows, 3, generator=gen)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), data


def test_every_planned_step_is_spent_once_even_on_empty_batches() -> None:
    module, data = _toy(200)
    ledger = PrivacyLedger(epsilon=50.0, delta=1e-6)
    seen: list[EpochInfo] = []
    # expected batch 2 of 200 rows: about 13% of the Poisson batches are empty (noise-only steps)
    result = train(
        module,
        forward=lambda m, rows: m(data[rows]).squeeze(1),
        loss=lambda out, rows: (out - data[rows, 0]) ** 2,
        n_rows=200,
        n_rows_estimate=200,
        ledger=ledger,
        config=TrainingConfig(epochs=2, batch_size=2, learning_rate=1e-2),
        generator=torch.Generator().manual_seed(1),
        device=torch.device("cpu"),
        callback=seen.append,
    )
    assert result.steps == 200  # epochs / sample_rate = 2 / 0.01
    assert ledger.entries[-1].event == DPSGDEvent(noise_multiplier=result.noise_multiplier, sample_rate=0.01, steps=200)
    assert ledger.spent()[0] <= 50.0 + 1e-9
    assert [i.epoch for i in seen] == [1, 2] and seen[-1].steps == 200
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_batchnorm_is_refused() -> None:
    from opacus.validators.errors import UnsupportedModuleError

    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with pytest.raises(UnsupportedModuleError):
        train(
            module,
            forward=lambda m, r: m(r),
            loss=lambda o, r: o.sum(1),
            n_rows=10,
            n_rows_estimate=10,
            ledger=PrivacyLedger(epsilon=1.0, delta=1e-6),
            config=TrainingConfig(epochs=1, batch_size=2),
            generator=torch.Generator(),
            device=torch.device("cpu"),
        )


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="Unknown device"):
        resolve_device("tpu9")


def _fit_toy(config: TrainingConfig, *, epsilon: float | None = 20.0) -> tuple[nn.Module, PrivacyLedger, object]:
    module, data = _toy(300)
    init_linear_layers(module, torch.Generator().manual_seed(2))  # same initial weights in every run
    ledger = PrivacyLedger(epsilon=epsilon, delta=1e-6)
    result = train(
        module,
        forward=lambda m, rows: m(data[rows]).squeeze(1),
        loss=lambda out, rows: (out - data[rows, 0]) ** 2,
        n_rows=300,
        n_rows_estimate=300,
        ledger=ledger,
        config=config,
        generator=torch.Generator().manual_seed(3),
        device=torch.device("cpu"),
    )
    return module, ledger, result


@pytest.mark.parametrize("physical", [1, 7, 32])
def test_micro_batches_release_the_same_update_as_one_batch(physical: int) -> None:
    """Splitting a logical Poisson batch (expected 60 rows) into micro-batches changes neither the
    parameters (same seed: same Poisson batches, same noise) nor the ledger."""
    whole, ledger_whole, res_whole = _fit_toy(TrainingConfig(epochs=2, batch_size=60, learning_rate=1e-2))
    split, ledger_split, res_split = _fit_toy(
        TrainingConfig(epochs=2, batch_size=60, learning_rate=1e-2, max_physical_batch_size=physical)
    )
    assert res_whole.steps == res_split.steps == 10
    for a, b in zip(whole.parameters(), split.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert ledger_split.to_json() == ledger_whole.to_json()
    assert [h.loss for h in res_split.history] == pytest.approx([h.loss for h in res_whole.history], rel=1e-5)


def test_micro_batches_without_dp_match_one_batch() -> None:
    with pytest.warns(Warning, match="NOT differentially private"):
        whole, _, _ = _fit_toy(TrainingConfig(epochs=1, batch_size=60), epsilon=None)
    with pytest.warns(Warning, match="NOT differentially private"):
        split, _, _ = _fit_toy(TrainingConfig(epochs=1, batch_size=60, max_physical_batch_size=16), epsilon=None)
    for a, b in zip(whole.parameters(), split.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_physical_batch_size_defaults_and_validation() -> None:
    from tabsynth.synthesizers._trainer import CUDA_PHYSICAL_BATCH_SIZE, physical_batch_size

    assert physical_batch_size(TrainingConfig(), torch.device("cpu")) is None
    assert physical_batch_size(TrainingConfig(), torch.device("cuda")) == CUDA_PHYSICAL_BATCH_SIZE
    assert physical_batch_size(TrainingConfig(max_physical_batch_size=64), torch.device("cuda")) == 64
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="max_physical_batch_size"):
            TrainingConfig(max_physical_batch_size=bad)


def test_rows_per_second_is_reported() -> None:
    _, _, result = _fit_toy(TrainingConfig(epochs=1, batch_size=60))
    assert result.rows_per_second > 0 and result.world_size == 1
    assert all(h.rows_per_second > 0 for h in result.history)


def test_the_library_never_prints_it_calls_back(capfd: pytest.CaptureFixture[str]) -> None:
    from tabsynth.synthesizers import Synthesizer
    from tests.conftest import make_frame
    from tests.contract.test_synthesizer_contract import SCHEMA

    seen: list[int] = []
    synth = Synthesizer(epsilon=5.0, epochs=2, batch_size=64, verbose=True, stratify=False)  # one model: 2 epochs
    synth.fit(make_frame(300), SCHEMA, callback=lambda info: seen.append(info.epoch))
    out, err = capfd.readouterr()
    assert seen == [1, 2] and out == "" and err == ""
