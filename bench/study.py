"""Study throughput: cells per hour, and the reference classifier's events per second.

::

    python bench/study.py [--cells 4] [--minutes 15] [--workers 1 2] [--seed 1]

Times a study of ``--cells`` background-and-scenario cells of ``--minutes``-minute
``options-smoke`` runs (a fresh run cache each time, so every cell is simulated) at
each worker count, then the reference classifier alone over the first cell's option
prints (``feed = "option_prints"``) and its signal prints. Output: one JSON object per
line on stdout; a digest on stderr.

- ``cells_per_hour``: cells / wall hours of ``run_study`` (simulation, classification,
  scoring and files);
- ``classifier_events_per_s``: events fed to the reference classifier / wall seconds
  of ``classify``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tapesim.study.classifiers import cell_batches
from tapesim.study.reference import classify
from tapesim.study.runner import run_study
from tapesim.study.spec import study_of
from tapesim.testing.cache import RunCache

SCENARIOS = ["none", "institutional-directional-flow", "stale-quote-trap", "benign-block",
             "informed-put-sweep", "volatility-seller-supply", "event-noise-positioning",
             "spread-misread-trap"]


def main() -> int:
    """Run the benchmark; 0 on success, 2 on bad arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.cells <= len(SCENARIOS) or not 2 <= args.minutes <= 60:
        print(f"error: --cells must be 1-{len(SCENARIOS)} and --minutes 2-60", file=sys.stderr)
        return 2
    end = f"{9 + (30 + args.minutes) // 60:02d}:{(30 + args.minutes) % 60:02d}"
    study = study_of({"name": "bench", "grid": {
        "profiles": ["options-smoke"], "seeds": [args.seed],
        "scenarios": SCENARIOS[:args.cells], "at": ["09:31"], "end": end},
        "classifier": {"entry_point": "tapesim.study.reference:classify",
                       "feed": "option_prints"}})
    first = None
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="tapesim-bench-study-") as tmp:
            began = time.perf_counter()
            run_study(study, Path(tmp) / "study", workers=workers, cache_root=Path(tmp) / "c")
            wall = time.perf_counter() - began
            row = {"workers": workers, "cells": args.cells, "minutes": args.minutes,
                   "wall_s": round(wall, 2), "cells_per_hour": round(args.cells / wall * 3600)}
            print(json.dumps(row), flush=True)
            print(f"{workers} worker(s): {row['cells_per_hour']} cells/h "
                  f"({args.cells} cells of {args.minutes} min in {wall:.1f} s)", file=sys.stderr)
            if first is None:
                run = RunCache(Path(tmp) / "c")(study.cells()[0].config())
                for feed in ("option_prints", "signal_prints"):
                    events = sum(b.num_rows for b in cell_batches(run.path, feed))
                    began = time.perf_counter()
                    classify(cell_batches(run.path, feed))
                    spent = time.perf_counter() - began
                    first = {"feed": feed, "events": events, "classify_s": round(spent, 3),
                             "classifier_events_per_s": round(events / spent)}
                    print(json.dumps(first), flush=True)
                    print(f"reference classifier, {feed}: {first['classifier_events_per_s']:,}"
                          f" events/s ({events:,} events)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
