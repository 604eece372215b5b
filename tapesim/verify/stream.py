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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from tapesim.io.digest import RECORD, STREAM_LAYOUT, StreamDigest, pack_details, pack_records
from tapesim.io.parquet import streaming

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


def _records(kind: EventKind, path: Path, counts: dict[str, int], rows: Rows,
             ) -> Iterator[np.ndarray]:
    """One kind's core records a batch at a time; nothing for a file whose schema is
    not the kind's (the kind's own checks report it)."""
    if pq.read_schema(str(path)) != kind.schema:
        return
    for t in read_batches(path, CORE_COLUMNS[kind.name], batch=ROW_GROUP):
        counts[kind.name] += t.num_rows
        rows(t.num_rows)
        yield pack_records(kind, t)


def merge_by_seq(sources: list[Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    """Record arrays of several sources, each ascending in ``seq``, merged into windows
    sorted by seq (stable): every record of a window precedes those of the next. A
    window holds the buffered records below the smallest last seq of the sources
    still giving records, so memory holds a few batches per source."""
    its = [iter(s) for s in sources]
    bufs = [np.zeros(0, dtype=RECORD) for _ in its]
    live = [True] * len(its)
    while True:
        for i, it in enumerate(its):
            while live[i] and bufs[i].size == 0:
                nxt = next(it, None)
                if nxt is None:
                    live[i] = False
                else:
                    bufs[i] = nxt
        if not any(b.size for b in bufs):
            return
        pending = [i for i in range(len(its)) if live[i]]
        cutoff = min(int(bufs[i]["seq"][-1]) for i in pending) if pending else None
        parts = []
        for i, b in enumerate(bufs):
            split = b.size if cutoff is None else int(np.count_nonzero(b["seq"] < cutoff))
            if split:
                parts.append(b[:split])
                bufs[i] = b[split:]
        if not parts:  # every buffered row sits at the cutoff: read further where it is set
            for i in pending:
                if int(bufs[i]["seq"][-1]) == cutoff:
                    nxt = next(its[i], None)
                    if nxt is None:
                        live[i] = False
                    else:
                        bufs[i] = np.concatenate([bufs[i], nxt])
            continue
        yield _in_seq_order(parts)


def _in_seq_order(parts: list[np.ndarray]) -> np.ndarray:
    """The records of ``parts`` (each ascending in seq) sorted by seq, stable. When
    their seqs are exactly the run lo, lo + 1, ... (a sound run's window), each record
    is put at ``seq - lo`` directly; otherwise they are sorted."""
    lo = min(int(p["seq"][0]) for p in parts)
    total = sum(p.size for p in parts)
    if len(parts) == 1 and int(parts[0]["seq"][-1]) - lo == total - 1 and bool(
            np.all(np.diff(parts[0]["seq"]) > 0)):
        return parts[0]
    out = np.empty(total, dtype=RECORD)
    seen = np.zeros(total, dtype=bool)
    for p in parts:
        pos = p["seq"] - lo
        if int(pos.max()) >= total:
            break
        out[pos] = p
        seen[pos] = True
    else:
        if seen.all():
            return out
    window = np.concatenate(parts)
    return window[np.argsort(window["seq"], kind="stable")]


def stream_problems(run_dir: Path, manifest: dict[str, Any], rows: Rows) -> list[str]:
    """The cross-kind checks of the module docstring over a run directory whose files
    are all present; problems one line each, in the order found.

    Raises ``OSError`` / ``pyarrow.ArrowException`` when a file cannot be read.
    """
    problems: list[str] = []
    counts = {k.name: 0 for k in KINDS}
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        rows(done[0])

    digest = StreamDigest()
    sources = [_records(k, run_dir / f"{k.file_stem}.parquet", counts, tick) for k in KINDS]
    expected_seq = 1
    last_key: tuple[int, ...] | None = None
    for records in merge_by_seq(sources):
        seq = records["seq"]
        if not np.array_equal(seq, np.arange(expected_seq, expected_seq + seq.size)):
            problems.append(f"seq is not contiguous from 1 across kinds near seq {expected_seq}")
            return problems
        expected_seq += seq.size
        key = np.stack([records["ts"], records["ingest_ts"], records["kind"].astype(np.int64)])
        bad, last_key = order_breaks(key, last_key, strict=False)
        if bad is not None:
            problems.append("events across kinds are not in replay order "
                            "(ts, ingest_ts, then equity quote, option NBBO, equity print, "
                            "option print) by seq")
        digest.update(records)
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
