"""The one path from an imported tape to a canonical run directory.

Every importer ends here: :func:`write_imported_run` puts the quotes and prints of an
:class:`~tapesim.calibration.importers.tape.ImportedTape` into replay order (CONTRACT.md
§1 *Ordering*: ``ts``, then ``ingest_ts``, quotes before prints at equal keys, then the
source's own order), numbers them with ``seq`` from 1, gives each its trace id
``<run_id>:<stream>:<seq>`` and writes them through :class:`tapesim.io.writer.RunWriter`
(a hidden temporary directory, the manifest last, one rename), so a failure leaves
nothing behind.

Times: a source time (ns) is floored to the millisecond for ``ts``; ``source_ts`` equals
``ts`` and, as a real tape does not say when a consumer would have received it,
``ingest_ts`` equals ``source_ts`` too. The run id derives from the parameter snapshot,
which for an imported run is the import itself (format, options, day, symbols and the
source files' sha256), so the same files imported the same way give the same bytes.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tapesim._version import __version__
from tapesim.calibration.importers.tape import ImportedTape
from tapesim.events.manifest import SeedBundle
from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, KINDS, EventKind
from tapesim.io.canonical import PROVENANCE_SCHEMA, REAL_SOURCE_KIND, Canonicaliser
from tapesim.io.digest import RECORD, STREAM_LAYOUT, StreamDigest, pack_records
from tapesim.io.manifest import FORMAT, ORDER_BY, run_id_for, sha256_file, snapshot_hash
from tapesim.io.writer import RunWriter
from tapesim.sim.calendar import NS_PER_MS, REGULAR_OPEN, close_time, epoch_ms

SOURCE_EVENTS = "source_events.parquet"
TIE_BREAK = ("seq is assigned in replay order: by ts, then ingest_ts, then quotes before "
             "prints, then the order of the source file")
SOURCE_EVENTS_SCHEMA = pa.schema([
    ("seq", pa.int64()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("source_event", pa.string()),
    ("order_id", pa.int64()),
    ("aggressor", pa.string()),
])


def _file_entries(tape: ImportedTape) -> list[dict[str, Any]]:
    """The manifest's ``source.files``: each file's name, sha256 (the importer's when it
    hashed the file while reading), size and data rows."""
    spec = tape.spec
    hashes = spec.sha256 or tuple(sha256_file(p) for p in spec.files)
    return [{"name": p.name, "sha256": h, "bytes": p.stat().st_size, "rows": n}
            for p, h, n in zip(spec.files, hashes, spec.rows, strict=True)]


def _snapshot(tape: ImportedTape, files: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameter snapshot of an import: what was read and how (no wall clock, no paths)."""
    return {"import": {"format": tape.spec.format, "date": tape.day.isoformat(),
                       "symbols": list(tape.symbols), "options": tape.spec.options,
                       "files": [{"name": f["name"], "sha256": f["sha256"]} for f in files]}}


def _order(quote_ts: np.ndarray, quote_line: np.ndarray, print_ts: np.ndarray,
           print_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The seq of every quote and print in replay order: by ms ``ts``, quotes before
    prints, then source line."""
    ts = np.concatenate([quote_ts, print_ts])
    code = np.concatenate([np.full(quote_ts.size, EQUITY_QUOTE.code, np.int64),
                           np.full(print_ts.size, EQUITY_PRINT.code, np.int64)])
    line = np.concatenate([quote_line, print_line])
    order = np.lexsort((line, code, ts))
    seq = np.empty(order.size, dtype=np.int64)
    seq[order] = np.arange(1, order.size + 1, dtype=np.int64)
    return seq[:quote_ts.size], seq[quote_ts.size:]


def _canonical(source: pa.Table, ts: np.ndarray, seq: np.ndarray,
               fields: list[str]) -> pa.Table:
    """One kind's canonical columns in seq order (the source order within a kind), but
    the trace ids: they need the run id, which needs the source files' hashes."""
    ts_array = pa.array(ts, pa.int64())
    cols: dict[str, Any] = {"ts": ts_array, "source_ts": ts_array, "ingest_ts": ts_array,
                            "seq": pa.array(seq, pa.int64())}
    cols.update({name: source.column(name) for name in fields})
    return pa.table(cols)


def _with_trace_ids(kind: EventKind, table: pa.Table, canon: Canonicaliser) -> pa.Table:
    """The kind's table in its schema: :func:`_canonical`'s columns and the trace ids."""
    cols = dict(zip(table.column_names, table.columns, strict=True))
    cols["trace_id"] = canon.trace_ids(kind.stream, table.column("seq").to_numpy())
    return pa.table(cols, schema=kind.schema)


def _interleave(quote_values: pa.ChunkedArray | pa.Array, print_values: pa.ChunkedArray | pa.Array,
                order: pa.Array) -> pa.Array:
    """Quote values then print values, taken into seq order by ``order``."""
    parts = [v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v
             for v in (quote_values, print_values)]
    return pa.concat_arrays(parts).take(order)


def _seq_order(q_seq: np.ndarray, p_seq: np.ndarray) -> pa.Array:
    """Positions, in quotes-then-prints order, of every event taken in seq order."""
    return pa.array(np.argsort(np.concatenate([q_seq, p_seq]), kind="stable"))


def _source_events(tape: ImportedTape, n_q: int, n_p: int, order: pa.Array) -> pa.Table:
    """The source-event row of every event, in seq order."""
    q_src, p_src = tape.quotes, tape.prints
    n = n_q + n_p
    source_file = tape.spec.files[0].name  # quotes and prints are lines of the first file
    return pa.table({
        "seq": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "source_file": pa.repeat(pa.scalar(source_file), n),
        "source_line": _interleave(q_src.column("line"), p_src.column("line"), order),
        "source_event": _interleave(pa.repeat(pa.scalar(tape.spec.quote_event), n_q),
                                    p_src.column("source_event"), order),
        "order_id": _interleave(pa.nulls(n_q, pa.int64()), p_src.column("order_id"), order),
        "aggressor": _interleave(pa.nulls(n_q, pa.string()), p_src.column("aggressor"), order),
    }, schema=SOURCE_EVENTS_SCHEMA)


def _provenance(quotes: pa.Table, prints: pa.Table, order: pa.Array) -> pa.Table:
    """The provenance row of every event, in seq order."""
    n_q, n_p = quotes.num_rows, prints.num_rows
    n = n_q + n_p
    kinds = pa.array([EQUITY_QUOTE.name, EQUITY_PRINT.name]).take(
        _interleave(pa.repeat(0, n_q), pa.repeat(1, n_p), order))
    nulls = pa.nulls(n, pa.string())
    return pa.table({
        "trace_id": _interleave(quotes.column("trace_id"), prints.column("trace_id"), order),
        "event_kind": kinds,
        "underlying_id": _interleave(quotes.column("underlying_id"),
                                     prints.column("underlying_id"), order),
        "source_kind": pa.repeat(pa.scalar(REAL_SOURCE_KIND), n),
        **{name: nulls for name in PROVENANCE_SCHEMA.names[4:]},
    }, schema=PROVENANCE_SCHEMA)


def _window(tape: ImportedTape, first_ts: int | None, last_ts: int | None) -> dict[str, Any]:
    """The session of the day; the window is the regular session widened to every event."""
    open_ms = epoch_ms(tape.day, REGULAR_OPEN)
    close_ms = epoch_ms(tape.day, close_time(tape.day))
    start = open_ms if first_ts is None else min(open_ms, first_ts)
    end = close_ms if last_ts is None else max(close_ms, last_ts + 1)
    return {"date": tape.day.isoformat(), "open_ts": open_ms, "close_ts": close_ms,
            "start_ts": start, "end_ts": end}


def _records(quotes: pa.Table, prints: pa.Table, q_seq: np.ndarray,
             p_seq: np.ndarray) -> np.ndarray:
    """The digest's core records (:data:`~tapesim.io.digest.RECORD`) of every event, in
    seq order.

    ``quotes`` and ``prints`` hold each kind's canonical columns (:func:`_canonical`;
    the trace ids are not packed), ``q_seq`` and ``p_seq`` their int64 seq (together
    1..n). Each kind is packed by :func:`~tapesim.io.digest.pack_records` (what
    ``verify`` recomputes), then placed at its seq, the records moved as opaque
    fixed-size items, which numpy copies whole rather than field by field.
    """
    item = np.dtype((np.void, RECORD.itemsize))
    records = np.empty(q_seq.size + p_seq.size, dtype=RECORD)  # seq is 1..n: all set
    slots = records.view(item)
    slots[q_seq - 1] = pack_records(EQUITY_QUOTE, quotes).view(item)
    slots[p_seq - 1] = pack_records(EQUITY_PRINT, prints).view(item)
    return records


#: The steps :func:`write_imported_run` reports to its ``progress`` callback: events put
#: in replay order (the source files hashed), digested, event files and sidecars
#: encoded, the directory hashed and published.
WRITE_STEPS = 4


def write_imported_run(tape: ImportedTape, out: Path, force: bool = False,
                       progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write ``tape`` as a canonical run directory at ``out`` and return its manifest.

    The manifest says ``source.kind: real`` with the format, the
    source files' names, sizes and sha256, whether quotes are an NBBO or one venue's
    BBO, and what the source lacks; ``conservation`` is empty (no agents) and the seed
    bundle's seed is 0 (nothing was drawn). Besides the four event files and provenance
    (``source_kind`` = ``real_market``), ``source_events.parquet`` maps each seq to
    its source file line, the source's event type, order reference and aggressor side.
    ``progress(done, total)`` is called as each of the :data:`WRITE_STEPS` steps ends.

    Raises:
        OutputExistsError: ``out`` exists and is not empty, without ``force``.
    """
    step = progress or (lambda done, total: None)
    writer = RunWriter(out, force=force)
    # Helper threads: the source files' hashes (when the importer did not hash them
    # while reading), the exchange calendar the session's close comes from (loaded once
    # per process), each kind's trace ids, and one feeder per Parquet file (the
    # source-event sidecar, quotes, prints, provenance) handing its table to the file's
    # own encoding thread, so every file is encoded at once while this thread packs and
    # digests the records (Arrow, Parquet encoding and hashing release the GIL). A task
    # waits only on tasks submitted before it, which the pool has started by then.
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="import-write")
    try:
        hashed = pool.submit(_file_entries, tape)
        pool.submit(close_time, tape.day)
        q_ts = tape.quotes.column("ts_ns").to_numpy() // NS_PER_MS
        p_ts = tape.prints.column("ts_ns").to_numpy() // NS_PER_MS
        q_seq, p_seq = _order(q_ts, tape.quotes.column("line").to_numpy(), p_ts,
                              tape.prints.column("line").to_numpy())
        order = _seq_order(q_seq, p_seq)
        encoding = [pool.submit(lambda: writer.sidecar(
            SOURCE_EVENTS, _source_events(tape, q_seq.size, p_seq.size, order)))]
        quote_cols = _canonical(tape.quotes, q_ts, q_seq, ["underlying_id", "bid", "ask"])
        print_cols = _canonical(tape.prints, p_ts, p_seq, ["underlying_id", "price", "size",
                                                           "exchange", "offExchangeFlag"])
        files = hashed.result()
        snapshot = _snapshot(tape, files)
        params_hash = snapshot_hash(snapshot)
        run_id = run_id_for(params_hash)
        canon = Canonicaliser(run_id, [], [], 0)
        quotes = pool.submit(_with_trace_ids, EQUITY_QUOTE, quote_cols, canon)
        prints = pool.submit(_with_trace_ids, EQUITY_PRINT, print_cols, canon)
        encoding += [
            pool.submit(lambda: writer.write(EQUITY_QUOTE.name, quotes.result())),
            pool.submit(lambda: writer.write(EQUITY_PRINT.name, prints.result())),
            pool.submit(lambda: writer.provenance.write(
                _provenance(quotes.result(), prints.result(), order)))]
        step(1, WRITE_STEPS)
        records = _records(quote_cols, print_cols, q_seq, p_seq)
        digest = StreamDigest()
        digest.update(records)
        step(2, WRITE_STEPS)
        for future in encoding:
            future.result()
        writer.close_events()
        step(3, WRITE_STEPS)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        writer.abort()
        raise
    pool.shutdown(wait=True)
    all_ts = records["ts"]
    first_ts = int(all_ts[0]) if all_ts.size else None
    last_ts = int(all_ts[-1]) if all_ts.size else None
    counts = {k.name: 0 for k in KINDS}
    counts[EQUITY_QUOTE.name] = q_seq.size
    counts[EQUITY_PRINT.name] = p_seq.size
    spec = tape.spec
    source: dict[str, Any] = {"kind": "real", "format": spec.format, "quotes": spec.quotes,
                              "files": files, "lacks": list(spec.lacks)}
    if spec.venue is not None:
        source["venue"] = spec.venue
    manifest = {
        "format": FORMAT,
        "generator": {"name": "tapesim", "version": __version__,
                      "libraries": {"pyarrow": md.version("pyarrow")}},
        "run_id": run_id,
        "profile": f"import-{spec.format}",
        "seed_bundle": SeedBundle(seed=0, partition="import").model_dump(mode="json"),
        "parameter_snapshot_hash": params_hash,
        "session": _window(tape, first_ts, last_ts),
        "symbols": list(tape.symbols),
        "venues": {"lit": list(spec.lit), "trf": list(spec.trf), "options": []},
        "counts": {**counts, "total": q_seq.size + p_seq.size},
        "time_range": {"first_ts": first_ts, "last_ts": last_ts},
        "ordering": {"order_by": ORDER_BY, "tie_break": TIE_BREAK, "seq_start": 1},
        "event_stream": {"layout": STREAM_LAYOUT, "sha256": digest.hexdigest()},
        "conservation": {},
        "source": source,
    }
    try:
        written = writer.finish(snapshot, manifest)
    except BaseException:
        writer.abort()
        raise
    step(WRITE_STEPS, WRITE_STEPS)
    return written
