"""Neighbour-stable splits: each row's side depends only on that row and the secret key."""

from __future__ import annotations

import hmac

import numpy as np
import pandas as pd
import pytest

from tabsynth import split_holdout, subsample_rows
from tabsynth.exceptions import ConfigError
from tabsynth.split import row_uniforms
from tests.conftest import make_frame

KEY = bytes(range(32))


def _side(frame: pd.DataFrame, share: float, key: bytes = KEY) -> dict[int, str]:
    train, holdout = split_holdout(frame, share, key=key)
    return {**dict.fromkeys(train["customer_id"], "train"), **dict.fromkeys(holdout["customer_id"], "holdout")}


def test_hash_is_hmac_sha256_of_the_documented_serialization() -> None:
    frame = pd.DataFrame({"b": ["x"], "a": [12]})
    message = b"1:a3:n121:b2:sx"  # columns sorted; name and cell length-prefixed; n = number, s = text
    digest = hmac.digest(KEY, b"tabsynth/holdout/v1\x00" + message, "sha256")
    expected = (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    assert row_uniforms(frame, KEY, domain=b"tabsynth/holdout/v1\x00")[0] == expected
    train, holdout = split_holdout(frame, 0.5, key=KEY)
    assert (len(holdout), len(train)) == ((1, 0) if expected < 0.5 else (0, 1))


def test_adding_or_removing_one_row_moves_no_other_row() -> None:
    frame = make_frame(2000, seed=3)
    before = _side(frame, 0.3)
    extra = make_frame(1, seed=99).assign(customer_id=[-1])
    after = _side(pd.concat([frame, extra], ignore_index=True), 0.3)
    assert {k: v for k, v in after.items() if k != -1} == before
    removed = _side(frame.drop(index=[17]), 0.3)
    assert removed == {k: v for k, v in before.items() if k != frame.loc[17, "customer_id"]}


def test_a_null_that_changes_a_column_type_moves_no_other_row() -> None:
    frame = make_frame(500, seed=4)  # 'age' and 'hours' are int64
    extra = make_frame(1, seed=5).astype({"age": float}).assign(customer_id=[-1], age=[np.nan])
    grown = pd.concat([frame, extra], ignore_index=True)
    assert grown["age"].dtype == np.float64
    after = _side(grown, 0.3)
    assert {k: v for k, v in after.items() if k != -1} == _side(frame, 0.3)


def test_column_order_and_index_do_not_matter_and_index_is_kept() -> None:
    frame = make_frame(300, seed=6)
    shuffled = frame[frame.columns[::-1]].sample(frac=1.0, random_state=0)
    assert _side(shuffled, 0.4) == _side(frame, 0.4)
    train, holdout = split_holdout(shuffled, 0.4, key=KEY)
    assert sorted([*train.index, *holdout.index]) == sorted(frame.index)
    assert not set(train.index) & set(holdout.index)
    assert list(train.columns) == list(shuffled.columns)


def test_share_is_about_right_and_identical_rows_stay_together() -> None:
    frame = make_frame(10_000, seed=7)
    _, holdout = split_holdout(frame, 0.3, key=KEY)
    assert 0.27 < len(holdout) / len(frame) < 0.33  # binomial sd 0.0046
    twins = pd.concat([frame.head(50)] * 2, ignore_index=True)
    train, holdout = split_holdout(twins, 0.5, key=KEY)
    assert not set(train["customer_id"]) & set(holdout["customer_id"])


def test_different_keys_and_fresh_keys_give_different_splits() -> None:
    frame = make_frame(1000, seed=8)
    assert _side(frame, 0.5, KEY) != _side(frame, 0.5, bytes(32))
    first = split_holdout(frame, 0.5)[1].index
    second = split_holdout(frame, 0.5)[1].index
    assert list(first) != list(second)  # a fresh secret key each time (equal with probability ~2**-1000)


@pytest.mark.parametrize("share", [0, 1, -0.1, 1.5, "0.3", True])
def test_bad_share(share: object) -> None:
    with pytest.raises(ConfigError, match="share"):
        split_holdout(make_frame(10), share, key=KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [b"short", "a string key of more than 16 chars"])
def test_bad_key(key: object) -> None:
    with pytest.raises(ConfigError, match="key"):
        split_holdout(make_frame(10), 0.3, key=key)  # type: ignore[arg-type]


def test_subsample_is_neighbour_stable_with_a_public_count() -> None:
    frame = make_frame(5000, seed=9)
    kept = subsample_rows(frame, 1000, key=KEY, n_rows=5000)
    assert 850 < len(kept) < 1150  # about max_rows (binomial sd 28), not exactly
    grown = pd.concat([frame, make_frame(1, seed=1).assign(customer_id=[-1])], ignore_index=True)
    kept_after = subsample_rows(grown, 1000, key=KEY, n_rows=5000)
    assert set(kept_after["customer_id"]) - {-1} == set(kept["customer_id"])
    # domain-separated from the holdout split: a different selection with the same key
    _, holdout = split_holdout(frame, 0.2, key=KEY)
    assert set(holdout["customer_id"]) != set(kept["customer_id"])


def test_subsample_keeps_everything_below_max_rows_and_checks_arguments() -> None:
    frame = make_frame(100, seed=10)
    assert len(subsample_rows(frame, 500, key=KEY)) == 100
    for bad in (0, -5, 2.5):
        with pytest.raises(ConfigError, match="max_rows"):
            subsample_rows(frame, bad, key=KEY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_rows"):
        subsample_rows(frame, 10, key=KEY, n_rows=0)
