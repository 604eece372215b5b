"""The cost of one ``tapesim calibrate`` evaluation, and of a whole calibration from it.

::

    python bench/calibrate.py [--base equities-day] [--symbol AAPL] [--start HH:MM]
                              [--end HH:MM] [--seeds 3] [--budget 60] [--workers 2]
                              [--repeat 1] [--check]
    python bench/calibrate.py --known-truth [--start 09:30 --end 11:30] [--out DIR]
                              [--spread-seeds 10] [--budget 60] [--workers 2]

An evaluation simulates the base profile cut to one symbol over the window, once per
seed, and scores each run (:func:`tapesim.calibration.fit.run_task`: simulate, equity
facts, cache, remove the run). Each repetition times one such run (seed 1, 2, ...)
into a temporary directory. ``run_s`` is its wall time, ``run_cpu_s`` the CPU time of
the process and its finished children over it (a busy machine disturbs it less). The
estimate of a whole calibration is ``budget * seeds * median run_s / workers`` in
minutes (a batch's runs go to the workers in parallel; the sampler's own time is
negligible beside a run).

Output: one JSON object per repetition on stdout, then a summary (``"summary":
true``) with the medians and the estimate; a readable digest on stderr. ``--check``
exits 1 when the estimate is over the target (45 minutes for 60 evaluations on two
workers, the calibration target of a full day).

``--known-truth`` measures the calibration target end to end on a stand-in for a real
day (:mod:`known_truth`): no real LOBSTER day ships with tapesim, so the "real" day is
a tapesim run of the base profile with known, perturbed parameters, written in
LOBSTER's format, imported, and calibrated back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import known_truth

from tapesim.api.simulate import resolve
from tapesim.calibration.fit import RunTask, cache_file, run_task
from tapesim.config.run import with_overrides
from tapesim.runs import execute_run

TARGET_MINUTES = 45.0


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="equities-day", help="a shipped profile")
    parser.add_argument("--symbol", default="AAPL", help="one of the profile's symbols")
    parser.add_argument("--start", help="window start HH:MM (default: the profile's)")
    parser.add_argument("--end", help="window end HH:MM (default: the profile's)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--known-truth", action="store_true",
                        help="calibrate a LOBSTER-format day of known parameters end to end")
    parser.add_argument("--out", type=Path, help="--known-truth: where to keep its files "
                        "(default: a temporary directory)")
    parser.add_argument("--spread-seeds", type=int, default=10,
                        help="--known-truth: runs of the fitted config (and of the truth) "
                        "whose spread the target facts are judged against")
    return parser.parse_args(argv)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (a run's shard workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    """Time ``--repeat`` evaluation runs and print the figures; the exit code (0, or 1
    for a missed target with ``--check``)."""
    a = _args(argv)
    if a.known_truth:
        return known_truth.main(a)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tapesim-bench-") as tmp:
        root = Path(tmp)
        for i in range(a.repeat):
            config = with_overrides(resolve(a.base, seed=i + 1, symbols=a.symbol,
                                            start=a.start, end=a.end), {"scenarios": []})
            task = RunTask(config, a.symbol, cache_file(root, config), root, execute_run)
            wall, cpu = time.perf_counter(), _cpu()
            facts = run_task(task)
            row = {"repeat": i, "run_s": time.perf_counter() - wall,
                   "run_cpu_s": _cpu() - cpu,
                   "facts": sum(v is not None for v in facts.values())}
            rows.append(row)
            print(json.dumps(row))
    run_s = statistics.median(r["run_s"] for r in rows)
    estimate = a.budget * a.seeds * run_s / a.workers / 60.0
    summary = {"summary": True, "base": a.base, "symbol": a.symbol, "start": a.start,
               "end": a.end, "run_s": run_s,
               "run_cpu_s": statistics.median(r["run_cpu_s"] for r in rows),
               "evaluation_s": a.seeds * run_s, "budget": a.budget, "seeds": a.seeds,
               "workers": a.workers, "estimate_min": estimate, "target_min": TARGET_MINUTES}
    print(json.dumps(summary))
    print(f"one run {run_s:.1f} s (cpu {summary['run_cpu_s']:.1f} s); an evaluation of "
          f"{a.seeds} seeds {a.seeds * run_s:.1f} s; {a.budget} evaluations on {a.workers} "
          f"workers ~ {estimate:.1f} min (target {TARGET_MINUTES:g} min)", file=sys.stderr)
    return 1 if a.check and estimate > TARGET_MINUTES else 0


if __name__ == "__main__":
    sys.exit(main())
