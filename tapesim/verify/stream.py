"""The event stream across kinds: run-wide seq, replay order and the stream digest.

Each kind's Parquet file is read a batch at a time, only the columns of the core
digest record (:data:`tapesim.io.digest.RECORD`), ids dictionary-encoded, packed into
records and merged by ``seq`` in numpy (windows cut below the smallest last seq of
the kinds still giving rows, each window sorted by seq, stable). Over the merged
records it checks that seq runs 1, 2, 3, ... across kinds, that the kinds interleave
in replay order (``ts``, ``ingest_ts``, then the kind's ordering code) and that the
sha256 of the core records, with the detail records of option prints in file order,
is the manifest's ``event_stream`` digest; and that each kind has the rows the
manifest counts. Memory: a few batches per kind.

Where the time goes: each kind's file is read and packed a row group at a time on its
own thread (:func:`tapesim.io.prefetch.prefetched`; Parquet decoding frees the GIL), a
sound window is its sources' runs of consecutive seqs copied whole rather than sorted
(:func:`_interleaved`), the order check reads contiguous ``ts``/``ingest_ts`` arrays
carried beside the records, and the sha256 of one window runs on a helper thread
while the next is merged (hashlib frees the GIL on large buffers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    KINDS,
    OPTION_NBBO,
    OPTION_PRINT,
    EventKind,
)
from tapesim.io.digest import STREAM_LAYOUT, StreamDigest, pack_details, pack_records
from tapesim.io.parquet import streaming
from tapesim.io.prefetch import prefetched

BATCH = 1 << 16
ROW_GROUP = 1 << 17  # the writer's row group: a batch this long decodes each dictionary once
ID_COLUMNS = ("underlying_id", "option_contract_id", "exchange")
# The columns each kind's core digest record is packed from (io.digest.pack_records).
CORE_COLUMNS: dict[str, list[str]] = {
    EQUITY_QUOTE.name: ["ts", "source_ts", "ingest_ts", "seq", "underlying_id", "bid", "ask"],
    EQUITY_PRINT.name: ["ts", "source_ts", "ingest_ts", "seq", "underlying_id", "price", "size",
                        "exchange", "offExchangeFlag"],
    OPTION_NBBO.name: ["ts", "source_ts", "ingest_ts", "seq", "option_contract_id", "bid",
                       "ask", "bidSize", "askSize"],
    OPTION_PRINT.name: ["ts", "source_ts", "ingest_ts", "seq", "underlying_id",
                        "option_contract_id", "price", "size", "exchange"],
}

Rows = Callable[[int], None]
"""Progress: called with the rows read so far by one job."""


def read_batches(path: Path, columns: list[str] | None = None,
                 dictionary: tuple[str, ...] = ID_COLUMNS, batch: int = BATCH,
                 ) -> Iterator[pa.Table]:
    """A Parquet file's rows as tables of at most ``batch`` rows, only ``columns`` (all
    when None), the string columns named in ``dictionary`` read dictionary-encoded.

    Raises ``OSError`` / ``pyarrow.ArrowException`` when the file cannot be read.
    """
    names = pq.read_schema(str(path)).names
    pf = streaming(path, read_dictionary=[c for c in dictionary if c in names])
    for rows in pf.iter_batches(batch_size=batch, columns=columns):
        yield pa.Table.from_batches([rows])


def order_breaks(
    keys: np.ndarray, previous: tuple[int, ...] | None, strict: bool
) -> tuple[int | None, tuple[int, ...]]:
    """First row whose key tuple (rows of ``keys``) sorts before the row above it.

    ``previous`` is the last key of the preceding batch; ``strict`` also rejects
    equal keys. Returns (index of the first offending row or None, this batch's last key).
    """
    if previous is not None:
        keys = np.concatenate([np.asarray(previous).reshape(-1, 1), keys], axis=1)
    d = np.diff(keys, axis=1)
    tied = np.ones(d.shape[1], dtype=bool)
    bad = np.zeros(d.shape[1], dtype=bool)
    for row in d[:-1]:
        bad |= tied & (row < 0)
        tied &= row == 0
    bad |= tied & ((d[-1] <= 0) if strict else (d[-1] < 0))
    last = tuple(int(k) for k in keys[:, -1])
    if not bad.any():
        return None, last
    first = int(np.argmax(bad)) + (0 if previous is not None else 1)
    return first, last


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of one kind: their core digest records (``RECORD``) and, as
    contiguous int64 arrays, the seq, ts and ingest_ts the merge and the order check
    read (a field of the records would be a strided read of every record)."""

    records: np.ndarray
    seq: np.ndarray
    ts: np.ndarray
    ingest: np.ndarray
    kind: int  # the kind's ordering code (EventKind.code); -1 for a window of several
    ascending: bool  # seq strictly ascending within the chunk
    codes: np.ndarray | None = None  # a window's kind code per row, when known

    def kind_codes(self) -> np.ndarray:
        """Each row's kind ordering code, int64."""
        if self.kind >= 0:
            return np.full(self.size, self.kind, dtype=np.int64)
        if self.codes is not None:
            return self.codes
        return self.records["kind"].astype(np.int64)

    @classmethod
    def of(cls, records: np.ndarray, kind: int) -> Chunk:
        """The chunk of ``records`` (``RECORD``; ``kind`` -1 when of several kinds)."""
        seq = np.ascontiguousarray(records["seq"])
        return cls(records, seq, np.ascontiguousarray(records["ts"]),
                   np.ascontiguousarray(records["ingest_ts"]), kind,
                   bool(np.all(seq[1:] > seq[:-1])))

    @property
    def size(self) -> int:
        """Rows in the chunk."""
        return len(self.seq)

    def below(self, cutoff: int) -> int:
        """How many rows have seq below ``cutoff`` (the rows a window takes are the first
        that many, as before: a damaged, unsorted chunk is cut at the same place)."""
        if self.ascending:
            return int(np.searchsorted(self.seq, cutoff, side="left"))
        return int(np.count_nonzero(self.seq < cutoff))

    def cut(self, start: int, stop: int | None = None) -> Chunk:
        """Rows ``start:stop`` (views)."""
        s = slice(start, stop)
        return Chunk(self.records[s], self.seq[s], self.ts[s], self.ingest[s], self.kind,
                     self.ascending)


def _records(kind: EventKind, path: Path, counts: dict[str, int]) -> Iterator[Chunk]:
    """One kind's core records a row group at a time; nothing for a file whose schema
    is not the kind's (the kind's own checks report it)."""
    if pq.read_schema(str(path)) != kind.schema:
        return
    for t in read_batches(path, CORE_COLUMNS[kind.name], batch=ROW_GROUP):
        counts[kind.name] += t.num_rows  # one thread per kind, each its own key
        seq = t.column("seq").to_numpy()
        yield Chunk(pack_records(kind, t), seq, t.column("ts").to_numpy(),
                    t.column("ingest_ts").to_numpy(), kind.code,
                    bool(np.all(seq[1:] > seq[:-1])))


def merge_by_seq(sources: list[Iterator[Chunk]]) -> Iterator[Chunk]:
    """Chunks of several sources, each ascending in ``seq``, merged into windows sorted
    by seq (stable): every row of a window precedes those of the next. A window holds
    the buffered rows below the smallest last seq of the sources still giving rows, so
    memory holds a few chunks per source. A window of several kinds has ``kind`` -1
    (:meth:`Chunk.kind_codes` gives each row's). Each source's buffer is a list of its
    chunks, so reading on past a cutoff copies nothing."""
    its = [iter(s) for s in sources]
    bufs: list[list[Chunk]] = [[] for _ in its]
    live = [True] * len(its)
    while True:
        for i, it in enumerate(its):
            while live[i] and not bufs[i]:
                nxt = next(it, None)
                if nxt is None:
                    live[i] = False
                elif nxt.size:
                    bufs[i].append(nxt)
        if not any(bufs):
            return
        pending = [i for i in range(len(its)) if live[i]]
        cutoff = min(int(bufs[i][-1].seq[-1]) for i in pending) if pending else None
        parts: list[Chunk] = []
        for buf in bufs:
            if buf:
                parts += _take(buf, cutoff)
        if not parts:  # every buffered row sits at the cutoff: read further where it is set
            for i in pending:
                if int(bufs[i][-1].seq[-1]) == cutoff:
                    nxt = next(its[i], None)
                    if nxt is None:
                        live[i] = False
                    elif nxt.size:
                        bufs[i].append(nxt)
            continue
        yield _in_seq_order(parts)


def _take(buf: list[Chunk], cutoff: int | None) -> list[Chunk]:
    """Remove from a source's buffer (its chunks in order) its first rows, as many as
    have seq below ``cutoff`` (all when None), and return them as chunks in order."""
    split = sum(c.size for c in buf) if cutoff is None else sum(c.below(cutoff) for c in buf)
    taken = []
    while split:
        c = buf[0]
        if c.size <= split:
            taken.append(buf.pop(0))
            split -= c.size
        else:
            taken.append(c.cut(0, split))
            buf[0] = c.cut(split)
            split = 0
    return taken


def _in_seq_order(parts: list[Chunk]) -> Chunk:
    """The rows of ``parts`` (each from one source, in its order) sorted by seq, stable.
    When their seqs are exactly the run lo, lo + 1, ... (a sound run's window) and each
    part is ascending, the window is the parts' runs of consecutive seqs concatenated
    (:func:`_interleaved`); otherwise the rows are sorted."""
    if len(parts) == 1 and parts[0].ascending and (
            int(parts[0].seq[-1]) - int(parts[0].seq[0]) == parts[0].size - 1):
        return parts[0]
    lo = min(int(p.seq[0]) for p in parts)
    total = sum(p.size for p in parts)
    if all(p.ascending for p in parts) and all(int(p.seq[-1]) - lo < total for p in parts):
        source = np.full(total, -1, dtype=np.int16)
        for i, p in enumerate(parts):
            source[p.seq - lo] = i
        if (source >= 0).all():  # every position once: the seqs are lo, ..., lo + total - 1
            return _interleaved(parts, source)
    records = np.concatenate([p.records for p in parts])
    return Chunk.of(records[np.argsort(records["seq"], kind="stable")], -1)


def _interleaved(parts: list[Chunk], source: np.ndarray) -> Chunk:
    """The window whose row at position ``k`` is the next row of ``parts[source[k]]``:
    runs of one source are copied whole (contiguous records), so the records are
    copied once, not scattered one by one."""
    n = len(source)
    edges = np.flatnonzero(source[1:] != source[:-1]) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.append(starts, n))
    owner = source[starts]
    first = np.zeros(len(starts), dtype=np.int64)  # each run's first row in its part
    for i in range(len(parts)):
        mine = owner == i
        first[mine] = np.cumsum(lengths[mine]) - lengths[mine]
    runs = list(zip(owner.tolist(), first.tolist(), (first + lengths).tolist(), strict=True))
    def joined(arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([arrays[i][a:b] for i, a, b in runs])

    # Records as rows of bytes: concatenating structured arrays promotes their dtype
    # once per piece, slower than the copy itself.
    width = parts[0].records.dtype.itemsize
    records = joined([np.ascontiguousarray(p.records).view(np.uint8).reshape(-1, width)
                      for p in parts]).reshape(-1).view(parts[0].records.dtype)
    lo = int(parts[0].seq[0]) if len(parts) == 1 else min(int(p.seq[0]) for p in parts)
    codes = np.array([p.kind for p in parts], dtype=np.int64)[source]  # parts: one kind each
    return Chunk(records, np.arange(lo, lo + n, dtype=np.int64), joined([p.ts for p in parts]),
                 joined([p.ingest for p in parts]), -1, True, codes)


def stream_problems(run_dir: Path, manifest: dict[str, Any], rows: Rows) -> list[str]:
    """The cross-kind checks of the module docstring over a run directory whose files
    are all present; problems one line each, in the order found.

    Raises ``OSError`` / ``pyarrow.ArrowException`` when a file cannot be read.
    """
    problems: list[str] = []
    counts = {k.name: 0 for k in KINDS}
    digest = StreamDigest()
    sources = [_records(k, run_dir / f"{k.file_stem}.parquet", counts) for k in KINDS]
    expected_seq = 1
    last_key: tuple[int, ...] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-digest") as hasher:
        hashed: Future[None] | None = None
        for window in merge_by_seq([prefetched(s, name="verify-read") for s in sources]):
            seq = window.seq
            if not ((window.ascending and int(seq[0]) == expected_seq
                     and int(seq[-1]) == expected_seq + seq.size - 1)
                    or np.array_equal(seq, np.arange(expected_seq, expected_seq + seq.size))):
                problems.append(
                    f"seq is not contiguous from 1 across kinds near seq {expected_seq}")
                return problems
            expected_seq += seq.size
            rows(expected_seq - 1)  # on this thread: the readers run on their own
            key = np.stack([window.ts, window.ingest, window.kind_codes()])
            bad, last_key = order_breaks(key, last_key, strict=False)
            if bad is not None:
                problems.append("events across kinds are not in replay order "
                                "(ts, ingest_ts, then equity quote, option NBBO, equity "
                                "print, option print) by seq")
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(digest.update, window.records)  # hashlib frees the GIL
        if hashed is not None:
            hashed.result()
    prints = run_dir / f"{OPTION_PRINT.file_stem}.parquet"
    if pq.read_schema(str(prints)) == OPTION_PRINT.schema:
        for t in read_batches(prints, dictionary=()):
            digest.update_details(pack_details(t))
    for kind in KINDS:
        want = manifest.get("counts", {}).get(kind.name)
        if counts[kind.name] != want:
            problems.append(f"{kind.file_stem}.parquet has {counts[kind.name]} rows, "
                            f"the manifest counts {want}")
    stream = manifest.get("event_stream", {})
    if stream.get("layout") != STREAM_LAYOUT:
        problems.append(f"unknown event stream layout {stream.get('layout')!r}")
    elif digest.hexdigest() != stream.get("sha256"):
        problems.append("the event stream in replay order does not match the manifest's digest")
    return problems
