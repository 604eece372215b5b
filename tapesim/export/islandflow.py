"""Export a slice of a run in the downstream pipeline's formats, streamed.

``islandflow``: the pipeline's fixture directory (CONTRACT.md section 2): four
compact JSON files - ``manifest.json``, ``market-events.json`` (``{kind, event}`` in
replay order), ``provenance.json`` (keyed by trace id) and
``parameter-snapshot.json`` - each the stable stringification of its value plus a
newline, with the FNV-1a hashes the pipeline's loader recomputes. A scenario run's
slice adds ``labels.json`` and ``smart-flow-expected-outputs.json`` (hashed in the
manifest's ``expected_output_contract``), restricted to the slice: a label whose
anchor print is outside it is dropped with its expectation, and the others keep
only the refs of exported events. Labels carry exactly the pipeline's keys and
only values from its closed sets (:mod:`tapesim.export.sidecars` translates them and
checks every sidecar before the output appears); tapesim's own ``tapesim`` block
stays in the run directory.
``jsonl``: the same ``{kind, event}`` entries, one stable line each, in replay order,
in ``market-events.jsonl``; for a scenario run, the same two label files beside it.
Every kind is exported (equity quotes and prints, option NBBOs and prints); a field
whose value is null is omitted, as the contract reads null as missing.

Nothing is held whole: the events are read, encoded and written a batch at a time
(:func:`tapesim.export.slices.entry_batches`: each entry built by Arrow's string
kernels with its separator, a batch written as its string buffer), each batch's bytes
hashed in one compiled pass as they are written (:func:`tapesim.events.fnv.hash_entries`:
every entry's hash, ``events_hash`` and ``batch_hash`` together); the manifest's two
per-event lists (the contract's ``event_hashes.events`` and ``replay_plan.trace_ids``,
most of its size) are spooled to disk and copied into place; each batch's provenance
records are encoded as its events are written and spooled per trace-id stream with
their seqs, then read back in trace-id key order a chunk at a time
(:mod:`tapesim.export.provenance`, :mod:`tapesim.export.keyorder`) and fed to
``batch_hash`` as written. A scenario run's label refs are looked up in those spooled
seqs. Nothing is kept per exported event in memory: an export holds a few batches
whatever the slice's size (and an index of three integers per 4,096 events); the
provenance spool in its staging directory takes about 2% of ``provenance.json`` (LZ4)
plus 16 bytes per event while it runs. The files are byte for byte
what ``stable_stringify`` of the whole values writes. The output directory appears
only when complete.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim._version import __version__
from tapesim.events.fnv import FnvStream, hash_entries, hex_digests
from tapesim.events.models import KINDS
from tapesim.events.stable_json import stable_hash, stable_stringify
from tapesim.export.keyorder import TraceIdSpool
from tapesim.export.provenance import ProvenanceRecords, write_provenance
from tapesim.export.sidecars import (
    FIXTURE_GENERATOR_NAME,
    FIXTURE_GENERATOR_VERSION,
    LABELS_FILE,
    OUTPUTS_FILE,
    ExportError,
    SliceLabels,
    check_sidecars,
    slice_labels,
)
from tapesim.export.slices import (
    Slice,
    Staging,
    array_part,
    count_events,
    entry_batches,
    single,
    values_buffer,
    window,
)
from tapesim.io.event_json import (
    concat_texts,
    member_value,
    stable_objects,
)
from tapesim.io.manifest import open_run
from tapesim.io.writer import check_output

__all__ = ["EVENTS_FILE", "FIXTURE_FORMAT", "FORMATS", "JSONL_FILE", "ExportError", "Exported",
           "Slice", "export_run", "use_lean_memory_pool"]

FIXTURE_FORMAT = "synthetic-market-fixture-v1"
LOADER_VERSION = FIXTURE_GENERATOR_VERSION
ORDER_BY = ["ts", "ingest_ts", "seq", "trace_id"]
EVENTS_FILE = "market-events.json"
JSONL_FILE = "market-events.jsonl"
FORMATS = ("islandflow", "jsonl")

Progress = Callable[[int, int], None]  # called with (events written so far, events in all)


@dataclass(frozen=True)
class Exported:
    """What an export wrote: events, and for a scenario run the labels kept and dropped."""

    events: int
    labels: int = 0
    dropped_labels: int = 0


@dataclass
class _Events:
    """What the events pass learned: per-kind counts, the first and last ``ts`` (epoch
    ms) and the events' hashes; each batch's seqs (and with ``records``, its provenance
    members) go to ``spool``, when there is one."""

    spool: TraceIdSpool | None = None
    records: ProvenanceRecords | None = None
    counts: Counter[str] = field(default_factory=Counter)
    first_ts: int = 0
    last_ts: int = 0
    events_hash: FnvStream = field(default_factory=FnvStream)
    batch_hash: FnvStream = field(default_factory=FnvStream)

    @property
    def count(self) -> int:
        """Events seen so far."""
        return sum(self.counts.values())

    def note(self, table: pa.Table) -> np.ndarray:
        """Take in one table of entries (``ENTRY_SCHEMA``) about to be written; returns
        its kinds (int8 codes, positions in ``KINDS``).

        Raises:
            RunDirectoryError: as :meth:`ProvenanceRecords.members`.
        """
        if not self.count:
            self.first_ts = int(table.column("ts")[0].as_py())
        self.last_ts = int(table.column("ts")[-1].as_py())
        kinds = table.column("kind").to_numpy()
        codes = np.bincount(kinds, minlength=len(KINDS))
        self.counts.update({k.name: int(n) for k, n in zip(KINDS, codes, strict=True) if n})
        if self.spool is not None:
            seqs = table.column("seq").to_numpy()
            members = (None if self.records is None else
                       self.records.members(seqs, table.column("trace_id")))
            self.spool.add(kinds, seqs, members)
        return kinds


def _stream(tables: Iterator[pa.Table], total: int, progress: Progress | None,
            ) -> Iterator[pa.Table]:
    """``tables``, reporting the events handed out so far after each."""
    done = 0
    for table in tables:
        yield table
        done += table.num_rows
        if progress is not None:
            progress(done, total)


def _pieces(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """The non-empty chunks of a column (an array is its own one chunk)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return [c for c in chunks if len(c)]


def _write_jsonl(stage: Staging, tables: Iterator[pa.Table], spool: TraceIdSpool | None,
                 ) -> _Events:
    """``market-events.jsonl``: the entries (each with its newline) as they are; each
    batch's seqs into ``spool`` when given."""
    seen = _Events(spool)
    with stage.path(JSONL_FILE).open("wb") as f:
        for table in tables:
            seen.note(table)
            for chunk in _pieces(table.column("entry")):
                f.write(values_buffer(chunk)[0])
    return seen


_KIND_TEXTS = pa.array([stable_stringify(k.name) for k in KINDS], pa.string())
_HASH_HEAD = np.frombuffer(b'"fnv1a32:', dtype=np.uint8)
_HASH_WIDTH = _HASH_HEAD.size + 9  # the head, eight hex digits, the closing quote


def _hash_texts(hashes: np.ndarray) -> pa.Array:
    """Each hash as the JSON string ``"fnv1a32:xxxxxxxx"``, built as one fixed-width
    buffer (no join)."""
    n = hashes.size
    texts = np.empty((n, _HASH_WIDTH), dtype=np.uint8)
    texts[:, :_HASH_HEAD.size] = _HASH_HEAD
    texts[:, _HASH_HEAD.size:-1] = np.frombuffer(hex_digests(hashes), np.uint8).reshape(n, 8)
    texts[:, -1] = ord('"')
    offsets = np.arange(0, _HASH_WIDTH * n + 1, _HASH_WIDTH, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(texts))


def _hash_items(kinds: np.ndarray, start: int, hashes: np.ndarray,
                trace_ids: pa.Array) -> pa.Array:
    """The manifest's ``event_hashes.events`` items of one batch of events, each
    followed by a comma: ``{"hash":"fnv1a32:…","index":i,"kind":…,"trace_id":…},``
    (keys in sorted order)."""
    n = kinds.size
    index = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return stable_objects({"hash": _hash_texts(hashes), "index": index,
                           "kind": _KIND_TEXTS.take(pa.array(kinds)),
                           "trace_id": member_value(trace_ids)}, n, tail=[","])


def _write_events(stage: Staging, tables: Iterator[pa.Table], spools: dict[str, IO[bytes]],
                  seen: _Events) -> None:
    """``market-events.json``, and the manifest's per-event lists into ``spools``;
    ``seen`` takes in each batch (and spools its seqs and provenance members).

    The entries arrive each followed by a comma; every entry's hash and the two hashes
    of the whole (``events_hash``, ``batch_hash``) are computed in one pass over a
    batch's bytes (:func:`hash_entries`)."""
    seen.batch_hash.update(b'{"events":')
    streams = (seen.events_hash, seen.batch_hash)
    with stage.path(EVENTS_FILE).open("wb") as f:
        f.write(b"[")
        for stream in streams:
            stream.update(b"[")
        for table in tables:
            start = seen.count
            kinds = seen.note(table)
            if start:
                f.write(b",")
                for stream in streams:
                    stream.update(b",")
            chunks = _pieces(table.column("entry"))
            hashes = []
            for i, chunk in enumerate(chunks):
                data, offsets = values_buffer(chunk)
                last = i == len(chunks) - 1
                hashes.append(hash_entries(data, offsets, 1, streams, whole=not last))
                f.write(data[:-1] if last else data)
            trace_ids = single(table.column("trace_id"))
            ids = member_value(trace_ids)
            items = _hash_items(kinds, start, np.concatenate(hashes), trace_ids)
            for name, texts in (("events", items),
                                ("trace_ids", concat_texts([ids, ","], table.num_rows))):
                for piece in array_part(texts, not start):
                    spools[name].write(piece)
        f.write(b"]")
        for stream in streams:
            stream.update(b"]")
        f.write(b"\n")


_HOLES = {"events": "\x00event-hashes\x00", "trace_ids": "\x00trace-ids\x00"}


def _write_manifest(stage: Staging, manifest: dict[str, Any], spools: dict[str, IO[bytes]],
                    ) -> None:
    """``manifest.json``: ``manifest`` (whose per-event lists are ``_HOLES``) in the stable
    stringification, each hole filled with its spooled items."""
    text = stable_stringify(manifest) + "\n"
    with stage.path("manifest.json").open("wb") as f:
        for name, hole in _HOLES.items():
            head, _, text = text.partition(stable_stringify(hole))
            f.write(head.encode("utf-8"))
            f.write(b"[")
            spool = spools[name]
            spool.flush()
            spool.seek(0)
            shutil.copyfileobj(spool, f, 1 << 20)
            f.write(b"]")
        f.write(text.encode("utf-8"))


def _fixture_manifest(manifest: dict[str, Any], sl: Slice, seen: _Events,
                      profile: dict[str, Any], snapshot_hash: str,
                      labelled: SliceLabels | None) -> dict[str, Any]:
    seed_bundle = manifest["seed_bundle"]
    start_ts = window(manifest, sl)[0]
    artifacts: dict[str, Any] = {
        "manifest_path": "manifest.json", "market_events_path": EVENTS_FILE,
        "parameter_snapshot_path": "parameter-snapshot.json",
        "provenance_path": "provenance.json"}
    run = {"run_id": manifest["run_id"], "run_name": f"{manifest['profile']} seed "
           f"{seed_bundle['seed']}", "start_ts": start_ts, "event_count": seen.count}
    contract: dict[str, Any] = {"hidden_labels_embedded_in_market_events": False,
                                "labels_path": None, "smart_flow_outputs_path": None}
    if labelled is not None:
        run["scenario_id"] = labelled.labels["scenario_id"]
        artifacts.update(labels_path=LABELS_FILE, smart_flow_outputs_path=OUTPUTS_FILE)
        contract = {
            "hidden_labels_embedded_in_market_events": False,
            "labels_path": LABELS_FILE, "smart_flow_outputs_path": OUTPUTS_FILE,
            "labels_hash": stable_hash(labelled.labels),
            "smart_flow_outputs_hash": stable_hash(labelled.outputs),
            "label_count": labelled.count,
            "expected_output_count": len(labelled.outputs["expectations"])}
    return {
        "manifest_version": FIXTURE_FORMAT,
        "generator": {"name": FIXTURE_GENERATOR_NAME, "version": LOADER_VERSION},
        "run": run,
        "seed_bundle": seed_bundle,
        "profile_identity": {"profile_hash": stable_hash(profile)},
        "parameter_snapshot_hash": snapshot_hash,
        "event_hashes": {"batch_hash": seen.batch_hash.hexdigest(),
                         "events_hash": seen.events_hash.hexdigest(),
                         "events": _HOLES["events"]},
        "replay_plan": {"market_events_path": EVENTS_FILE, "order_by": ORDER_BY,
                        "event_count": seen.count, "first_event_ts": seen.first_ts,
                        "last_event_ts": seen.last_ts, "event_kind_counts": dict(seen.counts),
                        "trace_ids": _HOLES["trace_ids"]},
        "artifacts": artifacts,
        "expected_output_contract": contract,
    }


def use_lean_memory_pool() -> None:
    """Make jemalloc Arrow's memory pool for this process, where pyarrow has it.

    An export allocates and frees a batch's worth of strings many times over; Arrow's
    default pool (mimalloc) keeps freed pages, jemalloc hands them back: the peak RSS
    of a 10-minute options-smoke slice drops by about 100 MB. For a command's process,
    not a library call (it changes the pool of everything after it).
    """
    with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def export_run(run_dir: Path, out: Path, fmt: str, sl: Slice, force: bool = False,
               progress: Progress | None = None) -> Exported:
    """Write the slice in ``fmt``; returns what was exported.

    Args:
        progress: called after each batch with the events written so far and the
            slice's events in all.

    Raises:
        ExportError: for a bad format or slice, or a sidecar value outside the
            pipeline's closed sets (nothing is written).
        RunDirectoryError: when the run directory's files cannot be read.
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    check_output(out, force)
    manifest = open_run(run_dir)
    total = count_events(run_dir, manifest, sl)
    sep = "\n" if fmt == "jsonl" else ","
    # the trace ids' form is relied on for the key order and the labels' refs only
    check_ids = fmt == "islandflow" or bool(manifest.get("scenarios"))
    tables = _stream(entry_batches(run_dir, manifest, sl, sep, check_ids), total, progress)
    with Staging(out, force) as stage:
        if fmt == "jsonl":
            with contextlib.ExitStack() as stack:
                spool = (stack.enter_context(TraceIdSpool(stage.dir, manifest["run_id"], False))
                         if manifest.get("scenarios") else None)
                seen = _write_jsonl(stage, tables, spool)
                labelled = None if spool is None else slice_labels(run_dir, manifest,
                                                                   spool.exported)
            kept = labelled if labelled is not None and labelled.count else None
            values: dict[str, Any] = {} if kept is None else {LABELS_FILE: kept.labels,
                                                              OUTPUTS_FILE: kept.outputs}
        else:
            seen, labelled, kept, values = _write_fixture(stage, run_dir, manifest, sl, tables)
        check_sidecars(values)
        for name, value in values.items():
            if name != "manifest.json":
                stage.write_text(name, stable_stringify(value) + "\n")
    return Exported(seen.count, kept.count if kept else 0,
                    labelled.dropped if labelled else 0)


def _write_fixture(stage: Staging, run_dir: Path, manifest: dict[str, Any], sl: Slice,
                   tables: Iterator[pa.Table],
                   ) -> tuple[_Events, SliceLabels | None, SliceLabels | None, dict[str, Any]]:
    """Events, provenance and manifest of the fixture written; returns what the events
    pass saw, the labels (all and kept) and the small files' values (by file name)."""
    profile = json.loads((run_dir / "parameter_snapshot.json").read_text("utf-8"))
    snapshot = {"generator_version": f"tapesim-{__version__}", "profile": profile,
                "seed_bundle": manifest["seed_bundle"]}
    snapshot_hash = stable_hash(snapshot)
    spool_paths = {name: stage.path(f".{name}.spool") for name in _HOLES}
    spools = {name: path.open("w+b") for name, path in spool_paths.items()}
    try:
        with TraceIdSpool(stage.dir, manifest["run_id"], True) as ids:
            seen = _Events(ids, ProvenanceRecords(run_dir, manifest, snapshot_hash))
            _write_events(stage, tables, spools, seen)
            seen.batch_hash.update(b',"provenance_by_trace_id":')
            write_provenance(stage, ids.key_order(), seen.batch_hash)
            labelled = slice_labels(run_dir, manifest, ids.exported)
        run = {"run_id": manifest["run_id"], "seed_bundle": manifest["seed_bundle"],
               "start_ts": window(manifest, sl)[0], "event_count": seen.count,
               "parameter_snapshot_hash": snapshot_hash}
        seen.batch_hash.update(f',"run":{stable_stringify(run)}}}'.encode())
        kept = labelled if labelled is not None and labelled.count else None
        fixture = _fixture_manifest(manifest, sl, seen, profile, snapshot_hash, kept)
        values: dict[str, Any] = {"manifest.json": fixture, "parameter-snapshot.json": snapshot}
        if kept is not None:
            values.update({LABELS_FILE: kept.labels, OUTPUTS_FILE: kept.outputs})
        check_sidecars(values)
        _write_manifest(stage, fixture, spools)
    finally:
        for name, spool in spools.items():
            spool.close()
            spool_paths[name].unlink(missing_ok=True)
    return seen, labelled, kept, values
