"""Checks a run directory against its manifest and the event contract.

Recomputes the sha256 of every artifact, the parameter snapshot hash and the
event-stream digest (core records of every event merged by seq, detail records of
option prints), and checks every invariant row by row (streamed in batches):
schema, replay order, contiguous run-wide seq, trace ids, ingest after source, no
negative (pre-1970) time, prices on their grid, positive sizes, uncrossed quotes,
exchange codes, the option kinds' checks (:mod:`tapesim.verify.options`), every print
against the quote in force before it (:mod:`tapesim.verify.consistency`),
conservation, provenance alignment, and for a scenario run its labels and expected
outputs against the events they reference (:mod:`tapesim.verify.labels`). The checks
across kinds (seq, replay order, digest) are :mod:`tapesim.verify.stream`; the row
checks run as independent jobs, on several processes with ``--workers``. Returns the
problems found, each one line naming the file and what is wrong; an empty list means
the run is sound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
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
from tapesim.io.writer import negative_times
from tapesim.sim.shards import Progress, run_shards
from tapesim.venues.chains import MPV_CLASSES
from tapesim.verify.consistency import caused_seqs, family_consistency
from tapesim.verify.labels import label_problems
from tapesim.verify.options import (
    AT_SEQ,
    ContractIds,
    option_nbbo_problems,
    option_print_problems,
)
from tapesim.verify.stream import ID_COLUMNS, Rows, order_breaks, read_batches, stream_problems

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


def verify_run(run_dir: Path, workers: int = 1, progress: Progress | None = None,
               ) -> list[str]:
    """Every problem found in the run directory ``run_dir`` (see the module docstring),
    one line each naming the file and what is wrong; empty when the run is sound.

    Damage to the files is reported, not raised: a missing or unreadable manifest is
    the only problem returned; with an artifact missing, only the manifest and
    artifact checks run. At most 50 problems, and a problem repeated in a later batch
    once.

    A manifest that does not fit its schema (``RunManifest``: a key missing, a value
    of the wrong type) is the only problem returned, naming the field: nothing else
    can be checked against it.

    The row checks run as independent jobs (:data:`JOBS`: each kind's own checks, the
    stream across kinds, provenance, the three tape-consistency joins, labels) on
    ``workers`` processes (:func:`tapesim.sim.shards.run_shards`, this process running
    one share); their problems are gathered in job order, so the result is the same
    whatever the worker count. ``progress`` is called with (job name, rows that job
    has read); :func:`planned_rows` gives each job's total.
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
    plan = planned_rows(manifest)
    found = run_shards(_run_job, _Job(run_dir, manifest), list(plan.items()), run_dir,
                       workers, progress)
    results = dict(zip(plan, found, strict=True))
    for name in plan:
        if name == LABELS_JOB:
            _check_conservation(manifest, problems)
        for text in results[name]:
            problems.add(text)
    return list(problems)


LABELS_JOB = "labels"
JOBS = (*(f"rows:{k.name}" for k in KINDS), "stream", "provenance", "consistency:equity",
        "consistency:options", "consistency:underlying", LABELS_JOB)


def planned_rows(manifest: dict[str, Any]) -> dict[str, int]:
    """The jobs :func:`verify_run` runs for a run with this manifest, in the order
    their problems are reported, each with the rows it reads (its cost and progress
    total): a simulated run all of :data:`JOBS`, an imported one without tape
    consistency and labels (:func:`skipped_checks`)."""
    counts = {k: int(v) for k, v in manifest.get("counts", {}).items() if isinstance(v, int)}
    total = sum(counts.get(k.name, 0) for k in KINDS)
    quotes, prints = counts.get(EQUITY_QUOTE.name, 0), counts.get(EQUITY_PRINT.name, 0)
    nbbo, option_prints = counts.get(OPTION_NBBO.name, 0), counts.get(OPTION_PRINT.name, 0)
    plan = {f"rows:{k.name}": counts.get(k.name, 0) for k in KINDS}
    plan.update({"stream": total, "provenance": total})
    if not skipped_checks(manifest):
        plan.update({"consistency:equity": quotes + prints,
                     "consistency:options": nbbo + option_prints,
                     "consistency:underlying": quotes + option_prints,
                     LABELS_JOB: option_prints + prints})
    return plan


@dataclass(frozen=True)
class _Job:
    """What every job needs: the run directory and its manifest (JSON values)."""

    run_dir: Path
    manifest: dict[str, Any]


def _run_job(job: _Job, name: str, spool: Path, progress: Progress | None) -> list[str]:
    """One job of :data:`JOBS` (``spool`` unused: the shard runner's file slot); its
    problems, in the order found. A picklable top-level function for worker processes."""
    def rows(n: int) -> None:
        if progress is not None:
            progress(name, n)

    run_dir, manifest = job.run_dir, job.manifest
    if name.startswith("rows:"):
        return _kind_problems(KINDS_BY_NAME[name[5:]], run_dir, manifest, rows)
    if name == "stream":
        try:
            return stream_problems(run_dir, manifest, rows)
        except (OSError, pa.ArrowException) as err:
            return [f"the event files cannot be read in seq order: {type(err).__name__}: {err}"]
    if name == "provenance":
        return _provenance_problems(run_dir, manifest, rows)
    # The consistency joins and the labels report their rows once, when done.
    if name.startswith("consistency:"):
        found = _consistency_problems(run_dir, name.split(":")[1])
    else:
        found = _labels_problems(run_dir, manifest)
    rows(planned_rows(manifest)[name])
    return found


def skipped_checks(manifest: dict[str, Any]) -> list[str]:
    """The generator-only checks :func:`verify_run` leaves out for this run, each with
    the reason; empty for a simulated run. A run imported from a real tape (its manifest
    has ``source``) has no agents, scenarios or tick-grid guarantee for prints."""
    return list(SKIPPED_FOR_REAL) if manifest.get("source") else []


def _labels_problems(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """A scenario run's labels and expected outputs (:mod:`tapesim.verify.labels`)."""
    try:
        return label_problems(run_dir, manifest)
    except (OSError, pa.ArrowException, KeyError, TypeError, ValueError) as err:
        return [f"labels cannot be checked against the events: {type(err).__name__}: {err}"]


def _consistency_problems(run_dir: Path, family: str) -> list[str]:
    """One family's prints within the quote in force before them
    (:func:`tapesim.verify.consistency.family_consistency`)."""
    try:
        return family_consistency(run_dir, family).problems()
    except (OSError, pa.ArrowException, KeyError) as err:
        return [f"prints cannot be joined to the quotes in force: {type(err).__name__}: {err}"]


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


def _batches(path: Path, problems: _Problems,
             dictionary: tuple[str, ...] = ID_COLUMNS) -> Iterator[pa.Table]:
    """The file's batches (:func:`tapesim.verify.stream.read_batches`); a file that
    cannot be read is a problem, not an error."""
    try:
        yield from read_batches(path, dictionary=dictionary)
    except (OSError, pa.ArrowException) as err:
        problems.add(f"{path.name} cannot be read as Parquet: {err}")


def _schema_ok(path: Path, schema: pa.Schema, what: str, problems: _Problems) -> bool:
    """Whether the file's Arrow schema is ``schema``; a problem naming ``what`` if not."""
    try:
        found = pq.read_schema(str(path))
    except (OSError, pa.ArrowException) as err:
        problems.add(f"{path.name} cannot be read as Parquet: {err}")
        return False
    if found != schema:
        problems.add(f"{path.name}: {what}")
        return False
    return True


def _check_kind_batch(
    kind: EventKind, t: pa.Table, manifest: dict[str, Any], state: dict[str, Any],
    problems: _Problems,
) -> None:
    name = f"{kind.file_stem}.parquet"
    if t.num_rows == 0:
        return
    ts = t.column("ts").to_numpy()
    ingest = t.column("ingest_ts").to_numpy()
    seq = t.column("seq").to_numpy()
    bad, state["last"] = order_breaks(np.stack([ts, ingest, seq]), state.get("last"),
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


def _on_grid(name: str, column: str, values: np.ndarray, problems: _Problems) -> None:
    cents = values * 100.0
    if (np.abs(cents - np.round(cents)) > TOLERANCE).any():
        problems.add(f"{name}: {column} off the $0.01 grid")


def _penny_classes(run_dir: Path) -> dict[str, Any]:
    """The run config's ``options.penny_classes`` (root -> class), empty when the
    snapshot has none or cannot be read (``_check_snapshot`` reports the latter)."""
    try:
        snapshot = json.loads((run_dir / PARAMETER_SNAPSHOT).read_text("utf-8"))
        classes = snapshot.get("options", {}).get("penny_classes", {})
        return {str(root): c for root, c in classes.items() if c in MPV_CLASSES}
    except (OSError, ValueError, AttributeError):
        return {}


def _kind_problems(kind: EventKind, run_dir: Path, manifest: dict[str, Any],
                   rows: Rows) -> list[str]:
    """One kind's own checks, batch by batch (:func:`_check_kind_batch`); ``rows`` is
    called with the rows read so far."""
    problems = _Problems()
    path = run_dir / f"{kind.file_stem}.parquet"
    if not _schema_ok(path, kind.schema, f"schema differs from the {kind.name} contract",
                      problems):
        return list(problems)
    state: dict[str, Any] = {
        "contracts": ContractIds(frozenset(manifest["symbols"]), _penny_classes(run_dir)),
        "faults": caused_seqs(run_dir, OPTION_NBBO) if kind is OPTION_NBBO else None}
    done = 0
    for t in _batches(path, problems, () if kind is OPTION_PRINT else ID_COLUMNS):
        _check_kind_batch(kind, t, manifest, state, problems)
        done += t.num_rows
        rows(done)
    return list(problems)


def _provenance_problems(run_dir: Path, manifest: dict[str, Any], rows: Rows) -> list[str]:
    """Provenance row by row: one row per event in seq order (trace ids), its
    ``source_kind``, references to earlier option prints, position effects on option
    prints only, and as many rows as events."""
    problems = _Problems()
    path = run_dir / PROVENANCE
    if not _schema_ok(path, PROVENANCE_SCHEMA, "unexpected schema", problems):
        return list(problems)
    row = 0
    run_id = manifest["run_id"]
    prefixes = {name: f"{run_id}:{k.stream}:" for name, k in KINDS_BY_NAME.items()}
    want = REAL_SOURCE_KIND if manifest.get("source") else SOURCE_KIND
    earlier_prints: set[str] = set()
    for t in _batches(path, problems, ("event_kind", "source_kind")):
        kinds = t.column("event_kind").combine_chunks()
        if not set(pc.unique(kinds).to_pylist()) <= set(KINDS_BY_NAME):
            problems.add(f"{PROVENANCE}: unknown event_kind")
            return list(problems)
        names = kinds.dictionary.to_pylist()
        codes = kinds.indices.to_numpy(zero_copy_only=False)
        prefix = pc.take(pa.array([prefixes.get(n, "") for n in names], pa.string()),
                         kinds.indices)
        seqs = pa.array(np.arange(row + 1, row + t.num_rows + 1, dtype=np.int64))
        expected = pc.binary_join_element_wise(prefix, pc.cast(seqs, pa.string()), "")
        same = pc.fill_null(pc.equal(t.column("trace_id"), expected), False)
        if not pc.all(same).as_py():
            problems.add(f"{PROVENANCE}: trace ids do not follow the events in seq order")
            return list(problems)
        if set(t.column("source_kind").unique().to_pylist()) != {want}:
            problems.add(f"{PROVENANCE}: source_kind must be {want}")
        option_print = np.array([n == OPTION_PRINT.name for n in names], dtype=bool)[codes]
        refs = t.column("references_trace_id")
        reporting = pc.is_valid(refs).to_numpy(zero_copy_only=False)
        at = np.flatnonzero(option_print | reporting)  # in seq order
        traces = pc.take(t.column("trace_id"), pa.array(at)).to_pylist()
        for i, trace, ref in zip(at.tolist(), traces, pc.take(refs, pa.array(at)).to_pylist(),
                                 strict=True):
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
        rows(row)
    if row != manifest.get("counts", {}).get("total"):
        total = manifest.get("counts", {}).get("total")
        problems.add(f"{PROVENANCE} has {row} rows, the run has {total} events")
    return list(problems)
