"""Pure, vectorised statistics behind the equity stylized facts.

Every function here takes plain numpy arrays and returns numbers or arrays, so each
can be tested on a hand-made case without a run directory. Functions return NaN
(never raise) when the input is too small or degenerate for the statistic to exist;
the caller turns NaN into an ``"n/a"`` row.

Time is integer epoch milliseconds throughout; quote arrays are in replay order
(``ts`` non-decreasing, ``seq`` increasing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Prices closer than this are treated as equal (tick is $0.01).
PRICE_TOL = 1e-6


def acf(x: ArrayLike, lags: Sequence[int] | int) -> FloatArray:
    """Sample autocorrelation of ``x`` at ``lags`` (standard biased estimator).

    ``acf[k] = sum_t d_t d_{t+k} / sum_t d_t^2`` with ``d = x - mean(x)``. NaN where the
    lag is not smaller than the series length or the series is constant.
    """
    v = np.asarray(x, dtype=np.float64)
    ks = np.atleast_1d(np.asarray(lags, dtype=np.int64))
    out = np.full(ks.size, np.nan)
    n = v.size
    if n < 2:
        return out
    d = v - v.mean()
    c0 = float(d @ d)
    if c0 <= 0.0:
        return out
    for i, k in enumerate(ks):  # loop over the few lags, not over rows
        if 0 <= k < n:
            out[i] = float(d[: n - k] @ d[k:]) / c0
    return out


def excess_kurtosis(x: ArrayLike) -> float:
    """Population excess kurtosis ``m4 / m2^2 - 3`` (0 for a Gaussian); NaN if n < 4."""
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return math.nan
    d = v - v.mean()
    m2 = float(np.mean(d * d))
    if m2 <= 0.0:
        return math.nan
    return float(np.mean(d**4)) / (m2 * m2) - 3.0


def hill_tail_index(x: ArrayLike, tail_fraction: float = 0.05) -> float:
    """Hill estimate of the tail index of ``|x|`` from its top ``tail_fraction``.

    With ``k = floor(tail_fraction * n)`` and the order statistics ``a_(1) >= a_(2) >= ..``
    the estimate is ``k / sum_{i<=k} log(a_(i) / a_(k+1))``; for a Pareto tail
    ``P(|X| > x) ~ x^-alpha`` it converges to ``alpha``. NaN when k < 2 or the
    threshold ``a_(k+1)`` is not positive.
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    a = a[np.isfinite(a)]
    k = math.floor(tail_fraction * a.size)
    if k < 2 or a.size <= k:
        return math.nan
    top = -np.partition(-a, k)[: k + 1]  # the k+1 largest values of a
    top.sort()
    threshold = top[0]
    if threshold <= 0.0:
        return math.nan
    s = float(np.sum(np.log(top[1:] / threshold)))
    return k / s if s > 0.0 else math.nan


def tick_rule_signs(price: ArrayLike, tol: float = PRICE_TOL) -> NDArray[np.int8]:
    """Tick-rule trade signs: +1 on an uptick, -1 on a downtick, a zero tick repeats the
    last non-zero tick; 0 before the first price change."""
    p = np.asarray(price, dtype=np.float64)
    s = np.zeros(p.size, dtype=np.int8)
    if p.size < 2:
        return s
    d = np.diff(p)
    s[1:] = np.where(d > tol, 1, np.where(d < -tol, -1, 0))
    last = np.maximum.accumulate(np.where(s != 0, np.arange(p.size), 0))
    return s[last]


def quote_index_before(
    print_ts: ArrayLike, print_seq: ArrayLike, quote_ts: ArrayLike, quote_seq: ArrayLike
) -> IntArray:
    """Index of the quote in force just before each print: the last quote with
    ``ts <= print ts`` and ``seq < print seq``; -1 where there is none."""
    by_seq = np.searchsorted(np.asarray(quote_seq), np.asarray(print_seq), side="left") - 1
    by_ts = np.searchsorted(np.asarray(quote_ts), np.asarray(print_ts), side="right") - 1
    return np.minimum(by_seq, by_ts).astype(np.int64)


def lee_ready_signs(
    price: ArrayLike, quote_mid: ArrayLike, tol: float = PRICE_TOL
) -> NDArray[np.int8]:
    """Lee-Ready trade signs: +1 (buy) above the prevailing mid, -1 (sell) below it, and
    the tick rule at the mid or when there is no prevailing quote (mid NaN)."""
    p = np.asarray(price, dtype=np.float64)
    m = np.asarray(quote_mid, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        quote = np.where(p > m + tol, 1, np.where(p < m - tol, -1, 0)).astype(np.int8)
    return np.where(quote != 0, quote, tick_rule_signs(p, tol)).astype(np.int8)


def take_or_nan(values: FloatArray, idx: IntArray) -> FloatArray:
    """``values[idx]`` with NaN where ``idx < 0`` (no observation yet)."""
    if values.size == 0:
        return np.full(np.shape(idx), np.nan)
    out = values[np.clip(idx, 0, None)].astype(np.float64)
    out[idx < 0] = np.nan
    return out


def value_at(ts: ArrayLike, values: ArrayLike, t: ArrayLike) -> FloatArray:
    """Forward-filled ``values`` at times ``t``: the last observation with ``ts <= t``."""
    idx = np.searchsorted(np.asarray(ts), np.asarray(t), side="right") - 1
    return take_or_nan(np.asarray(values, dtype=np.float64), idx.astype(np.int64))


def grid_log_returns(
    ts: ArrayLike, mid: ArrayLike, start: int, end: int, width_ms: int
) -> FloatArray:
    """Log returns of the forward-filled mid over bars ``[start + i w, start + (i+1) w)``.

    There are ``floor((end - start) / w)`` bars; a bar whose opening mid is not yet
    defined has a NaN return.
    """
    n = max(0, (end - start) // width_ms)
    grid = start + width_ms * np.arange(n + 1, dtype=np.int64)
    m = value_at(ts, mid, grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diff(np.log(m))


def bar_sums(
    ts: ArrayLike, values: ArrayLike, start: int, width_ms: int, n_bars: int
) -> FloatArray:
    """Sum of ``values`` per bar ``[start + i w, start + (i+1) w)``, i < n_bars."""
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = (t >= start) & (t < start + n_bars * width_ms)
    b = (t[keep] - start) // width_ms
    return np.bincount(b, weights=v[keep], minlength=n_bars).astype(np.float64)[:n_bars]


def aggregate_returns(r: ArrayLike, m: int) -> FloatArray:
    """Non-overlapping sums of ``m`` consecutive log returns (drops an incomplete tail)."""
    v = np.asarray(r, dtype=np.float64)
    k = v.size // m
    return v[: k * m].reshape(k, m).sum(axis=1)


def clipped_durations(ts: ArrayLike, lo: int, hi: int) -> FloatArray:
    """How long each quote is in force inside ``[lo, hi)``: quote i lasts from its ts
    until the next quote's ts (the last one until ``hi``), clipped to the window."""
    t = np.asarray(ts, dtype=np.int64)
    if t.size == 0:
        return np.zeros(0)
    ends = np.append(t[1:], max(hi, int(t[-1])))
    d = np.minimum(ends, hi) - np.maximum(t, lo)
    return np.clip(d, 0, None).astype(np.float64)


def weighted_median(values: ArrayLike, weights: ArrayLike) -> float:
    """Lower weighted median: the smallest value whose cumulative weight reaches half."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(v) & (w > 0)
    v, w = v[keep], w[keep]
    if v.size == 0:
        return math.nan
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, 0.5 * cum[-1], side="left")])


def weighted_mean(values: ArrayLike, weights: ArrayLike) -> float:
    """Weighted mean ignoring NaN values; NaN when the weights sum to zero."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(v) & (w > 0)
    total = float(w[keep].sum())
    return float(v[keep] @ w[keep]) / total if total > 0 else math.nan


def pearson(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson correlation; NaN when either side is constant or has fewer than 3 values."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.size < 3 or float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def coefficient_of_variation(x: ArrayLike) -> float:
    """Population standard deviation over mean; NaN for fewer than 2 values or mean 0."""
    v = np.asarray(x, dtype=np.float64)
    if v.size < 2:
        return math.nan
    mu = float(v.mean())
    return float(v.std()) / mu if mu > 0 else math.nan


def weibull_shape(durations: ArrayLike, min_count: int = 10) -> float:
    """Shape ``c`` of a Weibull fitted by maximum likelihood (``floc=0``) to the positive
    durations; NaN with fewer than ``min_count`` of them or when they are all equal."""
    d = np.asarray(durations, dtype=np.float64)
    d = d[d > 0]
    if d.size < min_count or float(d.min()) == float(d.max()):
        return math.nan
    c, _loc, _scale = sps.weibull_min.fit(d / float(np.median(d)), floc=0)
    return float(c)


def mode_peak_ratio(sizes: ArrayLike, mode: int, radius: int = 10) -> tuple[int, int]:
    """Count of prints at ``mode`` and the largest count at any size ``mode +- 1..radius``."""
    s = np.asarray(sizes, dtype=np.int64)
    lo = mode - radius
    s = s[(s >= lo) & (s <= mode + radius)] - lo
    counts = np.bincount(s, minlength=2 * radius + 1)
    neighbours = np.delete(counts, radius)
    return int(counts[radius]), int(neighbours.max())


def volume_bin_ratios(
    ts: ArrayLike, size: ArrayLike, open_ts: int, close_ts: int, bin_ms: int
) -> FloatArray:
    """Volume per bin of ``[open_ts, close_ts)`` over the mean bin volume (the last bin
    may be short); NaN everywhere when there is no volume."""
    n = max(1, -(-(close_ts - open_ts) // bin_ms))
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(size, dtype=np.float64)
    keep = (t >= open_ts) & (t < close_ts)
    vol = np.bincount((t[keep] - open_ts) // bin_ms, weights=v[keep], minlength=n)[:n]
    mean = float(vol.mean())
    return vol / mean if mean > 0 else np.full(n, np.nan)


def impact_exponent(q_over_v: ArrayLike, impact: ArrayLike, n_bins: int) -> tuple[float, int]:
    """Exponent ``delta`` of ``E[impact] ~ (Q/V)^delta`` and the number of bins used.

    Parents are sorted by Q/V and split into ``n_bins`` equal-count (quantile) bins; each
    bin gives (geometric mean of Q/V, mean sign-adjusted impact). Bins with a
    non-positive mean impact cannot enter a log-log fit and are dropped; the slope of
    the least-squares line through the remaining log points is ``delta`` (NaN with
    fewer than 3 bins left).
    """
    x = np.asarray(q_over_v, dtype=np.float64)
    y = np.asarray(impact, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[keep], y[keep]
    n_bins = min(n_bins, x.size)
    if n_bins < 3:
        return math.nan, 0
    order = np.argsort(x, kind="stable")
    labels = np.empty(x.size, dtype=np.int64)
    labels[order] = (np.arange(x.size) * n_bins) // x.size
    counts = np.bincount(labels, minlength=n_bins)
    bx = np.exp(np.bincount(labels, weights=np.log(x), minlength=n_bins) / counts)
    by = np.bincount(labels, weights=y, minlength=n_bins) / counts
    ok = by > 0
    if int(ok.sum()) < 3:
        return math.nan, int(ok.sum())
    slope = np.polyfit(np.log(bx[ok]), np.log(by[ok]), 1)[0]
    return float(slope), int(ok.sum())


def impact_exponent_interval(q_over_v: ArrayLike, impact: ArrayLike, n_bins: int,
                             draws: int = 200, seed: int = 0) -> tuple[float, float, float]:
    """A 95% percentile-bootstrap interval of :func:`impact_exponent` over the parents:
    ``(low, high, undefined share)``.

    Resamples the parents with replacement ``draws`` times (a fixed-seed generator, so
    the interval is reproducible) and refits; ``undefined share`` is the share of
    resamples where the fit has fewer than 3 usable bins (their exponents are left
    out). NaN bounds when fewer than 20 resamples give an exponent. The interval shows
    whether the point estimate is signal or sampling noise (Efron & Tibshirani 1993,
    percentile interval).
    """
    x = np.asarray(q_over_v, dtype=np.float64)
    y = np.asarray(impact, dtype=np.float64)
    if x.size < 3:
        return math.nan, math.nan, 1.0
    gen = np.random.default_rng(seed)
    fits = []
    for _ in range(draws):  # a few hundred cheap refits of a few hundred parents
        pick = gen.integers(0, x.size, size=x.size)
        fits.append(impact_exponent(x[pick], y[pick], n_bins)[0])
    ok = np.asarray([f for f in fits if math.isfinite(f)])
    undefined = 1.0 - ok.size / draws
    if ok.size < 20:
        return math.nan, math.nan, undefined
    low, high = np.quantile(ok, [0.025, 0.975])
    return float(low), float(high), undefined
