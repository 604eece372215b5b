"""Replay a run into the downstream pipeline's bus: sources, sinks, pacing, the loop.

``tapesim replay RUN_OR_FIXTURE --to nats|jsonl|null`` reads a source
(:class:`RunDirectorySource`, :class:`FixtureSource`, or any :class:`ReplaySource`,
e.g. ClickHouse rows) as batches in replay order, selects (:class:`Selector`), paces
(:class:`Pacing`) and encodes each event as the contract's JSON, and hands it to a
sink (:class:`NatsSink` into JetStream, :class:`JsonLinesSink`, :class:`NullSink`).
``tapesim tail`` reads back what is on the bus (``tapesim.replay.tail``).
"""

from tapesim.replay.engine import LiveClock, ReplaySummary, replay
from tapesim.replay.fixture import FixtureError, FixtureSource, is_fixture
from tapesim.replay.nats_sink import NatsSink, ReplayStopped
from tapesim.replay.plan import Pacing, ReplayError, ReplaySpec, Selector, parse_speed
from tapesim.replay.server import EmbeddedNats
from tapesim.replay.sinks import JsonLinesSink, NullSink, Sink
from tapesim.replay.sources import ReplaySource, RunDirectorySource, merge_by_seq

__all__ = ["EmbeddedNats", "FixtureError", "FixtureSource", "JsonLinesSink", "LiveClock",
           "NatsSink", "NullSink", "Pacing", "ReplayError", "ReplaySource", "ReplaySpec",
           "ReplayStopped", "ReplaySummary", "RunDirectorySource", "Selector", "Sink",
           "is_fixture", "merge_by_seq", "parse_speed", "replay"]
