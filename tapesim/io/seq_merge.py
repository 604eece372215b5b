"""Ordered streams of record batches merged into one order, and per-kind event streams
merged into replay order by ``seq``.

Every source of events in replay order — a run directory's Parquet files, a run
loaded into ClickHouse — holds each kind apart, each in ascending ``seq`` (seq is
assigned in the contract's order ``ts, ingest_ts, seq, trace_id``, CONTRACT.md §1).
:func:`merge_by_seq` interleaves them back, a few batches per kind alive at once, on
top of :func:`merge_ordered`, the k-way merge of any streams ordered by one column
(a load's runs interleaved by ``ts`` use it too).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa

from tapesim.events.batches import GeneratedEventBatch
from tapesim.io.manifest import RunDirectoryError

__all__ = ["merge_by_seq", "merge_ordered"]

VERIFY_FIX = "`tapesim verify` names the problem"

T = TypeVar("T")


class _Head(Generic[T]):
    """The current batch of one stream, its key column and the position in it."""

    __slots__ = ("batch", "keys", "pos", "stream", "tag")

    def __init__(self, stream: Iterator[tuple[T, pa.RecordBatch]]) -> None:
        self.stream = stream
        self.tag: T | None = None
        self.batch: pa.RecordBatch | None = None
        self.keys = np.zeros(0, dtype=np.int64)
        self.pos = 0

    def advance(self, key: str) -> bool:
        """Load the next non-empty batch; False at the end of the stream."""
        for tag, batch in self.stream:
            if batch.num_rows:
                self.tag, self.batch, self.pos = tag, batch, 0
                self.keys = batch.column(key).to_numpy()
                return True
        self.batch = None
        return False


def merge_ordered(streams: Sequence[Iterable[tuple[T, pa.RecordBatch]]], key: str,
                  ) -> Iterator[tuple[int, T, pa.RecordBatch]]:
    """K-way merge of streams of tagged record batches, each non-decreasing in ``key``.

    Args:
        streams: per stream, ``(tag, batch)`` pairs; ``key`` an integer column of every
            batch, never decreasing along a stream.
        key: the column to merge by.

    Yields:
        ``(stream index, tag, slice)``: zero-copy slices of the input batches whose
        concatenation is ordered by ``key``; rows with equal keys come from the lower
        stream index first, each stream keeping its own order.
    """
    heads = [_Head(iter(s)) for s in streams]
    heap = [(int(h.keys[0]), i) for i, h in enumerate(heads) if h.advance(key)]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        head = heads[i]
        if heap:
            bound, j = heap[0]
            end = int(np.searchsorted(head.keys, bound, side="right" if i < j else "left"))
        else:
            end = len(head.keys)
        assert head.batch is not None
        yield i, head.tag, head.batch.slice(head.pos, end - head.pos)  # type: ignore[misc]
        head.pos = end
        if head.pos < len(head.keys) or head.advance(key):
            heapq.heappush(heap, (int(head.keys[head.pos]), i))


def _ascending(kind: str, stream: Iterable[pa.RecordBatch], where: str,
               damaged: Callable[[str], Exception]) -> Iterator[tuple[str, pa.RecordBatch]]:
    """One kind's batches tagged with it, refused once ``seq`` fails to rise."""
    last = -1
    for batch in stream:
        if batch.num_rows == 0:
            continue
        seq = batch.column("seq").to_numpy()
        if seq[0] <= last or (len(seq) > 1 and not bool(np.all(seq[1:] > seq[:-1]))):
            raise damaged(f"{where}: {kind} events are not in seq order")
        last = int(seq[-1])
        yield kind, batch


def merge_by_seq(streams: dict[str, Iterable[pa.RecordBatch]], where: str = "the source",
                 damaged: Callable[[str], Exception] | None = None,
                 ) -> Iterator[GeneratedEventBatch]:
    """Merge per-kind record batches, each stream in ascending seq, into replay order.

    Args:
        streams: record batches of each kind (by kind name), in the kind's Arrow schema,
            every stream in strictly ascending ``seq``.
        where: the source's name, for the error message.
        damaged: builds the error raised for a stream out of order from its first
            words (default: :class:`RunDirectoryError` pointing to ``tapesim verify``).

    Yields:
        slices of the input batches (zero-copy), one kind each, in ascending seq.

    Raises:
        RunDirectoryError: (or what ``damaged`` builds) a stream not in ascending seq,
            or two kinds sharing a seq.
    """
    damaged = damaged or _verify
    tagged = [_ascending(kind, s, where, damaged) for kind, s in streams.items()]
    last = -1
    for _, kind, part in merge_ordered(tagged, "seq"):
        seq = part.column("seq")
        first = seq[0].as_py()
        if first == last:  # equal keys are adjacent: the same seq in two kinds
            raise damaged(f"{where}: seq {first} appears in two event kinds")
        last = seq[-1].as_py()
        yield GeneratedEventBatch.model_construct(
            kind=kind, batch=part, first_seq=first, last_seq=last, num_rows=part.num_rows)


def _verify(what: str) -> RunDirectoryError:
    return RunDirectoryError(f"{what}; the source is damaged ({VERIFY_FIX})")
