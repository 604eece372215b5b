"""The latent implied-volatility surface of one underlying.

Built as an SSVI surface (Gatheral and Jacquier 2014) on total implied variance
w(k, T) = theta_T / 2 * (1 + rho*phi*k + sqrt((phi*k + rho)^2 + 1 - rho^2)),
k = ln(K / F), which is free of butterfly arbitrage when
eta * (1 + |rho|) <= 4 and eta^2 * (1 + |rho|) <= 4 (checked at construction),
and free of calendar arbitrage while the ATM total variance theta_T rises with T
(enforced). On top of that:
  ATM vol by expiry: a short-end level that follows the underlying's volatility
    regime and a long-run level, blended over a term time-scale, so the term
    structure slopes upward when calm and inverts in stress;
  put skew through rho (steeper for index-like ETFs);
  an event (earnings) adds a lump of variance to every expiry after the event;
  roughness: a small, smooth, seeded wiggle in strike, bounded in size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tapesim.config.run import SymbolProfile
from tapesim.sim.rng import stream

MINUTES_PER_YEAR = 365.0 * 24.0 * 60.0  # calendar minutes: option time is calendar time


@dataclass(frozen=True)
class SurfaceParams:
    """The shape of one underlying's latent SSVI surface (vols as annualised decimals).

    Raises ``ValueError`` when ``rho`` is outside (-1, 1) or ``eta`` is too large for
    ``rho`` to keep the surface free of butterfly arbitrage (Gatheral and Jacquier
    2014, the SSVI no-butterfly conditions in the module docstring).
    """
    base_vol: float  # the underlying's average ATM implied vol
    long_run_premium: float = 0.08  # long-dated ATM above the average when calm
    term_days: float = 30.0  # how fast the short end blends into the long run
    regime_beta: float = 0.9  # how strongly the short end follows the vol regime
    rho: float = -0.25  # skew: negative puts the smile's weight on low strikes
    eta: float = 0.8  # smile curvature scale
    roughness: float = 0.002  # largest absolute vol wiggle across strikes
    event_move: float = 0.0  # expected absolute event move (fraction of spot); 0 = none

    def __post_init__(self) -> None:
        if not -1.0 < self.rho < 1.0:
            raise ValueError("rho must lie in (-1, 1)")
        if self.eta * (1 + abs(self.rho)) > 4 or self.eta**2 * (1 + abs(self.rho)) > 4:
            raise ValueError("eta too large for rho: the SSVI surface would admit butterflies")


INDEX_LIKE_SKEW = {"rho": -0.7, "eta": 1.3}
#: The ATM implied vol (annualised decimal) up to which a smile keeps its full curvature
#: ``eta``, for index-like roots and single names; above it ``eta`` shrinks in proportion
#: (:func:`smile_eta`). Across underlyings the 25-delta put's premium over ATM, in vol
#: points, varies far less than the ATM level: index ETFs at 15-20 vol show +3-8 points,
#: single names from 25 to 60 vol +0-4 (realism targets, vol surface; individual stocks'
#: smiles are flatter than the index's, Bakshi, Kapadia and Madan 2003). SSVI's smile in
#: vol points grows in proportion to the ATM vol at fixed ``eta`` and ``rho`` (it is a
#: fixed shape in standard deviations), so without this a 60-vol name would show twice
#: the skew of a 30-vol one. The references are SPY's (0.15 x 1.1) and AAPL's
#: (0.26 x 1.1) base vols, the levels ``INDEX_LIKE_SKEW`` and the default were set at.
SMILE_REF_VOL = {True: 0.165, False: 0.29}


def smile_eta(eta: float, base_vol: float, index_like: bool) -> float:
    """The smile curvature an underlying with ATM vol ``base_vol`` (annualised decimal)
    quotes with: ``eta`` up to :data:`SMILE_REF_VOL` of its class, ``eta`` x reference /
    ``base_vol`` above it, so its put skew in vol points stays near the reference
    name's. A smaller ``eta`` keeps the SSVI no-butterfly conditions."""
    return eta * min(1.0, SMILE_REF_VOL[index_like] / base_vol)


def symbol_surface(symbol: SymbolProfile, index_like: bool = False
                   ) -> tuple[SurfaceParams, float | None]:
    """The latent surface ``symbol``'s options are quoted from, and the time of its
    earnings event in years from the open (None without one).

    Base vol = annual vol x ``implied_vol_premium``; the earnings move is the event's
    expected absolute move, falling at the close of day ``earnings_in_days``; index-like
    roots take :data:`INDEX_LIKE_SKEW`, and the curvature is :func:`smile_eta` of the
    base vol. The option makers quote from it and the latent truth sidecar reports its
    ATM vol, so both read the same surface.
    """
    earnings = symbol.earnings_in_days
    base_vol = symbol.annual_vol * symbol.implied_vol_premium
    rho, eta = ((INDEX_LIKE_SKEW["rho"], INDEX_LIKE_SKEW["eta"]) if index_like
                else (SurfaceParams.rho, SurfaceParams.eta))
    params = SurfaceParams(base_vol=base_vol,
                           event_move=symbol.earnings_move if earnings is not None else 0.0,
                           rho=rho, eta=smile_eta(eta, base_vol, index_like))
    t_event = None if earnings is None else (earnings * 1440.0 + 390.0) / MINUTES_PER_YEAR
    return params, t_event


def atm_term_structure(params: SurfaceParams, vol_ratio: float, t_years) -> np.ndarray:
    """ATM implied vol per expiry, before the event.

    short = base_vol x vol_ratio^regime_beta, long = base_vol x (1 +
    long_run_premium), blended as long + (short - long) x exp(-days / term_days);
    ``t_years`` any shape, years to expiry.
    """
    short = params.base_vol * vol_ratio**params.regime_beta
    long = params.base_vol * (1.0 + params.long_run_premium)
    blend = np.exp(-np.asarray(t_years, dtype=float) * 365.0 / params.term_days)
    return long + (short - long) * blend


def atm_total_variance(
    params: SurfaceParams, vol_ratio: float, t_years, t_event_years: float | None = None
) -> np.ndarray:
    """theta_T, made non-decreasing in T so the surface has no calendar arbitrage.

    ``t_years`` (any shape) are years to expiry. An event at ``t_event_years`` adds,
    to every later expiry, the variance of a normal move whose expected absolute
    size is ``params.event_move`` (sigma = move x sqrt(pi / 2)).
    """
    t = np.maximum(np.asarray(t_years, dtype=float), 1e-6)
    theta = atm_term_structure(params, vol_ratio, t) ** 2 * t
    if t_event_years is not None and params.event_move > 0:
        theta = theta + np.where(t > t_event_years, (params.event_move * np.sqrt(np.pi / 2)) ** 2,
                                 0.0)
    order = np.argsort(t, axis=None, kind="stable")
    flat = theta.reshape(-1)[order]
    monotone = np.empty_like(flat)
    monotone[order] = np.maximum.accumulate(flat)
    return monotone.reshape(theta.shape)


@dataclass(frozen=True)
class Roughness:
    """A smooth, bounded wiggle in log-moneyness: a few seeded low-frequency waves."""

    amplitude: float
    frequencies: np.ndarray
    phases: np.ndarray

    @classmethod
    def draw(cls, root_seed: int, symbol: str, amplitude: float, waves: int = 3) -> Roughness:
        """The wiggle of ``symbol``: ``waves`` sine waves in log-moneyness with frequencies
        uniform in [2, 6) and phases uniform in [0, 2 pi), drawn from the stream
        ``(symbol, "surface", "roughness")``; their mean is scaled by ``amplitude`` (vol
        points as a decimal), so the wiggle never exceeds it.
        """
        gen = stream(root_seed, symbol, "surface", "roughness")
        return cls(amplitude, gen.uniform(2.0, 6.0, waves), gen.uniform(0, 2 * np.pi, waves))

    def __call__(self, k: np.ndarray) -> np.ndarray:
        """The vol wiggle (annualised decimal, |value| <= amplitude) at each log-moneyness
        ``k`` (any shape).
        """
        k = np.asarray(k, dtype=float)[..., None]
        waves = np.sin(self.frequencies * k + self.phases).mean(axis=-1)
        return self.amplitude * waves


def implied_vols(
    params: SurfaceParams,
    vol_ratio: float,
    forward,
    strike,
    t_years,
    roughness: Roughness | None = None,
    t_event_years: float | None = None,
) -> np.ndarray:
    """Implied vol for each (strike, expiry) pair, broadcast together.

    ``forward`` and ``strike`` in dollars, ``t_years`` years to expiry (floored at
    1e-6), ``vol_ratio`` the underlying's current vol over its average (the regime).
    SSVI total variance w(k, T) with phi = eta / sqrt(theta (1 + theta)) (the power-law
    parameterisation of Gatheral and Jacquier 2014 with gamma = 1/2), vol = sqrt(w / T), plus
    the roughness wiggle when given, floored at 0.01. Annualised decimals.
    """
    t = np.maximum(np.asarray(t_years, dtype=float), 1e-6)
    theta = atm_total_variance(params, vol_ratio, t, t_event_years)
    k = np.log(np.asarray(strike, dtype=float) / np.asarray(forward, dtype=float))
    phi = params.eta / np.sqrt(theta * (1.0 + theta))
    rho = params.rho
    w = theta / 2.0 * (1.0 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1.0 - rho * rho))
    vol = np.sqrt(w / t)
    if roughness is not None:
        vol = vol + roughness(k)
    return np.maximum(vol, 0.01)
