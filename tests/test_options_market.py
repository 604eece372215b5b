"""Properties of the simulated options market, checked on live state and emitted streams.

* OPRA consolidation: every OptionNBBO the venues publish is the best of the slot
  quotes being made current (and only changes are published), before and after fills;
  every slot quote sits on its contract's price grid.
* Enrichment: every derived OptionPrint field equals a recomputation from the
  OptionNBBO and EquityQuote streams of the same run.
* Static arbitrage on the NBBO mids of the SPY chain, with tolerances derived from
  the makers' documented quoting rules.
* Ledgers: hedging conserves shares and cash, the option ledger contracts and
  premium, and the hedges really trade.
* Opening/closing tags replayed from the run's open interest.
* Intermarket sweeps: one child per venue, milliseconds apart, starting at the best
  venue and never trading through a price the sweep leaves standing.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tapesim.agents.option_makers import MAX_SKEW_TICKS, OptionMakers
from tapesim.config.run import RunConfig, with_overrides
from tapesim.events.enrichment import signal_filter
from tapesim.market.options import PUBLIC_LONG_SHARES, WRITERS
from tapesim.runs import simulate_shard
from tapesim.venues.book import BUY, NO_ASK
from tapesim.venues.option_tape import OptionTape
from tapesim.venues.options import OptionVenues
from tapesim.venues.tape import PRINT, read_spool
from tests.conftest import tiny_options_config

SYMBOLS = ("SPY", "AAPL")
PENNY_ROOTS = frozenset({"SPY", "QQQ", "IWM"})  # quoted in pennies at every price (all-penny)
NICKEL_FROM = 300  # cents: elsewhere the MPV is $0.05 at or above $3
MAX_QUOTE_AGE_MS = 1500
ETFS = frozenset({"SPY", "QQQ", "IWM", "DIA", "TLT", "GLD", "SLV", "SMH", "ARKK"})
SWEEP_SPAN_MS = 10  # children go out a millisecond or so apart


def mpv(root: str, cents: int) -> int:
    """The minimum price variation (cents) of a contract at a price level."""
    return 1 if root in PENNY_ROOTS or cents < NICKEL_FROM else 5


def best_quotes(bid: np.ndarray, ask: np.ndarray, bid_size: np.ndarray,
                ask_size: np.ndarray) -> np.ndarray:
    """[nbb, nbo, nbb size, nbo size] per contract from [slot, contract] quotes: the best
    bid among slots showing a bid (> 0 with size), the sizes at it summed; the best ask
    among slots showing size, likewise. No bid is 0 x 0, no ask NO_ASK x 0."""
    shows_bid = (bid > 0) & (bid_size > 0)
    nbb = np.where(shows_bid, bid, 0).max(axis=0)
    nbb_size = np.where(shows_bid & (bid == nbb), bid_size, 0).sum(axis=0)
    shows_ask = ask_size > 0
    nbo = np.where(shows_ask, ask, NO_ASK).min(axis=0)
    nbo_size = np.where(shows_ask & (ask == nbo), ask_size, 0).sum(axis=0)
    return np.stack([nbb, nbo, nbb_size, nbo_size]).astype(np.int64)


def grid_problems(root: str, bid: np.ndarray, ask: np.ndarray) -> list[str]:
    """Slot quotes off the contract's grid, negative, or not strictly two-sided."""
    problems = []
    if (bid < 0).any():
        problems.append(f"{root}: negative bid {int(bid.min())}")
    if (ask <= bid).any():
        problems.append(f"{root}: slot quote not two-sided: {bid[ask <= bid][:3]} x "
                        f"{ask[ask <= bid][:3]}")
    if root not in PENNY_ROOTS:
        off = np.concatenate([bid[(bid >= NICKEL_FROM) & (bid % 5 != 0)],
                              ask[(ask >= NICKEL_FROM) & (ask % 5 != 0)]])
        if off.size:
            problems.append(f"{root}: prices off the nickel grid: {off[:5].tolist()}")
    return problems


# --- a traced simulation: live consolidation state and sweep children ----------------

Row = tuple[int, ...]  # (time ns, contract, nbb, nbo, nbb size, nbo size)


@dataclass
class Child:
    """One ISO child of a sweep, with every venue's best price before it."""

    parent: int
    now: int
    venue: int
    buy: bool
    touch: int  # the NBBO on the side taken, before the child
    best: dict[int, int]  # venue -> best displayed price on the side taken
    prints: list[tuple[int, int, int]] = field(default_factory=list)  # (price, size, venue)


@dataclass
class Trace:
    symbol: str
    nbbo_problems: list[str] = field(default_factory=list)
    fill_problems: list[str] = field(default_factory=list)
    grid_problems: list[str] = field(default_factory=list)
    emissions: int = 0
    refills: int = 0
    slot_quotes: int = 0
    children: list[Child] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Trace({self.symbol})"


class Tracer:
    """Wraps the option venues to check consolidation as it happens and log sweeps."""

    def __init__(self) -> None:
        self.trace = Trace("")
        self.emitted: list[Row] = []
        self.child: Child | None = None

    def install(self, mp: pytest.MonkeyPatch) -> None:
        nbbos, nbbo, apply = OptionTape.nbbos, OptionTape.nbbo, OptionVenues._apply
        republish, take, print_ = (OptionVenues._republish, OptionVenues.take,
                                   OptionVenues._print)

        def traced_nbbos(tape: OptionTape, times: Any, contracts: Any, *values: Any,
                         causes: Any = None) -> None:
            quoted = values[:4]  # bids, asks, bid sizes, ask sizes (then the causes)
            cols = [np.asarray(times), np.asarray(contracts), *map(np.asarray, quoted)]
            self.emitted += [tuple(int(v) for v in r) for r in zip(*cols, strict=True)]
            nbbos(tape, times, contracts, *values) if causes is None else nbbos(
                tape, times, contracts, *quoted, causes=causes)

        def traced_apply(venues: OptionVenues, block: Any, a: int, b: int) -> None:
            expected = self._expected_rows(venues, block, a, b)
            self.emitted = []
            apply(venues, block, a, b)
            self._compare(venues, expected)

        def traced_republish(venues: OptionVenues, c: int) -> None:
            before = np.array([x[c] for x in venues.nbbo])
            self.emitted = []
            republish(venues, c)
            self._check_refill(venues, c, before)

        def traced_take(venues: OptionVenues, agent: int, c: int, side: int, qty: int,
                        limit: int, conditions: int, parent: int = -1, venue: int = -1) -> int:
            if venue < 0:
                return take(venues, agent, c, side, qty, limit, conditions, parent, venue)
            self.child = self._child(venues, c, side, parent, venue)
            try:
                return take(venues, agent, c, side, qty, limit, conditions, parent, venue)
            finally:
                self.trace.children.append(self.child)
                self.child = None

        def traced_print(venues: OptionVenues, c: int, price: int, qty: int, venue: int,
                         *rest: Any) -> None:
            if self.child is not None:
                self.child.prints.append((price, qty, venue))
            print_(venues, c, price, qty, venue, *rest)

        def traced_nbbo(tape: OptionTape, now: int, c: int, *quote: int) -> bool:
            self.emitted.append((now, c, *quote[:4]))
            return nbbo(tape, now, c, *quote)

        mp.setattr(OptionTape, "nbbos", traced_nbbos)
        mp.setattr(OptionTape, "nbbo", traced_nbbo)
        mp.setattr(OptionVenues, "_apply", traced_apply)
        mp.setattr(OptionVenues, "_republish", traced_republish)
        mp.setattr(OptionVenues, "take", traced_take)
        mp.setattr(OptionVenues, "_print", traced_print)

    def _expected_rows(self, venues: OptionVenues, block: Any, a: int, b: int) -> list[Row]:
        """The NBBO rows the grid steps a..b must publish: each (step, contract) whose best
        quote over the slot quotes made current differs from the one before it."""
        held = np.stack([x.copy() for x in venues.nbbo])  # [field, contract]
        root = self.trace.symbol
        r0, r1 = a - block.first, b - block.first + 1
        parts = []
        if r0 == 0 and block.slow_slots is not None:
            parts.append((block.slow, block.slow_slots, [0]))
        if block.idx.size:
            parts.append((block.idx, block.slots, range(r0, r1)))
        rows: list[Row] = []
        for idx, slots, steps in parts:
            for r in steps:
                quotes = [x[:, 0, :] for x in slots.window(r, r + 1)]
                self.trace.grid_problems += grid_problems(root, quotes[0], quotes[1])
                self.trace.slot_quotes += quotes[0].size
                best = best_quotes(*quotes)
                changed = (best != held[:, idx]).any(axis=0)
                t = int(block.times[r])
                rows += [(t, int(c), *(int(v) for v in best[:, j]))
                         for j, c in zip(np.flatnonzero(changed), idx[changed], strict=True)]
                held[:, idx] = best
        return rows

    def _compare(self, venues: OptionVenues, expected: list[Row]) -> None:
        trace, got = self.trace, self.emitted
        trace.emissions += len(got)
        if sorted(got) != sorted(expected):
            extra = sorted(set(got) - set(expected))[:3]
            missing = sorted(set(expected) - set(got))[:3]
            trace.nbbo_problems.append(f"published {len(got)} rows, expected {len(expected)}: "
                                       f"unexpected {extra}, missing {missing}")
        times = [r[0] for r in got]
        if times != sorted(times):
            trace.nbbo_problems.append("NBBO rows out of time order")
        for t, c, nbb, nbo, _, nbo_size in got:
            if not nbb < nbo or nbo == NO_ASK or nbo_size <= 0:
                trace.nbbo_problems.append(f"contract {c} at {t}: {nbb} x {nbo} ({nbo_size})")
        self._check_in_force(venues, trace.nbbo_problems)

    def _check_in_force(self, venues: OptionVenues, problems: list[str]) -> None:
        """The NBBO in force equals the best of the slot quotes in force, every contract."""
        s = venues.slots
        best = best_quotes(s.bid, s.ask, s.bid_size, s.ask_size)
        wrong = np.flatnonzero((best != np.stack(list(venues.nbbo))).any(axis=0))
        if wrong.size:
            c = int(wrong[0])
            problems.append(f"{wrong.size} contracts' NBBO in force differs from their slots, "
                            f"e.g. {c}: {[int(x[c]) for x in venues.nbbo]} vs "
                            f"{best[:, c].tolist()}")

    def _check_refill(self, venues: OptionVenues, c: int, before: np.ndarray) -> None:
        trace, problems = self.trace, self.trace.fill_problems
        trace.refills += 1
        s = venues.slots
        best = best_quotes(s.bid[:, c:c + 1], s.ask[:, c:c + 1], s.bid_size[:, c:c + 1],
                           s.ask_size[:, c:c + 1])[:, 0]
        now = np.array([x[c] for x in venues.nbbo])
        if (now != best).any():
            problems.append(f"after a fill contract {c} shows {now.tolist()}, "
                            f"its slots {best.tolist()}")
        want = [] if (best == before).all() else [(venues.now, c, *best.tolist())]
        if self.emitted != want:
            problems.append(f"after a fill on {c} published {self.emitted}, expected {want}")
        if best[1] == NO_ASK:
            problems.append(f"a fill took out the last offer of contract {c}")

    def _child(self, venues: OptionVenues, c: int, side: int, parent: int,
               venue: int) -> Child:
        s, mk = venues.slots, venues.makers
        buy = side == BUY
        prices = s.ask[:, c] if buy else s.bid[:, c]
        sizes = s.ask_size[:, c] if buy else s.bid_size[:, c]
        best: dict[int, int] = {}
        for k in np.flatnonzero((sizes > 0) & (prices > 0)).tolist():
            v, p = int(mk.slot_venue[k]), int(prices[k])
            best[v] = min(best.get(v, p), p) if buy else max(best.get(v, p), p)
        touch = int(venues.nbbo.nbo[c] if buy else venues.nbbo.nbb[c])
        return Child(parent, venues.now, venue, buy, touch, best)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trace]:
    """SPY and AAPL shards of the tiny options run, simulated under the tracer."""
    out = tmp_path_factory.mktemp("traced")
    tracer = Tracer()
    traces = {}
    with pytest.MonkeyPatch.context() as mp:
        tracer.install(mp)
        for symbol in SYMBOLS:
            tracer.trace = Trace(symbol)
            simulate_shard(tiny_options_config(), symbol, out / f"{symbol}.arrow")
            traces[symbol] = tracer.trace
    return traces


# --- 1. OPRA NBBO = the best of the venue (slot) quotes ------------------------------

@pytest.mark.parametrize("symbol", SYMBOLS)
def test_opra_nbbo_is_the_best_of_the_slot_quotes(traced: dict[str, Trace],
                                                  symbol: str) -> None:
    trace = traced[symbol]
    assert trace.nbbo_problems == []
    assert trace.emissions > 1000


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_fills_republish_the_best_of_the_remaining_quotes(traced: dict[str, Trace],
                                                          symbol: str) -> None:
    trace = traced[symbol]
    assert trace.fill_problems == []
    assert trace.refills > 50


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_slot_quotes_sit_on_the_price_grid(traced: dict[str, Trace], symbol: str) -> None:
    trace = traced[symbol]
    assert trace.grid_problems == []
    assert trace.slot_quotes > 20_000


# --- 2. enrichment = a recomputation from the emitted streams ------------------------

def placement(price: float, bid: float | None, ask: float | None, print_ts: int,
              quote_ts: int | None) -> str:
    """The contract's placement rule, in double arithmetic as the pipeline computes it."""
    if bid is None or ask is None or quote_ts is None or not (
            math.isfinite(bid) and math.isfinite(ask) and math.isfinite(price)) or ask <= 0:
        return "MISSING"
    if abs(print_ts - quote_ts) > MAX_QUOTE_AGE_MS:
        return "STALE"
    eps = max(0.01, 0.05 * (ask - bid))
    if price > ask + eps:
        return "AA"
    if price >= ask - eps:
        return "A"
    if price < bid - eps:
        return "BB"
    if price <= bid + eps:
        return "B"
    return "MID"


class Stream:
    """One key's events of a stream (ts ascending): quotes per contract or underlying."""

    def __init__(self, table: pa.Table, key: str, values: list[str]) -> None:
        table = table.sort_by([("ts", "ascending"), ("seq", "ascending")])
        keys = np.asarray(table.column(key).to_pylist(), dtype=object)
        ts = table.column("ts").to_numpy()
        cols = [table.column(v).to_numpy() for v in values]
        self.by_key: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
        for k in np.unique(keys):
            hit = keys == k
            self.by_key[k] = (ts[hit], [c[hit] for c in cols])

    def problems(self, key: str, print_ts: int, quote_ts: int | None,
                 values: tuple[Any, ...]) -> list[str]:
        """The quote a print recorded must be one emitted at ``quote_ts`` with those values,
        and no later one may come before the print; no recorded quote means none came
        before the print."""
        ts, cols = self.by_key.get(key, (np.empty(0, np.int64), []))
        if quote_ts is None:
            return [f"{key}: none recorded at {print_ts} but one was emitted at {ts[0]}"] if (
                ts.size and ts[0] < print_ts) else []
        out = []
        at = np.flatnonzero(ts == quote_ts)
        if not any(all(c[i] == v for c, v in zip(cols, values, strict=True)) for i in at):
            out.append(f"{key}: no quote at {quote_ts} with {values}")
        between = (ts > quote_ts) & (ts < print_ts)
        if between.any():
            out.append(f"{key}: quote at {ts[between][0]} between {quote_ts} and {print_ts}")
        if quote_ts > print_ts:
            out.append(f"{key}: quote at {quote_ts} after the print at {print_ts}")
        return out


def test_print_enrichment_matches_the_emitted_streams(tiny_options_run: Path) -> None:
    run = tiny_options_run
    prints = pq.read_table(run / "option_prints.parquet").to_pylist()
    nbbos = Stream(pq.read_table(run / "option_nbbo.parquet"), "option_contract_id",
                   ["bid", "ask", "bidSize", "askSize"])
    quotes = Stream(pq.read_table(run / "equity_quotes.parquet"), "underlying_id",
                    ["bid", "ask"])
    mode = tiny_options_config().options.signal_mode
    problems: list[str] = []
    sides, checked = [], 0
    for p in prints:
        ts = p["ts"]
        problems += nbbos.problems(p["option_contract_id"], ts, p["execution_nbbo_ts"], (
            p["execution_nbbo_bid"], p["execution_nbbo_ask"], p["execution_nbbo_bid_size"],
            p["execution_nbbo_ask_size"]))
        problems += quotes.problems(p["underlying_id"], ts, p["execution_underlying_ts"],
                                    (p["execution_underlying_bid"],
                                     p["execution_underlying_ask"]))
        checked += p["execution_nbbo_ts"] is not None and p["execution_underlying_ts"] is not None
        bid, ask = p["execution_nbbo_bid"], p["execution_nbbo_ask"]
        if p["execution_nbbo_ts"] is not None:
            derived = (p["execution_nbbo_mid"], p["execution_nbbo_spread"],
                       p["execution_nbbo_age_ms"])
            want = (pytest.approx((bid + ask) / 2), pytest.approx(ask - bid),
                    ts - p["execution_nbbo_ts"])
            if derived != want:
                problems.append(f"{p['trace_id']}: NBBO mid/spread/age {derived}")
        u_bid, u_ask = p["execution_underlying_bid"], p["execution_underlying_ask"]
        if p["execution_underlying_ts"] is not None and (
                p["execution_underlying_mid"] != pytest.approx((u_bid + u_ask) / 2)
                or p["execution_underlying_spot"] != p["execution_underlying_mid"]
                or p["execution_underlying_age_ms"] != ts - p["execution_underlying_ts"]
                or p["execution_underlying_source"] != "equity_quote_mid"):
            problems.append(f"{p['trace_id']}: underlying fields")
        side = placement(p["price"], bid, ask, ts, p["execution_nbbo_ts"])
        sides.append(side)
        if (p["nbbo_side"], p["execution_nbbo_side"]) != (side, side):
            problems.append(f"{p['trace_id']}: placed {p['nbbo_side']}, rule says {side}")
        if p["notional"] != pytest.approx(round(p["price"] * p["size"] * 100, 2), abs=1e-6):
            problems.append(f"{p['trace_id']}: notional {p['notional']}")
        root = p["option_contract_id"].split("-")[0]
        if p["underlying_id"] != root or p["is_etf"] != (root in ETFS or root.startswith("XL")):
            problems.append(f"{p['trace_id']}: underlying / ETF flag")
        if p["execution_iv"] is not None and not p["execution_iv"] >= 0:
            problems.append(f"{p['trace_id']}: execution_iv {p['execution_iv']}")
    passed, reasons = signal_filter(
        [p["notional"] for p in prints], [p["size"] for p in prints], sides,
        [p["is_etf"] for p in prints],
        [bool({"SWEEP", "ISO"} & set(p["conditions"])) for p in prints], mode)
    for p, ok, why in zip(prints, passed.tolist(), reasons, strict=True):
        if (p["signal_pass"], p["signal_reasons"], p["signal_profile"]) != (ok, why, mode):
            problems.append(f"{p['trace_id']}: signal {p['signal_pass']} {p['signal_reasons']}"
                            f" vs {ok} {why}")
    assert problems == []
    assert len(prints) > 300 and checked > 0.9 * len(prints)
    assert {"A", "B", "MID"} <= set(sides)


# --- 3. no static arbitrage on the NBBO mids -----------------------------------------

def contract_key(cid: str) -> tuple[str, str, float, bool]:
    """(root, expiry, strike, is call) of a dashed contract id."""
    root, y, m, d, strike, right = cid.split("-")
    return root, f"{y}-{m}-{d}", float(strike), right == "C"


def in_force(table: pa.Table, key: str, instant: int) -> dict[str, dict[str, Any]]:
    """The last event per key with ts <= instant (ties in ts: the later seq)."""
    rows = table.filter(pc.less_equal(table.column("ts"), instant))
    rows = rows.sort_by([("ts", "ascending"), ("seq", "ascending")]).to_pylist()
    return {r[key]: r for r in rows}


Quotes = dict[tuple[float, bool], tuple[float, float]]  # (strike, call) -> (bid, ask)


def chains_at(run_dir: Path, config: RunConfig, root: str, instants_s: list[float],
              zero_bids: bool) -> Iterator[tuple[float, dict[str, Any], dict[str, Quotes]]]:
    """Per instant (seconds after the open): the stock quote in force and, per expiry,
    every option quote of ``root`` in force (``zero_bids=False`` leaves out quotes with
    no bid: far wings and clamped quotes carry no mid)."""
    open_ms = config.session.session().open_ms
    chain = pq.read_table(run_dir / "option_nbbo.parquet")
    chain = chain.filter(pc.starts_with(chain.column("option_contract_id"), f"{root}-"))
    stock = pq.read_table(run_dir / "equity_quotes.parquet")
    stock = stock.filter(pc.equal(stock.column("underlying_id"), root))
    for seconds in instants_s:
        instant = open_ms + round(seconds * 1000)
        expiries: dict[str, Quotes] = defaultdict(dict)
        for cid, q in in_force(chain, "option_contract_id", instant).items():
            _, expiry, strike, call = contract_key(cid)
            if zero_bids or q["bid"] > 0:
                expiries[expiry][strike, call] = (q["bid"], q["ask"])
        yield seconds, in_force(stock, "underlying_id", instant)[root], expiries


def arbitrage_problems(run_dir: Path, config: RunConfig, root: str,
                       instants_s: list[float]) -> tuple[list[str], int]:
    """Static-arbitrage breaches of the NBBO mids of ``root``'s chain, and pairs checked.

    The makers' base quotes put each mid within a quarter tick of a held value, and the
    held value within the requote threshold (``requote_vol_points`` of vega, at least a
    cent) of the surface's value, which is free of static arbitrage. Each slot shades
    the base quote by 0..``extra_ticks`` ticks away from the mid and skews both sides by
    up to MAX_SKEW_TICKS, so every displayed bid lies within [base bid - (extra + skew),
    base bid + skew] ticks and every ask within [base ask - skew, base ask + extra +
    skew]; a fill only moves a side to another slot's price, inside the same range.
    A mid is therefore within ``err`` = threshold + quarter tick + (extra_ticks +
    2 * MAX_SKEW_TICKS) / 2 ticks of an arbitrage-free value, and:
    call mids may rise with strike by 2 err (puts fall likewise), a vertical may exceed
    its strike width by 2 err, a butterfly may go to -4 err (4 quarter ticks is the
    documented -1 MPV), and parity C - P = S - K holds within both spreads plus the
    stock's spread plus 2 err (zero rates).
    """
    makers = config.options.makers
    problems: list[str] = []
    checked = 0
    for seconds, spot_quote, expiries in chains_at(run_dir, config, root, instants_s,
                                                   zero_bids=False):
        spot = (spot_quote["bid"] + spot_quote["ask"]) / 2
        stock_spread = spot_quote["ask"] - spot_quote["bid"]
        for expiry, quotes in sorted(expiries.items()):
            days = (np.datetime64(expiry) - np.datetime64(config.session.date)).astype(int)
            t = (days * 1440.0 + 390.0) / (365.0 * 1440.0)  # at the open: the largest
            vega_max = 100.0 * spot * math.sqrt(t) / math.sqrt(2 * math.pi)  # cents per 1.00
            threshold = max(makers.requote_vol_points / 100.0 * vega_max, 1.0) / 100.0
            tick = mpv(root, 0) / 100.0
            err = (threshold + tick / 4
                   + (makers.extra_ticks + 2 * MAX_SKEW_TICKS) / 2 * tick + 1e-9)
            where = f"{seconds:g}s {root} {expiry}"
            for call in (True, False):
                strikes = sorted(k for k, c in quotes if c == call)
                mids = [sum(quotes[k, call]) / 2 for k in strikes]
                sign = 1 if call else -1  # calls fall with strike, puts rise
                for k1, k2, m1, m2 in zip(strikes, strikes[1:], mids, mids[1:], strict=False):
                    checked += 1
                    if sign * (m2 - m1) > 2 * err:
                        problems.append(f"{where} {'C' if call else 'P'} mid rises {k1}->{k2}:"
                                        f" {m1:.3f} -> {m2:.3f}")
                    if sign * (m1 - m2) - (k2 - k1) > 2 * err:
                        problems.append(f"{where} {'C' if call else 'P'} vertical {k1}/{k2} "
                                        f"worth {abs(m1 - m2):.3f} > width")
                for i in range(1, len(strikes) - 1):
                    k1, k2, k3 = strikes[i - 1:i + 2]
                    if not math.isclose(k2 - k1, k3 - k2):
                        continue
                    fly = mids[i - 1] - 2 * mids[i] + mids[i + 1]
                    if fly < -4 * err:
                        problems.append(f"{where} {'C' if call else 'P'} butterfly "
                                        f"{k1}/{k2}/{k3} on mids {fly:.3f}")
            for (strike, call), (c_bid, c_ask) in sorted(quotes.items()):
                if not call or (strike, False) not in quotes:
                    continue
                p_bid, p_ask = quotes[strike, False]
                gap = abs((c_bid + c_ask) / 2 - (p_bid + p_ask) / 2 - (spot - strike))
                checked += 1
                if gap > (c_ask - c_bid) + (p_ask - p_bid) + stock_spread + 2 * err:
                    problems.append(f"{where} parity at {strike}: C {c_bid}x{c_ask} "
                                    f"P {p_bid}x{p_ask} S {spot:.3f}, off by {gap:.3f}")
    return problems, checked


# Seconds since the open, half-way between the one-second requote steps.
EVERY_10S = [5.5 + 10 * i for i in range(18)]


def full_requote_instants(config: RunConfig) -> list[float]:
    """Half a step after each grid step at which the whole chain is requoted (the slow
    contracts' refresh: every ``slow_requote_s`` rounded to whole blocks from the start),
    in seconds since the open."""
    mk = config.options.makers
    session = config.session.session()
    start, end = session.start_ns / 1e9, session.end_ns / 1e9
    block_s = mk.requote_ms * mk.block_steps / 1000.0
    every = max(1, round(mk.slow_requote_s / block_s)) * block_s
    return [t + mk.requote_ms / 2000.0 for t in np.arange(start, end, every)]


@pytest.fixture(scope="module")
def all_fast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunConfig]:
    """The tiny options run's SPY chain with every contract on the fast requote grid."""
    from tapesim.runs import execute_run

    base = tiny_options_config()
    spy = [s.model_dump(mode="json") for s in base.symbols if s.symbol == "SPY"]
    config = with_overrides(base, {"symbols": spy, "options": {
        "makers": {"active_z": 1000.0, "active_days": 1000}}})
    out = tmp_path_factory.mktemp("runs") / "all-fast"
    execute_run(config, out)
    return out, config


def test_no_static_arbitrage_with_every_contract_on_the_grid(
        all_fast_run: tuple[Path, RunConfig]) -> None:
    problems, checked = arbitrage_problems(*all_fast_run, "SPY", EVERY_10S)
    assert problems == []
    assert checked > 5000


def test_no_static_arbitrage_right_after_the_whole_chain_is_requoted(
        tiny_options_run: Path) -> None:
    config = tiny_options_config()
    instants = full_requote_instants(config)
    assert len(instants) >= 3
    problems, checked = arbitrage_problems(tiny_options_run, config, "SPY", instants)
    assert problems == []
    assert checked > 1000


def tradeable_arbitrage_problems(run_dir: Path, config: RunConfig, root: str,
                                 instants_s: list[float]) -> tuple[list[str], int]:
    """Static arbitrages one could trade against the NBBO of ``root``'s chain and the
    stock's quote in force at each instant, and the combinations checked.

    Between full requotes the slow contracts' quotes are not current, so their mids are
    not the surface's values; the makers quote them wide enough to hold (see
    ``tapesim.agents.option_makers``), and what must hold is that no static arbitrage
    can be *traded*: buying at asks and selling at bids (a 0 bid cannot be sold to),
    per expiry and right, no vertical pays a credit beyond its worst payoff (a call
    spread sold for more than its strike width, a higher-strike call bid above a
    lower-strike call's ask, puts likewise), no butterfly (strike-weighted, so uneven
    strike grids count) is bought for a credit, and no conversion or reversal locks in
    a profit at zero rates (C bid - P ask <= S ask - K, P bid - C ask <= K - S bid).
    Tolerance: the fast quotes' held values may lag the stock by the requote threshold
    (``requote_vol_points`` of the expiry's largest vega at the open, at least a cent)
    and a maker's inventory skew moves both its sides by up to MAX_SKEW_TICKS ticks.
    """
    makers = config.options.makers
    problems: list[str] = []
    checked = 0
    for seconds, s_quote, expiries in chains_at(run_dir, config, root, instants_s,
                                                zero_bids=True):
        s_bid, s_ask = s_quote["bid"], s_quote["ask"]
        for expiry, quotes in sorted(expiries.items()):
            days = (np.datetime64(expiry) - np.datetime64(config.session.date)).astype(int)
            t = (days * 1440.0 + 390.0) / (365.0 * 1440.0)
            vega_max = 100.0 * s_ask * math.sqrt(t) / math.sqrt(2 * math.pi)
            tick = mpv(root, 0) / 100.0
            tol = (max(makers.requote_vol_points / 100.0 * vega_max, 1.0) / 100.0
                   + 2 * MAX_SKEW_TICKS * tick + 1e-9)
            where = f"{seconds:g}s {root} {expiry}"
            for call in (True, False):
                ks = sorted(k for k, c in quotes if c == call)
                bid = [quotes[k, call][0] for k in ks]
                ask = [quotes[k, call][1] for k in ks]
                for i in range(len(ks) - 1):
                    lo, hi = (i + 1, i) if call else (i, i + 1)  # ``lo`` is worth less
                    checked += 1
                    if bid[lo] > 0 and bid[lo] - ask[hi] > tol:
                        problems.append(f"{where} {'C' if call else 'P'} {ks[lo]} bid "
                                        f"{bid[lo]} over {ks[hi]} ask {ask[hi]}")
                    if bid[hi] > 0 and bid[hi] - ask[lo] - (ks[i + 1] - ks[i]) > tol:
                        problems.append(f"{where} {'C' if call else 'P'} spread "
                                        f"{ks[i]}/{ks[i + 1]} sells for more than its width")
                for i in range(1, len(ks) - 1):
                    if bid[i] <= 0:
                        continue
                    w = (ks[i + 1] - ks[i]) / (ks[i + 1] - ks[i - 1])
                    checked += 1
                    if w * ask[i - 1] + (1 - w) * ask[i + 1] - bid[i] < -tol:
                        problems.append(f"{where} {'C' if call else 'P'} butterfly "
                                        f"{ks[i - 1]}/{ks[i]}/{ks[i + 1]} bought for a credit")
            for (k, call), (c_bid, c_ask) in sorted(quotes.items()):
                if not call or (k, False) not in quotes:
                    continue
                p_bid, p_ask = quotes[k, False]
                checked += 1
                if c_bid > 0 and c_bid - p_ask - (s_ask - k) > tol:
                    problems.append(f"{where} conversion at {k}: C bid {c_bid}, P ask "
                                    f"{p_ask}, S ask {s_ask}")
                if p_bid > 0 and p_bid - c_ask - (k - s_bid) > tol:
                    problems.append(f"{where} reversal at {k}: P bid {p_bid}, C ask {c_ask}, "
                                    f"S bid {s_bid}")
    return problems, checked


def test_no_static_arbitrage_between_full_requotes(tiny_options_run: Path) -> None:
    problems, checked = tradeable_arbitrage_problems(
        tiny_options_run, tiny_options_config(), "SPY", EVERY_10S)
    assert problems == []
    assert checked > 5000


def test_slow_quotes_are_wider_than_fast_ones_by_the_stock_move_they_must_hold(
        tiny_options_run: Path) -> None:
    """The deep in-the-money long-dated contracts (requoted once a minute) quote wider
    than the same moneyness in the front expiry (requoted every second): the slow
    margin, not a narrower rule, is what keeps them free of arbitrage."""
    config = tiny_options_config()
    chain = pq.read_table(tiny_options_run / "option_nbbo.parquet").to_pylist()
    spread: dict[bool, list[float]] = {True: [], False: []}
    for r in chain:
        root, expiry, strike, call = contract_key(r["option_contract_id"])
        if root != "SPY" or r["bid"] <= 0 or not call or strike > 575 * 0.93:
            continue
        days = (np.datetime64(expiry) - np.datetime64(config.session.date)).astype(int)
        if days > 30 or days <= 3:
            spread[days > 30].append(r["ask"] - r["bid"])
    assert spread[True] and spread[False]
    assert np.median(spread[True]) > 2 * np.median(spread[False])


# --- 4. hedging and the option ledger conserve ---------------------------------------

def busy_config() -> RunConfig:
    """SPY options flow at its maximum, makers hedging every hundred shares of delta."""
    base = tiny_options_config(minutes=2)
    symbols = [dict(s.model_dump(mode="json"), option_activity=20.0) for s in base.symbols]
    return with_overrides(base, {"symbols": symbols,
                                 "options": {"makers": {"hedge_shares": 100}}})


def test_hedging_conserves_shares_cash_contracts_and_premium(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {"prints": 0, "hedged": 0}
    problems: list[str] = []
    print_, hedge = OptionVenues._print, OptionMakers._hedge

    def checked_print(venues: OptionVenues, *args: Any) -> None:
        print_(venues, *args)  # the option print, then the maker's hedge
        seen["prints"] += 1
        totals = (*venues.ledger.totals(), *venues.makers.ctx.ledger.totals())
        if totals != (0, 0, 0, 0):
            problems.append(f"after print {seen['prints']}: contracts, premium, shares, "
                            f"cash sum to {totals}")

    def checked_hedge(makers: OptionMakers, maker: int) -> None:
        shares = makers.ctx.ledger.shares
        agent = makers.agents[maker]
        before = makers.net_delta[maker] + shares[agent]
        held = shares[agent]
        hedge(makers, maker)
        after = makers.net_delta[maker] + shares[agent]
        seen["hedged"] += shares[agent] != held
        if abs(after) > abs(before) + 1e-9:
            problems.append(f"maker {maker} hedged exposure {before:.1f} to {after:.1f}")

    monkeypatch.setattr(OptionVenues, "_print", checked_print)
    monkeypatch.setattr(OptionMakers, "_hedge", checked_hedge)
    spool = tmp_path / "spy.arrow"
    result = simulate_shard(busy_config(), "SPY", spool)

    assert result.conservation == {"shares": 0, "cash_cents": 0, "contracts": 0,
                                   "premium_cents": 0}
    assert problems == []
    assert seen["prints"] > 300 and seen["hedged"] > 20
    rows = read_spool(spool)
    rows = rows.filter(pc.equal(rows.column("kind"), PRINT))
    names = np.array(result.listing.agent_names, dtype=object)
    makers = np.char.startswith(names.astype(str), "option-maker-")
    agent, contra = rows.column("agent").to_numpy(), rows.column("contra").to_numpy()
    hedge_prints = makers[agent]
    assert hedge_prints.sum() >= seen["hedged"], "each filled hedge prints on the tape"
    assert not makers[contra[contra >= 0]].any(), "option makers only take in the stock"


# --- 5. opening / closing tags -------------------------------------------------------

@dataclass(frozen=True)
class TaggedPrint:
    seq: int
    ts: int
    contract: str  # the id names the root: agent names repeat across underlyings
    agent: str
    contra: str
    size: int
    agent_opens: bool
    contra_opens: bool


Positions = dict[tuple[str, str], int | None]  # (agent, contract) -> held; None: unknown


def opens(position: int | None, buys: bool) -> bool | None:
    """Whether a trade opens from ``position``: a buy from flat or long, a sell from flat
    or short; None when the position is unknown."""
    if position is None:
        return None
    return position >= 0 if buys else position <= 0


def replay(group: list[TaggedPrint], held: Positions) -> tuple[Positions, int] | None:
    """Positions after a millisecond's prints of one contract, in some order whose every
    tag agrees with the positions before it (the files order prints of one millisecond
    by feed latency, not by execution); None if no order does. Also returns the tags
    checked against a known position."""

    def step(p: TaggedPrint, pos: Positions) -> tuple[Positions, int] | None:
        a, c = pos.get((p.agent, p.contract), 0), pos.get((p.contra, p.contract), 0)
        ways = [buys for buys in (True, False)
                if opens(a, buys) in (None, p.agent_opens)
                and opens(c, not buys) in (None, p.contra_opens)]
        if not ways:
            return None
        pos = dict(pos)
        if len(ways) == 2:  # both flat and both opening: which side bought is unknown
            pos[p.agent, p.contract] = pos[p.contra, p.contract] = None
        else:
            signed = p.size if ways[0] else -p.size
            pos[p.agent, p.contract] = None if a is None else a + signed
            pos[p.contra, p.contract] = None if c is None else c - signed
        return pos, (a is not None) + (c is not None)

    def search(rest: list[TaggedPrint], pos: Positions) -> tuple[Positions, int] | None:
        if not rest:
            return pos, 0
        orders = range(len(rest)) if len(rest) <= 6 else range(1)
        for i in orders:
            done = step(rest[i], pos)
            if done is None:
                continue
            found = search(rest[:i] + rest[i + 1:], done[0])
            if found is not None:
                return found[0], found[1] + done[1]
        return None

    return search(group, held)


def test_position_effects_replay_against_open_interest(tiny_options_run: Path) -> None:
    run = tiny_options_run
    provenance = pq.read_table(run / "provenance.parquet")
    provenance = provenance.filter(pc.equal(provenance.column("event_kind"), "option_print"))
    by_trace = {r["trace_id"]: r for r in provenance.to_pylist()}
    prints = []
    for p in pq.read_table(run / "option_prints.parquet").to_pylist():
        r = by_trace[p["trace_id"]]
        assert {r["position_effect"], r["contra_position_effect"]} <= {"opening", "closing"}
        assert r["contra_agent_id"].startswith("option-maker-"), "fills are against makers"
        prints.append(TaggedPrint(p["seq"], p["ts"], p["option_contract_id"],
                                  r["agent_id"], r["contra_agent_id"], p["size"],
                                  r["position_effect"] == "opening",
                                  r["contra_position_effect"] == "opening"))
    oi = pq.read_table(run / "open_interest.parquet").to_pylist()
    # Yesterday's open interest is held long by the public and short by the writers.
    held: Positions = {}
    for row in oi:
        start, c, given = row["start_oi"], row["option_contract_id"], 0
        for i, (name, share) in enumerate(PUBLIC_LONG_SHARES):
            part = start - given if i == len(PUBLIC_LONG_SHARES) - 1 else round(start * share)
            held[name, c] = part
            given += part
        held[WRITERS, c] = -start

    problems, checked = [], 0
    prints.sort(key=lambda p: (p.ts, p.contract, p.seq))  # contracts are independent
    for (_, contract), group in itertools.groupby(prints, key=lambda p: (p.ts, p.contract)):
        group = list(group)
        done = replay(group, held)
        if done is None:
            tags = [(p.agent, p.agent_opens, p.contra, p.contra_opens, p.size) for p in group]
            before = [(held.get((p.agent, contract), 0), held.get((p.contra, contract), 0))
                      for p in group]
            problems.append(f"{contract} at {group[0].ts}: tags {tags} disagree with "
                            f"positions {before}")
            for p in group:
                held[p.agent, contract] = held[p.contra, contract] = None
            continue
        held, n = done
        checked += n
        retail = held.get(("retail-options", contract), 0)
        if retail is not None and retail < 0:
            problems.append(f"retail short {retail} {contract}: it only sells what it holds")

    per_contract: dict[str, list[int | None]] = defaultdict(list)
    for (_, contract), position in held.items():
        per_contract[contract].append(position)
    compared = traded = 0
    traded_contracts = {p.contract for p in prints}
    for row in oi:
        c = row["option_contract_id"]
        positions = per_contract[c]
        if None in positions:
            continue
        compared += 1
        traded += c in traded_contracts
        end = sum(max(p, 0) for p in positions if p is not None)
        if end != row["end_oi"]:
            problems.append(f"{c}: open interest {row['start_oi']} -> {row['end_oi']}, "
                            f"the prints' positions hold {end} long")
    assert problems == []
    assert checked > 0.8 * 2 * len(prints)
    assert compared > 0.9 * len(oi) and traded > 0.5 * len(traded_contracts)


# --- 6. sweeps -----------------------------------------------------------------------

def sweeps_of(run_dir: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(parent order id, its prints) of every sweep in a run directory."""
    provenance = pq.read_table(run_dir / "provenance.parquet")
    parent = {r["trace_id"]: r for r in provenance.filter(
        pc.equal(provenance.column("event_kind"), "option_print")).to_pylist()}
    sweeps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pq.read_table(run_dir / "option_prints.parquet").to_pylist():
        if {"SWEEP", "ISO"} & set(p["conditions"]):
            r = parent[p["trace_id"]]
            sweeps[r["parent_order_id"]].append(dict(p, agent_id=r["agent_id"]))
    yield from sweeps.items()


def test_sweep_children_hit_one_exchange_each_milliseconds_apart(
        tiny_options_run: Path) -> None:
    problems, n = [], 0
    for parent, prints in sweeps_of(tiny_options_run):
        n += 1
        assert parent is not None, "every sweep print names its sweep"
        if len({(p["option_contract_id"], p["agent_id"], tuple(p["conditions"]))
                for p in prints}) != 1 or prints[0]["conditions"] != ["SWEEP", "ISO"]:
            problems.append(f"{parent}: mixed contracts, agents or conditions")
        times: dict[tuple[str, float], set[int]] = {}
        for p in prints:  # a child per venue and price level, swept level by level
            times.setdefault((p["exchange"], p["price"]), set()).add(p["ts"])
        if any(len(t) > 1 for t in times.values()):
            problems.append(f"{parent}: an exchange hit at one price at several times {times}")
        ts = [p["ts"] for p in prints]
        if max(ts) - min(ts) > SWEEP_SPAN_MS:
            problems.append(f"{parent}: children {max(ts) - min(ts)} ms apart")
        buys = [p["price"] >= p["execution_nbbo_ask"] for p in prints]
        sells = [p["price"] <= p["execution_nbbo_bid"] for p in prints]
        if not (all(buys) or all(sells)):
            problems.append(f"{parent}: a child printed inside the NBBO in force")
        first = [p for p in prints if p["ts"] == min(ts)]
        touch = [p["execution_nbbo_ask"] if all(buys) else p["execution_nbbo_bid"]
                 for p in first]
        if not any(p["price"] == t for p, t in zip(first, touch, strict=True)):
            problems.append(f"{parent}: the first child did not print at the touch")
    assert problems == []
    assert n >= 6


def sweeps_traced(traced: dict[str, Trace]) -> Iterator[tuple[str, list[Child]]]:
    for symbol, trace in traced.items():
        children: dict[int, list[Child]] = defaultdict(list)
        for child in trace.children:
            children[child.parent].append(child)
        for kids in children.values():
            yield symbol, kids


def test_sweeps_start_at_the_best_venue_and_stay_within_their_limit(
        traced: dict[str, Trace]) -> None:
    problems: list[str] = []
    n = 0
    for symbol, kids in sweeps_traced(traced):
        n += 1
        first = kids[0]
        where = f"{symbol} sweep {first.parent}"
        better: Callable[[int, int], bool] = (lambda a, b: a < b) if first.buy else (
            lambda a, b: a > b)
        levels = [(k.venue, p) for k in kids for p in {p for p, _, _ in k.prints}]
        if len(levels) != len(set(levels)):
            problems.append(f"{where}: a venue got two children at one price")
        if kids[-1].now - first.now > SWEEP_SPAN_MS * 1_000_000:
            problems.append(f"{where}: children over {SWEEP_SPAN_MS} ms")
        shown = first.best.get(first.venue)
        if shown is None or shown != first.touch or any(
                better(p, shown) for p in first.best.values()):
            problems.append(f"{where}: first child on venue {first.venue} showing "
                            f"{shown}, best {first.best}")
        if first.prints and first.prints[0][0] != first.touch:
            problems.append(f"{where}: first print {first.prints[0]} not at {first.touch}")
        through = 2 * mpv(symbol, first.touch)
        limit = first.touch + through if first.buy else first.touch - through
        for k in kids:
            prices = [p for p, _, _ in k.prints]
            if any(v != k.venue for _, _, v in k.prints):
                problems.append(f"{where}: child for venue {k.venue} printed elsewhere")
            if any(better(b, a) for a, b in itertools.pairwise(prices)):
                problems.append(f"{where}: child prints out of price priority {prices}")
            if any(better(limit, p) for p in prices):
                problems.append(f"{where}: {prices} beyond two ticks through {first.touch}")
    assert problems == []
    assert n >= 6


def test_sweeps_trade_through_only_prices_they_also_take(traced: dict[str, Trace]) -> None:
    problems: list[str] = []
    for symbol, kids in sweeps_traced(traced):
        swept = {k.venue for k in kids}
        for k in kids:
            for price, _, _ in k.prints:
                standing = {v for v, p in k.best.items()
                            if v != k.venue and (p < price if k.buy else p > price)}
                if standing - swept:
                    problems.append(f"{symbol} sweep {k.parent}: {price} on venue {k.venue} "
                                    f"while venues {sorted(standing - swept)} showed "
                                    f"{sorted(k.best[v] for v in standing - swept)}")
    assert problems == []
