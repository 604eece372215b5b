"""The run manifest: what a run directory holds and how to check it.

Written last, as canonical JSON (sorted keys). It pins the generator version,
seed bundle, parameter snapshot hash, counts, time range, ordering rule, the sha256
of every artifact and of the event stream in replay order. Nothing in it depends
on the wall clock, the machine or the worker count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from tapesim.config.snapshot import run_id_for, snapshot_hash
from tapesim.events.manifest import FORMAT, ORDER_BY, TIE_BREAK, RunManifest
from tapesim.sim.strict import error_message, error_path

__all__ = ["FORMAT", "MANIFEST", "ORDER_BY", "PARAMETER_SNAPSHOT", "PROVENANCE", "TIE_BREAK",
           "RunDirectoryError", "artifact_entry", "canonical_json", "check_hashes", "damaged",
           "open_run", "read_manifest", "reading", "run_id_for", "sha256_file",
           "snapshot_hash"]

MANIFEST = "manifest.json"
PARAMETER_SNAPSHOT = "parameter_snapshot.json"
PROVENANCE = "provenance.parquet"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, newline at the end."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_entry(path: Path, rows: int | None = None) -> dict[str, Any]:
    """A file's manifest entry: sha256, size in bytes and, for a table, its rows."""
    entry: dict[str, Any] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    if rows is not None:
        entry["rows"] = rows
    return entry


class RunDirectoryError(ValueError):
    """A directory that is not a readable tapesim run."""


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The JSON values of ``run_dir/manifest.json``, checked to be a run manifest.

    Raises:
        RunDirectoryError: no manifest, not JSON, or not of format ``tapesim-run-v1``.
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


def damaged(run_dir: Path, what: str) -> RunDirectoryError:
    """The error for a damaged run directory: ``what`` is wrong (naming the file), and
    ``tapesim verify`` names every problem."""
    return RunDirectoryError(f"{what}: the run directory is damaged "
                             f"(`tapesim verify {run_dir}` names every problem)")


def check_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Check ``manifest`` (as read from ``run_dir``) against its schema, ``RunManifest``.

    Raises:
        RunDirectoryError: one line naming the first field missing or of the wrong
            type, and pointing to ``tapesim verify``.
    """
    try:
        RunManifest.model_validate(manifest)
    except ValidationError as err:
        first = err.errors()[0]
        where = error_path(first) or "manifest"
        raise damaged(run_dir, f"{run_dir / MANIFEST}: field '{where}': "
                               f"{error_message(first)}") from None


def open_run(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run directory whose manifest fits its schema and whose
    artifacts are all present at their sizes.

    A cheap check (no hashing) for commands that read a run; ``verify`` does the
    full one.

    Raises:
        RunDirectoryError: no manifest, a manifest off its schema (naming the field), or
            a listed file missing or of another size.
    """
    manifest = read_manifest(run_dir)
    check_manifest(run_dir, manifest)
    for name, entry in sorted(manifest.get("artifacts", {}).items()):
        path = run_dir / name
        if not path.is_file():
            raise damaged(run_dir, f"{path} is missing")
        if path.stat().st_size != entry.get("bytes"):
            raise damaged(run_dir, f"{path} is not the size its manifest records")
    return manifest


def check_hashes(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Check every listed file's sha256 against ``manifest`` (as :func:`open_run`
    returned it, so every file is present at its size): a file damaged in place.

    Reads every byte once (about a second per GB); ``verify`` does this and more.

    Raises:
        RunDirectoryError: the first file, in name order, whose bytes do not hash to
            the manifest's sha256.
    """
    for name, entry in sorted(manifest.get("artifacts", {}).items()):
        path = run_dir / name
        if sha256_file(path) != entry.get("sha256"):
            raise damaged(run_dir, f"{path} does not match its sha256 in the manifest")


@contextlib.contextmanager
def reading(run_dir: Path) -> Iterator[None]:
    """Reads of ``run_dir``'s files inside: when one fails (an ``OSError`` such as
    pyarrow's "ZSTD decompression failed", or an ``ArrowException`` such as
    "Index not in dictionary bounds"), the files are checked against their sha256
    and a file damaged in place raises :func:`damaged`; an error the files do not
    explain is raised as it was.

    Raises:
        RunDirectoryError: a read failed and a file of ``run_dir`` is damaged.
    """
    try:
        yield
    except (OSError, pa.ArrowException) as err:
        try:
            manifest = open_run(run_dir)
            check_hashes(run_dir, manifest)
        except RunDirectoryError as found:
            raise found from err
        except OSError:
            pass  # the directory cannot even be listed: the original error says more
        raise
