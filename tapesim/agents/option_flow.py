"""Option order flow: retail, institutional packages, benign sweeps and hedgers.

Each class is one population (its arrivals are one SimPy process, see
``tapesim.sim.population``): ``rate(now)`` is its intensity per second and ``act()``
what one arriving member does. Contract choice concentrates activity near the money
and near expiry, so most listed contracts quote but rarely trade.

* :class:`RetailOptions` buys short-dated, mostly out-of-the-money contracts in
  small lots (0DTE churn on index-like ETFs), and sells what it holds to close;
  some fills get a penny of price improvement inside the spread.
* :class:`ComplexOrders` trades packages (verticals, straddles, strangles,
  calendars, rolls) against a maker, every leg near its mid, so the package prints
  near its net mid with the COMPLEX (and for spreads SPREAD) condition.
* :class:`Sweeps` sends intermarket-sweep (ISO) children to every venue showing
  the contract, best-priced venues first, a millisecond or so apart, walking up to
  two ticks through the book.
* :class:`Hedgers` buy protective puts and sell covered calls, in blocks, mostly
  negotiated near the mid.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from itertools import accumulate
from statistics import NormalDist

import numpy as np
import simpy

from tapesim.agents.context import MarketContext
from tapesim.agents.option_quotes import REGULAR_SESSION_MINUTES, Chain, t_years_of
from tapesim.config.options import OptionFlowConfig
from tapesim.events.enrichment import CONDITION_BIT
from tapesim.sim.floats import ordered_sum
from tapesim.sim.rng import Draws
from tapesim.venues.book import BUY, SELL
from tapesim.venues.chains import NICKEL_FROM_CENTS
from tapesim.venues.options import OptionVenues

_NORMAL = NormalDist()
FILL = CONDITION_BIT["FILL"]
LONG_DAYS = 60  # calendar days to expiry beyond which an expiry counts as long-dated
ISO_SWEEP = CONDITION_BIT["SWEEP"] | CONDITION_BIT["ISO"]
COMPLEX = CONDITION_BIT["COMPLEX"]
SPREAD = CONDITION_BIT["SPREAD"]


@dataclass
class OptionDesk:
    """What option flow sees: the stock's context, the chain and its venues."""

    ctx: MarketContext
    chain: Chain
    venues: OptionVenues
    cfg: OptionFlowConfig
    sync: Callable[[int], None]  # bring stock and options up to a time

    def __post_init__(self) -> None:
        chain = self.chain
        self.by_expiry = [[np.flatnonzero((chain.expiry_index == e) & (chain.is_call == call))
                           for call in (False, True)] for e in range(len(chain.expiry_dates))]
        # The same per expiry and right as Python lists (strikes ascending), for the
        # nearest-strike search each order makes.
        self._strikes = [[chain.strike[i].tolist() for i in rights] for rights in self.by_expiry]
        self._contracts = [[i.tolist() for i in rights] for rights in self.by_expiry]
        self.dte = [(d - chain.today).days for d in chain.expiry_dates]
        # Cumulative expiry weights and their total per (scale_days, max_days, min_days):
        # the same every call, so summed once (in the order :meth:`expiry` reads them).
        self._cumulative: dict[tuple[float, int, int], tuple[list[float], float]] = {}
        self.next_parent = 1
        self._t_now = -1  # the instant (ns) of the times to expiry in _t_of
        self._t_of: dict[int, float] = {}  # contract -> its time to expiry (years)

    def activity(self, now_ns: int) -> float:
        """Option flow's arrival-rate multiplier at ``now_ns`` (ns since the open): the
        symbol's ``option_activity`` times the shard's multiplier
        (:meth:`MarketContext.activity`: the symbol's ``activity`` times its activity
        path, mean 1)."""
        return self.ctx.symbol.option_activity * self.ctx.activity(now_ns)

    def spot(self) -> float:
        """The underlying's price in dollars as option flow sees it: the stock's NBBO mid
        (cents / 100) while the NBBO is two-sided, else the latent value at the open
        (grid step 0)."""
        venues = self.ctx.venues
        return venues.mid() / 100.0 if venues.two_sided() else float(self.ctx.latent.value[0])

    def expiry(self, d: Draws, scale_days: float, max_days: int, zero_dte: float = 0.0,
               min_days: int = 0) -> int:
        """An expiry index: today's with probability ``zero_dte`` (if listed), else weighted
        towards the front by exp(-days / scale_days) over the expiries more than
        ``min_days`` and at most ``max_days`` calendar days out (the first expiry if none
        is)."""
        if zero_dte > 0 and self.dte[0] == 0 and d.chance(zero_dte):
            return 0
        key = (scale_days, max_days, min_days)
        cached = self._cumulative.get(key)
        if cached is None:
            weights = [math.exp(-t / scale_days) if max(min_days, 0) < t <= max_days else 0.0
                       for t in self.dte]
            cached = self._cumulative[key] = (list(accumulate(weights)), ordered_sum(weights))
        cumulative, total = cached
        if total == 0:
            return 0
        # the first expiry whose cumulative weight exceeds u (the last if rounding leaves none)
        e = bisect_right(cumulative, d.uniform() * total)
        return min(e, len(cumulative) - 1)

    def contract(self, e: int, call: bool, z: float) -> int:
        """The listed contract of expiry e and right nearest to z standard deviations
        from the money."""
        chain = self.chain
        spot = self.spot()
        now = int(self.ctx.env.now)
        if self._t_now != now:  # times to expiry held for one instant (a replay's all)
            self._t_now, self._t_of = now, {}
        i = self._contracts[e][int(call)][0]
        t = self._t_of.get(i)
        if t is None:
            t = self._t_of[i] = t_years_of(chain, i, now / 60e9)
        target = spot * math.exp(z * chain.annual_vol * math.sqrt(max(t, 1e-6)))
        return self._nearest(e, call, target)

    def contract_at(self, e: int, call: bool, moneyness: float) -> int:
        """The listed contract of expiry e and right with the strike nearest
        spot x (1 + ``moneyness``): a strike set as a share of the price, as a hedge's
        loss floor or a covered call's cap is."""
        return self._nearest(e, call, self.spot() * (1.0 + moneyness))

    def _nearest(self, e: int, call: bool, target: float) -> int:
        """The contract of expiry e and right (strikes ascending) whose strike is nearest
        ``target`` dollars (the lower on a tie)."""
        strikes = self._strikes[e][int(call)]
        k = min(bisect_left(strikes, target), len(strikes) - 1)
        if k > 0 and abs(strikes[k - 1] - target) < abs(strikes[k] - target):
            k -= 1
        return self._contracts[e][int(call)][k]

    def tick(self, price: int) -> int:
        """The contract's MPV in cents at a price in cents: the chain's ``Mpv.tick_cents``
        of one price (``below_cents`` under $3, ``above_cents`` at or above) without its
        array round trip."""
        mpv = self.chain.mpv
        return mpv.above_cents if price >= NICKEL_FROM_CENTS else mpv.below_cents

    def mid_price(self, c: int) -> int:
        """The NBBO mid on the contract's price grid (at least one tick)."""
        nb = self.venues.nbbo
        bid, ask = int(nb.nbb[c]), int(nb.nbo[c])
        mid = (bid + ask) / 2.0
        tick = self.tick(int(mid))
        return max(round(mid / tick) * tick, tick)

    def parent(self) -> int:
        """A fresh parent order id for this underlying's options: 1, 2, ... in order of
        request, one counter shared by the flow and injected scenarios. A package's legs
        and a sweep's children share one; a single order passes none (-1)."""
        self.next_parent += 1
        return self.next_parent - 1

    def sweep(self, agent: int, d: Draws, c: int, side: int, qty: int, conditions: int,
              parent: int, levels: int,
              acting: Callable[[], AbstractContextManager[None]] = nullcontext,
              ) -> Generator[simpy.Event, None, None]:
        """ISO children, price level by price level: at each level (the touch, then a tick
        worse, ...) one child to every venue showing that price, a fraction of a
        millisecond apart; so no child trades at a price worse than one still displayed
        elsewhere, except venues being swept at the same level. ``acting`` wraps each
        child (an injected scenario marks what its children cause)."""
        venues = self.venues
        nb = venues.nbbo
        touch = int(nb.nbo[c]) if side == BUY else int(nb.nbb[c])
        if touch <= 0:
            return
        tick = self.tick(touch)
        first = True
        for level in range(levels):
            limit = touch + level * tick if side == BUY else touch - level * tick
            if limit <= 0:
                return
            for venue in venues.venues_by_price(c, side, limit):
                if qty <= 0:
                    return
                if not first:
                    yield self.ctx.env.timeout(int(d.exponential() * 300_000) + 1)
                    self.sync(self.ctx.env.now)
                first = False
                with acting():
                    qty -= venues.take(agent, c, side, qty, limit, conditions, parent,
                                       venue=venue)


def replayed_volume(populations: Sequence[OptionPopulation], draws_for: Callable[..., Draws],
                    sessions: float) -> np.ndarray:
    """Contracts traded per listed contract (int64, chain order) by ``sessions`` regular
    sessions (390 minutes each) of ``populations``' choices, replayed without trading:
    each population's members arrive at its base rate times the symbol's
    ``option_activity`` and ``activity`` (the activity path has mean 1), that many
    rounded, and each member's legs (:meth:`OptionPopulation.choose`, at the current time
    and spot, from the stream ``("agent", AGENT, "replay")``) count at their size. The
    desk's venues and ledger are left as they are."""
    if not populations:
        return np.zeros(0, dtype=np.int64)
    desk = populations[0].desk
    out = np.zeros(desk.chain.size, dtype=np.int64)
    symbol = desk.ctx.symbol
    session_s = REGULAR_SESSION_MINUTES * 60.0
    for pop in populations:
        d = draws_for("agent", pop.AGENT, "replay")
        arrivals = pop.per_second() * symbol.option_activity * symbol.activity * session_s
        for _ in range(round(arrivals * sessions)):
            legs, qty = pop.choose(d)
            for c, _side in legs:
                out[c] += qty
    return out


def _lots(d: Draws, low: int, high: int, alpha: float) -> int:
    """A Pareto(alpha) size from ``low``, capped at ``high``."""
    return min(int(low * (1.0 - d.uniform()) ** (-1.0 / alpha)), high)


class OptionPopulation:
    """One option-flow population: its own agent and random stream, arriving at
    :meth:`per_second` times the underlying's option activity."""

    AGENT = ""

    def __init__(self, desk: OptionDesk, draws_for: Callable[..., Draws]) -> None:
        self.desk = desk
        self.agent = desk.ctx.ledger.register(self.AGENT)
        self.draws = draws_for("agent", self.AGENT)

    def per_second(self) -> float:
        """The population's base arrivals per second, before any activity multiplier
        (each subclass reads its rate from ``options.flow``).

        Raises:
            NotImplementedError: always, here.
        """
        raise NotImplementedError

    def rate(self, now_ns: int) -> float:
        """Arrivals per second at ``now_ns`` (ns since the open): :meth:`per_second` times
        :meth:`OptionDesk.activity` (the symbol's ``option_activity`` and the shard's
        activity multiplier)."""
        return self.per_second() * self.desk.activity(now_ns)

    def choose(self, d: Draws) -> tuple[list[tuple[int, int]], int]:
        """What one arriving member trades: its legs (contract, side: ``BUY`` or ``SELL``
        before any flip) and the contracts per leg, drawn from ``d``; :meth:`act` trades
        them and :func:`expected_volume` counts them.

        Raises:
            NotImplementedError: always, here.
        """
        raise NotImplementedError


class RetailOptions(OptionPopulation):
    """Retail option traders of one underlying."""

    AGENT = "retail-options"

    def __init__(self, desk: OptionDesk, draws_for: Callable[..., Draws]) -> None:
        super().__init__(desk, draws_for)
        self.call_share = (desk.cfg.etf_call_share if desk.ctx.symbol.is_etf
                           else desk.cfg.retail_call_share)

    def per_second(self) -> float:
        """``options.flow.retail_per_s``: retail orders per second, before scaling."""
        return self.desk.cfg.retail_per_s

    def choose(self, d: Draws) -> tuple[list[tuple[int, int]], int]:
        """One retail order's contract, bought, and its size. Expiry: with probability
        ``long_dated_share`` one more than 60 days out, weighted exp(-days / 180) (LEAPS
        calls bought as stock replacement, puts as insurance); else today's with
        probability ``zero_dte_share`` when a 0DTE expiry is listed, else weighted
        exp(-days / 6) up to 45 days. A call with the call share (``etf_call_share`` on
        ETFs, else ``retail_call_share``), out of the money at |0.3 + 0.55 N(0, 1)|
        standard deviations, or with one chance in ten a lottery ticket: a delta of
        0.02-0.10, uniformly, i.e. 1.3-2.1 standard deviations out (the cheap contracts
        retail buys for a move, not strikes no move reaches). Size: Pareto(1.1) from 1,
        capped at 200 contracts."""
        desk, cfg = self.desk, self.desk.cfg
        if d.chance(cfg.long_dated_share):
            e = desk.expiry(d, scale_days=180.0, max_days=1_000, min_days=LONG_DAYS)
        else:
            e = desk.expiry(d, scale_days=6.0, max_days=45, zero_dte=cfg.zero_dte_share)
        call = d.chance(self.call_share)
        z = abs(0.3 + 0.55 * d.normal())
        if d.chance(0.1):  # a lottery ticket far out of the money: delta 0.02-0.10
            z = -_NORMAL.inv_cdf(0.02 + 0.08 * d.uniform())
        c = desk.contract(e, call, z if call else -z)
        return [(c, BUY)], _lots(d, 1, 200, 1.1)

    def act(self) -> None:
        """One retail order (contract and size from :meth:`choose`). Long the contract, it
        sells (to close, at most what it holds) unless a ``retail_buy_share`` draw says
        buy; otherwise it buys. With ``improve_share`` and a spread of at least two ticks
        it is filled one tick inside the touch against a maker slot drawn uniformly (a
        price-improvement auction); else it takes the touch (IOC). Condition FILL;
        nothing when the touch is not positive (no bid to sell to)."""
        desk, d, cfg = self.desk, self.draws, self.desk.cfg
        legs, qty = self.choose(d)
        c = legs[0][0]
        held = int(desk.venues.ledger.account(self.agent)[c])
        side = SELL if held > 0 and not d.chance(cfg.retail_buy_share) else BUY
        if side == SELL:
            qty = min(qty, held)
        nb = desk.venues.nbbo
        bid, ask = int(nb.nbb[c]), int(nb.nbo[c])
        touch = ask if side == BUY else bid
        if touch <= 0:
            return
        tick = desk.tick(touch)
        if ask - bid >= 2 * tick and d.chance(cfg.improve_share):  # a price-improvement auction
            makers = desk.venues.makers
            slot = d.below(makers.n_slots)
            price = touch - tick if side == BUY else touch + tick
            desk.venues.cross(self.agent, c, side, qty, price, int(makers.slot_maker[slot]),
                              int(makers.slot_venue[slot]), FILL)
        else:
            desk.venues.take(self.agent, c, side, qty, touch, FILL)


class ComplexOrders(OptionPopulation):
    """Institutional multi-leg packages traded against a maker near the net mid."""

    STRUCTURES = ("vertical", "straddle", "strangle", "calendar", "roll")

    AGENT = "institutional-options"

    def per_second(self) -> float:
        """``options.flow.complex_per_hour`` / 3600: packages per second, before scaling."""
        return self.desk.cfg.complex_per_hour / 3600.0

    def _legs(self, d: Draws, kind: str) -> list[tuple[int, int]]:
        """(contract, side) per leg of the package, the first leg bought. Expiry: 0DTE with
        half the ``zero_dte_share`` when listed, else weighted exp(-days / 40) over the
        whole listing (a year and more out for calendars, rolls and LEAPS spreads)."""
        desk = self.desk
        e = desk.expiry(d, scale_days=40.0, max_days=1_000, zero_dte=desk.cfg.zero_dte_share / 2)
        call = d.chance(0.5)
        z = 0.3 + 0.7 * d.uniform()
        if kind == "vertical":
            near = desk.contract(e, call, 0.0)
            far = desk.contract(e, call, z if call else -z)
            return [(near, BUY), (far, SELL)] if near != far else [(near, BUY)]
        if kind == "straddle":
            return [(desk.contract(e, True, 0.0), BUY), (desk.contract(e, False, 0.0), BUY)]
        if kind == "strangle":
            return [(desk.contract(e, True, z), BUY), (desk.contract(e, False, -z), BUY)]
        later = min(e + 1 + d.below(3), len(desk.dte) - 1)
        first, second = desk.contract(e, call, 0.0), desk.contract(later, call, 0.0)
        if kind == "calendar":
            return [(second, BUY), (first, SELL)] if first != second else [(first, BUY)]
        return [(first, SELL), (second, BUY)] if first != second else [(first, SELL)]  # roll

    def choose(self, d: Draws) -> tuple[list[tuple[int, int]], int]:
        """One package's legs: a structure drawn uniformly from :attr:`STRUCTURES` (legs
        from :meth:`_legs`), Pareto(1.3) from 10 capped at 1000 contracts per leg."""
        legs = self._legs(d, self.STRUCTURES[d.below(len(self.STRUCTURES))])
        return legs, _lots(d, 10, 1000, 1.3)

    def act(self) -> None:
        """One package (legs and size from :meth:`choose`), sold instead of bought with
        probability 0.4. Every leg crosses against one maker slot drawn uniformly, at its
        NBBO mid on the MPV grid (:meth:`OptionDesk.mid_price`), under one parent id;
        conditions COMPLEX, plus SPREAD when it buys one leg and sells another (verticals,
        calendars and rolls)."""
        desk, d = self.desk, self.draws
        legs, qty = self.choose(d)
        flip = d.chance(0.4)  # the package is sold rather than bought
        makers = desk.venues.makers
        slot = d.below(makers.n_slots)
        maker, venue = int(makers.slot_maker[slot]), int(makers.slot_venue[slot])
        spread = len({side for _, side in legs}) > 1  # one leg bought, another sold
        conditions = COMPLEX | (SPREAD if spread else 0)
        parent = desk.parent()
        for c, side in legs:
            side = -side if flip else side
            desk.venues.cross(self.agent, c, side, qty, desk.mid_price(c), maker, venue,
                              conditions, parent)


class Sweeps(OptionPopulation):
    """Benign intermarket sweeps: ISO children to every venue showing the contract."""

    AGENT = "sweep-options"

    def per_second(self) -> float:
        """``options.flow.sweeps_per_hour`` / 3600: sweeps per second, before scaling."""
        return self.desk.cfg.sweeps_per_hour / 3600.0

    def choose(self, d: Draws) -> tuple[list[tuple[int, int]], int]:
        """One sweep's contract and size. Expiry: 0DTE with ``zero_dte_share`` when listed,
        else weighted exp(-days / 7) up to 30 days; a call with probability 0.55, at
        0.8 N(0, 1) standard deviations from the money; Pareto(1.5) from 50, capped at
        2000 contracts."""
        desk = self.desk
        e = desk.expiry(d, scale_days=7.0, max_days=30, zero_dte=desk.cfg.zero_dte_share)
        call = d.chance(0.55)
        c = desk.contract(e, call, 0.8 * d.normal())
        return [(c, BUY)], _lots(d, 50, 2000, 1.5)

    def act(self) -> None:
        """Start one sweep (contract and size from :meth:`choose`), a buy with probability
        0.6. The children go out in their own SimPy process (:meth:`OptionDesk.sweep`, ISO
        and SWEEP, up to three price levels, one parent id), so this returns before they
        trade."""
        desk, d = self.desk, self.draws
        legs, qty = self.choose(d)
        c = legs[0][0]
        side = BUY if d.chance(0.6) else SELL
        desk.ctx.env.process(self._children(c, side, qty, desk.parent()))

    def _children(self, c: int, side: int, qty: int,
                  parent: int) -> Generator[simpy.Event, None, None]:
        yield from self.desk.sweep(self.agent, self.draws, c, side, qty, ISO_SWEEP, parent,
                                   levels=3)


class Hedgers(OptionPopulation):
    """Institutions buying protective puts and writing covered calls."""

    AGENT = "hedger-options"

    def per_second(self) -> float:
        """``options.flow.hedgers_per_hour`` / 3600 (``index_hedgers_per_hour`` on
        index-like roots): hedges per second, before scaling."""
        cfg = self.desk.cfg
        return (cfg.index_hedgers_per_hour if self.desk.chain.index_like
                else cfg.hedgers_per_hour) / 3600.0

    def choose(self, d: Draws) -> tuple[list[tuple[int, int]], int]:
        """One hedge's contract, side and size. Expiry weighted exp(-days / 120) over the
        whole listing (LEAPS included). With probability 0.6 it buys a protective put
        with its floor 3-20% below spot, else writes (sells) a covered call with its cap
        2-10% above, uniformly: a hedge's strike is set as a share of the position's value,
        whatever the name's volatility (Cboe's benchmarks: PPUT buys 5% out-of-the-money
        puts, CLL collars a 5% put with a 10% call, BXY writes 2% calls; tail hedges go
        to 20% and beyond). Pareto(1.4) from 20, capped at 2000 contracts."""
        desk = self.desk
        e = desk.expiry(d, scale_days=120.0, max_days=1_000)
        protect = d.chance(0.6)
        u = d.uniform()
        c = (desk.contract_at(e, False, -(0.03 + 0.17 * u)) if protect
             else desk.contract_at(e, True, 0.02 + 0.08 * u))
        return [(c, BUY if protect else SELL)], _lots(d, 20, 2000, 1.4)

    def act(self) -> None:
        """One hedge (contract, side and size from :meth:`choose`). Seven times in ten it
        crosses at the NBBO mid on the MPV grid against a maker slot drawn uniformly;
        otherwise it takes the touch (IOC), nothing when the touch is not positive.
        Condition FILL."""
        desk, d = self.desk, self.draws
        legs, qty = self.choose(d)
        c, side = legs[0]
        if d.chance(0.7):
            makers = desk.venues.makers
            slot = d.below(makers.n_slots)
            desk.venues.cross(self.agent, c, side, qty, desk.mid_price(c),
                              int(makers.slot_maker[slot]), int(makers.slot_venue[slot]), FILL)
        else:
            nb = desk.venues.nbbo
            touch = int(nb.nbo[c]) if side == BUY else int(nb.nbb[c])
            if touch > 0:
                desk.venues.take(self.agent, c, side, qty, touch, FILL)
