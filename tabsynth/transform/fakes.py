"""Fake values for identifier and free-text columns.

They are generated from a seed only, never from the real column: no real identifier can
reach synthetic data, and nothing about the real values (formats, lengths, domains) leaks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fake_values"]

_FIRST = ("Alex", "Sam", "Robin", "Kim", "Noa", "Jules", "Mika", "Rene", "Toni", "Lou", "Ari", "Eden")
_LAST = ("Smith", "Garcia", "Novak", "Okafor", "Tanaka", "Larsen", "Rossi", "Dubois", "Silva", "Kowalski")
_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do")


def fake_values(style: str, n_rows: int, rng: np.random.Generator) -> list[object]:
    """``n_rows`` fake values of ``style`` (sequence, uuid, email, phone, name, text)."""
    if style == "sequence":
        return list(range(1, n_rows + 1))
    if style == "email":
        return [f"user{i:07d}@example.invalid" for i in rng.permutation(n_rows)]
    if style == "phone":  # the 555-01xx block is reserved for fiction
        return [f"+1-555-01{d % 100:02d}-{i:06d}" for i, d in enumerate(rng.integers(0, 100, n_rows))]
    if style == "name":
        first = rng.choice(_FIRST, n_rows)
        last = rng.choice(_LAST, n_rows)
        return [f"{given} {family}" for given, family in zip(first, last, strict=True)]
    if style == "text":
        return [" ".join(rng.choice(_WORDS, 8)) for _ in range(n_rows)]
    return [f"{v:032x}" for v in rng.integers(0, 2**63, size=(n_rows,), dtype=np.int64)]
