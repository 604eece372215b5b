"""The reference classifier's flow ledger and the rules that read the whole minute's tape:
unusual volume against a contract's own pace, a volatility seller's expiry, and puts
bought at the mid after a fall."""

from __future__ import annotations

from typing import Any

from tapesim.scenarios.reference_baselines import Baselines, Cluster
from tapesim.scenarios.reference_flow import LOOKBACK, Ledger, minute_flow
from tapesim.scenarios.reference_rules import CONTEXT_CAP, hypothesis

MINUTE = 29_552_500  # a minute (ts // 60_000) of 2026-03-10
QUIET = "SPY-2026-03-20-601-C"  # a strike no one trades before the scenario
BUSY = "SPY-2026-03-11-575-C"


def _print(contract: str, size: int, side: str, price: float = 1.0,
           conditions: tuple[str, ...] = ("FILL",), mid: float = 575.0) -> dict[str, Any]:
    return {"option_contract_id": contract, "size": size, "nbbo_side": side,
            "notional": round(price * size * 100, 2), "conditions": list(conditions),
            "execution_underlying_mid": mid, "trace_id": f"t{contract}{size}{side}",
            "execution_nbbo_mid": price, "execution_nbbo_spread": 0.02 * price}


def test_packages_and_reports_are_left_out_and_stale_prints_are_neither_side() -> None:
    flows = minute_flow([_print(QUIET, 10, "A"), _print(QUIET, 5, "B"),
                         _print(QUIET, 7, "STALE"), _print(QUIET, 50, "A", conditions=("COMPLEX",)),
                         _print(QUIET, 40, "MID", conditions=("LATE",))])
    f = flows[QUIET]
    assert (f.contracts, f.bought_lots, f.sold_lots) == (22, 10, 5)
    assert (f.bought, f.sold, f.premium) == (1_000.0, 500.0, 2_200.0)


def test_a_contract_bought_far_above_its_own_pace_is_unusual() -> None:
    ledger = Ledger()
    for m in range(LOOKBACK + 2):  # the busy strike trades 100 a minute, the quiet one none
        ledger.add("SPY", MINUTE + m, [_print(BUSY, 100, "A")])
    now = MINUTE + LOOKBACK + 2
    ledger.add("SPY", now, [_print(BUSY, 100, "A"), _print(QUIET, 300, "A")])
    ledger.add("SPY", now + 1, [_print(BUSY, 100, "B"), _print(QUIET, 300, "A")])
    u = ledger.unusual("SPY")
    assert u is not None and u.contract == QUIET and u.call
    assert (u.contracts, u.bought_share, u.minutes) == (600, 1.0, 2)
    assert u.pace_ratio == 600 / LOOKBACK  # no volume before: a pace of one a minute
    assert ledger.paced("SPY") == 4


def _cold(baselines: Baselines, minutes: int) -> None:
    for m in range(minutes):
        c = Cluster("SPY", MINUTE + m, prints=[_print(BUSY, 100, "A")],
                    values={"total_premium": 10_000.0})
        c.minute_prints = c.prints
        baselines.observe(c)


def _closed(baselines: Baselines, minute: int, prints: list[dict[str, Any]],
            **values: Any) -> Cluster:
    c = Cluster("SPY", minute, prints=prints,
                values={"total_premium": 30_000.0, "nbbo_aggression_ratio_max": 1.0,
                        "net_directional_bias": 0.1, "option_type": "mixed",
                        "nbbo_coverage_ratio_mean": 1.0, **values})
    c.minute_prints = prints
    baselines.observe(c)
    return c


def test_repeated_buying_in_a_quiet_strike_is_directional_only_once_its_pace_is_known() -> None:
    early = Baselines()
    first = _closed(early, MINUTE, [_print(QUIET, 400, "A")])
    second = _closed(early, MINUTE + 1, [_print(QUIET, 400, "A")])
    assert first.unusual is None and second.unusual is None  # no pace yet: no call
    assert hypothesis(second).rule != "unusual_volume"
    later = Baselines()
    _cold(later, 4)
    _closed(later, MINUTE + 4, [_print(QUIET, 300, "A")])
    c = _closed(later, MINUTE + 5, [_print(QUIET, 300, "A")])
    h = hypothesis(c)
    assert (h.rule, h.hypothesis_class, h.direction) == (
        "unusual_volume", "directional_accumulation", "bullish")
    once = Baselines()
    _cold(once, 4)
    block = _closed(once, MINUTE + 4, [_print(QUIET, 900, "A")])  # one minute: a block
    assert hypothesis(block).rule != "unusual_volume"
    sold = Baselines()
    _cold(sold, 4)
    _closed(sold, MINUTE + 4, [_print(QUIET, 300, "B")])
    written = _closed(sold, MINUTE + 5, [_print(QUIET, 300, "B")])
    assert hypothesis(written).rule != "unusual_volume"  # written, not bought


def test_puts_at_the_mid_after_a_fall_are_a_hedge_capped_below_high() -> None:
    put = "SPY-2026-04-17-560-P"
    b = Baselines()
    _cold(b, 4)  # the stock at 575.00
    calm = _closed(b, MINUTE + 4, [_print(put, 300, "MID", price=4.0, mid=575.0)])
    assert calm.drawdown_bps == 0.0 and hypothesis(calm).rule != "hedge_rebalance"
    fell = _closed(b, MINUTE + 5, [_print(put, 300, "MID", price=4.0, mid=573.5)])
    assert fell.drawdown_bps is not None and fell.drawdown_bps < -10
    assert fell.protection == 120_000.0 and fell.protection_share == 1.0
    h = hypothesis(fell)
    assert (h.rule, h.direction) == ("hedge_rebalance", "bearish")
    assert h.confidence <= CONTEXT_CAP
    paid = _closed(b, MINUTE + 6, [_print(put, 300, "A", price=4.0, mid=573.0)])
    assert hypothesis(paid).rule != "hedge_rebalance"  # paying the offer is no hedge
