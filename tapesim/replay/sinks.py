"""Where a replay writes events: the sink protocol, JSON lines and a null sink.

The replay loop (``tapesim.replay.engine``) hands a sink each event in replay order
with its payload already encoded (the event's stable JSON, as ``tapesim export
--format jsonl`` writes it) and the canonical subjects it belongs on. A sink may
hold events in flight; ``acked_seq`` is the run seq up to which every event is
durably delivered, which is where a stopped replay resumes (``--from-seq`` one
after it). The NATS JetStream sink is ``tapesim.replay.nats_sink``.
"""

from __future__ import annotations

from typing import Protocol, TextIO, runtime_checkable

from tapesim.events.batches import ReplayPlan
from tapesim.events.stable_json import stable_stringify

__all__ = ["JsonLinesSink", "NullSink", "Sink"]


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

    async def send(self, kind: str, key: int, trace_id: str, payload: bytes,
                   subjects: tuple[str, ...]) -> None:
        """Deliver one event.

        Args:
            kind: the event kind, e.g. ``"option_print"``.
            key: the event's seq in the run (before any live renumbering), the unit of
                ``acked_seq``.
            trace_id: the event's trace id as published (the message id).
            payload: the event's stable JSON, UTF-8.
            subjects: canonical subjects to publish on (``tapesim.replay.bus``).
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

    async def send(self, kind: str, key: int, trace_id: str, payload: bytes,
                   subjects: tuple[str, ...]) -> None:
        """Drop the event."""
        self._acked = key

    async def drain(self) -> None:
        """Nothing in flight."""

    async def close(self) -> None:
        """Nothing to release."""


class JsonLinesSink(NullSink):
    """Writes ``{"kind": ..., "event": {...}}`` lines, the lines of ``tapesim export
    --format jsonl`` (``market-events.jsonl``), to a text stream (stdout by default).

    Args:
        stream: an open text stream; flushed on :meth:`drain`, not closed.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    async def send(self, kind: str, key: int, trace_id: str, payload: bytes,
                   subjects: tuple[str, ...]) -> None:
        """Write the event's line."""
        # stable_stringify({"kind": kind, "event": {...}}): keys sorted, event first.
        self.stream.write('{"event":' + payload.decode("utf-8") + ',"kind":'
                          + stable_stringify(kind) + "}\n")
        self._acked = key

    async def drain(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    async def close(self) -> None:
        """Flush the stream (it is not closed: it may be stdout)."""
        self.stream.flush()
