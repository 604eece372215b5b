"""The fixture's ``provenance.json``: each exported event's provenance record keyed
by its trace id (CONTRACT.md §2, ``provenance_by_trace_id``), in key order.

The run directory's provenance row i is the event of seq i + 1 (``tapesim verify``
checks it), so the exported events' records are taken by position, a row group at a
time; each record gets the run's identity (run id, seed bundle, generator version,
parameter snapshot hash) and its ``symbol_profile_id``, and is encoded with the
events' column-wise encoder (:mod:`tapesim.io.event_json`) a batch at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.fnv import FnvStream
from tapesim.events.stable_json import stable_stringify
from tapesim.export.slices import BATCH_ROWS, Staging, array_part, single
from tapesim.io.event_json import Member, member_value, stable_objects, utf16_sorted, value_texts
from tapesim.io.manifest import PROVENANCE, RunDirectoryError
from tapesim.io.parquet import streaming

__all__ = ["PROVENANCE_FILE", "provenance_rows", "trace_id_order", "write_provenance"]

PROVENANCE_FILE = "provenance.json"


def trace_id_order(trace_ids: pa.Array) -> np.ndarray:
    """Row order of ``trace_ids`` by UTF-16 code units (an object's key order)."""
    if pc.all(pc.string_is_ascii(trace_ids)).as_py():
        return pc.sort_indices(trace_ids).to_numpy()  # bytes order = code unit order
    keys = trace_ids.to_pylist()
    rank = {k: i for i, k in enumerate(utf16_sorted(keys))}
    return np.argsort(np.array([rank[k] for k in keys]), kind="stable")


def provenance_rows(run_dir: Path, positions: np.ndarray, trace_ids: pa.Array) -> pa.Table:
    """The provenance records of the exported events, in their order.

    Provenance row i is the event of seq i + 1 (``tapesim verify`` checks it), so the
    rows are taken by position (``positions``, ascending), a row group at a time; their
    trace ids must be ``trace_ids``.

    Raises:
        RunDirectoryError: the file cannot be read or lacks some of the records.
    """
    path = run_dir / PROVENANCE
    damaged = RunDirectoryError(f"{path} lacks records for some events: run "
                                f"`tapesim verify {run_dir}`")
    parts = []
    try:
        pf = streaming(path, buffer_size=1 << 20)
        start = 0
        for i in range(pf.metadata.num_row_groups):
            end = start + pf.metadata.row_group(i).num_rows
            lo, hi = np.searchsorted(positions, [start, end])
            if hi > lo:
                group = pf.read_row_group(i, use_threads=False)
                parts.append(group.take(pa.array(positions[lo:hi] - start)))
            start = end
    except (OSError, pa.ArrowException):
        raise damaged from None
    table = pa.concat_tables(parts).combine_chunks() if parts else None
    if table is None or not single(table.column("trace_id")).equals(trace_ids):
        raise damaged
    return table


def write_provenance(stage: Staging, run_dir: Path, manifest: dict[str, Any],
                     trace_ids: pa.Array, seqs: np.ndarray, snapshot_hash: str,
                     stream: FnvStream) -> None:
    """Write ``provenance.json``: each exported event's provenance record, keyed by
    trace id (in key order), the run's identity added to every record.

    Args:
        trace_ids: the exported events' trace ids, in replay order.
        seqs: their seqs (int64), in the same order.
        snapshot_hash: the parameter snapshot's stable hash, in every record.
        stream: fed the file's bytes as written, all but the final newline (the
            fixture's batch hash).

    Raises:
        RunDirectoryError: as :func:`provenance_rows`.
    """
    table = provenance_rows(run_dir, seqs - 1, trace_ids)
    order = trace_id_order(trace_ids)
    seed = manifest["seed_bundle"]
    constants = {k: stable_stringify(v) for k, v in {
        "run_id": manifest["run_id"], "seed": seed["seed"], "seed_namespace": seed["namespace"],
        "seed_partition": seed["partition"],
        "generator_version": f"tapesim-{manifest['generator']['version']}",
        "parameter_snapshot_hash": snapshot_hash}.items()}
    with stage.path(PROVENANCE_FILE).open("wb") as f:
        def put(data: bytes | np.ndarray) -> None:
            f.write(data)
            stream.update(data)

        put(b"{")
        for lo in range(0, len(order), BATCH_ROWS):
            rows = table.take(pa.array(order[lo:lo + BATCH_ROWS]))
            members: dict[str, Member] = {
                name: member_value(rows.column(name)) for name in rows.schema.names
                if name != "trace_id"}
            members.update(constants)
            members["symbol_profile_id"] = pc.fill_null(value_texts(rows.column("underlying_id")),
                                                        "null")
            records = stable_objects(members, rows.num_rows,
                                     head=[member_value(rows.column("trace_id")), ":"],
                                     tail=[","])
            for piece in array_part(records, not lo):
                put(piece)
        put(b"}")
        f.write(b"\n")
