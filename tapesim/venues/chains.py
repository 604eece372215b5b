"""Listed option chains: which expiries and strikes exist, and their price grid.

OCC-style listing rules, simplified but faithful in shape:
- monthly expiries on the third Friday (the trading day before if it is a holiday),
- weekly expiries every Friday, and daily expiries every trading day for the roots
  the exchanges list them on (:data:`DAILY_EXPIRY_ROOTS`), so a 0DTE contract
  exists each session,
- strike intervals by price level (finer for ETFs), listed over a moneyness range
  that widens with time to expiry, and extended when spot moves,
- the minimum price variation (MPV) of the root's penny-interval class (:class:`Mpv`).

This module is the one home of the options MPV rule (:class:`Mpv`, :func:`mpv_of`,
:func:`off_mpv_grid`) and of the root lists the exchanges' rules name; makers, flow,
venues and the verifier import them.

The MPV follows the options exchanges' Penny Interval Program (Cboe Options Rule 5.4,
Nasdaq ISE/PHLX Options 3 Section 3, MIAX Rule 510; the program replaced the Penny
Pilot on 2020-07-01):

- ``all-penny``: $0.01 at every price, for QQQ, SPY and IWM only
  (:data:`ALL_PENNY_ROOTS`);
- ``penny``: the program's other classes (about the 360 most active multiply listed
  classes, reviewed twice a year), $0.01 below $3 and $0.05 at or above;
- ``non-penny``: every other class, $0.05 below $3 and $0.10 at or above.

Which class a root is in is data: :func:`penny_class` gives the default (QQQ, SPY and
IWM all-penny, every other root ``penny``, since the simulated names are liquid
program classes) and ``[options] penny_classes`` in the run config overrides it per
root. DIA, for one, is a ``penny`` class: $0.05 at or above $3.

Index-like roots and config. :data:`INDEX_LIKE` names the index-tracking ETFs (their
surface has the index skew; calibration reports their facts apart). A profile's
``is_etf`` says what the underlying *is* (it sets strike intervals and the call share
of retail flow), and ETFs such as TLT or GLD are not index-like. The two must not
disagree where they overlap: an index-like root is an ETF, and listing a chain for
one whose profile says otherwise fails (:func:`check_listing`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tapesim.config.options import PennyClass
from tapesim.events.contracts import STRIKE_MILLS_LIMIT
from tapesim.sim.calendar import is_trading_day

#: Index-tracking ETFs: the index skew on their surface, their own calibration facts.
INDEX_LIKE = frozenset({"SPY", "QQQ", "IWM", "DIA"})
#: The roots quoted in pennies at every price (the Penny Interval Program's exception).
ALL_PENNY_ROOTS = frozenset({"SPY", "QQQ", "IWM"})
#: The roots listed with an expiry every trading day (DIA has weeklies, not dailies).
DAILY_EXPIRY_ROOTS = frozenset({"SPY", "QQQ", "IWM"})
#: The price, in cents, at and above which the coarser MPV of a class applies ($3).
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
    dailies: int = 5  # the daily-expiry roots only (:data:`DAILY_EXPIRY_ROOTS`)


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
    if root in DAILY_EXPIRY_ROOTS:
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


def check_listing(root: str, is_etf: bool) -> None:
    """Fail when a profile's ETF flag contradicts the index-like list.

    Raises:
        ValueError: ``root`` is index-like (:data:`INDEX_LIKE`) but ``is_etf`` is false.
    """
    if root in INDEX_LIKE and not is_etf:
        raise ValueError(f"{root} is an index-like ETF (its surface has the index skew); "
                         "its profile must set is_etf = true")


def off_mpv_grid(price_cents: np.ndarray, below_cents: npt.ArrayLike,
                 above_cents: npt.ArrayLike) -> np.ndarray:
    """True where a whole-cent price is not a multiple of its MPV: ``below_cents`` under
    $3, ``above_cents`` at or above (per price or for all, e.g. 1 and 5 for a ``penny``
    class). NaN prices count as on the grid.

    Args:
        price_cents: whole cents (int, or float holding whole numbers), any shape.
        below_cents, above_cents: MPVs in cents, scalars or arrays broadcasting to it.
    Returns:
        bool array of the broadcast shape.
    """
    price_cents = np.asarray(price_cents)
    tick = np.where(price_cents >= NICKEL_FROM_CENTS, above_cents, below_cents)
    with np.errstate(invalid="ignore"):
        rest = np.mod(price_cents, tick)
    return np.asarray((rest != 0) & ~np.isnan(rest))


@dataclass(frozen=True)
class Mpv:
    """The minimum price variation of one penny-interval class, in integer cents.

    ``below_cents`` applies to prices under $3, ``above_cents`` at or above
    (:data:`NICKEL_FROM_CENTS`). The module docstring gives the three classes and the
    exchange rules they come from; :data:`MPV_CLASSES` holds them. $3 is a multiple
    of every MPV, so a price rounded onto the grid at its own level stays on it.
    """

    penny_class: PennyClass
    below_cents: int
    above_cents: int

    @property
    def all_penny(self) -> bool:
        """True when every price is quoted in pennies (one MPV of a cent)."""
        return self.below_cents == self.above_cents == 1

    def tick_cents(self, price_cents: npt.ArrayLike) -> np.ndarray:
        """The MPV in cents at each price level.

        Args:
            price_cents: prices in cents, any shape, int or float.
        Returns:
            int64 array of the shape of ``price_cents``.
        """
        price_cents = np.asarray(price_cents)
        if self.below_cents == self.above_cents:
            return np.full(price_cents.shape, self.below_cents, dtype=np.int64)
        return np.where(price_cents >= NICKEL_FROM_CENTS, self.above_cents,
                        self.below_cents).astype(np.int64)

    def floor(self, price_cents: np.ndarray) -> np.ndarray:
        """Integer cent prices rounded down onto the grid at their own level. Same shape
        and dtype; the array itself on an all-penny class."""
        if self.all_penny:
            return price_cents
        tick = self.tick_cents(price_cents)
        return price_cents // tick * tick

    def ceil(self, price_cents: np.ndarray) -> np.ndarray:
        """Integer cent prices rounded up onto the grid at their own level. Same shape
        and dtype; the array itself on an all-penny class."""
        if self.all_penny:
            return price_cents
        tick = self.tick_cents(price_cents)
        return -(-price_cents // tick) * tick

    def off_grid(self, price_cents: np.ndarray) -> np.ndarray:
        """True where a whole-cent price is off this class's grid (:func:`off_mpv_grid`)."""
        return off_mpv_grid(price_cents, self.below_cents, self.above_cents)

    def describe(self) -> str:
        """The rule in words, e.g. ``$0.01 below $3, $0.05 at or above``."""
        if self.below_cents == self.above_cents:
            return f"${self.below_cents / 100:.2f} at every price"
        return f"${self.below_cents / 100:.2f} below $3, ${self.above_cents / 100:.2f} at or above"


#: The Penny Interval Program's three classes (see the module docstring).
MPV_CLASSES: dict[PennyClass, Mpv] = {
    "all-penny": Mpv("all-penny", 1, 1),
    "penny": Mpv("penny", 1, 5),
    "non-penny": Mpv("non-penny", 5, 10),
}


def penny_class(root: str, overrides: Mapping[str, PennyClass] | None = None) -> PennyClass:
    """The penny-interval class of ``root``: its entry in ``overrides`` (the run config's
    ``options.penny_classes``), else ``all-penny`` for :data:`ALL_PENNY_ROOTS` and
    ``penny`` for every other root."""
    if overrides and root in overrides:
        return overrides[root]
    return "all-penny" if root in ALL_PENNY_ROOTS else "penny"


def mpv_of(root: str, overrides: Mapping[str, PennyClass] | None = None) -> Mpv:
    """The MPV rule of ``root``'s penny-interval class (:func:`penny_class`)."""
    return MPV_CLASSES[penny_class(root, overrides)]
