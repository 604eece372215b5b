"""Export a slice of a run in the downstream pipeline's formats.

``islandflow``: the pipeline's fixture directory (CONTRACT.md section 2): four
compact JSON files - ``manifest.json``, ``market-events.json`` (``{kind, event}`` in
replay order), ``provenance.json`` (keyed by trace id) and
``parameter-snapshot.json`` - each the stable stringification of its value plus a
newline, with the FNV-1a hashes the pipeline's loader recomputes. Scenario runs
will add ``labels.json`` and ``smart-flow-expected-outputs.json``.
``jsonl``: the same ``{kind, event}`` entries, one stable line each, in replay order.
Every kind is exported (equity quotes and prints, option NBBOs and prints); a field
whose value is null is omitted, as the contract reads null as missing.

A slice is chosen by symbols (for option events, the contract's root) and a New
York time window; one that would exceed ``max_events`` is refused before anything
is written, with a hint to narrow it. The output directory appears only when
complete.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim import __version__
from tapesim.events.models import KINDS, OPTION_NBBO, OPTION_PRINT, EventKind
from tapesim.io.manifest import PROVENANCE, RunDirectoryError, open_run
from tapesim.io.stable_json import stable_hash, stable_stringify
from tapesim.io.writer import check_output
from tapesim.sim.calendar import NEW_YORK, epoch_ms

FIXTURE_FORMAT = "synthetic-market-fixture-v1"
LOADER_VERSION = "synthetic-market-spine-v1"
ORDER_BY = ["ts", "ingest_ts", "seq", "trace_id"]
EVENTS_FILE = "market-events.json"
FORMATS = ("islandflow", "jsonl")


class ExportError(ValueError):
    """A slice or flag that cannot be exported; the message says how to fix it."""


@dataclass(frozen=True)
class Slice:
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


def _of_roots(symbols: list[str]) -> pc.Expression:
    """Option contract ids whose root is one of ``symbols``, in either id form: the
    dashed form starts with ``ROOT-``, the OCC form with the root padded to six."""
    contract = pc.field("option_contract_id")
    expr = None
    for s in symbols:
        term = (pc.starts_with(contract, pattern=f"{s}-")
                | pc.starts_with(contract, pattern=f"{s:<6}"))
        expr = term if expr is None else expr | term
    assert expr is not None
    return expr


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
    options = expr & _of_roots(sl.symbols)
    stocks = expr & pc.field("underlying_id").isin(sl.symbols)
    return {k.name: options if k in (OPTION_NBBO, OPTION_PRINT) else stocks for k in KINDS}


def _entries(kind: EventKind, table: pa.Table) -> list[dict[str, Any]]:
    """``{kind, event}`` per row; fields without a value are omitted."""
    return [{"kind": kind.name, "event": {k: v for k, v in row.items() if v is not None}}
            for row in table.to_pylist()]


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
        entries += _entries(kind, datasets[kind.name].to_table(filter=filters[kind.name]))
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


def export_run(run_dir: Path, out: Path, fmt: str, sl: Slice, force: bool = False) -> int:
    """Write the slice in ``fmt``; returns the number of events exported."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    check_output(out, force)
    manifest, entries = select_events(run_dir, sl)
    if fmt == "jsonl":
        lines = "".join(stable_stringify(e) + "\n" for e in entries)
        _write_atomically(out, {"market-events.jsonl": lines}, force)
        return len(entries)
    files = islandflow_fixture(run_dir, manifest, entries, sl)
    _write_atomically(out, {name: stable_stringify(value) + "\n" for name, value in files.items()},
                      force)
    return len(entries)


def islandflow_fixture(run_dir: Path, manifest: dict[str, Any], entries: list[dict[str, Any]],
                       sl: Slice) -> dict[str, Any]:
    """The fixture's four JSON values, keyed by file name."""
    import json

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
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    fixture_manifest = {
        "manifest_version": FIXTURE_FORMAT,
        "generator": {"name": "tapesim", "version": LOADER_VERSION},
        "run": {"run_id": manifest["run_id"], "run_name": f"{manifest['profile']} seed "
                f"{seed_bundle['seed']}", "start_ts": start_ts, "event_count": len(entries)},
        "seed_bundle": seed_bundle,
        "profile_identity": {"profile_hash": stable_hash(profile)},
        "parameter_snapshot_hash": snapshot_hash,
        "event_hashes": {
            "batch_hash": stable_hash({"run": run, "events": entries,
                                       "provenance_by_trace_id": provenance}),
            "events_hash": stable_hash(entries),
            "events": [{"index": i, "kind": e["kind"], "trace_id": e["event"]["trace_id"],
                        "hash": stable_hash(e)} for i, e in enumerate(entries)],
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
    return {"manifest.json": fixture_manifest, EVENTS_FILE: entries,
            "provenance.json": provenance, "parameter-snapshot.json": snapshot}
