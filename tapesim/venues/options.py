"""The options market of one underlying: venue quotes in force, OPRA NBBO, executions.

Quotes. The makers' slot quotes (one slot per maker and venue) come from
:class:`tapesim.agents.option_makers.OptionMakers` a block of grid steps at a
time. :meth:`OptionVenues.sync` brings the market up to a time: for each grid
step since the last sync it compares every repriced contract's consolidated quote
with the one in force and publishes an ``OptionNBBO`` only where it changed.

Executions. A marketable order fills against the displayed slot quotes, best price
first, then the venue showing more size, then slot order; it never trades through
a better displayed price. A fill lowers the slot's displayed size until the maker
requotes the contract at its next grid step, and the NBBO is republished at once
when the fill changed it. Crosses (price-improved retail fills, complex orders)
print at a negotiated price inside the NBBO against one maker, without touching
displayed size. Every print records the state it traded in: the NBBO in force and
when it was published, and the SIP quote in force. The last displayed offer of a
contract is never taken out, so an NBBO with an ask is always in force.

Feed faults are not the venues' business: a scenario wraps the feed adapter
(``tape``) or consolidation (``quote_fault``) in a model of :mod:`tapesim.venues.feed`
while the fault lasts. The NBBO in force is the last one the feed published.

Positions. :class:`OptionLedger` moves contracts and premium between agents, so
both sum to zero across agents at any time; each print is tagged opening or
closing for each side from the positions before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tapesim.agents.option_makers import OptionMakers, SlotQuotes
from tapesim.sim.calendar import NS_PER_MS
from tapesim.venues.book import BUY, NO_ASK
from tapesim.venues.feed.base import OptionFeed, QuoteFault
from tapesim.venues.opra import OptionNBBOs
from tapesim.venues.option_tape import OptionTape
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


class OptionLedger:
    """Contracts and premium (cents) held by each agent trading one chain."""

    def __init__(self, n_contracts: int) -> None:
        self.n = n_contracts
        self.positions: dict[int, np.ndarray] = {}
        self.cash: dict[int, int] = {}

    def account(self, agent: int) -> np.ndarray:
        if agent not in self.positions:
            self.positions[agent] = np.zeros(self.n, dtype=np.int64)
            self.cash[agent] = 0
        return self.positions[agent]

    def transfer(self, buyer: int, seller: int, c: int, qty: int, price_cents: int) -> int:
        """Move contracts and premium; returns the effect bits (bit 0 buyer opening,
        bit 1 seller opening) from the positions before the trade."""
        bought, sold = self.account(buyer), self.account(seller)
        effect = (1 if bought[c] >= 0 else 0) | (2 if sold[c] <= 0 else 0)
        bought[c] += qty
        sold[c] -= qty
        value = qty * price_cents * 100
        self.cash[buyer] -= value
        self.cash[seller] += value
        return effect

    def totals(self) -> tuple[int, int]:
        """(sum of |net contracts| over contracts, sum of premium): both zero when conserved."""
        if not self.positions:
            return 0, 0
        net = np.sum(list(self.positions.values()), axis=0)
        return int(np.abs(net).sum()), int(sum(self.cash.values()))

    def open_interest(self) -> np.ndarray:
        """Contracts held long across agents, per contract."""
        if not self.positions:
            return np.zeros(self.n, dtype=np.int64)
        return np.sum([np.maximum(p, 0) for p in self.positions.values()], axis=0)


@dataclass(frozen=True)
class _Block:
    first: int  # grid step of times[0]
    times: np.ndarray  # ns of each grid step
    idx: np.ndarray  # contracts repriced every step
    slots: SlotQuotes  # [slot, step, contract of idx]
    nbbo: OptionNBBOs  # [step, contract of idx]
    slow: np.ndarray  # contracts repriced at the first step only
    slow_slots: SlotQuotes | None
    slow_nbbo: OptionNBBOs | None


class OptionVenues:
    """Options venues, consolidation and execution for one chain."""

    def __init__(self, makers: OptionMakers, tape: OptionTape, stock_tape: Tape,
                 start_ns: int, end_ns: int) -> None:
        self.makers = makers
        self.tape: OptionFeed = tape  # the OPRA feed adapter, or a fault wrapped around it
        self.stock_tape = stock_tape
        cfg = makers.cfg
        self.step_ns = cfg.requote_ms * NS_PER_MS
        self.block_steps = cfg.block_steps
        self.slow_every = max(1, round(cfg.slow_requote_s * 1e9 / (self.step_ns * cfg.block_steps)))
        self.first_step = -(-start_ns // self.step_ns)
        self.last_step = (end_ns - 1) // self.step_ns
        n, s = makers.chain.size, makers.n_slots
        zeros = np.zeros((s, n), dtype=np.int64)
        self.slots = SlotQuotes(zeros.copy(), np.full((s, n), NO_ASK, dtype=np.int64),
                                zeros.copy(), zeros.copy())
        self.nbbo = OptionNBBOs(np.zeros(n, np.int64), np.full(n, NO_ASK, np.int64),
                                np.zeros(n, np.int64), np.zeros(n, np.int64))
        self.nbbo_ts = np.full(n, -1, dtype=np.int64)  # ms the NBBO in force was published
        self.done = self.first_step - 1  # the last grid step applied
        self._block: _Block | None = None
        self.ledger = OptionLedger(n)
        self.now = start_ns
        self.quote_fault: QuoteFault | None = None  # a fault wrapped around consolidation

    # --- consolidation -------------------------------------------------------
    def sync(self, now: int) -> None:
        """Apply every grid step up to ``now``, publishing NBBO changes."""
        target = min(now // self.step_ns, self.last_step)
        while self.done < target:
            k = self.done + 1
            block = self._block
            if block is None or k >= block.first + block.times.size:
                block = self._block = self._make_block(k)
            upto = min(target, block.first + block.times.size - 1)
            self._apply(block, k, upto)
            self.done = upto
        self.now = now

    def _make_block(self, k: int) -> _Block:
        mk = self.makers
        times = np.arange(k, min(k + self.block_steps, self.last_step + 1)) * self.step_ns
        spot = mk.fair(mk.ctx.latent.index(int(times[0])))
        idx = mk.active(spot, mk.minutes(int(times[0])))
        slots = mk.quotes(idx, times)
        slow = np.empty(0, dtype=np.int64)
        slow_slots = slow_nbbo = None
        if ((k - self.first_step) // self.block_steps) % self.slow_every == 0:
            slow = np.setdiff1d(np.arange(mk.chain.size), idx)
            if slow.size:
                slow_slots = mk.quotes(slow, times[:1])
                slow_nbbo = slow_slots.consolidated()
        return _Block(k, times, idx, slots, slots.consolidated(), slow, slow_slots, slow_nbbo)

    def _apply(self, block: _Block, a: int, b: int) -> None:
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

    def _hold(self, idx: np.ndarray, quotes: SlotQuotes, row: int) -> None:
        """Make the slot quotes of one row the quotes in force (a quote fault may rewrite
        them)."""
        for held, new in zip(self.slots, quotes, strict=True):
            held[:, idx] = new[:, row, :]
        if self.quote_fault is not None:
            self.quote_fault.hold(self.slots)

    def _publish(self, idx: np.ndarray, rows: OptionNBBOs, times: np.ndarray,
                 causes: np.ndarray | None = None) -> None:
        """Publish each (step, contract) whose NBBO differs from the one before it."""
        changed = np.zeros(rows.nbb.shape, dtype=bool)
        for held, new in zip(self.nbbo, rows, strict=True):
            changed[0] |= new[0] != held[idx]
            changed[1:] |= new[1:] != new[:-1]
        step, col = np.nonzero(changed)
        if step.size == 0:
            return
        shown = self.tape.nbbos(times[step], idx[col], rows.nbb[step, col], rows.nbo[step, col],
                                rows.nbb_size[step, col], rows.nbo_size[step, col],
                                None if causes is None else causes[step, col])
        if shown is not None:  # the feed held some back: they are not in force either
            changed[step[~shown], col[~shown]] = False
        hit = changed.any(axis=0)
        if shown is not None:  # a contract keeps the NBBO the feed last published
            last_row = changed.shape[0] - 1 - np.argmax(changed[::-1], axis=0)
            for held, new in zip(self.nbbo, rows, strict=True):
                held[idx[hit]] = new[last_row[hit], hit]
        else:
            for held, new in zip(self.nbbo, rows, strict=True):
                held[idx] = new[-1]
        last = changed.shape[0] - 1 - np.argmax(changed[::-1, hit], axis=0)
        self.nbbo_ts[idx[hit]] = self.tape.ms(0) + times[last] // NS_PER_MS

    def _republish(self, c: int) -> None:
        """Re-consolidate one contract after a fill; publish it now if it changed."""
        now = np.array([self.now], dtype=np.int64)
        fault = self.quote_fault
        causes = None if fault is None else fault.cause(c, self.now)
        self._publish(np.array([c]), self._consolidated(c), now, causes)

    # --- executions ----------------------------------------------------------
    def refresh(self, c: int) -> None:
        """Makers re-post their displayed sizes on ``c`` as an order arrives for it (prices
        stay), so the order meets a freshly published quote rather than one left
        unchanged since the contract was last repriced."""
        mk, s = self.makers, self.slots
        base = mk.shown_base[c]
        draw = mk.draws.uniform
        for k in range(mk.n_slots):
            size = max(1, int(base * mk.size_factor[k, c] * (0.6 + 0.8 * draw()) + 0.5))
            if s.ask_size[k, c] > 0:
                s.ask_size[k, c] = size
            if s.bid_size[k, c] > 0:
                s.bid_size[k, c] = size
        nb = self._consolidated(c)
        if all(int(new[0, 0]) == int(held[c]) for new, held in zip(nb, self.nbbo, strict=True)):
            best = int(np.argmin(np.where(s.ask_size[:, c] > 0, s.ask[:, c], NO_ASK)))
            s.ask_size[best, c] += 1  # a re-post always shows: the best offer one lot larger
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
        live = (sizes > 0) & (prices <= limit if side == BUY else (prices >= limit) & (prices > 0))
        if venue >= 0:
            live &= mk.slot_venue == venue
        slots = np.flatnonzero(live)
        if slots.size == 0:
            return 0
        venue_size = np.bincount(mk.slot_venue[slots], weights=sizes[slots],
                                 minlength=int(mk.slot_venue.max()) + 1)
        key = prices[slots] if side == BUY else -prices[slots]
        order = slots[np.lexsort((slots, -venue_size[mk.slot_venue[slots]], key))]
        spare = int(s.ask_size[:, c].sum()) - 1 if side == BUY else int(sizes.sum())
        filled = 0
        for k in order.tolist():
            q = min(qty - filled, int(sizes[k]), spare - filled)
            if q <= 0:
                break
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
        stock = mk.ctx.venues
        spot = stock.mid() / 100.0 if stock.two_sided() else mk.fair(
            mk.ctx.latent.index(self.now))
        mk.on_fill(maker, c, -moved if side == BUY else moved, spot)
        return Printed(row, c, price, qty, venue, agent, maker, side, parent)
