"""Per-kind event streams merged into replay order by ``seq``.

Every source of events in replay order — a run directory's Parquet files, a run
loaded into ClickHouse — holds each kind apart, each in ascending ``seq`` (seq is
assigned in the contract's order ``ts, ingest_ts, seq, trace_id``, CONTRACT.md §1).
:func:`merge_by_seq` interleaves them back, a few batches per kind alive at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from tapesim.events.batches import GeneratedEventBatch
from tapesim.io.manifest import RunDirectoryError

__all__ = ["merge_by_seq"]

VERIFY_FIX = "`tapesim verify` names the problem"


class _Head:
    """The current batch of one kind's stream and the position in it."""

    __slots__ = ("batch", "kind", "pos", "seq", "stream")

    def __init__(self, kind: str, stream: Iterator[pa.RecordBatch]) -> None:
        self.kind = kind
        self.stream = stream
        self.batch: pa.RecordBatch | None = None
        self.seq = np.zeros(0, dtype=np.int64)
        self.pos = 0

    def advance(self, where: str, damaged: Callable[[str], Exception]) -> bool:
        """Load the next non-empty batch; False at the end of the stream."""
        last = int(self.seq[-1]) if len(self.seq) else -1
        for batch in self.stream:
            if batch.num_rows == 0:
                continue
            seq = batch.column("seq").to_numpy()
            if seq[0] <= last or (len(seq) > 1 and not bool(np.all(seq[1:] > seq[:-1]))):
                raise damaged(f"{where}: {self.kind} events are not in seq order")
            self.batch, self.seq, self.pos = batch, seq, 0
            return True
        self.batch = None
        return False


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
    heads = [_Head(kind, iter(s)) for kind, s in streams.items()]
    heap = [(int(h.seq[0]), i) for i, h in enumerate(heads) if h.advance(where, damaged)]
    heapq.heapify(heap)
    while heap:
        first, i = heapq.heappop(heap)
        head = heads[i]
        bound = heap[0][0] if heap else None
        if bound == first:
            raise damaged(f"{where}: seq {first} appears in two event kinds")
        end = len(head.seq) if bound is None else int(
            np.searchsorted(head.seq, bound, side="left"))
        assert head.batch is not None
        part = head.batch.slice(head.pos, end - head.pos)
        yield GeneratedEventBatch.model_construct(
            kind=head.kind, batch=part, first_seq=first, last_seq=int(head.seq[end - 1]),
            num_rows=end - head.pos)
        head.pos = end
        if head.pos < len(head.seq) or head.advance(where, damaged):
            heapq.heappush(heap, (int(head.seq[head.pos]), i))


def _verify(what: str) -> RunDirectoryError:
    return RunDirectoryError(f"{what}; the source is damaged ({VERIFY_FIX})")
