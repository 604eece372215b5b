"""Listed option chains: which expiries and strikes exist, and their price grid.

OCC-style listing rules, simplified but faithful in shape:
- monthly expiries on the third Friday (the trading day before if it is a holiday),
- weekly expiries every Friday, and for index-like ETFs daily expiries every
  trading day, so a 0DTE contract exists each session,
- strike intervals by price level (finer for ETFs), listed over a moneyness range
  that widens with time to expiry, and extended when spot moves,
- minimum price variation $0.01 below $3 and $0.05 at or above, all-penny for the
  index-like ETFs.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from tapesim.sim.calendar import is_trading_day

INDEX_LIKE = frozenset({"SPY", "QQQ", "IWM", "DIA"})


def _previous_trading_day(day: dt.date) -> dt.date:
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def monthly_expiry(year: int, month: int) -> dt.date:
    """The standard monthly expiry: third Friday, or the trading day before it."""
    return _previous_trading_day(third_friday(year, month))


@dataclass(frozen=True)
class ListingPolicy:
    """How many expiries of each kind are listed."""

    monthlies: int = 6
    weeklies: int = 5
    dailies: int = 5  # index-like ETFs only


def expiries(today: dt.date, root: str, policy: ListingPolicy | None = None) -> list[dt.date]:
    """Expiries listed on ``today`` (today included when it is an expiry), ascending."""
    policy = policy or ListingPolicy()
    found: set[dt.date] = set()
    year, month, monthlies = today.year, today.month, 0
    while monthlies < policy.monthlies:
        day = monthly_expiry(year, month)
        if day >= today:
            found.add(day)
            monthlies += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = today + dt.timedelta(days=(4 - today.weekday()) % 7)
    for week in range(policy.weeklies):
        found.add(_previous_trading_day(friday + dt.timedelta(weeks=week)))
    if root in INDEX_LIKE:
        day, listed = today, 0
        while listed < policy.dailies:
            if is_trading_day(day):
                found.add(day)
                listed += 1
            day += dt.timedelta(days=1)
    return sorted(d for d in found if d >= today)


def strike_interval(price: float, is_etf: bool) -> float:
    """Strike spacing by price level; ETFs list $1 strikes up to high prices."""
    if is_etf:
        return 1.0 if price < 1000 else 5.0
    for limit, step in ((25, 0.5), (75, 1.0), (200, 2.5), (500, 5.0)):
        if price < limit:
            return step
    return 10.0


def listed_strikes(spot: float, interval: float, low: float, high: float) -> list[float]:
    """Strikes on the interval grid covering [spot * low, spot * high]."""
    first = math.floor(spot * low / interval)
    last = math.ceil(spot * high / interval)
    return [round(k * interval, 3) for k in range(max(first, 1), last + 1)]


def moneyness_range(days_to_expiry: float, annual_vol: float) -> tuple[float, float]:
    """Listed range as multiples of spot: wider for longer expiries and higher vol."""
    width = max(0.08, 3.0 * annual_vol * math.sqrt(max(days_to_expiry, 1.0) / 365.0))
    return max(0.05, 1.0 - width), 1.0 + width


def minimum_tick(root: str, price: float) -> float:
    """Minimum price variation of an option quote or print at ``price``."""
    if root in INDEX_LIKE or price < 3.0:
        return 0.01
    return 0.05


def on_tick(root: str, price: float) -> bool:
    """True when ``price`` is on the contract's minimum price variation grid."""
    cents = round(price * 100)
    if abs(price * 100 - cents) > 1e-6:
        return False
    return minimum_tick(root, price) == 0.01 or cents % 5 == 0
