"""The equity makers' precomputed paths: half-width, re-pricing band, re-pricing steps
and every maker's held quotes over a window (the rule is stated in
:mod:`tapesim.agents.market_maker`).

Pure functions of the seeded latent and activity paths, evaluated once per shard
with numpy: value in cents, widths and bands in ticks (an equity tick is one cent),
steps as indices into the window's latent steps.
"""

from __future__ import annotations

import math

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.latent import SECONDS_PER_YEAR_OF_SESSIONS, ar1_filter

HALF_WIDTH_BAND = 0.5  # ticks: a half-width change that re-prices the makers
_FIRST_SPAN = 32  # steps searched at once for the next re-pricing (doubles on a miss)


def trading_vol(ctx: MarketContext, lo: int, hi: int) -> np.ndarray:
    """vol_k for latent steps lo..hi-1 (float64, shape (hi - lo,)): the latent
    volatility per unit of trading activity relative to the session's,
    ``vol_ratio / sqrt(activity)``."""
    activity = np.asarray(ctx.activity_path[lo:hi], dtype=np.float64)
    return ctx.latent.vol_ratio[lo:hi] / np.sqrt(activity)


def second_sd(ctx: MarketContext, cents: np.ndarray) -> np.ndarray:
    """The symbol's average sd of one second's value move, in cents, at each value in
    ``cents``: cents x annual_vol / sqrt(252 x 23,400) (float64, shaped like ``cents``)."""
    return cents * (ctx.symbol.annual_vol / math.sqrt(SECONDS_PER_YEAR_OF_SESSIONS))


def half_spread_path(ctx: MarketContext, lo: int, hi: int, sd: np.ndarray,
                     vol: np.ndarray) -> np.ndarray:
    """Quoted half-width h_k in ticks for latent steps lo..hi-1 (float64, shape
    (hi - lo,)), from ``sd`` (:func:`second_sd`) and ``vol`` (:func:`trading_vol`) over
    the same steps: proportional to volatility per trade, widened after the open and
    narrowed into the close (the rule in ``tapesim.agents.market_maker``)."""
    cfg = ctx.config.market_makers
    step_minutes = ctx.latent.step_ns / 60e9
    minutes = np.arange(lo, hi) * step_minutes
    to_close = ctx.session.length_ns / 60e9 - minutes
    widen = 1.0 + cfg.open_widening * np.exp(-minutes / cfg.open_widening_minutes)
    narrow = 1.0 - cfg.close_narrowing * np.exp(-to_close / cfg.close_narrowing_minutes)
    scaled = 1.0 - cfg.spread_vol_share + cfg.spread_vol_share * vol
    base = cfg.half_spread_ticks + cfg.half_spread_sd * sd * scaled
    return ctx.symbol.spread_scale * base * widen * narrow


def requote_band(ctx: MarketContext, sd: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """The re-pricing band H_k in ticks (float64, shaped like ``sd``):
    max(requote_min_ticks, requote_sd x sd_k x vol_k), sd_k x vol_k the sd in cents of
    one second's value move per unit of trading activity (the rule in
    ``tapesim.agents.market_maker``)."""
    cfg = ctx.config.market_makers
    return np.maximum(sd * cfg.requote_sd * vol, cfg.requote_min_ticks)


def repricing_steps(cents: np.ndarray, half: np.ndarray, band: np.ndarray) -> np.ndarray:
    """The re-pricing steps t_0 = 0 < t_1 < ... of the rule in
    ``tapesim.agents.market_maker`` (int64): t_(i+1) is the first step k > t_i with
    |cents_k - cents_(t_i)| >= band_k or |half_k - half_(t_i)| >= HALF_WIDTH_BAND.

    Args:
        cents: (n,) float64 latent value in cents.
        half: (n,) float64 half-width in ticks.
        band: (n,) float64 re-pricing band in ticks.

    A first-passage search: numpy over a span of steps at a time, the span doubling
    while no step qualifies, so the cost follows the number of re-pricings.
    """
    n = cents.size
    steps = [0]
    anchor, start, span = 0, 1, _FIRST_SPAN
    while start < n:
        stop = min(n, start + span)
        hit = np.abs(cents[start:stop] - cents.item(anchor)) >= band[start:stop]
        hit |= np.abs(half[start:stop] - half.item(anchor)) >= HALF_WIDTH_BAND
        k = int(hit.argmax())
        if hit.item(k):
            anchor = start + k
            steps.append(anchor)
            start, span = anchor + 1, max(_FIRST_SPAN, span // 2)
        else:
            start, span = stop, 2 * span
    return np.asarray(steps, dtype=np.int64)


def adoption_steps(steps: np.ndarray, lags: np.ndarray, n: int) -> np.ndarray:
    """When one maker adopts each re-pricing: ``steps + lags`` made non-decreasing,
    capped at ``n`` (never, inside the window), the first (the window's opening quote)
    at step 0. int64, shaped like ``steps``."""
    adopted = np.minimum(np.maximum.accumulate(steps + lags), n)
    adopted[0] = 0
    return adopted


def held_quotes(cents: np.ndarray, half: np.ndarray, offsets: np.ndarray, width: float,
                adopted: np.ndarray, n: int) -> np.ndarray:
    """One maker's quotes before its adjustment A_m at every step: (2, n) int32 whole
    cents, row 0 the bids floor(((v - h) + o) - w), row 1 minus the asks
    -ceil(((v + h) + o) + w), each held from the step the maker adopts a re-pricing to
    the next.

    Args:
        cents, half, offsets: (a,) value (cents), half-width and the maker's offset
            (ticks) at the a re-pricing steps.
        width: the maker's extra half-width w_m in ticks.
        adopted: (a,) int64 steps at which the maker adopts them
            (:func:`adoption_steps`).
        n: steps in the window.
    """
    lengths = np.diff(adopted, append=n)
    centre = offsets.astype(np.float64)
    bids = np.floor(((cents - half) + centre) - width)
    asks = np.ceil(((cents + half) + centre) + width)
    out = np.empty((2, n), dtype=np.int32)
    out[0] = np.repeat(bids, lengths)
    out[1] = np.repeat(-asks, lengths)
    return out


def offset_path(gen: np.random.Generator, n: int, per: int, sd: float,
                tau_s: float) -> np.ndarray:
    """A stationary AR(1) valuation offset in ticks for n steps, revised every ``per``
    steps (once a second), with sd ``sd`` ticks and reversion time ``tau_s`` seconds;
    float32, shape (n,)."""
    coarse = -(-n // per)
    a = math.exp(-1.0 / tau_s)
    shocks = gen.standard_normal(coarse) * (sd * math.sqrt(1.0 - a * a))
    start = gen.standard_normal() * sd
    path = ar1_filter(shocks, a, start)
    return np.repeat(path.astype(np.float32), per)[:n]
