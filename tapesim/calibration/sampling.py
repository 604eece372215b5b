"""Return-memory statistics judged against their sampling error.

A day has about 390 one-minute returns, so a sample autocorrelation of a martingale
has a standard error near ``1/sqrt(390) = 0.05`` and the largest of 15 of them is
about 0.1; a 30-minute bar series has 13 values a day, whose kurtosis is mostly
noise. Rows of ``docs/realism-targets.md`` such as "abs ACF <= 0.05 beyond lag 5"
state a property of the process, so the scorecard estimates them on every run's
returns together (each run a segment: no product spans two runs) and reports a
bound that allows for the estimate's sampling error:

* :func:`pooled_acf` — the autocorrelation of segmented series with the
  heteroskedasticity-consistent standard error of Lo & MacKinlay (1988, RFS 1(1),
  eq. for delta(j)): ``se_k = sqrt(sum_t d_t^2 d_{t+k}^2) / sum_t d_t^2``, valid for
  a martingale difference with volatility clustering or intraday seasonality
  (it reduces to Bartlett's ``1/sqrt(n)`` for i.i.d. returns).
* :func:`acf_excess_bound` — a simultaneous (Bonferroni) lower confidence bound on
  ``max_k |rho_k|``: ``max_k (|r_k| - z se_k)`` with ``z`` the two-sided normal
  quantile at ``level / (number of lags)``.
* :func:`kurtosis_with_se` and :func:`kurtosis_rise_bound` — excess kurtosis with
  its delta-method (influence-function) standard error, which is ``sqrt(24/n)`` for
  Gaussian data, and a lower confidence bound on the largest rise of kurtosis from
  one aggregation scale to the next.

All functions take lists of 1-D float arrays (one per run; NaN entries are ignored,
never bridged) and return NaN rather than raise when there is too little data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tapesim.calibration.stats import FloatArray, aggregate_returns

#: Family-wise error rate of the sampling allowances: a true process passes with at
#: least 95% probability (asymptotically).
LEVEL = 0.05


def _centred(segments: Sequence[ArrayLike]) -> tuple[list[FloatArray], float]:
    """Each segment minus the grand mean of all finite values (NaN entries become 0,
    so they add nothing to any sum), and the sum of squares of the centred values."""
    xs = [np.asarray(s, dtype=np.float64).ravel() for s in segments]
    finite = [x[np.isfinite(x)] for x in xs]
    count = sum(f.size for f in finite)
    if count < 2:
        return [], 0.0
    mu = sum(float(f.sum()) for f in finite) / count
    ds = [np.where(np.isfinite(x), x - mu, 0.0) for x in xs]
    return ds, sum(float(d @ d) for d in ds)


def pooled_acf(segments: Sequence[ArrayLike], lags: Sequence[int]) -> tuple[FloatArray,
                                                                            FloatArray]:
    """Autocorrelation at ``lags`` of segmented series, and its standard error.

    ``r_k = sum_s sum_t d_t d_{t+k} / sum_s sum_t d_t^2`` with ``d`` the values minus
    the grand mean, the inner sums within segment ``s`` only;
    ``se_k = sqrt(sum_s sum_t (d_t d_{t+k})^2) / sum_s sum_t d_t^2`` (Lo & MacKinlay
    1988, heteroskedasticity-consistent). Both NaN at a lag no segment is longer
    than, or when the series is constant.
    """
    ks = np.asarray(lags, dtype=np.int64)
    r = np.full(ks.size, np.nan)
    se = np.full(ks.size, np.nan)
    ds, c0 = _centred(segments)
    if c0 <= 0.0:
        return r, se
    for i, k in enumerate(ks):  # a few lags, each a vector product per segment
        prods = [d[: d.size - k] * d[k:] for d in ds if 0 <= k < d.size]
        if prods:
            r[i] = sum(float(p.sum()) for p in prods) / c0
            se[i] = math.sqrt(sum(float(p @ p) for p in prods)) / c0
    return r, se


def acf_excess_bound(segments: Sequence[ArrayLike], lags: Sequence[int],
                     level: float = LEVEL) -> tuple[float, float, float]:
    """Lower confidence bound on ``max_k |rho_k|`` over ``lags``: ``(bound, largest
    |r_k|, z)``.

    ``bound = max(0, max_k (|r_k| - z se_k))`` with :func:`pooled_acf`'s ``r_k, se_k``
    and ``z = Phi^-1(1 - level / (2 m))`` for ``m`` lags (Bonferroni): with
    probability at least ``1 - level`` every ``rho_k`` lies within ``z se_k`` of
    ``r_k``, so ``max_k |rho_k| >= bound``. A band ``<= c`` on ``max_k |rho_k|``
    passes unless the data show an autocorrelation beyond ``c`` at some lag. NaN
    entries when no lag can be estimated.
    """
    r, se = pooled_acf(segments, lags)
    ok = np.isfinite(r) & np.isfinite(se)
    if not ok.any():
        return math.nan, math.nan, math.nan
    z = float(sps.norm.ppf(1.0 - level / (2 * int(ok.sum()))))
    bound = float(np.max(np.abs(r[ok]) - z * se[ok]))
    return max(bound, 0.0), float(np.max(np.abs(r[ok]))), z


def window_acf(segments: Sequence[ArrayLike], centre: int, half_width: int) -> float:
    """The mean of :func:`pooled_acf` over lags ``centre - half_width .. centre +
    half_width``: a local average that estimates a slowly decaying autocorrelation
    (such as that of absolute returns) at ``centre`` with about ``2 half_width + 1``
    times less sampling variance than one lag. NaN when no lag can be estimated."""
    r, _se = pooled_acf(segments, range(centre - half_width, centre + half_width + 1))
    return float(np.mean(r[np.isfinite(r)])) if np.isfinite(r).any() else math.nan


def kurtosis_with_se(x: ArrayLike) -> tuple[float, float]:
    """Population excess kurtosis of the finite values of ``x`` and its delta-method
    standard error.

    With ``z`` the standardised values and ``b = mean(z^4)``, the influence function
    of ``b`` is ``z^4 - b - 2 b (z^2 - 1)`` and ``se = sqrt(mean(IF^2) / n)``; for a
    Gaussian it tends to ``sqrt(24 / n)``. NaN (both) with fewer than 4 values or a
    constant series.
    """
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return math.nan, math.nan
    d = v - v.mean()
    m2 = float(np.mean(d * d))
    if m2 <= 0.0:
        return math.nan, math.nan
    z2 = d * d / m2
    b = float(np.mean(z2 * z2))
    influence = z2 * z2 - b - 2.0 * b * (z2 - 1.0)
    return b - 3.0, math.sqrt(float(np.mean(influence * influence)) / v.size)


def kurtosis_rise_bound(segments: Sequence[ArrayLike], scales: Sequence[int],
                        level: float = LEVEL) -> tuple[float, list[tuple[int, float, float, int]]]:
    """Lower confidence bound on the largest rise of excess kurtosis from one
    aggregation scale to the next, and the per-scale ``(scale, kurtosis, se, n)``.

    Returns at scale ``m`` are non-overlapping sums of ``m`` one-minute returns within
    each segment. The bound is ``max_i (k_{i+1} - k_i - z sqrt(se_i^2 + se_{i+1}^2))``
    with ``z = Phi^-1(1 - level / (number of steps))`` (one-sided, Bonferroni); the
    two kurtoses are positively correlated, so treating them as independent
    overstates the rise's error and the bound is conservative. "Kurtosis decreasing
    with scale" (band ``<= 0``) fails only when the data show a rise. NaN when a
    scale has fewer than 4 returns.
    """
    per_scale: list[tuple[int, float, float, int]] = []
    for m in scales:
        parts = [aggregate_returns(s, m) for s in segments]
        agg = np.concatenate(parts) if parts else np.zeros(0)
        k, se = kurtosis_with_se(agg)
        per_scale.append((m, k, se, int(agg.size)))
    steps = len(per_scale) - 1
    if steps < 1 or not all(math.isfinite(k) for _m, k, _se, _n in per_scale):
        return math.nan, per_scale
    z = float(sps.norm.ppf(1.0 - level / steps))
    bound = max(b[1] - a[1] - z * math.hypot(a[2], b[2])
                for a, b in itertools.pairwise(per_scale))
    return bound, per_scale
