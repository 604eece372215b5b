"""Writes a run directory atomically.

Everything goes into a hidden temporary directory beside the target; only when
every file and the manifest are complete is it renamed into place, so a crash
never leaves a directory that claims to be complete. Parquet files are written in
fixed-size row groups whatever the merge windows were, so their bytes depend
only on the event stream.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tapesim.events.manifest import RunManifest
from tapesim.events.models import KINDS
from tapesim.io.manifest import (
    MANIFEST,
    PARAMETER_SNAPSHOT,
    PROVENANCE,
    artifact_entry,
    canonical_json,
)
from tapesim.io.provenance import PROVENANCE_SCHEMA

ROW_GROUP = 1 << 17
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_statistics": True}
#: The replay order of every event file (CONTRACT.md §1 "Ordering"), recorded in each
#: row group's metadata; ``trace_id`` breaks no tie left by ``seq``, which is unique.
REPLAY_ORDER = ("ts", "ingest_ts", "seq")
#: Columns given a Bloom filter per row group, with its distinct values per group and
#: false-positive rate: a reader filtering on one contract (DuckDB does) skips the
#: groups that cannot hold it. About 20 KB a group.
BLOOM_FILTERS = {"option_contract_id": {"ndv": 1 << 14, "fpp": 0.01}}
#: Columns whose every value is distinct (``seq`` run-wide, ``trace_id`` per event), with
#: the encoding their pages use instead of a dictionary: a dictionary of distinct values
#: is as long as the column, so building one only costs (about a third of an event
#: file's encoding CPU) before pyarrow falls back to plain pages at 1 MiB. ``seq`` rises
#: by small steps within a file, so delta-packed it takes about a byte a row.
UNIQUE_COLUMNS = {"seq": "DELTA_BINARY_PACKED", "trace_id": "PLAIN"}


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """The writer options of a run directory's Parquet file of ``schema``.

    The readers' layout (``docs/DATA.md``): zstd pages, dictionary-encoded columns
    (pyarrow's default, falling back to plain for a column whose dictionary outgrows
    1 MiB) except :data:`UNIQUE_COLUMNS`, which take their own encoding, min/max
    statistics on every column of every row group and in a page index, the sort order
    :data:`REPLAY_ORDER` declared where the file has those columns, and Bloom filters
    on :data:`BLOOM_FILTERS`' columns.
    """
    names = schema.names
    options = dict(PARQUET_OPTIONS, write_page_index=True)
    unique = {column: encoding for column, encoding in UNIQUE_COLUMNS.items()
              if column in names}
    if unique:
        options["use_dictionary"] = [column for column in names if column not in unique]
        options["column_encoding"] = unique
    if all(column in names for column in REPLAY_ORDER):
        options["sorting_columns"] = [pq.SortingColumn(names.index(column))
                                      for column in REPLAY_ORDER]
    blooms = {column: spec for column, spec in BLOOM_FILTERS.items() if column in names}
    if blooms:
        options["bloom_filter_options"] = blooms
    return options


def negative_times(table: pa.Table) -> list[str]:
    """The time columns of an event table (``ts`` and every ``*_ts``, epoch ms UTC)
    holding a value below 0, i.e. before 1970-01-01: none of the contract's times may
    (ClickHouse stores them as ``UInt64``; the session calendar starts in 1985)."""
    return [name for name in table.column_names
            if (name == "ts" or name.endswith("_ts"))
            and (low := pc.min(table.column(name)).as_py()) is not None and low < 0]


class OutputExistsError(FileExistsError):
    """The output path exists and is not an empty directory (or not a directory at all),
    and overwriting was not asked for.
    """
    pass


class _GroupedParquet:
    """A Parquet writer that cuts row groups at fixed row counts.

    Row groups are encoded on a background thread (pyarrow releases the GIL while
    compressing), one thread per file so each file's groups stay in order; at most
    ``BACKLOG`` groups wait, so memory stays bounded.
    """

    BACKLOG = 2

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(str(path), schema, **parquet_options(schema))
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=path.stem)
        self._inflight: deque[Future[None]] = deque()
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.rows = 0
        self.closed = False

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= ROW_GROUP:
            self._drain(final=False)

    def _submit(self, group: pa.Table) -> None:
        while len(self._inflight) >= self.BACKLOG:
            self._inflight.popleft().result()
        self._inflight.append(self._thread.submit(self._encode, group))

    def _encode(self, group: pa.Table) -> None:
        """One row group, on the file's thread. One chunk per column: page boundaries then
        depend only on the rows, never on how the merge happened to window them."""
        self._writer.write_table(group.combine_chunks(), row_group_size=ROW_GROUP)

    def _drain(self, final: bool) -> None:
        if not self._pending:
            return
        data = pa.concat_tables(self._pending)
        start = 0
        while data.num_rows - start >= ROW_GROUP or (final and start < data.num_rows):
            group = data.slice(start, ROW_GROUP)
            self._submit(group)
            start += group.num_rows
        rest = data.slice(start)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> None:
        self.closed = True
        try:
            self._drain(final=True)
            while self._inflight:
                self._inflight.popleft().result()
        finally:
            self._thread.shutdown(wait=True)
            self._writer.close()


class _JsonLines:
    """Events as JSON lines in replay order, with the contract's field names; a field
    whose value is null is omitted, as the contract reads null as missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("w", encoding="utf-8")

    def write(self, table: pa.Table) -> None:
        dumps = json.dumps
        lines = [dumps({k: v for k, v in row.items() if v is not None}, separators=(",", ":"))
                 for row in table.to_pylist()]
        if lines:
            self._file.write("\n".join(lines) + "\n")

    def close(self) -> None:
        self._file.close()


class RunWriter:
    """Streams canonical tables into a temporary run directory, then publishes it.

    ``out`` is the final run directory; the files are written in a hidden sibling
    ``.<name>.partial-<pid>`` and renamed into place by :meth:`finish`. ``force``
    allows replacing a non-empty ``out``; ``jsonl`` also writes each event kind as
    JSON lines. Raises :class:`OutputExistsError` when ``out`` may not be written.
    """

    def __init__(self, out: Path, force: bool = False, jsonl: bool = False) -> None:
        self.out = out
        self.force = force
        check_output(out, force)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self.events = {k.name: _GroupedParquet(self.tmp / f"{k.file_stem}.parquet", k.schema)
                       for k in KINDS}
        self.provenance = _GroupedParquet(self.tmp / PROVENANCE, PROVENANCE_SCHEMA)
        self._sidecars: dict[str, int | None] = {}
        self.jsonl = ({k.name: _JsonLines(self.tmp / f"{k.file_stem}.jsonl") for k in KINDS}
                      if jsonl else {})

    @property
    def scratch(self) -> Path:
        """A folder for intermediate files; removed before publishing."""
        path = self.tmp / ".scratch"
        path.mkdir(exist_ok=True)
        return path

    def write(self, kind: str, table: pa.Table) -> None:
        """Append ``table`` (rows of event kind ``kind``, e.g. ``"option_print"``, in the
        kind's Arrow schema and replay order) to that kind's Parquet file, and to its JSON
        lines when those are written.

        Raises:
            ValueError: a time column holds a negative value (:func:`negative_times`);
                the run config's calendar refuses such dates, so this is a bug.
        """
        negative = negative_times(table)
        if negative:
            raise ValueError(f"{kind} events with a negative {', '.join(negative)} (before "
                             "1970) cannot be written")
        self.events[kind].write(table)
        if self.jsonl:
            self.jsonl[kind].write(table)

    def close_events(self) -> None:
        """Finish the event and provenance files so they can be read back (e.g. to label
        a scenario run) before the run is published."""
        for writer in [*self.events.values(), self.provenance]:
            if not writer.closed:
                writer.close()

    def json_sidecar(self, name: str, value: Any) -> None:
        """A JSON document (canonical form), hashed like the rest: ``name`` is its file
    name in the run directory, ``value`` any JSON-serialisable value."""
        (self.tmp / name).write_text(canonical_json(value), "utf-8")
        self._sidecars[name] = None

    def sidecar(self, name: str, table: pa.Table) -> None:
        """A small Parquet table written whole (e.g. open interest), hashed like the rest."""
        pq.write_table(table, str(self.tmp / name), **parquet_options(table.schema))
        self._sidecars[name] = table.num_rows

    def finish(self, snapshot: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
        """Close every file, hash it, write the manifest last, rename into place.

        Args:
            snapshot: the parameter snapshot's JSON values (``parameter_snapshot.json``).
            manifest: every manifest field but ``artifacts``, as JSON values.

        Returns:
            The manifest as written, ``artifacts`` included.

        Raises:
            pydantic.ValidationError: the manifest does not match
                :class:`~tapesim.events.manifest.RunManifest` (a bug; nothing is
                published).
        """
        artifacts: dict[str, Any] = {}
        for name, rows in self._sidecars.items():
            artifacts[name] = artifact_entry(self.tmp / name, rows)
        for writer in [*self.events.values(), self.provenance]:
            if not writer.closed:
                writer.close()
            artifacts[writer.path.name] = artifact_entry(writer.path, writer.rows)
        for lines in self.jsonl.values():
            lines.close()
            artifacts[lines.path.name] = artifact_entry(lines.path)
        shutil.rmtree(self.tmp / ".scratch", ignore_errors=True)
        snapshot_path = self.tmp / PARAMETER_SNAPSHOT
        snapshot_path.write_text(canonical_json(snapshot), "utf-8")
        artifacts[PARAMETER_SNAPSHOT] = artifact_entry(snapshot_path)
        # Through the model, so the manifest has one schema; the values come back unchanged.
        manifest = RunManifest.model_validate({**manifest, "artifacts": artifacts}).document()
        (self.tmp / MANIFEST).write_text(canonical_json(manifest), "utf-8")
        self._publish()
        return manifest

    def _publish(self) -> None:
        trash = None
        if self.out.exists():
            check_output(self.out, self.force)
            trash = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            self.out.rename(trash)
        self.tmp.rename(self.out)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def abort(self) -> None:
        """Remove everything written so far."""
        for writer in [*self.events.values(), self.provenance, *self.jsonl.values()]:
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def check_output(out: Path, force: bool) -> None:
    """Refuse to overwrite a non-empty output directory unless forced.

    Raises :class:`OutputExistsError` when ``out`` exists and is not a directory, or
    is a non-empty directory and ``force`` is false.
    """
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} exists and is not a directory: choose another path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputExistsError(
            f"--out {out} exists and is not empty: choose another path or pass --force"
        )
