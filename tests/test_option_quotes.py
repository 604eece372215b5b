"""Options market makers' chain quotes and OPRA consolidation: grid, arbitrage, realism."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pytest

from tapesim.agents.option_quotes import (
    MINUTES_PER_YEAR,
    Chain,
    QuoteParams,
    half_width,
    list_chain,
    open_factor,
    quote_chain,
    quote_sizes,
    t_years_at,
    t_years_of,
    theo_and_vega,
)
from tapesim.agents.pricing import MIN_T, delta
from tapesim.agents.vol_surface import INDEX_LIKE_SKEW, Roughness, SurfaceParams
from tapesim.config.options import OptionMakerConfig
from tapesim.venues.book import NO_ASK
from tapesim.venues.chains import MPV_CLASSES
from tapesim.venues.opra import OptionNBBOs, consolidate, has_offer, nbbo_changes
from tests.test_chains import on_tick

TUESDAY = dt.date(2026, 3, 10)
FRIDAY = dt.date(2026, 3, 13)
# (root, spot, annual vol, is_etf, surface skew, penny-interval class or None for the default)
UNDERLYINGS = {
    "SPY": ("SPY", 575.3, 0.15, True, INDEX_LIKE_SKEW, None),
    "AAPL": ("AAPL", 228.4, 0.28, False, {}, None),
    "F": ("F", 11.2, 0.35, False, {}, None),  # cheap name: many premiums around $3 and wings
    "DIA": ("DIA", 420.0, 0.14, True, INDEX_LIKE_SKEW, None),  # a penny class, not all-penny
    "F-non-penny": ("F", 11.2, 0.35, False, {}, "non-penny"),  # $0.05 / $0.10
}


@cache
def chain_of(name: str, day: dt.date = TUESDAY) -> Chain:
    root, spot, vol, is_etf, _, penny_class = UNDERLYINGS[name]
    mpv = MPV_CLASSES[penny_class] if penny_class else None
    return list_chain(root, day, spot, vol, is_etf, mpv=mpv)


def quotes(name: str, minutes: float, spot_move: float = 0.0, vol_ratio: float = 1.0,
           params: QuoteParams | None = None, offset: float = 0.0):
    """(chain, spot, t, theo, bid, ask) for one underlying at one intraday time."""
    root, spot0, vol, _, skew, _ = UNDERLYINGS[name]
    chain, spot = chain_of(name), spot0 * (1.0 + spot_move)
    surface = SurfaceParams(base_vol=vol, **skew)
    t = t_years_at(chain, minutes)
    theo, veg = theo_and_vega(chain, spot, t, surface, vol_ratio,
                              Roughness.draw(3, root, surface.roughness))
    params = params or QuoteParams.of(OptionMakerConfig())
    bid, ask = quote_chain(chain, theo, veg, t, spot, params, open_factor(minutes, params), offset)
    return chain, spot, t, theo, bid, ask


SCENARIOS = [(name, minutes, move) for name in UNDERLYINGS for minutes, move in
             ((0, 0.0), (45, -0.013), (200, 0.021), (389, 0.004))]


# --- listing -------------------------------------------------------------------------


def test_chain_lists_calls_and_puts_on_every_strike() -> None:
    for name in UNDERLYINGS:
        chain = chain_of(name)
        assert chain.size == len(chain.contracts) > 0
        for e in range(len(chain.expiry_dates)):
            calls = chain.strike_mills[(chain.expiry_index == e) & chain.is_call]
            puts = chain.strike_mills[(chain.expiry_index == e) & ~chain.is_call]
            assert calls.size > 5 and np.array_equal(calls, puts)
            assert np.all(np.diff(calls) > 0)
        for i in (0, chain.size // 2, chain.size - 1):
            c = chain.contracts[i]
            assert c.strike_mills == chain.strike_mills[i]
            assert c.expiry == chain.expiry_dates[chain.expiry_index[i]]
            assert (c.right == "C") == chain.is_call[i]
            assert (c.expiry - TUESDAY).days == chain.days_to_expiry[i]


def test_zero_dte_only_where_listed() -> None:
    assert chain_of("SPY").days_to_expiry.min() == 0  # dailies on index-like ETFs
    assert chain_of("AAPL").days_to_expiry.min() == 3  # the Friday weekly
    assert chain_of("AAPL", FRIDAY).days_to_expiry.min() == 0


def test_time_to_expiry_decays_intraday() -> None:
    chain = chain_of("SPY")
    zero = chain.days_to_expiry == 0
    assert np.allclose(chain.t_years[zero], 390 / MINUTES_PER_YEAR)
    later = t_years_at(chain, 120)
    assert np.allclose(chain.t_years - later, 120 / MINUTES_PER_YEAR)
    at_close = t_years_at(chain, 390)
    assert np.all(at_close[zero] == MIN_T) and np.all(at_close[~zero] >= 1 / 365 - 1e-12)
    assert np.all(t_years_at(chain, 500)[zero] == MIN_T)  # never below the floor
    assert np.allclose(t_years_at(chain, 200, session_minutes=210)[zero], 10 / MINUTES_PER_YEAR)


def test_one_contracts_time_to_expiry_is_its_element_of_the_chains() -> None:
    chain = chain_of("SPY", FRIDAY)
    gen = np.random.default_rng(3)
    for minutes in [0.0, 389.999, 390.0, 500.0, *(gen.random(20) * 400).tolist()]:
        for session in (390.0, 210.0):
            want = t_years_at(chain, minutes, session)
            got = [t_years_of(chain, i, minutes, session) for i in range(chain.size)]
            assert np.array_equal(np.array(got), want)  # bit for bit


# --- the price grid --------------------------------------------------------------------


def assert_on_grid(chain: Chain, prices: np.ndarray) -> None:
    step = {"all-penny": (1, 1), "penny": (1, 5), "non-penny": (5, 10)}[chain.mpv.penny_class]
    assert np.all(prices[prices < 300] % step[0] == 0)
    assert np.all(prices[prices >= 300] % step[1] == 0)
    sample = prices[:: max(1, prices.size // 400)]
    assert all(on_tick(chain.mpv.penny_class, p / 100) for p in sample.tolist())


@pytest.mark.parametrize(("name", "minutes", "move"), SCENARIOS)
def test_every_quote_is_on_the_grid_and_two_sided(name: str, minutes: float, move: float) -> None:
    chain, _, _, _, bid, ask = quotes(name, minutes, move)
    assert bid.dtype == ask.dtype == np.int64
    assert np.all(bid >= 0) and np.all(ask > bid)
    assert_on_grid(chain, bid)
    assert_on_grid(chain, ask)


def test_the_three_dollar_boundary_is_exercised() -> None:
    straddles = 0
    for name in ("AAPL", "F"):
        for minutes, move in ((0, 0.0), (200, 0.021)):
            chain, _, _, _, bid, ask = quotes(name, minutes, move)
            assert_on_grid(chain, bid)
            assert_on_grid(chain, ask)
            straddles += int(((bid < 300) & (ask >= 300)).sum())
    assert straddles > 0


def test_random_values_quote_on_the_grid() -> None:
    """Any theo/vega, including theos at and around $3, gives a valid quote containing it."""
    gen = np.random.default_rng(11)
    params = QuoteParams.of(OptionMakerConfig())
    for name in ("F", "SPY"):
        chain, spot, t, _, _, _ = quotes(name, 60)
        theo = np.concatenate([gen.uniform(0, 600, chain.size // 2),
                               gen.uniform(285, 315, chain.size - chain.size // 2)])
        theo[:50] = np.arange(275, 325)
        veg = gen.uniform(0, 3000, chain.size)
        bid, ask = quote_chain(chain, theo, veg, t, spot, params, 1.3)
        assert np.all(bid >= 0) and np.all(ask > bid)
        assert_on_grid(chain, bid)
        assert_on_grid(chain, ask)
        h = half_width(chain, theo, veg, t, spot, params, 1.3)
        regular = bid > 0
        assert np.all(bid[regular] <= theo[regular] - h[regular] + 1e-6)
        assert np.all(ask[regular] >= theo[regular] + h[regular] - 1e-6)
        mid = (bid + ask) / 2
        quarter_tick = chain.mpv.tick_cents(theo) / 4  # the mid is theo's nearest half tick
        assert np.all(np.abs(mid - theo)[regular] <= quarter_tick[regular] + 1e-9)


def test_far_wings_quote_zero_by_a_nickel() -> None:
    for name in UNDERLYINGS:
        chain, _, _, theo, bid, ask = quotes(name, 200)
        wing_ask = 1 if chain.mpv.all_penny else 5
        wing = theo < wing_ask / 2
        assert wing.sum() > (0 if name == "AAPL" else 10)
        assert np.all(bid[wing] == 0) and np.all(ask[wing] == wing_ask)
    nickel_wings = QuoteParams.of(OptionMakerConfig(), penny_wing_ask_cents=5)
    chain, _, _, theo, bid, ask = quotes("SPY", 200, params=nickel_wings)
    assert np.all(ask[theo < 2.5] == 5) and np.all(bid[theo < 2.5] == 0)


# --- no static arbitrage on mids ---------------------------------------------------------


@pytest.mark.parametrize(("name", "minutes", "move"), SCENARIOS)
@pytest.mark.parametrize(("vol_ratio", "offset"), [(1.0, 0.0), (2.2, 0.01), (0.7, -0.004)])
def test_no_static_arbitrage_on_mids(
    name: str, minutes: float, move: float, vol_ratio: float, offset: float
) -> None:
    chain, spot, _, _, bid, ask = quotes(name, minutes, move, vol_ratio, offset=offset)
    mid, spread = (bid + ask) / 2, ask - bid
    tick = chain.mpv.tick_cents(ask)
    for e in range(len(chain.expiry_dates)):
        calls = np.flatnonzero((chain.expiry_index == e) & chain.is_call)
        puts = np.flatnonzero((chain.expiry_index == e) & ~chain.is_call)
        c, p = mid[calls], mid[puts]
        assert np.all(np.diff(c) <= 0), "call mids rise with strike"
        assert np.all(np.diff(p) >= 0), "put mids fall with strike"
        for side in (calls, puts):
            # Convexity in strike on a grid that coarsens in the wings: the middle mid is at
            # most the strike-weighted average of its neighbours' (plus half an MPV, each
            # mid being within a quarter tick of a convex value).
            k = chain.strike[side]
            w = (k[2:] - k[1:-1]) / (k[2:] - k[:-2])
            fly = w * mid[side][:-2] + (1 - w) * mid[side][2:] - mid[side][1:-1]
            mpv = np.maximum.reduce([tick[side][:-2], tick[side][1:-1], tick[side][2:]])
            assert np.all(fly >= -mpv / 2 - 1e-9), "negative butterfly on mids"
        parity = np.abs(c - p - (spot * 100 - chain.strike[calls] * 100))
        bound = (spread[calls] + spread[puts]) / 2 + np.maximum(tick[calls], tick[puts])
        assert np.all(parity <= bound), "put-call parity outside the spreads"


# --- realism -------------------------------------------------------------------------------


def spread_share(name: str, minutes: float) -> tuple[float, float]:
    """Median quoted spread / mid: ATM front month, and OTM (5-25 delta) front month."""
    chain, spot, t, _, bid, ask = quotes(name, minutes)
    vol = UNDERLYINGS[name][2]
    share = (ask - bid) / ((ask + bid) / 2)
    front = (chain.days_to_expiry >= 1) & (chain.days_to_expiry <= 35)
    nearest = np.abs(chain.strike - spot) <= np.unique(np.abs(chain.strike - spot))[1] + 1e-9
    d = np.abs(delta(spot, chain.strike, t, vol, chain.is_call))
    otm = front & (d >= 0.05) & (d <= 0.25) & (bid > 0)
    return float(np.median(share[front & nearest])), float(np.median(share[otm]))


@pytest.mark.parametrize("name", ["SPY", "AAPL"])
def test_spreads_in_the_realism_band(name: str) -> None:
    atm, otm = spread_share(name, 180)
    assert 0.01 <= atm <= 0.06
    assert 0.05 <= otm <= 0.25
    assert otm > atm


def test_wider_at_the_open_than_midday() -> None:
    for name in UNDERLYINGS:
        _, _, _, _, b0, a0 = quotes(name, 0)
        _, _, _, _, b1, a1 = quotes(name, 180)
        two_sided = (b0 > 0) & (b1 > 0)
        assert np.median((a0 - b0)[two_sided]) > np.median((a1 - b1)[two_sided])
    params = QuoteParams.of(OptionMakerConfig())
    assert open_factor(0, params) == pytest.approx(1 + params.open_extra)
    assert open_factor(180, params) == pytest.approx(1.0)


def test_sizes_are_largest_at_the_money() -> None:
    chain, spot, t, _, _, _ = quotes("AAPL", 60)
    params = QuoteParams.of(OptionMakerConfig())
    lots = quote_sizes(chain, spot, t, params)
    assert lots.dtype == np.int64 and np.all(lots >= params.wing_lots)
    near = np.abs(np.log(chain.strike / spot)) / np.sqrt(t)
    order = np.argsort(near, kind="stable")
    assert lots[order[0]] >= params.atm_lots - 1 and lots[order[0]] == lots.max()
    assert np.all(np.diff(lots[order]) <= 0)  # smaller further from the money


# --- requotes -------------------------------------------------------------------------------


def test_only_changed_quotes_are_requoted() -> None:
    _, _, _, theo, b0, a0 = quotes("SPY", 100)
    _, _, _, _, b1, a1 = quotes("SPY", 100, spot_move=0.00002)  # about a cent of spot
    changed = (b0 != b1) | (a0 != a1)
    wings = theo < 0.4
    assert wings.any() and not changed[wings].any()  # the far wings stay put
    assert 0 < changed.sum() < changed.size


# --- OPRA consolidation ---------------------------------------------------------------------


def naive_consolidate(bids, asks, bid_sizes, ask_sizes):
    venues, contracts = bids.shape
    out = []
    for c in range(contracts):
        shown_b = [(bids[v, c], bid_sizes[v, c]) for v in range(venues)
                   if bid_sizes[v, c] > 0 and bids[v, c] > 0]
        shown_a = [(asks[v, c], ask_sizes[v, c]) for v in range(venues) if ask_sizes[v, c] > 0]
        nbb = max((p for p, _ in shown_b), default=0)
        nbo = min((p for p, _ in shown_a), default=NO_ASK)
        out.append((nbb, nbo, sum(s for p, s in shown_b if p == nbb),
                    sum(s for p, s in shown_a if p == nbo)))
    return [np.array(col, dtype=np.int64) for col in zip(*out, strict=True)]


def random_venue_quotes(gen: np.random.Generator, venues: int, contracts: int):
    bids = gen.integers(0, 8, (venues, contracts)) * 5  # few levels: many ties and zeros
    asks = bids + gen.integers(1, 4, (venues, contracts)) * 5
    bid_sizes = gen.integers(0, 4, (venues, contracts)) * gen.integers(0, 50, (venues, contracts))
    ask_sizes = gen.integers(0, 4, (venues, contracts)) * gen.integers(0, 50, (venues, contracts))
    return bids, asks, bid_sizes, ask_sizes


@pytest.mark.parametrize("seed", range(5))
def test_consolidate_matches_a_naive_loop(seed: int) -> None:
    gen = np.random.default_rng(seed)
    venues = int(gen.integers(1, 8))
    inputs = random_venue_quotes(gen, venues, 300)
    got = consolidate(*inputs)
    for ours, naive in zip(got, naive_consolidate(*inputs), strict=True):
        assert np.array_equal(ours, naive)
    assert np.array_equal(has_offer(got), got.nbo != NO_ASK)
    assert np.all((got.nbb == 0) == (got.nbb_size == 0))
    assert np.all((got.nbo == NO_ASK) == (got.nbo_size == 0))


def test_consolidating_market_maker_quotes() -> None:
    """Makers quoting on several venues: NBBO is the best of the venue books, wings 0 bid."""
    chain, _, _, _, b0, a0 = quotes("AAPL", 60)
    _, _, _, _, b1, a1 = quotes("AAPL", 60, offset=0.004)
    bids, asks = np.stack([b0, b1, b0]), np.stack([a0, a1, a1])
    sizes = np.full(bids.shape, 10)
    nbbo = consolidate(bids, asks, sizes, sizes)
    assert np.array_equal(nbbo.nbb, bids.max(axis=0))
    assert np.array_equal(nbbo.nbo, asks.min(axis=0))
    assert np.all(nbbo.nbb_size[nbbo.nbb == 0] == 0)
    assert np.all(nbbo.nbo_size >= 10) and np.all(nbbo.nbo_size % 10 == 0)
    assert_on_grid(chain, nbbo.nbb)
    assert_on_grid(chain, nbbo.nbo)


def test_nbbo_changes_finds_exactly_the_changed_contracts() -> None:
    gen = np.random.default_rng(5)
    prev = consolidate(*random_venue_quotes(gen, 4, 500))
    new = OptionNBBOs(*(col.copy() for col in prev))
    picks = gen.choice(500, 40, replace=False)
    for j, i in enumerate(np.sort(picks)):
        new[j % 4][i] += 1
    assert np.array_equal(nbbo_changes(prev, new), np.sort(picks))
    assert nbbo_changes(prev, prev).size == 0
    assert np.array_equal(nbbo_changes(None, new), np.arange(500))


def test_far_otm_front_contracts_of_a_large_name_often_bid_nothing() -> None:
    """Real AAPL-class chains show a 0 bid on 22-40% of the front (1-31 days) contracts
    more than 10% out of the money (docs/realism-targets.md, "spreads"): the listing
    reaches far enough out, and a maker bids nothing for a value under its edge."""
    chain, spot, _, theo, bid, ask = quotes("AAPL", 200)
    days = chain.days_to_expiry
    rel = chain.strike / spot - 1.0
    far = np.where(chain.is_call, rel > 0.10, rel < -0.10) & (days >= 1) & (days <= 31)
    assert far.sum() > 50
    zero = (bid == 0) & (ask <= 5)
    assert 0.2 <= zero[far].mean() <= 0.8
    assert np.all(theo[far & (bid > 0)] > 0)
