"""Terminal presentation: a run's progress display, a counted job's progress, and the
`inspect` tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tapesim.cli.common import err
from tapesim.config.run import RunConfig
from tapesim.io.manifest import open_run
from tapesim.sim.shards import Progress as ProgressCallback


@dataclass(frozen=True)
class RunProgress:
    """The callbacks of one run's progress display: ``simulated`` (shard, simulated ns
    reached) for the simulation, ``written`` (events written, events in the run) for
    the merge and the writing of the run directory."""

    simulated: ProgressCallback | None
    written: Callable[[int, int], None] | None


class _Lines:
    """Plain progress lines on stderr, at most one every ``every_s`` wall seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.start = self.last = time.monotonic()

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            err.print(f"{text}, {now - self.start:.0f} s", markup=False, highlight=False)


@contextmanager
def run_progress(config: RunConfig, quiet: bool, every_s: float = 5.0,
                 ) -> Iterator[RunProgress]:
    """One progress display for a whole run: simulated time summed across shards (with
    the slowest shard's New York clock), then events merged and written. Bars on
    stderr when stderr is a terminal, else a plain line every ``every_s`` seconds
    (``simulating: 42% (10:12 New York)``, ``writing: 1,310,720 of 12,954,370 events
    (10%)``), nothing when ``quiet``. Wall-clock seconds, for the eye only.
    """
    if quiet:
        yield RunProgress(None, None)
        return
    session = config.session.session()
    span = (session.end_ns - session.start_ns) * len(config.symbols)
    done: dict[str, int] = {}

    def clock() -> str:
        slowest = min(done.values()) if len(done) == len(config.symbols) else 0
        minutes = (session.start_ns + slowest) // 60_000_000_000 + 9 * 60 + 30
        return f"{minutes // 60:02d}:{minutes % 60:02d} New York"

    def record(symbol: str, sim_ns: int) -> None:
        done[symbol] = sim_ns - session.start_ns

    if not err.is_terminal:
        line = _Lines(every_s)

        def simulated_line(symbol: str, sim_ns: int) -> None:
            record(symbol, sim_ns)
            line(f"simulating: {sum(done.values()) / max(span, 1):.0%} ({clock()})")

        def written_line(events: int, total: int) -> None:
            line(f"writing: {events:,} of {total:,} events ({events / max(total, 1):.0%})")

        yield RunProgress(simulated_line, written_line)
        return
    columns = (TextColumn("{task.description:<11}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[detail]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        sim = bar.add_task("simulating", total=span, detail="")
        out = bar.add_task("writing", total=None, detail="", start=False)

        def simulated(symbol: str, sim_ns: int) -> None:
            record(symbol, sim_ns)
            bar.update(sim, completed=sum(done.values()), detail=clock())

        def written(events: int, total: int) -> None:
            if not bar.tasks[out].started:
                bar.update(sim, completed=span)
                bar.start_task(out)
            bar.update(out, completed=events, total=total,
                       detail=f"{events:,} of {total:,} events")

        yield RunProgress(simulated, written)


@contextmanager
def count_progress(what: str, unit: str, quiet: bool, every_s: float = 5.0,
                   ) -> Iterator[Callable[[int, int], None]]:
    """Progress of a job that counts ``unit``s up to a total, as an ``update(done, total)``
    callback: a bar on stderr when stderr is a terminal, else a plain line on stderr
    every ``every_s`` seconds (``exporting: 131,072 of 313,838 events (42%), 5 s``; a
    job done sooner prints none, its command's own last line says what it did),
    nothing when ``quiet``. Wall-clock seconds, for the eye only.
    """
    if quiet:
        yield lambda done, total: None
        return
    start = time.monotonic()
    if err.is_terminal:
        columns = (TextColumn(what), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TextColumn(f"{{task.completed:,}} of {{task.total:,}} {unit}"),
                   TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(what, total=0)
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    last = [start]

    def line(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            err.print(f"{what}: {done:,} of {total:,} {unit} ({done / max(total, 1):.0%}), "
                      f"{now - start:.0f} s", markup=False, highlight=False)

    yield line


def inspect_tables(run_dir: Path) -> list[Table]:
    """The ``tapesim inspect`` tables of a run directory, in print order.

    A summary (run id, profile, seed, session date, first and last event ``ts`` in
    epoch ms UTC, event counts per kind); per symbol, in manifest order, its NBBO
    changes, prints, shares traded and the median (approximate) and mean quoted
    spread in ticks (one cent); per venue code and off-exchange flag, prints, share of
    prints and shares. When the run has option prints, two more
    (:func:`_option_tables`): per underlying (prints, contracts, distinct contracts
    traded, premium in dollars, prints passing the signal filter) and per options
    venue.

    Raises:
        RunDirectoryError: no readable manifest, or an artifact missing or not the size
            the manifest records (:func:`tapesim.io.manifest.open_run`).
    """
    manifest = open_run(run_dir)
    counts = manifest["counts"]
    summary = Table("run", "value", title=f"{run_dir}")
    summary.add_row("run id", manifest["run_id"])
    summary.add_row("profile", manifest["profile"])
    summary.add_row("seed", str(manifest["seed_bundle"]["seed"]))
    summary.add_row("session", manifest["session"]["date"])
    summary.add_row("time range (ms)",
                    f"{manifest['time_range']['first_ts']} .. {manifest['time_range']['last_ts']}")
    for kind, n in counts.items():
        summary.add_row(f"{kind} events", f"{n:,}")

    quotes = ds.dataset(run_dir / "equity_quotes.parquet").to_table(
        columns=["underlying_id", "bid", "ask"])
    spread = pc.round(pc.multiply(pc.subtract(quotes.column("ask"), quotes.column("bid")), 100.0))
    quotes = pa.table({"underlying_id": quotes.column("underlying_id"), "spread": spread})
    by_symbol = quotes.group_by("underlying_id").aggregate(
        [("spread", "count"), ("spread", "approximate_median"), ("spread", "mean")])
    prints = ds.dataset(run_dir / "equity_prints.parquet").to_table(
        columns=["underlying_id", "exchange", "size", "offExchangeFlag"])
    per_symbol = prints.group_by("underlying_id").aggregate([("size", "count"), ("size", "sum")])
    print_rows = {r["underlying_id"]: r for r in per_symbol.to_pylist()}
    symbols = Table("symbol", "quotes", "prints", "shares", "median spread (ticks)",
                    "mean spread (ticks)", title="per symbol")
    for r in sorted(by_symbol.to_pylist(), key=lambda r: manifest["symbols"].index(
            r["underlying_id"])):
        p = print_rows.get(r["underlying_id"], {})
        symbols.add_row(r["underlying_id"], f"{r['spread_count']:,}", f"{p.get('size_count', 0):,}",
                        f"{p.get('size_sum', 0):,}", f"{r['spread_approximate_median']:.1f}",
                        f"{r['spread_mean']:.2f}")
    venues = prints.group_by(["exchange", "offExchangeFlag"]).aggregate(
        [("size", "count"), ("size", "sum")])
    total = max(prints.num_rows, 1)
    venue_table = Table("exchange", "off-exchange", "prints", "share of prints", "shares",
                        title="per venue")
    for r in sorted(venues.to_pylist(), key=lambda r: -r["size_count"]):
        venue_table.add_row(r["exchange"], str(r["offExchangeFlag"]), f"{r['size_count']:,}",
                            f"{r['size_count'] / total:.1%}", f"{r['size_sum']:,}")
    return [summary, symbols, venue_table, *_option_tables(run_dir)]


def _option_tables(run_dir: Path) -> list[Table]:
    """Per underlying and per options venue, when the run has option prints."""
    prints = ds.dataset(run_dir / "option_prints.parquet").to_table(
        columns=["underlying_id", "option_contract_id", "exchange", "size", "notional",
                 "signal_pass"])
    if prints.num_rows == 0:
        return []
    by_underlying = prints.group_by("underlying_id").aggregate(
        [("size", "count"), ("size", "sum"), ("notional", "sum"),
         ("option_contract_id", "count_distinct"), ("signal_pass", "sum")])
    table = Table("underlying", "option prints", "contracts traded", "listed contracts "
                  "traded", "premium ($)", "signal prints", title="options per underlying")
    for r in by_underlying.to_pylist():
        table.add_row(r["underlying_id"], f"{r['size_count']:,}", f"{r['size_sum']:,}",
                      f"{r['option_contract_id_count_distinct']:,}",
                      f"{r['notional_sum']:,.0f}", f"{r['signal_pass_sum']:,}")
    venues = prints.group_by("exchange").aggregate([("size", "count"), ("size", "sum")])
    venue_table = Table("exchange", "option prints", "share of prints", "contracts",
                        title="per options venue")
    for r in sorted(venues.to_pylist(), key=lambda r: -r["size_count"]):
        venue_table.add_row(r["exchange"], f"{r['size_count']:,}",
                            f"{r['size_count'] / prints.num_rows:.1%}", f"{r['size_sum']:,}")
    return [table, venue_table]
