"""Small, seeded tables for the audit tests (built here; tests never read /work/shared)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig

N_ROWS = 600


def population(n_rows: int, seed: int) -> pd.DataFrame:
    """A correlated table: two strongly related numbers, two associated categories, a label."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_rows)
    income = np.round(20 + 0.8 * age + rng.normal(0, 8, n_rows), 3)
    group = rng.choice(["a", "b", "c"], n_rows, p=[0.6, 0.3, 0.1])
    region = np.where(
        rng.random(n_rows) < 0.85,
        np.where(group == "a", "north", "south"),
        rng.choice(["north", "south", "east"], n_rows),
    )
    hours = np.round(30 + 10 * (group == "a") + rng.normal(0, 5, n_rows), 2)
    label = np.where(income + 6 * (group == "a") + rng.normal(0, 5, n_rows) > 62, "yes", "no")
    return pd.DataFrame(
        {"age": age, "income": income, "group": group, "region": region, "hours": hours, "label": label}
    )


def perturbed_copy(frame: pd.DataFrame, seed: int, *, cell_share: float = 0.05) -> pd.DataFrame:
    """Numbers jittered a little (1% of their spread), and 5% of all cells replaced by another row's value."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for col in ("income", "hours"):
        out[col] = out[col] + rng.normal(0, 0.01 * out[col].std(), len(out))
    for col in out.columns:
        change = rng.random(len(out)) < cell_share
        donors = rng.integers(0, len(out), int(change.sum()))
        out.loc[change, col] = frame[col].to_numpy()[donors]
    return out


def shuffled_columns(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column permuted on its own: every marginal kept, every relation destroyed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})


@pytest.fixture(scope="session")
def train() -> pd.DataFrame:
    return population(N_ROWS, seed=1)


@pytest.fixture(scope="session")
def holdout() -> pd.DataFrame:
    return population(N_ROWS, seed=2)


@pytest.fixture(scope="session")
def fresh() -> pd.DataFrame:
    """Another real sample from the same population: what a perfect generator would output."""
    return population(N_ROWS, seed=3)


@pytest.fixture(scope="session")
def fast_config() -> AuditConfig:
    return AuditConfig(n_attacks=300, singling_out_max_attempts=20_000, detection_folds=3, n_bootstrap=100)
