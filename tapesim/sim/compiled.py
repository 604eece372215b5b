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

The stock's hot loops, which every run has, are :class:`IrLoops` instead: written in
LLVM's IR and compiled by llvmlite, whose start costs a tenth of numba's, called through
ctypes over the addresses of :class:`Buffer` arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


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


class Buffer:
    """A C-contiguous numpy array and its address, read once: a loop compiled from IR
    (:class:`IrLoops`) takes addresses, and reading ``ndarray.ctypes.data`` costs a few
    microseconds a call on a hot path. The array must not be resized or replaced."""

    __slots__ = ("address", "array")

    def __init__(self, array: np.ndarray) -> None:
        if not array.flags.c_contiguous:
            raise ValueError("a Buffer's array must be C-contiguous")
        self.array = array
        self.address: int = array.ctypes.data


def context_words(words: dict[int, tuple[str, str]]) -> str:
    """IR lines reading a loop's context, the array of int64 words its first argument
    ``ptr %ctx`` points to: for each word index, a register name and ``"ptr"`` (the word
    is an address: ``%name`` is it as a pointer) or ``"i64"`` (``%name`` is the word).
    Helper registers are ``%name.a`` and ``%name.w``, so names must be unique in the
    function."""
    lines = []
    for index, (name, kind) in words.items():
        at = "%ctx"
        if index:
            at = f"%{name}.a"
            lines.append(f"  {at} = getelementptr inbounds i64, ptr %ctx, i64 {index}")
        if kind == "ptr":
            lines += [f"  %{name}.w = load i64, ptr {at}",
                      f"  %{name} = inttoptr i64 %{name}.w to ptr"]
        else:
            lines.append(f"  %{name} = load i64, ptr {at}")
    return "\n" + "\n".join(lines) + "\n"


class IrLoops:
    """Loops written in LLVM's IR, compiled by llvmlite's JIT on their first use in a
    process (about 0.1 CPU s): the machine code numba makes of the same loops, without
    numba's start (importing it and building its typing and target context on the first
    call, cache hit or not, costs over a second), for loops that runs without option
    chains need. No fast-math flags: integer and IEEE float results are those of the
    same operations in Python.

    ``ir``: the module's text; ``prototypes``: each function's name and its ctypes
    prototype (addresses as ``c_void_p``): ``PYFUNCTYPE`` for loops of a few
    microseconds, which keep the GIL (``CFUNCTYPE`` releases and retakes it at every
    call, and with another thread waiting for it, such as a run's writer, each call
    hands the interpreter over). :meth:`functions` compiles once and returns the
    callables; the JIT engine lives as long as this object.
    """

    def __init__(self, ir: str, prototypes: dict[str, Any]) -> None:
        self._ir = ir
        self._prototypes = prototypes
        self._engine: Any = None
        self._functions: dict[str, Callable[..., Any]] | None = None
        self._lock = threading.Lock()

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The compiled functions by name, compiled on the first call in this process.

        Raises:
            RuntimeError: llvmlite rejects the IR (a bug, caught by the loops' tests).
        """
        with self._lock:
            if self._functions is None:
                import llvmlite.binding as llvm  # deferred: most processes never need it

                llvm.initialize_native_target()
                llvm.initialize_native_asmprinter()
                module = llvm.parse_assembly(self._ir)
                module.verify()
                machine = llvm.Target.from_default_triple().create_target_machine(opt=3)
                self._engine = llvm.create_mcjit_compiler(module, machine)
                self._engine.finalize_object()
                address = self._engine.get_function_address
                self._functions = {name: proto(address(name))
                                   for name, proto in self._prototypes.items()}
            return self._functions
