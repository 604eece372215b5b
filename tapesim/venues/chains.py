"""Listed option chains: which expiries and strikes exist, and their price grid.

OCC-style listing rules, simplified but faithful in shape:
- monthly expiries on the third Friday (the trading day before if it is a holiday),
- weekly expiries every Friday, and for index-like ETFs daily expiries every
  trading day, so a 0DTE contract exists each session,
- strike intervals by price level (finer for ETFs), listed over a moneyness range
  that widens with time to expiry, and extended when spot moves,
- minimum price variation $0.01 below $3 and $0.05 at or above, all-penny for the
  index-like ETFs.

This module is the one home of the options minimum price variation (MPV) rule
(:func:`tick_cents` and the grid roundings built on it) and of the index-like root
list (:data:`INDEX_LIKE`); makers, flow, venues and the verifier import them.

Index-like roots and config. :data:`INDEX_LIKE` is an exchange rule, not a property
a profile sets: it names the classes the exchanges quote in pennies at every price
(the Penny Interval Program's all-penny classes) and list daily expiries for. A
profile's ``is_etf`` says what the underlying *is* (it sets strike intervals and the
call share of retail flow), and ETFs such as TLT or GLD are not index-like. The two
must not disagree where they overlap: an index-like root is an ETF, and listing a
chain for one whose profile says otherwise fails (:func:`check_listing`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tapesim.events.contracts import STRIKE_MILLS_LIMIT
from tapesim.sim.calendar import is_trading_day

#: Roots quoted in pennies at every price level and listed with daily expiries.
INDEX_LIKE = frozenset({"SPY", "QQQ", "IWM", "DIA"})
#: Outside the all-penny roots the MPV is $0.05 at or above this price, in cents.
NICKEL_FROM_CENTS = 300


def _previous_trading_day(day: dt.date) -> dt.date:
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def third_friday(year: int, month: int) -> dt.date:
    """The third Friday of ``month`` (1-12) of ``year``, holiday or not (the standard
    monthly expiration day; :func:`monthly_expiry` moves it off a holiday).

    Raises:
        ValueError: ``month`` outside 1-12, or ``year`` outside :mod:`datetime`'s range.
    """
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
    """Strikes in dollars on the ``interval`` grid covering [spot * low, spot * high], cut
    to the strikes an option symbol can carry: positive and below $100,000
    (:data:`~tapesim.events.contracts.STRIKE_MILLS_LIMIT`, the OCC symbol's five dollar
    digits). No exchange lists a series OCC cannot name, so a chain on a very high-priced
    or very volatile underlying simply has fewer strikes above spot; with spot below
    $100,000 (the config's bound) the grid keeps at least the strikes below it."""
    first = math.floor(spot * low / interval)
    last = min(math.ceil(spot * high / interval),
               math.ceil(STRIKE_MILLS_LIMIT / 1000 / interval) - 1)
    return [round(k * interval, 3) for k in range(max(first, 1), last + 1)]


def moneyness_range(days_to_expiry: float, annual_vol: float) -> tuple[float, float]:
    """Listed range as multiples of spot: wider for longer expiries and higher vol."""
    width = max(0.08, 3.0 * annual_vol * math.sqrt(max(days_to_expiry, 1.0) / 365.0))
    return max(0.05, 1.0 - width), 1.0 + width


#: The most option series (contracts) one underlying may list: beyond the largest real
#: chains (tens of thousands of series), and every series is quoted by every maker.
MAX_SERIES = 50_000


def listed_series(root: str, today: dt.date, spot: float, annual_vol: float, is_etf: bool,
                  policy: ListingPolicy | None = None) -> list[tuple[dt.date, list[float]]]:
    """Each expiry listed on ``today`` with its strikes in dollars (:func:`expiries`, the
    :func:`strike_interval` grid over the :func:`moneyness_range` of its days to expiry);
    every strike is listed as a call and a put. ``spot`` in dollars, ``annual_vol`` a
    fraction."""
    interval = strike_interval(spot, is_etf)
    return [(day, listed_strikes(spot, interval, *moneyness_range((day - today).days,
                                                                  annual_vol)))
            for day in expiries(today, root, policy)]


def all_penny(root: str) -> bool:
    """True when ``root`` is quoted in pennies at every price level (index-like)."""
    return root in INDEX_LIKE


def check_listing(root: str, is_etf: bool) -> None:
    """Fail when a profile's ETF flag contradicts the index-like list.

    Raises:
        ValueError: ``root`` is index-like (:data:`INDEX_LIKE`) but ``is_etf`` is false.
    """
    if root in INDEX_LIKE and not is_etf:
        raise ValueError(f"{root} is an index-like ETF (all-penny, dailies listed); "
                         "its profile must set is_etf = true")


def tick_cents(root: str, price_cents: npt.ArrayLike) -> np.ndarray:
    """The MPV in cents at each price level: 1 below $3 (at every price on the all-penny
    roots), else 5 (the options penny/nickel rule).

    Args:
        root: the option root (its underlying's symbol).
        price_cents: prices in cents, any shape, int or float.

    Returns:
        int64 array of the shape of ``price_cents``: 1 or 5.
    """
    price_cents = np.asarray(price_cents)
    if all_penny(root):
        return np.ones(price_cents.shape, dtype=np.int64)
    return np.where(price_cents >= NICKEL_FROM_CENTS, 5, 1).astype(np.int64)


def floor_to_tick(root: str, price_cents: np.ndarray) -> np.ndarray:
    """Integer cent prices rounded down onto the MPV grid at their own level (a price at
    or above $3 to a nickel outside the all-penny roots). Same shape and dtype."""
    if all_penny(root):
        return price_cents
    return np.where(price_cents >= NICKEL_FROM_CENTS, price_cents // 5 * 5, price_cents)


def ceil_to_tick(root: str, price_cents: np.ndarray) -> np.ndarray:
    """Integer cent prices rounded up onto the MPV grid at their own level (a price at or
    above $3 to a nickel outside the all-penny roots). Same shape and dtype."""
    if all_penny(root):
        return price_cents
    return np.where(price_cents >= NICKEL_FROM_CENTS, -(-price_cents // 5) * 5, price_cents)


def off_nickel_grid(price_cents: np.ndarray, penny: bool | np.ndarray) -> np.ndarray:
    """True where a whole-cent price at or above $3 is not a multiple of 5 cents on a
    root not quoted all-penny (``penny``: per price or for all), i.e. off the MPV grid.
    NaN prices count as on the grid."""
    return ~np.asarray(penny) & (price_cents >= NICKEL_FROM_CENTS) & (price_cents % 5 != 0)
