"""DP-CTGAN defaults and its generator's training conditions (post-processing of DP marginals)."""

from __future__ import annotations

import pytest
import torch

from tabsynth.exceptions import ConfigError
from tabsynth.synthesizers._trainer import epochs_for_min_steps as _epochs_for_min_steps
from tabsynth.synthesizers.ctgan import CTGANConfig, _tilted


def test_small_tables_get_enough_steps() -> None:
    # 7,000 rows, batch 1,024: rate 0.1463, so 1,000 steps need ceil(146.3) = 147 epochs
    assert _epochs_for_min_steps(20, batch_size=1024, n_rows=7000, min_steps=1000) == 147
    # 32,000 rows: rate 0.032, 1,000 steps are 32 epochs; 40 default epochs already give more
    assert _epochs_for_min_steps(20, batch_size=1024, n_rows=32000, min_steps=1000) == 32
    assert _epochs_for_min_steps(40, batch_size=1024, n_rows=32000, min_steps=1000) == 40
    assert _epochs_for_min_steps(20, batch_size=1024, n_rows=7000, min_steps=0) == 20
    # fewer rows than one batch: every step is a full pass (rate 1)
    assert _epochs_for_min_steps(5, batch_size=128, n_rows=50, min_steps=30) == 30


def test_tilted_conditions_by_hand() -> None:
    marginal = torch.tensor([0.9, 0.1, 0.0])
    # sqrt(0.9) = 0.9487, sqrt(0.1) = 0.3162: shares 0.75 and 0.25; the empty slot stays empty
    torch.testing.assert_close(_tilted(marginal, 0.5), torch.tensor([0.75, 0.25, 0.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(_tilted(marginal, 0.0), torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(_tilted(marginal, 1.0), marginal)


def test_importance_weights_take_tilted_conditions_back_to_the_marginal() -> None:
    marginal = torch.tensor([0.9, 0.1, 0.0])
    tilted = _tilted(marginal, 0.5)
    weights = marginal / tilted.clamp_min(1e-12)  # what the marginal loss uses per generated row
    torch.testing.assert_close(weights[:2], torch.tensor([1.2, 0.4]), atol=1e-4, rtol=0)
    assert float((tilted * weights).sum()) == pytest.approx(1.0)  # mean weight 1: an unbiased mixture
    torch.testing.assert_close(tilted * weights / (tilted * weights).sum(), marginal)


@pytest.mark.parametrize("power", [-0.1, 1.5])
def test_condition_power_out_of_range(power: float) -> None:
    with pytest.raises(ConfigError, match="condition_power must be in"):
        CTGANConfig(condition_power=power)


def test_dp_ctgan_default_epochs_grow_on_small_tables_but_never_override_the_user() -> None:
    from tabsynth.synthesizers import Synthesizer

    # 7,000 rows: the DP batch rule picks 1,024 (about rows / 8), so 147 epochs reach 1,000 steps
    assert Synthesizer("dp-ctgan", epsilon=1.0)._training_config(7000).epochs == 147
    assert Synthesizer("dp-ctgan", epsilon=1.0, epochs=3)._training_config(7000).epochs == 3
    assert Synthesizer("dp-tvae", epsilon=1.0)._training_config(7000).epochs == 40  # no minimum for the VAE
    assert Synthesizer("dp-ctgan", epsilon=None)._training_config(7000).epochs == 60  # without DP: plain defaults
