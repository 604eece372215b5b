"""The RNG tree: one independent, stably keyed random stream per identity.

Every stream is ``Generator(PCG64(SeedSequence(root_seed, spawn_key=key)))`` where
the key is derived with sha256 from a tuple of names such as
``("SPY", "agent", "retail")``. A stream's draws therefore depend only on the root
seed and its own identity: adding or removing an agent never shifts another
agent's numbers, and nothing depends on ``hash()``, set order or worker count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from itertools import chain, islice

import numpy as np


def stream_key(*names: str | int) -> tuple[int, ...]:
    """A stable spawn key (four 32-bit words) for a stream identity."""
    text = "\x1f".join(str(n) for n in names).encode("utf-8")
    digest = hashlib.sha256(text).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stream(root_seed: int, *names: str | int) -> np.random.Generator:
    """The generator of one named stream under ``root_seed``."""
    seq = np.random.SeedSequence(root_seed, spawn_key=stream_key(*names))
    return np.random.Generator(np.random.PCG64(seq))


def _blocks(draw: Callable[[int], np.ndarray], size: int) -> Iterator[float]:
    """The values of ``draw(size)``, ``draw(size)``, ... one at a time, each block drawn when
    the value after the previous block's last is asked for (never before)."""
    return chain.from_iterable(iter(lambda: draw(size).tolist(), None))


class Draws:
    """Scalar draws from one stream, generated in blocks.

    Per-call numpy scalar draws cost about a microsecond each; the hot path of a
    simulation asks for millions of them. ``Draws`` fills blocks of uniforms and
    standard exponentials and hands them out one by one. The sequence it yields is
    a pure function of the stream, so block size is part of the stream's identity
    and must stay fixed. Each kind's next block is drawn when a draw needs it, so the
    stream's state moves in the order of the draws that needed new blocks.

    ``uniform()``: a uniform draw on [0, 1); ``exponential()``: a standard exponential
    draw (mean 1); ``normal()``: a standard normal draw. They are the iterators' own
    ``__next__`` (no Python frame per draw).
    """

    BLOCK = 8192

    __slots__ = ("_exp", "_gen", "exponential", "normal", "uniform")

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen
        uni = _blocks(gen.random, self.BLOCK)
        self._exp = _blocks(gen.standard_exponential, self.BLOCK)
        self.uniform: Callable[[], float] = uni.__next__
        self.exponential: Callable[[], float] = self._exp.__next__
        self.normal: Callable[[], float] = _blocks(gen.standard_normal, self.BLOCK).__next__

    @property
    def generator(self) -> np.random.Generator:
        """The underlying numpy generator, for vectorised draws from the same stream.

        Draws taken from it directly interleave with the blocks this object fills, so a
        caller must use it in a fixed order relative to the scalar draws.
        """
        return self._gen

    def exponentials(self, n: int) -> list[float]:
        """The next ``n`` standard exponentials: the same numbers ``n`` calls of
        :meth:`exponential` would give."""
        return list(islice(self._exp, n))

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return int(self.uniform() * n)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.uniform() < p
