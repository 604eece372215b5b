"""The US equity session calendar: trading days, open and close, time conversion.

Simulation time is integer nanoseconds since the session's open; canonical events
carry integer epoch milliseconds (UTC). This module maps between the two and knows
which days the NYSE trades (weekends and the exchange's full holidays are closed;
the usual early closes end at 13:00 New York time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
REGULAR_OPEN = dt.time(9, 30)
REGULAR_CLOSE = dt.time(16, 0)
EARLY_CLOSE = dt.time(13, 0)


def _easter(year: int) -> dt.date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@cache
def nyse_holidays(year: int) -> frozenset[dt.date]:
    """Full-day NYSE closures of a year (observed dates)."""
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - dt.timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),
    }
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year is not observed on Dec 31
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(dt.date(year, 6, 19)))  # Juneteenth
    return frozenset(days)


def is_trading_day(day: dt.date) -> bool:
    """Whether the NYSE holds a regular session on ``day``: a weekday that is not one of
    :func:`nyse_holidays` (early-close days count as trading days).
    """
    return day.weekday() < 5 and day not in nyse_holidays(day.year)


def close_time(day: dt.date) -> dt.time:
    """13:00 on the early-close days (July 3, the day after Thanksgiving, Dec 24)."""
    early = {
        _nth_weekday(day.year, 11, 3, 4) + dt.timedelta(days=1),
        dt.date(day.year, 12, 24),
    }
    if dt.date(day.year, 7, 4).weekday() not in (5, 6):
        early.add(dt.date(day.year, 7, 3))
    return EARLY_CLOSE if day in early and is_trading_day(day) else REGULAR_CLOSE



def epoch_ms(day: dt.date, at: dt.time) -> int:
    """Epoch milliseconds (UTC) of a New York wall-clock time on ``day``."""
    local = dt.datetime.combine(day, at, tzinfo=NEW_YORK)
    return int(local.timestamp()) * 1000 + local.microsecond // 1000


@dataclass(frozen=True)
class Session:
    """One trading session and the simulated window inside it.

    ``start_ns`` and ``end_ns`` are simulation times (ns since the open) of the
    window a run simulates; the open itself is time 0.
    """

    date: dt.date
    open_ms: int
    close_ms: int
    start_ns: int
    end_ns: int

    @classmethod
    def build(cls, day: dt.date, start: dt.time | None, end: dt.time | None) -> Session:
        """The session of ``day`` simulating New York wall-clock ``start`` to ``end``.

        ``None`` means the open (09:30) or the day's close (16:00, 13:00 on early-close
        days). Times are converted through :func:`epoch_ms`; the window is stored as ns
        since the open. No check is made that ``day`` is a trading day or that the window
        lies inside the session: the run config validates both.
        """
        open_ms = epoch_ms(day, REGULAR_OPEN)
        close_ms = epoch_ms(day, close_time(day))
        start_ms = epoch_ms(day, start) if start else open_ms
        end_ms = epoch_ms(day, end) if end else close_ms
        return cls(day, open_ms, close_ms, (start_ms - open_ms) * NS_PER_MS,
                   (end_ms - open_ms) * NS_PER_MS)

    @property
    def length_ns(self) -> int:
        """Nanoseconds from the open to the close."""
        return (self.close_ms - self.open_ms) * NS_PER_MS

    @property
    def start_ms(self) -> int:
        """Epoch milliseconds (UTC) of the simulated window's start."""
        return self.open_ms + self.start_ns // NS_PER_MS

    @property
    def end_ms(self) -> int:
        """Epoch milliseconds (UTC) of the simulated window's end."""
        return self.open_ms + self.end_ns // NS_PER_MS

