"""Equity market makers: standing two-sided quotes, one or more per lit venue.

The quoting rule. At latent step k maker m shows, in whole cents (an equity tick is
one cent), with the float operations in exactly this order:

    bid = floor((low_k  + (o_mk + bid_shift_m)) + impact)
    ask = ceil ((high_k + (o_mk + ask_shift_m)) + impact)

  low_k, high_k  v_k - h_k and v_k + h_k: v_k the latent value in cents; h_k the
          common half-width in ticks, half_spread_ticks x the symbol's spread_scale x
          (1 - spread_vol_share + spread_vol_share x vol_ratio_k) x
          (1 + open_widening x exp(-minutes since the open / 10)): wider when
          volatility is high and just after the open
  o_mk    the maker's valuation offset in ticks: a stationary AR(1) path (sd
          offset_ticks, reversion time offset_reversion_s), revised once a second
  bid_shift_m = -w_m - s_m,  ask_shift_m = w_m - s_m, in ticks: w_m the maker's fixed
          extra half-width (uniform in 0..width_ticks, so some makers mostly sit
          behind the inside); s_m = inventory_skew_ticks x position / inventory_unit
          (shares) its inventory skew, linear in inventory as in Avellaneda & Stoikov
          (2008): a long maker lowers both sides to sell more and buy less. A side not
          shown has shift -inf (bid) / +inf (ask).
  impact  v x the transient impact level (log-price units, ``MarketContext.impact``),
          in cents, as of the last step of the pass that repriced the makers.

Sizes. Each side shows a Pareto(quote_lots_alpha) number of round lots within
quote_lots. A side filled out is gone at once and comes back with a new size after
an exponential delay (mean refill_ms), at the step after it.

Reaction time. Makers reprice on the latent step grid (step_ms, 25 ms by default):
positions (skew) and impact are read at the start of each vectorised pass over the
steps between two trader actions and held through it, so a trade reaches the quotes
at the next pass (a reaction time of about half a step).

Against book orders (post-only; no locked or crossed market, Reg NMS Rule 610(d)):

* pick-off: where the best maker bid >= the best book ask (or the best maker ask <=
  the best book bid), the keenest maker on that side (highest o + bid_shift, lowest
  o + ask_shift; ties to the lower index) takes every book order its quote crosses,
  limit its quote, routed by the venues like any marketable order (the venues allow
  four per re-consolidation);
* slides: a maker bid still at or above the book ask shows at book ask - 1; a maker
  ask shows at least one tick above both the best book bid and the best maker bid
  (after its slide), so no maker quote locks or crosses another or a book order.

One source of truth. :func:`keenness` and :func:`quote_cents` state the rule, for
all makers over a range of steps (:meth:`MakerDesk.quotes`); every view (the best
path of a pass, every maker at one step, the best at one step, the keenest maker)
takes its prices from them, and :func:`slide_bounds` is the one slide rule. Only
positions, impact and displayed sizes are state; the rest are precomputed numpy
paths, so the venues evaluate the makers vectorised over every step between two
trader actions, with no order-book traffic and no SimPy event per requote.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from tapesim.agents.context import MarketContext
from tapesim.agents.latent import ar1_filter
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, NO_ASK, NO_BID, SELL

OPEN_WIDENING_MINUTES = 10.0

def half_spread_path(ctx: MarketContext, lo: int, hi: int) -> np.ndarray:
    """Quoted half-width in ticks for latent steps lo..hi-1 (float64, shape (hi - lo,)):
    the configured half-width scaled by volatility and widened after the open."""
    cfg = ctx.config.market_makers
    step_minutes = ctx.latent.step_ns / 60e9
    minutes = np.arange(lo, hi) * step_minutes
    widen = 1.0 + cfg.open_widening * np.exp(-minutes / OPEN_WIDENING_MINUTES)
    vol = 1.0 - cfg.spread_vol_share + cfg.spread_vol_share * ctx.latent.vol_ratio[lo:hi]
    return cfg.half_spread_ticks * ctx.symbol.spread_scale * vol * widen


def offset_path(gen: np.random.Generator, n: int, per: int, sd: float,
                tau_s: float) -> np.ndarray:
    """A stationary AR(1) valuation offset in ticks for n steps, revised every ``per``
    steps (once a second), with sd ``sd`` ticks and reversion time ``tau_s`` seconds;
    float32, shape (n,)."""
    coarse = -(-n // per)
    a = math.exp(-1.0 / tau_s)
    shocks = gen.standard_normal(coarse) * (sd * math.sqrt(1.0 - a * a))
    start = gen.standard_normal() * sd
    path = ar1_filter(shocks, a, start)
    return np.repeat(path.astype(np.float32), per)[:n]


def keenness(signed_offsets: np.ndarray, signed_shifts: np.ndarray) -> np.ndarray:
    """Each maker's keenness to trade, per side: o + bid_shift and -(o + ask_shift).

    Args:
        signed_offsets: (makers, 2, steps) float32 ticks: o_mk and -o_mk.
        signed_shifts: (makers, 2, 1) float64 ticks: bid_shift_m and -ask_shift_m,
            -inf for a side not shown.

    Returns:
        (makers, 2, steps) float64 ticks, -inf for a side not shown: the higher, the
        higher the maker's bid (row 0) or the lower its ask (row 1).
    """
    return signed_offsets + signed_shifts


def quote_cents(base: np.ndarray, keen: np.ndarray, signed_impact: np.ndarray | None
                ) -> np.ndarray:
    """The quoting rule, elementwise: floor((base + keen) + impact), in whole cents.

    Row 0 is floor((low + (o + bid_shift)) + impact), the bid; row 1 is
    floor((-high + -(o + ask_shift)) + -impact) = -ceil((high + (o + ask_shift)) +
    impact), minus the ask (ceil(x) == -floor(-x) exactly, and IEEE rounding is
    symmetric in sign). Rounding is monotone, so the best quote of a side is the
    maker with the highest keenness's quote.

    Args:
        base: (2, steps) float64 cents: low_k and -high_k.
        keen: (makers, 2, steps) or (2, steps) float64 ticks, from :func:`keenness`.
        signed_impact: (2, 1) float64 cents: impact and -impact; None for no impact.

    Returns:
        A new float64 array shaped like ``keen``: bids and minus asks in whole cents,
        -inf for a side not shown.
    """
    q = base + keen
    if signed_impact is not None:
        q += signed_impact
    return np.floor(q, out=q)


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
        half = half_spread_path(ctx, self.k_lo, k_hi)
        self.base = np.vstack([self.cents - half, -(self.cents + half)])  # low, -high
        self.last = n - 1

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
                self.agents.append(ctx.ledger.register(name))
                self.venue_of.append(venue)
                self.draws.append(d)
                self.width.append(d.uniform() * cfg.width_ticks)
                offsets.append(offset_path(draws_for("agent", name, "offset").generator, n,
                                           per_second, cfg.offset_ticks, cfg.offset_reversion_s))
        self.signed_offsets = np.empty((len(offsets), 2, n), dtype=np.float32)
        for i, o in enumerate(offsets):
            self.signed_offsets[i, 0] = o
            np.negative(o, out=self.signed_offsets[i, 1])
        m = len(self.agents)
        self.bid_qty = [self._size(i) for i in range(m)]
        self.ask_qty = [self._size(i) for i in range(m)]
        self._due: list[tuple[int, int, int]] = []  # (step, maker, side) refills
        self._skew_per_share = cfg.inventory_skew_ticks / cfg.inventory_unit
        self._skew = [0.0] * m  # inventory skew in ticks, as of the last repricing
        self._shifts = np.zeros((m, 2, 1))  # bid shift, minus ask shift (ticks)
        self._impact = np.zeros((2, 1))  # impact, minus impact (cents)
        self._signed_impact: np.ndarray | None = None  # _impact, None while impact is 0
        self._moved = False  # a position changed since the last repricing
        self._stale = True  # shown sides or skews changed since the shifts were built
        self._window_lo = 0  # the first step of the last quotes() and its results
        self._window: np.ndarray | None = None
        self._window_keen = self._window
        self._col_j = -1  # the step of _col / _keen (-1: none)
        self._col: list[list[float]] = []  # every maker's [bids, minus asks] at _col_j
        self._keen = np.zeros((m, 2))  # every maker's keenness at _col_j

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
        """Read positions (if any moved) and impact as at step j: the start of a pass."""
        if self._moved:
            shares, k = self.ctx.ledger.shares, self._skew_per_share
            self._skew = [k * shares[a] for a in self.agents]
            self._moved = False
            self._stale = True
        ic = self._impact_cents(j)
        self._signed_impact = None
        if ic:
            self._impact[0, 0] = ic
            self._impact[1, 0] = -ic
            self._signed_impact = self._impact
        self._window = None
        self._col_j = -1

    def _show(self) -> None:
        """Rebuild the shifts of the sides shown (-inf for a side not shown)."""
        width, skew, inf = self.width, self._skew, math.inf
        self._shifts[:, 0, 0] = [(-w - s) if q > 0 else -inf
                                 for w, s, q in zip(width, skew, self.bid_qty, strict=True)]
        self._shifts[:, 1, 0] = [-(w - s) if q > 0 else -inf
                                 for w, s, q in zip(width, skew, self.ask_qty, strict=True)]
        self._stale = False
        self._window = None
        self._col_j = -1

    def _impact_cents(self, j: int) -> float:
        impact = self.ctx.impact
        if impact.level == 0.0:
            return 0.0
        decay = math.exp((impact.last_ns - self.times.item(j)) / impact.decay_ns)
        return self.cents.item(j) * impact.level * decay

    # --- prices: every view comes from keenness and quote_cents --------------
    def quotes(self, a: int, b: int) -> np.ndarray:
        """Every maker's quotes at steps a..b-1 in the current state, (makers, 2, b - a)
        float64 whole cents: [:, 0] the bids, [:, 1] minus the asks; -inf for a side not
        shown. Kept (with the keenness) for the views at one step until the state moves."""
        if self._stale:
            self._show()
        keen = keenness(self.signed_offsets[:, :, a:b], self._shifts)
        q = quote_cents(self.base[:, a:b], keen, self._signed_impact)
        self._window_lo, self._window, self._window_keen = a, q, keen
        self._col_j = -1
        return q

    def _column(self, j: int) -> list[list[float]]:
        """Every maker's quotes at step j as [bids, minus asks] lists (their keenness in
        ``_keen``): from the last :meth:`quotes` if it covers j and the state has not
        moved since, else from :meth:`quotes` over (j, j + 1)."""
        if self._stale:
            self._show()
        if self._col_j != j:
            k = j - self._window_lo
            if self._window is None or not 0 <= k < self._window.shape[2]:
                self.quotes(j, j + 1)
                k = 0
            self._col = self._window[:, :, k].T.tolist()
            self._keen = self._window_keen[:, :, k]
            self._col_j = j
        return self._col

    def best_path(self, a: int, b: int, book_bid: int, book_ask: int
                  ) -> tuple[list[float], list[float]]:
        """Reprice, then the best maker bid and ask after :func:`slide_bounds` at steps a,
        a + 1, ... up to b - 1, or up to (without) the first step where a maker picks
        off a book order.

        ``book_bid`` / ``book_ask``: the best book order prices (cents; NO_BID / NO_ASK),
        fixed through the pass. Returns two equally long lists of whole cents (floats,
        -inf / inf where no maker shows that side); shorter than b - a when a pick-off is
        due at step a + len (the venues then call :meth:`pick_off` there).
        """
        self._reprice(b - 1)  # impact as at the pass's last step, where the venues stop
        best = self.quotes(a, b).max(axis=0)
        bids, neg_asks = best.tolist()
        asks = [-y for y in neg_asks]
        if not bids:
            return bids, asks
        top_bid, low_ask = max(bids), min(asks)
        if top_bid >= book_ask or low_ask <= book_bid:
            n = next(k for k, (x, y) in enumerate(zip(bids, asks, strict=True))
                     if x >= book_ask or y <= book_bid)
            del bids[n:], asks[n:]
        if low_ask <= top_bid:
            # Only an ask at or below the best bid can slide: asks are above the book
            # bid and bids below the book ask (the pass stops before a pick-off).
            asks = [y if y > x else max(y, slide_bounds(x, book_bid, book_ask)[1])
                    for x, y in zip(bids, asks, strict=True)]
        return bids, asks

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
            side, row, limit = BUY, 0, bid
        elif -neg_ask <= book_bid:
            side, row, limit = SELL, 1, -neg_ask
        else:
            return None
        self._moved = True
        return int(self._keen[:, row].argmax()), side, int(limit)

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

