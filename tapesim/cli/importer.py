"""``tapesim import``: a real tape (LOBSTER, CSV with a column map, Databento DBN) as a run
directory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tapesim.cli.common import InputError, guarded, out

if TYPE_CHECKING:  # the importers load only when a command runs
    from tapesim.calibration.importers.tape import ImportedTape

import_app = typer.Typer(no_args_is_help=True, help="Import a real tape as a run directory "
                                                    "(source_kind real) for facts and verify.")

DateOption = Annotated[str, typer.Option("--date", help="The tape's trading day, YYYY-MM-DD.")]
OutOption = Annotated[Path, typer.Option("--out", help="Run directory to write.")]
ForceOption = Annotated[bool, typer.Option(help="Replace an existing --out.")]
QuietOption = Annotated[bool, typer.Option(help="No progress display.")]


def _import(read: Callable[[dt.date], ImportedTape], date: str, out_dir: Path,
            force: bool, quiet: bool) -> None:
    """Read a tape for ``date`` with ``read``, write it to ``out_dir`` and say so; a
    source problem exits 2 with its one line. Progress (the run and facts display, on
    stderr) counts steps: reading the source, then the writer's
    (:data:`~tapesim.calibration.importers.writer.WRITE_STEPS`)."""
    from tapesim.calibration.importers.tape import SourceError, trading_day
    from tapesim.calibration.importers.writer import WRITE_STEPS, write_imported_run
    from tapesim.cli.ui import count_progress

    total = 1 + WRITE_STEPS
    with count_progress("importing", "steps", quiet) as update:
        update(0, total)
        try:
            tape = read(trading_day(date))
        except SourceError as e:
            raise InputError(str(e)) from None
        update(1, total)
        manifest = write_imported_run(tape, out_dir, force=force,
                                      progress=lambda done, _total: update(1 + done, total))
    _summary(manifest, out_dir)


def _summary(manifest: dict[str, Any], out_dir: Path) -> None:
    counts = manifest["counts"]
    source = manifest["source"]
    out.print(f"imported {counts['equity_quote']:,} quotes ({source['quotes']}) and "
              f"{counts['equity_print']:,} prints of {','.join(manifest['symbols'])} from "
              f"{source['format']} into {out_dir} (run {manifest['run_id']})",
              markup=False, highlight=False)


@import_app.command("lobster")
@guarded
def lobster(
    message: Annotated[Path, typer.Argument(metavar="MESSAGE.csv",
                                            help="LOBSTER message file.")],
    orderbook: Annotated[Path, typer.Argument(metavar="ORDERBOOK.csv",
                                              help="LOBSTER orderbook file (any level).")],
    date: DateOption,
    symbol: Annotated[str, typer.Option("--symbol", help="The ticker, e.g. AMZN.")],
    out_dir: OutOption,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """A LOBSTER message/orderbook pair: executions and Nasdaq's best level.

    Prints are the executions (types 4, 5, 6), quotes Nasdaq's own best bid and offer.
    """
    from tapesim.calibration.importers.lobster import read_lobster
    _import(lambda day: read_lobster(message, orderbook, day, symbol), date, out_dir, force,
            quiet)


@import_app.command("csv")
@guarded
def csv(
    path: Annotated[Path, typer.Argument(metavar="FILE.csv", help="A vendor CSV file.")],
    column_map: Annotated[Path, typer.Option("--map", help="Column map (TOML): which "
                                             "column is ts, price, size, bid, ask, ...")],
    date: DateOption,
    out_dir: OutOption,
    symbol: Annotated[str | None, typer.Option(
        "--symbol", help="The ticker, when the file has no symbol column.")] = None,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """A CSV of prints and/or quotes, read through a column map."""
    from tapesim.calibration.importers.csvmap import load_map, read_csv
    _import(lambda day: read_csv(path, load_map(column_map), day, symbol, column_map), date,
            out_dir, force, quiet)


@import_app.command("dbn")
@guarded
def dbn(
    path: Annotated[Path, typer.Argument(metavar="FILE.dbn[.zst]",
                                         help="A Databento DBN file: trades, mbp-1 or tbbo.")],
    date: DateOption,
    out_dir: OutOption,
    symbol: Annotated[str | None, typer.Option(
        "--symbol", help="Only this ticker (default: every symbol in the file).")] = None,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """A Databento DBN file of one venue (trades, mbp-1, tbbo; the dbn extra).

    Prints are the trades, quotes the venue's best bid and offer; needs the package's dbn
    extra (databento-dbn).
    """
    try:
        from tapesim.calibration.importers.dbn import read_dbn
    except ImportError:
        raise InputError("tapesim import dbn needs the databento-dbn package: "
                         "pip install 'tapesim[dbn]'") from None
    _import(lambda day: read_dbn(path, day, symbol), date, out_dir, force, quiet)
