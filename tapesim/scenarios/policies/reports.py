"""Late and corrected reports after the orders: a benign trap for flow classifiers."""

from __future__ import annotations

from tapesim.events.enrichment import CONDITION_BIT
from tapesim.scenarios.policies.base import Injection, Steps
from tapesim.sim.calendar import NS_PER_S
from tapesim.venues.feed.reports import TradeReports

LATE, CANCEL, CORRECTION = (CONDITION_BIT[c] for c in ("LATE", "CANCEL", "CORRECTION"))


class TradeThenReport(Injection):
    """The policy's ``fault_s`` after its last order, the venue reports on its prints:
    a trade at the first print's price reported LATE (a new size, against the same
    maker and venue), the first print cancelled, and the second print (or, with a
    single order, the late one) corrected to half its size (at least one contract).
    It reports on negotiated prints, so its orders must be crosses (a block, a mid
    cross or a package)."""

    def follow(self, side: int) -> Steps:
        """Wait ``fault_s`` after the last order, then, inside :meth:`Injection.acting`, send
        the reports described above on the prints in ``self.made`` (the late trade under
        a fresh parent id, its size drawn like an order's; cancel and correction through
        :class:`TradeReports`), appending the late trade and the cancel to it. Nothing
        when the orders negotiated no print."""
        env = self.desk.ctx.env
        yield env.timeout(int(self.settings.policy.fault_s * NS_PER_S))
        self.desk.sync(env.now)
        venues = self.desk.venues
        done = self.made
        if not done:
            return
        first = done[0]
        reports = TradeReports(venues)
        with self.acting():
            done.append(venues.cross(self.agent, first.contract, first.side, self.lots(),
                                     first.price, first.maker, first.venue, LATE,
                                     self.parent()))
            done.append(reports.cancel(first, CANCEL))
            reports.correct(done[1], max(done[1].qty // 2, 1), CORRECTION)
