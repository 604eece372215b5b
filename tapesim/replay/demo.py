"""Looping runs onto the bus live, for demos: one clock across every run and lap.

Each run of the loop is replayed with ``--live`` pacing through one
:class:`~tapesim.replay.engine.LiveClock`: times are rebased to the wall clock afresh
at the start of each run (its event times start over) while ``seq`` and the trace ids
keep counting, so the stream a consumer sees is one live feed. A lap replays the same
runs, read from the same files, so every lap carries the same events, only re-timed
and renumbered. Every run of a demo starts from its profile's configured prices, so
each underlying stays in one price regime from lap to lap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from tapesim.replay.engine import LiveClock, ReplaySummary, replay
from tapesim.replay.plan import Burst, Pacing, ReplaySpec
from tapesim.replay.sinks import Sink
from tapesim.replay.sources import ReplaySource

__all__ = ["loop"]


async def loop(sources: Sequence[ReplaySource], sink: Sink, speed: float | None = 1.0,
               laps: int | None = None, stop: asyncio.Event | None = None,
               progress: Callable[[int], None] | None = None,
               burst: Burst | None = None) -> ReplaySummary:
    """Replay ``sources`` one after another, live, ``laps`` times (None: until stopped).

    Args:
        sources: the runs, in order (at least one).
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
        ReplayError, ReplayStopped: as :func:`~tapesim.replay.engine.replay`.
    """
    if not sources:
        raise ValueError("a loop needs at least one run")
    clock = LiveClock(sources[0].plan.run_id, speed, burst=burst)
    total = ReplaySummary(run_id=sources[0].plan.run_id)
    lap = 0
    while laps is None or lap < laps:
        for source in sources:
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
        lap += 1
    return total
