"""The replay loop: read a source's batches, pace them, encode each event, send it.

Each event is encoded as its stable JSON (``tapesim.io.event_json``, the text
``tapesim export --format jsonl`` writes) and handed to the sink with the canonical
subjects it belongs on (``tapesim.replay.bus``). Pacing follows event time ``ts``
scaled by the speed; ``--speed max`` does not wait. A live replay rebases each event
to the wall clock (:class:`LiveClock`). A stop request (Ctrl-C, SIGTERM) ends the loop
between events; the sink then drains what is in flight and the summary names the
seq to resume from.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from tapesim.events.batches import GeneratedEventBatch
from tapesim.events.models import KINDS_BY_NAME
from tapesim.io.event_json import encode_events
from tapesim.replay.bus import KIND_SUBJECT, SIGNAL_SUBJECT, subjects_of
from tapesim.replay.plan import Burst, Pacing, ReplaySpec, wall_elapsed_ms
from tapesim.replay.sinks import Sink
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


async def _pace(pacing: Pacing, ts: int, origin: list[float]) -> None:
    """Sleep until event time ``ts`` is due: the first event's ts at the first call,
    later ones ``Pacing.wall_ms(ts - first)`` ms after it."""
    if pacing.speed is None:
        return
    if not origin:
        origin += [float(ts), time.monotonic()]
        return
    due = origin[1] + pacing.wall_ms(ts - origin[0]) / 1000.0
    delay = due - time.monotonic()
    if delay > 0.001:
        await asyncio.sleep(delay)


GROUP_ROWS = 8192  # events encoded together (the merged batches can be a few rows each)


@dataclass
class _Encoded:
    """Events ready to send, in publish order: parallel lists."""

    kinds: list[str] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)  # run seq, before live renumbering
    times: list[int] = field(default_factory=list)  # run ts (ms), for pacing
    trace_ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    signal: list[bool | None] = field(default_factory=list)

    def add(self, kind: str, rows: pa.RecordBatch | pa.Table, keys: list[int],
            times: list[int]) -> None:
        n = len(keys)
        self.kinds += [kind] * n
        self.keys += keys
        self.times += times
        self.trace_ids += rows.column("trace_id").to_pylist()
        self.texts += encode_events(rows)
        self.signal += (rows.column("signal_pass").to_pylist() if kind == "option_print"
                        else [None] * n)


def _encode(group: list[GeneratedEventBatch], live: LiveClock | None) -> _Encoded:
    """A group of merged batches encoded, in publish order. Each kind's rows are encoded
    together and interleaved back by the batches' order; a live replay rebases batch
    by batch, as renumbering follows publish order."""
    out = _Encoded()
    if live is not None:
        for b in group:
            rows = b.batch
            out.add(b.kind, live.rebase(b.kind, rows), rows.column("seq").to_pylist(),
                    rows.column("ts").to_pylist())
        return out
    per_kind: dict[str, _Encoded] = {}
    for kind in dict.fromkeys(b.kind for b in group):
        rows = pa.Table.from_batches([b.batch for b in group if b.kind == kind])
        per_kind[kind] = _Encoded()
        per_kind[kind].add(kind, rows, rows.column("seq").to_pylist(),
                           rows.column("ts").to_pylist())
    cursor = dict.fromkeys(per_kind, 0)
    for b in group:
        part, lo = per_kind[b.kind], cursor[b.kind]
        hi = cursor[b.kind] = lo + b.num_rows
        out.kinds += part.kinds[lo:hi]
        out.keys += part.keys[lo:hi]
        out.times += part.times[lo:hi]
        out.trace_ids += part.trace_ids[lo:hi]
        out.texts += part.texts[lo:hi]
        out.signal += part.signal[lo:hi]
    return out


def _groups(batches: Iterator[GeneratedEventBatch], rows: int = GROUP_ROWS,
            ) -> Iterator[list[GeneratedEventBatch]]:
    """Consecutive batches gathered until they hold ``rows`` events."""
    group: list[GeneratedEventBatch] = []
    size = 0
    for batch in batches:
        group.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield group
            group, size = [], 0
    if group:
        yield group


async def _send(events: _Encoded, pacing: Pacing, sink: Sink, stop: asyncio.Event | None,
                origin: list[float], summary: ReplaySummary) -> int:
    """Send encoded events; the number sent (fewer when stopped)."""
    sent = 0
    for kind, key, ts, trace_id, text, passed in zip(
            events.kinds, events.keys, events.times, events.trace_ids, events.texts,
            events.signal, strict=True):
        if pacing.speed is not None:
            await _pace(pacing, ts, origin)
        if stop is not None and stop.is_set():
            summary.stopped = True
            break
        await sink.send(kind, key, trace_id, text.encode("utf-8"), subjects_of(kind, passed))
        sent += 1
    for kind, n in Counter(events.kinds[:sent]).items():
        summary.per_subject[KIND_SUBJECT[kind]] += n
    signals = sum(1 for passed in events.signal[:sent] if passed is True)
    if signals:
        summary.per_subject[SIGNAL_SUBJECT] += signals
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
