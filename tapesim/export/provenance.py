"""The fixture's ``provenance.json``: each exported event's provenance record keyed
by its trace id (CONTRACT.md §2, ``provenance_by_trace_id``), in key order.

The run directory's provenance row i is the event of seq i + 1 (``tapesim verify``
checks it), so the exported events' records are taken by position, a batch of events
at a time as the events are written (:class:`ProvenanceRecords`); each record gets the
run's identity (run id, seed bundle, generator version, parameter snapshot hash) and
its ``symbol_profile_id``, and is encoded with the events' column-wise encoder
(:mod:`tapesim.io.event_json`) as its member ``"<trace_id>":{...},``. The members are
spooled per trace-id stream and read back in key order
(:class:`tapesim.export.keyorder.TraceIdSpool`), so no more than a batch of records is
held whatever the slice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.fnv import FnvStream
from tapesim.events.stable_json import stable_stringify
from tapesim.export import slices
from tapesim.export.slices import Staging, array_part
from tapesim.io.event_json import Member, member_value, stable_objects, value_texts
from tapesim.io.manifest import PROVENANCE, RunDirectoryError
from tapesim.io.parquet import streaming

__all__ = ["PROVENANCE_FILE", "ProvenanceRecords", "write_provenance"]

PROVENANCE_FILE = "provenance.json"


class ProvenanceRecords:
    """The provenance records of a slice's events as the fixture's members
    ``"<trace_id>":{...},``, encoded a batch of events at a time in replay order.

    Provenance row i is the event of seq i + 1 (``tapesim verify`` checks it), so each
    batch's rows are taken by position (``seq - 1``, ascending across batches) from the
    row group holding them, read a batch of ``slices.BATCH_ROWS`` rows at a time; only
    the batch being taken from is held. Each record gets the run's identity (run id,
    seed bundle, generator version, parameter snapshot hash) and its
    ``symbol_profile_id``.

    Raises (from :meth:`members`):
        RunDirectoryError: the file cannot be read or lacks some of the records.
    """

    def __init__(self, run_dir: Path, manifest: dict[str, Any], snapshot_hash: str) -> None:
        self.path = run_dir / PROVENANCE
        self._damaged = RunDirectoryError(f"{self.path} lacks records for some events: run "
                                          f"`tapesim verify {run_dir}`")
        seed = manifest["seed_bundle"]
        self._constants = {k: stable_stringify(v) for k, v in {
            "run_id": manifest["run_id"], "seed": seed["seed"],
            "seed_namespace": seed["namespace"], "seed_partition": seed["partition"],
            "generator_version": f"tapesim-{manifest['generator']['version']}",
            "parameter_snapshot_hash": snapshot_hash}.items()}
        try:
            self._file = streaming(self.path, buffer_size=1 << 20)
            sizes = [self._file.metadata.row_group(i).num_rows
                     for i in range(self._file.metadata.num_row_groups)]
        except (OSError, pa.ArrowException):
            raise self._damaged from None
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._group = -1
        self._batches: Iterator[pa.RecordBatch] = iter(())
        self._batch: pa.RecordBatch | None = None
        self._at = 0  # the row of the file where self._batch starts

    def _seek(self, position: int) -> pa.RecordBatch:
        """The batch of the file holding row ``position`` (never before the last one)."""
        if position >= self._starts[-1]:
            raise self._damaged
        group = int(np.searchsorted(self._starts, position, side="right")) - 1
        if group != self._group:
            self._group, self._batch = group, None
            self._batches = self._file.iter_batches(
                batch_size=slices.BATCH_ROWS, row_groups=[group], use_threads=False)
            self._at = int(self._starts[group])
        while self._batch is None or position >= self._at + self._batch.num_rows:
            if self._batch is not None:
                self._at += self._batch.num_rows
            self._batch = next(self._batches)
        return self._batch

    def rows(self, seqs: np.ndarray, trace_ids: pa.Array | pa.ChunkedArray) -> pa.Table:
        """The provenance rows of events ``seqs`` (int64, ascending, above those of the
        batches before), whose trace ids must be ``trace_ids``.

        Raises:
            RunDirectoryError: the file cannot be read or lacks some of the records.
        """
        positions = seqs - 1
        parts, i = [], 0
        try:
            while i < positions.size:
                batch = self._seek(int(positions[i]))
                j = int(np.searchsorted(positions, self._at + batch.num_rows))
                parts.append(batch.take(pa.array(positions[i:j] - self._at)))
                i = j
        except (OSError, pa.ArrowException, StopIteration):
            raise self._damaged from None
        table = pa.Table.from_batches(parts) if parts else None
        if table is None or not table.column("trace_id").equals(
                pa.chunked_array([trace_ids]) if isinstance(trace_ids, pa.Array)
                else trace_ids):
            raise self._damaged
        return table

    def members(self, seqs: np.ndarray, trace_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Each event's ``"<trace_id>":{record},`` in the stable stringification (in the
        order of ``seqs``; arguments as :meth:`rows`)."""
        rows = self.rows(seqs, trace_ids).combine_chunks()
        members: dict[str, Member] = {
            name: member_value(rows.column(name)) for name in rows.schema.names
            if name != "trace_id"}
        members.update(self._constants)
        members["symbol_profile_id"] = pc.fill_null(value_texts(rows.column("underlying_id")),
                                                    "null")
        return stable_objects(members, rows.num_rows,
                              head=[member_value(rows.column("trace_id")), ":"], tail=[","])


def write_provenance(stage: Staging, members: Iterator[pa.Array], stream: FnvStream) -> None:
    """Write ``provenance.json``: the object of every exported event's record keyed by
    trace id, from ``members`` (:meth:`ProvenanceRecords.members` texts, in key order:
    :meth:`tapesim.export.keyorder.TraceIdSpool.key_order`).

    Args:
        stream: fed the file's bytes as written, all but the final newline (the
            fixture's batch hash).
    """
    with stage.path(PROVENANCE_FILE).open("wb") as f:
        def put(data: bytes | np.ndarray) -> None:
            f.write(data)
            stream.update(data)

        put(b"{")
        first = True
        for texts in members:
            for piece in array_part(texts, first):
                put(piece)
            first = False
        put(b"}")
        f.write(b"\n")
