"""Reactive hedging: protection is bought after the stock has fallen, not at a set time."""

from __future__ import annotations

from collections import deque

from tapesim.scenarios.policies.base import Injection, Steps
from tapesim.sim.calendar import NS_PER_S

LOOK_S = 300  # seconds of the stock's mids a hedger weighs a fall against: five minutes
POLL_S = 1  # seconds between its looks at the stock's mid


class HedgeAfterFall(Injection):
    """A holder of the stock who buys protective puts once the stock has fallen: from its
    start time it watches the stock's mid (the NBBO mid of the stock's venues, as any
    screen shows it) and acts when the mid stands ``react_bps`` below its highest mid
    of the last :data:`LOOK_S` seconds it watched. Protection is bought in reaction to
    a drawdown (a portfolio insurer's or a risk limit's trigger; Leland 1980 on
    portfolio insurance), so its puts follow a fall on the tape, as a reader of the tape
    judges a hedge by. It waits no later than leaves its orders' ``duration_s`` before
    the window ends, and then acts whatever the stock did (its label's window is its
    prints', as always)."""

    def arrive(self) -> Steps:
        """Wait, looking every :data:`POLL_S` s, until the stock's mid has fallen the
        policy's ``react_bps`` from its high of the last :data:`LOOK_S` s (ns clock of
        the shard's environment), or until the last moment that leaves the orders'
        duration before the window's end."""
        env = self.desk.ctx.env
        venues = self.desk.ctx.venues
        react = self.settings.policy.react_bps
        last = self.desk.ctx.session.end_ns - self.settings.duration_ns - POLL_S * NS_PER_S
        seen: deque[tuple[int, float]] = deque()
        while react > 0 and env.now < last:
            if venues.two_sided():
                mid = venues.mid()
                seen.append((env.now, mid))
                while seen[0][0] < env.now - LOOK_S * NS_PER_S:
                    seen.popleft()
                high = max(m for _, m in seen)
                if (mid - high) / high * 1e4 <= -react:
                    return
            yield env.timeout(POLL_S * NS_PER_S)
