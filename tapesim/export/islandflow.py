"""Export a slice of a run in the downstream pipeline's formats.

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
checks every sidecar before anything is written); tapesim's own ``tapesim`` block
stays in the run directory.
``jsonl``: the same ``{kind, event}`` entries, one stable line each, in replay order,
in ``market-events.jsonl``; for a scenario run, the same two label files beside it.
Every kind is exported (equity quotes and prints, option NBBOs and prints); a field
whose value is null is omitted, as the contract reads null as missing.

A slice is chosen by symbols (for option events, the contract's root) and a New
York time window; one that would exceed ``max_events`` is refused before anything
is written, with a hint to narrow it. The output directory appears only when
complete.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim._version import __version__
from tapesim.events.contracts import of_roots
from tapesim.events.models import KINDS, OPTION_NBBO, OPTION_PRINT
from tapesim.events.stable_json import fnv1a32_many, hash_text, stable_hash, stable_stringify
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
from tapesim.io.event_json import kind_entries
from tapesim.io.manifest import PROVENANCE, RunDirectoryError, open_run
from tapesim.io.writer import check_output
from tapesim.sim.calendar import NEW_YORK, epoch_ms

FIXTURE_FORMAT = "synthetic-market-fixture-v1"
LOADER_VERSION = FIXTURE_GENERATOR_VERSION
ORDER_BY = ["ts", "ingest_ts", "seq", "trace_id"]
EVENTS_FILE = "market-events.json"
FORMATS = ("islandflow", "jsonl")


class Rendered(str):
    """A value already in its stable stringification."""


@dataclass(frozen=True)
class Slice:
    """The part of a run to export.

    ``symbols``: the underlyings kept (an option event by its contract's root); ``None``
    or empty keeps every symbol. ``start`` / ``end``: New York wall-clock times on the
    run's session date bounding event ``ts`` as ``[start, end)``; ``None`` is the run's
    simulated window start / end. ``max_events``: the most events the slice may hold.
    Nothing is checked here: an unknown symbol, a window outside the run or an
    inverted one, and a slice over ``max_events`` or empty are refused with
    ``ExportError`` when the events are selected (:func:`select_events`).
    """

    symbols: list[str] | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    max_events: int = 100_000


def _window(manifest: dict[str, Any], sl: Slice) -> tuple[int, int]:
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



def _filters(manifest: dict[str, Any], sl: Slice) -> dict[str, pc.Expression]:
    """The slice's filter of each kind, by kind name."""
    lo, hi = _window(manifest, sl)
    expr = (pc.field("ts") >= lo) & (pc.field("ts") < hi)
    if not sl.symbols:
        return {k.name: expr for k in KINDS}
    unknown = sorted(set(sl.symbols) - set(manifest["symbols"]))
    if unknown:
        raise ExportError(f"--symbols {','.join(unknown)} not in this run: choose from "
                          f"{','.join(manifest['symbols'])}")
    options = expr & of_roots(sl.symbols)
    stocks = expr & pc.field("underlying_id").isin(sl.symbols)
    return {k.name: options if k in (OPTION_NBBO, OPTION_PRINT) else stocks for k in KINDS}


def select_events(run_dir: Path, sl: Slice) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(run manifest, ``{kind, event}`` entries of the slice in replay order)."""
    manifest = open_run(run_dir)
    filters = _filters(manifest, sl)
    datasets = {k.name: ds.dataset(run_dir / f"{k.file_stem}.parquet") for k in KINDS}
    total = sum(d.count_rows(filter=filters[name]) for name, d in datasets.items())
    if total > sl.max_events:
        raise ExportError(
            f"the slice holds {total:,} events, more than --max-events {sl.max_events:,}: "
            "narrow it with --symbols, --start and --end, or raise --max-events")
    if total == 0:
        raise ExportError("the slice holds no events: widen --start/--end or --symbols")
    entries = []
    for kind in KINDS:
        entries += kind_entries(kind, datasets[kind.name].to_table(filter=filters[kind.name]))
    entries.sort(key=lambda e: e["event"]["seq"])  # seq is assigned in replay order
    return manifest, entries


def _provenance(run_dir: Path, manifest: dict[str, Any], trace_ids: list[str],
                snapshot_hash: str) -> dict[str, Any]:
    table = ds.dataset(run_dir / PROVENANCE).to_table(
        filter=pc.field("trace_id").isin(trace_ids))
    seed = manifest["seed_bundle"]
    out = {}
    for row in table.to_pylist():
        record = {k: v for k, v in row.items() if v is not None and k != "trace_id"}
        record.update({
            "run_id": manifest["run_id"],
            "seed": seed["seed"],
            "seed_namespace": seed["namespace"],
            "seed_partition": seed["partition"],
            "generator_version": f"tapesim-{manifest['generator']['version']}",
            "parameter_snapshot_hash": snapshot_hash,
            "symbol_profile_id": row["underlying_id"],
        })
        out[row["trace_id"]] = record
    if len(out) != len(trace_ids):
        raise RunDirectoryError(f"{run_dir / PROVENANCE} lacks records for some events: "
                                f"run `tapesim verify {run_dir}`")
    return out


def _write_atomically(out: Path, files: dict[str, str], force: bool) -> None:
    check_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass(frozen=True)
class Exported:
    """What an export wrote: events, and for a scenario run the labels kept and dropped."""

    events: int
    labels: int = 0
    dropped_labels: int = 0


def export_run(run_dir: Path, out: Path, fmt: str, sl: Slice, force: bool = False) -> Exported:
    """Write the slice in ``fmt``; returns what was exported.

    Raises:
        ExportError: for a bad format or slice, or a sidecar value outside the
            pipeline's closed sets (nothing is written).
        RunDirectoryError: when the run directory's files cannot be read.
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    check_output(out, force)
    manifest, entries = select_events(run_dir, sl)
    labelled = slice_labels(run_dir, manifest, [e["event"]["trace_id"] for e in entries])
    kept = labelled if labelled is not None and labelled.count else None
    if fmt == "jsonl":
        values: dict[str, Any] = {} if kept is None else {LABELS_FILE: kept.labels,
                                                          OUTPUTS_FILE: kept.outputs}
        check_sidecars(values)
        files = {"market-events.jsonl": "".join(stable_stringify(e) + "\n" for e in entries)}
        files.update({name: stable_stringify(v) + "\n" for name, v in values.items()})
    else:
        values = islandflow_fixture(run_dir, manifest, entries, sl, kept)
        check_sidecars(values)
        files = {name: (value if isinstance(value, Rendered) else stable_stringify(value)) + "\n"
                 for name, value in values.items()}
    _write_atomically(out, files, force)
    return Exported(len(entries), kept.count if kept else 0,
                    labelled.dropped if labelled else 0)


def islandflow_fixture(run_dir: Path, manifest: dict[str, Any], entries: list[dict[str, Any]],
                       sl: Slice, labelled: SliceLabels | None = None) -> dict[str, Any]:
    """The fixture's JSON values, keyed by file name: four, six with labels."""
    profile = json.loads((run_dir / "parameter_snapshot.json").read_text("utf-8"))
    seed_bundle = manifest["seed_bundle"]
    snapshot = {"generator_version": f"tapesim-{__version__}", "profile": profile,
                "seed_bundle": seed_bundle}
    snapshot_hash = stable_hash(snapshot)
    trace_ids = [e["event"]["trace_id"] for e in entries]
    provenance = _provenance(run_dir, manifest, trace_ids, snapshot_hash)
    start_ts = _window(manifest, sl)[0]
    run = {"run_id": manifest["run_id"], "seed_bundle": seed_bundle, "start_ts": start_ts,
           "event_count": len(entries), "parameter_snapshot_hash": snapshot_hash}
    # Each event is stringified once; the events array and the batch are built from
    # those texts exactly as stable_stringify would build them (keys in sorted order).
    texts = [stable_stringify(e) for e in entries]
    events_text = Rendered("[" + ",".join(texts) + "]")
    batch_text = ('{"events":' + events_text + ',"provenance_by_trace_id":'
                  + stable_stringify(provenance) + ',"run":' + stable_stringify(run) + "}")
    event_hashes = [f"fnv1a32:{h:08x}" for h in fnv1a32_many(texts)]
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    fixture_manifest: dict[str, Any] = {
        "manifest_version": FIXTURE_FORMAT,
        "generator": {"name": FIXTURE_GENERATOR_NAME, "version": LOADER_VERSION},
        "run": {"run_id": manifest["run_id"], "run_name": f"{manifest['profile']} seed "
                f"{seed_bundle['seed']}", "start_ts": start_ts, "event_count": len(entries)},
        "seed_bundle": seed_bundle,
        "profile_identity": {"profile_hash": stable_hash(profile)},
        "parameter_snapshot_hash": snapshot_hash,
        "event_hashes": {
            "batch_hash": hash_text(batch_text),
            "events_hash": hash_text(events_text),
            "events": [{"index": i, "kind": e["kind"], "trace_id": e["event"]["trace_id"],
                        "hash": h} for i, (e, h) in enumerate(zip(entries, event_hashes,
                                                                   strict=True))],
        },
        "replay_plan": {
            "market_events_path": EVENTS_FILE,
            "order_by": ORDER_BY,
            "event_count": len(entries),
            "first_event_ts": entries[0]["event"]["ts"],
            "last_event_ts": entries[-1]["event"]["ts"],
            "event_kind_counts": counts,
            "trace_ids": trace_ids,
        },
        "artifacts": {"manifest_path": "manifest.json", "market_events_path": EVENTS_FILE,
                      "parameter_snapshot_path": "parameter-snapshot.json",
                      "provenance_path": "provenance.json"},
        "expected_output_contract": {"hidden_labels_embedded_in_market_events": False,
                                     "labels_path": None, "smart_flow_outputs_path": None},
    }
    files = {"manifest.json": fixture_manifest, EVENTS_FILE: events_text,
             "provenance.json": provenance, "parameter-snapshot.json": snapshot}
    if labelled is None:
        return files
    fixture_manifest["run"]["scenario_id"] = labelled.labels["scenario_id"]
    fixture_manifest["artifacts"].update(labels_path=LABELS_FILE,
                                         smart_flow_outputs_path=OUTPUTS_FILE)
    fixture_manifest["expected_output_contract"] = {
        "hidden_labels_embedded_in_market_events": False,
        "labels_path": LABELS_FILE,
        "smart_flow_outputs_path": OUTPUTS_FILE,
        "labels_hash": stable_hash(labelled.labels),
        "smart_flow_outputs_hash": stable_hash(labelled.outputs),
        "label_count": labelled.count,
        "expected_output_count": len(labelled.outputs["expectations"]),
    }
    return {**files, LABELS_FILE: labelled.labels, OUTPUTS_FILE: labelled.outputs}
