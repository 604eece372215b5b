"""Listed option chains: which expiries and strikes exist, and their price grid.

OCC-style listing rules, simplified but faithful in shape (:func:`expiries`,
:func:`listed_series`):
- monthly expiries on the third Friday (the trading day before if it is a holiday):
  consecutive near-term months (Cboe lists three for its most active classes, and
  the two near months plus two of the class's quarterly cycle for every class;
  Cboe Rules 5.5(a), IC13-009),
- further expiries of the quarterly cycle (March, June, September, December third
  Fridays) beyond them,
- LEAPS: January expiries of the coming years, out past a year (long-term series
  may expire 12 to 39 months from listing, Cboe Rule 5.8; here at most
  :data:`MAX_LISTING_DAYS` ahead, the exchange calendar's margin beyond the last
  session a run accepts),
- weekly expiries every Friday (the Short Term Option Series program lists up to
  five consecutive weeks, Cboe Rule 5.5(d)), and daily expiries every trading day for
  the roots the exchanges list them on (:data:`DAILY_EXPIRY_ROOTS`), so a 0DTE
  contract exists each session,
- strike intervals by price level (finer for ETFs; the OCC's standard $2.50 / $5 /
  $10 ladder and the exchanges' $1 and $0.50 programs), listed over a moneyness
  range that widens with time to expiry: the price-level interval near the money, a
  coarser one (:func:`wing_interval`) in the wings, as real chains thin out far
  from spot,
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tapesim.config.options import OptionChainProfile, PennyClass
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


#: The furthest expiry listed, in calendar days: two years, so a session on the last
#: day a run accepts (``sim.calendar.LAST_SESSION``) lists only expiries the exchange
#: calendar covers (``CALENDAR_END``). Real LEAPS reach 39 months (Cboe Rule 5.8).
MAX_LISTING_DAYS = 730
#: The months of the quarterly expiry cycle (Cboe's March cycle).
QUARTER_MONTHS = (3, 6, 9, 12)


@dataclass(frozen=True)
class ListingPolicy:
    """How many expiries of each kind are listed (the run config's ``[options]``
    ``monthlies``, ``weeklies``, ``dailies``, ``quarterlies`` and ``leaps``)."""

    monthlies: int = 6  # consecutive third-Friday months from today's
    weeklies: int = 5  # consecutive Fridays from this week's
    dailies: int = 5  # the daily-expiry roots only (:data:`DAILY_EXPIRY_ROOTS`)
    quarterlies: int = 0  # quarterly-cycle months beyond the monthlies
    leaps: int = 0  # January expiries of the next years (LEAPS), within two years

    @classmethod
    def of(cls, options: OptionChainProfile) -> ListingPolicy:
        """The policy a run's ``[options]`` table sets."""
        return cls(options.monthlies, options.weeklies, options.dailies,
                   options.quarterlies, options.leaps)


def _months_from(year: int, month: int) -> Iterator[tuple[int, int]]:
    while True:
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def expiries(today: dt.date, root: str, policy: ListingPolicy | None = None) -> list[dt.date]:
    """Expiries listed on ``today`` (today included when it is an expiry), ascending.

    ``policy.monthlies`` consecutive monthly expiries (:func:`monthly_expiry`) from
    today's month, then ``policy.quarterlies`` more in the quarterly cycle
    (:data:`QUARTER_MONTHS`), ``policy.leaps`` January expiries of the following
    years, ``policy.weeklies`` Fridays from this week's (the trading day before a
    holiday) and, on :data:`DAILY_EXPIRY_ROOTS`, ``policy.dailies`` trading days from
    today. Nothing beyond :data:`MAX_LISTING_DAYS` is listed.
    """
    policy = policy or ListingPolicy()
    horizon = today + dt.timedelta(days=MAX_LISTING_DAYS)
    found: set[dt.date] = set()
    months = _months_from(today.year, today.month)
    monthlies = quarterlies = 0
    for year, month in months:
        if third_friday(year, month) > horizon:
            break
        day = monthly_expiry(year, month)
        if day < today:
            continue
        if monthlies < policy.monthlies:
            found.add(day)
            monthlies += 1
        elif quarterlies < policy.quarterlies and month in QUARTER_MONTHS:
            found.add(day)
            quarterlies += 1
        elif quarterlies >= policy.quarterlies:
            break
    for year in range(today.year + 1, today.year + 1 + policy.leaps):
        if third_friday(year, 1) <= horizon:
            found.add(monthly_expiry(year, 1))
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
    """Strike spacing near the money by price level, in dollars: ETFs list $1 strikes
    up to high prices; single names the finer intervals the exchanges' $0.50, $1 and
    $2.50 strike programs allow on active classes (a $228 name lists $2.50 strikes near
    the money, as AAPL does), coarser above $500."""
    if is_etf:
        return 1.0 if price < 1000 else 5.0
    for limit, step in ((25, 0.5), (150, 1.0), (500, 2.5), (1000, 5.0)):
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


#: Strike intervals in dollars, each the next coarser one real listings use.
STRIKE_LADDER = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
#: The narrowest listed range either side of spot, as a fraction: even a weekly lists
#: strikes about a quarter away from spot on a large name (the far wings quote 0 bid).
MIN_LISTED_WIDTH = 0.25
#: Within this fraction of spot (or one standard deviation to expiry, if wider) the
#: price-level interval is listed; beyond it, :func:`wing_interval`.
INNER_WIDTH = 0.10


def wing_interval(interval: float) -> float:
    """The coarser strike interval listed away from the money: the first rung of
    :data:`STRIKE_LADDER` at least twice ``interval`` (dollars), e.g. $5 for $2.50."""
    for step in STRIKE_LADDER:
        if step >= 2.0 * interval - 1e-9:
            return step
    return 2.0 * interval


#: How many standard deviations to expiry a chain lists strikes out to (beyond
#: :data:`MIN_LISTED_WIDTH`). Real chains list far out: strikes added as the price
#: travelled since a series opened stay listed until it expires, so a large name's front
#: month spans about half to one and a half times spot, 5-7 standard deviations, and a
#: high-volatility name's weeklies run far into strikes no move reaches, which quote a
#: zero bid (realism targets: front contracts beyond 10% out of the money show a zero
#: bid at least 20% of the time for large names, 95% and more for small ones). At three
#: deviations a 50-60 vol name's far-OTM front contracts were nearly all worth dimes.
LISTED_SDS = 5.0


def moneyness_range(days_to_expiry: float, annual_vol: float) -> tuple[float, float]:
    """Listed range as multiples of spot: wider for longer expiries and higher vol
    (:data:`LISTED_SDS` standard deviations to expiry, at least
    :data:`MIN_LISTED_WIDTH`)."""
    width = max(MIN_LISTED_WIDTH,
                LISTED_SDS * annual_vol * math.sqrt(max(days_to_expiry, 1.0) / 365.0))
    return max(0.05, 1.0 - width), 1.0 + width


def inner_width(days_to_expiry: float, annual_vol: float) -> float:
    """Half-width, as a fraction of spot, of the band listed on the fine interval: one
    standard deviation to expiry, at least :data:`INNER_WIDTH`."""
    return max(INNER_WIDTH, annual_vol * math.sqrt(max(days_to_expiry, 1.0) / 365.0))


def expiry_strikes(spot: float, interval: float, days_to_expiry: float,
                   annual_vol: float) -> list[float]:
    """One expiry's strikes in dollars, ascending: the ``interval`` grid within
    :func:`inner_width` of ``spot`` and the :func:`wing_interval` grid out to the
    :func:`moneyness_range` (both cut as :func:`listed_strikes` cuts)."""
    low, high = moneyness_range(days_to_expiry, annual_vol)
    inner = inner_width(days_to_expiry, annual_vol)
    wide = wing_interval(interval)
    near = listed_strikes(spot, interval, 1.0 - inner, 1.0 + inner)
    wings = listed_strikes(spot, wide, low, high) if inner < high - 1.0 else []
    lo, hi = (near[0], near[-1]) if near else (math.inf, -math.inf)
    return sorted({*near, *(k for k in wings if k < lo or k > hi)})


#: The most option series (contracts) one underlying may list: beyond the largest real
#: chains (tens of thousands of series), and every series is quoted by every maker.
MAX_SERIES = 50_000


def listed_series(root: str, today: dt.date, spot: float, annual_vol: float, is_etf: bool,
                  policy: ListingPolicy | None = None) -> list[tuple[dt.date, list[float]]]:
    """Each expiry listed on ``today`` with its strikes in dollars (:func:`expiries`, and
    :func:`expiry_strikes` on the :func:`strike_interval` grid for its days to expiry);
    every strike is listed as a call and a put. ``spot`` in dollars, ``annual_vol`` a
    fraction."""
    interval = strike_interval(spot, is_etf)
    return [(day, expiry_strikes(spot, interval, (day - today).days, annual_vol))
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
