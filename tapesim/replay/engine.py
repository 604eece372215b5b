"""The replay loop: read a source's batches, pace them, encode the events, send them.

Batches are gathered into groups of about ``GROUP_ROWS`` events; each kind's rows of a
group are encoded together as their stable JSON (``tapesim.io.event_json.encode_batch``,
the text ``tapesim export --format jsonl`` writes, built with Arrow string kernels)
and put back in replay order as one :class:`~tapesim.replay.sinks.EventGroup`, which
the sink takes in slices of at most ``SLICE_EVENTS``. Pacing follows event time
``ts`` scaled by the speed: a paced slice holds the events due once its first one is;
``--speed max`` does not wait. A live replay rebases each batch to the wall clock
(:class:`LiveClock`). A stop request (Ctrl-C, SIGTERM) ends the loop between slices;
the sink then drains what is in flight and the summary names the seq to resume from.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.batches import GeneratedEventBatch
from tapesim.events.models import KINDS_BY_NAME
from tapesim.io.event_json import encode_batch
from tapesim.replay.plan import Burst, Pacing, ReplaySpec, wall_elapsed_ms
from tapesim.replay.sinks import KIND_NAMES, EventGroup, Sink
from tapesim.replay.sources import ReplaySource

__all__ = ["LiveClock", "ReplaySummary", "replay"]

_SHIFTED = ("execution_nbbo_ts", "execution_underlying_ts")  # option-print times, ms


@dataclass
class ReplaySummary:
    """What a replay did.

    Args:
        run_id: the source's run id.
        events: events sent (each counted once, whatever its subjects).
        per_subject: messages per canonical subject.
        seconds: wall-clock seconds from the first send to the last ack.
        acked_seq: run seq up to which everything is delivered (None: nothing).
        stopped: the replay was stopped before the end of the selection.
        resume_seq: the ``--from-seq`` that continues a stopped replay (None when it
            completed).
    """

    run_id: str
    events: int = 0
    per_subject: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    acked_seq: int | None = None
    stopped: bool = False
    resume_seq: int | None = None

    @property
    def rate(self) -> float:
        """Events per wall-clock second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


class LiveClock:
    """Rebases events to the wall clock and renumbers them, for a live feed.

    The first event's ``ts`` maps to the wall clock at the first call; a later event
    maps to that instant plus its event-time distance divided by ``speed``, bursts
    counted (with no speed, to the wall clock when its batch is rebased, never going
    back).
    ``source_ts``, ``ingest_ts`` and the option prints' ``execution_nbbo_ts`` and
    ``execution_underlying_ts`` keep their distance to ``ts``; ``ingest_ts`` is raised
    where needed so the order ``ts, ingest_ts, seq`` stays the publish order. ``seq``
    counts from ``seq_start`` in publish order and ``trace_id`` becomes
    ``<run_id>:<stream>:<seq>`` with it (CONTRACT.md §1, §3).

    Args:
        run_id: the run id of the trace ids.
        speed: simulated seconds per wall second, or None (wall clock at publish).
        seq_start: the first seq.
        now_ms: the wall clock, epoch ms (for tests).
        burst: periodic bursts over ``speed`` (:func:`~tapesim.replay.plan.wall_elapsed_ms`).
    """

    def __init__(self, run_id: str, speed: float | None, seq_start: int = 1,
                 now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 burst: Burst | None = None) -> None:
        self.run_id = run_id
        self.speed = speed
        self.burst = burst
        self.seq = seq_start
        self.now_ms = now_ms
        self._origin: tuple[int, int] | None = None  # (event ts, wall ms)
        self._last = (-1, -1)  # (ts, ingest_ts) of the last event

    def restart(self) -> None:
        """Map the next event to the wall clock afresh (the next run of a loop, whose
        event times start over); seq numbering and monotonic times carry on."""
        self._origin = None

    def rebase(self, kind: str, rows: pa.RecordBatch) -> pa.RecordBatch:
        """``rows`` (one kind, in replay order) rebased and renumbered."""
        ts = rows.column("ts").to_pylist()
        if not ts:
            return rows
        if self._origin is None:
            self._origin = (ts[0], max(self.now_ms(), self._last[0]))
        first, wall = self._origin
        if self.speed is None:
            now = max(self.now_ms(), self._last[0])
            new_ts = [now] * len(ts)
        else:
            speed, burst = self.speed, self.burst
            new_ts = [wall + int(wall_elapsed_ms(t - first, speed, burst)) for t in ts]
        shift = [n - t for n, t in zip(new_ts, ts, strict=True)]
        ingest = [i + d for i, d in zip(rows.column("ingest_ts").to_pylist(), shift,
                                        strict=True)]
        last_ts, last_ingest = self._last
        for i, t in enumerate(new_ts):
            if t == last_ts and ingest[i] < last_ingest:
                ingest[i] = last_ingest
            last_ts, last_ingest = t, ingest[i]
        self._last = (last_ts, last_ingest)
        seq = list(range(self.seq, self.seq + len(ts)))
        self.seq += len(ts)
        stream = KINDS_BY_NAME[kind].stream
        new = {"ts": new_ts, "ingest_ts": ingest, "seq": seq,
               "source_ts": [s + d for s, d in zip(rows.column("source_ts").to_pylist(), shift,
                                                   strict=True)],
               "trace_id": [f"{self.run_id}:{stream}:{n}" for n in seq]}
        for name in _SHIFTED:
            if name in rows.schema.names:
                new[name] = [None if v is None else v + d for v, d in
                             zip(rows.column(name).to_pylist(), shift, strict=True)]
        for name, values in new.items():
            i = rows.schema.get_field_index(name)
            column = rows.schema.field(i)
            rows = rows.set_column(i, column, pa.array(values, column.type))
        return rows


GROUP_ROWS = 8192  # events encoded together (the merged batches can be a few rows each)
SLICE_EVENTS = 2048  # events handed to a sink at once (a stop is seen between slices)
_KIND_CODE = {kind: code for code, kind in enumerate(KIND_NAMES)}


def _encode(group: list[GeneratedEventBatch], live: LiveClock | None) -> EventGroup:
    """A group of merged batches as one :class:`EventGroup` in publish order: each kind's
    rows encoded together (``encode_batch``, Arrow string kernels) and put back in the
    batches' order by one take. A live replay rebases batch by batch first, as
    renumbering follows publish order."""
    published = [live.rebase(b.kind, b.batch) if live is not None else b.batch
                 for b in group]
    sizes = np.array([b.num_rows for b in group], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    kinds = np.repeat(np.array([_KIND_CODE[b.kind] for b in group], dtype=np.int8), sizes)
    keys = np.concatenate([b.batch.column("seq").to_numpy() for b in group]).astype(np.int64)
    times = np.concatenate([b.batch.column("ts").to_numpy() for b in group]).astype(np.int64)
    signal = np.zeros(len(keys), dtype=bool)
    trace_ids, payloads, positions = [], [], []
    for kind in dict.fromkeys(b.kind for b in group):
        mine = [i for i, b in enumerate(group) if b.kind == kind]
        rows = pa.Table.from_batches([published[i] for i in mine]).combine_chunks()
        at = np.concatenate([np.arange(starts[i], starts[i] + sizes[i]) for i in mine])
        positions.append(at)
        trace_ids.append(rows.column("trace_id").chunk(0).cast(pa.string()) if rows.num_rows
                         else pa.array([], pa.string()))
        payloads.append(encode_batch(rows) if rows.num_rows else pa.array([], pa.string()))
        if kind == "option_print":
            signal[at] = pc.fill_null(rows.column("signal_pass"), False).to_numpy(
                zero_copy_only=False)
    order = np.empty(len(keys), dtype=np.int64)
    order[np.concatenate(positions)] = np.arange(len(keys))
    take = pa.array(order)
    return EventGroup(kinds, keys, times, pa.concat_arrays(trace_ids).take(take),
                      pa.concat_arrays(payloads).take(take), signal)


def _groups(batches: Iterator[GeneratedEventBatch], rows: int = GROUP_ROWS,
            ) -> Iterator[list[GeneratedEventBatch]]:
    """Consecutive batches gathered until they hold ``rows`` events."""
    group: list[GeneratedEventBatch] = []
    size = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        group.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield group
            group, size = [], 0
    if group:
        yield group


def _due(pacing: Pacing, times: np.ndarray, origin: list[float]) -> np.ndarray | None:
    """The monotonic clock (s) at which each event is due: the first event of the
    replay at once, later ones ``Pacing.wall_ms(ts - first)`` ms after it; None at
    ``--speed max``."""
    if pacing.speed is None:
        return None
    if not origin:
        origin += [float(times[0]), time.monotonic()]
    first, start = origin
    return np.array([start + pacing.wall_ms(t - first) / 1000.0 for t in times.tolist()])


async def _send(events: EventGroup, pacing: Pacing, sink: Sink, stop: asyncio.Event | None,
                origin: list[float], summary: ReplaySummary) -> int:
    """Send encoded events, as slices of at most ``SLICE_EVENTS``: when paced, each
    slice holds the events due (within 1 ms) once its first one is; the number sent
    (fewer when stopped)."""
    due = _due(pacing, events.times, origin)
    sent, n = 0, len(events)
    while sent < n:
        hi = min(n, sent + SLICE_EVENTS)
        if due is not None:
            delay = due[sent] - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            ready = int(np.searchsorted(due, time.monotonic() + 0.001, side="right"))
            hi = min(hi, max(sent + 1, ready))
        if stop is not None and stop.is_set():
            summary.stopped = True
            break
        await sink.send_group(events.slice(sent, hi))
        sent = hi
    summary.per_subject.update(events.slice(0, sent).per_subject())
    return sent


async def replay(source: ReplaySource, spec: ReplaySpec, sink: Sink,
                 stop: asyncio.Event | None = None,
                 progress: Callable[[int], None] | None = None,
                 live_clock: LiveClock | None = None) -> ReplaySummary:
    """Replay the selection of ``source`` into ``sink`` with the spec's pacing.

    Args:
        source: where events come from (batches in replay order).
        spec: the plan, selector and pacing (checked with ``spec.check()`` first).
        sink: where events go; started here, drained and closed before returning.
        stop: set it to stop between events (the sink still drains).
        progress: called with the number of events sent since the last call.
        live_clock: the clock of a live replay (default: a new one from the spec's
            pacing); a loop passes one clock to every run so seq keeps counting.

    Returns:
        the summary; ``resume_seq`` is set when stopped before the end.

    Raises:
        ReplayError: bad selection or an unreachable or unusable destination.
        ReplayStopped: the destination went away mid-replay (with ``resume_seq``).
    """
    spec.check()
    summary = ReplaySummary(run_id=spec.plan.run_id)
    live = live_clock
    if live is None and spec.pacing.live:
        live = LiveClock(spec.plan.run_id, spec.pacing.speed, spec.pacing.live_seq_start,
                         burst=spec.pacing.burst)
    origin: list[float] = []
    await sink.start(spec.plan)
    started = time.perf_counter()
    try:
        for group in _groups(source.batches(spec.selector)):
            await asyncio.sleep(0)  # a turn for the loop: signal handlers, the client's I/O
            if stop is not None and stop.is_set():
                summary.stopped = True
                break
            sent = await _send(_encode(group, live), spec.pacing, sink, stop, origin, summary)
            summary.events += sent
            if progress is not None:
                progress(sent)
            if summary.stopped:
                break
        await sink.drain()
    finally:
        summary.seconds = time.perf_counter() - started
        await sink.close()
    summary.acked_seq = sink.acked_seq
    if summary.stopped:
        done = summary.acked_seq
        summary.resume_seq = (done + 1 if done is not None
                              else spec.selector.from_seq or spec.plan.first_seq)
    return summary
