"""The contract's trace ids ``<run_id>:<stream>:<seq>`` (CONTRACT.md §1) built in one pass.

A window of events gets one id per row; as Arrow expressions that is a decimal cast of
``seq``, a dictionary lookup of each row's prefix and an element-wise join, three
string arrays per window. Here one compiled loop (:class:`tapesim.sim.compiled.Kernel`)
writes the string array's offsets and bytes directly: each row's prefix (chosen by a
code) followed by the decimal digits of its ``seq``, as ``str(seq)`` spells them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tapesim.sim.compiled import kernel

__all__ = ["labels"]

_INT32_LIMIT = (1 << 31) - 1


@kernel
def _labels(prefixes: np.ndarray, bounds: np.ndarray, codes: np.ndarray,
            numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """(offsets int64 [n + 1], bytes uint8) of ``prefix[codes[i]] + decimal(numbers[i])``:
    prefix ``c`` is ``prefixes[bounds[c]:bounds[c + 1]]``; ``numbers`` are >= 0."""
    n = codes.size
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    total = 0
    for i in range(n):
        v = numbers[i]
        digits = 1
        while v >= 10:
            v //= 10
            digits += 1
        c = codes[i]
        total += bounds[c + 1] - bounds[c] + digits
        offsets[i + 1] = total
    data = np.empty(total, dtype=np.uint8)
    for i in range(n):
        c = codes[i]
        pos = offsets[i]
        for j in range(bounds[c], bounds[c + 1]):
            data[pos] = prefixes[j]
            pos += 1
        v = numbers[i]
        k = offsets[i + 1] - 1
        while True:
            data[k] = 48 + v % 10
            v //= 10
            k -= 1
            if v == 0:
                break
    return offsets, data


def labels(prefixes: list[str], codes: np.ndarray, numbers: np.ndarray) -> pa.Array:
    """The string array whose row i is ``prefixes[codes[i]] + str(numbers[i])``.

    Args:
        prefixes: the texts rows start with (any Unicode; written as UTF-8).
        codes: per row, an index into ``prefixes`` (any integer dtype).
        numbers: per row, a non-negative integer (int64), e.g. a ``seq``.

    Returns:
        A ``pa.string()`` array of ``len(codes)`` rows, no nulls.

    Raises:
        ValueError: ``codes`` and ``numbers`` differ in length, a code is out of range
            or a number is negative.
    """
    codes = np.asarray(codes, dtype=np.int64)
    numbers = np.asarray(numbers, dtype=np.int64)
    if codes.shape != numbers.shape:
        raise ValueError(f"{codes.size} codes for {numbers.size} numbers")
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= len(prefixes)
                       or int(numbers.min()) < 0):
        raise ValueError("a code outside the prefixes, or a negative number")
    encoded = [p.encode("utf-8") for p in prefixes]
    bounds = np.zeros(len(encoded) + 1, dtype=np.int64)
    bounds[1:] = np.cumsum([len(p) for p in encoded])
    joined = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
    offsets, data = _labels(joined, bounds, codes, numbers)
    if offsets[-1] <= _INT32_LIMIT:
        return pa.StringArray.from_buffers(len(codes), pa.py_buffer(offsets.astype(np.int32)),
                                           pa.py_buffer(data))
    large = pa.LargeStringArray.from_buffers(len(codes), pa.py_buffer(offsets),
                                             pa.py_buffer(data))
    return large.cast(pa.string())
