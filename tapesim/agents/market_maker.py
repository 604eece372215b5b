"""Equity market maker: two-sided quotes on one lit venue.

Policy, at each requote: centre on the fair value (latent value plus recent
impact) plus the maker's own slowly drifting valuation offset, shifted against
inventory; the half-width grows with volatility and is wider just after the open.
Quotes are posted post-only (sliding off away quotes), a side is replaced only when
its price changed, and a side that trades away is reposted at once. So quotes
change without trades (requotes on value moves) and after them (depletion and
inventory skew).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, SELL, Order

OPEN_WIDENING_MINUTES = 10.0


def half_spread_path(ctx: MarketContext) -> list[float]:
    """Quoted half-width in ticks per latent step: volatility and time-of-day terms."""
    cfg = ctx.config.market_makers
    step_minutes = ctx.latent.step_ns / 60e9
    minutes = np.arange(ctx.latent.vol_ratio.size) * step_minutes
    widen = 1.0 + cfg.open_widening * np.exp(-minutes / OPEN_WIDENING_MINUTES)
    vol = 0.6 + 0.4 * ctx.latent.vol_ratio
    return (cfg.half_spread_ticks * ctx.symbol.spread_scale * vol * widen).tolist()


class MarketMaker:
    OFFSET_REVERSION = 0.02

    def __init__(
        self, ctx: MarketContext, name: str, venue: int, draws: Draws, half_spread: list[float]
    ) -> None:
        self.ctx = ctx
        self.agent = ctx.ledger.register(name)
        self.venue = venue
        self.draws = draws
        self.cfg = ctx.config.market_makers
        self.half_spread = half_spread
        self.offset = (draws.uniform() - 0.5) * 2.0 * self.cfg.quote_noise_ticks
        self.orders: dict[int, int] = {}  # side -> resting order id
        self.prices: dict[int, int] = {}  # side -> its price
        ctx.venues.listeners[self.agent] = self

    def _quote_prices(self) -> tuple[int, int]:
        ctx, cfg = self.ctx, self.cfg
        noise = cfg.quote_noise_ticks
        shock = (self.draws.uniform() - 0.5) * noise
        self.offset += shock - self.OFFSET_REVERSION * self.offset
        inventory = ctx.ledger.shares[self.agent] / cfg.inventory_unit
        centre = ctx.fair_value_cents() - cfg.inventory_skew_ticks * inventory + self.offset
        half = self.half_spread[ctx.step_index()]
        bid = math.floor(centre - half)
        ask = math.ceil(centre + half)
        return bid, (ask if ask > bid else bid + 1)

    def _size(self) -> int:
        low, high = self.cfg.quote_lots
        return 100 * (low + self.draws.below(high - low + 1))

    def _place(self, side: int, price: int) -> None:
        venues = self.ctx.venues
        oid = self.orders.get(side)
        if oid is not None:
            if self.prices[side] == price and oid in venues.books[self.venue]:
                return
            venues.cancel(self.venue, oid)
        self.orders[side] = venues.post(self.agent, self.venue, side, price, self._size())
        self.prices[side] = price

    def requote(self) -> None:
        """Recompute both sides and update the book; publish once."""
        bid, ask = self._quote_prices()
        self._place(BUY, bid)
        self._place(SELL, ask)
        self.ctx.venues.publish(self.venue)

    def on_depleted(self, venue: int, order: Order) -> None:
        self.requote()


def make_market_makers(ctx: MarketContext, draws_for: Callable[..., Draws]) -> list[MarketMaker]:
    """One maker per lit venue and slot, each with its own stream."""
    half_spread = half_spread_path(ctx)
    makers = []
    for venue, code in enumerate(ctx.lit_codes):
        for j in range(ctx.config.market_makers.per_venue):
            name = f"mm-{code}-{j}"
            makers.append(MarketMaker(ctx, name, venue, draws_for("agent", name), half_spread))
    return makers


__all__ = ["SELL", "MarketMaker", "make_market_makers"]
