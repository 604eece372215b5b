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


def volume_profile(cfg: ArrivalsConfig, seconds: int, gen: np.random.Generator) -> np.ndarray:
    """The equity traders' rate multiplier per second of a session of ``seconds`` s
    (index = whole seconds since the open), on top of the activity envelope.

    A close ramp ``1 + cfg.close_boost x exp(-minutes to the close /
    cfg.close_decay_minutes)``, normalised to mean 1 over the session, times an interest
    factor ``exp(z - sd^2 / 2)`` (mean 1) with z a stationary AR(1) on the 1 s grid, sd
    ``cfg.interest_sd`` and reversion ``cfg.interest_minutes`` (the exact discretisation
    of an Ornstein-Uhlenbeck process). Draws: one normal for z's start, then one per
    second, from ``gen``. Shape ``(seconds,)``, float64.
    """
    t = np.arange(seconds) + 0.5
    ramp = 1.0 + cfg.close_boost * np.exp(-(seconds - t) / (60.0 * cfg.close_decay_minutes))
    ramp /= ramp.mean()
    a = math.exp(-1.0 / (60.0 * cfg.interest_minutes))
    sd = cfg.interest_sd
    start = gen.standard_normal() * sd
    z = ar1_filter(gen.standard_normal(seconds) * sd * math.sqrt(1.0 - a * a), a, start)
    return ramp * np.exp(z - 0.5 * sd * sd)


@dataclass
class MarketContext:
    """The shard's shared state: clock, latent path, venues, ledger and settings.

    ``volume`` (built on construction from ``config.arrivals`` and the shard's stream
    ``(SYMBOL, "flow", "volume")``) is :func:`volume_profile` over the session, read by
    :meth:`trading`.
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
    volume: list[float] = field(init=False)

    def __post_init__(self) -> None:
        seconds = -(-self.session.length_ns // NS_PER_S)
        gen = stream(self.config.seed, self.symbol.symbol, "flow", "volume")
        self.volume = volume_profile(self.config.arrivals, seconds, gen).tolist()

    def activity(self, now_ns: int) -> float:
        """Arrival-rate multiplier now: the symbol's activity times its activity path."""
        return self.symbol.activity * self.activity_path[self.latent.index(now_ns)]

    def trading(self, now_ns: int) -> float:
        """The equity traders' arrival-rate multiplier now: :meth:`activity` times the
        volume profile (the close ramp and the slow interest factor) at this second."""
        second = min(now_ns // NS_PER_S, len(self.volume) - 1)
        return self.activity(now_ns) * self.volume[second]

    def trf_venue(self, i: int) -> int:
        """Tape venue index of TRF number ``i``: TRF codes follow the lit codes."""
        return len(self.lit_codes) + i % len(self.trf_codes)
