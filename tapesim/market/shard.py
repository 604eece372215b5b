"""The model of one shard: a stock, its venues and the agents that trade it.

``simulate_equity_shard`` builds the latent path, the venues and every agent
population, starts one SimPy process per trader population in a fixed order, runs
the session window and spools the shard's events. It is a pure function of (config,
symbol): the same arguments give the same spool file in any process.

The market makers are not a SimPy process: their quotes are a function of the
latent step and their state, which the venues consolidate lazily. Before each
trader arrival the venues catch up (``EquityVenues.sync``) with every step since
the last one, writing the NBBO changes in between in time order; the last catch-up
runs at the end of the window. A step at the same nanosecond as an arrival counts
as before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import simpy

from tapesim.agents.context import Impact, MarketContext
from tapesim.agents.institutional import InstitutionalDesk
from tapesim.agents.latent import MarketState, activity_path, latent_path, market_state
from tapesim.agents.market_maker import MakerDesk
from tapesim.agents.retail import RetailFlow
from tapesim.agents.traders import MomentumTraders, NoiseTraders
from tapesim.config.run import RunConfig, VolatilityRegime
from tapesim.market.options import OptionSide
from tapesim.sim.calendar import NS_PER_S
from tapesim.sim.population import arrivals, ticker
from tapesim.sim.rng import Draws, stream
from tapesim.venues.equity import EquityVenues
from tapesim.venues.ledger import Ledger
from tapesim.venues.tape import Tape

PROGRESS_EVERY_NS = 60 * NS_PER_S


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
    agent_names: tuple[str, ...]
    conservation: dict[str, int]  # per quantity, its sum across agents: all zero
    contracts: tuple[str, ...] = ()
    calls: tuple[bool, ...] = ()
    strikes: tuple[float, ...] = ()
    expiry_ms: tuple[int, ...] = ()
    open_interest: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # (start, end)


def simulate_equity_shard(
    config: RunConfig,
    symbol: str,
    spool: Path,
    progress: Callable[[str, int], None] | None = None,
) -> ShardResult:
    sym = next(s for s in config.symbols if s.symbol == symbol)
    session = config.session.session()
    seed = config.seed
    lat = config.latent
    n_steps = -(-session.length_ns // (lat.step_ms * 1_000_000))
    market = _market_state(seed, lat, n_steps, session.length_ns / (60 * NS_PER_S))
    latent = latent_path(seed, sym, lat, market)

    def draws_for(*names: str) -> Draws:
        return Draws(stream(seed, symbol, *names))

    env = simpy.Environment(initial_time=session.start_ns)
    ledger = Ledger()
    tape = Tape(spool, session.open_ms, config.venues.sip_latency_ms, draws_for("feed", "sip"))
    impact = Impact(config.impact.bps_per_sqrt_lot * 1e-4, config.impact.decay_minutes * 60e9,
                    last_ns=session.start_ns)
    lit, trf = list(config.venues.lit), list(config.venues.trf)
    venues = EquityVenues(env, len(lit), tape, ledger, impact.on_trade)
    activity = activity_path(latent, market.envelope, lat.activity_vol_elasticity)
    ctx = MarketContext(env, session, config, sym, latent, activity.tolist(), venues,
                        ledger, impact, lit, trf)

    makers = MakerDesk(ctx, draws_for)
    retail = RetailFlow(ctx, draws_for)
    desk = InstitutionalDesk(ctx, draws_for, session.end_ns)
    noise = NoiseTraders(ctx, draws_for)
    momentum = MomentumTraders(ctx, draws_for)
    venues.attach(makers)
    options = (OptionSide.build(ctx, spool.with_suffix(".options"), draws_for, venues.sync)
               if sym.options else None)

    end = session.end_ns
    sync = venues.sync
    for population in (retail, desk, noise, momentum):
        env.process(arrivals(env, draws_for("population", type(population).__name__),
                             population.rate, end, population.act, sync))
    if options is not None:
        option_sync = options.desk_sync
        for population in options.populations:
            env.process(arrivals(env, draws_for("population", type(population).__name__),
                                 population.rate, end, population.act, option_sync))
        for injection in options.injections:
            env.process(injection.process())
    if progress is not None:
        env.process(ticker(env, PROGRESS_EVERY_NS, end, partial(progress, symbol)))
    env.run(until=end)
    sync(end - 1)  # the makers' quote changes after the last trader action
    tape.close()
    if progress is not None:
        progress(symbol, end)
    shares, cash = ledger.totals()
    counts = {"equity_quote": tape.quote_count, "equity_print": tape.print_count}
    conservation = {"shares": shares, "cash_cents": cash}
    if options is None:
        return ShardResult(symbol, str(spool), None, counts, tuple(ledger.names), conservation)
    options.close(end)
    contracts, premium = options.venues.ledger.totals()
    counts.update(option_nbbo=options.tape.nbbo_count, option_print=options.tape.print_count)
    conservation.update(contracts=contracts, premium_cents=premium)
    chain = options.chain
    return ShardResult(
        symbol, str(spool), str(spool.with_suffix(".options")), counts, tuple(ledger.names),
        conservation, options.contract_ids(config.options.contract_ids),
        tuple(chain.is_call.tolist()), tuple(chain.strike.tolist()), options.expiry_ms(),
        (tuple(options.start_oi.tolist()), tuple(options.venues.ledger.open_interest().tolist())))
