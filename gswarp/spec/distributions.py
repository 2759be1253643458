"""Random values in specs: ``{uniform: [low, high]}``, ``{normal: [mean, std]}``,
``{choice: [a, b, ...]}``, and the per-file random streams they are drawn from.

Reproducibility rule: a value is drawn from a stream seeded by *(seed, key, variant, value
path)* (``key``: the input's path relative to its input root, ``value path``: where the value
sits in the spec, such as ``transform[0].affine.rotate``). No stream is shared between files or
between values, so a file's draws do not depend on the order the files are processed in, on
``--jobs``, on which other files are in the run, or on the other random values of the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DISTRIBUTIONS", "Choice", "Distribution", "Normal", "Uniform", "stream"]

DISTRIBUTIONS = ("uniform", "normal", "choice")


def _words(text: str) -> list[int]:
    """Four 32-bit words of the SHA-256 of ``text`` (stable across runs and machines)."""
    import hashlib  # here: 3-4 ms of every command's start-up, for random specs only

    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def stream(seed: int, key: str, variant: int, where: str) -> np.random.Generator:
    """The random stream of one value: PCG64 seeded by (seed, key, variant, where).

    >>> a = stream(7, "cats/1.png", 0, "transform[0].affine.rotate").uniform()
    >>> a == stream(7, "cats/1.png", 0, "transform[0].affine.rotate").uniform()
    True
    >>> a == stream(7, "cats/1.png", 1, "transform[0].affine.rotate").uniform()
    False
    """
    entropy = [int(seed) & 0xFFFFFFFF, int(seed) >> 32, int(variant), *_words(key), *_words(where)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


@dataclass(frozen=True)
class Uniform:
    """Uniform on ``[low, high]`` (``low == high`` is that constant)."""

    low: float
    high: float
    check: Callable[[float], str | None] | None = field(default=None, compare=False, repr=False)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high)) if self.high > self.low else self.low

    def normalized(self) -> dict[str, Any]:
        return {"uniform": [self.low, self.high]}


@dataclass(frozen=True)
class Normal:
    """Gaussian with ``mean`` and standard deviation ``std`` (>= 0)."""

    mean: float
    std: float
    check: Callable[[float], str | None] | None = field(default=None, compare=False, repr=False)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.mean, self.std)) if self.std > 0 else self.mean

    def normalized(self) -> dict[str, Any]:
        return {"normal": [self.mean, self.std]}


@dataclass(frozen=True)
class Choice:
    """One of ``values``, each equally likely."""

    values: tuple[float, ...]
    check: Callable[[float], str | None] | None = field(default=None, compare=False, repr=False)

    def sample(self, rng: np.random.Generator) -> float:
        return self.values[int(rng.integers(len(self.values)))]

    def normalized(self) -> dict[str, Any]:
        return {"choice": list(self.values)}


Distribution = Uniform | Normal | Choice
