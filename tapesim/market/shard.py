"""The model of one shard: a stock, its venues and the agents that trade it.

:class:`ShardModel` owns what one underlying's market is made of (Mesa's
Model/agents split): the latent path, the venues and their tapes, the ledger, and a
registry of agent populations whose start order is data on the model
(:attr:`ShardModel.populations`, then :attr:`ShardModel.agents`). Building a model
draws nothing that depends on who runs it, so a shard is a pure function of
(config, symbol) and the same arguments give the same spool file in any process.

The market makers are not a SimPy process: their quotes are a function of the
latent step and their state, which the venues consolidate lazily. Before each
trader arrival the venues catch up (``EquityVenues.sync``) with every step since
the last one, writing the NBBO changes in between in time order; the last catch-up
runs at the end of the window. A step at the same nanosecond as an arrival counts
as before it.

Layers above the market add their own agents before :meth:`ShardModel.run` (the
scenarios' injected agents, through :meth:`ShardModel.add_agent`); the model never
imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Protocol

import simpy

from tapesim.agents.context import Impact, MarketContext
from tapesim.agents.institutional import InstitutionalDesk
from tapesim.agents.latent import MarketState, activity_path, latent_path, market_state
from tapesim.agents.market_maker import MakerDesk
from tapesim.agents.retail import RetailFlow
from tapesim.agents.traders import MomentumTraders, NoiseTraders
from tapesim.config.run import RunConfig, VolatilityRegime
from tapesim.events.contracts import ShardListing
from tapesim.market.options import OptionSide
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.population import Excitation, arrivals, ticker
from tapesim.sim.rng import Draws, stream
from tapesim.venues.equity import EquityVenues
from tapesim.venues.ledger import Ledger
from tapesim.venues.tape import Tape

PROGRESS_EVERY_NS = 60 * NS_PER_S


def option_spool(spool: Path) -> Path:
    """Where a shard whose stock spools to ``spool`` spools its option chain's events."""
    return spool.with_suffix(".options")


class Population(Protocol):
    """A class of traders acting at Poisson arrivals (`tapesim.sim.population.arrivals`)."""

    def rate(self, now_ns: int) -> float:
        """Arrivals per second at ``now_ns`` (ns since the open); <= 0 ends the process."""
        ...

    def act(self) -> None:
        """What one arriving member does, on the market as it is now."""
        ...


@dataclass(frozen=True)
class Registered:
    """A population in the model's registry: started in registry order.

    ``sync(now_ns)`` runs before each of its arrivals (the venues catching up with
    the makers' quotes); the arrival stream is keyed ``(symbol, "population", name)``;
    with ``excitation`` its arrivals excite themselves (a Hawkes process).
    """

    name: str
    population: Population
    sync: Callable[[int], None]
    excitation: Excitation | None = None


@lru_cache(maxsize=2)
def _market_state(seed: int, lat: VolatilityRegime, n_steps: int, minutes: float) -> MarketState:
    """The market-wide paths, shared by the shards one worker runs (read-only)."""
    return market_state(seed, lat, n_steps, minutes)


@dataclass(frozen=True)
class ShardResult:
    """What a finished shard hands back to the run writer."""

    symbol: str
    spool: str
    option_spool: str | None
    counts: dict[str, int]  # events per kind name
    listing: ShardListing
    conservation: dict[str, int]  # per quantity, its sum across agents: all zero
    open_interest: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # (start, end)


class ShardModel:
    """One underlying's market for one session window: build it, add agents, run it.

    Args:
        config: the resolved run config.
        symbol: one of ``config.symbols`` (its ``symbol``).
        spool: the Arrow IPC file the stock's events go to; an option chain spools
            beside it with the suffix ``.options``.

    Raises:
        StopIteration: ``symbol`` is not in the config.
        ConfigError: an option chain cannot be listed for the session.
    """

    def __init__(self, config: RunConfig, symbol: str, spool: Path) -> None:
        self.config = config
        self.symbol = symbol
        self.spool = spool
        sym = next(s for s in config.symbols if s.symbol == symbol)
        session = config.session.session()
        self.session = session
        lat = config.latent
        n_steps = -(-session.length_ns // (lat.step_ms * 1_000_000))
        market = _market_state(config.seed, lat, n_steps, session.length_ns / (60 * NS_PER_S))
        latent = latent_path(config.seed, sym, lat, market)

        self.env = simpy.Environment(initial_time=session.start_ns)
        self.ledger = Ledger()
        self.tape = Tape(spool, session.open_ms, config.venues.sip_latency_ms,
                         self.draws_for("feed", "sip"))
        impact = Impact(config.impact.bps_per_sqrt_lot * 1e-4, config.impact.decay_minutes * 60e9,
                        last_ns=session.start_ns)
        lit, trf = list(config.venues.lit), list(config.venues.trf)
        self.venues = EquityVenues(self.env, len(lit), self.tape, self.ledger, impact.on_trade)
        activity = activity_path(latent, market.envelope, lat.activity_vol_elasticity)
        self.ctx = MarketContext(self.env, session, config, sym, latent, activity.tolist(),
                                 self.venues, self.ledger, impact, lit, trf, market.envelope)

        makers = MakerDesk(self.ctx, self.draws_for)
        sync = self.venues.sync
        flow = config.arrivals
        excite = Excitation(flow.branching, tuple(ms * 1e6 for ms in flow.reaction_ms),
                            flow.weights())
        self.populations: list[Registered] = [
            Registered(type(p).__name__, p, sync, e) for p, e in (
                (RetailFlow(self.ctx, self.draws_for), excite),
                (InstitutionalDesk(self.ctx, self.draws_for, session.end_ns), None),
                (NoiseTraders(self.ctx, self.draws_for), excite),
                (MomentumTraders(self.ctx, self.draws_for), None))]
        self.venues.attach(makers)
        self.options: OptionSide | None = None
        if sym.options:
            self.options = OptionSide.build(self.ctx, option_spool(spool),
                                            self.draws_for, sync)
            self.populations += [Registered(type(p).__name__, p, self.options.desk_sync)
                                 for p in self.options.populations]
        self.agents: list[Callable[[], Generator[simpy.Event, None, None]]] = []

    def draws_for(self, *names: str) -> Draws:
        """Scalar draws from this shard's stream ``(symbol, *names)``."""
        return Draws(stream(self.config.seed, self.symbol, *names))

    def add_agent(self, process: Callable[[], Generator[simpy.Event, None, None]]) -> None:
        """Register a free-standing agent process, started after the populations in
        registration order (the scenarios' injected agents)."""
        self.agents.append(process)

    def listing(self) -> ShardListing:
        """The names of this shard's agents and contracts, as its spool rows index them.

        Complete once the model is built and :meth:`add_agent`'s agents are added: every
        agent registers with the ledger when it is made, never while the shard runs.
        """
        names = tuple(self.ledger.names)
        options = self.options
        if options is None:
            return ShardListing(self.symbol, names)
        chain = options.chain
        return ShardListing(self.symbol, names,
                            options.contract_ids(self.config.options.contract_ids),
                            tuple(chain.is_call.tolist()), tuple(chain.strike.tolist()),
                            options.expiry_ms())

    def run(self, progress: Callable[[str, int], None] | None = None) -> ShardResult:
        """Start every registered population and agent, run the window, close the spools.

        ``progress(symbol, ns)`` is called every simulated minute and at the end.
        """
        self.start(progress)
        self.advance(self.session.end_ns)
        return self.finish(progress)

    def start(self, progress: Callable[[str, int], None] | None = None) -> None:
        """Start every registered population and agent (and the progress ticker, calling
        ``progress(symbol, ns)`` every simulated minute); nothing runs until
        :meth:`advance`."""
        env, end = self.env, self.session.end_ns
        for reg in self.populations:
            env.process(arrivals(env, self.draws_for("population", reg.name),
                                 reg.population.rate, end, reg.population.act, reg.sync,
                                 reg.excitation))
        for agent in self.agents:
            env.process(agent())
        if progress is not None:
            env.process(ticker(env, PROGRESS_EVERY_NS, end, partial(progress, self.symbol)))

    def advance(self, until_ns: int) -> None:
        """Run the shard up to (not including) ``until_ns``, at most the window's end.

        Running a window in several calls writes the same spool bytes as in one: each
        call only adds SimPy's stop event, which changes no other event's order.
        """
        until = min(until_ns, self.session.end_ns)
        if until > self.env.now:
            self.env.run(until=until)

    def finish(self, progress: Callable[[str, int], None] | None = None) -> ShardResult:
        """Close the window (the makers' last quote changes, the spools) after
        :meth:`advance` reached its end, and describe the shard."""
        end = self.session.end_ns
        self.venues.sync(end - 1)  # the makers' quote changes after the last trader action
        self.tape.close()
        if progress is not None:
            progress(self.symbol, end)
        return self._result()

    def _result(self) -> ShardResult:
        shares, cash = self.ledger.totals()
        counts = {"equity_quote": self.tape.quote_count, "equity_print": self.tape.print_count}
        conservation = {"shares": shares, "cash_cents": cash}
        options, spool, listing = self.options, self.spool, self.listing()
        if options is None:
            return ShardResult(self.symbol, str(spool), None, counts, listing, conservation)
        options.close(self.session.end_ns)
        contracts, premium = options.venues.ledger.totals()
        counts.update(option_nbbo=options.tape.nbbo_count, option_print=options.tape.print_count)
        conservation.update(contracts=contracts, premium_cents=premium)
        return ShardResult(
            self.symbol, str(spool), str(option_spool(spool)), counts, listing,
            conservation,
            (tuple(options.start_oi.tolist()),
             tuple(options.venues.ledger.open_interest().tolist())))
