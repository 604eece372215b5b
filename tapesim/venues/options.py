"""The options market of one underlying: venue quotes in force, OPRA NBBO, executions.

Quotes. The makers (:class:`tapesim.venues.slots.SlotMakers`) decide what each
slot (one maker on one venue) quotes and when: they hand over the quotes of a block
of requote grid steps at a time (:class:`tapesim.venues.slots.QuoteBlock`), and
re-post displayed sizes as an order arrives. The venues hold the quotes in force.
:meth:`OptionVenues.sync` brings the market up to a time: for each grid step since
the last sync it compares every repriced contract's consolidated quote with the one
in force and publishes an ``OptionNBBO`` only where it changed.

Executions. A marketable order fills against the displayed slot quotes, best price
first, then the venue showing more size, then slot order; it never trades through
a better displayed price. A fill lowers the slot's displayed size until the maker
re-posts or requotes the contract, and the NBBO is republished at once when the
fill changed it, and before the order prints at a worse price level (so each
print is at or inside the NBBO published before it). Crosses (price-improved
retail fills, complex orders) print at a negotiated price inside the NBBO against
one maker, without touching displayed size. Every print records the state it
traded in: the NBBO in force and when it was published, and the SIP quote in
force. The last displayed offer of a contract is never taken out, so an NBBO with
an ask is always in force.

Feed faults are not the venues' business: a scenario wraps the feed adapter
(``tape``) or consolidation (``quote_fault``) in a model of :mod:`tapesim.venues.feed`
while the fault lasts. The NBBO in force is the last one the feed published.

Positions. Each print moves contracts and premium in the chain's
:class:`tapesim.venues.ledger.OptionLedger` (the one store of option positions,
makers' included), so both sum to zero across agents at any time; each print is
tagged opening or closing for each side from the positions before it. The contra
maker is then told of its fill (it books its delta and may hedge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tapesim.sim.calendar import NS_PER_MS
from tapesim.sim.compiled import kernel
from tapesim.venues.book import BUY, NO_ASK
from tapesim.venues.feed.base import OptionFeed, QuoteFault
from tapesim.venues.ledger import OptionLedger
from tapesim.venues.opra import OptionNBBOs, changed_rows, consolidate_one
from tapesim.venues.option_tape import OptionTape
from tapesim.venues.slots import BlockSlots, QuoteBlock, SlotMakers, SlotQuotes
from tapesim.venues.tape import Tape


@dataclass(frozen=True)
class Printed:
    """A print as the venues made it: enough to cancel or correct it later."""

    row: int  # its row in the option spool
    contract: int
    price: int
    qty: int
    venue: int
    agent: int  # aggressor
    maker: int  # the contra maker's index
    side: int  # the aggressor's side
    parent: int


class OptionVenues:
    """Options venues, consolidation and execution for one chain.

    Args:
        makers: the chain's makers (quotes per slot, their cadence and re-posts).
        tape: the chain's OPRA tape (NBBO rows and prints are written to it).
        stock_tape: the underlying's tape (the SIP quote in force at each print).
        ledger: the chain's contract and premium ledger, booked at every print.
        start_ns: the session's start, ns since the open.
    """

    def __init__(self, makers: SlotMakers, tape: OptionTape, stock_tape: Tape,
                 ledger: OptionLedger, start_ns: int) -> None:
        self.makers = makers
        self.tape: OptionFeed = tape  # the OPRA feed adapter, or a fault wrapped around it
        self.stock_tape = stock_tape
        n, s = makers.n_contracts, makers.n_slots
        zeros = np.zeros((s, n), dtype=np.int64)
        self.slots = SlotQuotes(zeros.copy(), np.full((s, n), NO_ASK, dtype=np.int64),
                                zeros.copy(), zeros.copy())
        self.nbbo = OptionNBBOs(np.zeros(n, np.int64), np.full(n, NO_ASK, np.int64),
                                np.zeros(n, np.int64), np.zeros(n, np.int64))
        self.nbbo_ts = np.full(n, -1, dtype=np.int64)  # ms the NBBO in force was published
        self.done = makers.first_step - 1  # the last grid step applied
        self._block: QuoteBlock | None = None
        self.ledger = ledger
        self.now = start_ns
        self.quote_fault: QuoteFault | None = None  # a fault wrapped around consolidation
        self._changed = np.empty((8, 0), dtype=np.int64)  # :func:`changed_rows`' output

    # --- consolidation -------------------------------------------------------
    def sync(self, now: int) -> None:
        """Apply every grid step up to ``now``, publishing NBBO changes."""
        target = self.makers.due(now)
        while self.done < target:
            k = self.done + 1
            block = self._block
            if block is None or k >= block.first + block.times.size:
                block = self._block = self.makers.block(k)
            upto = min(target, block.first + block.times.size - 1)
            self._apply(block, k, upto)
            self.done = upto
        self.now = now

    def _apply(self, block: QuoteBlock, a: int, b: int) -> None:
        r0, r1 = a - block.first, b - block.first + 1
        if r0 == 0 and block.slow_slots is not None and block.slow_nbbo is not None:
            self._publish(block.slow, block.slow_nbbo, block.times[:1])
            self._hold(block.slow, block.slow_slots, 0)
        if block.idx.size:
            rows = OptionNBBOs(*(x[r0:r1] for x in block.nbbo))
            times = block.times[r0:r1]
            causes = None
            fault = self.quote_fault
            if fault is not None:
                rows, causes = fault.rows(block.idx, block.slots, times, rows, r0, r1)
            self._publish(block.idx, rows, times, causes)
            self._hold(block.idx, block.slots, r1 - 1)
            if fault is not None:
                fault.expire(int(times[-1]))

    def _hold(self, idx: np.ndarray, quotes: BlockSlots, row: int) -> None:
        """Make the slot quotes of one row the quotes in force (a quote fault may rewrite
        them)."""
        quotes.place(self.slots, idx, row)
        if self.quote_fault is not None:
            self.quote_fault.hold(self.slots)

    def _publish(self, idx: np.ndarray, rows: OptionNBBOs, times: np.ndarray,
                 causes: np.ndarray | None = None) -> None:
        """Publish each (step, contract) whose NBBO differs from the one before it; what
        the feed published becomes the NBBO in force."""
        out = self._changed
        if out.shape[1] < rows.nbb.size:
            out = self._changed = np.empty((8, max(rows.nbb.size, 2 * out.shape[1])), np.int64)
        n = changed_rows(self.nbbo, idx, rows, times, out)
        if n == 0:
            return
        t, contracts, nbb, nbo, nbb_size, nbo_size, step, col = out[:, :n]
        shown = self.tape.nbbos(t, contracts, nbb, nbo, nbb_size, nbo_size,
                                None if causes is None else causes[step, col])
        _keep(*self.nbbo, self.nbbo_ts, out, n, _ALL_SHOWN if shown is None else shown,
              self.tape.ms(0))

    def _republish(self, c: int) -> None:
        """Re-consolidate one contract after a fill; publish it now if it changed (what
        :meth:`_publish` does for one contract at one time, without its block arrays
        unless a quote fault is in force)."""
        fault = self.quote_fault
        if fault is not None:
            now = np.array([self.now], dtype=np.int64)
            self._publish(np.array([c]), self._consolidated(c), now, fault.cause(c, self.now))
            return
        s, nb = self.slots, self.nbbo
        quote = consolidate_one(s.bid, s.ask, s.bid_size, s.ask_size, c)
        if quote == (int(nb.nbb[c]), int(nb.nbo[c]), int(nb.nbb_size[c]), int(nb.nbo_size[c])):
            return
        if not self.tape.nbbo(self.now, c, *quote):  # the feed held it back: not in force
            return
        for held, x in zip(nb, quote, strict=True):
            held[c] = x
        self.nbbo_ts[c] = self.tape.ms(0) + self.now // NS_PER_MS

    # --- executions ----------------------------------------------------------
    def refresh(self, c: int) -> None:
        """Let the makers re-post their displayed sizes on ``c`` as an order arrives for
        it (prices stay), then publish the contract's NBBO if it changed."""
        nb = self.nbbo
        self.makers.repost(c, self.slots, (int(nb.nbb[c]), int(nb.nbo[c]),
                                           int(nb.nbb_size[c]), int(nb.nbo_size[c])))
        self._republish(c)

    def _consolidated(self, c: int) -> OptionNBBOs:
        return SlotQuotes(*(x[:, c:c + 1][:, None, :] for x in self.slots)).consolidated()

    def take(self, agent: int, c: int, side: int, qty: int, limit: int, conditions: int,
             parent: int = -1, venue: int = -1) -> int:
        """A marketable order on contract ``c`` (IOC, up to ``limit`` cents); returns the
        quantity filled. ``venue`` >= 0 restricts it to one venue (an ISO child)."""
        self.refresh(c)
        mk = self.makers
        s = self.slots
        prices = s.ask[:, c] if side == BUY else s.bid[:, c]
        sizes = s.ask_size[:, c] if side == BUY else s.bid_size[:, c]
        order = _fill_order(prices, sizes, mk.slot_venue, side == BUY, limit, venue)
        if order.size == 0:
            return 0
        spare = int(s.ask_size[:, c].sum()) - 1 if side == BUY else int(sizes.sum())
        filled = 0
        level = int(prices[order[0]])
        for k in order.tolist():
            q = min(qty - filled, int(sizes[k]), spare - filled)
            if q <= 0:
                break
            if int(prices[k]) != level:  # the better level is gone: publish that first
                level = int(prices[k])
                self._republish(c)
            sizes[k] -= q
            self._print(c, int(prices[k]), q, int(mk.slot_venue[k]), agent,
                        int(mk.slot_maker[k]), side, conditions, parent)
            filled += q
        if filled:
            self._republish(c)
        return filled

    def venues_by_price(self, c: int, side: int, limit: int | None = None) -> list[int]:
        """Venues showing contract ``c`` on the side a ``side`` order takes (at ``limit`` or
        better, if given), best price first (then more size, then venue index)."""
        mk, s = self.makers, self.slots
        prices = s.ask[:, c] if side == BUY else -s.bid[:, c]
        sizes = s.ask_size[:, c] if side == BUY else s.bid_size[:, c]
        shown = sizes > 0
        if limit is not None:
            shown &= prices <= (limit if side == BUY else -limit)
        best: dict[int, tuple[int, int]] = {}
        for k in np.flatnonzero(shown).tolist():
            v, p, q = int(mk.slot_venue[k]), int(prices[k]), int(sizes[k])
            old = best.get(v)
            if old is None or p < old[0]:
                best[v] = (p, -q)
            elif p == old[0]:
                best[v] = (p, old[1] - q)
        return sorted(best, key=lambda v: (*best[v], v))

    def cross(self, agent: int, c: int, side: int, qty: int, price: int, maker: int,
              venue: int, conditions: int, parent: int = -1) -> Printed:
        """A print at a negotiated ``price`` against ``maker`` (displayed size untouched);
        returns it."""
        self.refresh(c)
        return self._print(c, price, qty, venue, agent, maker, side, conditions, parent)

    def _print(self, c: int, price: int, qty: int, venue: int, agent: int, maker: int,
               side: int, conditions: int, parent: int, refers: int = -1,
               moved: int | None = None) -> Printed:
        """Print a trade, move its contracts and premium, let the maker book (and hedge)
        it. ``moved`` is the quantity the ledger moves (the print's own by default; a
        cancel moves the original back, a correction the difference)."""
        mk = self.makers
        contra = mk.agents[maker]
        moved = qty if moved is None else moved
        buyer, seller = (agent, contra) if (side == BUY) == (moved >= 0) else (contra, agent)
        effect = self.ledger.transfer(buyer, seller, c, abs(moved), price)
        if buyer != agent:  # the aggressor is the seller: its bit first
            effect = ((effect >> 1) & 1) | ((effect & 1) << 1)
        nbbo = None
        if self.nbbo_ts[c] >= 0:
            nb = self.nbbo
            nbbo = (int(nb.nbb[c]), int(nb.nbo[c]), int(nb.nbb_size[c]), int(nb.nbo_size[c]),
                    int(self.nbbo_ts[c]))
        last = self.stock_tape.last_quote
        underlying = None if last is None else (last[1], last[2], last[0])
        row = self.tape.trade(self.now, c, price, qty, venue, agent, contra, parent, conditions,
                              nbbo, underlying, effect, self.stock_tape.last_quote_ingest,
                              refers)
        self.stock_tape.follow(*self.tape.last_print)  # the hedge comes after the print
        mk.on_fill(maker, c, -moved if side == BUY else moved, self.now)
        return Printed(row, c, price, qty, venue, agent, maker, side, parent)


_ALL_SHOWN = np.zeros(0, dtype=np.bool_)  # "the feed published every row" to :func:`_keep`


@kernel
def _keep(nbb: np.ndarray, nbo: np.ndarray, nbb_size: np.ndarray, nbo_size: np.ndarray,
          nbbo_ts: np.ndarray, rows: np.ndarray, n: int, shown: np.ndarray,
          open_ms: int) -> None:  # pragma: no cover - compiled
    """The NBBO rows the feed published become the NBBO in force: ``rows`` holds ``n``
    rows in time order as :func:`tapesim.venues.opra.changed_rows` gathers them (int64
    [field, row]: time in ns, contract, nbb, nbo, nbb_size, nbo_size, ...), ``shown``
    which of them the feed published (empty: all). Each contract published keeps its last
    published row's quote (``nbb`` .. ``nbo_size`` [contract], cents and contracts) and
    ``nbbo_ts`` [contract] its time in epoch ms (``open_ms`` + ns // 1e6)."""
    every = shown.size == 0
    for k in range(n):
        if every or shown[k]:
            c = rows[1, k]
            nbb[c] = rows[2, k]
            nbo[c] = rows[3, k]
            nbb_size[c] = rows[4, k]
            nbo_size[c] = rows[5, k]
            nbbo_ts[c] = open_ms + rows[0, k] // NS_PER_MS


@kernel
def _fill_order(prices: np.ndarray, sizes: np.ndarray, slot_venue: np.ndarray, buy: bool,
                limit: int, venue: int) -> np.ndarray:  # pragma: no cover - compiled
    """The slots a marketable order fills against, in fill order (int64 slot indices):
    those showing size (``sizes`` [slot], contracts) at ``limit`` or better (``prices``
    [slot], cents: the asks for a buy, at most ``limit``; the bids for a sell, at least
    ``limit`` and above zero), only on ``venue`` when it is >= 0 (``slot_venue`` [slot]);
    best price first, then the venue showing more size there in total, then slot order
    (the rule in :meth:`OptionVenues.take`)."""
    venue_size = np.zeros(slot_venue.max() + 1, dtype=np.int64)
    order = np.empty(prices.size, dtype=np.int64)
    n = 0
    for k in range(prices.size):
        p = prices[k]
        if sizes[k] > 0 and ((p <= limit) if buy else (p >= limit and p > 0)) and (
                venue < 0 or slot_venue[k] == venue):
            order[n] = k
            n += 1
            venue_size[slot_venue[k]] += sizes[k]
    for a in range(1, n):  # insertion sort: a dozen slots at most
        k = order[a]
        key = prices[k] if buy else -prices[k]
        shown = venue_size[slot_venue[k]]
        b = a - 1
        while b >= 0:
            j = order[b]
            other = prices[j] if buy else -prices[j]
            other_shown = venue_size[slot_venue[j]]
            if other < key or (other == key and (other_shown > shown or (
                    other_shown == shown and j < k))):
                break
            order[b + 1] = j
            b -= 1
        order[b + 1] = k
    return order[:n].copy()
