"""Where a replay writes events: the sink protocol, JSON lines and a null sink.

The replay loop (``tapesim.replay.engine``) hands a sink consecutive events in replay
order as an :class:`EventGroup`: parallel columns with each event's payload already
encoded (the event's stable JSON, as ``tapesim export --format jsonl`` writes it), its
kind and whether it also goes on the signal subject. A sink works on the group's
columns (Arrow string kernels, numpy), not event by event. A sink may hold events in
flight; ``acked_seq`` is the run seq up to which every event is durably delivered,
which is where a stopped replay resumes (``--from-seq`` one after it). The NATS
JetStream sink is ``tapesim.replay.nats_sink``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TextIO, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.batches import ReplayPlan
from tapesim.events.stable_json import stable_stringify
from tapesim.replay.bus import KIND_SUBJECT, SIGNAL_SUBJECT, subjects_of

__all__ = ["KIND_NAMES", "EventGroup", "JsonLinesSink", "NullSink", "Sink", "joined"]

#: The event kinds by their code in :attr:`EventGroup.kinds`.
KIND_NAMES: tuple[str, ...] = tuple(KIND_SUBJECT)


def joined(texts: pa.Array) -> bytes:
    """The values of a string (or binary) array written one after another, as one bytes
    object: the slice of the array's data buffer they occupy, copied once.

    Raises:
        ValueError: the array holds a null.
    """
    if texts.null_count:
        raise ValueError("a null among texts to join")
    if len(texts) == 0:
        return b""
    large = pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type)
    offsets_buffer, data = texts.buffers()[1:3]
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if large else np.int32)
    lo, hi = int(offsets[texts.offset]), int(offsets[texts.offset + len(texts)])
    return b"" if data is None else memoryview(data)[lo:hi].tobytes()


@dataclass(frozen=True)
class EventGroup:
    """Consecutive events of a replay, ready to send, in publish order: parallel columns
    of ``len(self)`` rows.

    Args:
        kinds: int8, the event's kind as an index into :data:`KIND_NAMES`.
        keys: int64, the event's seq in the run (before any live renumbering), the unit
            of ``acked_seq``.
        times: int64, the event's ts in the run, epoch ms (pacing follows it).
        trace_ids: string, the trace id as published (the JetStream message id).
        payloads: string, the event's stable JSON.
        signal: bool, the event is an option print whose ``signal_pass`` is true (it
            also goes on ``options.prints.signal``).
    """

    kinds: np.ndarray
    keys: np.ndarray
    times: np.ndarray
    trace_ids: pa.Array
    payloads: pa.Array
    signal: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def slice(self, lo: int, hi: int) -> EventGroup:
        """Events ``lo`` to ``hi - 1`` (no copy)."""
        return EventGroup(self.kinds[lo:hi], self.keys[lo:hi], self.times[lo:hi],
                          self.trace_ids.slice(lo, hi - lo), self.payloads.slice(lo, hi - lo),
                          self.signal[lo:hi])

    def per_subject(self) -> dict[str, int]:
        """Messages per canonical subject the group's events go on."""
        counts = np.bincount(self.kinds, minlength=len(KIND_NAMES))
        out = {KIND_SUBJECT[k]: int(n) for k, n in zip(KIND_NAMES, counts, strict=True) if n}
        signals = int(self.signal.sum())
        if signals:
            out[SIGNAL_SUBJECT] = signals
        return out

    def events(self) -> list[tuple[str, int, str, bytes, tuple[str, ...]]]:
        """``(kind, key, trace_id, payload, subjects)`` per event, as Python values (for a
        sink that must go event by event)."""
        return [(KIND_NAMES[k], key, trace_id, payload.encode("utf-8"),
                 subjects_of(KIND_NAMES[k], bool(s)))
                for k, key, trace_id, payload, s in zip(
                    self.kinds.tolist(), self.keys.tolist(), self.trace_ids.to_pylist(),
                    self.payloads.to_pylist(), self.signal.tolist(), strict=True)]


@runtime_checkable
class Sink(Protocol):
    """A destination of replayed events."""

    @property
    def acked_seq(self) -> int | None:
        """The run seq up to which every sent event is delivered (None: none yet)."""
        ...

    async def start(self, plan: ReplayPlan) -> None:
        """Prepare for the run of ``plan`` (connect, create streams).

        Raises:
            ReplayError: the destination cannot be reached or prepared.
        """
        ...

    async def send_group(self, events: EventGroup) -> None:
        """Deliver consecutive events, in order (at least one).

        Raises:
            ReplayError: the destination refused them.
            ReplayStopped: the destination went away for good.
        """
        ...

    async def drain(self) -> None:
        """Wait until every sent event is delivered."""
        ...

    async def close(self) -> None:
        """Release the destination (after :meth:`drain`, or abandoning what is in
        flight when stopping on an error)."""
        ...


class NullSink:
    """Discards events (to measure a source and the encoding without a destination);
    the base of sinks that have nothing to prepare and confirm each event on sending."""

    def __init__(self) -> None:
        self._acked: int | None = None

    @property
    def acked_seq(self) -> int | None:
        """The seq of the last event sent."""
        return self._acked

    async def start(self, plan: ReplayPlan) -> None:
        """Nothing to prepare."""

    async def send_group(self, events: EventGroup) -> None:
        """Drop the events."""
        self._acked = int(events.keys[-1])

    async def drain(self) -> None:
        """Nothing in flight."""

    async def close(self) -> None:
        """Nothing to release."""


# stable_stringify({"kind": kind, "event": {...}}): keys sorted, event first.
_KIND_ENDS = pa.array([',"kind":' + stable_stringify(k) + "}\n" for k in KIND_NAMES])


class JsonLinesSink(NullSink):
    """Writes ``{"event": {...}, "kind": ...}`` lines, the lines of ``tapesim export
    --format jsonl`` (``market-events.jsonl``), to a text stream (stdout by default).

    Args:
        stream: an open text stream; flushed on :meth:`drain`, not closed.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    # Lines are written one by one: with the whole group's text in one write (or in
    # 8 KiB pieces), a SIGTERM arriving while the write waited on a full pipe lost the
    # text's end (tests/test_replay.py, CPython 3.11); line by line nothing was lost.

    async def send_group(self, events: EventGroup) -> None:
        """Write the events' lines, built with one Arrow join."""
        lines = pc.binary_join_element_wise('{"event":', events.payloads,
                                            _KIND_ENDS.take(pa.array(events.kinds)), "")
        for line in lines.to_pylist():
            self.stream.write(line)
        self._acked = int(events.keys[-1])

    async def drain(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    async def close(self) -> None:
        """Flush the stream (it is not closed: it may be stdout)."""
        self.stream.flush()
