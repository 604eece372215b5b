"""The calibration target measured on a day of known parameters (``bench/calibrate.py
--known-truth``).

The target of ``tapesim calibrate`` is stated on a real LOBSTER day: a 60-evaluation
budget over 5-8 parameters brings at least 80% of the equity facts the source
supports inside the seed-to-seed spread of the fitted config, in under 45 minutes on
two workers. No real day ships with tapesim and none is downloaded, so this measures
the nearest honest stand-in, a day whose parameters are known:

1. *truth*: the base profile cut to one symbol over the window, with the parameters of
   :data:`TRUTH` set away from the profile's values, simulated with seed
   :data:`TRUTH_SEED` (a seed no evaluation uses);
2. that run's tape written as a LOBSTER message/orderbook pair (:func:`write_lobster`):
   every NBBO change a submission with the book's best level after it, every print an
   execution (lit prints visible, off-exchange prints hidden executions, so the day
   keeps the consolidated tape the evaluations simulate; prices x 10000, times in
   seconds after midnight);
3. the pair imported (``read_lobster`` and ``write_imported_run``, what ``tapesim
   import lobster`` runs) and calibrated from the profile's values
   (``tapesim.api.calibrate``: its budget, 3 seeds per evaluation, ``--workers``);
4. the fitted config and the truth each simulated with ``--spread-seeds`` seeds
   (1, 2, ...; the fit's cached runs are reused): the share of the target's moments
   inside each one's seed-to-seed spread. The truth's share is the ceiling: with K
   exchangeable runs a further one lies inside their range with probability
   (K - 1) / (K + 1) (9/11 = 82% for K = 10; 50% for the fit's own 3 seeds).

Output: one JSON object (timings in seconds, the shares, each parameter's truth, base
and fitted value) on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tapesim.api.calibrate import calibrate
from tapesim.api.simulate import resolve
from tapesim.calibration.compare import seed_spread
from tapesim.calibration.fit import (
    Facts,
    RunTask,
    cache_file,
    cached_facts,
    objective,
    run_task,
)
from tapesim.calibration.importers.lobster import EMPTY_ASK, EMPTY_BID, PRICE_SCALE, read_lobster
from tapesim.calibration.importers.writer import write_imported_run
from tapesim.calibration.params import current_value, parse_params, with_values
from tapesim.config.run import RunConfig, with_overrides
from tapesim.runs import execute_run
from tapesim.sim.calendar import epoch_ms

#: The fitted parameters, their search ranges, and the truth's values (the profile's
#: AAPL values are 0.85, 0.26, 1.0, 1.6, 0.55 and 3).
PARAMS = ("symbol.activity=0.4:2,symbol.annual_vol=0.12:0.6,symbol.spread_scale=0.5:2.5,"
          "noise.orders_per_s=0.4:4,retail.odd_lot_share=0.2:0.9,latent.jumps_per_day=0:12")
TRUTH = {"symbol.activity": 1.15, "symbol.annual_vol": 0.34, "symbol.spread_scale": 1.4,
         "noise.orders_per_s": 1.0, "retail.odd_lot_share": 0.7, "latent.jumps_per_day": 6.0}
TRUTH_SEED = 1_000
BOOK_SIZE = 100  # shares shown at the best level (tapesim's NBBO carries no sizes)


def _log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def write_lobster(run_dir: Path, symbol: str, folder: Path) -> tuple[Path, Path]:
    """``symbol``'s tape of a simulated run as a LOBSTER level-1 pair in ``folder``.

    Rows in replay (seq) order: a quote is a submission (type 1) on the side whose best
    price moved, a lit print a visible execution (type 4), an off-exchange print a
    hidden one (type 5); an execution's direction is the resting side (-1, a sell
    order, when the price is at or above the mid in force). Each book line is the
    best level after its message (:data:`BOOK_SIZE` shares a side), LOBSTER's dummy
    prices before the first quote. Returns the message and orderbook paths.
    """
    manifest = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    day = manifest["session"]["date"]
    midnight = epoch_ms(dt.date.fromisoformat(day), dt.time(0))
    quotes = pq.read_table(run_dir / "equity_quotes.parquet",
                           filters=[("underlying_id", "=", symbol)])
    prints = pq.read_table(run_dir / "equity_prints.parquet",
                           filters=[("underlying_id", "=", symbol)])
    q_seq, p_seq = quotes["seq"].to_numpy(), prints["seq"].to_numpy()
    bid = np.round(quotes["bid"].to_numpy() * PRICE_SCALE).astype(np.int64)
    ask = np.round(quotes["ask"].to_numpy() * PRICE_SCALE).astype(np.int64)
    seq = np.concatenate([q_seq, p_seq])
    order = np.argsort(seq, kind="stable")
    is_quote = order < q_seq.size
    n = order.size
    # The quote in force at each row: the last quote at or before it in seq order.
    last = np.searchsorted(q_seq, seq[order], side="right") - 1
    has = last >= 0
    book_bid = np.where(has, bid[np.maximum(last, 0)], EMPTY_BID)
    book_ask = np.where(has, ask[np.maximum(last, 0)], EMPTY_ASK)
    ts = np.concatenate([quotes["ts"].to_numpy(), prints["ts"].to_numpy()])[order]
    p_rows = order[~is_quote] - q_seq.size
    price = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    kind = np.empty(n, np.int64)
    direction = np.empty(n, np.int64)
    q_rows = order[is_quote]
    prev_bid = np.concatenate([[EMPTY_BID], bid[:-1]])
    bid_moved = bid[q_rows] != prev_bid[q_rows]
    kind[is_quote] = 1
    price[is_quote] = np.where(bid_moved, bid[q_rows], ask[q_rows])
    size[is_quote] = BOOK_SIZE
    direction[is_quote] = np.where(bid_moved, 1, -1)
    p_price = np.round(prints["price"].to_numpy()[p_rows] * PRICE_SCALE).astype(np.int64)
    mid2 = book_bid[~is_quote] + book_ask[~is_quote]
    kind[~is_quote] = np.where(prints["offExchangeFlag"].to_numpy(zero_copy_only=False)[p_rows],
                               5, 4)
    price[~is_quote] = p_price
    size[~is_quote] = prints["size"].to_numpy()[p_rows]
    direction[~is_quote] = np.where(has[~is_quote] & (2 * p_price >= mid2), -1, 1)
    message = pa.table({"time": (ts - midnight) / 1000.0, "type": kind,
                        "id": np.arange(1, n + 1, dtype=np.int64), "size": size,
                        "price": price, "direction": direction})
    book = pa.table({"ask": book_ask, "ask_size": np.where(has, BOOK_SIZE, 0),
                     "bid": book_bid, "bid_size": np.where(has, BOOK_SIZE, 0)})
    stem = f"{symbol}_{day}_34200000_57600000"
    paths = folder / f"{stem}_message_1.csv", folder / f"{stem}_orderbook_1.csv"
    options = pacsv.WriteOptions(include_header=False)
    pacsv.write_csv(message, paths[0], options)
    pacsv.write_csv(book, paths[1], options)
    return paths


def _spread_facts(configs: list[RunConfig], symbol: str, cache_dir: Path, work: Path,
                  workers: int) -> list[Facts]:
    """Each config's facts: simulated on ``workers`` processes, or read from the cache."""
    tasks = [RunTask(c, symbol, cache_file(cache_dir, c), work, execute_run) for c in configs]
    known = [cached_facts(t.cache_file, t.config) for t in tasks]
    todo = [t for t, f in zip(tasks, known, strict=True) if f is None]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        done = iter(list(pool.map(run_task, todo)))
    return [f if f is not None else next(done) for f in known]


def inside(target: dict[str, float], runs: list[Facts]) -> dict[str, bool]:
    """Per moment, whether its target value lies inside the runs' seed-to-seed spread
    (:func:`~tapesim.calibration.compare.seed_spread`; no spread: not inside)."""
    out = {}
    for fact, value in target.items():
        low, high = seed_spread([r.get(fact) for r in runs])
        out[fact] = bool(low is not None and high is not None and low <= value <= high)
    return out


def main(a: argparse.Namespace) -> int:
    """Run the whole measurement (module docstring) and print its JSON summary."""
    start_clock = a.start or "09:30"
    end_clock = a.end or "11:30"
    with tempfile.TemporaryDirectory(prefix="tapesim-truth-") as tmp:
        root = a.out or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        base = with_overrides(resolve(a.base, seed=TRUTH_SEED, symbols=a.symbol,
                                      start=start_clock, end=end_clock), {"scenarios": []})
        truth = with_values(base, TRUTH)
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        truth_run = root / "truth_run"
        if not (truth_run / "manifest.json").is_file():
            execute_run(truth, truth_run, workers=1)
        times["truth_run_s"] = time.perf_counter() - t0
        _log(f"truth run simulated in {times['truth_run_s']:.0f} s")
        t0 = time.perf_counter()
        lobster = root / "lobster"
        lobster.mkdir(exist_ok=True)
        message, orderbook = write_lobster(truth_run, a.symbol, lobster)
        real = root / "real"
        tape = read_lobster(message, orderbook, truth.session.date, a.symbol)
        if not (real / "manifest.json").is_file():
            write_imported_run(tape, real)
        times["lobster_and_import_s"] = time.perf_counter() - t0
        _log(f"LOBSTER pair of {tape.spec.rows[0]:,} lines written and imported")
        t0 = time.perf_counter()

        def show(ev: Any, best: Any) -> None:
            _log(f"evaluation {ev.index + 1}/{a.budget}: objective {ev.objective:.4g} "
                 f"({ev.simulated} simulated); best {best.objective:.4g} "
                 f"(evaluation {best.index + 1})")

        done = calibrate(real, base=a.base, symbol=a.symbol, params=PARAMS,
                         out=root / "calib", budget=a.budget, seeds=a.seeds,
                         workers=a.workers, start=start_clock, end=end_clock,
                         figures=False, progress=show)
        times["calibrate_s"] = time.perf_counter() - t0
        problem, best = done.problem, done.result.best
        _log(f"calibrated in {times['calibrate_s'] / 60:.1f} min")
        t0 = time.perf_counter()
        seeds = range(1, a.spread_seeds + 1)
        cache = root / "calib" / "cache"
        work = root / "spread"
        work.mkdir(exist_ok=True)
        fitted_runs = _spread_facts([problem.config(best.values, s) for s in seeds],
                                    a.symbol, cache, work, a.workers)
        truth_runs = _spread_facts([problem.config(TRUTH, s) for s in seeds],
                                   a.symbol, cache, work, a.workers)
        times["spread_runs_s"] = time.perf_counter() - t0
        fitted_in = inside(problem.target, fitted_runs)
        truth_in = inside(problem.target, truth_runs)
        fitted_3 = inside(problem.target, fitted_runs[:a.seeds])
        truth_means = {f: float(np.mean(v)) if (v := [x for r in truth_runs[:a.seeds]
                                                       if (x := r.get(f)) is not None
                                                       and math.isfinite(x)]) else None
                       for f in problem.target}
        params = []
        for p in parse_params(PARAMS):
            b, f, t = current_value(base, p.path), float(best.values[p.path]), TRUTH[p.path]
            params.append({"path": p.path, "truth": t, "base": b, "fitted": f,
                           "rel_error": abs(f - t) / abs(t) if t else None,
                           "gap_closed": 1 - abs(f - t) / abs(b - t) if b != t else None})
        summary = {
            "summary": True, "base": a.base, "symbol": a.symbol, "window":
            [start_clock, end_clock], "budget": a.budget, "seeds": a.seeds,
            "workers": a.workers, "lobster_lines": tape.spec.rows[0],
            "moments": len(problem.target), "weighted_moments": len(done.result.sd),
            "spread_seeds": a.spread_seeds,
            "fitted_inside": sum(fitted_in.values()),
            "fitted_inside_share": sum(fitted_in.values()) / len(fitted_in),
            "truth_inside_share": sum(truth_in.values()) / len(truth_in),
            "fitted_inside_share_fit_seeds": sum(fitted_3.values()) / len(fitted_3),
            "outside": sorted(f for f, ok in fitted_in.items() if not ok),
            "objective_base": done.result.evaluations[0].objective,
            "objective_best": best.objective, "best_evaluation": best.index + 1,
            "objective_truth": objective(truth_means, problem.target, done.result.sd),
            "params": params,
            **{k: round(v, 1) for k, v in times.items()},
        }
        print(json.dumps(summary))
        _log(f"{summary['fitted_inside']}/{len(fitted_in)} moments inside the fitted "
             f"config's {a.spread_seeds}-seed spread ({summary['fitted_inside_share']:.0%}; "
             f"the truth's own: {summary['truth_inside_share']:.0%}); calibration "
             f"{times['calibrate_s'] / 60:.1f} min")
    return 0
