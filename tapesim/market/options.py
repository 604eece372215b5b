"""The option side of a shard: the chain, its makers, venues, flow and starting positions.

``OptionSide.build`` lists the chain the session starts with, seeds yesterday's
open interest (held long by the public, short by option writers), sets up the
makers, venues and flow populations, and hands back what the shard needs: the
populations to start, a ``sync`` to run before each option action, and what the
run writer needs to name contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.option_flow import (
    ComplexOrders,
    Hedgers,
    OptionDesk,
    RetailOptions,
    Sweeps,
    replayed_volume,
)
from tapesim.agents.option_makers import OptionMakers
from tapesim.agents.option_quotes import Chain, list_chain
from tapesim.sim.calendar import close_time, epoch_ms
from tapesim.sim.rng import Draws, stream
from tapesim.venues.chains import ListingPolicy, mpv_of
from tapesim.venues.ledger import OptionLedger
from tapesim.venues.option_tape import OptionTape
from tapesim.venues.options import OptionVenues

PUBLIC_LONG_SHARES = (("retail-options", 0.6), ("institutional-options", 0.4))
WRITERS = "option-writers"


@dataclass
class OptionSide:
    """One shard's options market: the chain listed at the start of the session, its
    OPRA tape, makers, venues and the desk option orders go through, the flow
    populations to start, each contract's open interest at the start (int64 contracts,
    indexed like the chain) and the ``sync`` to run before each option action."""

    chain: Chain
    tape: OptionTape
    makers: OptionMakers
    venues: OptionVenues
    desk: OptionDesk  # how option orders reach the venues (flow and injected agents)
    populations: list
    start_oi: np.ndarray
    desk_sync: Callable[[int], None]  # stock then options, before each option action

    @classmethod
    def build(cls, ctx: MarketContext, spool: Path, draws_for: Callable[..., Draws],
              sync_stock: Callable[[int], None]) -> OptionSide:
        """The options market of ``ctx``'s symbol (see the module docstring).

        Args:
            ctx: the shard's market context (symbol, session, config, stock venues).
            spool: the options tape's spool file.
            draws_for: the shard's named random streams.
            sync_stock: brings the stock up to a time (ns since the open); the desk's
                sync runs it, then the options venues.

        Returns:
            The side, with yesterday's open interest held long 60/40 by the retail and
            institutional option agents and short by the option writers. The interest
            is the positions the session's own flow builds: ``options.flow.
            open_interest_days`` sessions of its contract choices with their sizes
            (:func:`tapesim.agents.option_flow.replayed_volume`), so it sits where the flow
            trades (a strike nobody trades holds none) and a contract traded steadily
            turns over about 1 / ``open_interest_days`` of it a day, as real front
            near-the-money contracts turn over 10-50% (the realism targets' volume / open
            interest), whatever option volume the profile caps the flow at.

        Raises:
            ValueError: the root is index-like but the profile's ``is_etf`` is false
                (:func:`tapesim.venues.chains.check_listing`).
        """
        cfg = ctx.config.options
        sym = ctx.symbol
        session = ctx.session
        policy = ListingPolicy.of(cfg)
        chain = list_chain(sym.symbol, session.date, sym.price, sym.annual_vol, sym.is_etf,
                           policy, mpv_of(sym.symbol, cfg.penny_classes))
        tape = OptionTape(spool, session.open_ms, cfg.opra_latency_ms,
                          stream(ctx.config.seed, sym.symbol, "feed", "opra"), chain.size)
        ledger = OptionLedger(chain.size)
        makers = OptionMakers(ctx, chain, cfg, len(cfg.venues), draws_for, ledger)
        venues = OptionVenues(makers, tape, ctx.venues.tape, ledger, session.start_ns)

        def sync(now: int) -> None:
            sync_stock(now)
            venues.sync(now)

        desk = OptionDesk(ctx, chain, venues, cfg.flow, sync)
        populations = [RetailOptions(desk, draws_for), ComplexOrders(desk, draws_for),
                       Sweeps(desk, draws_for), Hedgers(desk, draws_for)]
        start_oi = replayed_volume(populations, draws_for, cfg.flow.open_interest_days)
        side = cls(chain, tape, makers, venues, desk, populations, start_oi, sync)
        side._seed_positions(ctx)
        return side

    def _seed_positions(self, ctx: MarketContext) -> None:
        ledger = self.venues.ledger
        names = ctx.ledger.names
        writers = ledger.account(ctx.ledger.register(WRITERS))
        held = np.zeros_like(self.start_oi)
        for i, (name, share) in enumerate(PUBLIC_LONG_SHARES):
            last = i == len(PUBLIC_LONG_SHARES) - 1
            part = self.start_oi - held if last else np.rint(self.start_oi * share).astype(np.int64)
            ledger.account(names.index(name))[:] += part
            held += part
        writers -= self.start_oi

    def close(self, end_ns: int) -> None:
        """End the session: the options venues publish every grid step before ``end_ns``
        (ns since the open, the window's end) and the tape flushes and closes its spool."""
        self.venues.sync(end_ns - 1)
        self.tape.close()

    def contract_ids(self, style: str) -> tuple[str, ...]:
        """Every listed contract's id in chain order, in ``style`` (``options.contract_ids``:
        ``"dashed"`` or ``"occ"``; anything else gives OCC ids)."""
        return tuple(c.format(style) for c in self.chain.contracts)  # type: ignore[arg-type]

    def expiry_ms(self) -> tuple[int, ...]:
        """Every listed contract's expiry in chain order: the expiry date's close (16:00
        New York, 13:00 on early-close days) in epoch ms UTC."""
        by_date = {d: epoch_ms(d, close_time(d)) for d in self.chain.expiry_dates}
        return tuple(by_date[c.expiry] for c in self.chain.contracts)
