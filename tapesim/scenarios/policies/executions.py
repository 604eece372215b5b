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
        yield from inj.desk.sweep(inj.agent, inj.draws, c, side, qty, ISO_SWEEP | extra,
                                  inj.parent(), levels=4, acting=inj.acting)


class CrossNearMid(Execution):
    """A print at the true mid (of the venues' own live quotes, not the feed's, which may
    be stale), rounded to the contract's MPV, against a maker. Nothing prints while no
    venue offers the contract."""

    def trade(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> list[Printed]:
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
