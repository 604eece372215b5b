"""Throughput of a whole run: canonical events per wall second, and peak memory.

    python bench/throughput.py [--profile equities-day] [--workers 1] [--seed 1] [--repeat 3]

Each repetition runs in a fresh Python process (so its peak RSS is its own) and
prints the run's canonical events per wall second (simulation, merge and Parquet
writing included), simulated seconds per wall second, peak RSS of that process and
of its largest worker, and, measured afterwards in the same process, SimPy's raw
rate of timeouts with 1,000 processes: the kernel's own ceiling. With --repeat > 1
the medians follow.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simpy


def simpy_timeouts_per_s(processes: int = 1000, per_process: int = 500) -> float:
    env = simpy.Environment()

    def proc(env: simpy.Environment, i: int):
        for _ in range(per_process):
            yield env.timeout(1 + (i % 7))

    for i in range(processes):
        env.process(proc(env, i))
    start = time.perf_counter()
    env.run()
    return processes * per_process / (time.perf_counter() - start)


def measure_once(profile: str, workers: int, seed: int) -> dict[str, float]:
    """One run in this process; returns its figures."""
    from tapesim.runs import execute_run
    from tapesim.sim.config import load_profile, with_overrides

    config = with_overrides(load_profile(profile), {"seed": seed})
    session = config.session.session()
    simulated_s = (session.end_ns - session.start_ns) / 1e9 * len(config.symbols)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = execute_run(config, Path(tmp) / "run", workers=workers)
        wall = time.perf_counter() - start
    events = summary.manifest["counts"]["total"]
    return {
        "events": events,
        "wall_s": wall,
        "events_per_s": events / wall,
        "simulated_s_per_s": simulated_s / wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_worker_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "simpy_timeouts_per_s": simpy_timeouts_per_s(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="equities-day")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(measure_once(args.profile, args.workers, args.seed)))
        return 0
    runs = []
    for i in range(args.repeat):
        child = subprocess.run(
            [sys.executable, __file__, "--once", "--profile", args.profile,
             "--workers", str(args.workers), "--seed", str(args.seed)],
            check=True, capture_output=True, text=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        runs.append(r)
        print(f"run {i + 1}: profile={args.profile} workers={args.workers} "
              f"events={r['events']:,} wall={r['wall_s']:.2f}s "
              f"events/s={r['events_per_s']:,.0f} simulated-s/s={r['simulated_s_per_s']:,.0f} "
              f"peak_rss_mib={r['peak_rss_mib']:.0f} "
              f"peak_worker_rss_mib={r['peak_worker_rss_mib']:.0f} "
              f"simpy_timeouts/s={r['simpy_timeouts_per_s']:,.0f}")
    if len(runs) > 1:
        def med(key: str) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"median of {len(runs)}: events/s={med('events_per_s'):,.0f} "
              f"wall={med('wall_s'):.2f}s peak_rss_mib={med('peak_rss_mib'):.0f} "
              f"peak_worker_rss_mib={med('peak_worker_rss_mib'):.0f} "
              f"simpy_timeouts/s={med('simpy_timeouts_per_s'):,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
