"""What an agent policy may look at and act on inside one shard."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from tapesim.agents.latent import LatentPath, ar1_filter
from tapesim.config.run import RunConfig, SymbolProfile
from tapesim.config.traders import ArrivalsConfig
from tapesim.sim.calendar import NS_PER_S, Session
from tapesim.sim.rng import stream
from tapesim.venues.equity import EquityVenues
from tapesim.venues.ledger import Ledger


@dataclass
class Impact:
    """Transient price impact of executed flow, in log-price units.

    Each execution of q shares shifts the level by sign * k * sqrt(q / 100); the
    level decays exponentially. Market makers quote around value * (1 + level), so
    order flow moves prices concavely in size, and the move partly reverts.
    """

    per_sqrt_lot: float
    decay_ns: float
    level: float = 0.0
    last_ns: int = 0

    def at(self, now_ns: int) -> float:
        """The impact level at ``now_ns`` (ns since the open), in log-price units, after
        exponential decay with time constant ``decay_ns`` since the last update.
        """
        if now_ns != self.last_ns:
            self.level *= math.exp(-(now_ns - self.last_ns) / self.decay_ns)
            self.last_ns = now_ns
        return self.level

    def on_trade(self, now_ns: int, side: int, qty: int) -> None:
        """Add one execution: ``side`` +1 (buyer-initiated) or -1, ``qty`` shares; the level
        moves by side x ``per_sqrt_lot`` x sqrt(qty / 100) (square-root impact in lots).
        """
        self.level = self.at(now_ns) + side * self.per_sqrt_lot * math.sqrt(qty / 100.0)


def volume_profile(cfg: ArrivalsConfig, busy: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """The equity traders' rate multiplier per second of the session (index = whole
    seconds since the open), on top of the activity envelope.

    ``interest x busy + close_boost x exp(-minutes to the close / close_decay_minutes)``,
    normalised to mean 1 over the session: ``busy`` (shape ``(seconds,)``, mean 1) is
    how much recent price moves draw traders in; the interest factor ``exp(z - sd^2 / 2)``
    (mean 1) has z a stationary AR(1) on the 1 s grid with sd ``cfg.interest_sd`` and
    reversion ``cfg.interest_minutes`` (the exact discretisation of an
    Ornstein-Uhlenbeck process); the close ramp is added, not multiplied, so the
    closing flow (index rebalancing, market-on-close orders) comes whatever the day's
    mood. Draws: one normal for z's start, then one per second, from ``gen``. Shape
    ``(seconds,)``, float64.
    """
    seconds = busy.size
    to_close = seconds - (np.arange(seconds) + 0.5)
    ramp = cfg.close_boost * np.exp(-to_close / (60.0 * cfg.close_decay_minutes))
    a = math.exp(-1.0 / (60.0 * cfg.interest_minutes))
    sd = cfg.interest_sd
    start = gen.standard_normal() * sd
    z = ar1_filter(gen.standard_normal(seconds) * sd * math.sqrt(1.0 - a * a), a, start)
    out = np.exp(z - 0.5 * sd * sd) * busy + ramp
    return out / out.mean()


@dataclass
class MarketContext:
    """The shard's shared state: clock, latent path, venues, ledger and settings.

    ``volume`` (built on construction from ``config.arrivals`` and the shard's stream
    ``(SYMBOL, "flow", "volume")``) is :func:`volume_profile` over the session, with the
    response to the symbol's recent price moves (``_moves``), one value per second,
    read by :meth:`trading`.
    """

    env: simpy.Environment
    session: Session
    config: RunConfig
    symbol: SymbolProfile
    latent: LatentPath
    activity_path: list[float]  # per latent step, mean 1: envelope and volatility spells
    venues: EquityVenues
    ledger: Ledger
    impact: Impact
    lit_codes: list[str]
    trf_codes: list[str]
    envelope: np.ndarray  # the intraday envelope per latent step (MarketState.envelope)
    volume: list[float] = field(init=False)

    def __post_init__(self) -> None:
        seconds = -(-self.session.length_ns // NS_PER_S)
        gen = stream(self.config.seed, self.symbol.symbol, "flow", "volume")
        volume = volume_profile(self.config.arrivals, self._moves(seconds), gen)
        # Busy spells of the activity path and of recent moves coincide: rescale so the
        # session's expected number of arrivals is the activity path's alone.
        mid = ((np.arange(seconds) + 0.5) * NS_PER_S // self.latent.step_ns).astype(np.int64)
        path = self.activity_path
        activity = np.array([path[i] for i in np.minimum(mid, len(path) - 1).tolist()])
        volume *= activity.mean() / (activity * volume).mean()
        self.volume = volume.tolist()

    def _moves(self, seconds: int) -> np.ndarray:
        """How busy recent price moves make the stock, per second: the latent value's
        absolute log return over each second with the intraday envelope taken out (so
        the open's and close's extra volatility is not counted twice), averaged
        exponentially over ``arrivals.move_minutes``, over its session mean, to the power
        ``arrivals.volume_vol_elasticity``; normalised to mean 1."""
        cfg, lat, n = self.config.arrivals, self.latent, self.latent.value.size
        envelope = self.envelope
        ends = np.minimum((np.arange(1, seconds + 1) * NS_PER_S) // lat.step_ns, n) - 1
        log_value = np.log(lat.value[ends])
        moves = np.abs(np.diff(log_value, prepend=math.log(lat.value.item(0))))
        moves /= np.sqrt(envelope[ends])
        a = math.exp(-1.0 / (60.0 * cfg.move_minutes))
        recent = ar1_filter(moves * (1.0 - a), a, float(moves.mean()))
        out = (recent / recent.mean()) ** cfg.volume_vol_elasticity
        return out / out.mean()

    def activity(self, now_ns: int) -> float:
        """Arrival-rate multiplier now: the symbol's activity times its activity path."""
        return self.symbol.activity * self.activity_path[self.latent.index(now_ns)]

    def trading(self, now_ns: int) -> float:
        """The equity traders' arrival-rate multiplier now: :meth:`activity` times
        ``volume`` at this second (the close ramp, the slow interest factor and the
        response to recent price moves)."""
        second = min(now_ns // NS_PER_S, len(self.volume) - 1)
        return self.activity(now_ns) * self.volume[second]

    def trf_venue(self, i: int) -> int:
        """Tape venue index of TRF number ``i``: TRF codes follow the lit codes."""
        return len(self.lit_codes) + i % len(self.trf_codes)
