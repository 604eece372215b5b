"""Options market makers: whole-chain quotes on several venues, inventory skew, delta hedges.

Policy. Every maker values the chain from the same latent vol surface around the
stock's fair value (the latent value moved by recent impact, as the equity makers
see it) and quotes it through :func:`tapesim.agents.option_quotes.quote_chain`.
Each maker shows that quote on ``venues_per_maker`` venues, a *slot* per (maker,
venue), and shades it per contract:

    bid = base bid - (extra + skew) ticks,   ask = base ask + (extra - skew) ticks

  extra  0..extra_ticks, fixed per slot and contract: some makers sit behind the inside
  skew   the maker's inventory in the contract / skew_lots, capped at 2 ticks: a long
         maker lowers both sides to sell more and buy less

and a bid that would lock or cross another slot's offer steps down below it (makers
do not post marketable quotes), so the consolidated quote is never locked or crossed.
Where the base quote has no bid (a far wing, or a value below the maker's edge) no
slot bids, whatever its skew.

Sizes are the base displayed size (largest at the money) times a fixed per-slot
factor. A fill depletes a slot's displayed size; as the next order arrives for the
contract every slot showing it re-posts a fresh size (base x slot factor x U(0.6,
1.4), at least one lot), prices unchanged, and a re-post that would leave the NBBO
as published shows the best offer one lot larger, so the order meets a freshly
published quote (:meth:`OptionMakers.repost`).

Positions. A maker's contracts are its account in the chain's
:class:`tapesim.venues.ledger.OptionLedger`, booked by the venues at each print
(the one position store; the makers keep no copy). After every fill a maker adds
the contract's delta to its net delta and, once that plus its stock position passes
``hedge_shares``, trades the stock on the lit venues to flatten it: a routed
marketable order limited to the touch, so it takes the size displayed at the NBBO
and never sweeps the book; what it leaves waits for the next fill.

Cadence. Contracts near the money and expiry (the *active* set) are repriced on a
``requote_ms`` grid; the rest every ``slow_requote_s`` (at the first step of every
``slow_every``-th block, and as a contract leaves the active set). A slow quote must
hold until the next: each side is widened by the most the contract's value can move
with the stock meanwhile, |delta| B + gamma B^2 / 2 for a stock move of B =
``SLOW_MOVE_SDS`` standard deviations of the stock over ``slow_requote_s`` at the
current volatility (a deep in-the-money LEAPS quotes dollars wide, a far wing barely
wider), as real makers quote far-dated series wide and requote them rarely. Prices for a block of
``block_steps`` grid steps come from one vectorised pass (:meth:`OptionMakers.block`):
values and greeks at the block's start, the stock's fair path over the block and a
second-order expansion (delta, gamma, and theta interpolated across the block). A
maker requotes an expiry only once the value of one of its contracts has moved by
``requote_vol_points`` of the expiry's largest vega (the at-the-money bound
S sqrt(t) / sqrt(2 pi), at least a cent) since it last quoted it, and widths are set
once per block, so quotes do not flicker with every cent the stock moves. So the
fast quotes' mids are within that threshold of the surface's arbitrage-free values,
and the slow quotes' bids and asks keep bracketing theirs as the stock moves: no
vertical, butterfly or conversion can be traded for a profit at any instant, not only
after a full requote. The venues apply a
block's steps as time reaches them and publish only the quotes that change after
rounding (see :mod:`tapesim.venues.options`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.option_quotes import (
    Chain,
    QuoteParams,
    moneyness_z,
    open_factor,
    quote_chain,
    quote_sizes,
    t_years_at,
)
from tapesim.agents.pricing import greeks, price
from tapesim.agents.shading import ShadedQuotes, shade, slot_shading
from tapesim.agents.vol_surface import Roughness, implied_vols, symbol_surface
from tapesim.config.options import OptionChainProfile
from tapesim.sim.calendar import NS_PER_MS
from tapesim.sim.compiled import kernel
from tapesim.sim.rng import Draws, stream
from tapesim.venues.book import BUY, NO_ASK, SELL
from tapesim.venues.ledger import OptionLedger
from tapesim.venues.opra import OptionNBBOs, consolidate_one
from tapesim.venues.slots import QuoteBlock, SlotQuotes

MAX_SKEW_TICKS = 2
#: Standard deviations of the stock's move over ``slow_requote_s`` a slow quote is
#: widened for (a move beyond it within a minute is a jump, not diffusion).
SLOW_MOVE_SDS = 4.0
#: Trading seconds in a year (252 sessions of 6.5 hours), to scale annual volatility.
TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600


def _subset(chain: Chain, idx: np.ndarray) -> Chain:
    return dataclasses.replace(
        chain, strike=chain.strike[idx], strike_mills=chain.strike_mills[idx],
        expiry_index=chain.expiry_index[idx], days_to_expiry=chain.days_to_expiry[idx],
        t_years=chain.t_years[idx], is_call=chain.is_call[idx], contracts=[])


class OptionMakers:
    """The options market makers of one underlying (the venues' ``SlotMakers``).

    Args:
        ctx: the shard's market context (latent path, stock venues, share ledger).
        chain: the listed chain they quote.
        cfg: the chain's options profile (``cfg.makers`` sets the policy).
        n_venues: number of options venues.
        draws_for: the shard's named random streams (re-post sizes draw from
            ``("agent", "option-makers")``).
        ledger: the chain's contract ledger (the makers' positions are read from it).
    """

    def __init__(
        self, ctx: MarketContext, chain: Chain, cfg: OptionChainProfile, n_venues: int,
        draws_for: Callable[..., Draws], ledger: OptionLedger,
    ) -> None:
        self.ctx = ctx
        self.chain = chain
        self.cfg = cfg.makers
        self.ledger = ledger
        mk = cfg.makers
        sym = ctx.symbol
        self.params = QuoteParams.of(mk)
        self.surface, self.t_event = symbol_surface(sym, chain.index_like)
        self.roughness = Roughness.draw(ctx.config.seed, sym.symbol, self.surface.roughness)
        self.session_minutes = ctx.session.length_ns / 60e9
        gen = stream(ctx.config.seed, sym.symbol, "options", "makers")
        self.agents = [ctx.ledger.register(f"option-maker-{m}") for m in range(mk.makers)]
        per = min(mk.venues_per_maker, n_venues)
        slot_maker, slot_venue = [], []
        for m in range(mk.makers):
            for v in np.sort(gen.choice(n_venues, size=per, replace=False)).tolist():
                slot_maker.append(m)
                slot_venue.append(v)
        self.slot_maker = np.array(slot_maker, dtype=np.int64)
        self.slot_venue = np.array(slot_venue, dtype=np.int64)
        n_slots, n = len(slot_maker), chain.size
        # Per (contract, slot), as the shading loop reads them (drawn per slot, contract).
        self.extra = np.ascontiguousarray(gen.integers(0, mk.extra_ticks + 1,
                                                       size=(n_slots, n)).T)
        self.size_factor = np.ascontiguousarray(gen.uniform(0.3, 1.0, size=(n_slots, n)).T)
        self.net_delta = np.zeros(mk.makers)  # shares of stock the option book is worth
        self.quoted_theo = np.full(n, np.nan)  # the value each contract was last quoted at
        self.shown_base = np.zeros(n, dtype=np.int64)  # displayed size before slot factors
        self.greeks = np.zeros((3, n))  # delta, gamma and spot of each contract's last valuation
        self.fast = np.empty(0, dtype=np.int64)  # the contracts on the fast grid
        self.draws = draws_for("agent", "option-makers")
        session = ctx.session
        self.step_ns = mk.requote_ms * NS_PER_MS  # the fast requote grid
        self.block_steps = mk.block_steps
        self.slow_every = max(1, round(mk.slow_requote_s * 1e9 / (self.step_ns * mk.block_steps)))
        self.first_step = -(-session.start_ns // self.step_ns)
        self.last_step = (session.end_ns - 1) // self.step_ns

    @property
    def root(self) -> str:
        """The chain's root."""
        return self.chain.root

    @property
    def n_slots(self) -> int:
        """Number of slots (maker, venue)."""
        return int(self.slot_maker.size)

    @property
    def n_contracts(self) -> int:
        """Number of listed contracts."""
        return self.chain.size

    # --- cadence -------------------------------------------------------------
    def due(self, now_ns: int) -> int:
        """The last grid step due at ``now_ns`` (ns since the open), capped at the
        session's last step."""
        return min(now_ns // self.step_ns, self.last_step)

    def block(self, k: int) -> QuoteBlock:
        """The quotes of up to ``block_steps`` grid steps from step ``k``: the active
        contracts (chosen at step ``k``) at every step; at the block's first step the
        contracts that have just left the active set and, in every ``slow_every``-th
        block, all the others, each quoted wide enough to hold until the next full
        requote (:meth:`quotes`, ``slow``)."""
        times = np.arange(k, min(k + self.block_steps, self.last_step + 1)) * self.step_ns
        spot = self.fair(self.ctx.latent.index(int(times[0])))
        idx = self.active(spot, self.minutes(int(times[0])))
        slots, nbbo = self.quotes(idx, times)
        slow_mask = np.zeros(self.chain.size, dtype=bool)  # what is requoted slow, as a mask
        if ((k - self.first_step) // self.block_steps) % self.slow_every == 0:
            slow_mask[:] = True
        else:  # the contracts the fast grid drops are requoted slow at once
            slow_mask[self.fast] = True
        slow_mask[idx] = False
        slow = np.flatnonzero(slow_mask)
        self.fast = idx
        slow_slots, slow_nbbo = self.quotes(slow, times[:1], slow=True) if slow.size else (
            None, None)
        return QuoteBlock(k, times, idx, slots, nbbo, slow, slow_slots, slow_nbbo)

    def slow_margin(self, spot: float, dlt: np.ndarray, gam: np.ndarray, j: int) -> np.ndarray:
        """Cents each side of a slow quote is widened by: the value's move, to second order,
        for a stock move of B = ``SLOW_MOVE_SDS`` x spot x annual vol x the latent vol
        ratio at step ``j`` x sqrt(``slow_requote_s`` / a trading year), i.e.
        (|delta| B + gamma B^2 / 2) x 100. ``dlt`` and ``gam`` per share, ``spot`` in
        dollars."""
        vol = self.ctx.symbol.annual_vol * float(self.ctx.latent.vol_ratio[j])
        move = SLOW_MOVE_SDS * spot * vol * np.sqrt(self.cfg.slow_requote_s
                                                    / TRADING_SECONDS_PER_YEAR)
        return (np.abs(dlt) * move + 0.5 * gam * move * move) * 100.0

    def thresholds(self, spot: float, t_years: np.ndarray) -> np.ndarray:
        """The requote threshold in cents of contracts with ``t_years`` to expiry, spot in
        dollars: ``requote_vol_points`` of the largest vega any strike of the expiry can
        have (S sqrt(t) / sqrt(2 pi) per 1.00 of vol, x 100 cents), at least a cent. One
        threshold per expiry, so a deep in-the-money or far-wing contract is not requoted
        for every cent the stock moves while its expiry's at-the-money quote holds."""
        bound = spot * 100.0 * np.sqrt(t_years) / np.sqrt(2.0 * np.pi)
        return np.maximum(self.cfg.requote_vol_points / 100.0 * bound, 1.0)

    def repost(self, c: int, held: SlotQuotes, published: tuple[int, ...]) -> None:
        """Re-post displayed sizes on contract ``c`` as an order arrives for it.

        Args:
            c: the contract.
            held: the slot quotes in force, arrays [slot, contract]; ``c``'s sizes are
                re-posted in place (prices stay).
            published: the NBBO last published for ``c``: (nbb, nbo, nbb_size, nbo_size),
                cents and contracts.

        Every side shown gets a fresh size, one uniform draw per slot (:func:`_resize`);
        if the NBBO would stay as published, the best offer shows one lot more.
        """
        draw = self.draws.uniform
        u = np.array([draw() for _ in range(self.slot_maker.size)])  # one per slot, in order
        _resize(u, self.shown_base[c], self.size_factor, held.bid_size, held.ask_size, c)
        if consolidate_one(held.bid, held.ask, held.bid_size, held.ask_size, c) == published:
            ask_size = held.ask_size[:, c]
            ask_size[int(np.argmin(np.where(ask_size > 0, held.ask[:, c], NO_ASK)))] += 1

    # --- valuation -----------------------------------------------------------
    def fair(self, j: int) -> float:
        """The stock's fair value at latent step j, in dollars (as the equity makers see it)."""
        ctx = self.ctx
        return float(ctx.latent.value[j]) * (1.0 + ctx.impact.level)

    def minutes(self, now_ns: int) -> float:
        """Minutes since the regular open (simulation time 0)."""
        return now_ns / 60e9

    def active(self, spot: float, minutes: float) -> np.ndarray:
        """Indices of the contracts repriced on the fast grid: those near expiry that are
        near the money or in the money (an in-the-money value moves with the stock
        nearly one for one, so a slow requote would leave it stale against the rest)."""
        chain = self.chain
        t = t_years_at(chain, minutes, self.session_minutes)
        z = moneyness_z(chain, spot, t)
        in_money = np.where(chain.is_call, z < 0, z > 0)
        near = (np.abs(z) <= self.cfg.active_z) | in_money
        return np.flatnonzero(near & (chain.days_to_expiry <= self.cfg.active_days))

    def quotes(self, idx: np.ndarray, times_ns: np.ndarray,
               slow: bool = False) -> tuple[ShadedQuotes, OptionNBBOs]:
        """Every slot's quote for contracts ``idx`` at each time (one vectorised pass) and
        the NBBO they make; ``slow`` quotes (one time) to hold until the next full
        requote, each side widened by :meth:`slow_margin`."""
        ctx = self.ctx
        chain = _subset(self.chain, idx)
        steps = np.minimum(times_ns // ctx.latent.step_ns, ctx.latent.value.size - 1)
        j0 = int(steps[0])
        s0 = self.fair(j0)
        spots = ctx.latent.value[steps] * (1.0 + ctx.impact.level)
        m0, m1 = self.minutes(int(times_ns[0])), self.minutes(int(times_ns[-1]))
        t0 = t_years_at(chain, m0, self.session_minutes)
        t1 = t_years_at(chain, m1, self.session_minutes)
        vol_ratio = float(ctx.latent.vol_ratio[j0])
        iv = implied_vols(self.surface, vol_ratio, s0, chain.strike, t0, self.roughness,
                          self.t_event)
        value, dlt, gam, veg = greeks(s0, chain.strike, t0, iv, chain.is_call)
        theo0 = value * 100.0
        ds = (spots - s0)[:, None]
        self.greeks[0, idx], self.greeks[1, idx], self.greeks[2, idx] = dlt, gam, s0
        theo = theo0[None, :] + ds * (dlt * 100.0) + 0.5 * ds * ds * (gam * 100.0)
        if times_ns.size > 1:
            decay = price(s0, chain.strike, t1, iv, chain.is_call) * 100.0 - theo0
            frac = (times_ns - times_ns[0]) / float(times_ns[-1] - times_ns[0])
            theo = theo + frac[:, None] * decay[None, :]
        veg = veg * 100.0
        theo = self._held(idx, np.maximum(theo, 0.0), self.thresholds(s0, t0))
        width = open_factor(m0, self.params)
        margin = self.slow_margin(s0, dlt, gam, j0) if slow else 0.0
        bid, ask = quote_chain(chain, theo, veg, t0, s0, self.params, width, extra_cents=margin)
        sizes = quote_sizes(chain, s0, t0, self.params)
        self.shown_base[idx] = sizes
        return self._shade(idx, bid, ask, sizes)

    def _held(self, idx: np.ndarray, theo: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """The values the makers quote. A maker requotes an expiry as a whole, once any of
        its contracts' values has moved by its ``threshold`` (cents, :meth:`thresholds`)
        from the one last quoted; until then the expiry's values are held. Holding whole
        expiries keeps strikes of one expiry consistent with each other."""
        last = self.quoted_theo[idx]
        out = np.empty_like(theo)
        _hold_expiries(np.ascontiguousarray(theo), last, np.ascontiguousarray(threshold),
                       self.chain.expiry_index[idx], out)
        self.quoted_theo[idx] = last
        return out

    def _shade(self, idx: np.ndarray, bid: np.ndarray, ask: np.ndarray,
               sizes: np.ndarray) -> tuple[ShadedQuotes, OptionNBBOs]:
        """Each slot's quote: the base quote shaded by the slot's extra ticks and skew;
        and the NBBO of the slots' quotes."""
        held = self.ledger.held(self.agents, idx)  # [maker, contract of idx]
        skew = np.clip(np.trunc(held / self.cfg.skew_lots), -MAX_SKEW_TICKS, MAX_SKEW_TICKS)
        # No base bid (a wing, or a value below the maker's edge) stays no bid: a short
        # maker's skew lifts only the bids it makes. No maker bids at or above another's
        # offer: a bid that would lock or cross the best ask across slots steps down to
        # the price just below it (the loop: tapesim.agents.shading).
        shading = slot_shading(self.extra, self.size_factor, idx, skew.astype(np.int64),
                               self.slot_maker, sizes)
        return shade(bid, ask, shading, self.chain.mpv)

    # --- inventory and hedging -----------------------------------------------
    def contract_delta(self, c: int, spot: float) -> float:
        """Shares of stock one contract is worth now (delta x 100), from the greeks of the
        contract's last valuation moved to the current spot."""
        dlt, gam, s0 = self.greeks[:, c]
        return float(dlt + gam * (spot - s0)) * 100.0

    def on_fill(self, maker: int, c: int, signed_qty: int, now_ns: int) -> None:
        """Maker ``maker`` bought (+) or sold (-) ``signed_qty`` contracts of ``c`` at
        ``now_ns`` (the ledger has booked them): add their delta, valued at the stock's
        mid (its fair value when the stock is not two-sided), then hedge if needed."""
        stock = self.ctx.venues
        spot = stock.mid() / 100.0 if stock.two_sided() else self.fair(
            self.ctx.latent.index(now_ns))
        self.net_delta[maker] += signed_qty * self.contract_delta(c, spot)
        self._hedge(maker)

    def _hedge(self, maker: int) -> None:
        """Flatten ``maker``'s delta (options plus stock, shares) in round lots once it
        passes ``hedge_shares``, at the stock's touch while it is two-sided."""
        ctx = self.ctx
        agent = self.agents[maker]
        exposure = self.net_delta[maker] + ctx.ledger.shares[agent]
        if abs(exposure) < self.cfg.hedge_shares or not ctx.venues.two_sided():
            return
        qty = round(abs(exposure) / 100.0) * 100 or int(abs(exposure))
        side = SELL if exposure > 0 else BUY
        venues = ctx.venues
        # At the touch only: what is displayed there, never a sweep through the book;
        # the rest waits for the next fill (the quotes refill meanwhile).
        venues.take(agent, side, qty, venues.nbo if side == BUY else venues.nbb)


@kernel
def _hold_expiries(theo: np.ndarray, last: np.ndarray, threshold: np.ndarray,
                   expiry: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """:meth:`OptionMakers._held`'s loop. ``theo`` float cents [step, contract],
    ``last`` the values last quoted (NaN: never; updated in place), ``threshold`` cents
    and ``expiry`` the expiry index per contract (contracts of one expiry adjacent): at
    each step, a run of one expiry takes that step's values once any of its contracts
    is not within its threshold of its last value, else keeps them; ``out`` gets the
    values held at each step."""
    n_steps, n = theo.shape
    for s in range(n_steps):
        c = 0
        while c < n:
            e = expiry[c]
            d = c
            moved = False
            while d < n and expiry[d] == e:
                if not abs(theo[s, d] - last[d]) < threshold[d]:  # NaN (a first quote) moves
                    moved = True
                d += 1
            for k in range(c, d):
                if moved:
                    last[k] = theo[s, k]
                out[s, k] = last[k]
            c = d


@kernel
def _resize(u: np.ndarray, base: int, size_factor: np.ndarray, bid_size: np.ndarray,
            ask_size: np.ndarray, c: int) -> None:  # pragma: no cover - compiled
    """A re-post's sizes on contract ``c``, in place: slot k (of ``u``'s, its uniform draw)
    shows max(1, int(``base`` x ``size_factor`` [c, k] x (0.6 + 0.8 u) + 0.5)) contracts
    on each side it shows (``bid_size`` / ``ask_size`` [slot, contract] > 0); the same
    float operations in the same order as the plain Python expression."""
    for k in range(u.size):
        size = max(1, np.int64(base * size_factor[c, k] * (0.6 + 0.8 * u[k]) + 0.5))
        if ask_size[k, c] > 0:
            ask_size[k, c] = size
        if bid_size[k, c] > 0:
            bid_size[k, c] = size
