"""Runs a run's shards, one per underlying, on one or more worker processes.

The runner knows nothing of markets: a shard is named by a string, carries an
estimated cost, and is a pure function of (config, name) that writes its own
spool file, so
the order and place shards run in cannot change any byte of the output. With N
workers the shards are split into N bins of about equal estimated cost (longest
first onto the lightest bin); this process runs the first bin itself while N - 1
spawned processes run the others; they adopt this process's exchange calendar
(:func:`tapesim.sim.calendar.adopt_exchange_days`) rather than load it again.
Progress (simulated nanoseconds per shard) from the other processes flows back
through a queue.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from tapesim.sim.calendar import adopt_exchange_days, exchange_days

Progress = Callable[[str, int], None]
"""Progress callback: (shard name, simulated ns reached)."""


class ShardFunction(Protocol):
    """A shard: simulate ``name`` under ``config`` (any picklable value) into ``spool``."""

    def __call__(
        self, config: Any, name: str, spool: Path, progress: Progress | None
    ) -> Any: ...


class _QueueProgress:
    """A picklable progress callback that forwards to the parent through a queue."""

    def __init__(self, q: Any) -> None:
        self.q = q

    def __call__(self, symbol: str, sim_ns: int) -> None:
        self.q.put((symbol, sim_ns))


def balanced_bins(costs: list[tuple[str, float]], bins: int) -> list[list[str]]:
    """Longest-processing-time split of ``(name, cost)`` shards into ``bins`` lists.

    Heaviest first onto the lightest bin; ties keep the input order. Empty bins are
    dropped, so fewer than ``bins`` lists come back when there are fewer shards.
    """
    out: list[list[str]] = [[] for _ in range(bins)]
    load = [0.0] * bins
    order = sorted(enumerate(costs), key=lambda p: (-p[1][1], p[0]))
    for _, (name, cost) in order:
        lightest = load.index(min(load))
        out[lightest].append(name)
        load[lightest] += cost
    return [b for b in out if b]


def spool_paths(names: list[str], spool_dir: Path) -> dict[str, Path]:
    """Each shard's spool file: shard ``i`` named ``s`` spools to
    ``spool_dir / f"shard-{i:03d}-{s}.arrow"``."""
    return {s: spool_dir / f"shard-{i:03d}-{s}.arrow" for i, s in enumerate(names)}


def _run_bin(shard: ShardFunction, config: Any, symbols: list[str],
             spools: dict[str, Path], progress: Progress | None) -> list[Any]:
    return [shard(config, s, spools[s], progress) for s in symbols]


def run_shards(
    shard: ShardFunction,
    config: Any,
    costs: list[tuple[str, float]],
    spool_dir: Path,
    workers: int,
    progress: Progress | None = None,
) -> list[Any]:
    """Run every shard named in ``costs``; results come back in that order.

    Shard ``i`` named ``s`` spools to ``spool_dir / f"shard-{i:03d}-{s}.arrow"``.
    Exceptions raised by a shard propagate (from a worker, re-raised here).
    """
    symbols = [name for name, _ in costs]
    spools = spool_paths(symbols, spool_dir)
    bins = balanced_bins(costs, max(1, min(workers, len(symbols))))
    if len(bins) == 1:
        return _run_bin(shard, config, symbols, spools, progress)
    ctx = mp.get_context("spawn")
    results: dict[str, Any] = {}
    before = {child.pid for child in mp.active_children()}
    with contextlib.ExitStack() as stack:
        q = stack.enter_context(ctx.Manager()).Queue() if progress is not None else None
        pool = stack.enter_context(ProcessPoolExecutor(
            max_workers=len(bins) - 1, mp_context=ctx,
            initializer=adopt_exchange_days, initargs=(exchange_days(),)))
        forward = _QueueProgress(q) if q is not None else None
        futures = [pool.submit(_run_bin, shard, config, b, spools, forward) for b in bins[1:]]

        def local_progress(symbol: str, sim_ns: int) -> None:
            progress(symbol, sim_ns)  # type: ignore[misc]
            _drain(q, progress)

        try:
            own = _run_bin(shard, config, bins[0], spools,
                           local_progress if progress is not None else None)
            results.update(zip(bins[0], own, strict=True))
            for b, f in zip(bins[1:], futures, strict=True):
                while True:
                    try:
                        done = f.result(timeout=0.2)
                        break
                    except TimeoutError:
                        _drain(q, progress)
                results.update(zip(b, done, strict=True))
            _drain(q, progress)
        except BaseException:
            stop_workers(pool, before)
            raise
    return [results[s] for s in symbols]


def stop_workers(pool: ProcessPoolExecutor, before: set[int | None]) -> None:
    """Cancel the pool's queued shards and terminate the worker processes it started
    (every child of this process not alive before it), so an exception or a stop
    signal in the parent does not wait for the workers' shards to finish."""
    pool.shutdown(wait=False, cancel_futures=True)
    for child in mp.active_children():
        if child.pid not in before:
            child.terminate()


def _drain(q: Any, progress: Progress | None) -> None:
    if q is None or progress is None:
        return
    while True:
        try:
            symbol, sim_ns = q.get_nowait()
        except queue_mod.Empty:
            return
        progress(symbol, sim_ns)
