"""Options market makers' quotes: a whole listed chain priced and quoted in one numpy pass.

A maker values every contract of a chain from the latent vol surface
(:func:`theo_and_vega`), then :func:`quote_chain` turns values into integer-cent
quotes on the contract's minimum price variation (MPV) grid:

    half-width h = max(MPV, share * time value + small share * intrinsic, vol_risk * vega)
                   * otm * short-dated * illiquid * open_factor

    centre M = theo rounded to the nearest half tick
    bid = M - H, ask = M + H, H the smallest half-width that keeps both sides on
          the grid and still contains theo +- h (bid <= theo - h, ask >= theo + h)

Quoting around the nearest half tick keeps every mid within a quarter tick of the
theoretical value and makes mids a monotone function of it, so the quotes inherit
the surface's freedom from static arbitrage: call mids never rise with strike, put
mids never fall, butterflies on mids are >= -1 MPV and put-call parity holds on
mids to within the spreads. Where the bid would go below zero (the value is under
the maker's edge) the maker bids nothing: 0 bid and an ask of 2M (the mid stays on
theo), or theo plus any extra width if that is more; the far wings (theo below
``wing_theo_share`` of the wing ask) quote 0 x 0.05, or 0 x 0.01 for the all-penny
roots. A quote that must hold while the stock moves (a slow requote) passes that move
as extra width (``extra_cents``), so its bid and ask keep bracketing the value.

Prices are integer cents (int64), so MPV checks are exact. The MPV is the chain's
penny-interval class (``Chain.mpv``, :class:`tapesim.venues.chains.Mpv`). The $3
boundary of a class with two MPVs is handled per side: a bid below $3 sits on the
finer grid, an ask at or above $3 on the coarser one, with the bid widened by as
much as the ask was so the mid is unchanged.

Chains list calls and puts for every strike of every listed expiry
(:func:`list_chain`), laid out expiry-major, then calls before puts, then strikes
ascending. Time to expiry is calendar days / 365 to 16:00 New York on the expiry
day; a contract expiring today expires at the session's close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tapesim.agents.pricing import MIN_T, price, vega
from tapesim.agents.vol_surface import MINUTES_PER_YEAR, Roughness, SurfaceParams, implied_vols
from tapesim.config.options import OptionMakerConfig
from tapesim.events.contracts import OptionContract
from tapesim.sim.compiled import kernel
from tapesim.venues.chains import (
    INDEX_LIKE,
    NICKEL_FROM_CENTS,
    ListingPolicy,
    Mpv,
    check_listing,
    listed_series,
    mpv_of,
)

REGULAR_SESSION_MINUTES = 390.0  # 09:30 to 16:00 New York


@dataclass(frozen=True, eq=False)
class Chain:
    """Every listed contract of one underlying on one day, as parallel numpy arrays.

    Order: expiry-major, then calls before puts, then strike ascending.
    ``t_years`` is the time to expiry at the session's open; ``mpv`` is the root's
    penny-interval class, the grid every quote and print of the chain lies on.
    """

    root: str
    today: dt.date
    annual_vol: float  # the vol the listing ranges (and quoting distances) are scaled with
    expiry_dates: tuple[dt.date, ...]
    strike: np.ndarray  # float dollars
    strike_mills: np.ndarray  # int64, strike x 1000
    expiry_index: np.ndarray  # int64 index into expiry_dates
    days_to_expiry: np.ndarray  # int64 calendar days from today
    t_years: np.ndarray  # float, at the open
    is_call: np.ndarray  # bool
    contracts: list[OptionContract]
    mpv: Mpv

    @property
    def size(self) -> int:
        """Number of listed contracts: the length of every per-contract array."""
        return int(self.strike.size)

    @property
    def index_like(self) -> bool:
        """True for the index-tracking ETFs (:data:`tapesim.venues.chains.INDEX_LIKE`)."""
        return self.root in INDEX_LIKE


def list_chain(
    root: str,
    today: dt.date,
    spot: float,
    annual_vol: float,
    is_etf: bool,
    policy: ListingPolicy | None = None,
    mpv: Mpv | None = None,
) -> Chain:
    """The chain listed on ``today``: calls and puts on each expiry's strike range.

    ``spot`` and strikes are dollars, ``annual_vol`` a fraction (0.2 = 20%); ``mpv``
    defaults to the root's default penny-interval class
    (:func:`tapesim.venues.chains.mpv_of`).

    Raises:
        ValueError: ``root`` is index-like but ``is_etf`` is false
            (:func:`tapesim.venues.chains.check_listing`).
    """
    check_listing(root, is_etf)
    series = listed_series(root, today, spot, annual_vol, is_etf, policy)
    days = [day for day, _ in series]
    strikes: list[float] = []
    exp_idx: list[int] = []
    dtes: list[int] = []
    calls: list[bool] = []
    for i, (day, grid) in enumerate(series):
        dte = (day - today).days
        for is_call in (True, False):
            strikes += grid
            exp_idx += [i] * len(grid)
            dtes += [dte] * len(grid)
            calls += [is_call] * len(grid)
    strike = np.asarray(strikes, dtype=float)
    mills = np.rint(strike * 1000).astype(np.int64)
    dte_arr = np.asarray(dtes, dtype=np.int64)
    contracts = [
        OptionContract(root, days[e], int(m), "C" if c else "P")
        for e, m, c in zip(exp_idx, mills.tolist(), calls, strict=True)
    ]
    return Chain(
        root=root,
        today=today,
        annual_vol=float(annual_vol),
        expiry_dates=tuple(days),
        strike=strike,
        strike_mills=mills,
        expiry_index=np.asarray(exp_idx, dtype=np.int64),
        days_to_expiry=dte_arr,
        t_years=(dte_arr * 1440.0 + REGULAR_SESSION_MINUTES) / MINUTES_PER_YEAR,
        is_call=np.asarray(calls, dtype=bool),
        contracts=contracts,
        mpv=mpv or mpv_of(root),
    )


def t_years_at(
    chain: Chain, minutes_since_open: float, session_minutes: float = REGULAR_SESSION_MINUTES
) -> np.ndarray:
    """Time to expiry (years) at an intraday time; never below ``pricing.MIN_T``.

    Contracts expiring today run out at the session's close (``session_minutes``
    after the open), so a 0DTE contract decays to the floor at the close.
    """
    later = chain.t_years - minutes_since_open / MINUTES_PER_YEAR
    today = (session_minutes - minutes_since_open) / MINUTES_PER_YEAR
    return np.maximum(np.where(chain.days_to_expiry == 0, today, later), MIN_T)


def t_years_of(chain: Chain, i: int, minutes_since_open: float,
               session_minutes: float = REGULAR_SESSION_MINUTES) -> float:
    """Contract ``i``'s time to expiry (years): element ``i`` of :func:`t_years_at`, the
    same float operations on one value (for an order that needs one contract's, not the
    chain's)."""
    if chain.days_to_expiry[i] == 0:
        t = (session_minutes - minutes_since_open) / MINUTES_PER_YEAR
    else:
        t = float(chain.t_years[i]) - minutes_since_open / MINUTES_PER_YEAR
    return max(t, MIN_T)


@dataclass(frozen=True)
class QuoteParams:
    """How wide a maker quotes, and how much it shows.

    Half-width before rounding, in cents:
    ``max(MPV, premium_share * time value + intrinsic_share * intrinsic value,
    vol_risk_points / 100 * vega) * multipliers``
    where ``z = ln(K / S) / (annual_vol * sqrt(t))`` is the distance from the money
    in standard deviations and the multipliers are
    ``1 + otm_slope * min(otm z, otm_cap_z)`` (out-of-the-money side only),
    ``1 + short_extra * clip(1 - days / short_days, 0, 1)`` (short-dated),
    ``1 + illiquid_slope * clip(|z| - illiquid_z, 0, illiquid_cap_z)`` (far from
    the money either side) and the caller's ``open_factor`` (see :func:`open_factor`).
    """

    # Set by the run config (``OptionMakerConfig``, the one home of their defaults):
    premium_share: float  # half-width as a share of the time value ...
    vol_risk_points: float  # half-width in vol points times vega
    otm_slope: float
    illiquid_slope: float
    open_extra: float  # just after the open quotes are (1 + open_extra) times as wide ...
    atm_lots: int  # displayed size at the money, in contracts
    wing_lots: int  # displayed size far from the money
    # Fixed shape of the rule:
    intrinsic_share: float = 0.0005  # ... plus this share of the intrinsic value
    otm_cap_z: float = 3.0
    short_extra: float = 0.5  # 0DTE quotes up to 1.5x as wide
    short_days: float = 7.0
    illiquid_z: float = 1.5
    illiquid_cap_z: float = 3.0
    open_decay_minutes: float = 10.0  # ... decaying with this time-scale
    wing_ask_cents: int = 5  # far wings: 0 bid x 0.05 ask
    penny_wing_ask_cents: int = 1  # ... and 0 x 0.01 on the all-penny roots
    wing_theo_share: float = 0.5  # a contract is a wing when theo < this share of the wing ask
    lots_width_z: float = 1.5  # how fast the displayed size falls off with |z|

    @classmethod
    def of(cls, makers: OptionMakerConfig, **fixed: float) -> QuoteParams:
        """The parameters a maker configured by ``makers`` quotes with; ``fixed``
        overrides any of the rule's fixed fields (tests, experiments).

        Raises:
            ValueError: a combination :meth:`__post_init__` refuses.
        """
        return cls(premium_share=makers.premium_share, vol_risk_points=makers.vol_risk_points,
                   otm_slope=makers.otm_slope, illiquid_slope=makers.illiquid_slope,
                   open_extra=makers.open_extra, atm_lots=makers.atm_lots,
                   wing_lots=makers.wing_lots, **fixed)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.premium_share < 0 or self.vol_risk_points < 0:
            raise ValueError("premium_share and vol_risk_points must be >= 0")
        if self.wing_ask_cents < 1 or self.penny_wing_ask_cents < 1:
            raise ValueError("wing ask must be at least one cent")
        if self.wing_ask_cents >= NICKEL_FROM_CENTS:
            raise ValueError("wing_ask_cents must be below $3 (the penny grid)")
        if not 0 <= self.wing_theo_share <= 1:
            raise ValueError("wing_theo_share must lie in [0, 1]")
        if self.wing_lots < 1 or self.atm_lots < self.wing_lots:
            raise ValueError("lot sizes must satisfy 1 <= wing_lots <= atm_lots")


def open_factor(minutes_since_open: float, params: QuoteParams) -> float:
    """Width multiplier for the time of day: ``1 + open_extra`` at the open, -> 1 later."""
    return 1.0 + params.open_extra * float(
        np.exp(-max(minutes_since_open, 0.0) / params.open_decay_minutes)
    )


def theo_and_vega(
    chain: Chain,
    spot: float,
    t_years: np.ndarray,
    surface_params: SurfaceParams,
    vol_ratio: float,
    roughness: Roughness | None = None,
    t_event_years: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Theoretical values and vegas in cents per share, from the latent surface.

    Zero rates and no dividends: the forward is the spot, so put-call parity on the
    values is exactly C - P = S - K. Vega is cents per 1.00 (100 vol points) of vol.
    """
    iv = implied_vols(surface_params, vol_ratio, spot, chain.strike, t_years, roughness,
                      t_event_years)
    theo = price(spot, chain.strike, t_years, iv, chain.is_call) * 100.0
    veg = vega(spot, chain.strike, t_years, iv) * 100.0
    return theo, veg


def moneyness_z(chain: Chain, spot: float, t_years: np.ndarray) -> np.ndarray:
    """Signed distance from the money in standard deviations: ln(K / S) / (vol sqrt(t))."""
    return np.log(chain.strike / spot) / (chain.annual_vol * np.sqrt(np.maximum(t_years, MIN_T)))


def half_width(
    chain: Chain,
    theo_cents: np.ndarray,
    vega_cents: np.ndarray,
    t_years: np.ndarray,
    spot: float,
    params: QuoteParams,
    open_factor: float,
) -> np.ndarray:
    """The unrounded half-width in cents (see :class:`QuoteParams`)."""
    intrinsic = np.maximum(np.where(chain.is_call, spot - chain.strike,
                                    chain.strike - spot), 0.0) * 100.0
    extrinsic = np.maximum(theo_cents - intrinsic, 0.0)
    premium = params.premium_share * extrinsic + params.intrinsic_share * intrinsic
    base = np.maximum(np.maximum(chain.mpv.tick_cents(theo_cents).astype(float), premium),
                      params.vol_risk_points / 100.0 * vega_cents)
    z = moneyness_z(chain, spot, t_years)
    otm_z = np.where(chain.is_call, z, -z)
    otm = 1.0 + params.otm_slope * np.clip(otm_z, 0.0, params.otm_cap_z)
    days = t_years * 365.0
    short = 1.0 + params.short_extra * np.clip(1.0 - days / params.short_days, 0.0, 1.0)
    far = np.clip(np.abs(z) - params.illiquid_z, 0.0, params.illiquid_cap_z)
    illiquid = 1.0 + params.illiquid_slope * far
    return base * otm * short * illiquid * open_factor


def quote_chain(
    chain: Chain,
    theo_cents: np.ndarray,
    vega_cents: np.ndarray,
    t_years: np.ndarray,
    spot: float,
    params: QuoteParams,
    open_factor: float,
    maker_offset_vol: float | np.ndarray = 0.0,
    extra_cents: float | np.ndarray = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One maker's (bid, ask) in int64 cents for every contract of the chain.

    ``extra_cents`` (>= 0, scalar or per contract) is added to the half-width: a quote
    that must hold while the stock moves (a slow requote) is that much wider each side.

    ``maker_offset_vol`` shifts the maker's values by that many vols (0.01 = one
    vol point) times vega: its own view of the surface, or its inventory skew (a
    maker long vega passes a negative offset and lowers both sides). A scalar
    offset keeps the quotes free of static arbitrage; per-contract offsets are the
    caller's responsibility.
    Every quote satisfies 0 <= bid < ask, both on the contract's MPV grid.
    """
    theo_cents = np.asarray(theo_cents, dtype=float)
    n = chain.size
    theo2 = np.ascontiguousarray(theo_cents.reshape(-1, n))
    per_contract = [np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=float), (n,)))
                    for x in (maker_offset_vol, extra_cents, vega_cents, t_years)]
    z = moneyness_z(chain, spot, t_years)
    mpv = chain.mpv
    wing_ask = (params.penny_wing_ask_cents if mpv.all_penny
                else int(mpv.ceil(np.int64(params.wing_ask_cents))))
    widths = np.array([params.premium_share, params.intrinsic_share,
                       params.vol_risk_points / 100.0, params.otm_slope, params.otm_cap_z,
                       params.short_extra, params.short_days, params.illiquid_z,
                       params.illiquid_cap_z, params.illiquid_slope, open_factor,
                       params.wing_theo_share])
    bid = np.empty(theo2.shape, dtype=np.int64)
    ask = np.empty(theo2.shape, dtype=np.int64)
    _quote(theo2, *per_contract, np.ascontiguousarray(z, dtype=float),
           np.ascontiguousarray(chain.strike, dtype=float),
           np.ascontiguousarray(chain.is_call, dtype=np.bool_), float(spot), widths,
           mpv.below_cents, mpv.above_cents, NICKEL_FROM_CENTS, wing_ask, bid, ask)
    return bid.reshape(theo_cents.shape), ask.reshape(theo_cents.shape)


@kernel
def _quote(theo_cents: np.ndarray, offset: np.ndarray, extra: np.ndarray, vega: np.ndarray,
           t_years: np.ndarray, z: np.ndarray, strike: np.ndarray, is_call: np.ndarray,
           spot: float, widths: np.ndarray, below: int, above: int, nickel: int,
           wing_ask: int, bid: np.ndarray, ask: np.ndarray) -> None:  # pragma: no cover
    """:func:`quote_chain`'s arithmetic, one pass per (row, contract): the offset value,
    :func:`half_width` (``widths``: premium and intrinsic shares, vol risk per vega,
    otm slope and cap, short extra and days, illiquid z, cap and slope, the open factor
    and the wing share) and the rounding onto the MPV grid, each operation in numpy's
    order so every float is the same. ``z`` is :func:`moneyness_z` (numpy's log)."""
    (premium_share, intrinsic_share, vol_risk, otm_slope, otm_cap, short_extra, short_days,
     illiquid_z, illiquid_cap, illiquid_slope, open_f, wing_share) = (
        widths[0], widths[1], widths[2], widths[3], widths[4], widths[5], widths[6],
        widths[7], widths[8], widths[9], widths[10], widths[11])
    for c in range(theo_cents.shape[1]):
        k_dollars = strike[c]
        intrinsic = max(spot - k_dollars if is_call[c] else k_dollars - spot, 0.0) * 100.0
        otm_z = z[c] if is_call[c] else -z[c]
        otm = 1.0 + otm_slope * min(max(otm_z, 0.0), otm_cap)
        days = t_years[c] * 365.0
        short = 1.0 + short_extra * min(max(1.0 - days / short_days, 0.0), 1.0)
        far = min(max(abs(z[c]) - illiquid_z, 0.0), illiquid_cap)
        illiquid = 1.0 + illiquid_slope * far
        risk = vol_risk * vega[c]
        for r in range(theo_cents.shape[0]):
            theo = max(theo_cents[r, c] + offset[c] * vega[c], 0.0)
            tick = above if theo >= nickel else below
            extrinsic = max(theo - intrinsic, 0.0)
            premium = premium_share * extrinsic + intrinsic_share * intrinsic
            base = max(max(float(tick), premium), risk)
            h = base * otm * short * illiquid * open_f + extra[c]
            # Centre on the nearest half tick: n half ticks, M = n * tick / 2.
            n = int(np.floor(theo / (tick / 2.0) + 0.5))
            odd = n & 1
            centre = n * tick / 2.0
            need = h + abs(theo - centre)
            k = int(np.ceil(max(need / tick - 0.5 * odd - 1e-9, 0.0)))
            if odd == 0 and k == 0:
                k = 1  # a quote on the tick grid is >= one tick wide
            b = (n // 2 - k) * tick
            a = ((n + 1) // 2 + k) * tick
            if below != above:  # an ask at or above $3 is on the coarser grid
                step = above if a >= nickel else below
                coarse = -(-a // step) * step
                if b < nickel:
                    b = b - (coarse - a)
                a = coarse
            if b < 0:  # 0 bid and an ask of twice the centre, or theo plus the extra
                twice = int(max(float(n * tick), np.ceil(theo + extra[c])))
                step = above if twice >= nickel else below
                a = -(-twice // step) * step
                b = 0
            if theo + extra[c] < wing_share * wing_ask or a <= 0:
                b = 0
                a = wing_ask
            bid[r, c] = b
            ask[r, c] = a


def quote_sizes(chain: Chain, spot: float, t_years: np.ndarray, params: QuoteParams) -> np.ndarray:
    """Displayed size in contracts: ``atm_lots`` at the money, falling to ``wing_lots``."""
    z = moneyness_z(chain, spot, t_years)
    shape = np.exp(-0.5 * (z / params.lots_width_z) ** 2)
    lots = params.wing_lots + (params.atm_lots - params.wing_lots) * shape
    return np.rint(lots).astype(np.int64)
