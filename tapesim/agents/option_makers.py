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

Sizes are the base displayed size (largest at the money) times a fixed per-slot
factor. After every fill a maker adds the contract's delta to its net delta and,
once that passes ``hedge_shares``, trades the stock on the lit venues to flatten it.

Speed. Contracts near the money and expiry (the *active* set) are repriced on a
``requote_ms`` grid; the rest every ``slow_requote_s``. Prices for a block of
``block_steps`` grid steps come from one vectorised pass: values and greeks at the
block's start, the stock's fair path over the block and a second-order expansion
(delta, gamma, and theta interpolated across the block). A maker requotes a
contract only once its value has moved by ``requote_vol_points`` of vega (at least
a cent) since it last quoted it, and widths are set once per block, so quotes do
not flicker with every cent the stock moves. Only quotes that change after rounding
reach the tape (see :mod:`tapesim.venues.options`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.option_quotes import (
    MINUTES_PER_YEAR,
    NICKEL_FROM_CENTS,
    Chain,
    QuoteParams,
    moneyness_z,
    open_factor,
    quote_chain,
    quote_sizes,
    t_years_at,
)
from tapesim.agents.pricing import delta, gamma, price, vega
from tapesim.agents.vol_surface import INDEX_LIKE_SKEW, Roughness, SurfaceParams, implied_vols
from tapesim.config.options import OptionChainProfile
from tapesim.sim.rng import Draws, stream
from tapesim.venues.book import BUY, SELL
from tapesim.venues.opra import OptionNBBOs, consolidate

MAX_SKEW_TICKS = 2


class SlotQuotes(NamedTuple):
    """Every slot's quote for some contracts at some times: arrays [slot, time, contract]."""

    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray

    def consolidated(self) -> OptionNBBOs:
        """The OPRA NBBO at each (time, contract): best over slots, sizes summed at the best."""
        s, t, c = self.bid.shape
        flat = [a.reshape(s, t * c) for a in (self.bid, self.ask, self.bid_size, self.ask_size)]
        return OptionNBBOs(*(a.reshape(t, c) for a in consolidate(*flat)))


def _subset(chain: Chain, idx: np.ndarray) -> Chain:
    return dataclasses.replace(
        chain, strike=chain.strike[idx], strike_mills=chain.strike_mills[idx],
        expiry_index=chain.expiry_index[idx], days_to_expiry=chain.days_to_expiry[idx],
        t_years=chain.t_years[idx], is_call=chain.is_call[idx], contracts=[])


class OptionMakers:
    """The options market makers of one underlying."""

    def __init__(
        self, ctx: MarketContext, chain: Chain, cfg: OptionChainProfile, n_venues: int,
        draws_for: Callable[..., Draws],
    ) -> None:
        self.ctx = ctx
        self.chain = chain
        self.cfg = cfg.makers
        mk = cfg.makers
        sym = ctx.symbol
        self.params = QuoteParams(premium_share=mk.premium_share,
                                  vol_risk_points=mk.vol_risk_points, open_extra=mk.open_extra,
                                  atm_lots=mk.atm_lots, wing_lots=mk.wing_lots,
                                  otm_slope=mk.otm_slope, illiquid_slope=mk.illiquid_slope)
        earnings = sym.earnings_in_days
        skew = INDEX_LIKE_SKEW if chain.all_penny else {}
        self.surface = SurfaceParams(base_vol=sym.annual_vol * sym.implied_vol_premium,
                                     event_move=sym.earnings_move if earnings is not None else 0.0,
                                     **skew)
        self.roughness = Roughness.draw(ctx.config.seed, sym.symbol, self.surface.roughness)
        self.t_event = None if earnings is None else (earnings * 1440.0 + 390.0) / MINUTES_PER_YEAR
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
        self.extra = gen.integers(0, mk.extra_ticks + 1, size=(n_slots, n))
        self.size_factor = gen.uniform(0.3, 1.0, size=(n_slots, n))
        self.position = np.zeros((mk.makers, n), dtype=np.int64)  # contracts held, per maker
        self.net_delta = np.zeros(mk.makers)  # shares of stock the option book is worth
        self.quoted_theo = np.full(n, np.nan)  # the value each contract was last quoted at
        self.shown_base = np.zeros(n, dtype=np.int64)  # displayed size before slot factors
        self.greeks = np.zeros((3, n))  # delta, gamma and spot of each contract's last valuation
        self.draws = draws_for("agent", "option-makers")

    @property
    def n_slots(self) -> int:
        return int(self.slot_maker.size)

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

    def quotes(self, idx: np.ndarray, times_ns: np.ndarray) -> SlotQuotes:
        """Every slot's quote for contracts ``idx`` at each time (one vectorised pass)."""
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
        theo0 = price(s0, chain.strike, t0, iv, chain.is_call) * 100.0
        ds = (spots - s0)[:, None]
        dlt = delta(s0, chain.strike, t0, iv, chain.is_call)
        gam = gamma(s0, chain.strike, t0, iv)
        self.greeks[0, idx], self.greeks[1, idx], self.greeks[2, idx] = dlt, gam, s0
        theo = theo0[None, :] + ds * (dlt * 100.0) + 0.5 * ds * ds * (gam * 100.0)
        if times_ns.size > 1:
            decay = price(s0, chain.strike, t1, iv, chain.is_call) * 100.0 - theo0
            frac = (times_ns - times_ns[0]) / float(times_ns[-1] - times_ns[0])
            theo = theo + frac[:, None] * decay[None, :]
        veg = vega(s0, chain.strike, t0, iv) * 100.0
        theo = self._held(idx, np.maximum(theo, 0.0), veg)
        width = open_factor(m0, self.params)
        bid, ask = quote_chain(chain, theo, veg, t0, s0, self.params, width)
        sizes = quote_sizes(chain, s0, t0, self.params)
        self.shown_base[idx] = sizes
        return self._shade(idx, bid, ask, sizes)

    def _held(self, idx: np.ndarray, theo: np.ndarray, veg: np.ndarray) -> np.ndarray:
        """The values the makers quote. A maker requotes an expiry as a whole, once any of
        its contracts' values has moved by more than ``requote_vol_points`` of vega (or a
        cent) from the one last quoted; until then the expiry's values are held. Holding
        whole expiries keeps strikes of one expiry consistent with each other."""
        threshold = np.maximum(self.cfg.requote_vol_points / 100.0 * veg, 1.0)
        expiry = self.chain.expiry_index[idx]
        starts = np.flatnonzero(np.r_[True, expiry[1:] != expiry[:-1]])  # idx is expiry-major
        sizes = np.diff(np.r_[starts, idx.size])
        last = self.quoted_theo[idx]
        out = np.empty_like(theo)
        for s in range(theo.shape[0]):
            moved = ~(np.abs(theo[s] - last) < threshold)  # a first quote (NaN) moves
            moved = np.repeat(np.logical_or.reduceat(moved, starts), sizes)
            last = np.where(moved, theo[s], last)
            out[s] = last
        self.quoted_theo[idx] = last
        return out

    def _shade(self, idx: np.ndarray, bid: np.ndarray, ask: np.ndarray,
               sizes: np.ndarray) -> SlotQuotes:
        """Each slot's quote: the base quote shaded by the slot's extra ticks and skew."""
        held = self.position[:, idx]
        skew = np.clip(np.trunc(held / self.cfg.skew_lots), -MAX_SKEW_TICKS, MAX_SKEW_TICKS)
        skew = skew.astype(np.int64)[self.slot_maker][:, None, :]
        extra = self.extra[:, idx][:, None, :]
        penny = self.chain.all_penny
        tick_b = 1 if penny else np.where(bid >= NICKEL_FROM_CENTS, 5, 1)
        tick_a = 1 if penny else np.where(ask >= NICKEL_FROM_CENTS, 5, 1)
        b = np.maximum(bid[None] - (extra + skew) * tick_b, 0)
        a = ask[None] + (extra - skew) * tick_a
        if not penny:
            b = np.where(b >= NICKEL_FROM_CENTS, b // 5 * 5, b)
            a = np.maximum(a, b + np.where(b >= NICKEL_FROM_CENTS, 5, 1))
            a = np.where(a >= NICKEL_FROM_CENTS, -(-a // 5) * 5, a)
        else:
            a = np.maximum(a, b + 1)
        # No maker bids at or above another's offer: a bid that would lock or cross the
        # best ask across slots steps down to the price just below it.
        best_ask = a.min(axis=0, keepdims=True)
        below = best_ask - 1
        if not penny:
            below = np.where(below >= NICKEL_FROM_CENTS, below // 5 * 5, below)
        b = np.where(b >= best_ask, np.maximum(below, 0), b)
        shown = np.maximum(np.rint(sizes[None, None, :] * self.size_factor[:, idx][:, None, :]),
                           1).astype(np.int64)
        shown = np.broadcast_to(shown, b.shape)
        return SlotQuotes(b, a, np.where(b > 0, shown, 0), shown.copy())

    # --- inventory and hedging -----------------------------------------------
    def contract_delta(self, c: int, spot: float) -> float:
        """Shares of stock one contract is worth now (delta x 100), from the greeks of the
        contract's last valuation moved to the current spot."""
        dlt, gam, s0 = self.greeks[:, c]
        return float(dlt + gam * (spot - s0)) * 100.0

    def on_fill(self, maker: int, c: int, signed_qty: int, spot: float) -> None:
        """A maker bought (+) or sold (-) contracts: book them, then hedge if needed."""
        self.position[maker, c] += signed_qty
        self.net_delta[maker] += signed_qty * self.contract_delta(c, spot)
        self._hedge(maker)

    def _hedge(self, maker: int) -> None:
        ctx = self.ctx
        agent = self.agents[maker]
        exposure = self.net_delta[maker] + ctx.ledger.shares[agent]
        if abs(exposure) < self.cfg.hedge_shares or not ctx.venues.two_sided():
            return
        qty = round(abs(exposure) / 100.0) * 100 or int(abs(exposure))
        side = SELL if exposure > 0 else BUY
        venues = ctx.venues
        spread = venues.nbo - venues.nbb
        limit = venues.nbo + 2 * spread if side == BUY else max(venues.nbb - 2 * spread, 1)
        venues.take(agent, side, qty, limit)
