"""How one injected order trades: one small class per behaviour family.

* :class:`AtTouch` takes the displayed touch (the offer to buy, the bid to sell);
* :class:`BlockAtTouch` prints one outsized trade at the touch against a maker;
* :class:`IsoSweep` sends ISO children across the venues, level by level;
* :class:`CrossNearMid` prints against a maker at the venues' true mid;
* :class:`MidPackage` prints a vertical or a straddle, each leg at its NBBO mid.

Each trades inside :meth:`Injection.acting`, so what it causes is attributed to its
scenario; a sweep marks each child separately, as its children are spread in time.
"""

from __future__ import annotations

from tapesim.agents.option_flow import COMPLEX, FILL, ISO_SWEEP, SPREAD
from tapesim.scenarios.policies.base import Execution, Injection, Steps
from tapesim.venues.book import BUY
from tapesim.venues.options import Printed


class AtTouch(Execution):
    """A marketable order at the touch, filled against the displayed quotes (IOC)."""

    def trade(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> list[Printed]:
        """Take ``qty`` contracts at the touch of the NBBO in force (cents), IOC across the
        venues, condition FILL plus ``extra``; nothing when the touch is not positive.
        Its fills are against displayed quotes, not negotiated, so it returns no prints."""
        venues = inj.desk.venues
        with inj.acting():
            nb = venues.nbbo
            touch = int(nb.nbo[c]) if side == BUY else int(nb.nbb[c])
            if touch > 0:
                venues.take(inj.agent, c, side, qty, touch, FILL | extra)
        return []


class BlockAtTouch(Execution):
    """One outsized print at the touch, negotiated with one maker (displayed size untouched)."""

    def trade(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> list[Printed]:
        """One cross of all ``qty`` contracts at the touch of the NBBO in force (cents),
        against a maker slot drawn uniformly, condition FILL plus ``extra``, under a fresh
        parent id; the touch is used as found (not checked to be a price). Returns that
        print."""
        venues = inj.desk.venues
        with inj.acting():
            nb = venues.nbbo
            touch = int(nb.nbo[c]) if side == BUY else int(nb.nbb[c])
            maker, venue = inj.maker_slot()
            return [venues.cross(inj.agent, c, side, qty, touch, maker, venue, FILL | extra,
                                 inj.parent())]


class IsoSweep(Execution):
    """ISO children to every venue showing the contract, up to four price levels deep
    (:meth:`tapesim.agents.option_flow.OptionDesk.sweep`); each child is attributed."""

    def send(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> Steps:
        """Sweep ``qty`` contracts as a SimPy process part (it overrides :meth:`send`, not
        :meth:`trade`, because its children are spread in time): the touch and up to
        three ticks worse, conditions ISO and SWEEP plus ``extra``, one fresh parent id,
        each child inside :meth:`Injection.acting`. Its fills are against displayed
        quotes, so nothing is added to ``inj.made``."""
        yield from inj.desk.sweep(inj.agent, inj.draws, c, side, qty, ISO_SWEEP | extra,
                                  inj.parent(), levels=4, acting=inj.acting)


class CrossNearMid(Execution):
    """A print at the true mid (of the venues' own live quotes, not the feed's, which may
    be stale), rounded to the contract's MPV, against a maker. Nothing prints while no
    venue offers the contract."""

    def trade(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> list[Printed]:
        """Cross ``qty`` contracts at the mid (cents) of the best live slot bid (0 when none)
        and offer, rounded to the MPV at that mid and at least one tick, against a maker
        slot drawn uniformly; condition FILL plus ``extra``, a fresh parent id. Returns
        the print, or no print while no slot offers ``c``."""
        with inj.acting():
            venues = inj.desk.venues
            s = venues.slots
            live_b = s.bid[:, c][s.bid_size[:, c] > 0]
            live_a = s.ask[:, c][s.ask_size[:, c] > 0]
            if live_a.size == 0:
                return []
            bid = int(live_b.max()) if live_b.size else 0
            mid = (bid + int(live_a.min())) / 2.0
            tick = inj.desk.tick(int(mid))
            price = max(round(mid / tick) * tick, tick)
            maker, venue = inj.maker_slot()
            return [venues.cross(inj.agent, c, side, qty, price, maker, venue, FILL | extra,
                                 inj.parent())]


class MidPackage(Execution):
    """A package against makers, each leg at its NBBO mid: a straddle (the expiry's
    at-the-money call and put, COMPLEX) or a vertical (``c`` and the strike 0.8 standard
    deviations further out, the other way; COMPLEX and SPREAD)."""

    def trade(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> list[Printed]:
        """Cross every leg for ``qty`` contracts under one fresh parent id, each against
        its own maker slot drawn uniformly, at its NBBO mid on the MPV grid
        (:meth:`tapesim.agents.option_flow.OptionDesk.mid_price`). A straddle (policy
        ``structure``) takes only ``c``'s expiry and trades both legs on ``side``;
        otherwise ``c`` trades on ``side`` and the far leg (the same right, the policy's
        ``z`` + 0.8 standard deviations from the money) the other way, a single leg when
        both land on one strike. Returns the legs' prints."""
        desk, p = inj.desk, inj.settings.policy
        chain = desk.chain
        e = int(chain.expiry_index[c])
        if p.structure == "straddle":
            legs = [(desk.contract(e, True, 0.0), side), (desk.contract(e, False, 0.0), side)]
            conditions = COMPLEX | extra
        else:
            call = bool(chain.is_call[c])
            far_z = p.z + 0.8
            far = desk.contract(e, call, far_z if call else -far_z)
            legs = [(c, side), (far, -side)] if far != c else [(c, side)]
            conditions = COMPLEX | SPREAD | extra
        parent = inj.parent()
        made = []
        with inj.acting():
            for leg, leg_side in legs:
                maker, venue = inj.maker_slot()
                made.append(desk.venues.cross(inj.agent, leg, leg_side, qty,
                                              desk.mid_price(leg), maker, venue, conditions,
                                              parent))
        return made
