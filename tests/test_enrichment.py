"""The contract's placement rule and signal filter, rule by rule."""

from __future__ import annotations

import numpy as np
import pytest

from tapesim.events.enrichment import is_etf, nbbo_side, signal_filter


@pytest.mark.parametrize(
    ("price", "bid", "ask", "age", "want"),
    [
        (1.30, 1.00, 1.20, 0, "AA"),  # eps = max(0.01, 0.05 * 0.20) = 0.01
        (1.21, 1.00, 1.20, 0, "A"),
        (1.19, 1.00, 1.20, 0, "A"),
        (1.10, 1.00, 1.20, 0, "MID"),
        (1.01, 1.00, 1.20, 0, "B"),
        (0.98, 1.00, 1.20, 0, "BB"),
        (12.0, 10.0, 14.0, 0, "MID"),  # eps = 0.2 on a 4.00 spread
        (13.85, 10.0, 14.0, 0, "A"),
        (1.10, 1.00, 1.20, 1501, "STALE"),
        (1.10, 1.00, 1.20, 1500, "MID"),
        (1.10, float("nan"), 1.20, 0, "MISSING"),
        (1.10, 0.0, 0.0, 0, "MISSING"),
    ],
)
def test_nbbo_side(price: float, bid: float, ask: float, age: int, want: str) -> None:
    assert nbbo_side([price], [bid], [ask], [10_000 + age], [10_000])[0] == want


def test_etf_list() -> None:
    assert is_etf("SPY") and is_etf("XLF") and is_etf("ARKK") and not is_etf("AAPL")


def _one(notional, size=10, side="A", etf=False, sweep=False, mode="smart-flow"):
    passed, reasons = signal_filter([notional], [size], [side], [etf], [sweep], mode)
    return bool(passed[0]), reasons[0]


def test_signal_filter_smart_flow() -> None:
    assert _one(9_999) == (False, [])  # below the minimum
    assert _one(15_000) == (True, ["ask-side"])
    assert _one(150_000, side="B") == (True, ["auto-large"])
    assert _one(30_000, etf=True) == (False, [])  # ETF below 50k
    assert _one(20_000, side="B") == (False, [])  # bid side below 25k
    assert _one(30_000, side="B") == (False, ["no-signal-rule"])
    assert _one(15_000, side="MID") == (False, [])
    assert _one(30_000, side="MID", sweep=True) == (True, ["sweep"])
    assert _one(15_000, side="MID", sweep=True) == (False, ["no-signal-rule"])
    assert _one(40_000, side="STALE") == (False, [])
    assert _one(60_000, side="MISSING", size=600) == (True, ["large-print"])


def test_signal_filter_modes() -> None:
    assert _one(6_000, mode="balanced") == (True, ["ask-side"])
    assert _one(6_000, mode="smart-flow") == (False, [])
    assert _one(1.0, side="BB", mode="all") == (True, ["all"])
    with pytest.raises(ValueError, match="signal mode"):
        signal_filter(np.array([1.0]), [1], ["A"], [False], [False], "loose")  # type: ignore[arg-type]
