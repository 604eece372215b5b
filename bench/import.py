"""Rows per second of ``tapesim import``: a LOBSTER day (or a DBN file) read and written.

::

    python bench/import.py [--messages 1000000] [--levels 10] [--repeat 3] [--check]
    python bench/import.py --message M.csv --orderbook O.csv --date YYYY-MM-DD --symbol AMZN
    python bench/import.py --format dbn [--messages 1000000]      # an mbp-1 DBN file
    python bench/import.py --format dbn --dbn FILE.dbn[.zst] --date YYYY-MM-DD [--symbol AMZN]

Without files, a LOBSTER pair of ``--messages`` lines is written first (not timed) into
a temporary directory: a random walk of the best bid and ask in cents around $100 with
``--levels`` levels of book, submissions, cancellations and visible and hidden
executions in the proportions of a typical Nasdaq day, times from 09:30 in time order.
With ``--format dbn`` the file is one Nasdaq (XNAS.ITCH) mbp-1 DBN file of as many
records, the same walk, 5% of them trades (needs the ``dbn`` extra; target 1,000,000
rows/s); ``--dbn`` times a DBN file of your own instead. Each repetition imports the
file(s) into a fresh run directory. ``read_s`` times reading
and checking the two files (:func:`read_lobster`); ``total_s`` adds writing the run
directory (:func:`write_imported_run`).

Output: one JSON object per repetition on stdout, then a summary with the medians
(``"summary": true``); a readable digest on stderr. ``rows_per_s`` = message lines /
``total_s``; ``rows_per_cpu_s`` divides by the process's CPU time (all threads), which a
busy machine disturbs less than wall time. ``--check`` exits 1 when the median
``rows_per_s`` is below the target (300,000 rows/s for LOBSTER, 1,000,000 for DBN).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from tapesim.calibration.importers.lobster import EMPTY_ASK, EMPTY_BID, read_lobster
from tapesim.calibration.importers.tape import SourceError
from tapesim.calibration.importers.writer import write_imported_run

TARGET_ROWS_PER_S = {"lobster": 300_000, "dbn": 1_000_000}
DAY = dt.date(2012, 6, 21)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--format", choices=sorted(TARGET_ROWS_PER_S), default="lobster")
    parser.add_argument("--message", type=Path, help="a LOBSTER message file")
    parser.add_argument("--orderbook", type=Path, help="its orderbook file")
    parser.add_argument("--dbn", type=Path, help="a DBN file (with --format dbn)")
    parser.add_argument("--date", default=DAY.isoformat(), help="the files' day")
    parser.add_argument("--symbol", default="AMZN")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    return parser.parse_args(argv)


def write_pair(folder: Path, n: int, levels: int, seed: int = 1) -> tuple[Path, Path]:
    """A synthetic LOBSTER pair of ``n`` lines (see the module docstring)."""
    rng = np.random.default_rng(seed)
    seconds = 34_200 + np.cumsum(rng.exponential(23_400 / n, n))
    kind = rng.choice([1, 2, 3, 4, 5], n, p=[0.5, 0.05, 0.38, 0.05, 0.02])
    mid = 1_000_000 + 100 * np.cumsum(rng.integers(-1, 2, n) * (rng.random(n) < 0.05))
    spread = 100 * rng.integers(1, 3, n)
    bid1 = mid - 100 * (spread // 200)
    ask1 = bid1 + spread
    size = rng.choice([100, 200, 50, 300, 17], n)
    direction = rng.choice([-1, 1], n)
    price = np.where(direction == 1, bid1, ask1)
    message = pa.table({"t": np.round(seconds, 9), "type": kind,
                        "id": np.arange(10_000_000, 10_000_000 + n), "size": size,
                        "price": price, "dir": direction})
    book: dict[str, np.ndarray] = {}
    for level in range(levels):
        book[f"a{level}"] = ask1 + 100 * level
        book[f"as{level}"] = rng.integers(1, 50, n) * 100
        book[f"b{level}"] = bid1 - 100 * level
        book[f"bs{level}"] = rng.integers(1, 50, n) * 100
    empty = rng.random(n) < 0.001  # now and then an empty far level
    book[f"a{levels - 1}"] = np.where(empty, EMPTY_ASK, book[f"a{levels - 1}"])
    book[f"b{levels - 1}"] = np.where(empty, EMPTY_BID, book[f"b{levels - 1}"])
    stem = f"AMZN_{DAY.isoformat()}_34200000_57600000"
    paths = folder / f"{stem}_message_{levels}.csv", folder / f"{stem}_orderbook_{levels}.csv"
    options = pacsv.WriteOptions(include_header=False)
    pacsv.write_csv(message, paths[0], options)
    pacsv.write_csv(pa.table(book), paths[1], options)
    return paths


def write_dbn(folder: Path, n: int, seed: int = 1) -> Path:
    """A synthetic mbp-1 DBN file of ``n`` records of one symbol (see the module docstring)."""
    import databento_dbn as dbn  # the optional dbn extra, only for --format dbn

    rng = np.random.default_rng(seed)
    rec = np.zeros(n, dtype=np.dtype(dbn.MBP1Msg._dtypes))
    rec["length"] = rec.dtype.itemsize // 4
    rec["rtype"] = 1  # mbp-1
    rec["instrument_id"] = 1
    start = int(dt.datetime(2012, 6, 21, 13, 30, tzinfo=dt.UTC).timestamp()) * 10**9
    rec["ts_event"] = start + np.cumsum(rng.integers(1, 46_800_000, n))
    rec["ts_recv"] = rec["ts_event"] + 1000
    mid = 100_000_000_000 + 10_000_000 * np.cumsum(rng.integers(-1, 2, n) * (rng.random(n) < 0.05))
    rec["bid_px_00"] = mid - 10_000_000
    rec["ask_px_00"] = mid + 10_000_000 * rng.integers(1, 3, n)
    trade = rng.random(n) < 0.05
    rec["action"] = np.where(trade, b"T", b"A")
    rec["side"] = np.where(rng.random(n) < 0.5, b"A", b"B")
    rec["price"] = np.where(rec["side"] == b"B", rec["ask_px_00"], rec["bid_px_00"])
    rec["size"] = rng.choice([100, 200, 50, 300, 17], n)
    metadata = dbn.Metadata(dataset="XNAS.ITCH", schema=dbn.Schema.MBP_1, start=start,
                            stype_in=dbn.SType.RAW_SYMBOL, stype_out=dbn.SType.INSTRUMENT_ID,
                            symbols=["AMZN"], mappings=[])
    path = folder / "AMZN.mbp-1.dbn"
    path.write_bytes(metadata.encode() + rec.tobytes())
    return path


def _once(message: Path, orderbook: Path | None, day: dt.date, symbol: str,
          out: Path) -> dict[str, float]:
    start, cpu = time.perf_counter(), time.process_time()
    if orderbook is None:
        from tapesim.calibration.importers.dbn import read_dbn  # the optional dbn extra

        tape = read_dbn(message, day, symbol)
    else:
        tape = read_lobster(message, orderbook, day, symbol)
    read = time.perf_counter() - start
    manifest = write_imported_run(tape, out)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rows = tape.spec.rows[0]
    return {"rows": rows, "read_s": round(read, 3), "total_s": round(total, 3),
            "cpu_s": round(cpu, 3), "read_rows_per_s": round(rows / read),
            "rows_per_s": round(rows / total), "rows_per_cpu_s": round(rows / cpu),
            "quotes": manifest["counts"]["equity_quote"],
            "prints": manifest["counts"]["equity_print"]}


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    with tempfile.TemporaryDirectory(prefix="tapesim-import-bench-") as tmp:
        folder = Path(tmp)
        orderbook: Path | None
        if args.format == "dbn":
            message, orderbook = args.dbn or write_dbn(folder, args.messages), None
        elif args.message and args.orderbook:
            message, orderbook = args.message, args.orderbook
        elif args.message or args.orderbook:
            print("error: pass both --message and --orderbook, or neither", file=sys.stderr)
            return 2
        elif args.dbn:
            print("error: --dbn needs --format dbn", file=sys.stderr)
            return 2
        else:
            message, orderbook = write_pair(folder, args.messages, args.levels)
        day = dt.date.fromisoformat(args.date)
        results = []
        for i in range(args.repeat):
            try:
                result = _once(message, orderbook, day, args.symbol, folder / f"run{i}")
            except SourceError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            results.append(result)
            print(json.dumps({"repeat": i, **result}))
        summary = {key: statistics.median(r[key] for r in results)
                   for key in ("read_s", "total_s", "cpu_s", "read_rows_per_s", "rows_per_s",
                                "rows_per_cpu_s")}
        target = TARGET_ROWS_PER_S[args.format]
        ok = summary["rows_per_s"] >= target
        print(json.dumps({"summary": True, "format": args.format, "rows": results[0]["rows"],
                          **summary, "target_rows_per_s": target, "ok": ok}))
        print(f"{args.format} import: {results[0]['rows']:,} rows, median "
              f"{summary['rows_per_s']:,.0f} rows/s in all ({summary['read_rows_per_s']:,.0f} "
              f"rows/s reading, {summary['rows_per_cpu_s']:,.0f} rows per CPU-second), target "
              f"{target:,}", file=sys.stderr)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
