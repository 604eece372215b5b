"""Statistics a practitioner looks at first: how the NBBO steps, how trades cluster,
the intraday spread profile, small-size modes (``docs/realism-targets.md``).

Pure functions over numpy arrays in replay order (times epoch ms, prices dollars,
sizes shares); :mod:`tapesim.calibration.facts` turns them into scorecard rows.
Each returns NaN when its input cannot support it, never raises on short input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from tapesim.calibration import stats as st

__all__ = ["SMALL_MODES", "bin_noise", "change_seconds_share", "open_decay_minutes",
           "price_change_mask", "same_ms_share", "same_price_share", "small_mode_ratio",
           "window_spread"]

#: Small print sizes real tapes show as modes (shares): round numbers retail and
#: algorithms choose (real consolidated tapes; SEC MIDAS odd-lot statistics).
SMALL_MODES = (1, 5, 10, 25, 50)

SECOND_MS = 1000
MINUTE_MS = 60_000


def bin_noise(volume_ratios: ArrayLike) -> float:
    """Median absolute relative change of volume from one bin to the next:
    ``median(|v[i+1] - v[i]| / v[i])`` over bins with ``v[i] > 0``.

    A smooth deterministic U scores near 0; real tapes swing ±50% bin to bin.
    """
    v = np.asarray(volume_ratios, dtype=np.float64)
    if v.size < 2:
        return math.nan
    prev, nxt = v[:-1], v[1:]
    ok = np.isfinite(prev) & np.isfinite(nxt) & (prev > 0)
    return float(np.median(np.abs(nxt[ok] - prev[ok]) / prev[ok])) if ok.any() else math.nan


def price_change_mask(mid: ArrayLike, spread: ArrayLike) -> np.ndarray:
    """Which two-sided quotes (replay order) change the NBBO's price: the mid or the
    spread differs from the quote before, to 1e-6 (the first quote is a change)."""
    m = np.round(np.asarray(mid, dtype=np.float64), 6)
    s = np.round(np.asarray(spread, dtype=np.float64), 6)
    changed = np.ones(m.size, dtype=bool)
    changed[1:] = (m[1:] != m[:-1]) | (s[1:] != s[:-1])
    return changed


def change_seconds_share(change_ts: ArrayLike, start_ts: int, end_ts: int) -> float:
    """Share of the window's whole seconds ``[start_ts, end_ts)`` holding at least one
    NBBO price change (``change_ts``: the changes' times, epoch ms)."""
    seconds = (end_ts - start_ts) // SECOND_MS
    if seconds <= 0:
        return math.nan
    t = np.asarray(change_ts, dtype=np.int64)
    t = t[(t >= start_ts) & (t < start_ts + seconds * SECOND_MS)]
    return np.unique((t - start_ts) // SECOND_MS).size / seconds


def same_ms_share(ts: ArrayLike) -> float:
    """Share of consecutive prints in the same millisecond (a sweep, or a child order
    filling across venues and levels)."""
    t = np.asarray(ts, dtype=np.int64)
    return float(np.mean(np.diff(t) == 0)) if t.size > 1 else math.nan


def same_price_share(price: ArrayLike) -> float:
    """Share of consecutive prints at the same price (to the cent)."""
    cents = np.round(np.asarray(price, dtype=np.float64) * 100).astype(np.int64)
    return float(np.mean(cents[1:] == cents[:-1])) if cents.size > 1 else math.nan


def small_mode_ratio(sizes: ArrayLike, modes: Sequence[int] = SMALL_MODES,
                     radius: int = 2) -> tuple[float, list[tuple[int, int, int]]]:
    """How clearly each of ``modes`` stands above its neighbours.

    For each mode ``m``: the count of prints of exactly ``m`` shares, and the largest
    count at a size within ``m ± radius`` that is positive and not itself a mode.

    Returns:
        the smallest ``count / max(1, neighbour)`` over the modes (> 1 when every
        mode is a peak; NaN with no prints), and ``(mode, count, neighbour)`` each.
    """
    s = np.asarray(sizes, dtype=np.int64)
    if s.size == 0:
        return math.nan, []
    top = max(modes) + radius + 1
    counts = np.bincount(s[(s > 0) & (s < top)], minlength=top)
    peaks = []
    for m in modes:
        around = [k for k in range(m - radius, m + radius + 1)
                  if k > 0 and k != m and k not in modes]
        peaks.append((m, int(counts[m]), max((int(counts[k]) for k in around), default=0)))
    return min(c / max(1, nb) for _m, c, nb in peaks), peaks


def window_spread(ts: ArrayLike, spread: ArrayLike, lo: int, hi: int) -> float:
    """Time-weighted mean spread over ``[lo, hi)`` (quotes in force, each until the
    next); NaN when no quote is in force there."""
    return st.weighted_mean(np.asarray(spread, dtype=np.float64),
                            st.clipped_durations(ts, lo, hi))


def open_decay_minutes(ts: ArrayLike, spread: ArrayLike, open_ts: int, reference: float,
                       within: float = 1.25, horizon_min: int = 60) -> float:
    """Minutes after the open until the one-minute time-weighted spread first falls to
    ``within`` times ``reference`` (the midday spread); ``horizon_min`` when it never does
    within the horizon, NaN without a reference."""
    if not reference > 0:
        return math.nan
    for minute in range(horizon_min):
        lo = open_ts + minute * MINUTE_MS
        value = window_spread(ts, spread, lo, lo + MINUTE_MS)
        if math.isfinite(value) and value <= within * reference:
            return float(minute)
    return float(horizon_min)
