"""Population processes: one SimPy process for a whole class of traders.

Rather than one process per person, a population draws the next arrival of any of
its members from its total intensity, and the policy decides what that member
does. The intensity may vary with time (the intraday envelope); it is read at the
previous arrival, which is exact for piecewise-constant intensities and close for
slowly varying ones.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.rng import Draws


def arrivals(
    env: simpy.Environment,
    draws: Draws,
    rate_at: Callable[[int], float],
    until: int,
    act: Callable[[], None],
    before: Callable[[int], None] | None = None,
) -> Generator[simpy.Event, None, None]:
    """Call ``act`` at Poisson arrival times of intensity ``rate_at(now)`` per second.

    ``before(now)``, if given, runs first at each arrival (the venues catching up
    with the market makers' quotes, so the member acts on the market as it is now).
    """
    timeout = env.timeout
    exponential = draws.exponential
    while True:
        now = env.now
        rate = rate_at(now)
        if rate <= 0.0:
            return
        delay = int(exponential() * NS_PER_S / rate) + 1
        if now + delay >= until:
            return
        yield timeout(delay)
        if before is not None:
            before(now + delay)
        act()


def ticker(
    env: simpy.Environment, every_ns: int, until: int, call: Callable[[int], None]
) -> Generator[simpy.Event, None, None]:
    """Call ``call(now)`` every ``every_ns`` until ``until`` (progress reporting)."""
    while env.now + every_ns < until:
        yield env.timeout(every_ns)
        call(env.now)
