"""The run manifest: what a run directory holds and how to check it.

Written last, as canonical JSON (sorted keys). It pins the generator version,
seed bundle, parameter snapshot hash, counts, time range, ordering rule, the sha256
of every artifact and of the event stream in replay order. Nothing in it depends
on the wall clock, the machine or the worker count.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
PARAMETER_SNAPSHOT = "parameter_snapshot.json"
PROVENANCE = "provenance.parquet"
FORMAT = "tapesim-run-v1"
ORDER_BY = ["ts", "ingest_ts", "seq", "trace_id"]
TIE_BREAK = (
    "seq is assigned in replay order: by ts, then ingest_ts, then quotes before prints, "
    "then the symbol's position in the config, then generation order within the symbol"
)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, newline at the end."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    """``sha256:`` + the hex sha256 of a parameter snapshot's compact JSON (sorted keys,
    no spaces, UTF-8): the manifest's ``parameter_snapshot_hash``.
    """
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_id_for(snapshot_hash_value: str) -> str:
    """A short, stable run id derived from the parameter snapshot (seed included)."""
    return "tsim-" + snapshot_hash_value.removeprefix("sha256:")[:12]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_entry(path: Path, rows: int | None = None) -> dict[str, Any]:
    """A manifest ``artifacts`` entry of ``path``: ``sha256`` (hex), ``bytes`` and, when
    given, ``rows`` (for Parquet files).
    """
    entry: dict[str, Any] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    if rows is not None:
        entry["rows"] = rows
    return entry


class RunDirectoryError(ValueError):
    """A directory that is not a readable tapesim run."""


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of ``run_dir`` as a dict, without checking its artifacts.

    Raises :class:`RunDirectoryError` when ``manifest.json`` is missing, is not valid
    JSON, or is not a ``tapesim-run-v1`` manifest.
    """
    path = run_dir / MANIFEST
    if not path.is_file():
        raise RunDirectoryError(f"{run_dir} has no {MANIFEST}: it is not a complete run directory")
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as err:
        raise RunDirectoryError(
            f"{path} is not valid JSON ({err}); the run directory is damaged") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunDirectoryError(f"{path} is not a {FORMAT} manifest")
    return data


def open_run(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run directory whose artifacts are all present at their sizes.

    A cheap check (no hashing) for commands that read a run; ``verify`` does the
    full one. Raises :class:`RunDirectoryError` as :func:`read_manifest` does, or when
    an artifact is missing or not the size the manifest records.
    """
    manifest = read_manifest(run_dir)
    for name, entry in sorted(manifest.get("artifacts", {}).items()):
        path = run_dir / name
        if not path.is_file():
            raise RunDirectoryError(
                f"{path} is missing: the run directory is damaged (`tapesim verify {run_dir}` "
                "names every problem)")
        if path.stat().st_size != entry.get("bytes"):
            raise RunDirectoryError(
                f"{path} is not the size its manifest records: the run directory is damaged "
                f"(`tapesim verify {run_dir}` names every problem)")
    return manifest
