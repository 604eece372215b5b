"""Retail equity flow, internalised by wholesalers and printed off-exchange.

Each arrival is one retail order: a side that tends to repeat the previous one
(retail herds), a size that is an odd lot or a round-lot mode (100, 200, 500, ...).
A wholesaler fills it against its own inventory at the NBBO, improving the price
when the spread leaves room, and reports the print through its TRF. A wholesaler
whose inventory passes its limit lays half of it off on the lit venues.
"""

from __future__ import annotations

from collections.abc import Callable

from tapesim.agents.context import MarketContext
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, SELL

ROUND_LOTS = (100, 100, 100, 100, 200, 200, 300, 500, 500, 1000)
#: Odd-lot sizes people and algorithms choose (shares), repeated by weight: 1, 5, 10,
#: 25 and 50 stand out as modes on real consolidated tapes (SEC MIDAS odd-lot data).
ODD_LOT_MODES = (1, 1, 1, 5, 5, 10, 10, 10, 20, 25, 25, 50, 50, 75)
#: Share of odd lots drawn from the modes; the rest are skewed towards small sizes.
ODD_LOT_MODE_SHARE = 0.5


def odd_lot(d: Draws) -> int:
    """An odd-lot size in shares (1-99): with ``ODD_LOT_MODE_SHARE`` one of
    ``ODD_LOT_MODES``, else ``1 + floor(99 u^2.2)`` for a uniform u (mostly small sizes,
    falling off like a power law). Draws: two uniforms from ``d``."""
    if d.chance(ODD_LOT_MODE_SHARE):
        return ODD_LOT_MODES[d.below(len(ODD_LOT_MODES))]
    return 1 + int(99 * d.uniform() ** 2.2)


class Wholesaler:
    """A retail wholesaler: internalises retail orders against its own inventory and
    reports them through its TRF code.

    ``name`` is its ledger name (e.g. ``wholesaler-a``), registered on construction
    (registration order is part of the run's identity); ``trf`` is the tape venue
    index of the TRF it reports through.
    """
    def __init__(self, ctx: MarketContext, name: str, trf: int) -> None:
        self.ctx = ctx
        self.agent = ctx.ledger.register(name)
        self.trf = trf

    def lay_off(self) -> None:
        """Lay off inventory past the limit: when the wholesaler's position exceeds
        ``retail.inventory_limit`` shares either way, take half of it on the lit venues
        at the touch (sell at the NBB when long, buy at the NBO when short).
        """
        ctx = self.ctx
        limit = ctx.config.retail.inventory_limit
        position = ctx.ledger.shares[self.agent]
        if abs(position) <= limit:
            return
        side = SELL if position > 0 else BUY
        touch = ctx.venues.nbb if side == SELL else ctx.venues.nbo
        ctx.venues.take(self.agent, side, abs(position) // 2, touch)


class RetailFlow:
    """The retail population of one stock.

    Registers the ledger agents ``retail`` and then each configured wholesaler, in
    that order, and draws from the ``("agent", "retail")`` stream of ``draws_for``.
    Wholesaler ``i`` reports through TRF ``i`` (modulo the TRF count).
    """

    def __init__(self, ctx: MarketContext, draws_for: Callable[..., Draws]) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.retail
        self.agent = ctx.ledger.register("retail")
        self.draws = draws_for("agent", "retail")
        self.wholesalers = [
            Wholesaler(ctx, name, ctx.trf_venue(i)) for i, name in enumerate(self.cfg.wholesalers)
        ]
        self.side = BUY

    def rate(self, now_ns: int) -> float:
        """Retail order arrivals per second at ``now_ns`` (ns since the open):
        ``retail.orders_per_s`` times the shard's trading multiplier.
        """
        return self.cfg.orders_per_s * self.ctx.trading(now_ns)

    def _size(self) -> int:
        d = self.draws
        if d.chance(self.cfg.odd_lot_share):
            return odd_lot(d)
        return ROUND_LOTS[d.below(len(ROUND_LOTS))]

    def act(self) -> None:
        """One retail order (does nothing while the NBBO is one-sided): keep the last side
        with ``side_persistence``, else a fair coin; size an odd lot (:func:`odd_lot`) with
        ``odd_lot_share``, else a round-lot mode; price at the far touch
        improved by a uniform whole number of cents up to half the spread (none when the
        spread is one cent); a wholesaler drawn uniformly fills it off-exchange, then
        lays off if past its limit. Draws come from the ``("agent", "retail")`` stream in
        that order.
        """
        ctx, d = self.ctx, self.draws
        venues = ctx.venues
        if not venues.two_sided():
            return
        if not d.chance(self.cfg.side_persistence):  # else repeat the last side: retail herds
            self.side = BUY if d.chance(0.5) else SELL
        spread = venues.nbo - venues.nbb
        improvement = d.below(spread // 2 + 1) if spread >= 2 else 0
        price = venues.nbo - improvement if self.side == BUY else venues.nbb + improvement
        dealer = self.wholesalers[d.below(len(self.wholesalers))]
        venues.report_off_exchange(dealer.trf, self.agent, dealer.agent, self.side,
                                   self._size(), price, -1)
        dealer.lay_off()
