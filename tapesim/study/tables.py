"""The files of a study directory: their Arrow schemas, atomic writing and reading back.

Every table has a fixed schema (so an empty table has the same columns) and is written
whole (zstd) to ``.NAME.tmp`` and renamed: the bytes depend only on the rows.
``study.json`` is the manifest, written last.

- ``cells``: one row per cell, in grid order: the cell's coordinates, its run (id,
  parameter snapshot hash, event-stream digest, event and label counts), its alerts
  and abstentions, one-minute windows, background windows and background windows with
  a false positive per band.
- ``alerts``: every alert and abstention, per cell in (ts, underlying, ...) order; ``ts``
  epoch ms UTC, ``confidence`` in [0, 1], its band, the label whose window holds it
  (null: background) and whether it is a false positive.
- ``outcomes``: one row per label: expectation, window (epoch ms UTC), outcome
  (detected, wrong_class, missed, abstained, false_alarm, quiet, no_caused_prints),
  whether the expectation was met, the deciding alert and its latency in ms.
- ``scores``: the study's rates with Wilson intervals (``tapesim.study.scoring``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tapesim.study.errors import StudyDirectoryError

MANIFEST = "study.json"
_STR, _I64, _F64, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()

SCHEMAS: dict[str, pa.Schema] = {
    "cells": pa.schema([
        ("index", _I64), ("cell_id", _STR), ("profile", _STR), ("seed", _I64),
        ("scenario", _STR), ("intensity", _F64), ("at", _STR), ("run_id", _STR),
        ("parameter_snapshot_hash", _STR), ("event_stream_sha256", _STR), ("events", _I64),
        ("labels", _I64), ("alerts", _I64), ("abstentions", _I64), ("windows", _I64),
        ("background_windows", _I64), ("fp_windows_low", _I64), ("fp_windows_medium", _I64),
        ("fp_windows_high", _I64)]),
    "alerts": pa.schema([
        ("cell_id", _STR), ("index", _I64), ("ts", _I64), ("underlying", _STR),
        ("class", _STR), ("direction", _STR), ("confidence", _F64),
        ("evidence_refs", pa.list_(_STR)), ("abstention_reasons", pa.list_(_STR)),
        ("band", _STR), ("abstained", _BOOL), ("label_id", _STR), ("false_positive", _BOOL)]),
    "outcomes": pa.schema([
        ("cell_id", _STR), ("label_id", _STR), ("scenario", _STR), ("family", _STR),
        ("intensity", _F64), ("expectation", _STR), ("expected_class", _STR),
        ("expected_direction", _STR), ("penalty", _F64), ("window_start", _I64),
        ("window_end", _I64), ("outcome", _STR), ("passed", _BOOL), ("alert_class", _STR),
        ("alert_direction", _STR), ("alert_confidence", _F64), ("latency_ms", _I64)]),
    "scores": pa.schema([
        ("metric", _STR), ("group", _STR), ("band", _STR), ("intensity", _F64), ("k", _I64),
        ("n", _I64), ("value", _F64), ("ci_low", _F64), ("ci_high", _F64)]),
}


def _replace(path: Path, data: bytes) -> dict[str, Any]:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_table(out_dir: Path, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Write ``rows`` as ``out_dir/NAME.parquet`` in the table's schema, atomically; the
    file's sha256, size in bytes and row count."""
    table = pa.Table.from_pylist(rows, schema=SCHEMAS[name])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    entry = _replace(out_dir / f"{name}.parquet", sink.getvalue().to_pybytes())
    return {**entry, "rows": table.num_rows}


def write_json(path: Path, value: dict[str, Any]) -> dict[str, Any]:
    """Write ``value`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    return _replace(path, text.encode("utf-8"))


def read_study(study_dir: Path) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """A complete study directory's manifest and tables.

    Raises:
        StudyDirectoryError: no ``study.json`` (not a study, or one that did not
            finish), or the manifest or a table cannot be read, or a table's sha256 is not
            the manifest's.
    """
    path = study_dir / MANIFEST
    if not path.is_file():
        raise StudyDirectoryError(f"{study_dir} has no {MANIFEST}: it is not a complete study "
                                "directory (run `tapesim study run` into it)")
    try:
        manifest = json.loads(path.read_text("utf-8"))
        tables = {}
        for file, entry in manifest["files"].items():
            data = (study_dir / file).read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise StudyDirectoryError(f"{study_dir / file} does not match the sha256 in "
                                          f"{MANIFEST}: run the study again")
            tables[file.removesuffix(".parquet")] = pq.read_table(pa.BufferReader(data))
    except (OSError, KeyError, TypeError, json.JSONDecodeError, pa.ArrowInvalid) as err:
        raise StudyDirectoryError(f"{study_dir} is a damaged study directory "
                                  f"({type(err).__name__}: {err}): run the study again"
                                  ) from None
    return manifest, tables
