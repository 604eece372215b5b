"""Black-Scholes pricing, delta and implied volatility, vectorised over whole chains.

Prices use the forward F = S * exp((r - q) T) and discount exp(-r T); every
function takes numpy arrays (or scalars) that broadcast together, so a market
maker prices a whole chain in one call.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

MIN_T = 1e-6  # years: a contract expiring today still has minutes left


def _d1_d2(spot, strike, t, vol, rate, carry):
    t = np.maximum(t, MIN_T)
    sd = np.maximum(vol, 1e-6) * np.sqrt(t)
    forward = spot * np.exp((rate - carry) * t)
    d1 = (np.log(forward / strike) + 0.5 * sd * sd) / sd
    return d1, d1 - sd, forward, t


def price(spot, strike, t, vol, is_call, rate=0.0, carry=0.0) -> np.ndarray:
    """Option value per share (multiply by 100 for a contract).

    Black-Scholes on the forward (Black 1976 form): ``spot`` and ``strike`` in
    dollars, ``t`` in years (floored at ``MIN_T``), ``vol``, ``rate`` and ``carry``
    annualised decimals, ``is_call`` bool; arrays broadcast together.
    """
    d1, d2, forward, t = _d1_d2(spot, strike, t, vol, rate, carry)
    return _value(d1, d2, forward, t, strike, is_call, rate)


def _value(d1, d2, forward, t, strike, is_call, rate):
    disc = np.exp(-rate * t)
    call = disc * (forward * ndtr(d1) - strike * ndtr(d2))
    put = disc * (strike * ndtr(-d2) - forward * ndtr(-d1))
    return np.where(is_call, call, put)


def delta(spot, strike, t, vol, is_call, rate=0.0, carry=0.0) -> np.ndarray:
    """Spot delta per share: calls in (0, 1), puts in (-1, 0)."""
    d1, _, _, t = _d1_d2(spot, strike, t, vol, rate, carry)
    return _delta(d1, t, is_call, carry)


def _delta(d1, t, is_call, carry):
    growth = np.exp(-carry * t)
    return np.where(is_call, growth * ndtr(d1), growth * (ndtr(d1) - 1.0))


def vega(spot, strike, t, vol, rate=0.0, carry=0.0) -> np.ndarray:
    """Black-Scholes vega per share: dollars of option value per unit of vol (1.00 = 100
    vol points), e^(-rT) F phi(d1) sqrt(T). Arguments broadcast as in :func:`price`
    (spot and strike in dollars, ``t`` in years, floored at ``MIN_T``, vol and rates
    annualised decimals).
    """
    d1, _, forward, t = _d1_d2(spot, strike, t, vol, rate, carry)
    return _vega(d1, forward, t, rate)


def _vega(d1, forward, t, rate):
    return np.exp(-rate * t) * forward * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi) * np.sqrt(t)


def implied_vol(
    premium, spot, strike, t, is_call, rate=0.0, carry=0.0, low=1e-4, high=5.0, steps=60
) -> np.ndarray:
    """The volatility that reprices ``premium``, by vectorised bisection.

    NaN where the premium is outside the no-arbitrage bounds (below intrinsic
    value or above the forward/strike bound), so callers can tell "no IV" apart.
    ``premium`` is dollars per share; other arguments as in :func:`price`. The
    search brackets [``low``, ``high``] and halves it ``steps`` times (60 halvings
    of [1e-4, 5] leave an error far below 1e-10 vol).
    """
    premium = np.asarray(premium, dtype=float)
    shape = np.broadcast(premium, spot, strike, t, is_call).shape
    lo = np.full(shape, low)
    hi = np.full(shape, high)
    p_lo = price(spot, strike, t, lo, is_call, rate, carry)
    p_hi = price(spot, strike, t, hi, is_call, rate, carry)
    inside = (premium >= p_lo - 1e-12) & (premium <= p_hi)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        above = price(spot, strike, t, mid, is_call, rate, carry) > premium
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.where(inside, 0.5 * (lo + hi), np.nan)


def gamma(spot, strike, t, vol, rate=0.0, carry=0.0) -> np.ndarray:
    """d(delta)/d(spot) per share, the same for calls and puts."""
    d1, _, _, t = _d1_d2(spot, strike, t, vol, rate, carry)
    return _gamma(d1, spot, t, vol, carry)


def _gamma(d1, spot, t, vol, carry):
    sd = np.maximum(vol, 1e-6) * np.sqrt(t)
    return np.exp(-carry * t) * np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi) / (spot * sd)


def greeks(spot, strike, t, vol, is_call, rate=0.0,
           carry=0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, delta, gamma, vega) per share, as :func:`price`, :func:`delta`,
    :func:`gamma` and :func:`vega` give them (the same arithmetic, bit for bit), with
    d1 and d2 computed once. Arguments as in :func:`price`."""
    d1, d2, forward, t = _d1_d2(spot, strike, t, vol, rate, carry)
    return (_value(d1, d2, forward, t, strike, is_call, rate), _delta(d1, t, is_call, carry),
            _gamma(d1, spot, t, vol, carry), _vega(d1, forward, t, rate))
