"""Equity market makers: standing two-sided quotes, one maker per lit venue slot.

Policy. At latent step k maker m shows

    bid = floor(fair_k - half_k + o_mk - w_m - skew_m)
    ask = ceil (fair_k + half_k + o_mk + w_m - skew_m)

  fair_k  the latent value moved by recent impact, in cents
  half_k  the common half-width: wider when volatility is high and just after the open
  o_mk    the maker's own valuation offset, a slowly mean-reverting AR(1) path
  w_m     the maker's fixed extra half-width (some makers mostly sit behind the inside)
  skew_m  inventory skew, skew_ticks * position / inventory_unit: a long maker lowers
          both sides to sell more and buy less

Each side shows a Pareto-tailed number of round lots within quote_lots (most quotes
are small, a few are large). A side that is filled completely is gone at once,
until the maker reposts it with a new size after refill_ms (exponential). Makers
reprice on the latent step grid: the impact of a trade and the skew from a fill
reach their quotes at the next step (a reaction time of about half a step). So
quotes move with value (no trade needed), after trades (impact, skew) and when a
side is taken out.

Speed. Everything except positions, impact and displayed sizes is a precomputed
numpy path, so the makers' quotes are a pure function of (step, state). The
venues evaluate the best of them over every step between two trader actions in
one vectorised pass (:meth:`MakerDesk.best_path`, a handful of numpy operations)
and only consolidated changes become events: no per-requote order-book traffic
and no SimPy event per requote. Impact is evaluated once per pass, at its last
step; passes are at most a few seconds long, so its decay is followed closely.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from operator import add

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.latent import ar1_filter
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, NO_ASK, NO_BID

OPEN_WIDENING_MINUTES = 10.0


def half_spread_path(ctx: MarketContext, lo: int, hi: int) -> np.ndarray:
    """Quoted half-width in ticks for latent steps lo..hi-1: volatility and time of day."""
    cfg = ctx.config.market_makers
    step_minutes = ctx.latent.step_ns / 60e9
    minutes = np.arange(lo, hi) * step_minutes
    widen = 1.0 + cfg.open_widening * np.exp(-minutes / OPEN_WIDENING_MINUTES)
    vol = 1.0 - cfg.spread_vol_share + cfg.spread_vol_share * ctx.latent.vol_ratio[lo:hi]
    return cfg.half_spread_ticks * ctx.symbol.spread_scale * vol * widen


def offset_path(gen: np.random.Generator, n: int, per: int, sd: float, tau_s: float):
    """A stationary AR(1) valuation offset (ticks) for n steps, revised once a second
    (every ``per`` steps), as float32."""
    coarse = -(-n // per)
    a = math.exp(-1.0 / tau_s)
    shocks = gen.standard_normal(coarse) * (sd * math.sqrt(1.0 - a * a))
    start = gen.standard_normal() * sd
    path = ar1_filter(shocks, a, start)
    return np.repeat(path.astype(np.float32), per)[:n]


class MakerDesk:
    """Every market maker of one stock, quoting on the latent step grid of the window."""

    def __init__(self, ctx: MarketContext, draws_for: Callable[..., Draws]) -> None:
        cfg = self.cfg = ctx.config.market_makers
        self.ctx = ctx
        latent, session = ctx.latent, ctx.session
        step = self.step_ns = latent.step_ns
        self.k_lo = session.start_ns // step
        k_hi = min((session.end_ns - 1) // step + 1, latent.value.size)
        n = k_hi - self.k_lo
        timing = draws_for("population", "market-makers")
        # Each step's value change lands at a random instant inside the step.
        jitter = timing.generator.integers(0, step, n)
        self.times = (np.arange(self.k_lo, k_hi, dtype=np.int64) * step + jitter)
        self.times[0] = max(int(self.times[0]), session.start_ns)
        self.cents = latent.value[self.k_lo:k_hi] * 100.0
        half = half_spread_path(ctx, self.k_lo, k_hi)
        # Row 0: centre minus half-width (bids); row 1: minus (centre plus half-width) (asks).
        self.base = np.vstack([self.cents - half, -(self.cents + half)])
        self.last = n - 1

        self.names: list[str] = []
        self.agents: list[int] = []
        self.venue_of: list[int] = []
        self.width: list[float] = []
        self.draws: list[Draws] = []
        offsets = []
        per_second = max(1, 1_000_000_000 // step)
        for venue, code in enumerate(ctx.lit_codes):
            for j in range(cfg.per_venue):
                name = f"mm-{code}-{j}"
                d = draws_for("agent", name)
                self.names.append(name)
                self.agents.append(ctx.ledger.register(name))
                self.venue_of.append(venue)
                self.draws.append(d)
                self.width.append(d.uniform() * cfg.width_ticks)
                offsets.append(offset_path(draws_for("agent", name, "offset").generator, n,
                                           per_second, cfg.offset_ticks, cfg.offset_reversion_s))
        # Per maker its offset (bid row) and the negated offset (ask row): one add and
        # one max over makers give both sides' best quotes, asks as negatives.
        self.signed_offsets = np.empty((len(offsets), 2, n), dtype=np.float32)
        for i, o in enumerate(offsets):
            self.signed_offsets[i, 0] = o
            np.negative(o, out=self.signed_offsets[i, 1])
        m = len(self.agents)
        self.bid_qty = [self._size(i) for i in range(m)]
        self.ask_qty = [self._size(i) for i in range(m)]
        self._due: list[tuple[int, int, int]] = []  # (step, maker, side) refills
        self._skew_per_share = cfg.inventory_skew_ticks / cfg.inventory_unit
        self._column = np.zeros((m, 2, 1))
        self._signed_impact = np.zeros((2, 1))
        self._skew = [0.0] * m  # inventory skew in ticks, as of the last repricing
        self._ic = 0.0  # impact in cents, as of the last repricing
        self._bid_shift: list[float] = []
        self._ask_shift: list[float] = []
        self._moved = False  # a position changed since the last repricing
        self._stale = True  # shown sides or skews changed since the shifts were built
        self._column_stale = True

    # --- time ---------------------------------------------------------------
    def step_at(self, now_ns: int) -> int:
        """The last step (window index) whose value change has happened by ``now_ns``."""
        j = now_ns // self.step_ns - self.k_lo
        if j > self.last:
            return self.last
        if j > 0 and self.times.item(j) > now_ns:
            j -= 1
        return j if j > 0 else 0

    # --- state --------------------------------------------------------------
    def _size(self, i: int) -> int:
        low, high = self.cfg.quote_lots
        lots = low * (1.0 - self.draws[i].uniform()) ** (-1.0 / self.cfg.quote_lots_alpha)
        return 100 * int(min(lots, high))

    # Makers react on the step grid: a vectorised pass reprices them (positions and
    # impact are read at its start); inside a step only the displayed sizes change,
    # so a side filled out vanishes at once but the repricing waits for the next step.

    def _reprice(self, j: int) -> None:
        if self._moved:
            shares, k = self.ctx.ledger.shares, self._skew_per_share
            self._skew = [k * shares[a] for a in self.agents]
            self._moved = False
            self._stale = True
        self._ic = self._impact_cents(j)

    def _show(self) -> None:
        """Shifts in ticks of the sides shown (-inf / +inf for a side not shown)."""
        width, skew, inf = self.width, self._skew, math.inf
        self._bid_shift = [(-w - s) if q > 0 else -inf
                           for w, s, q in zip(width, skew, self.bid_qty, strict=True)]
        self._ask_shift = [(w - s) if q > 0 else inf
                           for w, s, q in zip(width, skew, self.ask_qty, strict=True)]
        self._stale = False
        self._column_stale = True

    def _columns(self) -> np.ndarray:
        """The shifts as a (makers, 2, 1) column of (bid shift, minus ask shift)."""
        if self._column_stale:
            self._column[:, 0, 0] = self._bid_shift
            self._column[:, 1, 0] = [-x for x in self._ask_shift]
            self._column_stale = False
        return self._column

    def touch(self) -> None:
        """A maker's position changed (it took liquidity): reprice at the next step."""
        self._moved = True

    def _impact_cents(self, j: int) -> float:
        impact = self.ctx.impact
        if impact.level == 0.0:
            return 0.0
        decay = math.exp((impact.last_ns - self.times.item(j)) / impact.decay_ns)
        return self.cents.item(j) * impact.level * decay

    # Every quote below is floor((low + (offset + shift)) + impact) for a bid and
    # ceil((high + (offset + shift)) + impact) for an ask, in this order of float
    # operations, so the vectorised and the scalar paths give identical prices.

    def best_path(self, a: int, b: int) -> np.ndarray:
        """Best raw maker quotes at steps a..b-1, the state held fixed.

        A float array of shape (2, b - a): row 0 the best bid, row 1 minus the best
        ask, in whole cents; -inf where no maker shows that side.
        """
        self._reprice(b - 1)  # impact as at the pass's last step, where the venues stop
        if self._stale:
            self._show()
        best = (self.signed_offsets[:, :, a:b] + self._columns()).max(axis=0)
        best += self.base[:, a:b]
        ic = self._ic
        if ic:
            signed = self._signed_impact
            signed[0, 0] = ic
            signed[1, 0] = -ic
            best += signed
        return np.floor(best, out=best)

    def quotes_at(self, j: int) -> tuple[list[int], list[int]]:
        """Every maker's raw (bid, ask) at step j; NO_BID / NO_ASK for a side not shown."""
        if self._stale:
            self._show()
        ic = self._ic
        low, high = self.base.item(0, j), -self.base.item(1, j)
        off = self.signed_offsets[:, 0, j].tolist()
        floor, ceil, inf = math.floor, math.ceil, math.inf
        bids = [floor((low + (o + s)) + ic) if s != -inf else NO_BID
                for o, s in zip(off, self._bid_shift, strict=True)]
        asks = [ceil((high + (o + s)) + ic) if s != inf else NO_ASK
                for o, s in zip(off, self._ask_shift, strict=True)]
        return bids, asks

    def best_at(self, j: int) -> tuple[int, int]:
        """The best raw (bid, ask) at step j: max / min of :meth:`quotes_at`, computed
        directly (the rounding is monotone, so the best before rounding is the best after)."""
        if self._stale:
            self._show()
        ic = self._ic
        off = self.signed_offsets[:, 0, j].tolist()
        keen_bid = max(map(add, off, self._bid_shift))
        keen_ask = min(map(add, off, self._ask_shift))
        bid = math.floor((self.base.item(0, j) + keen_bid) + ic) if keen_bid > -math.inf else NO_BID
        ask = math.ceil((-self.base.item(1, j) + keen_ask) + ic) if keen_ask < math.inf else NO_ASK
        return bid, ask

    # --- fills and refills --------------------------------------------------
    def on_fill(self, i: int, side: int, qty: int, now_ns: int) -> None:
        """Maker ``i``'s ``side`` quote was hit for ``qty``; a side filled out refills later."""
        qtys = self.bid_qty if side == BUY else self.ask_qty
        qtys[i] -= qty
        self._moved = True
        if qtys[i] <= 0:
            qtys[i] = 0
            self._stale = True
            delay = int(self.draws[i].exponential() * self.cfg.refill_ms * 1e6)
            heapq.heappush(self._due, (self.step_at(now_ns + delay) + 1, i, side))

    def next_due(self) -> int:
        """The next step at which a side comes back (past the window end if none)."""
        return self._due[0][0] if self._due else self.last + 1

    def apply_due(self, j: int) -> None:
        """Repost every side due by step ``j`` with a fresh size."""
        due = self._due
        if due and due[0][0] <= j:
            self._stale = True
        while due and due[0][0] <= j:
            _, i, side = heapq.heappop(due)
            if side == BUY:
                self.bid_qty[i] = self._size(i)
            else:
                self.ask_qty[i] = self._size(i)

    def leader(self, j: int, side: int) -> int:
        """The maker keenest to trade on ``side`` at step j: highest own bid valuation
        (lowest ask valuation) among those showing that side."""
        if self._stale:
            self._show()
        off = self.signed_offsets[:, 0, j].tolist()
        if side == BUY:
            keen = list(map(add, off, self._bid_shift))
            return keen.index(max(keen))
        keen = list(map(add, off, self._ask_shift))
        return keen.index(min(keen))
