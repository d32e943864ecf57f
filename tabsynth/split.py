"""Neighbour-stable holdout splits and subsamples: each row's fate depends only on that row.

A split drawn with ``permutation(n)`` moves many rows when one row is added or removed (every
later position shifts). Here every row gets a number in [0, 1) from HMAC-SHA256 of a secret key
and a canonical serialization of the row's values; the row is held out iff that number is
below ``share``. Adding or removing one row changes no other row's side, which is what the
privacy analysis of the pipeline needs (issue 15, item 2).

The key is the secret: with it, anyone who knows a row can tell which side it went to. With
``key=None`` a fresh 32-byte key is drawn from :mod:`secrets` and forgotten (the split is then
not reproducible); pass your own key (kept secret, never published) to reproduce a split.

Identical rows get identical numbers and so always land on the same side. The canonical form
does not depend on a column's storage type (``3`` in an integer column and ``3.0`` in a float
column serialize alike), so adding a row with a missing value, which turns an integer column
into a float one, does not move the other rows. Column order does not matter either.

The rows that end up in the holdout are not protected by the generator's DP guarantee: they
feed only the internal audit.
"""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import ConfigError

__all__ = ["row_uniforms", "split_holdout", "subsample_rows"]

_MIN_KEY_BYTES = 16
_HOLDOUT = b"tabsynth/holdout/v1\x00"
_SUBSAMPLE = b"tabsynth/subsample/v1\x00"


def _check_key(key: bytes | None) -> bytes:
    if key is None:
        return secrets.token_bytes(32)
    if not isinstance(key, bytes | bytearray):
        raise ConfigError(f"key must be bytes (at least {_MIN_KEY_BYTES}), got {type(key).__name__}.")
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigError(
            f"key must hold at least {_MIN_KEY_BYTES} bytes, got {len(key)}: use secrets.token_bytes(32)."
        )
    return bytes(key)


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _cell(value: Any) -> str:
    """Canonical, type-tagged text of one value (numbers alike whatever their storage type)."""
    if isinstance(value, str):
        return "s" + value
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "N"
    if isinstance(value, bool | np.bool_):
        return "b" + ("1" if value else "0")
    if isinstance(value, int | np.integer):
        return "n" + str(int(value))
    if isinstance(value, float | np.floating):
        return "n" + _number(float(value))
    if isinstance(value, pd.Timestamp):
        return "t" + str(value.isoformat())
    if isinstance(value, bytes):
        return "x" + value.hex()
    if pd.isna(value):
        return "N"
    return "o" + str(value)


def _prefixed(cell: str) -> str:
    return f"{len(cell)}:{cell}"


def _column_parts(series: pd.Series) -> list[str]:
    """The length-prefixed ``_cell`` of every value of a column.

    Columns of one numpy type are factorized and each distinct value serialized once; object
    columns (which may mix types that compare equal, such as ``True`` and ``1``) value by value.
    """
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iufbM":
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        texts = np.array([_prefixed(_cell(v)) for v in pd.Series(uniques).astype(object)] + ["1:N"], dtype=object)
        return list(texts[codes])  # code -1 (missing) picks the last entry
    return [_prefixed(_cell(v)) for v in series.astype(object).tolist()]


def _messages(frame: pd.DataFrame) -> list[bytes]:
    """One unambiguous byte string per row: length-prefixed column names and cells, columns sorted."""
    names = sorted(frame.columns, key=str)
    if len(set(map(str, names))) != len(names):
        raise ConfigError("The table has duplicate column names; give every column its own name.")
    if not names:
        return [b""] * len(frame)
    parts: list[list[str]] = []
    for name in names:
        parts.append([_prefixed(str(name))] * len(frame))
        parts.append(_column_parts(frame[name]))
    return ["".join(row).encode("utf-8") for row in zip(*parts, strict=True)]


def row_uniforms(frame: pd.DataFrame, key: bytes, *, domain: bytes = b"") -> np.ndarray:
    """HMAC-SHA256(key, domain + canonical row) of every row, mapped to a float in [0, 1).

    The first 53 bits of the digest, divided by 2**53: uniform on a grid of 2**-53 for a
    secret key. Rows with equal values (in the canonical sense above) get equal numbers.
    """
    key = _check_key(key)
    digests = b"".join(hmac.digest(key, domain + message, "sha256")[:8] for message in _messages(frame))
    high = np.frombuffer(digests, dtype=">u8").astype(np.uint64)
    return (high >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _check_frame(frame: Any) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
    return frame


def split_holdout(frame: pd.DataFrame, share: float, *, key: bytes | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into ``(train, holdout)``; each row's side depends only on it and ``key``.

    A row is held out iff HMAC-SHA256(key, its canonical serialization), read as a number in
    [0, 1), is below ``share``: so about ``share`` of the rows, not exactly (the size of each
    side is random). Adding or removing one row changes no other row's side.

    Args:
        frame: the table; its index is kept on both sides.
        share: expected fraction of rows held out, in (0, 1).
        key: secret key (at least 16 bytes) that makes the split reproducible. ``None`` draws a
            fresh one with :func:`secrets.token_bytes` that is never stored or shown.

    Raises:
        ConfigError: ``share`` not in (0, 1), a short or non-bytes key, duplicate column names.
    """
    frame = _check_frame(frame)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < float(share) < 1.0:
        raise ConfigError(f"share must be a number in (0, 1), got {share!r}.")
    held = row_uniforms(frame, _check_key(key), domain=_HOLDOUT) < float(share)
    return frame[~held], frame[held]


def subsample_rows(
    frame: pd.DataFrame, max_rows: int, *, key: bytes | None = None, n_rows: float | None = None
) -> pd.DataFrame:
    """Keep each row iff its keyed hash is below ``max_rows / n_rows``: about ``max_rows`` rows.

    The size of the result is random (binomial around ``max_rows``), not exactly ``max_rows``:
    that is the price of a subsample in which each row's fate depends only on that row.

    Args:
        frame: the table; its index is kept.
        max_rows: the expected number of rows kept (positive).
        key: as in :func:`split_holdout` (the hash is domain-separated, so the same key gives a
            subsample independent of the holdout split).
        n_rows: the row count the rate is computed from. Default ``len(frame)``, an exact count
            of private rows: one added row then shifts the rate by a factor n/(n+1), which can
            move the rows whose hash lies in that thin band. Pass a public or DP-estimated count
            for a subsample in which no row's fate depends on the others.

    Raises:
        ConfigError: ``max_rows`` not a positive integer, ``n_rows`` not positive, a bad key.
    """
    frame = _check_frame(frame)
    if isinstance(max_rows, bool) or not isinstance(max_rows, int | np.integer) or max_rows <= 0:
        raise ConfigError(f"max_rows must be a positive integer, got {max_rows!r}.")
    count = float(len(frame) if n_rows is None else n_rows)
    if n_rows is not None and not (math.isfinite(count) and count > 0):
        raise ConfigError(f"n_rows must be a positive number, got {n_rows!r}.")
    if len(frame) == 0:
        return frame
    rate = min(1.0, int(max_rows) / count)
    return frame[row_uniforms(frame, _check_key(key), domain=_SUBSAMPLE) < rate]
