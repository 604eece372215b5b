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
the run is sound. Each kind's own checks are :mod:`tapesim.verify.kinds`, provenance's
:mod:`tapesim.verify.provenance`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    KINDS,
    KINDS_BY_NAME,
    OPTION_NBBO,
    OPTION_PRINT,
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
from tapesim.sim.shards import Progress, run_shards
from tapesim.verify.consistency import family_consistency
from tapesim.verify.kinds import kind_problems
from tapesim.verify.labels import label_problems
from tapesim.verify.problems import Problems
from tapesim.verify.provenance import provenance_problems
from tapesim.verify.stream import stream_problems

SKIPPED_FOR_REAL = (
    "conservation: an imported tape has no agents whose shares and cash could be summed",
    "labels: an imported tape has no injected scenarios",
    "prints on the $0.01 grid: a real tape's midpoint and hidden executions may be sub-penny",
    "uncrossed quotes: a real consolidated tape may lock or cross; its quotes are kept as "
    "recorded",
    "prints within the quote in force: a real tape's trades are reported with delays and "
    "against other venues' quotes",
)


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
    problems = Problems()
    try:
        manifest = read_manifest(run_dir)
        check_manifest(run_dir, manifest)
    except RunDirectoryError as err:
        return [str(err)]
    if not check_artifacts(run_dir, manifest, problems):
        return list(problems)
    _check_snapshot(run_dir, manifest, problems)
    plan = planned_rows(manifest)
    found = run_shards(run_job, VerifyJob(run_dir, manifest), list(plan.items()), run_dir,
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
class VerifyJob:
    """What every job of :data:`JOBS` needs: the run directory and its manifest (JSON
    values)."""

    run_dir: Path
    manifest: dict[str, Any]


def run_job(job: VerifyJob, name: str, spool: Path | None = None,
            progress: Progress | None = None) -> list[str]:
    """One job of :data:`JOBS` over a run whose files are all present (``spool`` unused:
    the shard runner's file slot); its problems, in the order found. A picklable
    top-level function for worker processes; ``bench/verify.py --jobs`` times each."""
    def rows(n: int) -> None:
        if progress is not None:
            progress(name, n)

    run_dir, manifest = job.run_dir, job.manifest
    if name.startswith("rows:"):
        return kind_problems(KINDS_BY_NAME[name[5:]], run_dir, manifest, rows)
    if name == "stream":
        try:
            return stream_problems(run_dir, manifest, rows)
        except (OSError, pa.ArrowException) as err:
            return [f"the event files cannot be read in seq order: {type(err).__name__}: {err}"]
    if name == "provenance":
        return provenance_problems(run_dir, manifest, rows)
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


def _check_conservation(manifest: dict[str, Any], problems: Problems) -> None:
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


def check_artifacts(run_dir: Path, manifest: dict[str, Any], problems: Problems) -> bool:
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


def _check_snapshot(run_dir: Path, manifest: dict[str, Any], problems: Problems) -> None:
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
