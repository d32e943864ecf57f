"""Small helpers shared by the audit modules."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class MetricUnavailable(Exception):
    """A metric cannot be computed on these inputs; the message says why (becomes UNKNOWN)."""


@contextmanager
def captured_warnings(sink: list[str]) -> Iterator[None]:
    """Record third-party warnings into ``sink`` (deduplicated) instead of emitting them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        message = f"{item.category.__name__}: {str(item.message).splitlines()[0][:200]}"
        if message not in sink:
            sink.append(message)


def child_rng(random_state: int, label: str) -> np.random.Generator:
    """An independent generator per audit component, so adding one never shifts another."""
    tag = int.from_bytes(hashlib.blake2b(label.encode("utf-8"), digest_size=8).digest(), "little")
    return np.random.default_rng([random_state, tag])


def seed_from(rng: np.random.Generator) -> int:
    """An integer seed for libraries that take one (scikit-learn)."""
    return int(rng.integers(0, 2**31 - 1))
