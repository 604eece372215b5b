"""Opening a run directory's Parquet files for streaming reads.

pyarrow's ``ParquetFile`` pre-buffers by default: it keeps every byte range it has
read until the file is closed, so iterating a whole file batch by batch holds the
whole file (a full ``market-day`` ``option_nbbo.parquet`` is about 0.5 GB) however
small the batches. Every reader that walks a file opens it through :func:`streaming`.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

import pyarrow.parquet as pq

T = TypeVar("T")


def streaming(path: str | os.PathLike[str], **options: Any) -> pq.ParquetFile:
    """``path`` as a ``pyarrow.parquet.ParquetFile`` that does not pre-buffer, so
    memory stays bounded by the batches (or row groups) read at a time.

    Args:
        path: a Parquet file.
        **options: further ``ParquetFile`` options (``buffer_size``,
            ``read_dictionary`` ...).

    Raises:
        OSError, pyarrow.ArrowInvalid: the file is missing or not Parquet.
    """
    return pq.ParquetFile(str(path), pre_buffer=False, **options)


_END = object()


def prefetched(items: Iterator[T], depth: int = 2, name: str = "tapesim-reader") -> Iterator[T]:
    """``items`` (e.g. Parquet batches), produced ahead in a thread named ``name`` (at
    most ``depth`` waiting), so reading and decompressing (pyarrow releases the GIL)
    overlaps the consumer's work on the previous item; an exception of the producer
    is raised here. Order and content are unchanged; leaving early stops the thread."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not hand(item):
                    return
            hand(_END)
        except BaseException as err:  # handed to the consumer, raised there
            hand(err)

    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
