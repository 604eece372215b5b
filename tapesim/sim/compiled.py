"""Loops compiled on first use, for the few hot spots where numpy's whole-array passes
cost more than the arithmetic they carry.

A chain's quotes are a handful of integer operations per (slot, step, contract); as
numpy expressions each operation is a pass over a [slot, step, contract] array with
a temporary of that size, so memory traffic, not arithmetic, sets the pace. A
:class:`Kernel` wraps a plain Python function written as explicit loops over numpy
arrays and runs it compiled by numba (``njit``: no Python objects, no fast-math, so
integer and IEEE float results are those of the plain function; cached on disk).
numba is imported on the kernel's first call, not with this module: loading it
costs about half a second that a run without option chains never pays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Kernel:
    """A function compiled by numba on its first call (see the module docstring).

    ``fn`` must be numba-compilable (numpy arrays and scalars in, loops inside); it
    stays available as ``py`` to run uncompiled (tests compare the two).
    """

    __slots__ = ("_jit", "py")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py = fn
        self._jit: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        jit = self._jit
        if jit is None:
            import numba  # deferred for its load time (see the module docstring)

            jit = self._jit = numba.njit(cache=True, nogil=True)(self.py)
        return jit(*args)


def kernel(fn: Callable[..., Any]) -> Kernel:
    """Decorator: ``fn`` as a :class:`Kernel`, compiled on first use."""
    return Kernel(fn)
