"""LOBSTER (lobsterdata.com) message and orderbook files to an imported tape.

LOBSTER reconstructs Nasdaq's book from TotalView-ITCH and writes, per ticker and day,
two header-less CSV files of equal length (the published format, "Output Structure"
of the LOBSTER readme):

- ``TICKER_YYYY-MM-DD_START_END_message_LEVEL.csv``: Time (seconds after midnight,
  New York, up to ns decimals), Type (1 submission, 2 partial cancellation, 3
  deletion, 4 execution of a visible order, 5 execution of a hidden order, 6 cross
  trade, 7 trading halt), Order ID, Size (shares), Price (dollars x 10000), Direction
  (-1 sell limit order, 1 buy limit order: executing a sell order is a buyer-initiated
  trade).
- ``..._orderbook_LEVEL.csv``: the book after each message, per level Ask Price, Ask
  Size, Bid Price, Bid Size (prices x 10000); an empty level reads ask 9999999999,
  bid -9999999999, size 0.

Prints are the executions (types 4, 5 and 6), on the exchange code ``NASDAQ``, never
off-exchange; a hidden execution stays on the exchange and is flagged as such in
``source_events.parquet`` (``source_event`` = ``hidden_execution``), with the order
reference and the aggressor side from Direction. Quotes are Nasdaq's own best bid
and offer (not an NBBO: the manifest says ``venue_bbo``): one quote per message after
which the two-sided best level differs from the last one; a book state with an empty
side emits none.
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from tapesim.calibration.importers.tape import (
    FileScan,
    ImportedTape,
    SourceError,
    SourceSpec,
    check_times,
    is_number,
    locate_bad_row,
    midnight_ns,
    new_quotes,
    scan_file,
)

VENUE = "NASDAQ"
PRICE_SCALE = 10_000  # LOBSTER prices are dollars x 10000
EMPTY_ASK = 9_999_999_999
EMPTY_BID = -9_999_999_999
EXECUTIONS = {4: "visible_execution", 5: "hidden_execution", 6: "cross"}
MESSAGE_COLUMNS = ("Time", "Type", "Order ID", "Size", "Price", "Direction")
FILE_NAME = re.compile(r"^(?P<ticker>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_\d+_\d+_"
                       r"(?P<kind>message|orderbook)_(?P<level>\d+)\.csv$")
LACKS = ("off-exchange prints", "parent orders")
#: The message file's six columns; of the orderbook only the best level's four are read.
MESSAGE_TYPES: list[pl.DataType] = [pl.Float64(), *(pl.Int64() for _ in range(5))]
BOOK_TYPES: list[pl.DataType] = [pl.Int64() for _ in range(4)]


def _bad_line(path: Path, width: int, what: str) -> SourceError:
    """The first line of ``path`` of another width than ``width`` or with a field that
    is not a number, as an error (the slow path, once the fast reader found a fault)."""
    where = locate_bad_row(path, width, lambda row: next(
        (f"field {i + 1} {v!r} is not a number" for i, v in enumerate(row)
         if not is_number(v)), None))
    return SourceError(f"{path}: {where}: not a LOBSTER {what} file")


def _read(path: Path, types: list[pl.DataType], width: int, what: str,
          scan: Future[FileScan]) -> list[np.ndarray]:
    """The first ``len(types)`` columns of a header-less LOBSTER CSV of ``width`` fields
    per line, as numpy arrays (polars' multi-threaded CSV reader; the other columns
    are split but not converted).

    ``scan`` is the file's :func:`scan_file`, run beside the parse: every line must
    have ``width`` fields, so the file holds ``lines * (width - 1)`` commas (the
    reader itself pads a short line with nulls and ignores extra fields).

    Raises:
        SourceError: missing, empty, or a line of another width, with a non-number or
            with an empty field.
    """
    if not path.is_file():
        raise SourceError(f"{path}: no such file: pass the LOBSTER {what} file")
    try:
        # Types by position, one per field of the first line (polars refuses another
        # count); the columns past ``types`` are not converted.
        frame = pl.read_csv(path, has_header=False, columns=list(range(len(types))),
                            schema_overrides=[*types, *(types[-1:] * (width - len(types)))])
    except pl.exceptions.NoDataError:
        raise SourceError(f"{path}: the file is empty: pass the LOBSTER {what} file") from None
    except pl.exceptions.PolarsError:
        raise _bad_line(path, width, what) from None
    if frame.width != len(types) or scan.result().commas != frame.height * (width - 1):
        raise _bad_line(path, width, what)
    nulls = frame.null_count().row(0)
    if any(nulls):
        column = frame.to_series(next(i for i, n in enumerate(nulls) if n))
        line = int(np.argmax(column.is_null().to_numpy())) + 1
        raise SourceError(f"{path}: line {line}: an empty field: the file is damaged")
    return [column.to_numpy() for column in frame.get_columns()]


def _width(path: Path, what: str) -> int:
    """Fields on the first line of a file (the orderbook's 4 x levels)."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file: pass the LOBSTER {what} file")
    with path.open("rb") as f:
        first = f.readline()
    return first.count(b",") + 1 if first.strip() else 0


def _check_names(message: Path, orderbook: Path, day: dt.date, symbol: str, levels: int) -> None:
    """The LOBSTER file names, when they follow the standard pattern, agree with the flags."""
    for path, kind in ((message, "message"), (orderbook, "orderbook")):
        match = FILE_NAME.match(path.name)
        if match is None:
            continue
        if match["kind"] != kind:
            raise SourceError(f"{path}: the name says it is a {match['kind']} file, passed as "
                              f"the {kind} file: give MESSAGE.csv first, then ORDERBOOK.csv")
        if match["date"] != day.isoformat():
            raise SourceError(f"{path}: the file is of {match['date']}, not --date {day}: "
                              "pass the tape's own date")
        if match["ticker"].upper() != symbol:
            raise SourceError(f"{path}: the file is of {match['ticker']}, not --symbol "
                              f"{symbol}: pass the tape's own ticker")
        if kind == "orderbook" and int(match["level"]) != levels:
            raise SourceError(f"{path}: the name says level {match['level']} but lines have "
                              f"{levels} level(s) of 4 fields: the file is damaged")


def read_lobster(message: Path, orderbook: Path, day: dt.date, symbol: str) -> ImportedTape:
    """A LOBSTER message/orderbook pair of ``symbol`` on ``day`` as an imported tape.

    Times become epoch ns (New York midnight of ``day`` plus the seconds), prices
    dollars. Raises :class:`SourceError` (naming the file, the line and what is wrong)
    for a missing, empty, foreign or truncated file, files of different lengths,
    unknown event types, times off ``day`` or going back, a non-positive execution, a
    crossed book, or file names of another day, ticker or kind.
    """
    symbol = symbol.upper()
    width = _width(orderbook, "orderbook")
    if width < 4 or width % 4:
        raise SourceError(f"{orderbook}: line 1 has {width} fields; a LOBSTER orderbook has 4 "
                          "per level (ask price, ask size, bid price, bid size)")
    _check_names(message, orderbook, day, symbol, width // 4)
    # Both files are hashed and counted on helper threads while polars parses them, the
    # message file on a third helper beside the orderbook on this thread.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="lobster-read") as pool:
        scans = [pool.submit(scan_file, path) for path in (message, orderbook)]
        parsed = pool.submit(_read, message, MESSAGE_TYPES, len(MESSAGE_COLUMNS), "message",
                             scans[0])
        try:
            book = _read(orderbook, BOOK_TYPES, width, "orderbook", scans[1])
        finally:
            msg = parsed.result()  # the message file's fault first, as it is read first
        hashes = tuple(scan.result().sha256 for scan in scans)
    n_msg, n_book = msg[0].size, book[0].size
    if n_msg != n_book:
        raise SourceError(f"{orderbook}: {n_book} lines but {message.name} has "
                          f"{n_msg}: LOBSTER writes one book line per message, so one "
                          "file is truncated or they are not a pair")
    seconds, kind, order_id, size, price, direction = msg
    bad = np.flatnonzero((kind < 1) | (kind > 7))
    if bad.size:
        raise SourceError(f"{message}: line {bad[0] + 1}: event type {kind[bad[0]]} is not "
                          "1-7: not a LOBSTER message file")
    ts_ns = midnight_ns(day) + np.round(seconds * 1e9).astype(np.int64)
    line = np.arange(1, n_msg + 1, dtype=np.int64)
    check_times(message, ts_ns, day, line)
    quotes = _quotes(orderbook, book, ts_ns, line, symbol)
    is_exec = np.isin(kind, list(EXECUTIONS))
    bad = np.flatnonzero(is_exec & ((size <= 0) | (price <= 0)))
    if bad.size:
        raise SourceError(f"{message}: line {bad[0] + 1}: an execution with size {size[bad[0]]} "
                          f"and price {price[bad[0]]}: both must be positive")
    rows = np.flatnonzero(is_exec)
    # buy (a sell order executed), sell, or none (a cross, or no direction)
    side = np.where(direction[rows] == -1, 0, np.where(direction[rows] == 1, 1, 2))
    side[kind[rows] == 6] = 2
    n = rows.size
    prints = pa.table({
        "ts_ns": ts_ns[rows],
        "underlying_id": pa.repeat(pa.scalar(symbol), n),
        "price": price[rows] / PRICE_SCALE,
        "size": size[rows],
        "exchange": pa.repeat(pa.scalar(VENUE), n),
        "offExchangeFlag": np.zeros(n, dtype=bool),
        "line": line[rows],
        "source_event": pa.array(list(EXECUTIONS.values())).take(
            pa.array(kind[rows] - min(EXECUTIONS))),
        "order_id": order_id[rows],
        "aggressor": pa.array(["buy", "sell", None], pa.string()).take(pa.array(side)),
    })
    spec = SourceSpec("lobster", "venue_bbo", (message, orderbook), (n_msg, n_book),
                      (VENUE,), venue=VENUE,
                      lacks=LACKS, quote_event="best_level_change",
                      options={"levels": width // 4}, sha256=hashes)
    return ImportedTape(day, (symbol,), quotes, prints, spec)


def _quotes(path: Path, book: list[np.ndarray], ts_ns: np.ndarray, line: np.ndarray,
            symbol: str) -> pa.Table:
    """Quotes from the best level: one per message after which the two-sided best
    (bid, ask) differs from the previous two-sided one.

    Raises:
        SourceError: a line whose best bid is at or above its best ask (a crossed book
            means the columns are not LOBSTER's ask, ask size, bid, bid size).
    """
    ask, bid = book[0], book[2]
    has_ask = (ask != EMPTY_ASK) & (ask > 0)
    has_bid = (bid != EMPTY_BID) & (bid > 0)
    two = np.flatnonzero(has_ask & has_bid)
    crossed = two[bid[two] >= ask[two]]
    if crossed.size:
        i = int(crossed[0])
        raise SourceError(f"{path}: line {i + 1}: best bid {bid[i]} is at or above best ask "
                          f"{ask[i]}: not a LOBSTER orderbook (ask price, ask size, bid price, "
                          "bid size per level)")
    rows = np.flatnonzero(new_quotes(np.zeros(bid.size, np.int64), bid, ask, has_ask & has_bid))
    return pa.table({
        "ts_ns": ts_ns[rows],
        "underlying_id": pa.repeat(pa.scalar(symbol), rows.size),
        "bid": bid[rows] / PRICE_SCALE,
        "ask": ask[rows] / PRICE_SCALE,
        "line": line[rows],
    })
