"""The equity market of one stock: lit venues, SIP consolidation, routing, the TRF.

``EquityVenues`` owns one order book per lit venue. After each change of a venue's
top of book it consolidates the NBBO the way the SIP does and writes an
``EquityQuote`` row only when the NBBO itself changed. Marketable orders are routed
level by level to the venue showing the best price, so no execution ever trades
through a better displayed price elsewhere; resting orders are post-only and
slide one tick off an away quote they would lock or cross, so the NBBO is never
locked or crossed. Off-exchange executions (wholesaler internalisation, dark
blocks) are reported through a TRF code with no book involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import simpy

from tapesim.agents.ledger import Ledger
from tapesim.venues.book import BUY, NO_ASK, NO_BID, Order, OrderBook
from tapesim.venues.tape import Tape


class FillListener(Protocol):
    def on_depleted(self, venue: int, order: Order) -> None:
        """One of the listener's resting orders was filled completely."""


class EquityVenues:
    """Lit books, the consolidated quote and order routing for one stock."""

    def __init__(
        self,
        env: simpy.Environment,
        n_lit: int,
        tape: Tape,
        ledger: Ledger,
        on_trade: Callable[[int, int, int], None],
    ) -> None:
        self.env = env
        self.books = [OrderBook() for _ in range(n_lit)]
        self.bids = [NO_BID] * n_lit
        self.asks = [NO_ASK] * n_lit
        self.nbb = NO_BID
        self.nbo = NO_ASK
        self.tape = tape
        self.ledger = ledger
        self.listeners: dict[int, FillListener] = {}
        self._on_trade = on_trade  # (now_ns, signed side, qty): the impact model's hook
        self._next_oid = 1

    # --- consolidation -------------------------------------------------------
    def publish(self, venue: int) -> None:
        """Consolidate after ``venue``'s book changed; emit a quote if the NBBO moved."""
        book = self.books[venue]
        if book.best_bid == self.bids[venue] and book.best_ask == self.asks[venue]:
            return
        self.bids[venue] = book.best_bid
        self.asks[venue] = book.best_ask
        nbb = max(self.bids)
        nbo = min(self.asks)
        if nbb != self.nbb or nbo != self.nbo:
            self.nbb = nbb
            self.nbo = nbo
            if nbb != NO_BID and nbo != NO_ASK:  # a one-sided market is not a quote
                self.tape.quote(self.env.now, nbb, nbo)

    def mid(self) -> float:
        return (self.nbb + self.nbo) / 2.0

    def two_sided(self) -> bool:
        return self.nbb != NO_BID and self.nbo != NO_ASK

    # --- marketable orders ---------------------------------------------------
    def take(self, agent: int, side: int, qty: int, limit: int, parent: int = -1) -> int:
        """Route an immediate-or-cancel order; returns the quantity filled."""
        filled = 0
        depleted: list[tuple[int, Order]] = []
        while qty > 0:
            price = self.nbo if side == BUY else self.nbb
            if price in (NO_ASK, NO_BID) or (price > limit if side == BUY else price < limit):
                break
            venue = self._route(side, price)
            fills = self.books[venue].execute(side, qty, price)
            for order, q, p in fills:
                self._execute(venue, agent, order.agent, side, q, p, parent)
                if order.qty == 0:
                    depleted.append((venue, order))
                qty -= q
                filled += q
            self.publish(venue)
        for venue, order in depleted:
            listener = self.listeners.get(order.agent)
            if listener is not None:
                listener.on_depleted(venue, order)
        return filled

    def _route(self, side: int, price: int) -> int:
        """The venue to hit at ``price``: the one showing most size; ties to the lower index."""
        quotes = self.asks if side == BUY else self.bids
        best = -1
        best_size = -1
        for venue, q in enumerate(quotes):
            if q == price:
                size = self.books[venue].depth(-side, price)
                if size > best_size:
                    best, best_size = venue, size
        return best

    def _execute(
        self, venue: int, aggressor: int, passive: int, side: int, qty: int, price: int, parent: int
    ) -> None:
        buyer, seller = (aggressor, passive) if side == BUY else (passive, aggressor)
        self.ledger.transfer(buyer, seller, qty, price)
        self.tape.trade(self.env.now, price, qty, venue, aggressor, passive, parent)
        self._on_trade(self.env.now, side, qty)

    # --- resting orders ------------------------------------------------------
    def away_best(self, venue: int, side: int) -> int:
        """Best opposite price a resting order on ``venue`` must not lock or cross."""
        if side == BUY:
            quotes, own = self.asks, self.books[venue].best_ask
            saved, quotes[venue] = quotes[venue], NO_ASK
            best = min(quotes)
            quotes[venue] = saved
            return best if best < own else own
        quotes, own = self.bids, self.books[venue].best_bid
        saved, quotes[venue] = quotes[venue], NO_BID
        best = max(quotes)
        quotes[venue] = saved
        return best if best > own else own

    def post(self, agent: int, venue: int, side: int, price: int, qty: int, tag: int = -1) -> int:
        """Rest a post-only order, sliding it off any quote it would lock; returns its id.

        The caller publishes the venue once its whole update is done.
        """
        away = self.away_best(venue, side)
        price = min(price, away - 1) if side == BUY else max(price, away + 1)
        oid = self._next_oid
        self._next_oid += 1
        if price > 0:
            self.books[venue].rest(Order(oid, agent, side, price, qty, tag))
        return oid

    def cancel(self, venue: int, oid: int) -> bool:
        """Cancel a resting order (no publish); False if it had already traded away."""
        return self.books[venue].cancel(oid) is not None

    # --- off-exchange --------------------------------------------------------
    def report_off_exchange(
        self, trf: int, aggressor: int, contra: int, side: int, qty: int, price: int, parent: int
    ) -> None:
        """An execution away from the lit books, printed through a TRF code."""
        buyer, seller = (aggressor, contra) if side == BUY else (contra, aggressor)
        self.ledger.transfer(buyer, seller, qty, price)
        self.tape.trade(self.env.now, price, qty, trf, aggressor, contra, parent)
        self._on_trade(self.env.now, side, qty)
