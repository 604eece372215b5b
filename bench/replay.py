"""Replay throughput into a local nats-server, beside the same client's raw publish rate.

    python bench/replay.py RUN_DIR [--repeat 3] [--window 8192]
    python bench/replay.py --profile options-smoke [--end 09:35]    # simulate a run first

One embedded nats-server (``tapesim.replay.EmbeddedNats``) serves every repetition.
Each repetition times three replays of the whole run, alternating, in this process:

  jetstream_events_per_s  ``--speed max`` into JetStream with confirmations
                          (``NatsSink``: trace id as message id, the stream's chain of
                          expected last ids, ready HPUB frames, checkpoints), a fresh
                          subject prefix each time
  core_events_per_s       the same loop, source and encoding, publishing each event's
                          frame (the same frames, the same batching) on core NATS
                          subjects no stream holds, no acks, flushed at the end: the
                          client's limit
  null_events_per_s       the same loop into the null sink: the source and the encoding
  client_events_per_s     the client alone: the run's first ``--client-events`` events
                          as ready frames with the JetStream sink's two headers
                          (``Nats-Msg-Id``, ``Nats-Expected-Last-Msg-Id``), handed to the
                          client a checkpoint's worth at a time, then flushed: the
                          ceiling of any replay through this client
  client_publish_events_per_s  the same events through nats-py's ``Client.publish``
                          with the two headers as a dict (what the frames replace)
  ratio                   jetstream_events_per_s / core_events_per_s

Each ``*_per_s`` figure has a ``*_per_cpu_s`` twin: events over this process's CPU
seconds (user + system, every thread), which a busy shared machine distorts far less
than wall seconds. ``server_events_per_cpu_s`` is the JetStream replay's events over
the nats-server process's CPU seconds in the same interval (Linux: read from /proc;
absent elsewhere).

Output: one JSON object per repetition on stdout, then a summary of medians
(``"summary": true``) with ``peak_rss_mib``, the peak RSS of this process (every
replay included). Targets (bench/README.md): JetStream >= 100,000 events/s and >= 50%
of the core rate. Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pyarrow as pa
from apart import simulate_apart

from tapesim.events.batches import ReplayPlan
from tapesim.replay import EmbeddedNats, NatsSink, NullSink, ReplaySpec, RunDirectorySource
from tapesim.replay import replay as run_replay
from tapesim.replay.bus import SUBJECTS
from tapesim.replay.nats_frames import FrameWriter, hpub_frame, hpub_frames
from tapesim.replay.nats_sink import (
    CHECK_EVERY,
    EXPECTED_LAST_MSG_ID,
    MSG_ID,
    connect,
    message_layout,
)
from tapesim.replay.sinks import EventGroup, Sink, joined

Recorded = list[tuple[tuple[str, ...], str, bytes]]  # (subjects, trace id, payload)


def _frames_writer(nc: Any) -> FrameWriter:
    writer = FrameWriter.of(nc)
    if writer is None:
        raise SystemExit("error: this nats-py has no outgoing buffer for ready frames")
    return writer


class CoreSink:
    """Publishes each event's frame on core NATS subjects (no stream, no acks), gathered
    and handed over as the JetStream sink does: the client's raw rate."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.nc: Any = None
        self.frames: FrameWriter | None = None
        self._acked: int | None = None

    @property
    def acked_seq(self) -> int | None:
        """The seq of the last event published (core NATS confirms nothing)."""
        return self._acked

    async def start(self, plan: ReplayPlan) -> None:
        """Connect."""
        self.nc = await connect(self.url)
        self.frames = _frames_writer(self.nc)

    async def send_group(self, events: EventGroup) -> None:
        """Frame the events on their subjects with their message ids (no expected last
        id), with the JetStream sink's kernels, and hand them over ``CHECK_EVERY`` events
        at a time."""
        assert self.frames is not None
        subjects, source, ends = message_layout(events)
        heads = pa.array([f"HPUB {self.prefix}{s} " for s in SUBJECTS]).take(pa.array(subjects))
        take = pa.array(source)
        ids = events.trace_ids.take(take)
        frames = hpub_frames(heads, ids, pa.nulls(len(ids), pa.string()),
                             events.payloads.take(take))
        for lo in range(0, len(events), CHECK_EVERY):
            hi = min(len(events), lo + CHECK_EVERY)
            m0 = int(ends[lo - 1]) if lo else 0
            await self.frames.write(joined(frames.slice(m0, int(ends[hi - 1]) - m0)))
            await asyncio.sleep(0)
        self._acked = int(events.keys[-1])

    async def drain(self) -> None:
        """Hand over the rest, flush the client's buffer and wait for the server's PONG."""
        await self.nc.flush(timeout=60)

    async def close(self) -> None:
        """Close the connection."""
        await self.nc.close()


class RecordingSink(NullSink):
    """Keeps what it is sent: (subjects, trace id, payload) per event, up to ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.events: Recorded = []

    async def send_group(self, events: EventGroup) -> None:
        """Keep the events (until ``limit``)."""
        for _, _, trace_id, payload, subjects in events.slice(
                0, max(0, min(len(events), self.limit - len(self.events)))).events():
            self.events.append((subjects, trace_id, payload))
        self._acked = int(events.keys[-1])


def _chained(events: Recorded, prefix: str) -> list[tuple[str, str, str | None, bytes]]:
    """(subject, message id, expected last id or None, payload) per message, the chain
    of ids kept per subject as the JetStream sink keeps it."""
    last: dict[str, str] = {}
    out = []
    for subjects, trace_id, payload in events:
        for subject in subjects:
            full = prefix + subject
            out.append((full, trace_id, last.get(full), payload))
            last[full] = trace_id
    return out


async def client_rate(url: str, prefix: str, events: Recorded) -> tuple[float, float]:
    """(events per wall second, per CPU second) of the client alone writing the events'
    ready frames with the JetStream sink's headers on core NATS, flushed at the end."""
    nc = await connect(url)
    frames = _frames_writer(nc)
    messages = _chained(events, prefix)
    wall, cpu = time.perf_counter(), time.process_time()
    out: list[bytes] = []
    for subject, msg_id, expected, payload in messages:
        out.append(hpub_frame(frames.head(subject), msg_id.encode(),
                              None if expected is None else expected.encode(), payload))
        if len(out) >= CHECK_EVERY:
            await frames.write(b"".join(out))
            out.clear()
            await asyncio.sleep(0)
    await frames.write(b"".join(out))
    await nc.flush(timeout=60)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await nc.close()
    return len(events) / wall, len(events) / cpu


async def client_publish_rate(url: str, prefix: str, events: Recorded) -> tuple[float, float]:
    """As :func:`client_rate` through nats-py's ``Client.publish`` with header dicts."""
    nc = await connect(url)
    messages = _chained(events, prefix)
    wall, cpu = time.perf_counter(), time.process_time()
    for n, (subject, msg_id, expected, payload) in enumerate(messages, 1):
        await nc.publish(subject, payload, headers={MSG_ID: msg_id} if expected is None
                         else {MSG_ID: msg_id, EXPECTED_LAST_MSG_ID: expected})
        if n % CHECK_EVERY == 0:
            await asyncio.sleep(0)
    await nc.flush(timeout=60)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await nc.close()
    return len(events) / wall, len(events) / cpu


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of another process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(source: RunDirectorySource, sink: Sink) -> tuple[float, float]:
    """(events per wall second, per CPU second of this process) of one whole replay."""
    spec = ReplaySpec(plan=source.plan)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = asyncio.run(run_replay(source, spec, sink))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return summary.events / wall, summary.events / cpu


def _rates(row: dict[str, Any], name: str, rates: tuple[float, float]) -> None:
    row[f"{name}_per_s"], row[f"{name}_per_cpu_s"] = rates


def _run(coro: Callable[..., Coroutine[Any, Any, tuple[float, float]]],
         *args: Any) -> tuple[float, float]:
    return asyncio.run(coro(*args))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run directory")
    parser.add_argument("--profile", help="simulate this profile first (seed 1)")
    parser.add_argument("--end", help="with --profile: end of the window, HH:MM")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--window", type=int, default=8192)
    parser.add_argument("--client-events", type=int, default=200_000,
                        help="events the client-alone figures publish")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="tapesim-bench-")
    if args.profile:
        args.run = Path(tmp.name) / "run"
        if not simulate_apart(args.profile, 1, args.run, args.end):
            return 2
    if args.run is None or not args.run.is_dir():
        print("error: pass a run directory or --profile", file=sys.stderr)
        return 2
    source = RunDirectorySource(args.run)
    recorded = RecordingSink(args.client_events)
    asyncio.run(run_replay(source, ReplaySpec(plan=source.plan), recorded))
    rows = []
    with EmbeddedNats() as server:
        for i in range(args.repeat):
            row: dict[str, Any] = {"repetition": i, "events": source.plan.events}
            before = process_cpu_s(server.pid)
            _rates(row, "jetstream_events", timed(source, NatsSink(
                server.url, f"bench.r{i}.", window=args.window)))
            after = process_cpu_s(server.pid)
            if before is not None and after is not None and after > before:
                row["server_events_per_cpu_s"] = source.plan.events / (after - before)
            _rates(row, "core_events", timed(source, CoreSink(server.url, f"core.r{i}.")))
            _rates(row, "null_events", timed(source, NullSink()))
            _rates(row, "client_events", _run(client_rate, server.url, f"client.r{i}.",
                                              recorded.events))
            _rates(row, "client_publish_events", _run(
                client_publish_rate, server.url, f"publish.r{i}.", recorded.events))
            row["ratio"] = row["jetstream_events_per_s"] / row["core_events_per_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary: dict[str, Any] = {"summary": True, "run": str(args.run),
                               "events": source.plan.events}
    for key in rows[0]:
        if key.endswith(("_per_s", "_per_cpu_s")) or key == "ratio":
            summary[key] = statistics.median(r[key] for r in rows if key in r)
    summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(summary))
    print(f"jetstream {summary['jetstream_events_per_s']:,.0f} events/s "
          f"({summary['jetstream_events_per_cpu_s']:,.0f} per CPU s), core "
          f"{summary['core_events_per_s']:,.0f} events/s (ratio {summary['ratio']:.2f}), "
          f"null {summary['null_events_per_s']:,.0f} events/s "
          f"({summary['null_events_per_cpu_s']:,.0f} per CPU s), client alone "
          f"{summary['client_events_per_s']:,.0f} events/s "
          f"({summary['client_events_per_cpu_s']:,.0f} per CPU s; through Client.publish "
          f"{summary['client_publish_events_per_cpu_s']:,.0f}), peak RSS "
          f"{summary['peak_rss_mib']:,.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
