"""Throughput of a whole run: canonical events per wall second, and peak memory.

    python bench/throughput.py [--profile equities-day] [--workers 1] [--seed 1] [--repeat 1]

Prints, per repetition, the run's canonical events per wall second (simulation,
merge and Parquet writing included), simulated seconds per wall second and peak
RSS (this process and, with workers, the largest child); then, in the same process,
SimPy's raw rate of timeouts with 1,000 processes: the kernel's own ceiling.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import simpy

from tapesim.runs import execute_run
from tapesim.sim.config import load_profile, with_overrides


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


def peak_rss_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="equities-day")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    config = with_overrides(load_profile(args.profile), {"seed": args.seed})
    session = config.session.session()
    simulated_s = (session.end_ns - session.start_ns) / 1e9 * len(config.symbols)
    rates = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = execute_run(config, Path(tmp) / "run", workers=args.workers)
            wall = time.perf_counter() - start
        events = summary.manifest["counts"]["total"]
        rates.append(events / wall)
        own, children = peak_rss_mib()
        print(f"run {i + 1}: profile={args.profile} workers={args.workers} events={events:,} "
              f"wall={wall:.2f}s events/s={events / wall:,.0f} "
              f"simulated-s/s={simulated_s / wall:,.0f} peak_rss_mib={own:.0f} "
              f"peak_child_rss_mib={children:.0f}")
    if args.repeat > 1:
        print(f"median events/s over {args.repeat} runs: {statistics.median(rates):,.0f}")
    print(f"simpy reference: {simpy_timeouts_per_s():,.0f} timeouts/s (1,000 processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
