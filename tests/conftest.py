"""Shared fixtures: small, seeded frames built in code (tests never read ../shared)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_frame(n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A small correlated table with every column kind tabsynth models, plus an id and nulls."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_rows)
    sex = rng.choice(["F", "M"], n_rows)
    income = np.round(20_000 + 900 * (age - 18) + rng.normal(0, 8_000, n_rows), 2)
    hours = np.where(rng.random(n_rows) < 0.5, 40, rng.integers(10, 70, n_rows))
    label = np.where(income + rng.normal(0, 5_000, n_rows) > 60_000, "yes", "no")
    city = rng.choice(["Paris", "Lyon", "Nice", "Lille"], n_rows, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    city[rng.random(n_rows) < 0.05] = None
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n_rows),
            "age": age,
            "sex": sex,
            "city": city,
            "hours": hours,
            "income": income,
            "member": rng.random(n_rows) < 0.3,
            "label": label,
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
