"""What every injected agent shares: its settings, its contracts and its schedule.

An :class:`Injection` is one scenario in one shard. It registers its own agent,
waits (a SimPy process) until its start time, picks its contracts from the chain
listed that day, and sends its orders evenly over its duration, each one traded by
its :class:`Execution` (at the touch, a block, a sweep, a cross near the mid, a
package; see :mod:`.executions`). Subclasses add what happens around the orders
(a feed fault before them, reports or stock trading after them, a look ahead at
the latent path) by overriding :meth:`Injection.arrive`, :meth:`Injection.prepare`,
:meth:`Injection.direction` and :meth:`Injection.follow`.

It never writes an event itself; the venues print its fills like anyone else's.
While it acts, both tapes attribute every event they write to its index
(:func:`tapesim.venues.feed.attribution.caused_by`): its prints, the makers' hedges
its fills trigger, the quotes those move. That is how labels find exactly the events
it caused. Nothing it does happens before its start.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import simpy

from tapesim.agents.option_flow import OptionDesk
from tapesim.config.options import ScenarioInjection
from tapesim.config.run import ConfigError
from tapesim.events.contracts import parse_contract_id
from tapesim.events.enrichment import event_condition
from tapesim.scenarios.catalog import Policy
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.rng import Draws, stream
from tapesim.venues.book import BUY, SELL
from tapesim.venues.feed.attribution import caused_by
from tapesim.venues.options import Printed

Steps = Generator[simpy.Event, None, None]  # a SimPy process body, or part of one


@dataclass(frozen=True)
class Resolved:
    """An injection's settings after the config's overrides: ``side`` BUY or SELL,
    ``start_ns`` and ``duration_ns`` in ns from the session start, ``orders`` how many."""

    policy: Policy
    side: int
    start_ns: int
    duration_ns: int
    orders: int


class Execution:
    """How one order of an injection trades: one behaviour family per subclass."""

    def send(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> Steps:
        """Trade one order of ``qty`` contracts of contract ``c`` (chain index) on ``side``
        (BUY/SELL), with condition bits ``extra`` added; a SimPy process part, so a
        style may wait between its children. Prints it negotiates go to ``inj.made``."""
        inj.made += self.trade(inj, c, side, qty, extra)
        yield from ()

    def trade(self, inj: Injection, c: int, side: int, qty: int, extra: int) -> list[Printed]:
        """Trade one order at once (see :meth:`send`); returns the prints it negotiated."""
        raise NotImplementedError


class Injection:
    """One scenario acting in one shard: the plain schedule, orders evenly spread.

    Args:
        desk: the shard's option desk (stock context, chain, venues).
        cfg: the run config's entry (name, time, overrides).
        index: its position in the run's scenario list (the ``cause`` of what it does).
        start_ns: its start, ns from the session start.
        execution: how each of its orders trades.
        policy: the catalog entry's policy.
    Raises:
        ConfigError: a contract named in ``cfg.contracts`` is not listed that day.
    """

    def __init__(self, desk: OptionDesk, cfg: ScenarioInjection, index: int, start_ns: int,
                 execution: Execution, policy: Policy) -> None:
        self.desk = desk
        self.cfg = cfg
        self.index = index
        self.execution = execution
        side = cfg.side or policy.side
        self.settings = Resolved(
            policy, BUY if side == "buy" else SELL, start_ns,
            int((cfg.duration_s or policy.duration_s) * NS_PER_S),
            policy.orders_at(cfg.intensity))
        seed = desk.ctx.config.seed
        self.draws = Draws(stream(seed, desk.ctx.symbol.symbol, "scenario", cfg.scenario_id()))
        self.agent = desk.ctx.ledger.register(f"scenario-agent-{index}")
        self.explicit = [self._listed(c) for c in cfg.contracts or []]
        self.anchor_mid: float | None = None  # the stock's mid (cents) as its options trade
        self.made: list[Printed] = []  # the negotiated option prints its orders made

    def _listed(self, contract_id: str) -> int:
        chain = self.desk.chain
        try:
            wanted = parse_contract_id(contract_id)
        except ValueError as err:
            raise ConfigError(f"scenario {self.cfg.scenario_id()} contracts: {err}") from None
        for i, c in enumerate(chain.contracts):
            if c == wanted:
                return i
        raise ConfigError(f"scenario {self.cfg.scenario_id()} contracts: {contract_id} is not "
                          f"listed on {chain.today}; pick a listed strike and expiry")

    @contextmanager
    def acting(self) -> Iterator[None]:
        """Everything the tapes write inside the block is caused by this scenario."""
        with caused_by(self.index, self.desk.ctx.venues, self.desk.venues):
            yield

    # --- the schedule ----------------------------------------------------------
    def process(self) -> Steps:
        """The SimPy process: wait for the start, prepare, send the orders, follow up."""
        env = self.desk.ctx.env
        s = self.settings
        yield env.timeout(max(s.start_ns - env.now, 0))
        yield from self.arrive()
        self.desk.sync(env.now)
        contracts = self._contracts()
        yield from self.prepare(contracts)
        side = self.direction(s.side)
        venues = self.desk.ctx.venues
        self.anchor_mid = venues.mid() if venues.two_sided() else None
        p = s.policy
        extra = event_condition(p.event_days) if p.event_days is not None else 0
        gap = s.duration_ns // s.orders
        for k in range(s.orders):
            if k:
                yield env.timeout(max(1, int(gap * (0.5 + self.draws.uniform()))))
            self.desk.sync(env.now)
            order_side = -side if p.alternate and k % 2 else side
            c = contracts[k % len(contracts)]
            yield from self.execution.send(self, c, order_side, self.lots(), extra)
        yield from self.follow(side)

    def arrive(self) -> Steps:
        """Anything to wait for after the start time, before acting (nothing here)."""
        yield from ()

    def prepare(self, contracts: list[int]) -> Steps:
        """Anything to do before the first order (nothing here)."""
        yield from ()

    def direction(self, side: int) -> int:
        """The side its orders take: the configured one here."""
        return side

    def follow(self, side: int) -> Steps:
        """Anything to do after the last order (nothing here)."""
        yield from ()

    # --- contracts and sizes -----------------------------------------------------
    def _contracts(self) -> list[int]:
        """The contracts this injection trades, in order of use."""
        if self.explicit:
            return self.explicit
        desk, p = self.desk, self.settings.policy
        e = self._expiry(p.days)
        rights = [True, False] if p.right == "both" else [p.right == "call"]
        out = []
        for call in rights:
            z = p.z if call else -p.z
            if p.structure == "straddle":
                out += [desk.contract(e, True, 0.0), desk.contract(e, False, 0.0)]
                break
            out.append(desk.contract(e, call, z))
        return out

    def _expiry(self, days: tuple[int, int]) -> int:
        """The first listed expiry ``days[0]``..``days[1]`` calendar days out, else the
        nearest to ``days[0]``."""
        dte = self.desk.dte
        inside = [e for e, d in enumerate(dte) if days[0] <= d <= days[1]]
        if inside:
            return inside[0]
        return int(np.argmin([abs(d - days[0]) for d in dte]))

    def lots(self) -> int:
        """One order's size in contracts: uniform over the policy's ``lots`` range."""
        low, high = self.settings.policy.lots
        return low + self.draws.below(high - low + 1)

    def parent(self) -> int:
        """A fresh parent order id (a package's legs, a sweep's children share one)."""
        return self.desk.parent()

    def maker_slot(self) -> tuple[int, int]:
        """A maker slot drawn uniformly: (maker index, venue index) to trade against."""
        mk = self.desk.venues.makers
        slot = self.draws.below(mk.n_slots)
        return int(mk.slot_maker[slot]), int(mk.slot_venue[slot])
