"""The US equity session calendar: trading days, open and close, time conversion.

Simulation time is integer nanoseconds since the session's open; canonical events
carry integer epoch milliseconds (UTC). This module maps between the two and says
which days the NYSE trades and when, from the maintained exchange calendar of the
``exchange_calendars`` library (``XNYS``): weekends, the exchange's holidays as it
observed them in each year (Martin Luther King Jr. Day only from 1998, Juneteenth
from 2022), its ad hoc closures (2001-09-11 to 09-14, Hurricane Sandy on
2012-10-29/30, national days of mourning such as 2018-12-05 and 2025-01-09) and its
early closes (13:00 New York since 1993, 14:00 before).

The library's XNYS hours are 09:30-16:00 on every day it knows; the NYSE has kept
those hours since 1985-09-30 (it opened at 10:00 before). So the sessions tapesim
simulates run from :data:`FIRST_SESSION` to :data:`LAST_SESSION`, and the calendar
is built up to :data:`CALENDAR_END` so that every option expiry listed on the last
session (up to 24 monthlies ahead) is inside it. Days after the library's release
follow its rules; a closure announced later is not in it.

The library pulls in pandas (about a second to import and build), so the calendar
is loaded on first use (:func:`exchange_days`), not when this module is imported:
the constants and :class:`Session` arithmetic stay cheap for the CLI and workers.
Once built, it is kept as plain dates in a JSON file under ``$XDG_CACHE_HOME/tapesim``
(``~/.cache`` by default) named by the library's version and the range
(:func:`cache_path`), so later processes read it in milliseconds instead of building
it again; a missing, damaged or unwritable cache only means building it.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import importlib.metadata as md
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
REGULAR_OPEN = dt.time(9, 30)
REGULAR_CLOSE = dt.time(16, 0)
#: The exchange whose calendar sets the session (ISO 10383 MIC of the NYSE).
EXCHANGE = "XNYS"
#: The first session simulated: the NYSE's 09:30 open dates from 1985-09-30.
FIRST_SESSION = dt.date(1985, 9, 30)
#: The last session simulated; two years before :data:`CALENDAR_END`, the longest
#: listing (24 monthly expiries) ahead of it.
LAST_SESSION = dt.date(2038, 12, 31)
#: The last day the calendar is built for.
CALENDAR_END = dt.date(2040, 12, 31)


class CalendarRangeError(ValueError):
    """A day outside the days the exchange calendar is built for
    (:data:`FIRST_SESSION` to :data:`CALENDAR_END`)."""


@dataclass(frozen=True)
class ExchangeDays:
    """The exchange calendar as plain Python values, built once per process.

    ``sessions`` are the trading days in ascending order and ``days`` the same as a
    set; ``opens`` and ``closes`` hold the New York wall-clock open and close of the
    sessions whose hours differ from 09:30 and 16:00 (early closes, late opens) and
    nothing else.
    """

    sessions: tuple[dt.date, ...]
    days: frozenset[dt.date]
    opens: dict[dt.date, dt.time]
    closes: dict[dt.date, dt.time]


def _wall_clock(times: pd.Series, regular: dt.time) -> dict[dt.date, dt.time]:
    """The New York times of a pandas Series of UTC timestamps indexed by session, for
    the sessions where they differ from ``regular``."""
    local = times.dt.tz_convert(NEW_YORK.key)
    out: dict[dt.date, dt.time] = {}
    for session, stamp in local.items():
        if stamp.time() != regular:
            out[session.date()] = stamp.time()
    return out


_LOADED: list[ExchangeDays] = []  # this process's calendar, once loaded or adopted


def exchange_days() -> ExchangeDays:
    """The :data:`EXCHANGE` calendar from :data:`FIRST_SESSION` to :data:`CALENDAR_END`
    (``exchange_calendars.get_calendar``), loaded on first use and kept."""
    if not _LOADED:
        _LOADED.append(_load())
    return _LOADED[0]


def adopt_exchange_days(days: ExchangeDays) -> None:
    """Use ``days``, built by another process, as this process's calendar: the shard
    runner's workers adopt the parent's (:func:`tapesim.sim.shards.run_shards`) rather
    than import the library and build it again (about a second each)."""
    _LOADED[:] = [days]


#: The cache file's layout; a change makes a new file name, so an old file is never read.
CACHE_LAYOUT = 1


def cache_path() -> Path:
    """Where the built calendar is kept between processes: ``$XDG_CACHE_HOME/tapesim/``
    ``calendar-XNYS-<exchange-calendars version>-<first>-<end>-v<layout>.json``
    (``~/.cache`` when ``XDG_CACHE_HOME`` is unset). A new library version, range or
    layout reads a new file, so a stale calendar is never used.

    Raises:
        RuntimeError: no home directory can be found (and ``XDG_CACHE_HOME`` is unset).
        importlib.metadata.PackageNotFoundError: exchange-calendars is not installed.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    version = md.version("exchange-calendars")
    return Path(base) / "tapesim" / (f"calendar-{EXCHANGE}-{version}-{FIRST_SESSION}-"
                                     f"{CALENDAR_END}-v{CACHE_LAYOUT}.json")


def _document(days: ExchangeDays) -> dict[str, Any]:
    """``days`` as JSON values: ISO dates, and ``HH:MM:SS`` wall-clock times."""
    return {"sessions": [d.isoformat() for d in days.sessions],
            "opens": {d.isoformat(): t.isoformat() for d, t in days.opens.items()},
            "closes": {d.isoformat(): t.isoformat() for d, t in days.closes.items()}}


def _from_document(doc: dict[str, Any]) -> ExchangeDays:
    """The calendar a :func:`_document` holds.

    Raises:
        ValueError, KeyError, TypeError, AttributeError: not such a document.
    """
    sessions = tuple(dt.date.fromisoformat(d) for d in doc["sessions"])
    if not sessions or list(sessions) != sorted(set(sessions)):
        raise ValueError("the cached sessions are not ascending and distinct")

    def times(values: dict[str, str]) -> dict[dt.date, dt.time]:
        return {dt.date.fromisoformat(d): dt.time.fromisoformat(t) for d, t in values.items()}

    return ExchangeDays(sessions, frozenset(sessions), times(doc["opens"]),
                        times(doc["closes"]))


def _load() -> ExchangeDays:
    """The calendar from the cache file (:func:`cache_path`), else built
    (:func:`_build`) and written there for the next process (atomically; a failed write
    leaves no file)."""
    try:
        path = cache_path()
    except (RuntimeError, md.PackageNotFoundError):
        return _build()
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        return _from_document(json.loads(path.read_text("utf-8")))
    days = _build()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(_document(days), separators=(",", ":")), "utf-8")
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return days


def _build() -> ExchangeDays:
    """The calendar built by the library (``exchange_calendars.get_calendar``)."""
    import exchange_calendars  # pandas and the holiday rules: loaded only when needed

    with warnings.catch_warnings():  # the library's use of a pandas API pandas 3 deprecates
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = exchange_calendars.get_calendar(EXCHANGE, start=FIRST_SESSION.isoformat(),
                                              end=CALENDAR_END.isoformat())
    sessions = tuple(s.date() for s in cal.sessions)
    return ExchangeDays(sessions, frozenset(sessions),
                        _wall_clock(cal.opens, REGULAR_OPEN),
                        _wall_clock(cal.closes, REGULAR_CLOSE))


def _covered(day: dt.date) -> ExchangeDays:
    if not FIRST_SESSION <= day <= CALENDAR_END:
        raise CalendarRangeError(f"{day} is outside the exchange calendar, which covers "
                                 f"{FIRST_SESSION} to {CALENDAR_END}")
    return exchange_days()


def is_trading_day(day: dt.date) -> bool:
    """Whether the NYSE holds a session on ``day`` (early-close days count).

    Raises:
        CalendarRangeError: ``day`` is before :data:`FIRST_SESSION` or after
            :data:`CALENDAR_END`.
    """
    return day in _covered(day).days


def _session_hours(day: dt.date) -> ExchangeDays:
    days = _covered(day)
    if day not in days.days:
        raise ValueError(f"{day} is not an NYSE trading day")
    return days


def open_time(day: dt.date) -> dt.time:
    """The New York wall-clock open of the session ``day`` (09:30 unless a late open).

    Raises:
        ValueError: ``day`` is not a trading day (:class:`CalendarRangeError` when it is
            outside the calendar).
    """
    return _session_hours(day).opens.get(day, REGULAR_OPEN)


def close_time(day: dt.date) -> dt.time:
    """The New York wall-clock close of the session ``day``: 16:00, or the early close
    (13:00 since 1993, 14:00 before) the exchange calendar gives.

    Raises:
        ValueError: ``day`` is not a trading day (:class:`CalendarRangeError` when it is
            outside the calendar).
    """
    return _session_hours(day).closes.get(day, REGULAR_CLOSE)


def previous_session(day: dt.date) -> dt.date | None:
    """The last session before ``day``, or None when there is none in the calendar."""
    sessions = exchange_days().sessions
    i = bisect.bisect_left(sessions, day)
    return sessions[i - 1] if i > 0 else None


def next_session(day: dt.date) -> dt.date | None:
    """The first session after ``day``, or None when there is none in the calendar."""
    sessions = exchange_days().sessions
    i = bisect.bisect_right(sessions, day)
    return sessions[i] if i < len(sessions) else None


def require_session(day: dt.date) -> None:
    """Check that ``day`` can be simulated: between :data:`FIRST_SESSION` and
    :data:`LAST_SESSION`, and an NYSE trading day.

    Raises:
        ValueError: one line naming ``day``: the range it must lie in, or that the
            exchange is closed then, with the sessions before and after it.
    """
    if not FIRST_SESSION <= day <= LAST_SESSION:
        raise CalendarRangeError(
            f"{day} is outside the sessions tapesim simulates, {FIRST_SESSION} to "
            f"{LAST_SESSION} (the NYSE's 09:30-16:00 hours and the exchange calendar); "
            "pick a date in that range")
    if not is_trading_day(day):
        nearby = [f"{what} it ({s})" for what, s in
                  (("the session before", previous_session(day)),
                   ("after", next_session(day)))
                  if s is not None and FIRST_SESSION <= s <= LAST_SESSION]
        raise ValueError(f"{day} is not an NYSE trading day (the exchange is closed): pick "
                         + " or ".join(nearby))


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

        ``None`` means the day's open or close (:func:`open_time`, :func:`close_time`:
        09:30 and 16:00, or the early close). Times are converted through
        :func:`epoch_ms`; the window is stored as ns since the open. No check is made
        that the window lies inside the session: the run config validates it.

        Raises:
            ValueError: ``day`` is not a trading day of the calendar.
        """
        open_ms = epoch_ms(day, open_time(day))
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
