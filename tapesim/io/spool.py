"""A shard's spool read a record batch at a time, while the shard may still write it.

A spool is an Arrow IPC stream (:func:`tapesim.venues.tape.spool_writer`): a schema
message, LZ4-compressed record batches, an end-of-stream marker. Arrow's stream
reader asks its source for exact byte counts, so :class:`GrowingFile` hands it a
file that never ends early: a read past what is on disk waits for the writer (and
asks ``wait`` whether to go on waiting) until the bytes are there. The tables come
out as the merge wants them, tagged with their shard and each row's index in the
shard's generation order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

Wait = Callable[[], bool]
"""Asked when a read found the file short: True to look again, False when the writer
has finished (the file is complete); it raises if the writer failed."""


def _finished() -> bool:
    return False


class GrowingFile:
    """A read-only, sequential file object over ``path`` that may still be growing.

    ``read(n)`` returns exactly ``n`` bytes, sleeping between looks (1 ms at first,
    doubling to 20 ms) while the file is shorter; once ``wait`` says the writer has
    finished it returns what there is. The file may not exist yet when opened.

    Raises:
        FileNotFoundError: the writer finished without creating the file.
        Exception: whatever ``wait`` raises.
    """

    PAUSE_S = (0.001, 0.02)

    def __init__(self, path: Path, wait: Wait = _finished) -> None:
        self._path = path
        self._wait = wait
        self._fd = -1
        self.closed = False

    def _pauses(self) -> Iterator[float]:
        """Seconds to sleep before each next look: 1 ms, doubling to 20 ms."""
        pause, longest = self.PAUSE_S
        while True:
            yield pause
            pause = min(pause * 2, longest)

    def _open(self) -> None:
        pauses = self._pauses()
        while not self._path.exists():
            if not self._wait() and not self._path.exists():
                raise FileNotFoundError(f"{self._path} was never written")
            time.sleep(next(pauses))
        self._fd = os.open(self._path, os.O_RDONLY)

    def read(self, n: int = -1) -> bytes:
        if self._fd < 0:
            self._open()
        if n < 0:
            parts = []
            while chunk := os.read(self._fd, 1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        parts, need, finished = [], n, False
        pauses = self._pauses()
        while need:
            chunk = os.read(self._fd, need)
            if chunk:
                parts.append(chunk)
                need -= len(chunk)
                pauses = self._pauses()
            elif finished:
                break
            elif not self._wait():
                finished = True  # one more look: what the writer wrote before it finished
            else:
                time.sleep(next(pauses))
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.closed = True


def spool_tables(path: Path, shard: int, wait: Wait = _finished) -> Iterator[pa.Table]:
    """A spool's record batches as tables, each with the columns ``shard`` (int32, the
    shard's index in the run) and ``local`` (int64, the row's index in the spool),
    read as the shard writes them when ``wait`` says it is still writing."""
    source = GrowingFile(path, wait)
    try:
        reader = pa.ipc.open_stream(source)
        offset = 0
        for batch in reader:
            n = batch.num_rows
            table = pa.Table.from_batches([batch])
            table = table.append_column("shard", pa.array(np.full(n, shard, dtype=np.int32)))
            table = table.append_column("local", pa.array(np.arange(offset, offset + n)))
            offset += n
            yield table
    finally:
        source.close()
