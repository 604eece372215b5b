"""An iterator run ahead on a helper thread, a bounded number of items at a time.

Reading and decoding Arrow data (IPC, Parquet), sorting and taking rows all release
the GIL, so a producer of tables run on a second thread overlaps its consumer's
work on the previous item while memory holds at most ``depth`` items more.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import Any, TypeVar

__all__ = ["prefetched"]

T = TypeVar("T")
_END = object()


def prefetched(items: Iterable[T], depth: int = 2, name: str = "tapesim-prefetch",
               ) -> Generator[T, None, None]:
    """``items``, produced ahead on a daemon thread named ``name``, at most ``depth``
    waiting; order and content are unchanged.

    An exception raised by the producer is raised here, at the point its item would
    have come. Closing the returned generator early (``break``, an exception in the
    consumer) stops the producer at its next item and joins its thread.
    """
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

    def produce() -> None:
        try:
            for item in items:
                if not hand(item):
                    return
            hand(_END)
        except BaseException as err:  # handed to the consumer, raised there
            hand(err)

    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        producer.join()
