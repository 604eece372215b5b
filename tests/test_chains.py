"""Option contract ids and chain listing mechanics."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapesim.events.contracts import OptionContract, parse_contract_id
from tapesim.venues.chains import (
    expiries,
    listed_strikes,
    minimum_tick,
    moneyness_range,
    monthly_expiry,
    on_tick,
    strike_interval,
)


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
    assert strike_interval(228, False) == 5.0
    assert strike_interval(38, False) == 1.0
    strikes = listed_strikes(575.3, 1.0, 0.9, 1.1)
    assert strikes[0] <= 575.3 * 0.9 and strikes[-1] >= 575.3 * 1.1
    assert all(abs(b - a - 1.0) < 1e-9 for a, b in itertools.pairwise(strikes))
    near, far = moneyness_range(1, 0.2), moneyness_range(180, 0.2)
    assert far[1] - far[0] > near[1] - near[0]


def test_minimum_price_variation() -> None:
    assert minimum_tick("AAPL", 2.99) == 0.01 and minimum_tick("AAPL", 3.0) == 0.05
    assert minimum_tick("SPY", 12.0) == 0.01
    assert on_tick("AAPL", 3.15) and not on_tick("AAPL", 3.12) and on_tick("AAPL", 2.97)
    assert on_tick("SPY", 12.37) and not on_tick("SPY", 12.375)
