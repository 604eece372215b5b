"""Checks a run directory against its manifest and the event contract.

Recomputes the sha256 of every artifact, the parameter snapshot hash and the
event-stream digest (core records of every event merged by seq, detail records of
option prints), and checks every invariant row by row (streamed in batches):
schema, replay order, contiguous run-wide seq, trace ids, ingest after source, no
negative (pre-1970) time, prices on their grid, positive sizes, uncrossed quotes,
exchange codes, the option kinds' checks (:mod:`tapesim.verify.options`), every print
against the quote in force before it (:mod:`tapesim.verify.consistency`),
conservation, provenance alignment, and for a scenario run its labels and expected
outputs against the events they reference (:mod:`tapesim.verify.labels`). Returns the
problems found, each one line naming the file and what is wrong; an empty list means
the run is sound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    KINDS,
    KINDS_BY_NAME,
    OPTION_NBBO,
    OPTION_PRINT,
    EventKind,
)
from tapesim.io.canonical import (
    POSITION_EFFECTS,
    PROVENANCE_SCHEMA,
    REAL_SOURCE_KIND,
    SOURCE_KIND,
)
from tapesim.io.digest import RECORD, STREAM_LAYOUT, StreamDigest, pack_details, pack_records
from tapesim.io.manifest import (
    PARAMETER_SNAPSHOT,
    PROVENANCE,
    RunDirectoryError,
    check_manifest,
    read_manifest,
    run_id_for,
    sha256_file,
    snapshot_hash,
)
from tapesim.io.merge import windowed_merge
from tapesim.io.writer import negative_times
from tapesim.venues.chains import MPV_CLASSES
from tapesim.verify.consistency import caused_seqs, tape_consistency
from tapesim.verify.labels import label_problems
from tapesim.verify.options import (
    AT_SEQ,
    ContractIds,
    option_nbbo_problems,
    option_print_problems,
)

BATCH = 1 << 16
TOLERANCE = 1e-6
SKIPPED_FOR_REAL = (
    "conservation: an imported tape has no agents whose shares and cash could be summed",
    "labels: an imported tape has no injected scenarios",
    "prints on the $0.01 grid: a real tape's midpoint and hidden executions may be sub-penny",
    "uncrossed quotes: a real consolidated tape may lock or cross; its quotes are kept as "
    "recorded",
    "prints within the quote in force: a real tape's trades are reported with delays and "
    "against other venues' quotes",
)


class _Problems(list[str]):
    """At most 50 problems; a problem repeated in a later batch is named once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def add(self, text: str) -> None:
        key = text.split(AT_SEQ)[0]
        if len(self) < 50 and key not in self._seen:
            self._seen.add(key)
            self.append(text)


def verify_run(run_dir: Path) -> list[str]:
    """Every problem found in the run directory ``run_dir`` (see the module docstring),
    one line each naming the file and what is wrong; empty when the run is sound.

    Damage to the files is reported, not raised: a missing or unreadable manifest is
    the only problem returned; with an artifact missing, only the manifest and
    artifact checks run. At most 50 problems, and a problem repeated in a later batch
    once.

    A manifest that does not fit its schema (``RunManifest``: a key missing, a value
    of the wrong type) is the only problem returned, naming the field: nothing else
    can be checked against it.
    """
    problems = _Problems()
    try:
        manifest = read_manifest(run_dir)
        check_manifest(run_dir, manifest)
    except RunDirectoryError as err:
        return [str(err)]
    if not _check_artifacts(run_dir, manifest, problems):
        return list(problems)
    _check_snapshot(run_dir, manifest, problems)
    _check_events(run_dir, manifest, problems)
    _check_provenance(run_dir, manifest, problems)
    if not skipped_checks(manifest):
        _check_consistency(run_dir, problems)
        _check_conservation(manifest, problems)
        _check_labels(run_dir, manifest, problems)
    return list(problems)


def skipped_checks(manifest: dict[str, Any]) -> list[str]:
    """The generator-only checks :func:`verify_run` leaves out for this run, each with
    the reason; empty for a simulated run. A run imported from a real tape (its manifest
    has ``source``) has no agents, scenarios or tick-grid guarantee for prints."""
    return list(SKIPPED_FOR_REAL) if manifest.get("source") else []


def _check_labels(run_dir: Path, manifest: dict[str, Any], problems: _Problems) -> None:
    """A scenario run's labels and expected outputs (:mod:`tapesim.verify.labels`)."""
    try:
        found = label_problems(run_dir, manifest)
    except (OSError, pa.ArrowException, KeyError, TypeError, ValueError) as err:
        found = [f"labels cannot be checked against the events: {type(err).__name__}: {err}"]
    for text in found:
        problems.add(text)


def _check_consistency(run_dir: Path, problems: _Problems) -> None:
    """Every lit print and plain option print within the quote in force before it."""
    try:
        found = tape_consistency(run_dir).problems()
    except (OSError, pa.ArrowException, KeyError) as err:
        found = [f"prints cannot be joined to the quotes in force: {type(err).__name__}: {err}"]
    for text in found:
        problems.add(text)


def _check_conservation(manifest: dict[str, Any], problems: _Problems) -> None:
    """Every symbol's totals across agents (shares, cash, contracts, premium...) are 0."""
    conservation = manifest.get("conservation", {})
    for symbol in manifest.get("symbols", []):
        if symbol not in conservation:
            problems.add(f"manifest: no conservation totals for {symbol}")
    for symbol, totals in conservation.items():
        if not isinstance(totals, dict) or not totals:
            problems.add(f"manifest: conservation of {symbol} is not a dict of totals")
            continue
        off = {k: v for k, v in totals.items() if v != 0}
        if off:
            problems.add(f"{symbol}: not conserved across agents (every total must be 0): {off}")


def _check_artifacts(run_dir: Path, manifest: dict[str, Any], problems: _Problems) -> bool:
    """Check each listed file's size and hash; True when every one exists, so the
    row-level checks can still run (and name what a corrupted file got wrong)."""
    artifacts = manifest.get("artifacts", {})
    required = [f"{k.file_stem}.parquet" for k in KINDS] + [PROVENANCE, PARAMETER_SNAPSHOT]
    for name in required:
        if name not in artifacts:
            problems.add(f"manifest lists no {name}")
    present = True
    for name, entry in sorted(artifacts.items()):
        path = run_dir / name
        if not path.is_file():
            problems.add(f"{name} is missing")
            present = False
            continue
        size = path.stat().st_size
        if size != entry.get("bytes"):
            problems.add(f"{name} has {size} bytes, the manifest says {entry.get('bytes')} "
                         "(truncated or replaced)")
        elif sha256_file(path) != entry.get("sha256"):
            problems.add(f"{name} does not match its sha256 in the manifest (corrupted)")
    return present


def _check_snapshot(run_dir: Path, manifest: dict[str, Any], problems: _Problems) -> None:
    try:
        snapshot = json.loads((run_dir / PARAMETER_SNAPSHOT).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        problems.add(f"{PARAMETER_SNAPSHOT} cannot be read: {err}")
        return
    h = snapshot_hash(snapshot)
    if h != manifest.get("parameter_snapshot_hash"):
        problems.add(f"{PARAMETER_SNAPSHOT} hashes to {h}, the manifest says "
                     f"{manifest.get('parameter_snapshot_hash')}")
    if run_id_for(h) != manifest.get("run_id"):
        problems.add(f"run_id {manifest.get('run_id')} does not derive from the snapshot hash")


def _batches(path: Path, problems: _Problems) -> Iterator[pa.Table]:
    try:
        pf = pq.ParquetFile(str(path))
        for batch in pf.iter_batches(batch_size=BATCH):
            yield pa.Table.from_batches([batch])
    except (OSError, pa.ArrowException) as err:
        problems.add(f"{path.name} cannot be read as Parquet: {err}")


def _check_kind_batch(
    kind: EventKind, t: pa.Table, manifest: dict[str, Any], state: dict[str, Any],
    problems: _Problems,
) -> None:
    name = f"{kind.file_stem}.parquet"
    if t.schema != kind.schema:
        problems.add(f"{name}: schema differs from the {kind.name} contract")
        state["broken"] = True
        return
    if t.num_rows == 0:
        return
    ts = t.column("ts").to_numpy()
    ingest = t.column("ingest_ts").to_numpy()
    seq = t.column("seq").to_numpy()
    bad, state["last"] = _order_breaks(np.stack([ts, ingest, seq]), state.get("last"),
                                       strict=True)
    if bad is not None:
        problems.add(f"{name}: rows out of replay order near seq {int(seq[bad])}")
    if (ingest < t.column("source_ts").to_numpy()).any():
        problems.add(f"{name}: ingest_ts before source_ts")
    negative = negative_times(t)
    if negative:
        problems.add(f"{name}: negative {', '.join(negative)} (before 1970; epoch ms must "
                     "be >= 0)")
    session = manifest["session"]
    if ts.min() < session["start_ts"] or ts.max() > session["end_ts"]:
        problems.add(f"{name}: ts outside the session window")
    expected = pc.binary_join_element_wise(f"{manifest['run_id']}:{kind.stream}:",
                                           pc.cast(t.column("seq"), pa.string()), "")
    if not pc.all(pc.equal(t.column("trace_id"), expected)).as_py():
        problems.add(f"{name}: trace_id is not <run_id>:{kind.stream}:<seq>")
    symbols = set(manifest["symbols"])
    if kind is not OPTION_NBBO and not (
            set(t.column("underlying_id").drop_null().unique().to_pylist()) <= symbols):
        problems.add(f"{name}: underlying_id outside the manifest's symbols")
    if kind is OPTION_NBBO:
        for text in option_nbbo_problems(t, state["contracts"], state["faults"]):
            problems.add(text)
    elif kind is OPTION_PRINT:
        venues = frozenset(manifest["venues"].get("options", []))
        for text in option_print_problems(t, state["contracts"], venues):
            problems.add(text)
    elif kind is EQUITY_QUOTE:
        bid, ask = t.column("bid").to_numpy(), t.column("ask").to_numpy()
        _on_grid(name, "bid", bid, problems)
        _on_grid(name, "ask", ask, problems)
        crossed = (bid >= ask).any() and not manifest.get("source")
        if crossed or (bid <= 0).any():
            problems.add(f"{name}: a quote with bid >= ask or bid <= 0 (locked or crossed NBBO)")
    elif kind is EQUITY_PRINT:
        price = t.column("price").to_numpy()
        if not manifest.get("source"):
            _on_grid(name, "price", price, problems)
        if (price <= 0).any():
            problems.add(f"{name}: a print with price <= 0")
        if (t.column("size").to_numpy() <= 0).any():
            problems.add(f"{name}: a print with size <= 0")
        lit, trf = manifest["venues"]["lit"], manifest["venues"]["trf"]
        pairs = t.select(["exchange", "offExchangeFlag"]).group_by(
            ["exchange", "offExchangeFlag"]).aggregate([])
        for code, flag in zip(pairs.column("exchange").to_pylist(),
                              pairs.column("offExchangeFlag").to_pylist(), strict=True):
            if code not in lit + trf or flag != (code in trf):
                problems.add(f"{name}: exchange {code!r} with offExchangeFlag={flag} is not a "
                             "lit venue (flag false) or TRF code (flag true) of this run")


def _order_breaks(
    keys: np.ndarray, previous: tuple[int, ...] | None, strict: bool
) -> tuple[int | None, tuple[int, ...]]:
    """First row whose key tuple (rows of ``keys``) sorts before the row above it.

    ``previous`` is the last key of the preceding batch; ``strict`` also rejects
    equal keys. Returns (index of the first offending row or None, this batch's last key).
    """
    if previous is not None:
        keys = np.concatenate([np.asarray(previous).reshape(-1, 1), keys], axis=1)
    d = np.diff(keys, axis=1)
    tied = np.ones(d.shape[1], dtype=bool)
    bad = np.zeros(d.shape[1], dtype=bool)
    for row in d[:-1]:
        bad |= tied & (row < 0)
        tied &= row == 0
    bad |= tied & ((d[-1] <= 0) if strict else (d[-1] < 0))
    last = tuple(int(k) for k in keys[:, -1])
    if not bad.any():
        return None, last
    first = int(np.argmax(bad)) + (0 if previous is not None else 1)
    return first, last


def _on_grid(name: str, column: str, values: np.ndarray, problems: _Problems) -> None:
    cents = values * 100.0
    if (np.abs(cents - np.round(cents)) > TOLERANCE).any():
        problems.add(f"{name}: {column} off the $0.01 grid")


def _checked(kind: EventKind, run_dir: Path, manifest: dict[str, Any], problems: _Problems,
             counts: dict[str, int], digest: StreamDigest,
             contracts: ContractIds) -> Iterator[pa.Table]:
    """A kind's checked batches as core records; option prints' detail records go
    straight into the digest, in file order (which is seq order)."""
    state: dict[str, Any] = {"contracts": contracts,
                             "faults": caused_seqs(run_dir, OPTION_NBBO) if kind is OPTION_NBBO
                             else None}
    for t in _batches(run_dir / f"{kind.file_stem}.parquet", problems):
        _check_kind_batch(kind, t, manifest, state, problems)
        if state.get("broken"):
            return
        counts[kind.name] += t.num_rows
        if kind is OPTION_PRINT:
            digest.update_details(pack_details(t))
        records = pack_records(kind, t)
        yield pa.table({name: records[name] for name in records.dtype.names})


def _penny_classes(run_dir: Path) -> dict[str, Any]:
    """The run config's ``options.penny_classes`` (root -> class), empty when the
    snapshot has none or cannot be read (``_check_snapshot`` reports the latter)."""
    try:
        snapshot = json.loads((run_dir / PARAMETER_SNAPSHOT).read_text("utf-8"))
        classes = snapshot.get("options", {}).get("penny_classes", {})
        return {str(root): c for root, c in classes.items() if c in MPV_CLASSES}
    except (OSError, ValueError, AttributeError):
        return {}


def _check_events(run_dir: Path, manifest: dict[str, Any], problems: _Problems) -> None:
    counts = {k.name: 0 for k in KINDS}
    digest = StreamDigest()
    contracts = ContractIds(frozenset(manifest["symbols"]), _penny_classes(run_dir))
    sources = [_checked(k, run_dir, manifest, problems, counts, digest, contracts)
               for k in KINDS]
    expected_seq = 1
    last_key: tuple[int, ...] | None = None
    for window in windowed_merge(sources, "seq", [("seq", "ascending")]):
        records = np.zeros(window.num_rows, dtype=RECORD)
        for name in RECORD.names:
            records[name] = window.column(name).to_numpy(zero_copy_only=False)
        seq = records["seq"]
        if not np.array_equal(seq, np.arange(expected_seq, expected_seq + seq.size)):
            problems.add(f"seq is not contiguous from 1 across kinds near seq {expected_seq}")
            return
        expected_seq += seq.size
        key = np.stack([records["ts"], records["ingest_ts"], records["kind"].astype(np.int64)])
        bad, last_key = _order_breaks(key, last_key, strict=False)
        if bad is not None:
            problems.add("events across kinds are not in replay order "
                         "(ts, ingest_ts, then equity quote, option NBBO, equity print, "
                         "option print) by seq")
        digest.update(records)
    for kind in KINDS:
        want = manifest.get("counts", {}).get(kind.name)
        if counts[kind.name] != want:
            problems.add(f"{kind.file_stem}.parquet has {counts[kind.name]} rows, "
                         f"the manifest counts {want}")
    stream = manifest.get("event_stream", {})
    if stream.get("layout") != STREAM_LAYOUT:
        problems.add(f"unknown event stream layout {stream.get('layout')!r}")
    elif digest.hexdigest() != stream.get("sha256"):
        problems.add("the event stream in replay order does not match the manifest's digest")


def _check_provenance(run_dir: Path, manifest: dict[str, Any], problems: _Problems) -> None:
    row = 0
    run_id = manifest["run_id"]
    earlier_prints: set[str] = set()
    for t in _batches(run_dir / PROVENANCE, problems):
        if t.schema != PROVENANCE_SCHEMA:
            problems.add(f"{PROVENANCE}: unexpected schema")
            return
        kinds = t.column("event_kind").to_pylist()
        if not set(kinds) <= set(KINDS_BY_NAME):
            problems.add(f"{PROVENANCE}: unknown event_kind")
            return
        expected = [f"{run_id}:{KINDS_BY_NAME[k].stream}:{row + i + 1}"
                    for i, k in enumerate(kinds)]
        if t.column("trace_id").to_pylist() != expected:
            problems.add(f"{PROVENANCE}: trace ids do not follow the events in seq order")
            return
        want = REAL_SOURCE_KIND if manifest.get("source") else SOURCE_KIND
        if set(t.column("source_kind").unique().to_pylist()) != {want}:
            problems.add(f"{PROVENANCE}: source_kind must be {want}")
        option_print = np.array(kinds, dtype=object) == OPTION_PRINT.name
        refs = t.column("references_trace_id")
        reporting = pc.is_valid(refs).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(option_print | reporting).tolist():  # in seq order
            trace = t.column("trace_id")[i].as_py()
            ref = refs[i].as_py()
            if ref is not None and ref not in earlier_prints:
                problems.add(f"{PROVENANCE}: {trace} reports on {ref}, which is not an "
                             "earlier option print")
            if option_print[i]:
                earlier_prints.add(trace)
        for column in ("position_effect", "contra_position_effect"):
            effect = t.column(column)
            known = pc.is_in(effect, value_set=pa.array(POSITION_EFFECTS))
            if (option_print != known.to_numpy(zero_copy_only=False)).any() or (
                    effect.null_count != int((~option_print).sum())):
                problems.add(f"{PROVENANCE}: {column} must be one of {POSITION_EFFECTS} on "
                             "option prints and null on other events")
        row += t.num_rows
    if row != manifest.get("counts", {}).get("total"):
        total = manifest.get("counts", {}).get("total")
        problems.add(f"{PROVENANCE} has {row} rows, the run has {total} events")
