"""Put skew of the quoted option surface, measured at the same instants across strikes.

A skew is a difference between implied vols *at one time*: the 25-delta put's IV
minus the at-the-money IV. Comparing prints instead mixes times of day, and the
short-dated vol level swings with the intraday regime (high at the open and the
close, low at midday) while ATM and wing prints arrive at different times, which
biases the difference by tens of vol points. Here the NBBO of every front contract
is read as of regular snapshots (every 30 minutes), each quote's mid turned into an
implied vol against the underlying's mid at that instant, and per snapshot and
expiry the put with delta nearest -0.25 (within -0.30 to -0.20) is compared with the
ATM vol (the mean of the call and put IVs at the strike nearest spot). The fact is
the median of those differences (Bakshi, Kapadia and Madan 2003 measure skew the
same way: from one cross-section of quotes at a time).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from tapesim.agents.pricing import implied_vol
from tapesim.calibration import stats as st
from tapesim.calibration.option_stats import bs_delta

__all__ = ["SNAPSHOT_MS", "WING_DELTA", "quoted_skew", "smile", "snapshot_times"]

SNAPSHOT_MS = 30 * 60_000  # a cross-section every 30 minutes
WING_DELTA = (-0.30, -0.20)  # the 25-delta put's band
TARGET_DELTA = -0.25
MS_PER_YEAR = 365.0 * 86_400_000.0
_SHIFT = 1 << 42  # ms: wider than any session, to key rows by (contract, ts)


def snapshot_times(start_ts: int, end_ts: int, every_ms: int = SNAPSHOT_MS) -> np.ndarray:
    """Snapshot instants (epoch ms): every ``every_ms`` from ``start_ts + every_ms / 2``
    while before ``end_ts``, so none falls on the open's first quotes; a window
    shorter than that gets one snapshot at its middle."""
    times = np.arange(start_ts + every_ms // 2, end_ts, every_ms, dtype=np.int64)
    if times.size == 0 and end_ts > start_ts:
        times = np.array([(start_ts + end_ts) // 2], dtype=np.int64)
    return times


def _as_of(ts: np.ndarray, code: np.ndarray, times: np.ndarray, n_codes: int) -> np.ndarray:
    """Row index of each contract's last quote at or before each time, shape
    ``(len(times), n_codes)``; -1 where it has none yet."""
    order = np.lexsort((ts, code))
    key = code[order] * _SHIFT + (ts[order] - ts.min())
    want = (np.arange(n_codes, dtype=np.int64)[None, :] * _SHIFT
            + (times[:, None] - ts.min()))
    pos = np.searchsorted(key, want, side="right") - 1
    found = (pos >= 0) & (code[order][np.maximum(pos, 0)] == np.arange(n_codes)[None, :])
    return np.where(found, order[np.maximum(pos, 0)], -1)


def _cross_section(rows: np.ndarray, at: int, bid: np.ndarray, ask: np.ndarray,
                   strike: np.ndarray, put: np.ndarray, expiry_ms: np.ndarray,
                   spot_ts: ArrayLike, spot: ArrayLike
                   ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The quoted surface at one instant: the spot (dollars), the contracts with a
    two-sided quote in force (indices), their years to expiry and mid implied vols.
    ``rows`` is each contract's row in force (:func:`_as_of`, -1 for none); no contract
    when the spot is not yet defined."""
    s = float(st.value_at(spot_ts, spot, [at])[0])
    have = rows >= 0
    j = np.flatnonzero(have)
    r = rows[have]
    two_sided = (bid[r] > 0) & (ask[r] >= bid[r])
    j, r = j[two_sided], r[two_sided]
    t = (expiry_ms[j] - at) / MS_PER_YEAR
    if not math.isfinite(s) or j.size == 0:
        empty = np.zeros(0)
        return s, np.zeros(0, dtype=np.int64), empty, empty
    iv = implied_vol(0.5 * (bid[r] + ask[r]), s, strike[j], np.maximum(t, 1e-6), ~put[j])
    return s, j, t, iv


def smile(ts: ArrayLike, code: ArrayLike, bid: ArrayLike, ask: ArrayLike,
          strike: ArrayLike, put: ArrayLike, expiry_ms: ArrayLike, spot_ts: ArrayLike,
          spot: ArrayLike, at: int) -> tuple[np.ndarray, np.ndarray]:
    """The quoted smile of the nearest expiry at instant ``at`` (epoch ms): moneyness
    ``K / S - 1`` and mid implied vol (decimal) of its out-of-the-money contracts
    (calls above spot, puts at or below), sorted by strike. Arguments as
    :func:`quoted_skew`'s; empty arrays when nothing is quoted two-sided then."""
    ts, code = np.asarray(ts, dtype=np.int64), np.asarray(code, dtype=np.int64)
    strike, put = np.asarray(strike, dtype=np.float64), np.asarray(put, dtype=bool)
    expiry_ms = np.asarray(expiry_ms, dtype=np.int64)
    if ts.size == 0:
        return np.zeros(0), np.zeros(0)
    rows = _as_of(ts, code, np.array([at], dtype=np.int64), strike.size)[0]
    s, j, _t, iv = _cross_section(rows, at, np.asarray(bid, dtype=np.float64),
                                  np.asarray(ask, dtype=np.float64), strike, put, expiry_ms,
                                  spot_ts, spot)
    if j.size == 0:
        return np.zeros(0), np.zeros(0)
    near = expiry_ms[j] == expiry_ms[j].min()
    otm = near & np.isfinite(iv) & np.where(put[j], strike[j] <= s, strike[j] > s)
    order = np.argsort(strike[j][otm], kind="stable")
    return (strike[j][otm] / s - 1.0)[order], iv[otm][order]


def quoted_skew(ts: ArrayLike, code: ArrayLike, bid: ArrayLike, ask: ArrayLike,
                strike: ArrayLike, put: ArrayLike, expiry_ms: ArrayLike,
                spot_ts: ArrayLike, spot: ArrayLike, times: ArrayLike) -> tuple[float, int]:
    """The median 25-delta put skew (decimal vol) over snapshots and expiries.

    Args:
        ts, code, bid, ask: the NBBO changes of the contracts (epoch ms, contract
            index, dollars), any order.
        strike, put, expiry_ms: per contract index: dollars, is-a-put, the expiry's
            close in epoch ms.
        spot_ts, spot: the underlying's mid (epoch ms, dollars) in time order.
        times: the snapshot instants, epoch ms.

    Returns:
        the median of wing IV minus ATM IV over every (snapshot, expiry) with both,
        and how many there were (NaN, 0 when none).
    """
    ts, code = np.asarray(ts, dtype=np.int64), np.asarray(code, dtype=np.int64)
    bid, ask = np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64)
    strike, put = np.asarray(strike, dtype=np.float64), np.asarray(put, dtype=bool)
    expiry_ms, times = np.asarray(expiry_ms, dtype=np.int64), np.asarray(times, dtype=np.int64)
    if ts.size == 0 or times.size == 0:
        return math.nan, 0
    rows = _as_of(ts, code, times, strike.size)
    diffs: list[float] = []
    for i, at in enumerate(times):  # a handful of snapshots a day
        s, j, t, iv = _cross_section(rows[i], int(at), bid, ask, strike, put, expiry_ms,
                                     spot_ts, spot)
        if j.size == 0:
            continue
        delta = bs_delta(s, strike[j], t, iv, put[j])
        for e in np.unique(expiry_ms[j]):
            on = (expiry_ms[j] == e) & np.isfinite(iv)
            wing = on & put[j] & (delta >= WING_DELTA[0]) & (delta <= WING_DELTA[1])
            if not wing.any() or not on.any():
                continue
            nearest = np.abs(strike[j][on] - s).min()
            atm = on & (np.abs(strike[j] - s) == nearest)
            w = np.flatnonzero(wing)[np.argmin(np.abs(delta[wing] - TARGET_DELTA))]
            diffs.append(float(iv[w] - iv[atm].mean()))
    if not diffs:
        return math.nan, 0
    return float(np.median(diffs)), len(diffs)
