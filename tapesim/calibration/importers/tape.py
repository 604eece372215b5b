"""What every importer hands the shared writer: one day's quotes and prints of a real tape.

An importer reads its format into an :class:`ImportedTape`: two Arrow tables in the
source's own order (:data:`QUOTE_COLUMNS`, :data:`PRINT_COLUMNS`; times in epoch
nanoseconds UTC, prices in float dollars, sizes in shares), the day, the symbols and
what the source is (:class:`SourceSpec`). :mod:`tapesim.calibration.importers.writer`
turns it into a canonical run directory. Everything wrong with the input is a
:class:`SourceError`, one line naming the file, the line or column, and what is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from tapesim.sim.calendar import NEW_YORK, NS_PER_MS, is_trading_day

QUOTE_COLUMNS = pa.schema([
    ("ts_ns", pa.int64()),  # epoch ns UTC
    ("underlying_id", pa.string()),
    ("bid", pa.float64()),  # dollars
    ("ask", pa.float64()),  # dollars
    ("line", pa.int64()),  # 1-based line of the source file
])
PRINT_COLUMNS = pa.schema([
    ("ts_ns", pa.int64()),  # epoch ns UTC
    ("underlying_id", pa.string()),
    ("price", pa.float64()),  # dollars
    ("size", pa.int64()),  # shares
    ("exchange", pa.string()),  # venue code, or a TRF code when off-exchange
    ("offExchangeFlag", pa.bool_()),
    ("line", pa.int64()),  # 1-based line of the source file
    ("source_event", pa.string()),  # e.g. visible_execution, hidden_execution, trade
    ("order_id", pa.int64()),  # the source's order reference, null when it has none
    ("aggressor", pa.string()),  # buy | sell as the source states it, null when unknown
])


class SourceError(ValueError):
    """Input that cannot be imported; the message is one line naming the file, the line or
    column, and what is wrong (the command exits 2 with it)."""


@dataclass(frozen=True)
class SourceSpec:
    """What a source is, for the manifest's ``source`` (``events.manifest.RunSource``).

    ``format`` names the importer; ``quotes`` is ``nbbo``, ``venue_bbo`` or ``none``;
    ``venue`` the single venue's code; ``rows`` each file's data rows (parallel to
    ``files``); ``lit`` and ``trf`` the exchange codes its prints
    carry (lit venues, off-exchange reporting facilities); ``files`` the source files;
    ``lacks`` what the source does not carry, in words; ``quote_event`` what a quote is
    in ``source_events.parquet``; ``options`` the importer's own
    settings (e.g. the column map), pinned in the parameter snapshot; ``sha256`` each
    file's hex sha256 when the importer hashed it while reading (parallel to ``files``;
    empty: the writer hashes the files).
    """

    format: str
    quotes: str
    files: tuple[Path, ...]
    rows: tuple[int, ...]
    lit: tuple[str, ...]
    trf: tuple[str, ...] = ()
    venue: str | None = None
    lacks: tuple[str, ...] = ()
    quote_event: str = "quote"
    options: dict[str, object] = field(default_factory=dict)
    sha256: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportedTape:
    """One trading day of a real tape, before canonicalisation.

    ``quotes`` and ``prints`` follow :data:`QUOTE_COLUMNS` and :data:`PRINT_COLUMNS`, each
    in source order (times non-decreasing); ``symbols`` in the order they first appear.
    """

    day: dt.date
    symbols: tuple[str, ...]
    quotes: pa.Table
    prints: pa.Table
    spec: SourceSpec


def trading_day(text: str) -> dt.date:
    """``--date YYYY-MM-DD`` as a date that must be an NYSE trading day.

    Raises:
        SourceError: not an ISO date, or a weekend or exchange holiday.
    """
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise SourceError(f"--date {text!r} is not a date: write YYYY-MM-DD") from None
    if not is_trading_day(day):
        raise SourceError(f"--date {day} is not an NYSE trading day (a weekend or holiday): "
                          "pass the day the tape was recorded")
    return day


def midnight_ns(day: dt.date, zone: dt.tzinfo = NEW_YORK) -> int:
    """Epoch nanoseconds (UTC) of midnight on ``day`` in ``zone`` (New York by default)."""
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)
    return int(local.timestamp()) * 1_000_000_000


def check_times(path: Path, ts_ns: np.ndarray, day: dt.date, lines: np.ndarray,
                what: str = "time", group: np.ndarray | None = None) -> None:
    """Check source times (epoch ns, file order) lie on ``day`` (New York) and never go back.

    ``lines`` holds the 1-based file line of each time; ``group`` (an integer per row,
    e.g. a symbol's code) makes the order check per group, for files sorted by symbol
    and then time.

    Raises:
        SourceError: naming the first line whose time is on another day, or earlier than
            the line before it (of its group).
    """
    if ts_ns.size == 0:
        return
    start = midnight_ns(day)
    end = midnight_ns(day + dt.timedelta(days=1))
    off = np.flatnonzero((ts_ns < start) | (ts_ns >= end))
    if off.size:
        i = int(off[0])
        when = dt.datetime.fromtimestamp(int(ts_ns[i]) // NS_PER_MS / 1000, NEW_YORK)
        raise SourceError(f"{path}: line {lines[i]}: {what} {when:%Y-%m-%d %H:%M:%S} "
                          f"New York is not on --date {day}: pass the tape's own date")
    # i: the rows whose time is earlier than that of row j, the row before them
    if group is None:  # in file order: each row against the one before it
        i = np.flatnonzero(ts_ns[1:] < ts_ns[:-1]) + 1
        j = i - 1
    else:
        order = np.argsort(group, kind="stable")  # each group's rows, in file order
        after, before = order[1:], order[:-1]
        back = (ts_ns[after] < ts_ns[before]) & (group[after] == group[before])
        i, j = after[back], before[back]
    if i.size:
        first = int(np.argmin(lines[i]))
        raise SourceError(f"{path}: line {lines[i[first]]}: {what} goes back from line "
                          f"{lines[j[first]]}: the file must be in time order")


def new_quotes(group: np.ndarray, bid: np.ndarray, ask: np.ndarray,
               two_sided: np.ndarray) -> np.ndarray:
    """Which rows are quotes to write: two-sided, and not equal to their group's previous
    two-sided (bid, ask).

    ``group`` holds an integer per row (the symbol, as a code); the arrays are parallel
    and in source order. Returns a boolean mask of the rows.
    """
    rows = np.flatnonzero(two_sided)
    if rows.size and not (group[rows] == group[rows[0]]).all():
        rows = rows[np.argsort(group[rows], kind="stable")]  # each group's rows, in order
    repeat = np.zeros(group.size, dtype=bool)
    after, before = rows[1:], rows[:-1]
    repeat[after] = ((group[after] == group[before]) & (bid[after] == bid[before])
                     & (ask[after] == ask[before]))
    return two_sided & ~repeat


@dataclass(frozen=True)
class FileScan:
    """One pass over a source file's bytes: its hex ``sha256``, and how many commas it
    holds (a CSV's field count, checked against what the parser read)."""

    sha256: str
    commas: int


SCAN_BLOCK = 1 << 23  # bytes hashed and counted at a time by scan_file
COMMA = ord(",")


def scan_file(path: Path) -> FileScan:
    """Hash ``path`` and count its commas in one pass over the file mapped into memory,
    :data:`SCAN_BLOCK` bytes at a time (no copy of the bytes). Hashing and numpy's
    counting release the GIL, so a reader parsing the same file on other threads goes on
    meanwhile (the importers run it beside their parser). Raises ``OSError`` when the
    file cannot be read."""
    digest = hashlib.sha256()
    commas = 0
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:  # mmap refuses an empty file
            return FileScan(digest.hexdigest(), 0)
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = np.frombuffer(mapped, dtype=np.uint8)
            for start in range(0, data.size, SCAN_BLOCK):
                block = data[start:start + SCAN_BLOCK]
                digest.update(block)
                commas += int(np.count_nonzero(block == COMMA))
            del data, block  # views of the mapping must go before it closes
    return FileScan(digest.hexdigest(), commas)


def locate_bad_row(path: Path, width: int | None, check: Callable[[list[str]], str | None],
                   skip: int = 0) -> str:
    """The first line of a CSV file the fast reader refused, as ``line N: what``.

    Only called once the vectorised reader failed, so it may be slow: it reads the file
    with :mod:`csv`, skipping ``skip`` header lines, and reports the first row whose
    number of fields is not ``width`` (when given) or for which ``check`` returns a
    description of what is wrong. Returns ``"a line"`` text when nothing is found.
    """
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if number <= skip:
                continue
            if width is not None and len(row) != width:
                return (f"line {number}: {len(row)} fields where {width} are expected "
                        "(a truncated or foreign file?)")
            problem = check(row)
            if problem:
                return f"line {number}: {problem}"
    return "a line could not be read"


def is_number(text: str) -> bool:
    """Whether a CSV field parses as a number (int or float)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
