"""Population processes: one SimPy process for a whole class of traders.

Rather than one process per person, a population draws the next arrival of any of
its members from its total intensity, and the policy decides what that member
does. The intensity may vary with time (the intraday envelope); it is read at the
previous arrival, which is exact for piecewise-constant intensities and close for
slowly varying ones.

A population may also excite itself (:class:`Excitation`): each arrival raises the
intensity for a while, so arrivals come in clusters (a Hawkes process). The long-run
mean rate stays ``rate_at``: the baseline is scaled down by the branching ratio.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from operator import add

import simpy

from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.floats import ordered_sum
from tapesim.sim.rng import Draws


@dataclass(frozen=True)
class Excitation:
    """Self-excitation of a population's arrivals: a Hawkes process whose kernel is a
    sum of exponentials (Hawkes 1971; Bacry, Mastromatteo & Muzy 2015 for its fit to
    trade arrivals).

    After each arrival the intensity (per second) rises by ``branching x weights[k] /
    time constant k`` in component k, which then decays with time constant
    ``decay_ns[k]``; the kernel integrates to ``branching``, the mean number of arrivals
    one arrival triggers directly. ``weights`` sum to 1. ``branching`` must be below 1
    (or clusters never end); the baseline is ``(1 - branching)`` times the population's
    rate, so its long-run mean rate is unchanged.
    """

    branching: float
    decay_ns: tuple[float, ...]
    weights: tuple[float, ...]

    def jumps(self) -> list[float]:
        """Each component's rise in intensity (arrivals per second) at one arrival."""
        return [self.branching * w * NS_PER_S / tau
                for w, tau in zip(self.weights, self.decay_ns, strict=True)]


def arrivals(
    env: simpy.Environment,
    draws: Draws,
    rate_at: Callable[[int], float],
    until: int,
    act: Callable[[], None],
    before: Callable[[int], None] | None = None,
    excitation: Excitation | None = None,
) -> Generator[simpy.Event, None, None]:
    """Call ``act`` at Poisson arrival times of intensity ``rate_at(now)`` per second,
    or, with ``excitation``, at the arrival times of that self-exciting process
    (:func:`excited_arrivals`).

    ``before(now)``, if given, runs first at each arrival (the venues catching up
    with the market makers' quotes, so the member acts on the market as it is now).
    """
    if excitation is not None:
        return excited_arrivals(env, draws, rate_at, until, act, before, excitation)
    return _poisson(env, draws, rate_at, until, act, before)


def _poisson(
    env: simpy.Environment,
    draws: Draws,
    rate_at: Callable[[int], float],
    until: int,
    act: Callable[[], None],
    before: Callable[[int], None] | None,
) -> Generator[simpy.Event, None, None]:
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


def excited_arrivals(
    env: simpy.Environment,
    draws: Draws,
    rate_at: Callable[[int], float],
    until: int,
    act: Callable[[], None],
    before: Callable[[int], None] | None,
    excitation: Excitation,
) -> Generator[simpy.Event, None, None]:
    """Arrivals of a Hawkes process: intensity ``(1 - branching) x rate_at(now)`` plus
    the decaying excitation left by earlier arrivals (:class:`Excitation`), per second.

    The next arrival is drawn by thinning (Ogata 1981): between arrivals the
    intensity only decays, so its value now bounds it; a candidate at an exponential
    gap of that bound is kept with probability intensity / bound, else the bound
    drops to the intensity there and the search goes on. The baseline is read at the
    previous arrival, as for Poisson arrivals. Draws: per candidate one exponential,
    then one uniform. Returns when ``rate_at`` is not positive or the next arrival
    falls at or after ``until``.
    """
    timeout = env.timeout
    exponential, uniform, exp = draws.exponential, draws.uniform, math.exp
    scale = 1.0 - excitation.branching
    jumps = excitation.jumps()
    taus = excitation.decay_ns
    levels = [0.0] * len(taus)
    while True:
        now = env.now
        rate = rate_at(now)
        if rate <= 0.0:
            return
        base = rate * scale
        bound = base + ordered_sum(levels)
        gap = 0.0
        while True:
            gap += exponential() * NS_PER_S / bound
            back = -gap
            decayed = [x * exp(back / tau) for x, tau in zip(levels, taus, strict=True)]
            intensity = base + ordered_sum(decayed)
            if uniform() * bound <= intensity:
                break
            bound = intensity
        delay = int(gap) + 1
        if now + delay >= until:
            return
        levels = list(map(add, decayed, jumps))
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
