"""A vendor CSV of prints and/or quotes, read through a column map, to an imported tape.

The map (TOML) names the file's columns and how to read them::

    quotes = "nbbo"                 # what bid/ask are: nbbo | venue_bbo
    [columns]
    ts = "timestamp"                # required
    symbol = "sym"                  # or pass --symbol
    price = "price"                 # prints: price and size together
    size = "size"
    bid = "bid"                     # quotes: bid and ask together
    ask = "ask"
    exchange = "ex"                 # optional
    [time]
    format = "iso"                  # iso | epoch_s | epoch_ms | epoch_us | epoch_ns |
                                    # seconds_after_midnight | time_of_day
    zone = "America/New_York"       # zone of times without an offset
    [prices]
    unit = "dollars"                # dollars | cents | ten_thousandths | nanodollars
    [venues]
    default = "NASDAQ"              # the exchange of every print when there is no column
    off_exchange = ["FINN", "FINY"] # exchange codes reported off-exchange (TRF)

A row with price and size is a print; a row with bid and ask a quote (both makes
both); a quote with an empty or non-positive side, or equal to the symbol's previous
quote, emits nothing. The file needs one
header line; rows must be in time order per symbol.
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pydantic import Field, ValidationError, field_validator, model_validator

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
from tapesim.sim.strict import Strict, venue_codes

TimeFormat = Literal["iso", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns",
                     "seconds_after_midnight", "time_of_day"]
PRICE_UNITS = {"dollars": 1, "cents": 100, "ten_thousandths": 10_000,
               "nanodollars": 1_000_000_000}  # units per dollar
EPOCH_NS = {"epoch_ms": 1_000_000, "epoch_us": 1_000, "epoch_ns": 1}


class Columns(Strict):
    """Which CSV column holds each field (header names); price/size and bid/ask in pairs."""

    ts: str
    symbol: str | None = None
    price: str | None = None
    size: str | None = None
    bid: str | None = None
    ask: str | None = None
    exchange: str | None = None

    @model_validator(mode="after")
    def _pairs(self) -> Columns:
        if (self.price is None) != (self.size is None):
            raise ValueError("price and size go together: name both columns or neither")
        if (self.bid is None) != (self.ask is None):
            raise ValueError("bid and ask go together: name both columns or neither")
        names = [v for v in self.model_dump().values() if v is not None]
        if len(set(names)) != len(names):
            raise ValueError("each field needs its own column")
        if self.price is None and self.bid is None:
            raise ValueError("name price and size (prints), bid and ask (quotes), or all four")
        return self


class TimeSpec(Strict):
    """How the ts column reads: its format and the zone of times without an offset."""

    format: TimeFormat = "iso"
    zone: str = "America/New_York"

    @field_validator("zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as "
                             "America/New_York") from None
        return v


class Prices(Strict):
    """The unit of the price, bid and ask columns."""

    unit: Literal["dollars", "cents", "ten_thousandths", "nanodollars"] = "dollars"


class Venues(Strict):
    """Exchange codes: the default for a file without an exchange column, and which codes
    are off-exchange reporting facilities."""

    default: str | None = None
    off_exchange: list[str] = Field(default_factory=list)

    @field_validator("off_exchange")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return venue_codes(v) if v else v


class ColumnMap(Strict):
    """A CSV column map (see the module docstring); ``quotes`` says whether bid/ask are an
    NBBO or one venue's BBO; ``delimiter`` is the field separator."""

    quotes: Literal["nbbo", "venue_bbo"] = "nbbo"
    delimiter: str = ","
    columns: Columns
    time: TimeSpec = TimeSpec()
    prices: Prices = Prices()
    venues: Venues = Venues()


def load_map(path: Path) -> ColumnMap:
    """The column map in the TOML file ``path``.

    Raises:
        SourceError: no such file, not TOML, or a field missing or wrong (named, with
            the fix).
    """
    if not path.is_file():
        raise SourceError(f"--map {path}: no such file: pass a column map (TOML)")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"--map {path}: not TOML ({err})") from None
    try:
        return ColumnMap.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "map"
        raise SourceError(f"--map {path}: field '{where}': {first['msg']}") from None


def _ts_type(fmt: TimeFormat) -> pa.DataType:
    if fmt == "iso":
        return pa.string()
    if fmt == "time_of_day":
        return pa.time64("ns")
    return pa.float64() if fmt in ("epoch_s", "seconds_after_midnight") else pa.int64()


def _types(m: ColumnMap) -> dict[str, tuple[str, pa.DataType]]:
    """Map field -> (column name, Arrow type) of every mapped column."""
    c = m.columns
    wanted: dict[str, tuple[str | None, pa.DataType]] = {
        "ts": (c.ts, _ts_type(m.time.format)), "symbol": (c.symbol, pa.string()),
        "price": (c.price, pa.float64()), "size": (c.size, pa.int64()),
        "bid": (c.bid, pa.float64()), "ask": (c.ask, pa.float64()),
        "exchange": (c.exchange, pa.string())}
    return {f: (name, t) for f, (name, t) in wanted.items() if name is not None}


def _read(path: Path, m: ColumnMap, map_path: Path) -> pa.Table:
    """The mapped columns of ``path``, typed; columns named by the map field."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file: pass the CSV file")
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f, delimiter=m.delimiter), [])
    types = _types(m)
    for field, (name, _t) in types.items():
        if name not in header:
            raise SourceError(f"{path}: line 1: no column {name!r} (map field columns.{field} "
                              f"in {map_path}); the header has {', '.join(header) or 'nothing'}")
    column_types = {name: t for name, t in types.values()}
    try:
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=m.delimiter),
                               convert_options=pacsv.ConvertOptions(
                                   column_types=column_types, include_columns=list(column_types),
                                   strings_can_be_null=True))
    except pa.ArrowInvalid as err:
        numeric = [header.index(name) for name, t in column_types.items()
                   if pa.types.is_integer(t) or pa.types.is_floating(t)]

        def check(row: list[str]) -> str | None:
            bad = next((i for i in numeric if row[i] and not is_number(row[i])), None)
            return None if bad is None else f"column {header[bad]!r}: {row[bad]!r} is not a number"

        where = locate_bad_row(path, len(header), check, skip=1)
        raise SourceError(f"{path}: {where} ({str(err).splitlines()[0]})") from None
    field_of = {name: f for f, (name, _t) in types.items()}
    return table.rename_columns([field_of[c] for c in table.column_names])


def _iso_ns(path: Path, column: pa.ChunkedArray, zone: str, lines: np.ndarray) -> np.ndarray:
    """ISO-8601 text to epoch ns: values with an offset as written, others in ``zone``."""
    try:
        stamps = pc.cast(column, pa.timestamp("ns", "UTC"))
    except pa.ArrowInvalid:
        try:
            stamps = pc.assume_timezone(pc.cast(column, pa.timestamp("ns")), zone)
        except pa.ArrowInvalid:
            for i, value in enumerate(column.to_pylist()):
                try:
                    pc.cast(pa.array([value]), pa.timestamp("ns"))
                except pa.ArrowInvalid:
                    raise SourceError(f"{path}: line {lines[i]}: time {value!r} is not ISO-8601 "
                                      "(YYYY-MM-DD HH:MM:SS[.fff]): fix the map's "
                                      "time.format") from None
            raise SourceError(f"{path}: times mix values with and without a zone offset, or "
                              f"fall in a gap of {zone}: fix the file or time.zone") from None
    return pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False)


def _times(path: Path, t: pa.Table, m: ColumnMap, day: dt.date, lines: np.ndarray) -> np.ndarray:
    """The ts column as epoch ns UTC."""
    column = t.column("ts")
    fmt = m.time.format
    if column.null_count:
        i = int(np.argmax(pc.is_null(column).to_numpy(zero_copy_only=False)))
        raise SourceError(f"{path}: line {lines[i]}: no time in column {m.columns.ts!r}")
    if fmt == "iso":
        return _iso_ns(path, column, m.time.zone, lines)
    zone = ZoneInfo(m.time.zone)
    if fmt == "time_of_day":
        return midnight_ns(day, zone) + pc.cast(column, pa.int64()).to_numpy()
    values = column.to_numpy()
    if fmt == "seconds_after_midnight":
        return midnight_ns(day, zone) + np.round(values * 1e9).astype(np.int64)
    if fmt == "epoch_s":
        return np.round(values * 1e9).astype(np.int64)
    return values.astype(np.int64) * EPOCH_NS[fmt]


def _symbols(path: Path, t: pa.Table, symbol: str | None) -> tuple[pa.Table, np.ndarray,
                                                                   tuple[str, ...]]:
    """Rows of the wanted symbol(s), their file lines, and the symbols in order of first
    appearance."""
    lines = np.arange(2, t.num_rows + 2, dtype=np.int64)
    if "symbol" not in t.column_names:
        if symbol is None:
            raise SourceError(f"{path}: the map names no columns.symbol: pass --symbol")
        name = symbol.upper()
        return t.append_column("underlying_id", pa.repeat(pa.scalar(name), t.num_rows)), \
            lines, (name,)
    upper = pc.utf8_upper(t.column("symbol"))
    if symbol is not None:
        keep = pc.equal(upper, symbol.upper()).fill_null(False)
        t, upper = t.filter(keep), upper.filter(keep)
        lines = lines[keep.to_numpy(zero_copy_only=False)]
        if t.num_rows == 0:
            raise SourceError(f"{path}: no row of --symbol {symbol.upper()}")
    if upper.null_count:
        i = int(np.argmax(pc.is_null(upper).to_numpy(zero_copy_only=False)))
        raise SourceError(f"{path}: line {lines[i]}: no symbol")
    order = tuple(dict.fromkeys(pc.unique(upper).to_pylist()))
    return t.append_column("underlying_id", upper), lines, order


def _pair_rows(path: Path, t: pa.Table, a: str, b: str, lines: np.ndarray) -> np.ndarray:
    """Rows where both fields of a pair are present; a row with one of them is an error."""
    if a not in t.column_names:
        return np.zeros(t.num_rows, dtype=bool)
    has_a = pc.is_valid(t.column(a)).to_numpy(zero_copy_only=False)
    has_b = pc.is_valid(t.column(b)).to_numpy(zero_copy_only=False)
    half = np.flatnonzero(has_a != has_b)
    if half.size:
        raise SourceError(f"{path}: line {lines[half[0]]}: {a} without {b} or {b} without {a}")
    return has_a


def read_csv(path: Path, m: ColumnMap, day: dt.date, symbol: str | None,
             map_path: Path = Path("map.toml")) -> ImportedTape:
    """The prints and quotes of a CSV file read through column map ``m``, on ``day``.

    Raises :class:`SourceError` naming the file, the line or column and what is wrong:
    a missing column, a value that is not a number or time, a row that is neither a
    print nor a quote, times off ``day`` or going back within a symbol, a print with a
    non-positive price or size, or prints without an exchange column or default.
    """
    t = _read(path, m, map_path)
    rows_in_file = t.num_rows
    t, lines, symbols = _symbols(path, t, symbol)
    ts = _times(path, t, m, day, lines)
    group = pc.dictionary_encode(t.column("underlying_id").combine_chunks()).indices
    check_times(path, ts, day, lines, group=group.to_numpy(zero_copy_only=False))
    is_print = _pair_rows(path, t, "price", "size", lines)
    is_quote = _pair_rows(path, t, "bid", "ask", lines)
    neither = np.flatnonzero(~is_print & ~is_quote)
    if neither.size:
        raise SourceError(f"{path}: line {lines[neither[0]]}: neither a print (price, size) "
                          "nor a quote (bid, ask)")
    scale = PRICE_UNITS[m.prices.unit]
    prints = _prints(path, t, m, ts, lines, is_print, scale)
    quotes = _quotes(t, ts, lines, is_quote, scale)
    exchanges = prints.column("exchange").unique().to_pylist() if prints.num_rows else []
    off = set(m.venues.off_exchange)
    lacks = [what for what, missing in (("quotes", m.columns.bid is None),
                                        ("prints", m.columns.price is None),
                                        ("off-exchange prints", not off)) if missing]
    spec = SourceSpec("csv", m.quotes if m.columns.bid else "none", (path,), (rows_in_file,),
                      tuple(x for x in exchanges if x not in off),
                      tuple(x for x in exchanges if x in off),
                      venue=m.venues.default if m.columns.exchange is None else None,
                      lacks=(*lacks, "parent orders"),
                      options=m.model_dump(mode="json"))
    return ImportedTape(day, symbols, quotes, prints, spec)


def _prints(path: Path, t: pa.Table, m: ColumnMap, ts: np.ndarray, lines: np.ndarray,
            rows: np.ndarray, scale: int) -> pa.Table:
    idx = np.flatnonzero(rows)
    price = t.column("price").to_numpy(zero_copy_only=False)[idx] if idx.size else np.zeros(0)
    size = t.column("size").to_numpy(zero_copy_only=False)[idx] if idx.size else np.zeros(0)
    bad = np.flatnonzero((price <= 0) | (size <= 0))
    if bad.size:
        raise SourceError(f"{path}: line {lines[idx[bad[0]]]}: a print with price "
                          f"{price[bad[0]]} and size {size[bad[0]]}: both must be positive")
    if "exchange" in t.column_names:
        exchange = t.column("exchange").take(pa.array(idx)).combine_chunks()
        if exchange.null_count:
            if m.venues.default is None:
                i = int(np.argmax(pc.is_null(exchange).to_numpy(zero_copy_only=False)))
                raise SourceError(f"{path}: line {lines[idx[i]]}: a print without an exchange: "
                                  "fill the column or set venues.default in the map")
            exchange = exchange.fill_null(m.venues.default)
    elif idx.size and m.venues.default is None:
        raise SourceError(f"{path}: the map names no columns.exchange: set venues.default "
                          "(the exchange code of every print)")
    else:
        exchange = pa.repeat(pa.scalar(m.venues.default, pa.string()), idx.size)
    codes = exchange.unique().to_pylist()
    try:
        venue_codes(codes) if codes else None
    except ValueError as err:
        raise SourceError(f"{path}: column {m.columns.exchange or 'venues.default'}: {err}") \
            from None
    off = pc.is_in(exchange, value_set=pa.array(m.venues.off_exchange, pa.string()))
    n = idx.size
    return pa.table({
        "ts_ns": ts[idx],
        "underlying_id": t.column("underlying_id").take(pa.array(idx)),
        "price": price / scale,
        "size": size.astype(np.int64),
        "exchange": exchange,
        "offExchangeFlag": off,
        "line": lines[idx],
        "source_event": pa.repeat(pa.scalar("trade"), n),
        "order_id": pa.nulls(n, pa.int64()),
        "aggressor": pa.nulls(n, pa.string()),
    })


def _quotes(t: pa.Table, ts: np.ndarray, lines: np.ndarray, rows: np.ndarray,
            scale: int) -> pa.Table:
    idx = np.flatnonzero(rows)
    bid = ask = np.zeros(0)
    if idx.size:
        bid = t.column("bid").to_numpy(zero_copy_only=False)[idx]
        ask = t.column("ask").to_numpy(zero_copy_only=False)[idx]
        symbol = t.column("underlying_id").take(pa.array(idx)).combine_chunks()
        group = pc.dictionary_encode(symbol).indices.to_numpy(zero_copy_only=False)
        keep = new_quotes(group, bid, ask, (bid > 0) & (ask > 0))  # an empty side: none
        idx, bid, ask = idx[keep], bid[keep], ask[keep]
    return pa.table({
        "ts_ns": ts[idx],
        "underlying_id": t.column("underlying_id").take(pa.array(idx, pa.int64())),
        "bid": bid / scale,
        "ask": ask / scale,
        "line": lines[idx],
    })
