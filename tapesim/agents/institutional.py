"""Institutional execution: parent orders worked over time in child slices.

Parent sizes are Pareto-tailed. Each parent runs as its own SimPy process (an
execution algorithm, not a person): Pareto-sized children (mostly a few hundred
shares, sometimes thousands) at random intervals that shorten when the market is
busy (participation follows volume). A child takes liquidity at the touch across
venues and, when it is larger than the touch, up to ``sweep_ticks`` beyond it (an
intermarket sweep: prints at several venues and levels in one millisecond), or,
with ``dark_share``, crosses in a dark pool at the midpoint (a TRF print) against
contra interest a Pareto multiple of the child, capped by what is left of the
parent. The long runs of same-sign children are what gives trade signs their long
memory. Now and then a large parent crosses part of its size as a benign dark
block at the midpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from tapesim.agents.context import MarketContext
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, SELL


class InstitutionalDesk:
    """Spawns parent orders for one stock and executes them.

    Registers the ledger agents ``institutional`` and ``block-contra`` (the other
    side of its dark crosses and blocks), in that order; draws from the
    ``("agent", "institutional")`` stream. ``until`` is the end of the simulated
    window (ns since the open): no child is sent at or after it. Parent orders are
    numbered from 1 per shard; their child prints carry that number (provenance
    ``parent_order_id``).
    """

    def __init__(self, ctx: MarketContext, draws_for: Callable[..., Draws], until: int) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.institutional
        self.agent = ctx.ledger.register("institutional")
        self.contra = ctx.ledger.register("block-contra")
        self.draws = draws_for("agent", "institutional")
        self.until = until
        self.parents = 0

    def rate(self, now_ns: int) -> float:
        """Parent-order arrivals per second at ``now_ns`` (ns since the open):
        ``institutional.parents_per_hour`` / 3600 times the shard's trading multiplier.
        """
        return self.cfg.parents_per_hour / 3600.0 * self.ctx.trading(now_ns)

    def _parent_size(self) -> int:
        cfg = self.cfg
        size = cfg.min_shares * (1.0 - self.draws.uniform()) ** (-1.0 / cfg.size_tail_alpha)
        return int(min(size, cfg.max_shares)) // 100 * 100

    def act(self) -> None:
        """Start one parent order: a fair-coin side and a Pareto size (``min_shares`` with
        tail ``size_tail_alpha``, capped at ``max_shares``, in round lots), worked by its
        own SimPy process until done or the session window ends.
        """
        self.parents += 1
        side = BUY if self.draws.chance(0.5) else SELL
        env = self.ctx.env
        env.process(self._work(self.parents, side, self._parent_size()))

    def _child_size(self) -> int:
        low, high = self.cfg.child_shares
        size = low * (1.0 - self.draws.uniform()) ** (-1.0 / self.cfg.child_tail_alpha)
        size = int(min(size, high))
        return max(size // 100 * 100, low) if self.draws.chance(0.6) else size

    def _dark_size(self, child: int) -> int:
        """The shares a dark cross of a ``child``-share slice fills: the contra interest
        it meets, ``child`` times a Pareto(``dark_tail_alpha``) multiple (at least 1),
        in round lots when the child is one. A Pareto multiple gives the dark prints a
        power-law tail, P(>q) ~ q^-dark_tail_alpha (trade sizes: Gopikrishnan, Plerou,
        Gabaix & Stanley 2000, exponent about 1.5). Draws: one uniform."""
        size = int(child * (1.0 - self.draws.uniform()) ** (-1.0 / self.cfg.dark_tail_alpha))
        return size // 100 * 100 if child % 100 == 0 else size

    def _work(self, parent: int, side: int, remaining: int) -> Generator[simpy.Event, None, None]:
        ctx, cfg, d = self.ctx, self.cfg, self.draws
        venues = ctx.venues
        if remaining >= cfg.block_min_shares and d.chance(cfg.block_probability):
            remaining -= self._block(parent, side, remaining)
        while remaining > 0:
            busy = max(ctx.trading(ctx.env.now), 0.05)
            delay = int(d.exponential() * cfg.child_interval_s * NS_PER_S / busy) + 1
            if ctx.env.now + delay >= self.until:
                return
            yield ctx.env.timeout(delay)
            venues.sync()
            if not venues.two_sided():
                continue
            child = min(remaining, self._child_size())
            if d.chance(cfg.dark_share):
                remaining -= self._cross(parent, side, min(remaining, self._dark_size(child)))
                continue
            limit = venues.nbo + cfg.sweep_ticks if side == BUY else venues.nbb - cfg.sweep_ticks
            remaining -= venues.take(self.agent, side, child, limit, parent)

    def _block(self, parent: int, side: int, remaining: int) -> int:
        if not self.ctx.venues.two_sided():
            return 0
        low, high = self.cfg.block_fraction
        share = low + (high - low) * self.draws.uniform()
        return self._cross(parent, side, int(remaining * share) // 100 * 100)

    def _cross(self, parent: int, side: int, qty: int) -> int:
        """Cross ``qty`` in a dark pool at the midpoint; prices are whole cents, so an
        odd spread's half-cent midpoint rounds against the initiating side."""
        ctx, venues = self.ctx, self.ctx.venues
        if qty <= 0:
            return 0
        twice = venues.nbb + venues.nbo
        mid = (twice + 1) // 2 if side == BUY else twice // 2
        trf = ctx.trf_venue(self.draws.below(len(ctx.trf_codes)))
        venues.report_off_exchange(trf, self.agent, self.contra, side, qty, mid, parent)
        return qty
