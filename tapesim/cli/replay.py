"""``tapesim replay`` and ``tapesim tail``: a run onto the pipeline's bus, and back.

``replay`` reads a run directory or an exported fixture and publishes its events in
replay order into NATS JetStream (an embedded nats-server when no ``--nats-url`` is
given), or writes them as JSON lines, or drops them (``null``, to time the source).
``tail`` consumes what a replay left on the bus and checks it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tapesim.cli.common import InputError, err, guarded, out, symbol_list
from tapesim.config.flags import parse_clock

TARGETS = ("nats", "jsonl", "null")


def _stop_on_signals(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop``: the replay ends between events and drains."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


@guarded
def replay(
    source: Annotated[str, typer.Argument(
        metavar="SOURCE",
        help="A run directory, a fixture written by `tapesim export --format islandflow` "
             "(its hashes are verified first), or a run loaded by `tapesim load`: "
             "clickhouse://HOST:PORT/tapesim_<run_id> or chdb://DIR/tapesim_<run_id>.")],
    to: Annotated[str, typer.Option(
        "--to", help="nats: publish into JetStream; jsonl: {kind, event} lines on stdout "
                     "(as `export --format jsonl`); null: encode and drop (timing).")] = "nats",
    nats_url: Annotated[str | None, typer.Option(
        "--nats-url", help="An existing server, nats://host:port. Without it an embedded "
                           "nats-server runs on a free loopback port for this replay only.")
    ] = None,
    subject_prefix: Annotated[str | None, typer.Option(
        "--subject-prefix", help="Prefix of every subject and stream (default "
                                 "tapesim.<run_id>.); \"\" publishes on the contract's "
                                 "canonical subjects.")] = None,
    symbols: Annotated[str | None, typer.Option(
        help="Only these underlyings (and their options), e.g. SPY,AAPL.")] = None,
    start: Annotated[str | None, typer.Option(
        help="Only events from this time, HH:MM New York on the run's date.")] = None,
    end: Annotated[str | None, typer.Option(
        help="Only events before this time, HH:MM New York.")] = None,
    from_seq: Annotated[int, typer.Option(
        "--from-seq", min=0, help="Only events with seq >= this (resume a stopped replay).")
    ] = 0,
    speed: Annotated[str, typer.Option(
        help="1: follow event time; 60: a simulated minute per second (any factor works); "
             "max: as fast as acks return.")] = "max",
    live: Annotated[bool, typer.Option(
        "--live", help="Rebase ts/source_ts/ingest_ts to the wall clock and renumber seq "
                       "(and trace ids), as the pipeline's live API needs.")] = False,
    window: Annotated[int, typer.Option(
        min=1, help="Publishes in flight awaiting JetStream acks, at most.")] = 8192,
    progress: Annotated[bool, typer.Option(
        help="Show a progress bar on stderr.")] = True,
) -> None:
    """Replay a run, an exported fixture or a loaded run in order into NATS
    JetStream, as JSON lines, or nowhere.

    Events go out in the contract's order (ts, ingest_ts, seq, trace_id),
    one JSON event per message with its trace id as the Nats-Msg-Id header
    (the server drops a re-published event), on equities.quotes,
    equities.prints, options.nbbo, options.prints and options.prints.signal
    (signal_pass prints only), in streams created under the subject prefix.
    Ctrl-C or SIGTERM stops once the events in flight are acknowledged and
    prints the --from-seq that resumes.
    """
    from tapesim.replay import JsonLinesSink, NatsSink, NullSink, ReplayError, ReplayStopped
    from tapesim.replay.bus import default_prefix, normalise_prefix
    from tapesim.replay.engine import ReplaySummary
    from tapesim.replay.engine import replay as run_replay
    from tapesim.replay.opening import open_source
    from tapesim.replay.plan import Pacing, ReplaySpec, Selector, parse_speed
    from tapesim.replay.server import EmbeddedNats
    from tapesim.replay.sinks import Sink
    from tapesim.replay.sources import session_day

    if to not in TARGETS:
        raise InputError(f"--to {to!r}: choose one of {', '.join(TARGETS)}")
    report = err if to == "jsonl" else out
    try:
        src = open_source(source)
        plan = src.plan
        if plan.events == 0:
            raise ReplayError(f"{source} holds no events to replay")
        selector = Selector.on_day(session_day(plan), symbol_list(symbols),
                                   parse_clock("--start", start), parse_clock("--end", end),
                                   from_seq)
        spec = ReplaySpec(plan=plan, source=src.name, selector=selector,
                          pacing=Pacing(speed=parse_speed(speed), live=live))
        spec.check()
        prefix = normalise_prefix(default_prefix(plan.run_id) if subject_prefix is None
                                  else subject_prefix)
        total = src.count(selector)
        if total == 0:
            raise ReplayError("the selection holds no events: widen --start/--end or --symbols")
    except ReplayError as e:
        raise InputError(str(e)) from None
    except ValueError as e:  # a bad --subject-prefix or an empty source
        raise InputError(str(e)) from None

    server = EmbeddedNats() if to == "nats" and nats_url is None else None

    async def main(url: str | None) -> ReplaySummary:
        sink: Sink
        if to == "nats":
            assert url is not None
            sink = NatsSink(url, prefix, window=window)
        elif to == "jsonl":
            sink = JsonLinesSink(sys.stdout)
        else:
            sink = NullSink()
        stop = asyncio.Event()
        _stop_on_signals(stop)
        bar = Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("events"), TimeRemainingColumn(), console=Console(stderr=True),
                       transient=True, disable=not (progress and err.is_terminal))
        with bar:
            task = bar.add_task("replay", total=total)
            return await run_replay(src, spec, sink, stop,
                                    lambda n: bar.advance(task, n))

    try:
        with server if server is not None else nullcontext():
            url = server.url if server is not None else nats_url
            if server is not None:
                report.print(f"embedded nats-server at {url} (stops when the replay ends)",
                             markup=False, highlight=False)
            summary = asyncio.run(main(url))
    except BrokenPipeError:  # `tapesim replay ... --to jsonl | head`: the reader is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except ReplayStopped as e:
        hint = f"; resume with --from-seq {e.resume_seq}" if e.resume_seq is not None else ""
        raise InputError(f"{e}{hint}") from None
    except ReplayError as e:
        raise InputError(str(e)) from None
    where = {"nats": f"NATS {prefix or '(canonical subjects)'}", "jsonl": "stdout",
             "null": "nowhere (null sink)"}[to]
    report.print(f"replayed {summary.events:,} events of {plan.run_id} to {where} in "
                 f"{summary.seconds:.2f} s ({summary.rate:,.0f} events/s)", markup=False,
                 highlight=False)
    for subject, n in sorted(summary.per_subject.items()):
        report.print(f"  {prefix if to == 'nats' else ''}{subject}: {n:,}", markup=False,
                     highlight=False)
    if summary.stopped:
        report.print(f"stopped; resume with --from-seq {summary.resume_seq}", markup=False,
                     highlight=False)
        raise typer.Exit(130)


@guarded
def tail(
    nats: Annotated[str, typer.Option("--nats", help="The server, nats://host:port.")],
    subject_prefix: Annotated[str | None, typer.Option(
        "--subject-prefix", help="The prefix the replay used (default with --run: "
                                 "tapesim.<run_id>.); \"\" for the canonical subjects.")
    ] = None,
    run: Annotated[Path | None, typer.Option(
        "--run", help="The run directory replayed: compare the consumed stream's digest "
                      "with its manifest's.")] = None,
) -> None:
    """Consume what is on the bus under a prefix and check it.

    Reports messages per subject, order violations, duplicate trace ids and,
    with --run, whether the consumed events' digest equals the manifest's:
    the manifest's own tapesim-event-stream-v2, recomputed from the consumed
    JSON as `tapesim verify` recomputes it from the Parquet files. It
    matches when the bus holds the whole run once, replayed without a
    selection and without --live. Exits 2 when a check fails.
    """
    from tapesim.replay.bus import default_prefix, normalise_prefix
    from tapesim.replay.plan import ReplayError
    from tapesim.replay.sources import RunDirectorySource
    from tapesim.replay.tail import tail as consume

    source = RunDirectorySource(run) if run is not None else None
    if subject_prefix is None:
        if source is None:
            raise InputError("--subject-prefix is needed without --run (\"\" for the canonical "
                             "subjects)")
        subject_prefix = default_prefix(source.plan.run_id)
    try:
        prefix = normalise_prefix(subject_prefix)
        report = asyncio.run(consume(nats, prefix))
    except (ReplayError, ValueError) as e:
        raise InputError(str(e)) from None
    failed = not report.clean
    out.print(f"{report.events:,} events under {prefix or '(canonical subjects)'}",
              markup=False, highlight=False)
    for subject, n in sorted(report.per_subject.items()):
        extra = "".join(f", {what} {c[subject]}" for what, c in (
            ("out of order", report.order_violations), ("duplicates", report.duplicates),
            ("missing", report.missing))
            if c[subject])
        out.print(f"  {prefix}{subject}: {n:,}{extra}", markup=False, highlight=False)
    if report.bad_signal:
        out.print(f"  {report.bad_signal} signal message(s) of prints that did not pass",
                  markup=False, highlight=False)
    if source is not None:
        expected = source.manifest.event_stream.sha256
        same = report.digest == expected
        failed |= not same
        out.print(f"digest {report.digest} {'equals' if same else 'differs from'} the "
                  f"manifest's" + ("" if same else f" {expected}"), markup=False,
                  highlight=False)
    if failed:
        raise typer.Exit(2)



def _demo_cache() -> Path:
    """Where demo runs are kept: ``$XDG_CACHE_HOME/tapesim/demo`` (``~/.cache`` by
    default), one directory per run id."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tapesim" / "demo"


def _demo_list() -> None:
    from tapesim.replay.profiles import DEMO_PROFILES, LOAD_PROFILES

    out.print("demo profiles:", markup=False, highlight=False)
    for demo in DEMO_PROFILES.values():
        out.print(f"  {demo.name}: {demo.description} ({len(demo.runs)} runs at "
                  f"{demo.speed:g}x; {', '.join(demo.families)})", markup=False,
                  highlight=False)
    out.print("load profiles:", markup=False, highlight=False)
    for load in LOAD_PROFILES.values():
        speed = "max" if load.speed is None else f"{load.speed:g}x"
        out.print(f"  {load.name}: {load.description} (speed {speed}, volume "
                  f"{load.volume}x)", markup=False, highlight=False)


@guarded
def demo(
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="A demo profile, or `list` to show the demo and load profiles.")],
    load: Annotated[str, typer.Option(
        help="A load profile: scales the pace, adds bursts, and multiplies the "
             "underlyings (each copy a run of its own).")] = "steady",
    to: Annotated[str, typer.Option("--to", help="nats or jsonl.")] = "nats",
    nats_url: Annotated[str | None, typer.Option(
        "--nats-url", help="An existing server; without it an embedded nats-server runs "
                           "until the demo stops (its URL is printed).")] = None,
    subject_prefix: Annotated[str, typer.Option(
        "--subject-prefix", help="Prefix of every subject and stream; \"\" for the "
                                 "canonical subjects.")] = "tapesim.demo.",
    laps: Annotated[int | None, typer.Option(
        min=1, help="Replay the demo's runs this many times [default: until Ctrl-C].")
    ] = None,
    cache: Annotated[Path | None, typer.Option(
        help="Where the demo's runs are generated and kept [default: "
             "~/.cache/tapesim/demo].")] = None,
) -> None:
    """Loop a demo's runs onto the bus live, or list the demo and load profiles.

    The runs are generated on first use and kept by run id (the hash of their
    config), so every showing carries the same events. Each is replayed with
    --live pacing on one clock: times follow the wall clock, seq and trace ids
    keep counting across runs and laps. Each run opens every underlying at its
    last mid in the run before (laps included, each lap with its own seeds), so
    prices never jump between runs; a lap's runs are generated while the lap
    before it plays. A load of volume V replays each run beside
    V - 1 copies with renamed underlyings and their own seeds, merged by time.
    """
    from tapesim.api.simulate import resolve, simulate
    from tapesim.config.run import RunConfig
    from tapesim.config.snapshot import ParameterSnapshot
    from tapesim.replay import JsonLinesSink, NatsSink, ReplayError, ReplayStopped
    from tapesim.replay.bus import normalise_prefix
    from tapesim.replay.demo import DemoChain, loop
    from tapesim.replay.profiles import demo_profile, load_profile
    from tapesim.replay.server import EmbeddedNats
    from tapesim.replay.sinks import Sink
    from tapesim.replay.volume import copies

    if name == "list":
        _demo_list()
        return
    if to not in ("nats", "jsonl"):
        raise InputError(f"--to {to!r}: choose nats or jsonl")
    report = err if to == "jsonl" else out
    try:
        profile, pace = demo_profile(name), load_profile(load)
        prefix = normalise_prefix(subject_prefix)
    except (ReplayError, ValueError) as e:
        raise InputError(str(e)) from None
    speed = None if pace.speed is None else profile.speed * pace.speed
    burst = None if pace.burst is None else pace.burst.model_copy(
        update={"speed": profile.speed * pace.burst.speed})
    where = cache or _demo_cache()
    try:
        configs = [copies(resolve(run.profile, **run.simulate_keywords()), pace.volume)
                   for run in profile.runs]
    except ReplayError as e:
        raise InputError(str(e)) from None

    def make(config: RunConfig) -> Path:
        path = where / ParameterSnapshot.of(config).run_id
        if not (path / "manifest.json").is_file():
            report.print(f"generating a run of {name} into {path}", markup=False,
                         highlight=False)
            simulate(config, out=path, force=True)
        return path

    chain = DemoChain(configs, make)
    server = EmbeddedNats() if to == "nats" and nats_url is None else None

    async def main(url: str | None) -> None:
        sink: Sink = NatsSink(url, prefix) if url is not None else JsonLinesSink(sys.stdout)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        done = await loop(chain.lap, sink, speed, laps, stop, burst=burst)
        report.print(f"demo {name}: {done.events:,} events in {done.seconds:.1f} s",
                     markup=False, highlight=False)

    try:
        with server if server is not None else nullcontext():
            url = server.url if server is not None else nats_url
            if server is not None:
                report.print(f"embedded nats-server at {url} (runs until the demo stops)",
                             markup=False, highlight=False)
            asyncio.run(main(url if to == "nats" else None))
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (ReplayError, ReplayStopped) as e:
        raise InputError(str(e)) from None
