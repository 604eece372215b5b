"""The equity market of one stock: lit venues, SIP consolidation, routing, the TRF.

Each lit venue shows two kinds of liquidity:

* **Standing maker quotes** (:class:`StandingQuotes`): the market makers' two-sided
  quotes, a pure function of the latent step and the makers' state (positions,
  displayed sizes). They are not orders in a book; the venue evaluates them when
  it needs them, vectorised over every step between two trader actions.
* **Book orders**: everything else rests in the venue's price-time ``OrderBook``.

Consolidation. :meth:`EquityVenues.sync` brings the market up to a time: for the
latent steps since the last sync it takes the makers' best quotes from one
vectorised pass, adds the books' best and writes an ``EquityQuote`` row (stamped
with the step's time) only where the NBBO changed. After any trader action
:meth:`EquityVenues.publish` re-consolidates at the current step. Everything
executed is stamped with :attr:`EquityVenues.now`.

The makers decide how their quotes meet book orders (see
``tapesim.agents.market_maker``): where a quote would cross a book order a maker
picks it off, which the venues route and execute like any marketable order, and
otherwise quotes slide off the book and off each other. The venues' own rules:

* post-only: a book order slides one tick off the NBBO it would lock or cross;
* routing: a marketable order always takes the best displayed price across venues,
  choosing the venue with most size there (ties to the lower venue index), so no
  execution trades through a better displayed price. On a venue, book orders at a
  price fill before the maker quote that moved onto that price. Where a sweep
  exhausts a price level the new NBBO is published before it prints at the next,
  and it never takes the last displayed share of a side: every print is at or
  inside the quote the tape shows before it;
* off-exchange executions (wholesaler internalisation, dark blocks) are reported
  through a TRF code with no book involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import simpy

from tapesim.sim.compiled import Buffer
from tapesim.venues.book import BUY, NO_ASK, NO_BID, Order, OrderBook
from tapesim.venues.ledger import Ledger
from tapesim.venues.nbbo_path import NbboPass
from tapesim.venues.tape import Tape

MAX_PICK_OFFS = 4  # per re-consolidation; a rare remainder is left to the makers' slides
MAX_PASS_STEPS = 200  # latent steps per vectorised pass (impact is read once per pass)


class StandingQuotes(Protocol):
    """The market makers as the venues see them (see ``tapesim.agents.market_maker``).

    Prices are whole cents; ``book_bid`` / ``book_ask`` are the best book order prices
    across venues (NO_BID / NO_ASK when none). Makers are numbered 0..m-1: ``agents``
    their ledger ids, ``venue_of`` their venue indices, ``bid_qty`` / ``ask_qty`` their
    displayed sizes in shares, ``times`` the time (ns) of each latent step.
    """

    agents: list[int]
    venue_of: list[int]
    bid_qty: list[int]
    ask_qty: list[int]
    times: np.ndarray

    def step_at(self, now_ns: int) -> int:
        """The latent step in effect at ``now_ns``."""
        ...

    def best_path(self, a: int, b: int, book_bid: int, book_ask: int, out: Buffer) -> int:
        """Best maker bid / ask shown at steps a.. up to b - 1, stopping short of the first
        step where a maker picks off a book order, written into ``out.array[0]`` /
        ``[1]`` (int64 cents; NO_BID / NO_ASK where none); returns the steps written."""
        ...

    def quotes_at(self, j: int, book_bid: int, book_ask: int) -> tuple[list[int], list[int]]:
        """Every maker's shown (bid, ask) at step j; NO_BID / NO_ASK for a side not shown."""
        ...

    def best_at(self, j: int, book_bid: int, book_ask: int) -> tuple[int, int]:
        """The best shown maker (bid, ask) at step j."""
        ...

    def pick_off(self, j: int, book_bid: int, book_ask: int) -> tuple[int, int, int] | None:
        """(maker, side, limit) if a maker takes the book orders its quote crosses at step j."""
        ...

    def next_due(self) -> int:
        """The next step at which a filled-out side comes back."""
        ...

    def apply_due(self, j: int) -> None:
        """Repost the sides due by step j."""
        ...

    def on_fill(self, i: int, side: int, qty: int, now_ns: int) -> None:
        """Maker i's ``side`` quote traded ``qty`` shares at ``now_ns``."""
        ...


class EquityVenues:
    """Lit books, standing maker quotes, the consolidated quote and routing for one stock."""

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
        self.book_bids = [NO_BID] * n_lit
        self.book_asks = [NO_ASK] * n_lit
        self.nbb = NO_BID
        self.nbo = NO_ASK
        self.tape = tape
        self.ledger = ledger
        self._on_trade = on_trade  # (now_ns, signed side, qty): the impact model's hook
        self._next_oid = 1
        self.makers: StandingQuotes | None = None
        self._by_venue: list[list[int]] = [[] for _ in range(n_lit)]
        self._pass: NbboPass | None = None  # a pass's buffers, made at the first pass
        self.j = 0  # the latent step the market is consolidated at
        self.now = env.now  # the time executions and quotes are stamped with

    def attach(self, makers: StandingQuotes) -> None:
        """Put the makers' standing quotes on their venues and publish the first NBBO."""
        self.makers = makers
        for i, venue in enumerate(makers.venue_of):
            self._by_venue[venue].append(i)
        self.now = self.env.now
        self.j = makers.step_at(self.now)
        self.publish()

    # --- consolidation -------------------------------------------------------
    def sync(self, now: int | None = None) -> None:
        """Consolidate every latent step up to ``now`` (default: the clock), emitting changes."""
        now = self.env.now if now is None else now
        mk = self.makers
        target = mk.step_at(now)
        while self.j < target:
            a = self.j + 1
            due = mk.next_due()
            if due <= a:
                mk.apply_due(a)
                due = mk.next_due()
            self.j = self._segment(a, min(target, due - 1, a + MAX_PASS_STEPS - 1))
        self.now = now

    def _segment(self, a: int, b: int) -> int:
        """Steps a..b with the state held fixed; stops early at a pick-off.

        The makers' best quotes come from one compiled pass; another
        (:class:`~tapesim.venues.nbbo_path.NbboPass`) adds the books' best and writes
        the NBBO where it changed. Returns the last step done.
        """
        mk = self.makers
        bb, ba = max(self.book_bids), min(self.book_asks)
        p = self._pass
        if p is None:
            p = self._pass = NbboPass(mk.times, MAX_PASS_STEPS)
        n = mk.best_path(a, b + 1, bb, ba, p.best)
        c, self.nbb, self.nbo = p.changes(a, n, bb, ba, self.nbb, self.nbo)
        if c:
            out = p.out.array
            self.tape.quotes(out[0, :c].tolist(), out[1, :c].tolist(), out[2, :c].tolist())
        if a + n > b:
            return b
        self.j = a + n  # a maker picks off a book order at this step
        self.now = mk.times.item(self.j)
        self.publish()
        return self.j

    def publish(self) -> None:
        """Re-consolidate at the current step after a change; emit a quote if the NBBO moved."""
        mk = self.makers
        bb, ba = max(self.book_bids), min(self.book_asks)
        for _ in range(MAX_PICK_OFFS):
            pick = mk.pick_off(self.j, bb, ba)
            if pick is None:
                break
            self._pick_off(*pick)
            bb, ba = max(self.book_bids), min(self.book_asks)
        bid, ask = mk.best_at(self.j, bb, ba)
        nbb = bid if bid > bb else bb
        nbo = ask if ask < ba else ba
        if nbb != self.nbb or nbo != self.nbo:
            self.nbb = nbb
            self.nbo = nbo
            if nbb != NO_BID and nbo != NO_ASK:
                self.tape.quote(self.now, nbb, nbo)

    def _pick_off(self, i: int, side: int, limit: int) -> None:
        """Maker i takes every book order through ``limit`` (cents), routed, skipping its
        own quote."""
        qty = sum(size for book in self.books for p, size in book.levels(-side)
                  if (p <= limit if side == BUY else p >= limit))
        self._take(self.makers.agents[i], side, qty, limit, -1, skip=i)

    def mid(self) -> float:
        """The NBBO mid in cents (a half cent when the spread is odd); meaningful only while
        :meth:`two_sided`."""
        return (self.nbb + self.nbo) / 2.0

    def two_sided(self) -> bool:
        """Whether the NBBO has both a bid and an offer (neither side ``NO_BID`` /
        ``NO_ASK``)."""
        return self.nbb != NO_BID and self.nbo != NO_ASK

    # --- marketable orders ---------------------------------------------------
    def take(self, agent: int, side: int, qty: int, limit: int, parent: int = -1) -> int:
        """Route an immediate-or-cancel order; returns the quantity filled."""
        filled = self._take(agent, side, qty, limit, parent)
        self.publish()
        return filled

    def _take(
        self, agent: int, side: int, qty: int, limit: int, parent: int, skip: int = -1
    ) -> int:
        """Sweep ``qty`` shares on ``side`` up to ``limit`` cents, best price first, without
        publishing; maker ``skip`` (a picking-off maker) does not trade with itself, nor
        with another maker's price that improves on the NBBO in force (not yet
        published at this step). Returns the shares filled."""
        mk = self.makers
        # The makers' quotes stand still during a sweep.
        bids, asks = mk.quotes_at(self.j, max(self.book_bids), min(self.book_asks))
        if side == BUY:
            prices, sizes, book_best, better = asks, mk.ask_qty, self.book_asks, min
        else:
            prices, sizes, book_best, better = bids, mk.bid_qty, self.book_bids, max
        qty = self._spare(side, prices, sizes, qty)
        live = [i for i in range(len(prices)) if i != skip]
        eligible: set[int] | None = None
        if skip >= 0:
            # A pick-off runs before this step's quotes are consolidated: another
            # maker's price here that improves on the NBBO in force is not on the tape
            # yet, so the picking maker trades at the NBBO or behind it, never there.
            if side == BUY:
                live = [i for i in live if prices[i] >= self.nbo]
            else:
                live = [i for i in live if prices[i] <= self.nbb]
            eligible = set(live)
        filled = 0
        while qty > 0:
            shown = [prices[i] for i in live if sizes[i] > 0]
            best = better(better(book_best), better(shown)) if shown else better(book_best)
            if best in (NO_ASK, NO_BID) or (best > limit if side == BUY else best < limit):
                break
            self._level(side, best)
            venue = self._route(side, best, prices, sizes, live)
            if book_best[venue] == best:
                for order, q, p in self.books[venue].execute(side, qty, best):
                    self._execute(venue, agent, order.agent, side, q, p, parent)
                    qty -= q
                    filled += q
                self._refresh(venue)
            for i in self._by_venue[venue]:
                if qty == 0:
                    break
                if (eligible is None or i in eligible) and prices[i] == best and sizes[i] > 0:
                    q = min(qty, sizes[i])
                    self._execute(venue, agent, mk.agents[i], side, q, best, parent)
                    mk.on_fill(i, -side, q, self.now)
                    qty -= q
                    filled += q
        return filled

    def _spare(self, side: int, prices: list[int], sizes: list[int], qty: int) -> int:
        """How much of ``qty`` a ``side`` order may take: everything displayed on the
        other side (maker quotes and book orders, every price) but the last share, so a
        side never vanishes from the market (a one-sided market is not a quote, and the
        SIP would keep showing the stale one)."""
        shown = sum(q for p, q in zip(prices, sizes, strict=True)
                    if q > 0 and p != NO_BID and p != NO_ASK)
        if shown > qty:
            return qty
        shown += sum(q for book in self.books for _, q in book.levels(-side))
        return min(qty, max(shown - 1, 0))

    def _level(self, side: int, best: int) -> None:
        """A sweep reaches ``best`` cents on the side it takes: where that is beyond the
        NBBO in force, the levels before it are gone, so the new NBBO is published
        before anything prints there (each venue's quote update precedes the routed
        order's next prints, as the SIP sequences them)."""
        if side == BUY:
            if best <= self.nbo:
                return
            self.nbo = best
        else:
            if best >= self.nbb:
                return
            self.nbb = best
        if self.two_sided():
            self.tape.quote(self.now, self.nbb, self.nbo)

    def _route(self, side: int, price: int, prices: list[int], sizes: list[int],
               live: list[int]) -> int:
        """The venue to hit at ``price``: the one showing most size; ties to the lower index."""
        shown = [0] * len(self.books)
        book_best = self.book_asks if side == BUY else self.book_bids
        for venue, p in enumerate(book_best):
            if p == price:
                shown[venue] += self.books[venue].depth(-side, price)
        for i in live:
            if prices[i] == price and sizes[i] > 0:
                shown[self.makers.venue_of[i]] += sizes[i]
        return shown.index(max(shown))

    def _execute(
        self, venue: int, aggressor: int, passive: int, side: int, qty: int, price: int, parent: int
    ) -> None:
        buyer, seller = (aggressor, passive) if side == BUY else (passive, aggressor)
        self.ledger.transfer(buyer, seller, qty, price)
        self.tape.trade(self.now, price, qty, venue, aggressor, passive, parent)
        self._on_trade(self.now, side, qty)

    # --- resting orders ------------------------------------------------------
    def _refresh(self, venue: int) -> None:
        book = self.books[venue]
        self.book_bids[venue] = book.best_bid
        self.book_asks[venue] = book.best_ask

    def post(self, agent: int, venue: int, side: int, price: int, qty: int, tag: int = -1) -> int:
        """Rest a post-only order, sliding it off the NBBO it would lock; returns its id.

        The caller publishes once its whole update is done.
        """
        price = min(price, self.nbo - 1) if side == BUY else max(price, self.nbb + 1)
        oid = self._next_oid
        self._next_oid += 1
        if price > 0:
            self.books[venue].rest(Order(oid, agent, side, price, qty, tag))
            self._refresh(venue)
        return oid

    def cancel(self, venue: int, oid: int) -> bool:
        """Cancel a resting order (no publish); False if it had already traded away."""
        if self.books[venue].cancel(oid) is None:
            return False
        self._refresh(venue)
        return True

    # --- off-exchange --------------------------------------------------------
    def report_off_exchange(
        self, trf: int, aggressor: int, contra: int, side: int, qty: int, price: int, parent: int
    ) -> None:
        """An execution away from the lit books, printed through a TRF code (its impact
        reaches the makers' quotes at the next latent step)."""
        self._execute(trf, aggressor, contra, side, qty, price, parent)
