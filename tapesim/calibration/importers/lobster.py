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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tapesim.calibration.importers.tape import (
    ImportedTape,
    SourceError,
    SourceSpec,
    check_times,
    is_number,
    locate_bad_row,
    midnight_ns,
    new_quotes,
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
_READ = pacsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24)


def _read(path: Path, types: dict[str, pa.DataType], width: int, what: str) -> pa.Table:
    """The typed columns of a header-less LOBSTER CSV of ``width`` fields per line.

    Raises:
        SourceError: missing, empty, or a line of another width or with a non-number.
    """
    if not path.is_file():
        raise SourceError(f"{path}: no such file: pass the LOBSTER {what} file")
    try:
        return pacsv.read_csv(path, read_options=_READ, convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(types)))
    except pa.ArrowInvalid as err:
        if "Empty CSV" in str(err):
            raise SourceError(f"{path}: the file is empty: pass the LOBSTER {what} file") from None
        where = locate_bad_row(path, width, lambda row: next(
            (f"field {i + 1} {v!r} is not a number" for i, v in enumerate(row)
             if not is_number(v)), None))
        raise SourceError(f"{path}: {where}: not a LOBSTER {what} file") from None


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
    msg = _read(message, {"f0": pa.float64(), **{f"f{i}": pa.int64() for i in range(1, 6)}},
                len(MESSAGE_COLUMNS), "message")
    book = _read(orderbook, {f"f{i}": pa.int64() for i in range(4)}, width, "orderbook")
    if msg.num_rows != book.num_rows:
        raise SourceError(f"{orderbook}: {book.num_rows} lines but {message.name} has "
                          f"{msg.num_rows}: LOBSTER writes one book line per message, so one "
                          "file is truncated or they are not a pair")
    empty = [c for c in (*msg.columns, *book.columns) if c.null_count]
    if empty:
        column = empty[0]
        line = int(np.argmax(pc.is_null(column).to_numpy(zero_copy_only=False))) + 1
        raise SourceError(f"{message if column in msg.columns else orderbook}: line {line}: "
                          "an empty field: the file is damaged")
    seconds, kind, order_id, size, price, direction = (msg.column(i).to_numpy()
                                                      for i in range(6))
    bad = np.flatnonzero((kind < 1) | (kind > 7))
    if bad.size:
        raise SourceError(f"{message}: line {bad[0] + 1}: event type {kind[bad[0]]} is not "
                          "1-7: not a LOBSTER message file")
    ts_ns = midnight_ns(day) + np.round(seconds * 1e9).astype(np.int64)
    line = np.arange(1, msg.num_rows + 1, dtype=np.int64)
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
    spec = SourceSpec("lobster", "venue_bbo", (message, orderbook), (msg.num_rows, book.num_rows),
                      (VENUE,), venue=VENUE,
                      lacks=LACKS, quote_event="best_level_change",
                      options={"levels": width // 4})
    return ImportedTape(day, (symbol,), quotes, prints, spec)


def _quotes(path: Path, book: pa.Table, ts_ns: np.ndarray, line: np.ndarray,
            symbol: str) -> pa.Table:
    """Quotes from the best level: one per message after which the two-sided best
    (bid, ask) differs from the previous two-sided one.

    Raises:
        SourceError: a line whose best bid is at or above its best ask (a crossed book
            means the columns are not LOBSTER's ask, ask size, bid, bid size).
    """
    ask, bid = book.column("f0").to_numpy(), book.column("f2").to_numpy()
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
