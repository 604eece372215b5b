"""The RNG tree: one independent, stably keyed random stream per identity.

Every stream is ``Generator(PCG64(SeedSequence(root_seed, spawn_key=key)))`` where
the key is derived with sha256 from a tuple of names such as
``("SPY", "agent", "retail")``. A stream's draws therefore depend only on the root
seed and its own identity: adding or removing an agent never shifts another
agent's numbers, and nothing depends on ``hash()``, set order or worker count.
"""

from __future__ import annotations

import hashlib

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


class Draws:
    """Scalar draws from one stream, generated in blocks.

    Per-call numpy scalar draws cost about a microsecond each; the hot path of a
    simulation asks for millions of them. ``Draws`` fills blocks of uniforms and
    standard exponentials and hands them out one by one. The sequence it yields is
    a pure function of the stream, so block size is part of the stream's identity
    and must stay fixed.
    """

    BLOCK = 8192

    __slots__ = ("_exp", "_gen", "_i_exp", "_i_nrm", "_i_uni", "_nrm", "_uni")

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen
        self._uni: list[float] = []
        self._exp: list[float] = []
        self._nrm: list[float] = []
        self._i_uni = 0
        self._i_exp = 0
        self._i_nrm = 0

    @property
    def generator(self) -> np.random.Generator:
        """The underlying numpy generator, for vectorised draws from the same stream.

        Draws taken from it directly interleave with the blocks this object fills, so a
        caller must use it in a fixed order relative to the scalar draws.
        """
        return self._gen

    def uniform(self) -> float:
        """A uniform draw on [0, 1)."""
        i = self._i_uni
        if i >= len(self._uni):
            self._uni = self._gen.random(self.BLOCK).tolist()
            i = 0
        self._i_uni = i + 1
        return self._uni[i]

    def exponential(self) -> float:
        """A standard exponential draw (mean 1)."""
        i = self._i_exp
        if i >= len(self._exp):
            self._exp = self._gen.standard_exponential(self.BLOCK).tolist()
            i = 0
        self._i_exp = i + 1
        return self._exp[i]

    def normal(self) -> float:
        """A standard normal draw."""
        i = self._i_nrm
        if i >= len(self._nrm):
            self._nrm = self._gen.standard_normal(self.BLOCK).tolist()
            i = 0
        self._i_nrm = i + 1
        return self._nrm[i]

    def exponentials(self, n: int) -> list[float]:
        """The next ``n`` standard exponentials: the same numbers ``n`` calls of
        :meth:`exponential` would give."""
        out: list[float] = []
        while n > 0:
            i = self._i_exp
            if i >= len(self._exp):
                self._exp = self._gen.standard_exponential(self.BLOCK).tolist()
                i = 0
            take = min(n, len(self._exp) - i)
            out += self._exp[i:i + take]
            self._i_exp = i + take
            n -= take
        return out

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return int(self.uniform() * n)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.uniform() < p
