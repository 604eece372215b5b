"""What an agent policy may look at and act on inside one shard."""

from __future__ import annotations

import math
from dataclasses import dataclass

import simpy

from tapesim.agents.latent import LatentPath
from tapesim.config.run import RunConfig, SymbolProfile
from tapesim.sim.calendar import Session
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


@dataclass
class MarketContext:
    """The shard's shared state: clock, latent path, venues, ledger and settings."""

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

    def activity(self, now_ns: int) -> float:
        """Arrival-rate multiplier now: the symbol's activity times its activity path."""
        return self.symbol.activity * self.activity_path[self.latent.index(now_ns)]

    def trf_venue(self, i: int) -> int:
        """Tape venue index of TRF number ``i``: TRF codes follow the lit codes."""
        return len(self.lit_codes) + i % len(self.trf_codes)
