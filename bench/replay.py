"""Replay throughput into a local nats-server, beside the same client's raw publish rate.

    python bench/replay.py RUN_DIR [--repeat 3] [--window 8192]
    python bench/replay.py --profile options-smoke [--end 09:35]    # simulate a run first

One embedded nats-server (``tapesim.replay.EmbeddedNats``) serves every repetition.
Each repetition times three replays of the whole run, alternating, in this process:

  jetstream_events_per_s  ``--speed max`` into JetStream with acks (``NatsSink``: trace id
                          as message id, a window of in-flight asynchronous publishes), a
                          fresh subject prefix each time
  core_events_per_s       the same loop, source and encoding, publishing each event on
                          core NATS (no JetStream, no acks) and flushing at the end: the
                          client's limit
  null_events_per_s       the same loop into the null sink: the source and the encoding
  client_events_per_s     the client alone: the run's first ``--client-events`` events,
                          encoded beforehand, published on core NATS with the headers
                          the JetStream sink sends (``Nats-Msg-Id`` and
                          ``Nats-Expected-Last-Msg-Id``), then flushed: the ceiling of any
                          replay through this client, whatever tapesim does
  ratio                   jetstream_events_per_s / core_events_per_s

Output: one JSON object per repetition on stdout, then a summary of medians
(``"summary": true``) with ``peak_rss_mib``, the peak RSS of this process (every
replay included). Targets (bench/README.md): JetStream >= 100,000 events/s and >= 50%
of the core rate. Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tapesim
from tapesim.events.batches import ReplayPlan
from tapesim.replay import EmbeddedNats, NatsSink, NullSink, ReplaySpec, RunDirectorySource
from tapesim.replay import replay as run_replay
from tapesim.replay.nats_sink import EXPECTED_LAST_MSG_ID, MSG_ID, connect
from tapesim.replay.sinks import Sink


class CoreSink:
    """Publishes on core NATS subjects (no JetStream, no acks): the client's raw rate."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.nc: Any = None
        self._acked: int | None = None

    @property
    def acked_seq(self) -> int | None:
        """The seq of the last event published (core NATS confirms nothing)."""
        return self._acked

    async def start(self, plan: ReplayPlan) -> None:
        """Connect."""
        self.nc = await connect(self.url)

    async def send(self, kind: str, key: int, trace_id: str, payload: bytes,
                   subjects: tuple[str, ...]) -> None:
        """Publish on each subject, headers as the JetStream sink sends them."""
        for subject in subjects:
            await self.nc.publish(self.prefix + subject, payload,
                                  headers={"Nats-Msg-Id": trace_id})
        self._acked = key

    async def drain(self) -> None:
        """Flush the client's buffer to the server and wait for its PONG."""
        await self.nc.flush(timeout=60)

    async def close(self) -> None:
        """Close the connection."""
        await self.nc.close()


class RecordingSink(NullSink):
    """Keeps what it is sent: (subjects, trace id, payload) per event, up to ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.events: list[tuple[tuple[str, ...], str, bytes]] = []

    async def send(self, kind: str, key: int, trace_id: str, payload: bytes,
                   subjects: tuple[str, ...]) -> None:
        """Keep the event (until ``limit``)."""
        if len(self.events) < self.limit:
            self.events.append((subjects, trace_id, payload))
        self._acked = key


async def client_rate(url: str, prefix: str,
                      events: list[tuple[tuple[str, ...], str, bytes]]) -> float:
    """Events per second of the client alone publishing pre-encoded events with the
    JetStream sink's headers on core NATS, flushed at the end."""
    nc = await connect(url)
    last: dict[str, str] = {}
    start = time.perf_counter()
    for subjects, trace_id, payload in events:
        for subject in subjects:
            full = prefix + subject
            expect = last.get(full)
            last[full] = trace_id
            await nc.publish(full, payload, headers={MSG_ID: trace_id} if expect is None
                             else {MSG_ID: trace_id, EXPECTED_LAST_MSG_ID: expect})
    await nc.flush(timeout=60)
    seconds = time.perf_counter() - start
    await nc.close()
    return len(events) / seconds


def timed(source: RunDirectorySource, sink: Sink) -> float:
    """Events per second of one whole replay into ``sink``."""
    spec = ReplaySpec(plan=source.plan)
    start = time.perf_counter()
    summary = asyncio.run(run_replay(source, spec, sink))
    return summary.events / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run directory")
    parser.add_argument("--profile", help="simulate this profile first (seed 1)")
    parser.add_argument("--end", help="with --profile: end of the window, HH:MM")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--window", type=int, default=8192)
    parser.add_argument("--client-events", type=int, default=200_000,
                        help="events the client-alone figure publishes")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="tapesim-bench-")
    if args.profile:
        overrides = {"end": args.end} if args.end else {}
        args.run = tapesim.simulate(args.profile, seed=1, out=Path(tmp.name) / "run",
                                    **overrides).path
    if args.run is None or not args.run.is_dir():
        print("error: pass a run directory or --profile", file=sys.stderr)
        return 2
    source = RunDirectorySource(args.run)
    recorded = RecordingSink(args.client_events)
    asyncio.run(run_replay(source, ReplaySpec(plan=source.plan), recorded))
    rows = []
    with EmbeddedNats() as server:
        for i in range(args.repeat):
            row = {"repetition": i, "events": source.plan.events,
                   "jetstream_events_per_s": timed(source, NatsSink(
                       server.url, f"bench.r{i}.", window=args.window)),
                   "core_events_per_s": timed(source, CoreSink(server.url, f"core.r{i}.")),
                   "null_events_per_s": timed(source, NullSink()),
                   "client_events_per_s": asyncio.run(client_rate(
                       server.url, f"client.r{i}.", recorded.events))}
            row["ratio"] = row["jetstream_events_per_s"] / row["core_events_per_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary: dict[str, Any] = {"summary": True, "run": str(args.run),
                               "events": source.plan.events}
    for key in ("jetstream_events_per_s", "core_events_per_s", "null_events_per_s",
                "client_events_per_s", "ratio"):
        summary[key] = statistics.median(r[key] for r in rows)
    summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(summary))
    print(f"jetstream {summary['jetstream_events_per_s']:,.0f} events/s, core "
          f"{summary['core_events_per_s']:,.0f} events/s (ratio {summary['ratio']:.2f}), "
          f"null {summary['null_events_per_s']:,.0f} events/s, client alone "
          f"{summary['client_events_per_s']:,.0f} events/s, peak RSS "
          f"{summary['peak_rss_mib']:,.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
