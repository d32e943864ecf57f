"""DCR share is not diluted: every training row is a reference, and unequal sides are normalised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig
from tabsynth.audit._data import prepare
from tabsynth.audit.privacy import _normalised, dcr_share, draw_samples

CONFIG = AuditConfig(n_bootstrap=100)


def _dcr(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, config: AuditConfig = CONFIG):  # type: ignore[no-untyped-def]
    data = prepare(train, synthetic, holdout=holdout, target="label", sensitive=["group"], schema=None, config=config)
    samples = draw_samples(data, config, np.random.default_rng(0))
    return dcr_share(data, samples, config, np.random.default_rng(1))


def test_the_normalisation_maps_the_null_to_one_half_and_keeps_the_ends() -> None:
    assert _normalised(0.75, 0.75) == pytest.approx(0.5)
    assert _normalised(1.0, 0.75) == pytest.approx(1.0) and _normalised(0.0, 0.75) == pytest.approx(0.0)
    assert _normalised(0.875, 0.75) == pytest.approx(0.75)  # halfway from the null to 1
    assert _normalised(0.3, 0.5) == pytest.approx(0.3)  # equal sides: unchanged


def test_a_verbatim_copy_of_a_training_table_larger_than_the_holdout_reads_at_least_0_9(
    train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    small_holdout = holdout.iloc[:150]  # 600 training rows against 150 holdout rows
    result = _dcr(train, train, small_holdout)
    assert result.value >= 0.9 and result.ci is not None and result.ci[0] >= 0.9
    assert result.details["n_train_rows"] == len(train) and result.details["null_share"] == pytest.approx(0.8)
    assert result.details["estimated_memorised_share"] >= 0.9


def test_a_fresh_sample_still_reads_one_half_with_unequal_sides(
    train: pd.DataFrame, holdout: pd.DataFrame, fresh: pd.DataFrame
) -> None:
    result = _dcr(train, fresh, holdout.iloc[:150])
    assert result.ci is not None and result.ci[0] <= 0.5 <= result.ci[1], (result.value, result.ci)
    assert result.details["raw_share"] > 0.6  # the raw share of a fresh table is the null 0.8, not 0.5
    assert result.ci[1] - result.ci[0] < 0.3
