"""Feed faults before the orders: a frozen feed, a stuck venue quote.

Each installs a model of :mod:`tapesim.venues.feed` on the shard's option venues
when the scenario starts; the model takes itself out of the way when the fault ends.
"""

from __future__ import annotations

from tapesim.scenarios.policies.base import Injection, Steps
from tapesim.sim.calendar import NS_PER_S
from tapesim.venues.feed.freeze import FrozenFeed
from tapesim.venues.feed.stuck import StuckQuote


class FreezeThenTrade(Injection):
    """The feed stops publishing the scenario's contracts for the policy's ``fault_s``;
    halfway through, the orders start, so they meet a stale NBBO in force."""

    def prepare(self, contracts: list[int]) -> Steps:
        """Freeze the feed for ``contracts`` (chain indices) from now for ``fault_s``
        (:class:`FrozenFeed` installed on the options venues' tape if not yet there), then
        wait half of it, so the orders start inside the freeze."""
        env = self.desk.ctx.env
        fault_ns = int(self.settings.policy.fault_s * NS_PER_S)
        FrozenFeed.on(self.desk.venues).freeze(contracts, env.now + fault_ns)
        yield env.timeout(fault_ns // 2)


class StickThenTrade(Injection):
    """For the policy's ``fault_s`` one venue (a slot drawn uniformly) bids on the first
    contract at the other venues' best offer (locked) or a tick through it (crossed,
    one chance in two); the orders follow at once."""

    def prepare(self, contracts: list[int]) -> Steps:
        """Stick the bid of a maker slot drawn uniformly on ``contracts[0]`` from now for
        ``fault_s``, locked or (one chance in two) one tick through (the MPV of
        the chain's ``Mpv.tick_cents``), inside
        :meth:`Injection.acting` so the NBBOs it causes are attributed; no wait.

        Raises:
            ValueError: another kind of quote fault is installed on the venues
                (:meth:`StuckQuote.on`).
        """
        venues = self.desk.venues
        until_ns = self.desk.ctx.env.now + int(self.settings.policy.fault_s * NS_PER_S)
        fault = StuckQuote.on(venues, self.desk.chain.mpv.tick_cents)
        with self.acting():
            fault.stick(contracts[0], self.draws.below(venues.makers.n_slots),
                        self.draws.below(2), until_ns, self.index)
        yield from ()
