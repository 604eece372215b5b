"""The latent state of an underlying: its fundamental value path and activity envelope.

All of it is drawn up front, vectorised, on a fixed time grid. The market factor
(with its volatility regime) and each sector factor come from streams keyed only
by the root seed, so every shard draws the same paths independently, whatever the
number of workers; the symbol's own noise and jumps come from its own stream.

Model, per grid step of length dt (in session time):
  log V += beta * m_t + w_s * s_t + idio_t + jump_t
  m_t   = sigma_m * regime_t * exp(h_t + f_t) * env_vol(t) * sqrt(dt) * z
  h_t   : slow Ornstein-Uhlenbeck log-volatility (spells of tens of minutes)
  f_t   : fast OU log-volatility (bursts of a few minutes)
  regime: a three-state Markov chain (calm, normal, stress)
so returns are heavy-tailed (stochastic vol + jumps), volatility clusters from
minutes to an hour, and activity and volatility follow the intraday U-shape. There is
no drift: an hour's move is a martingale's, its size set by that hour's volatility.
The slow factors are kept moderate (regimes a factor of under two apart, a slow
log-vol sd of about 0.35) so no hour runs at a small fraction of the day's
volatility while another carries the day's whole move: stacked wide regimes and a
large slow vol-of-vol drew hours-long dead-flat stretches between steep ramps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tapesim.config.run import REGIMES, SymbolProfile, VolatilityRegime
from tapesim.sim.rng import stream

SECONDS_PER_YEAR_OF_SESSIONS = 252 * 23_400.0


def intraday_envelope(frac: np.ndarray, cfg: VolatilityRegime,
                      session_minutes: float) -> np.ndarray:
    """Activity multiplier over the session (mean 1): high at the open and close.

    ``frac`` is the fraction of the session elapsed (0..1, any shape); the shape is
    1 + open_boost x exp(-minutes / open_decay) + close_boost x exp(-minutes to the
    close / close_decay), normalised to mean 1 over ``frac``.
    """
    minutes = frac * session_minutes
    shape = (
        1.0
        + cfg.open_boost * np.exp(-minutes / cfg.open_decay_minutes)
        + cfg.close_boost * np.exp(-(session_minutes - minutes) / cfg.close_decay_minutes)
    )
    return shape / shape.mean()


@dataclass(frozen=True)
class MarketState:
    """Market-wide paths on the grid, identical in every shard; each shape ``(n,)``."""

    factor: np.ndarray  # log-return increments of the market factor (unit annual vol)
    vol_state: np.ndarray  # regime x slow SV x sqrt(envelope): the persistent vol level
    burst: np.ndarray  # the fast SV multiplier (mean square about 1) on top of it
    envelope: np.ndarray  # activity multiplier (mean 1)
    regime: np.ndarray  # int8 regime state per step: 0 calm, 1 normal, 2 stress


def ar1_filter(shocks: np.ndarray, a: float, start: float) -> np.ndarray:
    """y[t] = a * y[t-1] + shocks[t] with y[-1] = start, for 0 < a < 1, vectorised.

    Solved in blocks: inside a block y[j] = a^j * (a * carry + cumsum(shocks / a^s)),
    with blocks short enough that 1 / a^s stays below 1e4 (no loss of precision).
    """
    n = shocks.size
    out = np.empty(n)
    block = max(1, min(n, int(np.log(1e4) / -np.log(a)))) if n else 0
    powers = a ** np.arange(block)
    carry = start
    for lo in range(0, n, block):
        e = shocks[lo:lo + block]
        p = powers[:e.size]
        y = p * (a * carry + np.cumsum(e / p))
        out[lo:lo + e.size] = y
        carry = y[-1]
    return out


def _ou_log_vol(gen: np.random.Generator, n: int, dt_s: float, reversion_minutes: float,
                vol_of_vol: float) -> np.ndarray:
    """A stationary OU path of log-volatility on ``n`` points ``dt_s`` apart, exact
    discretisation: mean-reversion time ``reversion_minutes``, stationary sd
    ``vol_of_vol / sqrt(2)``, shifted down by the stationary variance so E[exp(2h)] is
    about 1."""
    a = np.exp(-dt_s / (reversion_minutes * 60.0))
    stationary_sd = vol_of_vol / np.sqrt(2.0)
    noise = gen.standard_normal(n) * stationary_sd * np.sqrt(1.0 - a * a)
    h = np.empty(n)
    h[0] = gen.standard_normal() * stationary_sd
    h[1:] = ar1_filter(noise[:-1], a, h[0])
    return h - stationary_sd**2


def _stochastic_vol(gen: np.random.Generator, n: int, dt_s: float,
                    cfg: VolatilityRegime) -> tuple[np.ndarray, np.ndarray]:
    """Two-factor stochastic volatility on ``n`` points ``dt_s`` apart: (slow, fast)
    multipliers, each exp of an OU log-vol with mean square about 1.

    The slow factor (``sv_reversion_minutes``, ``sv_vol_of_vol``) carries the spells of
    tens of minutes; the fast one (``sv_fast_reversion_minutes``,
    ``sv_fast_vol_of_vol``) the bursts of a few minutes that give one-minute returns
    their fat tails without holding a level for hours, as in the two-factor models of
    Chernov, Gallant, Ghysels and Tauchen (2003, J. Econometrics 116) and the
    intraday volatility components of Andersen and Bollerslev (1997, J. Empirical
    Finance 4). Draw order: the slow path, then the fast one.
    """
    slow = np.exp(_ou_log_vol(gen, n, dt_s, cfg.sv_reversion_minutes, cfg.sv_vol_of_vol))
    fast = np.exp(_ou_log_vol(gen, n, dt_s, cfg.sv_fast_reversion_minutes,
                              cfg.sv_fast_vol_of_vol))
    return slow, fast


def _regimes(gen: np.random.Generator, n: int, dt_s: float, cfg: VolatilityRegime) -> np.ndarray:
    """States of a three-state Markov chain (0 calm, 1 normal, 2 stress) on ``n`` points
    ``dt_s`` apart, starting in ``cfg.start_regime`` and moving one state up or down at
    ``cfg.regime_switch_per_hour``; int8, shape ``(n,)``."""
    p_switch = 1.0 - np.exp(-cfg.regime_switch_per_hour * dt_s / 3600.0)
    switches = np.flatnonzero(gen.random(n) < p_switch)
    moves = gen.choice(np.array([-1, 1]), size=switches.size)
    current = REGIMES.index(cfg.start_regime)
    state = np.full(n, current, dtype=np.int8)
    for at, move in zip(switches, moves, strict=True):  # a few switches a day
        current = min(max(current + int(move), 0), 2)
        state[at:] = current
    return state


def regime_levels(cfg: VolatilityRegime) -> np.ndarray:
    """Relative vol of the calm, normal and stress regimes, scaled so their mean square
    over the chain's (uniform) stationary law is 1; float64, shape ``(3,)``."""
    levels = np.asarray(cfg.regime_vol, dtype=np.float64)
    return levels / np.sqrt(np.mean(levels**2))


def _slow_grid(n: int, step_ms: int) -> tuple[int, int]:
    """(coarse points, fine steps per coarse point) for the slow volatility state."""
    per = max(1, 1000 // step_ms)
    return -(-n // per), per


def market_state(root_seed: int, cfg: VolatilityRegime, n: int,
                 session_minutes: float) -> MarketState:
    """The market-wide paths of a session on a grid of ``n`` steps of ``cfg.step_ms``.

    Drawn from the stream ``("market", "factor")`` of ``root_seed`` only, so every
    shard computes the same arrays: the envelope (:func:`intraday_envelope`, evaluated
    at step midpoints over ``session_minutes``), the volatility state (regime chain x
    the slow SV factor of :func:`_stochastic_vol` on a 1 s grid, repeated onto the fine
    grid, times the square root of the envelope), the fast SV factor (``burst``) and
    the market factor's log-return increments at unit annual vol (252 sessions of
    23,400 s a year) scaled by both. Arrays have shape ``(n,)``, float64 (``regime``
    int8).
    """
    dt_s = cfg.step_ms / 1000.0
    gen = stream(root_seed, "market", "factor")
    frac = (np.arange(n) + 0.5) / n
    envelope = intraday_envelope(frac, cfg, session_minutes)
    coarse, per = _slow_grid(n, cfg.step_ms)
    slow_dt = dt_s * per
    regime = _regimes(gen, coarse, slow_dt, cfg)
    slow, fast = _stochastic_vol(gen, coarse, slow_dt, cfg)
    vol_state = np.repeat(regime_levels(cfg)[regime] * slow, per)[:n] * np.sqrt(envelope)
    burst = np.repeat(fast, per)[:n]
    step_sd = np.sqrt(dt_s / SECONDS_PER_YEAR_OF_SESSIONS)
    factor = gen.standard_normal(n) * step_sd * vol_state * burst
    return MarketState(factor=factor, vol_state=vol_state, burst=burst, envelope=envelope,
                       regime=np.repeat(regime, per)[:n])


def sector_factor(root_seed: int, sector: str, market: MarketState, dt_s: float) -> np.ndarray:
    """Unit-annual-vol sector factor, sharing the market's volatility state and bursts.

    Drawn from the stream ``("sector", sector)`` of ``root_seed`` only, so every
    shard of the sector draws the same path; log-return increments per grid step of
    ``dt_s`` seconds, shape ``market.factor.shape``.
    """
    gen = stream(root_seed, "sector", sector)
    step_sd = np.sqrt(dt_s / SECONDS_PER_YEAR_OF_SESSIONS)
    return gen.standard_normal(market.factor.size) * step_sd * market.vol_state * market.burst


@dataclass(frozen=True)
class LatentPath:
    """One underlying's fundamental value and volatility on the grid."""

    step_ns: int
    value: np.ndarray  # fundamental value (price units)
    vol_ratio: np.ndarray  # persistent volatility (regime, slow SV, envelope) / its mean
    burst: np.ndarray  # instantaneous vol / the persistent vol: the fast SV bursts

    def index(self, sim_ns: int) -> int:
        """The grid step in force at simulation time ``sim_ns`` (ns since the open), held at
        the last step past the end of the path.
        """
        k = sim_ns // self.step_ns
        return k if k < self.value.size else self.value.size - 1


def latent_path(
    root_seed: int, symbol: SymbolProfile, cfg: VolatilityRegime, market: MarketState
) -> LatentPath:
    """One symbol's latent path over the market's grid (see the module docstring).

    Log-return per step = annual vol x (beta x sqrt(market share) x market factor +
    sqrt(sector share) x sector factor + sqrt(idiosyncratic share) x idiosyncratic
    noise), the idiosyncratic part with its own OU log-vol and the envelope, plus
    normal jumps of ``cfg.jump_bps`` at ``cfg.jumps_per_day``. Shares of variance:
    market ``cfg.market_share``, sector (1 - market) x ``symbol.sector_weight``, the
    rest idiosyncratic. Draws come from the stream ``(SYMBOL, "latent")`` (and the
    sector's shared stream), in a fixed order. ``value`` starts from
    ``symbol.price`` in dollars; ``vol_ratio`` is the persistent vol (without the fast
    bursts, which average out over any option's life and a maker's spread) over its
    session mean, ``burst`` the instantaneous vol over the persistent one.
    """
    dt_s = cfg.step_ms / 1000.0
    n = market.factor.size
    gen = stream(root_seed, symbol.symbol, "latent")
    step_sd = np.sqrt(dt_s / SECONDS_PER_YEAR_OF_SESSIONS)
    coarse, per = _slow_grid(n, cfg.step_ms)
    slow, fast = _stochastic_vol(gen, coarse, dt_s * per, cfg)
    idio_h = np.repeat(slow, per)[:n]
    idio_b = np.repeat(fast, per)[:n]
    # In-place passes over the session grid (the same operations in the same order as
    # the formulas in the docstring, so the same floats, without a temporary per step).
    idio = gen.standard_normal(n)
    for scale in (step_sd, idio_h, idio_b, np.sqrt(market.envelope)):
        idio *= scale
    sector = sector_factor(root_seed, symbol.sector, market, dt_s)

    m_share = cfg.market_share
    s_share = (1.0 - m_share) * symbol.sector_weight
    i_share = max(1.0 - m_share - s_share, 0.0)
    sigma = symbol.annual_vol
    beta = symbol.market_beta
    increments = beta * np.sqrt(m_share) * market.factor
    increments += np.multiply(sector, np.sqrt(s_share), out=sector)
    increments += np.multiply(idio, np.sqrt(i_share), out=idio)
    increments *= sigma
    jump_p = cfg.jumps_per_day * dt_s / 23_400.0
    jumps = gen.random(n) < jump_p
    increments[jumps] += gen.standard_normal(int(jumps.sum())) * cfg.jump_bps * 1e-4
    value = np.cumsum(increments, out=increments)
    value += np.log(symbol.price)
    np.exp(value, out=value)
    common = market.vol_state**2
    common *= beta**2 * m_share + s_share
    own = idio_h**2
    own *= i_share
    own *= market.envelope
    inst_var = common + own
    common *= market.burst**2
    own *= idio_b**2
    burst_var = np.add(common, own, out=common)
    burst_var /= inst_var
    vol_ratio = inst_var / inst_var.mean()
    return LatentPath(cfg.step_ms * 1_000_000, value, np.sqrt(vol_ratio, out=vol_ratio),
                      np.sqrt(burst_var, out=burst_var))


def activity_path(path: LatentPath, envelope: np.ndarray, elasticity: float) -> np.ndarray:
    """Arrival-rate multiplier per grid step (mean 1): the intraday envelope, raised in
    the symbol's high-volatility spells and bursts (``vol_ratio`` x ``burst`` without
    the envelope part) to the power ``elasticity``, so volume and volatility move
    together, minute by minute as in the mixture-of-distributions view (Clark 1973,
    Econometrica 41)."""
    activity = path.vol_ratio * path.burst
    activity /= np.sqrt(envelope)
    activity **= elasticity
    activity *= envelope
    activity /= activity.mean()
    return activity
