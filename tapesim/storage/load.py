"""Materialise a run directory into its ClickHouse database, and drop it again.

The embedded engine reads each Parquet file itself (``file(path, Parquet)``, converted
to the table's types inside ClickHouse); for a server, a load streams every Parquet
file a batch at a time (row groups are never read whole), casts each batch to its
table's Arrow schema (``tapesim.storage.schema``) and inserts it. It is idempotent:
the last row written is the run's row in ``runs``, with the sha256 of its
``manifest.json``; a load that finds that row adds nothing, and one that finds the
data tables without it (an interrupted load) empties them first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tapesim.events.manifest import RunManifest
from tapesim.io.manifest import MANIFEST, damaged, open_run, sha256_file
from tapesim.io.parquet import prefetched, streaming
from tapesim.storage.engine import Engine, EngineError, ParquetReader, sql_string
from tapesim.storage.schema import (
    EVENT_TABLES,
    EXPECTED_OUTPUTS_TABLE,
    LABELS_TABLE,
    RUNS_TABLE,
    SIDE_TABLES,
    TableSpec,
    database_name,
    table_from_arrow,
)

__all__ = ["BATCH_ROWS", "LoadConflict", "LoadSummary", "Progress", "drop_run", "load_run",
           "manifest_run_id"]

BATCH_ROWS = 1 << 17  # rows read from a Parquet file and inserted at a time
Progress = Callable[[str, int], None]  # (table, rows just inserted)


class LoadConflict(EngineError):
    """The run's database holds the same run id loaded from another manifest."""


@dataclass
class LoadSummary:
    """What a load did.

    Args:
        run_id: the run's id; database: its database, e.g. ``tapesim_tsim_524f98a11dcc``.
        manifest_sha256: hex sha256 of the run's ``manifest.json``.
        rows: rows per table (as loaded now, or as recorded by the earlier load).
        seconds: wall time of the inserts (0 when nothing was added).
        already_loaded: the run was loaded before; nothing was added.
    """

    run_id: str
    database: str
    manifest_sha256: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    already_loaded: bool = False

    @property
    def total_rows(self) -> int:
        """Rows over every table."""
        return sum(self.rows.values())


def _manifest(run_dir: Path) -> tuple[RunManifest, dict[str, Any], str]:
    document = open_run(run_dir)  # checked against RunManifest: cannot fail below
    return RunManifest.model_validate(document), document, sha256_file(run_dir / MANIFEST)


def _parquet_batches(path: Path, spec: TableSpec, run_dir: Path,
                     rows: int) -> Iterator[pa.RecordBatch]:
    """The file's rows a batch at a time, cast to the table's columns and types."""
    schema = spec.arrow_schema
    names = [f.name for f in schema]
    try:
        for batch in streaming(path).iter_batches(batch_size=rows, columns=names):
            if batch.num_rows:
                yield batch.select(names).cast(schema)
    except (pa.ArrowException, OSError) as err:
        raise damaged(run_dir, f"{path} cannot be read ({err})") from None


def _schema(run_dir: Path, name: str) -> pa.Schema:
    try:
        return pq.read_schema(run_dir / name)
    except (pa.ArrowException, OSError) as err:
        raise damaged(run_dir, f"{run_dir / name} cannot be read ({err})") from None


def _counted(batches: Iterable[pa.RecordBatch], table: str,
             progress: Progress | None) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch
        if progress is not None:
            progress(table, batch.num_rows)


def _insert_file(engine: Engine, database: str, spec: TableSpec, path: Path, run_dir: Path,
                 batch_rows: int, progress: Progress | None) -> int:
    """Insert one Parquet file of the run into its table; the rows inserted.

    An engine that reads Parquet itself (:class:`ParquetReader`, the embedded one) is
    handed the file; any other is sent its rows as Arrow batches, decoded ahead in a
    thread. When the engine cannot read a file, the file is read here: if Arrow cannot
    either, the run is damaged.

    Raises:
        RunDirectoryError: the file cannot be read (pointing to ``tapesim verify``).
        EngineError: ClickHouse rejected the rows.
    """
    if not isinstance(engine, ParquetReader):
        return engine.insert_arrow(database, spec.name, spec.arrow_schema, _counted(
            prefetched(_parquet_batches(path, spec, run_dir, batch_rows),
                       name="tapesim-load-reader"), spec.name, progress))
    try:
        rows = engine.insert_parquet(database, spec.name,
                                     [(c.name, c.sql_type) for c in spec.columns], path)
    except EngineError:
        for _ in _parquet_batches(path, spec, run_dir, batch_rows):
            pass  # raises the damaged run's error when Arrow cannot read it either
        raise
    if progress is not None:
        progress(spec.name, rows)
    return rows


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _label_batch(labels: list[dict[str, Any]]) -> pa.RecordBatch:
    anchors = [[r.get("trace_id", "") for r in label.get("event_refs", [])
                if r.get("role") == "anchor"] for label in labels]
    return pa.RecordBatch.from_arrays([
        pa.array(range(len(labels)), pa.uint32()),
        pa.array([str(x.get("label_id", "")) for x in labels], pa.string()),
        pa.array([str(x.get("scenario_id", "")) for x in labels], pa.string()),
        pa.array([str(x.get("family", "")) for x in labels], pa.string()),
        pa.array(anchors, pa.list_(pa.string())),
        pa.array([_json_text(x) for x in labels], pa.string()),
    ], schema=LABELS_TABLE.arrow_schema)


def _expectation_batch(expectations: list[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([
        pa.array(range(len(expectations)), pa.uint32()),
        pa.array([str(x.get("expected_output_id", "")) for x in expectations], pa.string()),
        pa.array([str(x.get("label_id", "")) for x in expectations], pa.string()),
        pa.array([str(x.get("alert_expectation", "")) for x in expectations], pa.string()),
        pa.array([_json_text(x) for x in expectations], pa.string()),
    ], schema=EXPECTED_OUTPUTS_TABLE.arrow_schema)


def _json_list(run_dir: Path, name: str, key: str) -> list[dict[str, Any]]:
    path = run_dir / name
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise damaged(run_dir, f"{path} cannot be read as JSON ({err})") from None
    items = value.get(key) if isinstance(value, dict) else None
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise damaged(run_dir, f"{path} has no list of objects '{key}'")
    return items


def _recorded(engine: Engine, database: str, run_id: str) -> tuple[str, dict[str, int]] | None:
    found = engine.query_arrow(
        f"SELECT manifest_sha256, table_rows FROM `{database}`.`{RUNS_TABLE.name}` "
        f"WHERE run_id = {sql_string(run_id)} LIMIT 1").to_pylist()
    if not found:
        return None
    return str(found[0]["manifest_sha256"]), json.loads(found[0]["table_rows"])


def load_run(engine: Engine, run_dir: Path, progress: Progress | None = None,
             batch_rows: int = BATCH_ROWS) -> LoadSummary:
    """Load a run directory into the database ``tapesim_<run_id>`` of ``engine``.

    Args:
        engine: where to load.
        run_dir: the run directory (cheaply checked: manifest parses, files present at
            their sizes; ``tapesim verify`` is the full check).
        progress: called after each inserted batch with the table and its rows.
        batch_rows: rows read and inserted at a time.

    Raises:
        RunDirectoryError: the run directory is damaged (the message points to
            ``tapesim verify``), including a file whose rows differ from the manifest's
            counts; what was inserted is removed again.
        LoadConflict: the database holds this run id from a different manifest.
        EngineError: ClickHouse rejected a statement or rows.
    """
    manifest, document, manifest_sha = _manifest(run_dir)
    database = database_name(manifest.run_id)
    summary = LoadSummary(manifest.run_id, database, manifest_sha)
    engine.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    engine.command(RUNS_TABLE.create(database))
    recorded = _recorded(engine, database, manifest.run_id)
    if recorded is not None:
        if recorded[0] != manifest_sha:
            raise LoadConflict(f"database {database} holds run {manifest.run_id} loaded from "
                               f"another manifest (sha256 {recorded[0][:12]}…): pass --drop "
                               "to remove it first")
        summary.rows, summary.already_loaded = recorded[1], True
        return summary

    side = [table_from_arrow(name, _schema(run_dir, f"{name}.parquet"), key)
            for name, key in SIDE_TABLES.items() if f"{name}.parquet" in manifest.artifacts]
    specs = [*EVENT_TABLES, *side, LABELS_TABLE, EXPECTED_OUTPUTS_TABLE]
    for spec in specs:
        engine.command(spec.create(database))
        engine.command(f"TRUNCATE TABLE `{database}`.`{spec.name}`")
    started = time.perf_counter()
    try:
        for spec in [*EVENT_TABLES, *side]:
            path = run_dir / f"{spec.name}.parquet"
            rows = _insert_file(engine, database, spec, path, run_dir, batch_rows, progress)
            expected = document["artifacts"].get(path.name, {}).get("rows")
            if spec.kind is not None:
                expected = manifest.counts.get(spec.kind.name, 0)
            if expected is not None and rows != expected:
                raise damaged(run_dir, f"{path} has {rows:,} rows, its manifest "
                                        f"{expected:,}")
            summary.rows[spec.name] = rows
        if manifest.scenarios is not None:
            labels = _json_list(run_dir, manifest.scenarios.labels_path, "labels")
            outputs = _json_list(run_dir, manifest.scenarios.expected_outputs_path,
                                 "expectations")
            for spec, batch in ((LABELS_TABLE, _label_batch(labels)),
                                (EXPECTED_OUTPUTS_TABLE, _expectation_batch(outputs))):
                summary.rows[spec.name] = engine.insert_arrow(
                    database, spec.name, spec.arrow_schema,
                    _counted([batch] if batch.num_rows else [], spec.name, progress))
        summary.seconds = time.perf_counter() - started
        engine.insert_arrow(database, RUNS_TABLE.name, RUNS_TABLE.arrow_schema, [
            pa.RecordBatch.from_pylist([{
                "run_id": manifest.run_id, "manifest_sha256": manifest_sha,
                "event_stream_sha256": manifest.event_stream.sha256,
                "parameter_snapshot_hash": manifest.parameter_snapshot_hash,
                "generator_version": manifest.generator.version,
                "table_rows": _json_text(summary.rows),
                "manifest": _json_text(document)}], schema=RUNS_TABLE.arrow_schema)])
    except BaseException:
        _empty(engine, database, specs)
        raise
    return summary


def _empty(engine: Engine, database: str, specs: list[TableSpec]) -> None:
    """Empty the tables of a failed load, as far as the engine still answers (the
    failure being raised is the one to report)."""
    try:
        for spec in specs:
            engine.command(f"TRUNCATE TABLE IF EXISTS `{database}`.`{spec.name}`")
    except EngineError:
        pass


def drop_run(engine: Engine, run_id: str) -> str:
    """Remove a run's database (nothing happens when there is none); its name.

    Raises:
        EngineError: ClickHouse rejected the ``DROP``.
    """
    database = database_name(run_id)
    engine.command(f"DROP DATABASE IF EXISTS `{database}`")
    return database


def manifest_run_id(run_dir: Path) -> str:
    """The run id of a run directory's manifest (for ``--drop``).

    Raises:
        RunDirectoryError: no readable manifest.
    """
    return _manifest(run_dir)[0].run_id
