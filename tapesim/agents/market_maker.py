"""Equity market makers: standing two-sided quotes, one or more per lit venue.

Makers re-price in steps and hold. The market's makers price one stock around a
shared *reference* that moves only once the latent value has moved far enough from
where it was last priced (a hysteresis band), each maker adopting a re-pricing after
its own reaction delay; between re-pricings a maker keeps its price (and its place in
the queue), moving only when impact or its inventory shifted its quote by a whole
tick band. So the NBBO holds levels for seconds, steps when value has moved against
the tick, and trades bounce between bid and ask.

The quoting rule. At latent step k maker m shows, in whole cents (an equity tick is
one cent), with the float operations in exactly this order:

    bid = floor(((v_T - h_T) + o_mT) - w_m) + A_m
    ask = ceil (((v_T + h_T) + o_mT) + w_m) + A_m

  T       the last re-pricing step maker m has adopted by step k (below)
  v_T     the latent value in cents at step T
  h_T     the common half-width in ticks at step T: the symbol's spread_scale x
          (half_spread_ticks + half_spread_sd x sd_T x (1 - spread_vol_share +
          spread_vol_share x vol_T)) x (1 + open_widening x exp(-minutes since the
          open / open_widening_minutes)) x (1 - close_narrowing x exp(-minutes to the
          close / close_narrowing_minutes)): proportional to the value's volatility in
          cents, wider when volatility per trade is high, much wider just after the
          open, narrower into the close
  sd_k    the symbol's average sd of one second's value move in cents: v_k x
          annual_vol / sqrt(252 x 23,400)
  vol_k   the latent volatility per unit of trading activity, relative to the
          session's: vol_ratio_k / sqrt(activity_k). Volatility and activity both
          follow the intraday envelope, which cancels: the spread tracks volatility
          per trade (Wyart, Bouchaud, Kockelkoren, Potters & Vettorazzo 2008: spread
          proportional to volatility per trade), not the time of day
  o_mT    the maker's valuation offset in ticks at step T: a stationary AR(1) path
          (sd offset_ticks, reversion time offset_reversion_s), revised once a second
  w_m     the maker's fixed extra half-width (uniform in 0..width_ticks), so some
          makers mostly sit behind the inside
  A_m     the maker's adjustment in whole ticks for transient impact and inventory:
          the target a_m = impact - s_m, where impact is v x the impact level
          (``MarketContext.impact``) in cents and s_m = inventory_skew_ticks x position
          / inventory_unit (shares) the inventory skew, linear in inventory as in
          Avellaneda & Stoikov (2008): a long maker lowers both sides. A_m is re-set
          to round-half-up(a_m) only once |a_m - A_m| >= adjust_ticks, else kept.

Re-pricing steps. t_0 is the window's first step; t_(i+1) is the first step k after
t_i where |v_k - v_(t_i)| >= H_k or |h_k - h_(t_i)| >= 1/2 tick, with the band
H_k = max(requote_min_ticks, requote_sd x sd_k x vol_k), sd_k x vol_k the sd in
cents of one second's value move per unit of trading activity. So re-pricings arrive
about activity / requote_sd^2 times a second whatever the stock's price and
volatility (a Brownian value leaves a band of +-H after H^2 / sigma^2 seconds on
average), and the quotes stay as wide against the band as half_spread_sd against
requote_sd. Maker m adopts t_i at step t_i + d_mi,
d_mi = floor(an exponential draw with mean react_ms / step_ms) steps (kept in order:
a re-pricing overtaken by the next before it is adopted is skipped), so the makers
move within a few tens of milliseconds of each other, one after another.

Sizes. Each side shows a Pareto(quote_lots_alpha) number of round lots within
quote_lots. A side filled out is gone at once and comes back with a new size after
an exponential delay (mean refill_ms), at the step after it.

Reaction time. Positions (skew) and impact are read at the start of each vectorised
pass over the steps between two trader actions and held through it, so a trade
reaches the quotes at the next pass (a reaction time of about half a step).

Against book orders (post-only; no locked or crossed market, Reg NMS Rule 610(d)):

* pick-off: where the best maker bid >= the best book ask (or the best maker ask <=
  the best book bid), the keenest maker on that side (highest bid, lowest ask; ties
  to the lower index) takes every book order its quote crosses, limit its quote,
  routed by the venues like any marketable order (the venues allow four per
  re-consolidation);
* slides: a maker bid still at or above the book ask shows at book ask - 1; a maker
  ask shows at least one tick above both the best book bid and the best maker bid
  (after its slide), so no maker quote locks or crosses another or a book order.

One source of truth. ``repricing_steps`` and ``held_quotes``
(:mod:`tapesim.agents.maker_paths`) state the rule once, precomputed for every maker
and step of the window (everything but A_m and the sides shown is a pure function of
the seeded paths); :meth:`MakerDesk.quotes` adds the state, and every view (the best
path of a pass, every maker at one step, the best at one step, the keenest maker)
takes its prices from it, with :func:`slide_bounds` the one slide rule. The venues
evaluate the makers over every step between two trader actions in one compiled pass
(:mod:`tapesim.agents.maker_best`, the same float operations as :meth:`MakerDesk.quotes`),
with no order-book traffic and no SimPy event per requote.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.maker_best import MakerLoops
from tapesim.agents.maker_paths import (
    adoption_steps,
    half_spread_path,
    held_quotes,
    offset_path,
    repricing_steps,
    requote_band,
    second_sd,
    trading_vol,
)
from tapesim.sim.compiled import Buffer
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, NO_ASK, NO_BID, SELL


def adjusted(target: float, held: int, band: float) -> int:
    """A maker's whole-tick adjustment A_m after reading its target a_m (ticks):
    round-half-up(a_m) once |a_m - A_m| >= ``band``, else the ``held`` A_m."""
    return math.floor(target + 0.5) if abs(target - held) >= band else held


def slide_bounds(best_bid: float, book_bid: int, book_ask: int) -> tuple[int, float]:
    """The post-only slide rule for maker quotes, in whole cents: (cap, floor).

    A maker bid shows at most ``cap`` = ``book_ask - 1`` (one tick under the best book
    ask); a maker ask shows at least ``floor`` = max(min(``best_bid``, cap),
    ``book_bid``) + 1 (one tick over the best book bid and the best maker bid after its
    own slide). ``best_bid`` is -inf when no maker shows a bid; the book prices are
    NO_BID / NO_ASK when the books are empty.
    """
    cap = book_ask - 1
    return cap, max(min(best_bid, cap), book_bid) + 1


class MakerDesk:
    """Every market maker of one stock, quoting on the latent step grid of the window.

    Implements the venues' ``StandingQuotes`` protocol: the venues read the makers'
    prices through :meth:`best_path`, :meth:`quotes_at` and :meth:`best_at`, ask
    :meth:`pick_off` whether a maker takes a book order, and report fills to
    :meth:`on_fill`. ``bid_qty`` / ``ask_qty`` are the displayed sizes in shares.
    ``repricings`` holds the re-pricing steps (window indices), ``adopted`` (makers,
    re-pricings) when each maker adopts them, ``anchor_offsets`` (makers, re-pricings)
    each maker's offset at them, and ``held`` (makers, 2, steps) int32 every maker's
    bid and minus ask before its adjustment (:func:`held_quotes`).
    """

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
        vol = trading_vol(ctx, self.k_lo, k_hi)
        sd = second_sd(ctx, self.cents)
        self.half = half_spread_path(ctx, self.k_lo, k_hi, sd, vol)
        self.band = requote_band(ctx, sd, vol)
        steps = self.repricings = repricing_steps(self.cents, self.half, self.band)
        at_cents, at_half = self.cents[steps], self.half[steps]
        self.last = n - 1
        react_steps = cfg.react_ms * 1e6 / step

        self.agents: list[int] = []
        self.venue_of: list[int] = []
        self.width: list[float] = []
        self.draws: list[Draws] = []
        m = len(ctx.lit_codes) * cfg.per_venue
        self.adopted = np.empty((m, steps.size), dtype=np.int64)
        self.anchor_offsets = np.empty((m, steps.size), dtype=np.float32)
        self.held = np.empty((m, 2, n), dtype=np.int32)
        per_second = max(1, 1_000_000_000 // step)
        for venue, code in enumerate(ctx.lit_codes):
            for j in range(cfg.per_venue):
                i, name = len(self.agents), f"mm-{code}-{j}"
                d = draws_for("agent", name)
                self.agents.append(ctx.ledger.register(name))
                self.venue_of.append(venue)
                self.draws.append(d)
                self.width.append(d.uniform() * cfg.width_ticks)
                offsets = offset_path(draws_for("agent", name, "offset").generator, n,
                                      per_second, cfg.offset_ticks, cfg.offset_reversion_s)
                lags = np.floor(draws_for("agent", name, "react").generator.exponential(
                    react_steps, steps.size)).astype(np.int64)
                self.adopted[i] = adoption_steps(steps, lags, n)
                self.anchor_offsets[i] = offsets[steps]
                self.held[i] = held_quotes(at_cents, at_half, self.anchor_offsets[i],
                                           self.width[i], self.adopted[i], n)
        self.bid_qty = [self._size(i) for i in range(m)]
        self.ask_qty = [self._size(i) for i in range(m)]
        self._due: list[tuple[int, int, int]] = []  # (step, maker, side) refills
        self._skew_per_share = cfg.inventory_skew_ticks / cfg.inventory_unit
        self._skew = [0.0] * m  # inventory skew in ticks, as of the last repricing
        self.adjust = [0] * m  # A_m: whole ticks of impact and skew each maker quotes
        self._shifts = np.zeros((m, 2, 1))  # A_m and -A_m; -inf for a side not shown
        self._moved = False  # a position changed since the last repricing
        self._stale = True  # shown sides or adjustments changed since the shifts were built
        self._loops = MakerLoops(self.held, self._shifts)  # reads both, changed in place
        self._col_j = -1  # the step of _col (-1: none)
        self._col: list[list[float]] = []  # every maker's [bids, minus asks] at _col_j

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

    def _reprice(self, j: int) -> None:
        """Read positions (if any moved) and impact as at step j, the start of a pass, and
        move each maker's adjustment A_m where its target left the band."""
        if self._moved:
            shares, k = self.ctx.ledger.shares, self._skew_per_share
            self._skew = [k * shares[a] for a in self.agents]
            self._moved = False
        ic = self._impact_cents(j)
        band = self.cfg.adjust_ticks
        adjust = [adjusted(ic - s, a, band) for s, a in zip(self._skew, self.adjust,
                                                             strict=True)]
        if adjust != self.adjust:
            self.adjust = adjust
            self._stale = True
        self._col_j = -1

    def _show(self) -> None:
        """Rebuild the shifts: A_m on the sides shown, -inf on a side not shown."""
        inf = math.inf
        self._shifts[:, 0, 0] = [a if q > 0 else -inf
                                 for a, q in zip(self.adjust, self.bid_qty, strict=True)]
        self._shifts[:, 1, 0] = [-a if q > 0 else -inf
                                 for a, q in zip(self.adjust, self.ask_qty, strict=True)]
        self._stale = False
        self._col_j = -1

    def _impact_cents(self, j: int) -> float:
        impact = self.ctx.impact
        if impact.level == 0.0:
            return 0.0
        decay = math.exp((impact.last_ns - self.times.item(j)) / impact.decay_ns)
        return self.cents.item(j) * impact.level * decay

    # --- prices: every view comes from held and the shifts -------------------
    def quotes(self, a: int, b: int) -> np.ndarray:
        """Every maker's quotes at steps a..b-1 in the current state, (makers, 2, b - a)
        float64 whole cents: [:, 0] the bids, [:, 1] minus the asks; -inf for a side not
        shown. The rule every view follows (:meth:`best_path` and the views at one step
        compute its values in compiled loops, :mod:`tapesim.agents.maker_best`)."""
        if self._stale:
            self._show()
        return self.held[:, :, a:b] + self._shifts

    def _column(self, j: int) -> list[list[float]]:
        """Every maker's quotes at step j as [bids, minus asks] lists, the values of
        :meth:`quotes` over (j, j + 1); kept until the step or the state moves."""
        if self._stale:
            self._show()
        if self._col_j != j:
            self._col = self._loops.column(j)
            self._col_j = j
        return self._col

    def best_path(self, a: int, b: int, book_bid: int, book_ask: int, out: Buffer) -> int:
        """Reprice, then the best maker bid and ask after :func:`slide_bounds` at steps a,
        a + 1, ... up to b - 1, or up to (without) the first step where a maker picks
        off a book order.

        ``book_bid`` / ``book_ask``: the best book order prices (cents; NO_BID / NO_ASK),
        fixed through the pass. Writes int64 whole cents (NO_BID / NO_ASK where no maker
        shows that side) into ``out.array[0]`` (bids) and ``[1]`` (asks), (2, at least
        b - a), and returns how many steps it wrote: fewer than b - a when a pick-off is
        due at step a + that many (the venues then call :meth:`pick_off` there).
        Computed in one compiled pass over :attr:`held` and the shifts
        (:class:`tapesim.agents.maker_best.MakerLoops`), the values of :meth:`quotes`.
        """
        self._reprice(b - 1)  # impact as at the pass's last step, where the venues stop
        if self._stale:
            self._show()
        return self._loops.best(a, b, book_bid, book_ask, out)

    def quotes_at(self, j: int, book_bid: int, book_ask: int) -> tuple[list[int], list[int]]:
        """Every maker's (bid, ask) at step j after :func:`slide_bounds`, in cents, against
        the best book bid / ask; NO_BID / NO_ASK for a side not shown."""
        bids, neg_asks = self._column(j)
        cap, floor = slide_bounds(max(bids), book_bid, book_ask)
        floor, inf = int(floor), math.inf
        return ([(int(x) if x < cap else cap) if x != -inf else NO_BID for x in bids],
                [(int(-y) if -y > floor else floor) if y != -inf else NO_ASK
                 for y in neg_asks])

    def best_at(self, j: int, book_bid: int, book_ask: int) -> tuple[int, int]:
        """The best maker (bid, ask) at step j after :func:`slide_bounds`, in cents; NO_BID
        / NO_ASK when no maker shows that side: the best of :meth:`quotes_at`."""
        bids, neg_asks = self._column(j)
        bid, ask = max(bids), -max(neg_asks)
        cap, floor = slide_bounds(bid, book_bid, book_ask)
        return (min(int(bid), cap) if bid != -math.inf else NO_BID,
                max(int(ask), int(floor)) if ask != math.inf else NO_ASK)

    def pick_off(self, j: int, book_bid: int, book_ask: int) -> tuple[int, int, int] | None:
        """Whether a maker picks off book orders at step j: (maker, side, limit in cents)
        when the best maker bid >= ``book_ask`` (side BUY) or the best maker ask <=
        ``book_bid`` (side SELL), else None. The maker is the keenest on that side; it
        takes every book order through its quote, so its position moves (reread at the
        next pass)."""
        bids, neg_asks = self._column(j)
        bid, neg_ask = max(bids), max(neg_asks)
        if bid >= book_ask:
            side, row, limit = BUY, bids, bid
        elif -neg_ask <= book_bid:
            side, row, limit = SELL, neg_asks, -neg_ask
        else:
            return None
        self._moved = True
        return row.index(max(row)), side, int(limit)

    # --- fills and refills --------------------------------------------------
    def on_fill(self, i: int, side: int, qty: int, now_ns: int) -> None:
        """Maker ``i``'s ``side`` quote was hit for ``qty`` shares at ``now_ns``; a side
        filled out refills after an exponential delay (mean refill_ms)."""
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

