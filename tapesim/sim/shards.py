"""Runs a run's shards, one per underlying, on one or more worker processes.

A shard is a pure function of (config, symbol) that writes its own spool file, so
the order and place shards run in cannot change any byte of the output. Shards
are submitted largest first (by activity), which balances two workers well.
Progress (simulated nanoseconds per shard) flows back through a queue.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from tapesim.sim.config import RunConfig

Progress = Callable[[str, int], None]


class ShardFunction(Protocol):
    def __call__(
        self, config: RunConfig, symbol: str, spool: Path, progress: Progress | None
    ) -> Any: ...


class _QueueProgress:
    """A picklable progress callback that forwards to the parent through a queue."""

    def __init__(self, q: Any) -> None:
        self.q = q

    def __call__(self, symbol: str, sim_ns: int) -> None:
        self.q.put((symbol, sim_ns))


def run_shards(
    shard: ShardFunction,
    config: RunConfig,
    spool_dir: Path,
    workers: int,
    progress: Progress | None = None,
) -> list[Any]:
    """Run every symbol's shard; results come back in config order."""
    symbols = [s.symbol for s in config.symbols]
    spools = {s: spool_dir / f"shard-{i:03d}-{s}.arrow" for i, s in enumerate(symbols)}
    if workers <= 1 or len(symbols) == 1:
        return [shard(config, s, spools[s], progress) for s in symbols]
    order = sorted(config.symbols, key=lambda s: (-s.activity, symbols.index(s.symbol)))
    ctx = mp.get_context("spawn")
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        q = stack.enter_context(ctx.Manager()).Queue() if progress is not None else None
        forward = _QueueProgress(q) if q is not None else None
        pool = stack.enter_context(
            ProcessPoolExecutor(max_workers=min(workers, len(symbols)), mp_context=ctx))
        futures = {pool.submit(shard, config, s.symbol, spools[s.symbol], forward): s.symbol
                   for s in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, progress)
            for f in done:
                results[futures[f]] = f.result()
        _drain(q, progress)
    return [results[s] for s in symbols]


def _drain(q: Any, progress: Progress | None) -> None:
    if q is None or progress is None:
        return
    while True:
        try:
            symbol, sim_ns = q.get_nowait()
        except queue_mod.Empty:
            return
        progress(symbol, sim_ns)
