"""Noise and momentum traders: small, uninformed or trend-following flow.

Noise traders either take liquidity at the touch or rest a short-lived post-only
limit order at or inside it; expired orders are cancelled at the population's next
arrival. Their takes come in same-side bursts (herding). Momentum traders compare
the mid with where it was a lookback ago and trade in the direction of a move
larger than their threshold (in typical moves of the symbol over that horizon).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable

from tapesim.agents.context import MarketContext
from tapesim.agents.latent import SECONDS_PER_YEAR_OF_SESSIONS as SECONDS_PER_YEAR
from tapesim.agents.retail import odd_lot
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, SELL


class NoiseTraders:
    """Uninformed flow: takes at the touch, or short-lived limit orders at/inside it.

    Takes herd: each take is followed, with ``herd_probability``, by another take on
    the same side at the population's next arrival (a crowd reacting to the same
    thing), which gives trade signs short memory; the arrivals themselves cluster in
    time (the shard runs this population as a self-exciting process,
    ``config.arrivals``).
    """

    def __init__(self, ctx: MarketContext, draws_for: Callable[..., Draws]) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.noise
        self.agent = ctx.ledger.register("noise")
        self.draws = draws_for("agent", "noise")
        self.expiries: list[tuple[int, int, int]] = []  # (expiry ns, order id, venue)
        self.burst_side = 0  # the side of a herd in progress, 0 when none

    def rate(self, now_ns: int) -> float:
        """Noise orders per second at ``now_ns`` (ns since the open): ``noise.orders_per_s``
        times the shard's trading multiplier (``MarketContext.trading``).
        """
        return self.cfg.orders_per_s * self.ctx.trading(now_ns)

    def _cancel_expired(self) -> None:
        venues, now = self.ctx.venues, self.ctx.env.now
        while self.expiries and self.expiries[0][0] <= now:
            _, oid, venue = heapq.heappop(self.expiries)
            if venues.cancel(venue, oid):
                venues.publish()

    def act(self) -> None:
        """One noise order (after cancelling expired resting orders; nothing while the NBBO
        is one-sided): inside a burst, another take on the burst's side; otherwise a
        fair-coin side and, with ``limit_share``, a post-only limit order instead of a
        take. Takes are odd lots (:func:`~tapesim.agents.retail.odd_lot`) or 100-300
        shares in round lots, at the touch; after a take a burst continues with
        ``herd_probability``.
        """
        d, venues = self.draws, self.ctx.venues
        self._cancel_expired()
        follow, self.burst_side = self.burst_side, 0
        if not venues.two_sided():
            return
        if follow:
            side = follow
        else:
            side = BUY if d.chance(0.5) else SELL
            if d.chance(self.cfg.limit_share):
                self._post(side)
                return
        size = odd_lot(d) if d.chance(0.5) else 100 * (1 + d.below(3))
        touch = venues.nbo if side == BUY else venues.nbb
        venues.take(self.agent, side, size, touch)
        if d.chance(self.cfg.herd_probability):
            self.burst_side = side

    def _post(self, side: int) -> None:
        ctx, d, venues = self.ctx, self.draws, self.ctx.venues
        venue = d.below(len(venues.books))
        inside = venues.nbo - venues.nbb >= 2 and d.chance(0.5)
        price = (venues.nbb + inside) if side == BUY else (venues.nbo - inside)
        size = 100 * (1 + d.below(3)) if d.chance(0.7) else odd_lot(d)
        oid = venues.post(self.agent, venue, side, price, size)
        venues.publish()
        life = int(d.exponential() * self.cfg.limit_lifetime_s * NS_PER_S)
        heapq.heappush(self.expiries, (ctx.env.now + life, oid, venue))


class MomentumTraders:
    """Trend followers: buy after a rise, sell after a fall, when the mid has moved by
    more than ``threshold_sd`` typical moves (from the symbol's annual volatility)
    over the lookback."""

    def __init__(self, ctx: MarketContext, draws_for: Callable[..., Draws]) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.momentum
        self.agent = ctx.ledger.register("momentum")
        self.draws = draws_for("agent", "momentum")
        self.history: deque[tuple[int, float]] = deque()
        typical = ctx.symbol.annual_vol * math.sqrt(self.cfg.lookback_s / SECONDS_PER_YEAR)
        self.threshold_bps = self.cfg.threshold_sd * typical * 1e4

    def rate(self, now_ns: int) -> float:
        """Momentum orders per second at ``now_ns`` (ns since the open):
        ``momentum.orders_per_s`` times the shard's trading multiplier.
        """
        return self.cfg.orders_per_s * self.ctx.trading(now_ns)

    def act(self) -> None:
        """Compare the NBBO mid with the mid at this population's last arrival at least
        ``lookback_s`` ago (or its oldest remembered one); when it moved by at least
        ``threshold_bps`` (threshold_sd x annual vol x sqrt(lookback / trading seconds a
        year), in basis points), take 100-500 shares at the touch in the direction of
        the move. Nothing while the NBBO is one-sided.
        """
        ctx, venues = self.ctx, self.ctx.venues
        if not venues.two_sided():
            return
        now, mid = ctx.env.now, venues.mid()
        horizon = now - int(self.cfg.lookback_s * NS_PER_S)
        while len(self.history) > 1 and self.history[1][0] <= horizon:
            self.history.popleft()
        past = self.history[0][1] if self.history else mid
        self.history.append((now, mid))
        move_bps = (mid / past - 1.0) * 1e4
        if abs(move_bps) < self.threshold_bps:
            return
        side = BUY if move_bps > 0 else SELL
        touch = venues.nbo if side == BUY else venues.nbb
        venues.take(self.agent, side, 100 * (1 + self.draws.below(5)), touch)
