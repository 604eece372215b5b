"""Rows per second into the embedded ClickHouse engine (chdb): ``tapesim load``, timed.

::

    python bench/load.py RUN_DIR [--repeat 3] [--check]
    python bench/load.py --profile options-smoke --end 10:00 [--seed 1]

Each repetition loads the whole run (the four event tables, provenance, open interest,
labels) into a fresh database of a temporary directory and drops it again. The timed
part is ``load_run``'s inserts (the embedded engine reads each Parquet file itself and
converts it to the table's types); creating the tables is not in it. ``cpu_seconds`` is
the process's CPU time over the same part (every thread, chdb's included), so
``rows_per_cpu_s`` says what a repetition cost whatever else the machine was running.
Without ``RUN_DIR`` the run is simulated first (not timed) into a temporary directory.

Output: one JSON object per repetition on stdout, then a summary with the medians
(``"summary": true``); a readable digest on stderr. ``--check`` exits 1 when the median
is below the target (1,000,000 rows/s), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from apart import simulate_apart

from tapesim.storage.embedded import EmbeddedEngine
from tapesim.storage.load import drop_run, load_run

TARGET_ROWS_PER_S = 1_000_000


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="a run directory")
    parser.add_argument("--profile", default="options-smoke",
                        help="profile to simulate when no RUN_DIR is given")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", default="10:00", help="session end, HH:MM New York")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 below {TARGET_ROWS_PER_S:,} rows/s")
    return parser.parse_args(argv)


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit code (0 ok, 1 target missed with --check, 2 bad input)."""
    args = _args(argv)
    with tempfile.TemporaryDirectory(prefix="tapesim-bench-load-") as tmp:
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = Path(tmp) / "run"
            print(f"simulating {args.profile} seed {args.seed} to {args.end} ...",
                  file=sys.stderr)
            if not simulate_apart(args.profile, args.seed, run_dir, args.end):
                return 2
        if not (run_dir / "manifest.json").is_file():
            print(f"error: {run_dir} is not a run directory", file=sys.stderr)
            return 2
        engine = EmbeddedEngine(Path(tmp) / "clickhouse")
        rates: list[float] = []
        cpu_rates: list[float] = []
        try:
            for i in range(args.repeat):
                cpu = _cpu_seconds()
                summary = load_run(engine, run_dir)
                cpu = _cpu_seconds() - cpu  # tables created and runs row checked: a few ms
                drop_run(engine, summary.run_id)
                rate = summary.total_rows / summary.seconds
                rates.append(rate)
                cpu_rates.append(summary.total_rows / cpu)
                print(json.dumps({"repeat": i, "rows": summary.total_rows,
                                  "seconds": round(summary.seconds, 4),
                                  "rows_per_s": round(rate), "cpu_seconds": round(cpu, 4),
                                  "rows_per_cpu_s": round(cpu_rates[-1]),
                                  "tables": summary.rows}))
                print(f"  {i}: {summary.total_rows:,} rows in {summary.seconds:.2f} s, "
                      f"{rate:,.0f} rows/s ({cpu:.2f} CPU s)", file=sys.stderr)
        finally:
            engine.close()
    median = statistics.median(rates)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"summary": True, "rows_per_s": round(median),
                      "rows_per_cpu_s": round(statistics.median(cpu_rates)),
                      "target_rows_per_s": TARGET_ROWS_PER_S, "peak_rss_mib": round(rss_mib),
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
    print(f"median {median:,.0f} rows/s (target {TARGET_ROWS_PER_S:,}), peak RSS "
          f"{rss_mib:,.0f} MiB", file=sys.stderr)
    return 1 if args.check and median < TARGET_ROWS_PER_S else 0


if __name__ == "__main__":
    sys.exit(main())
