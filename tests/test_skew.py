"""Put skew from cross-sections of quotes: a surface with a known skew is measured
back, and a change of the vol level between snapshots does not bias it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tapesim.agents.pricing import price
from tapesim.calibration.option_stats import bs_delta
from tapesim.calibration.skew import quoted_skew, snapshot_times

YEAR_MS = 365 * 86_400_000
T0 = 1_700_000_000_000  # the first snapshot, epoch ms
EXPIRY = T0 + 18 * 86_400_000
STRIKES = np.arange(80.0, 121.0)


def surface(level: float) -> np.ndarray:
    """IV per strike: ``level`` at 100, rising 0.4 vol points per dollar below it."""
    return level + 0.004 * np.clip(100.0 - STRIKES, 0, None)


def chain_quotes(at: int, level: float) -> tuple[list[int], list[int], list[float], list[float]]:
    """Every call and put quoted at mid = the surface's price, a cent either side."""
    ts, code, bid, ask = [], [], [], []
    t = (EXPIRY - at) / YEAR_MS
    iv = surface(level)
    for j, is_put in enumerate((False, True)):
        prices = price(100.0, STRIKES, t, iv, not is_put)
        for i, p in enumerate(prices):
            ts.append(at - 1000)
            code.append(j * STRIKES.size + i)
            bid.append(float(p) - 0.01)
            ask.append(float(p) + 0.01)
    return ts, code, bid, ask


def expected_skew(level: float, at: int) -> float:
    iv = surface(level)
    t = (EXPIRY - at) / YEAR_MS
    delta = bs_delta(100.0, STRIKES, t, iv, np.ones(STRIKES.size, dtype=bool))
    band = (delta >= -0.30) & (delta <= -0.20)
    wing = np.flatnonzero(band)[np.argmin(np.abs(delta[band] + 0.25))]
    return float(iv[wing] - level)


def test_a_known_surface_is_measured_back_at_every_vol_level() -> None:
    times = np.array([T0, T0 + 1_800_000])
    rows = [chain_quotes(T0, 0.45), chain_quotes(T0 + 1_800_000, 0.20)]  # the level halves
    ts, code, bid, ask = ([v for r in rows for v in r[k]] for k in range(4))
    strike = np.concatenate([STRIKES, STRIKES])
    put = np.repeat([False, True], STRIKES.size)
    expiry = np.full(strike.size, EXPIRY)
    value, used = quoted_skew(ts, code, bid, ask, strike, put, expiry, [T0 - 60_000], [100.0],
                              times)
    assert used == 2
    want = [expected_skew(0.45, T0), expected_skew(0.20, T0 + 1_800_000)]
    assert all(w > 0.01 for w in want)  # puts richer than ATM at both levels
    assert value == pytest.approx(float(np.median(want)), abs=1e-4)


def test_no_quotes_or_no_wing_give_no_value() -> None:
    assert quoted_skew([], [], [], [], [100.0], [True], [EXPIRY], [T0], [100.0],
                       [T0])[1] == 0
    ts, code, bid, ask = chain_quotes(T0, 0.3)
    calls_only = [i for i, c in enumerate(code) if c < STRIKES.size]
    value, used = quoted_skew([ts[i] for i in calls_only], [code[i] for i in calls_only],
                              [bid[i] for i in calls_only], [ask[i] for i in calls_only],
                              np.concatenate([STRIKES, STRIKES]),
                              np.repeat([False, True], STRIKES.size),
                              np.full(2 * STRIKES.size, EXPIRY), [T0 - 1], [100.0], [T0])
    assert math.isnan(value) and used == 0


def test_snapshots_every_half_hour_or_one_in_a_short_window() -> None:
    open_ms = 1_000_000_000
    assert snapshot_times(open_ms, open_ms + 390 * 60_000).tolist() == [
        open_ms + (15 + 30 * i) * 60_000 for i in range(13)]
    assert snapshot_times(open_ms, open_ms + 10 * 60_000).tolist() == [open_ms + 300_000]
    assert snapshot_times(open_ms, open_ms).size == 0
