"""The injected agents: each acts out one catalog entry through the shard's venues.

An :class:`Injection` is one scenario in one shard. It registers its own agent,
waits (a SimPy process) until its start time, picks its contracts from the chain
listed that day, and sends its orders evenly over its duration: marketable orders
at the touch, ISO sweeps across venues, crosses near the mid, or packages. It never
writes an event itself; the venues print its fills like anyone else's. While it
acts, both tapes record its index as the *cause* of every event they write (its
prints, the makers' hedges its fills trigger, the quotes those move), which is how
labels find exactly the events it caused. Nothing it does happens before its start.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from tapesim.agents.option_flow import COMPLEX, FILL, ISO_SWEEP, SPREAD, OptionDesk
from tapesim.agents.option_quotes import tick_cents
from tapesim.config.options import ScenarioInjection
from tapesim.config.run import ConfigError
from tapesim.events.contracts import parse_contract_id
from tapesim.events.enrichment import CONDITION_BIT, event_condition
from tapesim.scenarios.catalog import CATALOG, Policy
from tapesim.sim.calendar import NS_PER_MS, NS_PER_S, epoch_ms
from tapesim.sim.rng import Draws, stream
from tapesim.venues.book import BUY, SELL
from tapesim.venues.feed.attribution import caused_by
from tapesim.venues.feed.freeze import FrozenFeed
from tapesim.venues.feed.reports import TradeReports
from tapesim.venues.feed.stuck import StuckQuote
from tapesim.venues.options import Printed

LATE, CANCEL, CORRECTION = (CONDITION_BIT[c] for c in ("LATE", "CANCEL", "CORRECTION"))
CONFIRM_BPS = 3.0
INFORMED_MOVE_BPS = 10.0  # the latent move an informed injection waits to trade ahead of
MAX_WAIT_S = 1800  # an informed stock follow trades on until the stock has moved this far


@dataclass(frozen=True)
class Resolved:
    """An injection's settings after the config's overrides."""

    policy: Policy
    side: int
    start_ns: int
    duration_ns: int
    orders: int


class Injection:
    """One scenario acting in one shard."""

    def __init__(self, desk: OptionDesk, cfg: ScenarioInjection, index: int,
                 start_ns: int) -> None:
        self.desk = desk
        self.cfg = cfg
        self.index = index
        spec = CATALOG[cfg.name]
        policy = spec.policy
        side = cfg.side or policy.side
        self.settings = Resolved(
            policy, BUY if side == "buy" else SELL, start_ns,
            int((cfg.duration_s or policy.duration_s) * NS_PER_S),
            max(1, round(policy.orders * cfg.intensity)))
        seed = desk.ctx.config.seed
        self.draws = Draws(stream(seed, desk.ctx.symbol.symbol, "scenario", cfg.scenario_id()))
        self.agent = desk.ctx.ledger.register(f"scenario-agent-{index}")
        self.explicit = [self._listed(c) for c in cfg.contracts or []]
        self.anchor_mid: float | None = None  # the stock's mid (cents) as its options trade
        self.made: list[Printed] = []  # the option prints its orders made

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
    def _acting(self) -> Iterator[None]:
        """Everything written while the agent acts is caused by this scenario (and the
        option prints it makes are kept, to report on later)."""
        with caused_by(self.index, self.desk.ctx.venues, self.desk.venues):
            yield

    # --- the schedule ----------------------------------------------------------
    def process(self) -> Generator[simpy.Event, None, None]:
        env = self.desk.ctx.env
        s = self.settings
        yield env.timeout(max(s.start_ns - env.now, 0))
        if s.policy.informed_s > 0:  # it knows a move is coming: it trades just before one
            yield env.timeout(self._wait_for_move())
        self.desk.sync(env.now)
        contracts = self._contracts()
        fault_ns = int(s.policy.fault_s * NS_PER_S)
        if s.policy.fault == "freeze":
            FrozenFeed.on(self.desk.venues).freeze(contracts, env.now + fault_ns)
            yield env.timeout(fault_ns // 2)
        elif s.policy.fault == "stick":
            self._stick(contracts[0], env.now + fault_ns)
        side = self._direction(s.side)
        venues = self.desk.ctx.venues
        self.anchor_mid = venues.mid() if venues.two_sided() else None
        gap = s.duration_ns // s.orders
        for k in range(s.orders):
            if k:
                yield env.timeout(max(1, int(gap * (0.5 + self.draws.uniform()))))
            self.desk.sync(env.now)
            order_side = -side if s.policy.alternate and k % 2 else side
            c = contracts[k % len(contracts)]
            yield from self._order(c, order_side, k)
        if s.policy.stock_follow_shares:
            yield from self._follow_in_stock(side)
        if s.policy.fault == "reports":
            yield env.timeout(fault_ns)
            self.desk.sync(env.now)
            self._reports()

    def _reports(self) -> None:
        """After the fact: a trade made at the first print's price reported LATE, the
        first print cancelled and the second corrected to half its size."""
        venues = self.desk.venues
        done = self.made
        if not done:
            return
        first = done[0]
        reports = TradeReports(venues)
        with self._acting():
            done.append(venues.cross(self.agent, first.contract, first.side, self._lots(),
                                     first.price, first.maker, first.venue, LATE,
                                     self._parent()))
            done.append(reports.cancel(first, CANCEL))
            if len(done) > 1:
                reports.correct(done[1], max(done[1].qty // 2, 1), CORRECTION)

    def _stick(self, c: int, until_ns: int) -> None:
        """One venue's bid sticks at the offer (locked) or a tick through it (crossed)."""
        venues = self.desk.venues
        fault = StuckQuote.on(venues, partial(tick_cents, self.desk.chain))
        with self._acting():
            fault.stick(c, self.draws.below(venues.makers.n_slots), self.draws.below(2),
                        until_ns, self.index)

    def _wait_for_move(self) -> int:
        """Nanoseconds until the first moment (within ``MAX_WAIT_S``, and leaving its
        horizon before the window ends) after which the latent value moves at least
        ``INFORMED_MOVE_BPS`` over the policy's horizon; else the largest move's start."""
        latent = self.desk.ctx.latent
        env = self.desk.ctx.env
        horizon = max(int(self.settings.policy.informed_s * 1e9 // latent.step_ns), 1)
        first = latent.index(env.now)
        room = self.desk.ctx.session.end_ns - int(self.settings.policy.informed_s * NS_PER_S)
        last = min(latent.index(min(env.now + MAX_WAIT_S * NS_PER_S, room)),
                   latent.value.size - 1 - horizon)
        if last <= first:
            return 0
        log_v = np.log(latent.value[first:last + horizon + 1])
        moves = np.abs(log_v[horizon:] - log_v[:-horizon]) * 1e4
        hits = np.flatnonzero(moves >= INFORMED_MOVE_BPS)
        step = int(hits[0]) if hits.size else int(np.argmax(moves))
        return max((first + step) * latent.step_ns - env.now, 0)

    def _direction(self, side: int) -> int:
        """The informed policies look ahead in the latent path and trade its way."""
        p = self.settings.policy
        if p.informed_s <= 0:
            return side
        latent = self.desk.ctx.latent
        now = self.desk.ctx.env.now
        later = latent.index(now + int(p.informed_s * NS_PER_S))
        return BUY if latent.value[later] >= latent.value[latent.index(now)] else SELL

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
        dte = self.desk.dte
        inside = [e for e, d in enumerate(dte) if days[0] <= d <= days[1]]
        if inside:
            return inside[0]
        return int(np.argmin([abs(d - days[0]) for d in dte]))

    # --- one order -------------------------------------------------------------
    def _lots(self) -> int:
        low, high = self.settings.policy.lots
        return low + self.draws.below(high - low + 1)

    def _order(self, c: int, side: int, k: int) -> Generator[simpy.Event, None, None]:
        desk, p = self.desk, self.settings.policy
        venues = desk.venues
        qty = self._lots()
        extra = event_condition(p.event_days) if p.event_days is not None else 0
        if p.structure in ("vertical", "straddle") and p.style == "mid":
            self._package(c, side, qty, extra)
            return
        if p.style == "sweep":  # children spread over time: cause set per child only
            yield from self.desk.sweep(self.agent, self.draws, c, side, qty, ISO_SWEEP | extra,
                                       self._parent(), levels=4, acting=self._acting)
            return
        with self._acting():
            if p.style in ("mid", "stale-mid"):
                self._cross_mid(c, side, qty, FILL | extra)
            elif p.style == "ask-block":  # one outsized print at the touch, against a maker
                nb = venues.nbbo
                touch = int(nb.nbo[c]) if side == BUY else int(nb.nbb[c])
                slot = self.draws.below(venues.makers.n_slots)
                self.made.append(venues.cross(
                    self.agent, c, side, qty, touch, int(venues.makers.slot_maker[slot]),
                    int(venues.makers.slot_venue[slot]), FILL | extra, self._parent()))
            else:
                nb = venues.nbbo
                touch = int(nb.nbo[c]) if side == BUY else int(nb.nbb[c])
                if touch > 0:
                    venues.take(self.agent, c, side, qty, touch, FILL | extra)

    def _cross_mid(self, c: int, side: int, qty: int, conditions: int) -> None:
        """A print at the true mid against a maker (the venues' own quotes, not the feed)."""
        venues = self.desk.venues
        s = venues.slots
        live_b = s.bid[:, c][s.bid_size[:, c] > 0]
        live_a = s.ask[:, c][s.ask_size[:, c] > 0]
        if live_a.size == 0:
            return
        bid = int(live_b.max()) if live_b.size else 0
        mid = (bid + int(live_a.min())) / 2.0
        tick = self.desk.tick(int(mid))
        price = max(round(mid / tick) * tick, tick)
        slot = self.draws.below(venues.makers.n_slots)
        self.made.append(venues.cross(
            self.agent, c, side, qty, price, int(venues.makers.slot_maker[slot]),
            int(venues.makers.slot_venue[slot]), conditions, self._parent()))

    def _package(self, c: int, side: int, qty: int, extra: int) -> None:
        """A vertical (c and a strike further out) or a straddle, each leg at its mid."""
        desk, p = self.desk, self.settings.policy
        chain = desk.chain
        if p.structure == "straddle":
            legs = [(desk.contract(int(chain.expiry_index[c]), True, 0.0), side),
                    (desk.contract(int(chain.expiry_index[c]), False, 0.0), side)]
            conditions = COMPLEX | extra
        else:
            call = bool(chain.is_call[c])
            far_z = p.z + 0.8
            far = desk.contract(int(chain.expiry_index[c]), call, far_z if call else -far_z)
            legs = [(c, side), (far, -side)] if far != c else [(c, side)]
            conditions = COMPLEX | SPREAD | extra
        parent = self._parent()
        with self._acting():
            for leg, leg_side in legs:
                slot = self.draws.below(desk.venues.makers.n_slots)
                mk = desk.venues.makers
                self.made.append(desk.venues.cross(
                    self.agent, leg, leg_side, qty, desk.mid_price(leg),
                    int(mk.slot_maker[slot]), int(mk.slot_venue[slot]), conditions, parent))

    def _follow_in_stock(self, side: int) -> Generator[simpy.Event, None, None]:
        """Informed stock trading after the options, in child orders a couple of seconds
        apart: at least ``stock_follow_shares``, and on (up to four times as much) until
        the stock stands ``CONFIRM_BPS`` the flow's way from where the options traded."""
        desk = self.desk
        venues = desk.ctx.venues
        planned = self.settings.policy.stock_follow_shares
        child = max(100, planned // 10)
        traded = 0
        while traded < planned or (not self._confirmed(side) and traded < 4 * planned):
            yield desk.ctx.env.timeout(int(1.5 * NS_PER_S + self.draws.uniform() * NS_PER_S))
            desk.sync(desk.ctx.env.now)
            if not venues.two_sided():
                continue
            spread = venues.nbo - venues.nbb
            limit = venues.nbo + 5 * spread if side == BUY else max(venues.nbb - 5 * spread, 1)
            with self._acting():
                traded += max(venues.take(self.agent, side, child, limit), 1)

    def _confirmed(self, side: int) -> bool:
        venues = self.desk.ctx.venues
        if self.anchor_mid is None or not venues.two_sided():
            return False
        move = (venues.mid() - self.anchor_mid) / self.anchor_mid * 1e4
        return move * side >= CONFIRM_BPS

    def _parent(self) -> int:
        return self.desk.parent()


def injections_for(desk: OptionDesk, scenarios: list[ScenarioInjection]) -> list[Injection]:
    """This shard's injections (index = position in the run's scenario list)."""
    session = desk.ctx.session
    optioned = [s.symbol for s in desk.ctx.config.symbols if s.options]
    out = []
    for i, sc in enumerate(scenarios):
        target = sc.underlying or (optioned[0] if optioned else None)
        if target != desk.ctx.symbol.symbol:
            continue
        start_ns = (epoch_ms(session.date, sc.at) - session.open_ms) * NS_PER_MS
        out.append(Injection(desk, sc, i, start_ns))
    return out

