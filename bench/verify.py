"""`tapesim verify` and `tapesim facts` on a run directory: events per second and memory.

    python bench/verify.py RUN_DIR [--command verify|facts] [--workers 1] [--repeat 3]
    python bench/verify.py runs/m1 --command facts --repeat 3
    python bench/verify.py runs/m1 --jobs            # verify's jobs one by one, timed

``--jobs`` runs verify's steps in this process one after another (the artifact
hashes, then each job of ``tapesim.verify.run.planned_rows``) and prints per step
its rows, wall seconds and CPU seconds (user + system of this process, pyarrow's
threads included); no repetition.

Each repetition runs the command (``--quiet``) as a fresh ``tapesim`` process of this
Python and takes from its resource usage the wall seconds, the CPU seconds (user +
system, every thread and worker process) and the peak RSS of its largest process.
Figures per repetition:

  events          the run's canonical events (manifest counts.total)
  wall_s, cpu_s   wall and CPU seconds of the command
  events_per_s    events / wall seconds
  events_per_cpu_s events / CPU seconds (the figure a loaded machine does not distort)
  peak_rss_mib    peak RSS of the largest process of the command
  problems        the FAIL lines of ``verify`` (a run with problems is still timed: the
                  checks ran in full; any other failure exits 3)

Output: one JSON object per repetition on stdout, then a summary with the medians
(``"summary": true``) and the targets; a digest on stderr. Targets: ``verify`` at
least 1,000,000 events per wall second, ``facts`` of a ``market-day`` run in under
60 s, both under 1.5 GiB peak RSS. ``--check`` exits 1 when a median misses one.
Exit codes: 0 ok, 1 a target missed with ``--check``, 2 bad input, 3 the command failed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from tapesim.io.manifest import read_manifest
from tapesim.verify.problems import Problems
from tapesim.verify.run import VerifyJob, check_artifacts, planned_rows, run_job

MIB = 1024**2
GIB = 1024**3
TARGETS = {"verify": {"min_events_per_s": 1_000_000, "max_peak_rss_gib": 1.5},
           "facts": {"max_wall_s": 60.0, "max_peak_rss_gib": 1.5}}


def _once(run_dir: Path, command: str, workers: int) -> dict[str, Any]:
    """One run of the command in a fresh process; its figures (module docstring)."""
    args = [sys.executable, "-m", "tapesim.cli.main", command, str(run_dir)]
    args += ["--quiet", "--workers", str(workers)] if command == "verify" else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    failed = [line for line in done.stderr.splitlines() if line.startswith("FAIL ")]
    if done.returncode != 0 and not (command == "verify" and done.returncode == 2 and failed):
        print(done.stderr, file=sys.stderr)
        raise SystemExit(3)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    events = json.loads((run_dir / "manifest.json").read_text())["counts"]["total"]
    return {"command": command, "workers": workers, "events": events, "wall_s": wall,
            "cpu_s": cpu, "events_per_s": events / wall, "events_per_cpu_s": events / cpu,
            "peak_rss_mib": after.ru_maxrss * 1024 / MIB, "problems": len(failed)}


def _jobs(run_dir: Path) -> None:
    """Verify's steps one by one in this process, timed (module docstring)."""
    manifest = read_manifest(run_dir)
    job = VerifyJob(run_dir, manifest)
    steps: list[tuple[str, int, Callable[[], object]]] = [
        ("artifacts", 0, lambda: check_artifacts(run_dir, manifest, Problems()))]
    steps += [(name, rows, partial(run_job, job, name)) for name, rows in
              planned_rows(manifest).items()]
    total_wall = total_cpu = 0.0
    for name, rows, step in steps:
        before, start = _cpu(), time.perf_counter()
        found = step()
        wall, cpu = time.perf_counter() - start, _cpu() - before
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        problems = len(found) if isinstance(found, list) else 0
        print(json.dumps({"job": name, "rows": rows, "wall_s": wall, "cpu_s": cpu,
                          "problems": problems}))
        print(f"{name:24s} {rows:>12,} rows wall={wall:7.2f}s cpu={cpu:7.2f}s"
              + (f" rows/cpu-s={rows / cpu:,.0f}" if rows and cpu else ""), file=sys.stderr)
    print(f"{'total':24s} {'':>17s} wall={total_wall:7.2f}s cpu={total_cpu:7.2f}s "
          f"peak_rss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
          file=sys.stderr)


def _cpu() -> float:
    """User + system CPU seconds of this process so far (every thread)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _checks(command: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    t = TARGETS[command]
    out = [{"target": "peak RSS < 1.5 GiB", "ok": summary["peak_rss_mib"] * MIB
            < t["max_peak_rss_gib"] * GIB}]
    if "min_events_per_s" in t:
        out.append({"target": ">= 1,000,000 events per wall second",
                    "ok": summary["events_per_s"] >= t["min_events_per_s"]})
    if "max_wall_s" in t:
        out.append({"target": "< 60 wall seconds", "ok": summary["wall_s"] < t["max_wall_s"]})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--command", choices=sorted(TARGETS), default="verify")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--jobs", action="store_true",
                        help="time verify's jobs one by one in this process")
    a = parser.parse_args()
    if not (a.run_dir / "manifest.json").is_file() or a.repeat < 1 or a.workers < 1:
        print("error: RUN_DIR must be a run directory, --repeat and --workers at least 1",
              file=sys.stderr)
        return 2
    if a.jobs:
        _jobs(a.run_dir)
        return 0
    runs = []
    for i in range(a.repeat):
        r = _once(a.run_dir, a.command, a.workers)
        runs.append(r)
        print(json.dumps(r))
        print(f"run {i + 1}: {r['events']:,} events wall={r['wall_s']:.1f}s "
              f"cpu={r['cpu_s']:.1f}s events/s={r['events_per_s']:,.0f} "
              f"events/cpu-s={r['events_per_cpu_s']:,.0f} peak_rss={r['peak_rss_mib']:.0f} MiB",
              file=sys.stderr)
    summary = {k: statistics.median(r[k] for r in runs)
               for k in ("wall_s", "cpu_s", "events_per_s", "events_per_cpu_s")}
    summary["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    checks = _checks(a.command, summary)
    print(json.dumps({"summary": True, "command": a.command, "workers": a.workers,
                      "repeat": a.repeat, **summary, "checks": checks}))
    print(f"median of {a.repeat}: wall={summary['wall_s']:.1f}s cpu={summary['cpu_s']:.1f}s "
          f"events/s={summary['events_per_s']:,.0f} "
          f"events/cpu-s={summary['events_per_cpu_s']:,.0f}", file=sys.stderr)
    return 1 if a.check and not all(c["ok"] for c in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
