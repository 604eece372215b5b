"""Option contract ids and chain listing mechanics."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesim.config.run import load_profile, with_overrides
from tapesim.events.contracts import OptionContract, parse_contract_id
from tapesim.events.enrichment import is_etf
from tapesim.runs import execute_run
from tapesim.sim.strict import ConfigError
from tapesim.venues.chains import (
    INDEX_LIKE,
    MAX_LISTING_DAYS,
    MAX_SERIES,
    MPV_CLASSES,
    ListingPolicy,
    check_listing,
    expiries,
    expiry_strikes,
    listed_series,
    listed_strikes,
    moneyness_range,
    monthly_expiry,
    mpv_of,
    off_mpv_grid,
    penny_class,
    strike_interval,
    wing_interval,
)
from tapesim.venues.ledger import OptionLedger


def test_contract_id_forms() -> None:
    c = OptionContract.of("SPY", dt.date(2026, 1, 16), 500, "C")
    assert c.dashed() == "SPY-2026-01-16-500-C"
    assert c.occ() == "SPY   260116C00500000"
    assert len(c.occ()) == 21
    half = OptionContract.of("AAPL", dt.date(2026, 3, 20), 232.5, "P")
    assert half.dashed() == "AAPL-2026-03-20-232.5-P"
    assert half.occ() == "AAPL  260320P00232500"
    assert parse_contract_id("SPY-2026-01-16-500.00-C") == c  # trailing zeros accepted
    assert half.option_type == "put"


@given(
    root=st.from_regex(r"[A-Z]{1,5}", fullmatch=True),
    expiry=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    mills=st.integers(1, 99_999_999),
    right=st.sampled_from(["C", "P"]),
)
def test_ids_round_trip(root: str, expiry: dt.date, mills: int, right: str) -> None:
    c = OptionContract(root, expiry, mills, right)  # type: ignore[arg-type]
    assert parse_contract_id(c.dashed()) == c
    assert parse_contract_id(c.occ()) == c


@pytest.mark.parametrize("bad", ["SPY-2026-02-30-500-C", "SPY-2026-01-16-500-X",
                                 "spy-2026-01-16-5-C", "SPY 260116C00500000",
                                 "SPY-2026-01-16--C", ""])
def test_bad_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="option id"):
        parse_contract_id(bad)


def test_monthly_expiry_moves_off_holidays() -> None:
    assert monthly_expiry(2026, 3) == dt.date(2026, 3, 20)
    # The third Friday of April 2025 was Good Friday: the expiry is the Thursday before.
    assert monthly_expiry(2025, 4) == dt.date(2025, 4, 17)


def test_expiry_calendar() -> None:
    today = dt.date(2026, 3, 10)  # a Tuesday
    spy = expiries(today, "SPY")
    assert spy[0] == today  # 0DTE exists on index-like ETFs
    assert {dt.date(2026, 3, 11), dt.date(2026, 3, 13), dt.date(2026, 3, 20)} <= set(spy)
    aapl = expiries(today, "AAPL")
    assert aapl[0] == dt.date(2026, 3, 13)  # weeklies only, no dailies
    assert dt.date(2026, 4, 17) in aapl and dt.date(2026, 8, 21) in aapl
    assert all(d.weekday() < 5 for d in spy + aapl)
    # The weekly of Good Friday 2026 (April 3) moves to Thursday April 2.
    assert dt.date(2026, 4, 2) in expiries(dt.date(2026, 3, 30), "AAPL")


def test_strike_grid_and_range() -> None:
    assert strike_interval(575, True) == 1.0
    assert strike_interval(228, False) == 2.5  # AAPL's $2.50 strikes near the money
    assert strike_interval(132, False) == 1.0
    assert strike_interval(700, False) == 5.0
    assert [wing_interval(i) for i in (0.5, 1.0, 2.5, 5.0, 10.0)] == [1.0, 2.5, 5.0, 10.0, 25.0]
    strikes = listed_strikes(575.3, 1.0, 0.9, 1.1)
    assert strikes[0] <= 575.3 * 0.9 and strikes[-1] >= 575.3 * 1.1
    assert all(abs(b - a - 1.0) < 1e-9 for a, b in itertools.pairwise(strikes))
    near, far = moneyness_range(1, 0.2), moneyness_range(180, 0.2)
    assert far[1] - far[0] > near[1] - near[0]
    assert near == (0.75, 1.25)  # even a weekly lists a quarter either side of spot


def test_strikes_are_dense_near_the_money_and_sparse_in_the_wings() -> None:
    spot = 228.0
    front = expiry_strikes(spot, 2.5, 3, 0.26)
    gaps = dict(zip(front[1:], np.diff(front), strict=True))
    assert front[0] <= spot * 0.75 and front[-1] >= spot * 1.25
    assert all(abs(g - 2.5) < 1e-9 for k, g in gaps.items() if abs(k / spot - 1) < 0.09)
    assert all(abs(g - 5.0) < 1e-9 for k, g in gaps.items() if abs(k / spot - 1) > 0.12)
    assert len(front) == len(set(front)) and front == sorted(front)
    leaps = expiry_strikes(spot, 2.5, 682, 0.26)
    assert leaps[0] < front[0] and leaps[-1] > front[-1]  # the range widens with DTE


def test_the_expiry_cycle_reaches_quarterlies_and_leaps() -> None:
    today = dt.date(2026, 3, 10)
    policy = ListingPolicy(monthlies=3, weeklies=5, dailies=0, quarterlies=2, leaps=2)
    days = expiries(today, "AAPL", policy)
    monthly = [monthly_expiry(2026, m) for m in (3, 4, 5)]
    quarterly = [monthly_expiry(2026, 6), monthly_expiry(2026, 9)]  # Jun, Sep: not Jul, Aug
    leaps = [monthly_expiry(2027, 1), monthly_expiry(2028, 1)]
    assert set(monthly + quarterly + leaps) <= set(days)
    assert monthly_expiry(2026, 7) not in days and monthly_expiry(2026, 12) not in days
    assert max(days) == dt.date(2028, 1, 21) and (max(days) - today).days >= 365
    assert (max(days) - today).days <= MAX_LISTING_DAYS
    # Near the last session a run accepts, nothing is listed past the calendar's reach.
    late = expiries(dt.date(2038, 12, 31), "AAPL", ListingPolicy(24, 5, 0, 8, 2))
    assert max(late) <= dt.date(2040, 12, 31)


# The Penny Interval Program restated (Cboe Options Rule 5.4): MPV in cents below $3 and
# at or above, per class.
PROGRAM = {"all-penny": (1, 1), "penny": (1, 5), "non-penny": (5, 10)}


def on_tick(penny: str, price: float) -> bool:
    """True when ``price`` (dollars) is a whole cent on the grid of class ``penny``."""
    cents = round(price * 100)
    if abs(price * 100 - cents) > 1e-6:
        return False
    return cents % PROGRAM[penny][cents >= 300] == 0


def test_penny_interval_classes_by_root() -> None:
    assert {r: penny_class(r) for r in ("SPY", "QQQ", "IWM", "DIA", "AAPL")} == {
        "SPY": "all-penny", "QQQ": "all-penny", "IWM": "all-penny", "DIA": "penny",
        "AAPL": "penny"}
    assert penny_class("DIA", {"DIA": "non-penny"}) == "non-penny"
    assert penny_class("SPY", {"DIA": "non-penny"}) == "all-penny"
    assert mpv_of("DIA").describe() == "$0.01 below $3, $0.05 at or above"
    assert MPV_CLASSES["all-penny"].describe() == "$0.01 at every price"


def test_minimum_price_variation() -> None:
    assert mpv_of("AAPL").tick_cents(299) == 1 and mpv_of("AAPL").tick_cents(300) == 5
    assert mpv_of("SPY").tick_cents(1200) == 1 and mpv_of("DIA").tick_cents(1200) == 5
    assert on_tick("penny", 3.15) and not on_tick("penny", 3.12) and on_tick("penny", 2.97)
    assert on_tick("all-penny", 12.37) and not on_tick("all-penny", 12.375)
    assert on_tick("non-penny", 2.95) and not on_tick("non-penny", 2.97)
    assert on_tick("non-penny", 3.10) and not on_tick("non-penny", 3.15)


@pytest.mark.parametrize("name", sorted(PROGRAM))
def test_mpv_rule_in_cents(name: str) -> None:
    prices = np.array([0, 1, 5, 298, 299, 300, 301, 304, 305, 310, 1234], dtype=np.int64)
    rule = MPV_CLASSES[name]
    below, above = PROGRAM[name]
    want = np.array([below if p < 300 else above for p in prices.tolist()])
    assert rule.tick_cents(prices).tolist() == want.tolist()
    assert rule.floor(prices).tolist() == (prices // want * want).tolist()
    assert rule.ceil(prices).tolist() == (-(-prices // want) * want).tolist()
    assert rule.off_grid(prices).tolist() == (prices % want != 0).tolist()
    assert not rule.off_grid(rule.floor(prices)).any()
    assert not rule.off_grid(rule.ceil(prices)).any()
    if name == "all-penny":
        assert rule.floor(prices) is prices and rule.ceil(prices) is prices
    mixed = off_mpv_grid(np.array([305.0, 305.0, np.nan]), np.array([1, 5, 1]),
                         np.array([5, 10, 5]))
    assert mixed.tolist() == [False, True, False]


@pytest.mark.parametrize("root", sorted(INDEX_LIKE))
def test_an_index_like_root_must_be_an_etf(root: str) -> None:
    check_listing(root, is_etf=True)
    check_listing("TLT", is_etf=True)  # an ETF need not be index-like
    check_listing("AAPL", is_etf=False)
    with pytest.raises(ValueError, match="is_etf"):
        check_listing(root, is_etf=False)
    assert is_etf(root)  # and the downstream contract's ETF list agrees


def test_option_ledger_conserves_and_reads_positions_without_opening_accounts() -> None:
    ledger = OptionLedger(3)
    assert ledger.transfer(1, 2, 0, 5, 120) == 3  # both open
    assert ledger.transfer(2, 1, 0, 2, 130) == 0  # both close
    assert ledger.totals() == (0, 0)
    assert ledger.held([1, 2, 7], np.array([0, 2])).tolist() == [[3, 0], [-3, 0], [0, 0]]
    assert 7 not in ledger.positions
    assert ledger.open_interest().tolist() == [3, 0, 0]


@pytest.mark.parametrize(("spot", "interval", "low", "high"), [
    (95_000.0, 10.0, 0.92, 1.08),  # a $95,000 stock: the calls' upper strikes
    (7_400.0, 5.0, 0.05, 13.7),  # 300% vol, two years out
    (99_999.0, 2.5, 0.05, 20.0),  # an interval that does not divide $100,000
])
def test_strikes_stay_inside_what_an_occ_symbol_carries(
        spot: float, interval: float, low: float, high: float) -> None:
    strikes = listed_strikes(spot, interval, low, high)
    assert strikes[0] > 0 and strikes[-1] < 100_000
    assert strikes[-1] + interval >= 100_000  # cut at the limit, not below it
    assert strikes[0] <= spot  # the strikes below spot are all there
    for k in (strikes[0], strikes[-1]):
        contract = OptionContract.of("BRK", dt.date(2026, 6, 19), k, "C")
        assert parse_contract_id(contract.occ()) == contract


@pytest.mark.parametrize(("symbol", "needle"), [
    ({"is_etf": False}, r"field 'symbols.0.is_etf': SPY is an index-like ETF"),
    ({"price": 7400.0, "annual_vol": 3.0},
     r"field 'symbols.0': SPY would list 572,586 option series .* lower options.monthlies"),
])
def test_a_chain_the_listing_rules_refuse_is_named_before_anything_runs(
        tmp_path: Path, symbol: dict[str, object], needle: str) -> None:
    smoke = load_profile("options-smoke")
    config = with_overrides(smoke, {
        "symbols": [smoke.symbols[0].model_dump(mode="json") | symbol],
        "options": {"monthlies": 24}})
    with pytest.raises(ConfigError, match=needle):
        execute_run(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    size = 2 * sum(len(k) for _, k in listed_series(
        "SPY", config.session.date, 575.0, 0.15, True, ListingPolicy(24, 2, 3)))
    assert size <= MAX_SERIES  # the same listing at SPY's own price and vol is fine
