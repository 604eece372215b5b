"""Export throughput and peak memory, per format.

    python bench/export.py RUN_DIR [--start 09:35 --end 09:45] [--symbols SPY]
                           [--formats islandflow,jsonl] [--repeat 3] [--check]
    python bench/export.py --profile options-smoke [--seed 1] --start 09:35 --end 09:45
    python bench/export.py --profile market-day --start 10:00 --end 11:00 --repeat 1

With ``--profile`` the run is simulated first, up to the slice's ``--end`` (a big
slice of a ``market-day`` run takes minutes of simulation, not a whole day's).

Each repetition of each format runs one export in a fresh Python process (as
``tapesim export`` does it: jemalloc as Arrow's pool, the same ``export_run``) into
a temporary directory, removed after it (a big fixture is many GB), so its peak RSS
is its own. Figures per repetition:

  events           events exported
  events_per_s     events / wall seconds of the ``export_run`` call (reading, encoding,
                   hashing, writing; not the interpreter's start and imports)
  events_per_cpu_s events / CPU seconds (user + system, all threads) of that call: on
                   a shared machine the steadier figure
  command_s        wall seconds of the whole process, start and imports included
  peak_rss_mib     the process's peak RSS

stdout: one JSON object per repetition, then one summary per format with the medians
(``"summary": true``), its targets and whether they were met; a digest on stderr.
Targets (bench/README.md), one worker: islandflow >= 100,000 events/s, jsonl
>= 300,000 events/s, peak RSS < 500 MiB for any slice. ``--check`` exits 1 naming
each target missed. Exit codes: 0 ok, 1 a target missed with ``--check``, 2 bad
input, 3 an export failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from apart import simulate_apart

TARGETS = {"islandflow": {"events_per_s": 100_000, "peak_rss_mib": 500},
           "jsonl": {"events_per_s": 300_000, "peak_rss_mib": 500}}

# Runs in the child: one export, timed around the call; prints its figures as JSON.
CHILD = """
import json, sys, time, datetime as dt
from pathlib import Path
from tapesim.export.islandflow import Slice, export_run, use_lean_memory_pool
run, out, fmt, symbols, start, end = sys.argv[1:7]
use_lean_memory_pool()
clock = lambda s: dt.time.fromisoformat(s) if s else None
sl = Slice(symbols.split(",") if symbols else None, clock(start), clock(end), 10**12)
wall, cpu = time.perf_counter(), time.process_time()
done = export_run(Path(run), Path(out), fmt, sl)
print(json.dumps({"events": done.events, "seconds": time.perf_counter() - wall,
                  "cpu_seconds": time.process_time() - cpu}))
"""


def one(run: Path, fmt: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One export in a fresh process; its figures (see the module docstring).

    Raises:
        RuntimeError: the export failed (its stderr in the message).
    """
    cmd = [sys.executable, "-c", CHILD, str(run), str(out), fmt, args.symbols or "",
           args.start or "", args.end or ""]
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage: its peak RSS
        command_s = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode != 0:
            errors.seek(0)
            last = (errors.read().strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"export {fmt} exited {proc.returncode}: {last}")
    child = json.loads(stdout.strip().splitlines()[-1])
    return {"format": fmt, "events": child["events"],
            "events_per_s": child["events"] / child["seconds"],
            "events_per_cpu_s": child["events"] / child["cpu_seconds"],
            "command_s": command_s, "peak_rss_mib": usage.ru_maxrss / 1024}


def summarise(fmt: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of a format's repetitions, with its targets checked."""
    summary: dict[str, Any] = {"summary": True, "format": fmt, "repeat": len(rows),
                               "events": rows[0]["events"]}
    for key in ("events_per_s", "events_per_cpu_s", "command_s", "peak_rss_mib"):
        summary[key] = statistics.median(r[key] for r in rows)
    target = TARGETS[fmt]
    summary["targets"] = {
        "events_per_s": {"min": target["events_per_s"],
                         "ok": summary["events_per_s"] >= target["events_per_s"]},
        "peak_rss_mib": {"max": target["peak_rss_mib"],
                         "ok": max(r["peak_rss_mib"] for r in rows) < target["peak_rss_mib"]}}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run directory")
    parser.add_argument("--profile", help="simulate this profile first")
    parser.add_argument("--seed", type=int, default=1, help="with --profile")
    parser.add_argument("--symbols", help="the slice's symbols, comma-separated")
    parser.add_argument("--start", help="the slice's start, HH:MM New York")
    parser.add_argument("--end", help="the slice's end, HH:MM New York")
    parser.add_argument("--formats", default="islandflow,jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    formats = args.formats.split(",")
    if not set(formats) <= set(TARGETS) or args.repeat < 1:
        print(f"error: --formats takes {','.join(TARGETS)}; --repeat at least 1",
              file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory(prefix="tapesim-bench-")
    if args.profile:
        args.run = Path(tmp.name) / "run"
        if not simulate_apart(args.profile, args.seed, args.run, args.end):
            return 2
    if args.run is None or not args.run.is_dir():
        print("error: pass a run directory or --profile", file=sys.stderr)
        return 2
    missed = []
    for fmt in formats:
        rows = []
        for i in range(args.repeat):
            out = Path(tmp.name) / f"{fmt}-{i}"
            try:
                row = one(args.run, fmt, args, out)
            except RuntimeError as err:
                print(f"error: {err}", file=sys.stderr)
                return 3
            finally:
                shutil.rmtree(out, ignore_errors=True)
            rows.append({"repetition": i, **row})
            print(json.dumps(rows[-1]), flush=True)
        summary = summarise(fmt, rows)
        print(json.dumps(summary), flush=True)
        print(f"{fmt}: {summary['events']:,} events, {summary['events_per_s']:,.0f} events/s "
              f"({summary['events_per_cpu_s']:,.0f} per CPU second), command "
              f"{summary['command_s']:.1f} s, peak RSS {summary['peak_rss_mib']:,.0f} MiB "
              f"(medians of {args.repeat})", file=sys.stderr)
        missed += [f"{fmt} {name}" for name, t in summary["targets"].items() if not t["ok"]]
    if missed:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
