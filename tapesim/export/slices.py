"""The part of a run an export writes, streamed in replay order as encoded entries.

A slice is chosen by symbols (for option events, the contract's root) and a New
York time window; one that would exceed ``max_events`` is refused before anything
is written, with a hint to narrow it. :func:`entry_batches` then reads each kind's
Parquet file a batch at a time, encodes every row once as its ``{kind, event}``
entry in the pipeline's stable stringification followed by the file's separator
(:func:`tapesim.io.event_json.encode_batch`, Arrow string kernels, no Python object
per row) and merges the four kinds by ``seq`` into replay order, so memory stays
bounded by a few batches per kind whatever the slice's size. :class:`Staging` is the
output directory that appears only when complete.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.contracts import of_roots
from tapesim.events.models import KINDS, OPTION_NBBO, OPTION_PRINT, EventKind
from tapesim.export.sidecars import ExportError
from tapesim.io.event_json import encode_batch
from tapesim.io.manifest import RunDirectoryError
from tapesim.io.parquet import streaming
from tapesim.io.trace_ids import trace_ids_match
from tapesim.io.writer import check_output
from tapesim.sim.calendar import NEW_YORK, epoch_ms

__all__ = ["BATCH_ROWS", "ENTRY_SCHEMA", "Slice", "Staging", "array_part", "count_events",
           "entry_batches", "single", "values_buffer", "window"]

BATCH_ROWS = 1 << 15  # rows read from a Parquet file at a time

# One encoded event: its seq and ts (epoch ms), kind (its position in KINDS), trace id,
# and the ``{"event":{...},"kind":...}`` entry in the stable stringification followed
# by the separator the file puts after it (a comma in a JSON array, a newline in JSON
# lines), so a batch's entries are written as their string buffer as it is.
ENTRY_SCHEMA = pa.schema([("seq", pa.int64()), ("ts", pa.int64()), ("kind", pa.int8()),
                          ("trace_id", pa.string()), ("entry", pa.string())])


@dataclass(frozen=True)
class Slice:
    """The part of a run to export.

    ``symbols``: the underlyings kept (an option event by its contract's root); ``None``
    or empty keeps every symbol. ``start`` / ``end``: New York wall-clock times on the
    run's session date bounding event ``ts`` as ``[start, end)``; ``None`` is the run's
    simulated window start / end. ``max_events``: the most events the slice may hold.
    Nothing is checked here: an unknown symbol, a window outside the run or an
    inverted one, and a slice over ``max_events`` or empty are refused with
    ``ExportError`` when the events are counted (:func:`count_events`).
    """

    symbols: list[str] | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    max_events: int = 100_000


def window(manifest: dict[str, Any], sl: Slice) -> tuple[int, int]:
    """The slice's ``[lo, hi)`` bounds on event ``ts``, epoch ms.

    Raises:
        ExportError: a window outside the run's session, or an inverted one.
    """
    day = dt.date.fromisoformat(manifest["session"]["date"])
    lo = epoch_ms(day, sl.start) if sl.start else manifest["session"]["start_ts"]
    hi = epoch_ms(day, sl.end) if sl.end else manifest["session"]["end_ts"]
    session = manifest["session"]
    if lo >= session["end_ts"] or hi <= session["start_ts"]:
        span = [dt.datetime.fromtimestamp(t / 1000, NEW_YORK).strftime("%H:%M")
                for t in (session["start_ts"], session["end_ts"])]
        raise ExportError(f"the run covers {span[0]}-{span[1]} New York: choose --start "
                          "and --end inside it")
    if lo >= hi:
        raise ExportError("--start must be before --end")
    return lo, hi


@dataclass(frozen=True)
class _Filter:
    """One kind's part of the slice: ``ts`` in ``[lo, hi)`` and ``expr`` (which reads
    ``columns``)."""

    lo: int
    hi: int
    expr: pc.Expression
    columns: tuple[str, ...]


def _filters(manifest: dict[str, Any], sl: Slice) -> dict[str, _Filter]:
    """The slice's filter of each kind, by kind name."""
    lo, hi = window(manifest, sl)
    expr = (pc.field("ts") >= lo) & (pc.field("ts") < hi)
    if not sl.symbols:
        return {k.name: _Filter(lo, hi, expr, ("ts",)) for k in KINDS}
    unknown = sorted(set(sl.symbols) - set(manifest["symbols"]))
    if unknown:
        raise ExportError(f"--symbols {','.join(unknown)} not in this run: choose from "
                          f"{','.join(manifest['symbols'])}")
    options = _Filter(lo, hi, expr & of_roots(sl.symbols), ("ts", "option_contract_id"))
    stocks = _Filter(lo, hi, expr & pc.field("underlying_id").isin(sl.symbols),
                     ("ts", "underlying_id"))
    return {k.name: options if k in (OPTION_NBBO, OPTION_PRINT) else stocks for k in KINDS}


def _scan(run_dir: Path, kind: EventKind, part: _Filter, columns: list[str] | None = None,
          ) -> Iterator[pa.Table]:
    """One kind's rows of the slice, a batch at a time in the file's order.

    Only the row groups whose ``ts`` statistics meet the window are read, on this
    thread, a batch at a time (a dataset scanner's read-ahead and thread pool cost
    about 100 MB more).

    Raises:
        RunDirectoryError: the file cannot be read.
    """
    path = run_dir / f"{kind.file_stem}.parquet"
    try:
        pf = streaming(path, buffer_size=1 << 20)
        ts = pf.schema_arrow.get_field_index("ts")
        groups = []
        for i in range(pf.metadata.num_row_groups):
            stats = pf.metadata.row_group(i).column(ts).statistics
            if stats is None or not stats.has_min_max or (
                    stats.max >= part.lo and stats.min < part.hi):
                groups.append(i)
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=groups,
                                     columns=columns, use_threads=False):
            rows = pa.Table.from_batches([batch]).filter(part.expr)
            if rows.num_rows:
                yield rows
    except (OSError, pa.ArrowException) as err:
        raise RunDirectoryError(f"{path} cannot be read ({err}): run "
                                f"`tapesim verify {run_dir}`") from None


def count_events(run_dir: Path, manifest: dict[str, Any], sl: Slice) -> int:
    """The events the slice holds, counted from the files' filtered columns.

    Raises:
        ExportError: a bad window or symbol, a slice over ``max_events``, or an empty one.
        RunDirectoryError: an event file cannot be read.
    """
    filters = _filters(manifest, sl)
    total = sum(rows.num_rows for k in KINDS
                for rows in _scan(run_dir, k, filters[k.name], list(filters[k.name].columns)))
    if total > sl.max_events:
        raise ExportError(
            f"the slice holds {total:,} events, more than --max-events {sl.max_events:,}: "
            "narrow it with --symbols, --start and --end, or raise --max-events")
    if total == 0:
        raise ExportError("the slice holds no events: widen --start/--end or --symbols")
    return total


def _encoded(run_dir: Path, kind: EventKind, part: _Filter, sep: str, run: str | None,
             ) -> Iterator[pa.RecordBatch]:
    """One kind's rows of the slice as ``ENTRY_SCHEMA`` batches (each entry followed
    by ``sep``), in the file's order; with ``run`` (``"<run_id>:"``), each trace id
    checked to be ``<run_id>:<stream>:<seq>`` of its row.

    Raises:
        RunDirectoryError: a trace id not of that form (the export relies on it:
            :mod:`tapesim.export.keyorder`).
    """
    head, tail = ['{"event":'], [f',"kind":"{kind.name}"}}{sep}']
    code = KINDS.index(kind)
    prefix = f"{run}{kind.stream}:"
    for rows in _scan(run_dir, kind, part):
        seq, ids = single(rows.column("seq")), single(rows.column("trace_id"))
        if run is not None and (ids.null_count
                                or not trace_ids_match(ids, prefix, seq.to_numpy())):
            raise RunDirectoryError(
                f"{run_dir / kind.file_stem}.parquet: a trace id is not "
                f"`{prefix}<seq>` of its row: run `tapesim verify {run_dir}`")
        yield pa.RecordBatch.from_arrays(
            [seq, single(rows.column("ts")), pa.array(np.full(rows.num_rows, code, np.int8)),
             ids, encode_batch(rows, head, tail)],
            schema=ENTRY_SCHEMA)


def _check_ascending(seq: np.ndarray, last: int, where: Path) -> None:
    if seq.size and (seq[0] <= last or not bool(np.all(seq[1:] > seq[:-1]))):
        raise RunDirectoryError(f"{where}: events are not in seq order (or a seq appears "
                                f"twice): run `tapesim verify {where}`")


def _interleaved(table: pa.Table) -> pa.Table:
    """``table``'s rows in ``seq`` order, as slices of it (no copy): each run of rows
    already in order is one chunk. Kinds interleave in runs of hundreds of rows, so
    this is far cheaper than a ``take`` of every entry's text."""
    order = pc.sort_indices(table.column("seq")).to_numpy()
    if order.size == 0 or np.array_equal(order, np.arange(order.size)):
        return table
    starts = np.flatnonzero(np.diff(order) != 1) + 1
    bounds = np.concatenate([[0], starts, [order.size]])
    return pa.concat_tables([table.slice(int(order[a]), int(b - a))
                             for a, b in itertools.pairwise(bounds.tolist())])


def entry_batches(run_dir: Path, manifest: dict[str, Any], sl: Slice, sep: str,
                  check_ids: bool = True) -> Iterator[pa.Table]:
    """The slice's events as ``ENTRY_SCHEMA`` tables in replay order (ascending seq, the
    contract's ``ts, ingest_ts, seq, trace_id`` order since seq is assigned in it),
    each entry followed by ``sep``.

    Each kind's file is in ascending seq; a round takes, from every kind, the rows up
    to the smallest last seq among the kinds' buffered batches, so each table holds
    about a batch of rows and every kind keeps at most one batch buffered. A table's
    columns are chunked: slices of the kinds' batches in replay order, not copied.

    Raises:
        ExportError: as :func:`count_events` (the filters are built the same way).
        RunDirectoryError: a kind's events out of seq order, a seq in two kinds, or
            with ``check_ids`` a trace id not of the form ``<run_id>:<stream>:<seq>``
            (what the fixture's key order and a slice's labels rely on).
    """
    filters = _filters(manifest, sl)
    prefix = f"{manifest['run_id']}:" if check_ids else None
    streams = {k.name: _encoded(run_dir, k, filters[k.name], sep, prefix) for k in KINDS}
    pending: dict[str, pa.Table] = {}
    last = -1
    while streams or pending:
        for name in list(streams):
            if name not in pending:
                batch = next(streams[name], None)
                if batch is None:
                    del streams[name]
                else:
                    pending[name] = pa.Table.from_batches([batch])
        if not pending:
            break
        open_ends = [int(t.column("seq")[-1].as_py()) for n, t in pending.items()
                     if n in streams]
        bound = min(open_ends) if open_ends else None
        parts = []
        for name, table in list(pending.items()):
            seq = table.column("seq").to_numpy()
            cut = seq.size if bound is None else int(np.searchsorted(seq, bound, side="right"))
            parts.append(table.slice(0, cut))
            if cut == seq.size:
                del pending[name]
            else:
                pending[name] = table.slice(cut)
        merged = _interleaved(pa.concat_tables(parts))
        seq = merged.column("seq").to_numpy()
        _check_ascending(seq, last, run_dir)
        if seq.size:
            last = int(seq[-1])
            yield merged


class Staging:
    """An output directory written in a hidden sibling and renamed into place when
    complete (a context manager); on any error the sibling is removed and nothing
    is left at ``out``.

    Raises:
        OutputExistsError: on entry, when ``out`` exists and is not an empty directory
            and ``force`` is false.
    """

    def __init__(self, out: Path, force: bool) -> None:
        self.out, self.force = out, force
        self.dir = out.parent / f".{out.name}.partial-{os.getpid()}"

    def __enter__(self) -> Staging:
        check_output(self.out, self.force)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        try:
            if self.out.exists():
                shutil.rmtree(self.out)
            self.dir.rename(self.out)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def path(self, name: str) -> Path:
        """Where file ``name`` of the output is written meanwhile."""
        return self.dir / name

    def write_text(self, name: str, text: str) -> None:
        """Write a whole small file (UTF-8)."""
        self.path(name).write_text(text, encoding="utf-8")


def single(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A string column as one array (chunks combined)."""
    if isinstance(texts, pa.ChunkedArray):
        return texts.chunk(0) if texts.num_chunks == 1 else texts.combine_chunks()
    return texts


def values_buffer(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A string column's values as (their UTF-8 bytes laid end to end, uint8; the int64
    offsets of each value in them, one more than there are values), without a copy
    for a single-chunk array."""
    texts = single(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[
        texts.offset:texts.offset + len(texts) + 1].astype(np.int64)
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)
    return data[offsets[0]:offsets[-1]], offsets - offsets[0]


def array_part(texts: pa.Array, first: bool) -> list[np.ndarray | bytes]:
    """A batch of a JSON array's (or object's) items, each followed by a comma, as the
    bytes to write after the items before it: a comma first unless ``first``, the
    last item's own comma dropped (the closing bracket follows the last batch)."""
    data = values_buffer(texts)[0][:-1]
    return [data] if first else [b",", data]
