"""Secret randomness for every DP draw.

A DP guarantee holds only if the noise cannot be replayed. A seed that reproduces the noise,
once written anywhere (a manifest, a report, a config), lets anyone who knows all rows but one
recompute both neighbouring outputs and tell them apart: epsilon becomes infinite. So every
draw a DP mechanism makes (histogram noise, discovery thresholds, DP-SGD's Poisson masks and
gradient noise) comes from a :class:`NoiseSource` keyed with 256 bits from the operating
system's CSPRNG (:func:`secrets.token_bytes`), held only in memory and never serialised,
printed or derived from anything written.

The stream is SHAKE-256 of the key and a block counter (an extendable-output function: its
output is computationally indistinguishable from uniform bits for anyone without the key).
Counts are released with the *discrete* Gaussian (Canonne, Kamath and Steinke 2020): integer
outputs sampled exactly, with integer and rational arithmetic only, so no floating-point
artefact (Mironov 2012) reveals the noise. Its Rényi-DP curve at L2 sensitivity 1 is at most
that of the continuous Gaussian of the same sigma, so the accountant's Gaussian events cover it.

DP-SGD's noise is drawn by torch from a generator whose 64-bit seed comes from this stream, with
Opacus's ``secure_mode`` sampling (each noise value the mean of four draws, which defeats the
floating-point attacks of arXiv:2107.10138); see ``docs/privacy.md`` for the argument.

:meth:`NoiseSource.insecure_from_seed` exists for tests only: its outputs are replayable, so a
ledger holding one reports ``secure_randomness: false`` and nothing built on it claims DP.

Pure Python; depends on nothing else in tabsynth.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from fractions import Fraction

import numpy as np

__all__ = ["NoiseSource"]

_BLOCK = 1 << 16  # bytes squeezed per refill
_SIGMA_DENOMINATOR = 1 << 20  # sigma^2 is rounded *up* to a multiple of 2^-20 (never less noise)


class NoiseSource:
    """A keyed CSPRNG stream and the exact samplers DP mechanisms need.

    Use :meth:`fresh` (a secret key from the OS); :meth:`insecure_from_seed` only in tests.
    The key is never exposed: ``repr`` and every serialisation leave it out.
    """

    __slots__ = ("_buffer", "_counter", "_key", "_offset", "is_secure")

    def __init__(self, key: bytes, *, is_secure: bool) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError("A noise key must be at least 16 bytes.")
        self._key = key
        self._counter = 0
        self._buffer = b""
        self._offset = 0
        self.is_secure = is_secure

    @classmethod
    def fresh(cls) -> NoiseSource:
        """A source keyed with 256 fresh bits from the operating system (the only DP-safe choice)."""
        return cls(secrets.token_bytes(32), is_secure=True)

    @classmethod
    def insecure_from_seed(cls, seed: int) -> NoiseSource:
        """A *replayable* source for tests: whatever uses it is NOT differentially private."""
        return cls(hashlib.sha256(f"tabsynth-insecure-test-seed:{int(seed)}".encode()).digest(), is_secure=False)

    def child(self, label: str) -> NoiseSource:
        """An independent stream derived from this one's key (e.g. one per distributed rank)."""
        key = hashlib.shake_256(self._key + b"|child|" + label.encode()).digest(32)
        return NoiseSource(key, is_secure=self.is_secure)

    def share_key(self) -> bytes:
        """The key, for broadcasting to the other ranks of one in-memory distributed job only."""
        return self._key

    def __repr__(self) -> str:
        return f"NoiseSource(is_secure={self.is_secure})"

    # ---- raw bits ---------------------------------------------------------------------
    def _bytes(self, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            if self._offset >= len(self._buffer):
                block = self._counter.to_bytes(16, "big")
                self._buffer = hashlib.shake_256(self._key + block).digest(_BLOCK)
                self._counter += 1
                self._offset = 0
            take = min(n, len(self._buffer) - self._offset)
            out += self._buffer[self._offset : self._offset + take]
            self._offset += take
            n -= take
        return bytes(out)

    def randbits(self, k: int) -> int:
        """A uniform integer in [0, 2^k)."""
        if k <= 0:
            return 0
        value = int.from_bytes(self._bytes((k + 7) // 8), "big")
        return value >> (8 * ((k + 7) // 8) - k)

    def randbelow(self, n: int) -> int:
        """A uniform integer in [0, n) by rejection (exact)."""
        if n <= 0:
            raise ValueError("randbelow needs n > 0.")
        k = n.bit_length()
        while True:
            r = self.randbits(k)
            if r < n:
                return r

    def torch_seed(self) -> int:
        """63 secret bits to seed a torch generator (Poisson masks, DP-SGD noise)."""
        return self.randbits(63)

    def uniform(self, size: int) -> np.ndarray:
        """``size`` uniform floats in [0, 1) with 53 random bits each (non-mechanism helpers only)."""
        raw = np.frombuffer(self._bytes(8 * int(size)), dtype=">u8").astype(np.uint64)
        return (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def bernoulli_exp(self, gamma: Fraction) -> bool:
        """An exact Bernoulli(exp(-gamma)) draw for a rational ``gamma >= 0``."""
        if gamma < 0:
            raise ValueError(f"bernoulli_exp needs gamma >= 0, got {gamma}.")
        return self._bernoulli_exp(Fraction(gamma))

    # ---- exact samplers (Canonne, Kamath, Steinke 2020) -------------------------------
    def _bernoulli(self, p: Fraction) -> bool:
        return self.randbelow(p.denominator) < p.numerator

    def _bernoulli_exp_le1(self, gamma: Fraction) -> bool:
        """Bernoulli(exp(-gamma)) for 0 <= gamma <= 1 (their Algorithm 1)."""
        k = 1
        while self._bernoulli(gamma / k):
            k += 1
        return k % 2 == 1

    def _bernoulli_exp(self, gamma: Fraction) -> bool:
        """Bernoulli(exp(-gamma)) for gamma >= 0."""
        while gamma > 1:
            if not self._bernoulli_exp_le1(Fraction(1)):
                return False
            gamma -= 1
        return self._bernoulli_exp_le1(gamma)

    def _discrete_laplace(self, t: int) -> int:
        """P(Y = y) proportional to exp(-|y| / t), t a positive integer (their Algorithm 2)."""
        while True:
            u = self.randbelow(t)
            if not self._bernoulli_exp(Fraction(u, t)):
                continue
            v = 0
            while self._bernoulli_exp(Fraction(1)):
                v += 1
            y = u + t * v
            negative = self.randbits(1) == 1
            if negative and y == 0:
                continue
            return -y if negative else y

    def _discrete_gaussian_one(self, sigma2: Fraction, t: int) -> int:
        while True:
            y = self._discrete_laplace(t)
            gamma = (abs(y) - sigma2 / t) ** 2 / (2 * sigma2)
            if self._bernoulli_exp(gamma):
                return y

    def discrete_gaussian(self, sigma: float, size: int | tuple[int, ...]) -> np.ndarray:
        """Integer noise with P(x) proportional to exp(-x^2 / (2 sigma^2)), sampled exactly.

        ``sigma^2`` is rounded *up* to a multiple of 2^-20, so the noise is never below the
        calibrated level.
        """
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be a positive finite number, got {sigma!r}.")
        sigma2 = Fraction(math.ceil(Fraction(sigma) ** 2 * _SIGMA_DENOMINATOR), _SIGMA_DENOMINATOR)
        t = math.floor(math.sqrt(sigma2)) + 1
        shape = (size,) if isinstance(size, int) else tuple(size)
        n = int(np.prod(shape)) if shape else 1
        return np.array([self._discrete_gaussian_one(sigma2, t) for _ in range(n)], dtype=np.int64).reshape(shape)
