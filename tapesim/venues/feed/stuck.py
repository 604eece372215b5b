"""Stuck venue quote: one venue's bid sticks at a bad price, locking or crossing the market.

:class:`StuckQuote` wraps consolidation: until the fault ends, one maker slot bids on
a contract at the other venues' best offer (locked) or some ticks through it
(crossed), whatever its maker quotes. The stuck bid is in the quotes in force (an
order can trade against it) and in every NBBO published meanwhile, and those NBBOs
are attributed to the fault's scenario. It is installed on ``OptionVenues.quote_fault``
by the first stick and takes itself off once every stuck quote has ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tapesim.venues.book import NO_ASK
from tapesim.venues.opra import OptionNBBOs
from tapesim.venues.slots import BlockSlots, SlotQuotes

if TYPE_CHECKING:
    from tapesim.venues.options import OptionVenues

Tick = Callable[[np.ndarray], np.ndarray]  # the MPV (cents) at each price (cents)


class StuckQuote:
    """Stuck venue bids on one chain's venues.

    Args:
        venues: the options venues it is installed on.
        tick: the chain's MPV rule, cents at each price in cents
            (``tapesim.venues.chains.Mpv.tick_cents``).
    """

    def __init__(self, venues: OptionVenues, tick: Tick) -> None:
        self.venues = venues
        self.tick = tick
        # contract -> (slot, ticks through the offer, until ns, cause)
        self.stuck: dict[int, tuple[int, int, int, int]] = {}

    @classmethod
    def on(cls, venues: OptionVenues, tick: Tick) -> StuckQuote:
        """The stuck-quote fault of ``venues``, installed there if none is yet."""
        fault = venues.quote_fault
        if isinstance(fault, cls):
            return fault
        if fault is not None:
            raise ValueError("another quote fault is installed on these venues")
        fault = venues.quote_fault = cls(venues, tick)
        return fault

    def stick(self, c: int, slot: int, through: int, until_ns: int, cause: int) -> None:
        """Until ``until_ns`` slot ``slot`` bids on contract ``c`` at the other venues' best
        offer (``through`` = 0: locked) or that many ticks above it (crossed); what the
        feed publishes of ``c`` meanwhile is attributed to scenario ``cause``."""
        self.stuck[c] = (slot, through, until_ns, cause)
        self._cross(c, self.venues.slots)
        self.venues._republish(c)

    def _cross(self, c: int, s: SlotQuotes) -> None:
        """Apply contract ``c``'s stuck bid to the quotes in force ``s`` ([slot, contract])."""
        slot, through, _, _ = self.stuck[c]
        asks = np.where(s.ask_size[:, c] > 0, s.ask[:, c], NO_ASK)
        best = int(np.delete(asks, slot).min())
        s.bid[slot, c] = best + through * int(self.tick(np.asarray(best)))
        s.bid_size[slot, c] = max(int(s.bid_size[slot, c]), 1)

    def rows(self, idx: np.ndarray, slots: BlockSlots, times: np.ndarray,
             rows: OptionNBBOs, r0: int, r1: int) -> tuple[OptionNBBOs, np.ndarray | None]:
        """The rows with each stuck venue quote in place of its maker's while it lasts, and
        the cause of each (step, contract): the fault's scenario there, else -1."""
        if not self.stuck:
            return rows, None
        rows = OptionNBBOs(*(x.copy() for x in rows))
        causes = np.full(rows.nbb.shape, -1, dtype=np.int64)
        for c, (slot, through, until, cause) in self.stuck.items():
            hit = np.flatnonzero(idx == c)
            if hit.size == 0:
                continue
            col = int(hit[0])
            live = times < until
            quotes = slots.window(r0, r1, hit[:1])
            others = np.delete(np.where(quotes.ask_size[:, :, 0] > 0, quotes.ask[:, :, 0],
                                        NO_ASK), slot, axis=0).min(axis=0)
            best = others[live]
            quotes.bid[slot, live, 0] = best + through * self.tick(best)
            quotes.bid_size[slot, live, 0] = np.maximum(quotes.bid_size[slot, live, 0], 1)
            for held, new in zip(rows, quotes.consolidated(), strict=True):
                held[:, col] = new[:, 0]
            causes[live, col] = cause
        return rows, causes

    def hold(self, slots: SlotQuotes) -> None:
        """A stuck quote stays in force through its maker's requotes."""
        for c in self.stuck:
            self._cross(c, slots)

    def cause(self, c: int, now_ns: int) -> np.ndarray | None:
        """The scenario a republished NBBO of ``c`` is attributed to while it is stuck."""
        fault = self.stuck.get(c)
        return None if fault is None or fault[2] <= now_ns else np.array([[fault[3]]])

    def expire(self, t_ns: int) -> None:
        """Drop the stuck quotes ended by ``t_ns``; off the venues once none is left."""
        self.stuck = {c: e for c, e in self.stuck.items() if e[2] > t_ns}
        if not self.stuck and self.venues.quote_fault is self:
            self.venues.quote_fault = None
