"""Sampling conditions from the command line: ``label=yes``, ``age>=65``, rebalancing shares.

Categorical conditions (``COLUMN=VALUE``) are the generator's own exact conditional sampling.
Numeric ranges (``age>=65``, ``income<30000``) are met by *oversample and select*: draw rows
in rounds, keep those in the range, stop when exactly ``n_rows`` are kept. The rows kept are
the first ``n_rows`` of an independent stream that meet the range, so they follow the model's
conditional distribution given the range, and the count is exact. A model that (almost) never
produces such rows gets a clear error instead of an endless loop.

All of this is post-processing of a fitted model: it reads no private data and costs no budget.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import ConfigError

__all__ = ["RangeCondition", "parse_conditions", "parse_rebalance", "sample_with_ranges"]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*(?P<column>[^<>=]+?)\s*(?P<op>>=|<=|==|=|>|<)\s*(?P<value>.*?)\s*$")

#: Rows drawn in one round at least, and the acceptance rate below which sampling gives up.
MIN_ROUND = 1_000
MIN_ACCEPTANCE = 1e-4
MAX_ROUNDS = 50


@dataclass(frozen=True, slots=True)
class RangeCondition:
    """``column op value`` on a numeric column, e.g. ``age >= 65``."""

    column: str
    op: str
    value: float

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` that meet the condition (missing values never do)."""
        values = pd.to_numeric(frame[self.column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            met: np.ndarray = np.asarray(_OPS[self.op](values, self.value), dtype=bool) & ~np.isnan(values)
        return met

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value:g}"


def parse_conditions(items: list[str] | None) -> tuple[dict[str, str], list[RangeCondition]]:
    """``COLUMN=VALUE`` items as categorical conditions, ``COLUMN>=X`` (``<=``, ``>``, ``<``) as ranges."""
    exact: dict[str, str] = {}
    ranges: list[RangeCondition] = []
    for item in items or []:
        match = _CONDITION.match(item)
        if match is None or not match["column"]:
            raise ConfigError(f"--condition must look like COLUMN=VALUE or COLUMN>=NUMBER (<=, >, <), got {item!r}.")
        column, op, value = match["column"], match["op"], match["value"]
        if op in ("=", "=="):
            if column in exact:
                raise ConfigError(f"--condition gives {column!r} twice; give one value per column.")
            exact[column] = value
            continue
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError(f"--condition {item!r}: {op} needs a finite number on its right, got {value!r}.")
        ranges.append(RangeCondition(column, op, number))
    clash = sorted({r.column for r in ranges} & set(exact))
    if clash:
        raise ConfigError(f"--condition: {clash} has both an exact value and a range; give one or the other.")
    return exact, ranges


def parse_rebalance(raw: str) -> tuple[str, dict[str, float]]:
    """``COLUMN=VALUE:SHARE,VALUE:SHARE,...`` (``COLUMN=`` may be repeated) as ``(column, shares)``."""
    column: str | None = None
    shares: dict[str, float] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if "=" in part:
            name, _, part = part.partition("=")
            name = name.strip()
            if column is not None and name != column:
                raise ConfigError(f"--rebalance names one column, got {column!r} and {name!r}.")
            column = name
        value, sep, share = part.rpartition(":")
        if column is None or not sep or not value:
            raise ConfigError(f"--rebalance must look like COLUMN=VALUE:SHARE,VALUE:SHARE,... got {raw!r}.")
        try:
            number = float(share)
        except ValueError:
            raise ConfigError(f"--rebalance: the share of {value!r} must be a number, got {share!r}.") from None
        if not (math.isfinite(number) and number >= 0):
            raise ConfigError(f"--rebalance: the share of {value!r} must be a number >= 0, got {share!r}.")
        if value in shares:
            raise ConfigError(f"--rebalance gives {value!r} twice.")
        shares[value] = number
    if column is None or not shares:
        raise ConfigError(f"--rebalance must look like COLUMN=VALUE:SHARE,VALUE:SHARE,... got {raw!r}.")
    if not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6):
        raise ConfigError(f"--rebalance shares must sum to 1, they sum to {sum(shares.values()):g}.")
    return column, shares


def sample_with_ranges(
    synth: Any,
    n_rows: int,
    ranges: list[RangeCondition],
    *,
    conditions: Mapping[str, Any] | None = None,
    fair: bool = False,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Exactly ``n_rows`` rows of ``synth.sample`` that also meet every range (oversample and select).

    Raises:
        ConfigError: ``n_rows`` is not positive, a range names an unknown or non-numeric column,
            or the model produces rows in the range too rarely (under 1 in 10,000 of the rows
            drawn, or not enough after 50 rounds).
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows <= 0:
        raise ConfigError(f"n_rows must be a positive integer, got {n_rows!r}.")
    if not ranges:
        frame: pd.DataFrame = synth.sample(int(n_rows), conditions=conditions, fair=fair, random_state=random_state)
        return frame
    rng = np.random.default_rng(random_state)
    kept: list[pd.DataFrame] = []
    have = drawn = accepted = 0
    for _ in range(MAX_ROUNDS):
        need = int(n_rows) - have
        rate = accepted / drawn if drawn else 0.0
        size = max(MIN_ROUND, math.ceil(1.2 * need / rate) if rate > 0 else 4 * need)
        size = min(size, 50 * int(n_rows) + MIN_ROUND)
        batch = synth.sample(size, conditions=conditions, fair=fair, random_state=int(rng.integers(2**62)))
        if not kept and drawn == 0:
            _check_columns(batch, ranges)
        mask = np.ones(len(batch), dtype=bool)
        for condition in ranges:
            mask &= condition.mask(batch)
        drawn += len(batch)
        accepted += int(mask.sum())
        kept.append(batch[mask])
        have += int(mask.sum())
        if have >= n_rows:
            return pd.concat(kept, ignore_index=True).iloc[: int(n_rows)].reset_index(drop=True)
        if drawn >= 100_000 and accepted / drawn < MIN_ACCEPTANCE:
            break
    wanted = " and ".join(str(r) for r in ranges)
    raise ConfigError(
        f"The model rarely generates rows with {wanted}: {accepted:,} of {drawn:,} synthetic rows drawn met it, "
        f"short of the {int(n_rows):,} asked for. Widen the range, ask for fewer rows, or condition on a "
        "categorical column the model was fitted to condition on (target or sensitive)."
    )


def _check_columns(frame: pd.DataFrame, ranges: list[RangeCondition]) -> None:
    for condition in ranges:
        if condition.column not in frame.columns:
            raise ConfigError(
                f"Unknown condition column {condition.column!r}; the model generates {list(frame.columns)}."
            )
        if not pd.api.types.is_numeric_dtype(frame[condition.column]) or pd.api.types.is_bool_dtype(
            frame[condition.column]
        ):
            raise ConfigError(
                f"--condition {condition}: {condition.column!r} is not numeric; use COLUMN=VALUE for a category."
            )
