"""The contract's trace ids, ``<run_id>:<stream>:<seq>`` (CONTRACT.md section 1), checked
against the seqs they must carry, from the strings' buffers.

Shared by ``tapesim verify`` (every event file's ids) and ``tapesim export`` (which
relies on the form to write ``provenance.json`` in key order without holding the
slice's ids, :mod:`tapesim.export.keyorder`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["trace_ids_match"]

_DIGITS = 18  # every 18-digit number fits in int64
_POWERS = 10 ** np.arange(_DIGITS - 1, -1, -1, dtype=np.int64)
_MAX_RUNS = 8  # runs of rows of one width read as views; more: strings are built


def trace_ids_match(trace_ids: pa.ChunkedArray | pa.Array, prefix: str,
                    seq: np.ndarray) -> bool:
    """Whether each trace id is ``prefix`` followed by its row's seq in decimal digits
    (null ids are not judged, as ``pc.all`` skips them).

    Read from the strings' buffers rather than compared with built strings: ids whose
    tails have the same number of digits ``d`` lie back to back, ``len(prefix) + d``
    bytes each, so a run of rows of one width is a ``[rows, len(prefix) + d]`` view of
    the buffer; each row must hold the prefix, then ``d`` ASCII digits without a
    leading zero whose value is the seq. Only that decimal text passes. Ids of mixed
    widths beyond a few runs (a damaged file), nulls, a non-ASCII prefix, a seq below
    1 or a tail over 18 digits are compared with built strings instead.
    """
    ids = trace_ids.combine_chunks() if isinstance(trace_ids, pa.ChunkedArray) else trace_ids
    head = np.frombuffer(prefix.encode("utf-8"), dtype=np.uint8)
    n = len(ids)
    runs: list[int] = []
    if (n and not ids.null_count and head.size == len(prefix) and pa.types.is_string(ids.type)
            and int(seq.min()) >= 1):
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset:ids.offset + n + 1]
        widths = np.diff(offsets) - head.size
        runs = [0, *(np.flatnonzero(np.diff(widths)) + 1).tolist(), n]
    if not runs or len(runs) - 1 > _MAX_RUNS or not 1 <= widths.min() <= widths.max() <= _DIGITS:
        if runs and (widths < 1).any():
            return False
        expected = pc.binary_join_element_wise(prefix, pc.cast(pa.array(seq), pa.string()), "")
        return bool(pc.all(pc.equal(ids, expected)).as_py())
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)
    for lo, hi in itertools.pairwise(runs):
        d = int(widths[lo])
        rows = data[offsets[lo]:offsets[hi]].reshape(hi - lo, head.size + d)
        digits = rows[:, head.size:] - np.uint8(48)  # '0' is 48; below it wraps past 9
        if ((rows[:, :head.size] != head).any() or (digits > 9).any()
                or (d > 1 and not digits[:, 0].all())):
            return False
        if not np.array_equal(digits.astype(np.int64) @ _POWERS[-d:], seq[lo:hi]):
            return False
    return True

