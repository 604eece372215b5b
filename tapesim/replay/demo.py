"""Looping runs onto the bus live, for demos: one clock and one price path across every
run and lap.

Each run of the loop is replayed with ``--live`` pacing through one
:class:`~tapesim.replay.engine.LiveClock`: times are rebased to the wall clock afresh
at the start of each run (its event times start over) while ``seq`` and the trace ids
keep counting, so the stream a consumer sees is one live feed.

A live consumer keeps one price regime per underlying (CONTRACT.md §3), so a demo's
runs are chained (:class:`DemoChain`): every run after the first opens each underlying
at the mid of that underlying's last equity quote in the run before it, with the
market in the volatility regime that run closed in (``latent.start_regime``), lap
after lap, and each lap after the first takes its own seeds (``seed + lap * LAP_SEED_STRIDE``), so
the tape goes on rather than repeating. The chain is a pure function of the demo's
configs: lap ``k`` of one showing is lap ``k`` of every other, generated on first use
and cached by run id like any run. A loop given a fixed list of sources instead replays
those same runs every lap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tapesim.config.run import RunConfig, with_overrides
from tapesim.events.models import KINDS_BY_NAME
from tapesim.io.manifest import damaged
from tapesim.io.parquet import streaming
from tapesim.market.truth import closing_regime
from tapesim.replay.engine import LiveClock, ReplaySummary, replay
from tapesim.replay.plan import Burst, Pacing, ReplaySpec
from tapesim.replay.sinks import Sink
from tapesim.replay.sources import ReplaySource, RunDirectorySource
from tapesim.replay.volume import COPY_SEED_STRIDE, InterleavedSource

__all__ = ["LAP_SEED_STRIDE", "TICK", "DemoChain", "loop", "quote_mids"]

#: Lap ``k`` runs each config with root seed ``seed + k * LAP_SEED_STRIDE``: a multiple of
#: the volume copies' stride beyond the most copies a load makes (100), so no lap of a
#: run repeats a copy of it or another lap.
LAP_SEED_STRIDE = 128 * COPY_SEED_STRIDE

#: Dollars: the stocks' quoting increment (every modelled stock is above $1), the most
#: a chained run's opening mid may differ from the close it continues.
TICK = 0.01

_QUOTES = KINDS_BY_NAME["equity_quote"].file_stem + ".parquet"


def quote_mids(run_dir: Path, last: bool = True) -> dict[str, float]:
    """Each underlying's mid, (bid + ask) / 2 in dollars, at its last equity quote of the
    run (``last=False``: its first), read a row group at a time.

    Raises:
        RunDirectoryError: the quotes file cannot be read (pointing to ``tapesim verify``).
    """
    path = run_dir / _QUOTES
    mids: dict[str, float] = {}
    try:
        quotes = streaming(path)
        for batch in quotes.iter_batches(columns=["underlying_id", "bid", "ask"]):
            table = pa.Table.from_batches([batch])
            # the last (first) row of each underlying: the greatest (least) row index
            end = "max" if last else "min"
            ends = table.append_column("row", pa.array(range(table.num_rows))).group_by(
                "underlying_id").aggregate([("row", end)])
            rows = table.take(ends.column(f"row_{end}"))
            mid = pc.divide(pc.add(rows.column("bid"), rows.column("ask")), 2.0)
            found = zip(rows.column("underlying_id").to_pylist(), mid.to_pylist(), strict=True)
            mids.update(found if last else ((k, v) for k, v in found if k not in mids))
    except (OSError, pa.ArrowException) as err:
        raise damaged(run_dir, f"{path} cannot be read ({err})") from None
    return mids


class DemoChain:
    """A demo's runs, lap after lap, each underlying opening where it last closed.

    Run ``i`` of lap ``k`` is ``runs[i]`` (each entry one run and its volume copies,
    replayed together) with root seed ``seed + k * LAP_SEED_STRIDE`` and every symbol
    opening at the last mid (:func:`quote_mids`) of the last run before it in the chain
    that held the symbol (the first run of lap 0 opens at its configured prices).

    A run's first quote is the makers' opening quote around its configured price, a
    few cents off it (wider at the open, rounded to whole cents); where its mid is
    more than a :data:`TICK` from the close it continues, the run is made once more at
    that price less the miss (the same seed moves the same way from any level), so
    the seam is within a tick. Runs are made in chain order, each once.

    Args:
        runs: per demo run, its configs (the run, then its copies); at least one.
        make: writes a config's run directory, or finds it cached, and returns its
            path (the CLI simulates into the demo cache, keyed by run id).

    Raises:
        ValueError: no runs.
    """

    def __init__(self, runs: Sequence[Sequence[RunConfig]],
                 make: Callable[[RunConfig], Path]) -> None:
        if not runs or not all(runs):
            raise ValueError("a demo chain needs at least one run")
        self.runs = [list(r) for r in runs]
        self.make = make
        self._made: list[list[list[Path]]] = []  # per lap, per run: its configs' paths
        self._closing: dict[str, float] = {}
        self._regimes: dict[int, str] = {}  # by position among a run's configs

    def chained(self, config: RunConfig, lap: int, shift: dict[str, float] | None = None,
                position: int = 0) -> RunConfig:
        """``config`` as lap ``lap`` runs it after the chain so far: its lap's seed, each
        symbol opening at its last close (less ``shift``, dollars, by symbol), to a
        tenth of a cent, and the market in the volatility regime the run before it at
        the same ``position`` among its configs (else the first) closed in."""
        shift = shift or {}
        symbols = [dict(s.model_dump(mode="json"), price=round(
            self._closing.get(s.symbol, s.price) - shift.get(s.symbol, 0.0), 3))
            for s in config.symbols]
        overrides: dict[str, Any] = {"symbols": symbols,
                                     "seed": config.seed + lap * LAP_SEED_STRIDE}
        regime = self._regimes.get(position, self._regimes.get(0))
        if regime is not None:
            overrides["latent"] = {"start_regime": regime}
        return with_overrides(config, overrides)

    def _made_at_close(self, config: RunConfig, lap: int, position: int) -> Path:
        """The run of ``config`` in lap ``lap``, its opening mids within a tick of the
        closes they continue where one correction gets them there."""
        path = self.make(self.chained(config, lap, position=position))
        opening = quote_mids(path, last=False)
        miss = {s: opening[s] - self._closing[s] for s in opening if s in self._closing}
        if all(abs(m) <= TICK for m in miss.values()):
            return path
        return self.make(self.chained(config, lap, miss, position))

    def lap(self, k: int) -> list[ReplaySource]:
        """The sources of lap ``k`` (each run with its copies interleaved), making every
        run of the chain up to it that is not made yet.

        Raises:
            ConfigError: a chained price the config refuses; RunDirectoryError: a made
                run whose quotes cannot be read; what ``make`` raises.
        """
        while len(self._made) <= k:
            lap = len(self._made)
            made = []
            for configs in self.runs:
                paths = [self._made_at_close(c, lap, i) for i, c in enumerate(configs)]
                regimes = [closing_regime(self.chained(c, lap, position=i))
                           for i, c in enumerate(configs)]  # prices do not move regimes
                for path in paths:
                    self._closing.update(quote_mids(path))
                self._regimes = dict(enumerate(regimes))
                made.append(paths)
            self._made.append(made)
        return [_source(paths) for paths in self._made[k]]


def _source(paths: list[Path]) -> ReplaySource:
    """One run directory as a source, or several interleaved by time (a load's copies)."""
    from_dirs = [RunDirectorySource(p) for p in paths]
    if len(from_dirs) == 1:
        return from_dirs[0]
    return InterleavedSource(from_dirs)


Laps = Sequence[ReplaySource] | Callable[[int], Sequence[ReplaySource]]


async def loop(sources: Laps, sink: Sink, speed: float | None = 1.0,
               laps: int | None = None, stop: asyncio.Event | None = None,
               progress: Callable[[int], None] | None = None,
               burst: Burst | None = None) -> ReplaySummary:
    """Replay a demo's runs one after another, live, ``laps`` times (None: until stopped).

    Args:
        sources: the runs of every lap, in order (at least one), or a function giving
            lap ``k``'s runs (:meth:`DemoChain.lap`): it is called in a thread for lap
            ``k + 1`` while lap ``k`` plays, so a lap's runs are made ahead of it.
        sink: the destination; started and closed around each run.
        speed: simulated seconds per wall second; None as fast as acks return.
        laps: how many times to replay the whole sequence; None loops until ``stop``.
        stop: set it to stop between events.
        progress: as for :func:`~tapesim.replay.engine.replay`.
        burst: periodic bursts over ``speed`` (a load profile's).

    Returns:
        the summary over every run (``run_id`` of the first source).

    Raises:
        ValueError: no sources.
        ReplayError, ReplayStopped: as :func:`~tapesim.replay.engine.replay`; what
            ``sources`` raises.
    """
    lap_of = sources if callable(sources) else (lambda _: sources)
    current = list(await asyncio.to_thread(lap_of, 0))
    if not current:
        raise ValueError("a loop needs at least one run")
    clock = LiveClock(current[0].plan.run_id, speed, burst=burst)
    total = ReplaySummary(run_id=current[0].plan.run_id)
    lap = 0
    while laps is None or lap < laps:
        ahead = (asyncio.ensure_future(asyncio.to_thread(lap_of, lap + 1))
                 if laps is None or lap + 1 < laps else None)
        try:
            for source in current:
                clock.run_id = source.plan.run_id
                clock.restart()
                spec = ReplaySpec(plan=source.plan, source=source.name,
                                  pacing=Pacing(speed=speed, live=True, burst=burst))
                done = await replay(source, spec, sink, stop, progress, live_clock=clock)
                total.events += done.events
                total.per_subject.update(done.per_subject)
                total.seconds += done.seconds
                if done.stopped:
                    total.stopped = True
                    return total
            if ahead is not None:
                current = list(await ahead)
        finally:
            if ahead is not None and not ahead.done():
                ahead.cancel()  # the thread finishes its run; its result is dropped
        lap += 1
    return total
