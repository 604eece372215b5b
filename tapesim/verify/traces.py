"""Trace ids checked against ``<prefix><seq>`` without building the expected strings.

Every event's ``trace_id`` is ``<run_id>:<stream>:<seq>`` (CONTRACT.md §1), in the
event files and in provenance. Building each expected string and comparing (Arrow's
``binary_join_element_wise`` and ``equal``) costs about as much as reading the file.
:func:`traces_match` answers the same question from the column's Arrow buffers: rows
are grouped by their prefix and expected length (``len(prefix)`` plus the decimal
digits of ``seq``); each group's bytes, all of one length, are viewed as a 2-d
``uint8`` array whose leading columns must be the prefix and whose trailing ones must
be decimal digits spelling ``seq``. Same length and same value imply the same
digits (no sign, no leading zero), so the answer is exactly that of the string
comparison. Nulls, or a seq below 1, take the string comparison itself.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# 10, 100, ..., 10**18: a positive int64 has searchsorted(_POWERS, v, "right") + 1 digits.
_POWERS = 10 ** np.arange(1, 19, dtype=np.int64)
_ZERO, _NINE = ord("0"), ord("9")


def expected_traces(prefix: pa.Array, seq: pa.Array) -> pa.Array:
    """``prefix[i] + str(seq[i])`` per row (strings and int64 of one length): the string
    form :func:`traces_match` checks against without building it."""
    return pc.binary_join_element_wise(prefix, pc.cast(seq, pa.string()), "")


def traces_match(trace: pa.Array | pa.ChunkedArray, codes: np.ndarray,
                 prefixes: list[str], seq: np.ndarray) -> bool:
    """Whether every ``trace[i]`` is ``prefixes[codes[i]] + str(seq[i])``; a null trace
    id never matches.

    ``trace``: strings (plain, ``large_string`` or chunked), one per row; ``codes``:
    integer index into ``prefixes`` per row; ``seq``: int64 per row. The answer is
    that of comparing with :func:`expected_traces` (module docstring).
    """
    trace = _combined(trace)
    n = len(trace)
    if n != len(codes) or n != len(seq):
        return False
    if n == 0:
        return True
    seq = np.asarray(seq, dtype=np.int64)
    if trace.null_count or int(seq.min()) < 1 or not (
            pa.types.is_string(trace.type) or pa.types.is_large_string(trace.type)):
        return _compared(trace, codes, prefixes, seq)
    width = np.array([len(p.encode()) for p in prefixes], dtype=np.int64)
    digits = np.searchsorted(_POWERS, seq, side="right") + 1
    codes = np.asarray(codes, dtype=np.int64)
    want = width[codes] + digits
    offsets = np.frombuffer(trace.buffers()[1], dtype=np.int64 if pa.types.is_large_string(
        trace.type) else np.int32)[trace.offset:trace.offset + n + 1].astype(np.int64)
    if not np.array_equal(np.diff(offsets), want):
        return False
    data = np.frombuffer(trace.buffers()[2], dtype=np.uint8)
    # One group per (prefix, digit count): rows of one byte length.
    group = codes * 20 + digits
    single = bool((group == group[0]).all())
    for g in [int(group[0])] if single else np.unique(group).tolist():
        rows = None if single else np.flatnonzero(group == g)
        if not _group_matches(data, offsets, rows, prefixes[g // 20].encode(), g % 20,
                              seq if rows is None else seq[rows]):
            return False
    return True


def _group_matches(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray | None,
                   prefix: bytes, digits: int, seq: np.ndarray) -> bool:
    """Rows (all when None) whose strings are ``len(prefix) + digits`` bytes long: their
    leading bytes are ``prefix`` and the rest the decimal digits of ``seq``."""
    width = len(prefix) + digits
    if rows is None:  # contiguous: the bytes of every row, one after another
        block = data[offsets[0]:offsets[-1]].reshape(-1, width)
    else:
        starts = offsets[rows]
        block = data[starts[:, None] + np.arange(width)]
    if prefix and not (block[:, :len(prefix)] == np.frombuffer(prefix, np.uint8)).all():
        return False
    tail = block[:, len(prefix):]
    if not ((tail >= _ZERO) & (tail <= _NINE)).all():
        return False
    value = np.zeros(len(block), dtype=np.int64)
    for column in range(digits):
        value = value * 10 + (tail[:, column] - _ZERO)
    return bool(np.array_equal(value, seq))


def _compared(trace: pa.Array, codes: np.ndarray, prefixes: list[str],
              seq: np.ndarray) -> bool:
    """The string comparison itself (nulls never match)."""
    prefix = pc.take(pa.array(prefixes, pa.string()), pa.array(np.asarray(codes)))
    same = pc.equal(pc.cast(trace, pa.string()), expected_traces(prefix, pa.array(seq)))
    return bool(pc.all(pc.fill_null(same, False)).as_py())


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return column
