"""A whole run: shards in parallel, merged into one verified run directory.

config -> shards (agents act on venues, events spooled per symbol) -> a streaming
merge into replay order -> canonical events, provenance and digest -> the run
directory, manifest last. Nothing flows back upstream.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from tapesim._version import __version__
from tapesim.config.run import RunConfig
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.events.contracts import ShardListing
from tapesim.events.manifest import SeedBundle
from tapesim.events.models import KINDS, OPTION_PRINT
from tapesim.io import space
from tapesim.io.canonical import PRINT_ONLY, Canonicaliser
from tapesim.io.digest import STREAM_LAYOUT, StreamDigest
from tapesim.io.manifest import FORMAT, ORDER_BY, TIE_BREAK
from tapesim.io.merge import windowed_merge
from tapesim.io.prefetch import prefetched
from tapesim.io.spool import spool_tables
from tapesim.io.writer import RunWriter
from tapesim.market.shard import ShardModel, ShardResult, option_spool
from tapesim.market.truth import LATENT, latent_table
from tapesim.scenarios.catalog import check_leads, check_names
from tapesim.scenarios.labels import EXPECTED_OUTPUTS, LABELS, label_documents
from tapesim.scenarios.policies import injections_for
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.fleet import Opened, ShardFleet, below
from tapesim.sim.shards import Progress
from tapesim.sim.strict import ConfigError
from tapesim.venues.chains import MAX_SERIES, ListingPolicy, check_listing, listed_series

GENERATOR = "tapesim"
SORT_KEYS = [("ts", "ascending"), ("ingest_ts", "ascending"), ("kind", "ascending"),
             ("shard", "ascending"), ("local", "ascending")]
#: What the merge sorts a window by: the sources are every shard's stock spool in shard
#: order, then every option spool in shard order, and a kind is spooled by one of the
#: two, so among rows tied on these keys the merge's stable order (source, then row)
#: already is ``shard, local``; the full :data:`SORT_KEYS` order comes out.
MERGE_KEYS = SORT_KEYS[:3]
#: Merged windows prepared ahead on a helper thread while the previous one is written.
MERGE_AHEAD = 2
#: The fewest rows of a merged window (but the last): canonicalisation, the digest and
#: the Parquet writers each pay a fixed cost per window, so windows are gathered to
#: about one Parquet row group.
MERGE_ROWS = 1 << 17
#: Option prints enriched together (:class:`~tapesim.io.canonical.Canonicaliser`'s
#: ``print_batch``): their enrichment costs milliseconds a call however few the prints,
#: and a window holds a few hundred. The files' bytes do not depend on it.
PRINT_BATCH = 1 << 13


Written = Callable[[int, int], None]
"""Progress of the merge and writing: (events written, events in the run)."""

FIXED_SHARD_COST = 0.3  # a shard's cost beyond its activity, in units of activity 1


def shard_costs(config: RunConfig) -> list[tuple[str, float]]:
    """Each symbol's shard with its estimated cost (activity plus a fixed part), config order."""
    return [(s.symbol, s.activity + FIXED_SHARD_COST) for s in config.symbols]


#: Simulated time each shard of a bin runs before the next one takes its turn.
BIN_SLICE_NS = 60 * NS_PER_S
#: Runs estimated at this many events or more simulate on worker processes even with
#: one worker, so the merge and writing overlap the simulation (below it, a process's
#: start costs more than the overlap gains).
DETACH_EVENTS = 2_000_000
#: How far below the simulation a detached run's merge and writing run (nice steps, on
#: threads of their own): they take the core the simulation leaves rather than a share
#: of its core, so with one worker the simulation runs as fast as it would alone.
WRITE_NICE = 10


def shard_model(config: RunConfig, symbol: str, spool: Path) -> ShardModel:
    """One shard's market model with the scenarios injected into it, ready to run.

    A pure function of (config, symbol): any process gives the same spool bytes.
    Raises ``ConfigError`` when a scenario names a contract the chain does not list.
    """
    model = ShardModel(config, symbol, spool)
    if model.options is not None:
        for injection in injections_for(model.options.desk, config.scenarios):
            model.add_agent(injection.process)
    return model


def simulate_shard(
    config: RunConfig,
    symbol: str,
    spool: Path,
    progress: Progress | None = None,
) -> ShardResult:
    """One shard of a run, simulated whole (:func:`shard_model`, then its window)."""
    return shard_model(config, symbol, spool).run(progress)


def simulate_bin(
    config: RunConfig,
    symbols: list[str],
    spools: dict[str, Path],
    progress: Progress | None,
    opened: Opened,
) -> list[ShardResult]:
    """The shards ``symbols`` of one worker, advanced together :data:`BIN_SLICE_NS` of
    simulated time at a time, so their spools grow side by side and the merge can follow
    them; each shard's bytes are those of :func:`simulate_shard`. Reports each shard's
    :class:`~tapesim.market.shard.ShardListing` through ``opened`` before anything runs.
    """
    models = [shard_model(config, symbol, spools[symbol]) for symbol in symbols]
    for model in models:
        opened(model.symbol, model.listing())
        model.start(progress)
    session = config.session.session()
    reached = session.start_ns
    while reached < session.end_ns:
        reached = min(reached + BIN_SLICE_NS, session.end_ns)
        for model in models:
            model.advance(reached)
    return [model.finish(progress) for model in models]


def library_versions() -> dict[str, str]:
    """Versions whose change may change output bytes, pinned in the manifest: the
    exchange calendar (a newly listed closure moves sessions and expiries), numpy,
    pyarrow and SimPy."""
    return {name: md.version(name)
            for name in ("exchange-calendars", "numpy", "pyarrow", "simpy")}


@dataclass(frozen=True)
class RunSummary:
    """What :func:`execute_run` hands back: the run directory ``out`` and its manifest
    as written (JSON values, ``artifacts`` included; ``docs/DATA.md`` names every key)."""

    out: Path
    manifest: dict[str, Any]


def check_listings(config: RunConfig) -> None:
    """Refuse, before anything runs, a symbol whose option chain the listing rules forbid
    (:func:`tapesim.venues.chains.check_listing`: an index-like root not marked as an
    ETF), rather than failing inside a shard, or whose chain would list more than
    :data:`~tapesim.venues.chains.MAX_SERIES` series (a very high price or volatility
    over many expiries), which no real chain does and every maker would quote.

    Raises:
        ConfigError: naming ``symbols.N.is_etf``, or ``symbols.N`` and the settings
            that size its chain.
    """
    opt = config.options
    policy = ListingPolicy.of(opt)
    for i, symbol in enumerate(config.symbols):
        if not symbol.options:
            continue
        try:
            check_listing(symbol.symbol, symbol.is_etf)
        except ValueError as err:
            raise ConfigError(f"field 'symbols.{i}.is_etf': {err}") from None
        series = listed_series(symbol.symbol, config.session.date, symbol.price,
                               symbol.annual_vol, symbol.is_etf, policy)
        count = 2 * sum(len(strikes) for _, strikes in series)
        if count > MAX_SERIES:
            raise ConfigError(
                f"field 'symbols.{i}': {symbol.symbol} would list {count:,} option series "
                f"(price {symbol.price:g}, annual_vol {symbol.annual_vol:g}, "
                f"{len(series)} expiries), more than the {MAX_SERIES:,} the largest real "
                "chains stay within: lower options.monthlies, options.quarterlies, options.leaps, "
                f"options.weeklies or options.dailies, or symbols.{i}.annual_vol")


def execute_run(
    config: RunConfig,
    out: Path,
    workers: int = 1,
    force: bool = False,
    jsonl: bool = False,
    progress: Progress | None = None,
    write_latent: bool = False,
    written: Written | None = None,
) -> RunSummary:
    """Simulate ``config`` into the run directory ``out`` (written whole or not at all).

    ``progress`` follows the simulation (shard name, simulated ns reached), ``written``
    the merge and the writing of the event files (events written, events in the run).
    ``write_latent`` adds the latent truth sidecar (``latent.parquet``,
    :func:`~tapesim.market.truth.latent_table`), listed and hashed in the manifest's
    artifacts like every file but never an event; without it the bytes are as before.

    Raises:
        ConfigError: a scenario the catalog lacks or one starting too close to the
            window's end to act (:func:`~tapesim.scenarios.catalog.check_leads`), an
            option chain its exchange rules forbid (:func:`check_listings`), or a
            setting found unusable once
            the market is built (e.g. an unlisted contract); nothing is left at ``out``.
        FileExistsError: ``out`` exists and ``force`` is false.
        NoSpaceError: the file system of ``out`` has less free space than the run's
            estimate (:mod:`tapesim.io.space`), before anything is written, or filled
            up while it was written (everything written is removed).
    """
    check_names(config)
    check_leads(config)
    check_listings(config)
    snapshot = ParameterSnapshot.of(config)
    params_hash, run_id = snapshot.sha256, snapshot.run_id
    need = space.estimate(config, jsonl)
    space.require_space(out, need)
    writer = RunWriter(out, force=force, jsonl=jsonl)
    try:
        detach = workers > 1 or need.events >= DETACH_EVENTS
        with ShardFleet(simulate_bin, config, shard_costs(config), writer.scratch, workers,
                        progress, detach) as fleet:
            manifest = below(WRITE_NICE if detach else 0, partial(
                _merge_and_describe, config, run_id, params_hash, fleet, writer, written))
        if config.scenarios:
            manifest["scenarios"] = _write_labels(config, run_id, writer)
        if write_latent:
            writer.sidecar(LATENT, latent_table(config))
        manifest = writer.finish(snapshot.document(), manifest)
    except BaseException as err:
        writer.abort()
        if space.is_no_space(err):
            raise space.no_space_during(out, need) from err
        raise
    return RunSummary(out, manifest)


OPEN_INTEREST = "open_interest.parquet"
OPEN_INTEREST_SCHEMA = pa.schema([("option_contract_id", pa.string()),
                                  ("underlying_id", pa.string()),
                                  ("start_oi", pa.int64()), ("end_oi", pa.int64())])


def _write_open_interest(results: list[ShardResult], writer: RunWriter) -> None:
    """Each listed contract's open interest at the start and end of the session (the end
    is the next session's start), when any option chain ran."""
    if not any(r.listing.contracts for r in results):
        return
    table = pa.table({
        "option_contract_id": [c for r in results for c in r.listing.contracts],
        "underlying_id": [r.symbol for r in results for _ in r.listing.contracts],
        "start_oi": [v for r in results for v in r.open_interest[0]],
        "end_oi": [v for r in results for v in r.open_interest[1]],
    }, schema=OPEN_INTEREST_SCHEMA)
    writer.sidecar(OPEN_INTEREST, table)


def _write_labels(config: RunConfig, run_id: str, writer: RunWriter) -> dict[str, Any]:
    """labels.json and expected_outputs.json, from the finished event files."""
    writer.close_events()
    labels, expected = label_documents(writer.tmp, run_id, config.session.date,
                                       config.scenarios)
    writer.json_sidecar(LABELS, labels.model_dump(mode="json"))
    writer.json_sidecar(EXPECTED_OUTPUTS, expected.model_dump(mode="json"))
    return {"ids": [s.scenario_id() for s in config.scenarios], "labels_path": LABELS,
            "expected_outputs_path": EXPECTED_OUTPUTS, "label_count": len(labels.labels)}


class _Stopped(Exception):
    """The merge was asked to stop: the run is being abandoned."""


def _merge_and_describe(
    config: RunConfig, run_id: str, params_hash: str, fleet: ShardFleet,
    writer: RunWriter, written: Written | None, stop: threading.Event,
) -> dict[str, Any]:
    """Merge the shards' spools into the run's event files while the shards run, then
    describe the run for its manifest. ``written`` hears of the writing once every shard
    has finished (before, the run's total is not known). Once ``stop`` is set it raises
    ``_Stopped`` at the next window, or as soon as it would wait for a spool to grow."""

    def growing(name: str) -> bool:
        return not stop.is_set() and fleet.wait(name)

    venues = config.venues
    listings: list[ShardListing] = [fleet.opening(name, stop.is_set) for name in fleet.names]
    canon = Canonicaliser(run_id, listings,
                          [*venues.lit, *venues.trf], len(venues.lit),
                          tuple(config.options.venues), config.options.signal_mode,
                          tuple(s.scenario_id() for s in config.scenarios),
                          print_batch=PRINT_BATCH)
    digest = StreamDigest(background=True)
    first_ts = last_ts = None
    total: int | None = None
    done = 0
    paths = [fleet.spools[name] for name in fleet.names]
    sources = [spool_tables(path, i, partial(growing, name))
               for i, (name, path) in enumerate(zip(fleet.names, paths, strict=True))]
    sources += [spool_tables(option_spool(path), i, partial(growing, name))
                for i, (name, path, listing) in enumerate(zip(fleet.names, paths, listings,
                                                               strict=True))
                if listing.contracts]
    merged = prefetched(windowed_merge(sources, "ts", MERGE_KEYS, MERGE_ROWS, PRINT_ONLY),
                        MERGE_AHEAD, "tapesim-merge")
    with contextlib.closing(merged), contextlib.closing(digest):  # and their threads
        for window in merged:
            if stop.is_set():
                raise _Stopped
            tables, provenance, records, details = canon.window(window)
            for name, table in tables.items():
                writer.write(name, table)
            writer.provenance.write(provenance)
            digest.update(records)
            digest.update_details(details)
            ts = window.rows.column("ts")
            first_ts = ts[0].as_py() if first_ts is None else first_ts
            last_ts = ts[-1].as_py()
            done += window.num_rows
            if written is not None and total is None and fleet.finished:
                total = sum(sum(r.counts.values()) for r in fleet.results())
            if written is not None and total is not None:
                written(done, total)
        prints, details = canon.flush_prints()
        writer.write(OPTION_PRINT.name, prints)
        digest.update_details(details)
    results = fleet.results()
    for result, listing in zip(results, listings, strict=True):
        if result.listing != listing:
            raise RuntimeError(f"shard {result.symbol} registered agents while it ran: "
                               "its spool rows name agents the merge did not know")
    _write_open_interest(results, writer)
    session = config.session.session()
    counts = {k.name: sum(r.counts.get(k.name, 0) for r in results) for k in KINDS}
    return {
        "format": FORMAT,
        "generator": {"name": GENERATOR, "version": __version__, "libraries": library_versions()},
        "run_id": run_id,
        "profile": config.name,
        "seed_bundle": SeedBundle(seed=config.seed).model_dump(mode="json"),
        "parameter_snapshot_hash": params_hash,
        "session": {"date": session.date.isoformat(), "open_ts": session.open_ms,
                    "close_ts": session.close_ms, "start_ts": session.start_ms,
                    "end_ts": session.end_ms},
        "symbols": [r.symbol for r in results],
        "venues": {"lit": list(venues.lit), "trf": list(venues.trf),
                   "options": list(config.options.venues)},
        "counts": {**counts, "total": sum(counts.values())},
        "time_range": {"first_ts": first_ts, "last_ts": last_ts},
        "ordering": {"order_by": ORDER_BY, "tie_break": TIE_BREAK, "seq_start": 1},
        "event_stream": {"layout": STREAM_LAYOUT, "sha256": digest.hexdigest()},
        "conservation": {r.symbol: r.conservation for r in results},
    }
