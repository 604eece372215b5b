"""The compiled loops of the option quotes give, element for element, what their rules say.

Slot shading (tapesim.agents.shading): the rule restated as whole-array numpy on the
MPV's own floor/ceil, and compared with the compiled loop and with its plain Python
form on random base quotes that cross the $3 boundary, zero bids, far wings and skews
of both signs, for the three penny-interval classes; the NBBO the loop makes against
the consolidation of the rule's quotes (several steps at once, where most contracts
are settled from their extreme shading, and one step at a time, slot by slot), and
the slot quotes read back from a block (one step put in force, a window of steps)
against the rule's. Step changes of a block's NBBO (tapesim.venues.opra.changed_rows):
against the comparison of each step with the one before, gathered in numpy's nonzero
order. OPRA delivery of NBBO rows and their spool columns
(tapesim.venues.option_tape): against each contract's running maximum. A chain's
quotes (tapesim.agents.option_quotes.quote_chain): against the rule as numpy
expressions. One contract's consolidation after a fill
(tapesim.venues.opra.consolidate_one): against the chain's. The NBBO put in force
from the rows published (tapesim.venues.options): against each contract's last row;
a marketable order's fill order: against numpy's lexsort. The makers' whole-expiry
holding of values (tapesim.agents.option_makers): against the rule as numpy run
reductions; a re-post's sizes: against the plain Python expression. The
consolidation loop is held to a naive one in test_option_quotes.py.
"""

from __future__ import annotations

import datetime as dt
from unittest.mock import patch

import numpy as np
import pytest

from tapesim.agents import option_quotes
from tapesim.agents.option_makers import _hold_expiries, _resize
from tapesim.agents.option_quotes import Chain, QuoteParams, half_width, list_chain, quote_chain
from tapesim.agents.shading import (
    ShadedQuotes,
    _shade,
    _slot_shading,
    _span,
    shade,
    slot_shading,
)
from tapesim.config.options import OptionMakerConfig
from tapesim.events.models import OPTION_NBBO
from tapesim.venues.book import NO_ASK
from tapesim.venues.chains import MPV_CLASSES, NICKEL_FROM_CENTS, Mpv
from tapesim.venues.opra import (
    OptionNBBOs,
    _best_one,
    _changed_rows,
    changed_rows,
    consolidate,
    consolidate_one,
)
from tapesim.venues.option_tape import _append
from tapesim.venues.options import _fill_order, _keep
from tapesim.venues.slots import SlotQuotes


def numpy_rule(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
               shown: np.ndarray, mpv: Mpv) -> SlotQuotes:
    """The shading rule as numpy expressions over [slot, step, contract]."""
    kb, ka = k_bid[:, None, :], k_ask[:, None, :]
    b = np.where(bid[None] > 0, np.maximum(bid[None] - kb * mpv.tick_cents(bid), 0), 0)
    a = ask[None] + ka * mpv.tick_cents(ask)
    b = mpv.floor(b)
    a = mpv.ceil(np.maximum(a, b + mpv.tick_cents(b)))
    best_ask = a.min(axis=0, keepdims=True)
    b = np.where(b >= best_ask, np.maximum(mpv.floor(best_ask - 1), 0), b)
    size = np.broadcast_to(shown[:, None, :], b.shape)
    return SlotQuotes(b, a, np.where(b > 0, size, 0), size.copy())


def random_base(gen: np.random.Generator, steps: int, n: int, mpv: Mpv):
    """Base quotes on the grid, many near $3, some without a bid."""
    centre = gen.choice([5, 150, 295, 300, 305, 2_000], size=n)
    bid = mpv.floor(np.maximum(centre[None, :] + gen.integers(-20, 20, (steps, n)), 0))
    bid = np.where(gen.random((steps, n)) < 0.2, 0, bid)
    ask = mpv.ceil(bid + 1 + gen.integers(0, 30, (steps, n)))
    return bid.astype(np.int64), ask.astype(np.int64)


def slot_cases(gen: np.random.Generator, mpv: Mpv, steps: int, n: int
               ) -> tuple[np.ndarray, ...]:
    """Random base quotes [step, contract] and shading [contract, slot] (extra ticks
    0..2, skews of both signs, sizes)."""
    slots = int(gen.integers(1, 13))
    bid, ask = random_base(gen, steps, n, mpv)
    extra = gen.integers(0, 3, (n, slots))
    skew = gen.integers(-2, 3, (n, slots))
    shown = gen.integers(1, 60, (n, slots))
    return bid, ask, extra + skew, extra - skew, shown


def rule_of(case: tuple[np.ndarray, ...], mpv: Mpv) -> SlotQuotes:
    """:func:`numpy_rule` of a :func:`slot_cases` case."""
    bid, ask, k_bid, k_ask, shown = case
    return numpy_rule(bid, ask, k_bid.T, k_ask.T, shown.T, mpv)


def shaded(case: tuple[np.ndarray, ...], mpv: Mpv) -> tuple[ShadedQuotes, OptionNBBOs]:
    """:func:`shade` of a :func:`slot_cases` case."""
    return shade(case[0], case[1], np.stack(case[2:]), mpv)


@pytest.mark.parametrize("seed", range(3))
def test_slot_shading_is_the_numpy_expressions(seed: int) -> None:
    gen = np.random.default_rng(300 + seed)
    n_chain, slots, makers = 400, int(gen.integers(1, 13)), 4
    extra = gen.integers(0, 3, (n_chain, slots))
    size_factor = gen.uniform(0.3, 1.0, (n_chain, slots))
    idx = np.sort(gen.choice(n_chain, 150, replace=False))
    skew = gen.integers(-2, 3, (makers, idx.size))
    slot_maker = np.sort(gen.integers(0, makers, slots))
    sizes = gen.integers(1, 400, idx.size)
    sizes[:3] = [0, 1, 5]  # a size that rounds to 0 shows 1
    want_skew = skew.T[:, slot_maker]
    want = np.stack([extra[idx] + want_skew, extra[idx] - want_skew, np.maximum(
        np.rint(sizes[:, None] * size_factor[idx]), 1).astype(np.int64)])
    assert np.array_equal(slot_shading(extra, size_factor, idx, skew, slot_maker, sizes), want)
    got = np.empty_like(want)
    _slot_shading.py(extra, size_factor, idx, skew, slot_maker, sizes, got)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("penny_class", sorted(MPV_CLASSES))
@pytest.mark.parametrize("seed", range(3))
def test_compiled_shading_is_the_rule(penny_class: str, seed: int) -> None:
    mpv = MPV_CLASSES[penny_class]  # type: ignore[index]
    gen = np.random.default_rng(seed)
    steps, n = int(gen.integers(1, 6)), 400
    case = slot_cases(gen, mpv, steps, n)
    bid, ask, k_bid = case[0], case[1], case[2]
    slots = k_bid.shape[1]
    want = rule_of(case, mpv)
    got_slots, got_nbbo = shaded(case, mpv)
    got = got_slots.window(0, steps)
    for ours, rule in zip(got, want, strict=True):
        assert ours.dtype == np.int64 and np.array_equal(ours, rule)
    # The cases the rule has branches for all occur: no base bid, bids that would lock
    # or cross the best ask stepped down, several slots at the best bid or offer.
    unstepped = mpv.floor(np.maximum(bid[None] - k_bid.T[:, None, :] * mpv.tick_cents(bid), 0))
    assert (bid == 0).any() and (want.bid != np.where(bid[None] > 0, unstepped, 0)).any()
    if slots > 1:
        assert ((want.ask == want.ask.min(axis=0, keepdims=True)).sum(axis=0) > 1).any()
        assert ((want.bid == want.bid.max(axis=0, keepdims=True)).sum(axis=0) > 1).any()
    # The NBBO is the OPRA consolidation of the slots' quotes.
    nbbo = OptionNBBOs(*(x.reshape(steps, n) for x in consolidate(
        *(x.reshape(slots, steps * n) for x in want))))
    for ours, rule in zip(got_nbbo, nbbo, strict=True):
        assert ours.dtype == np.int64 and np.array_equal(ours, rule)
    # The plain Python loops give the same quotes and NBBO, with the shortcut and without.
    shading = np.stack(case[2:])
    span = np.empty((9, n), dtype=np.int64)
    _span.py(shading, NO_ASK, span)
    none2, none3 = np.empty((0, 0), dtype=np.int64), np.empty((0, 0, 0), dtype=np.int64)
    for summary in (span, span[:, :0]):
        plain = SlotQuotes(*(np.empty_like(x) for x in got))
        plain_nbbo = OptionNBBOs(*(np.empty_like(x) for x in got_nbbo))
        _shade.py(bid, ask, shading, np.ascontiguousarray(shading.transpose(0, 2, 1)), summary,
                  mpv.below_cents, mpv.above_cents, NICKEL_FROM_CENTS, NO_ASK, np.arange(n),
                  *plain, none2, none2, none2, none2)
        _shade.py(bid, ask, shading, none3, summary, mpv.below_cents, mpv.above_cents,
                  NICKEL_FROM_CENTS, NO_ASK, np.empty(0, dtype=np.int64), none3, none3, none3,
                  none3, *plain_nbbo)
        for ours, py in zip((*got, *got_nbbo), (*plain, *plain_nbbo), strict=True):
            assert np.array_equal(ours, py)
    # What the venues make of it: never locked or crossed, every quote on the grid.
    two_sided = nbbo.nbb > 0
    assert np.all(nbbo.nbb[two_sided] < nbbo.nbo[two_sided])
    assert not mpv.off_grid(got.bid).any() and not mpv.off_grid(got.ask).any()


@pytest.mark.parametrize("penny_class", sorted(MPV_CLASSES))
@pytest.mark.parametrize("seed", range(3))
def test_nbbo_of_many_steps_is_that_of_each_step(penny_class: str, seed: int) -> None:
    """Over several steps the loop settles a (step, contract) from each contract's extreme
    shading where no bid clips, rounds or steps down; a step alone goes slot by slot.
    Both give the rule's NBBO, with slots sharing the best price and without any showing."""
    mpv = MPV_CLASSES[penny_class]  # type: ignore[index]
    gen = np.random.default_rng(200 + seed)
    steps, n = 8, 300
    case = list(slot_cases(gen, mpv, steps, n))
    case[4] = np.where(gen.random(case[4].shape) < 0.1, 0, case[4])
    case[4][:5] = 0  # contracts no slot shows
    case = tuple(case)
    bid, ask, k_bid, k_ask, shown = case
    want = rule_of(case, mpv)
    slots = k_bid.shape[1]
    rule = OptionNBBOs(*(x.reshape(steps, n) for x in consolidate(
        *(x.reshape(slots, steps * n) for x in want))))
    _, together = shaded(case, mpv)
    for t in range(steps):
        _, alone = shaded((bid[t:t + 1], ask[t:t + 1], k_bid, k_ask, shown), mpv)
        for many, one, r in zip(together, alone, rule, strict=True):
            assert np.array_equal(many[t], one[0]) and np.array_equal(many[t], r[t])
    # Both kinds of (step, contract) occur: every slot's bid is the base shifted by its
    # shading (nothing clipped, rounded or stepped down), or not.
    tick = mpv.tick_cents(bid)
    shifted = ((want.bid == bid[None] - k_bid.T[:, None, :] * tick).all(axis=0)
               & (want.ask == ask[None] + k_ask.T[:, None, :] * tick).all(axis=0) & (bid > 0))
    assert shifted.any() and (~shifted).any()


def test_consolidation_counts_only_shown_sizes() -> None:
    """A slot showing no size neither sets nor adds to the NBBO (the rule never makes
    one, but the loop holds to the OPRA rule for any sizes)."""
    mpv = MPV_CLASSES["all-penny"]
    gen = np.random.default_rng(7)
    case = list(slot_cases(gen, mpv, 3, 200))
    case[4] = np.where(gen.random(case[4].shape) < 0.4, 0, case[4])
    want = rule_of(tuple(case), mpv)
    slots = case[2].shape[1]
    nbbo = consolidate(*(x.reshape(slots, -1) for x in want))
    _, got = shaded(case, mpv)
    for ours, rule in zip(got, nbbo, strict=True):
        assert np.array_equal(ours.reshape(-1), rule)


@pytest.mark.parametrize("penny_class", sorted(MPV_CLASSES))
@pytest.mark.parametrize("seed", range(3))
def test_slot_quotes_read_from_a_block_are_the_rule(penny_class: str, seed: int) -> None:
    """A step put in force, and a window of steps and contracts, are those of the rule."""
    mpv = MPV_CLASSES[penny_class]  # type: ignore[index]
    gen = np.random.default_rng(100 + seed)
    steps, n, n_chain = int(gen.integers(1, 21)), 120, 300
    case = slot_cases(gen, mpv, steps, n)
    slots = case[2].shape[1]
    want = rule_of(case, mpv)
    quotes, _ = shaded(case, mpv)
    idx = np.sort(gen.choice(n_chain, n, replace=False))
    held = SlotQuotes(*(gen.integers(0, 1_000, (slots, n_chain)) for _ in range(4)))
    for row in (int(gen.integers(0, steps)), steps - 1):
        expected = [h.copy() for h in held]
        for h, x in zip(expected, want, strict=True):
            h[:, idx] = x[:, row, :]
        quotes.place(held, idx, row)
        for ours, rule in zip(held, expected, strict=True):
            assert np.array_equal(ours, rule)
    with pytest.raises(IndexError):
        quotes.place(held, idx, steps)
    r0 = int(gen.integers(0, steps))
    r1 = int(gen.integers(r0 + 1, steps + 1))
    cols = np.sort(gen.choice(n, int(gen.integers(1, 5)), replace=False))
    for ours, rule in zip(quotes.window(r0, r1, cols), want, strict=True):
        assert np.array_equal(ours, rule[:, r0:r1][:, :, cols])


@pytest.mark.parametrize("seed", range(4))
def test_changed_rows_compare_each_step_with_the_one_before(seed: int) -> None:
    gen = np.random.default_rng(seed)
    n, steps = 300, int(gen.integers(1, 8))
    held = OptionNBBOs(*(gen.integers(0, 3, n) for _ in range(4)))
    idx = np.sort(gen.choice(n, 120, replace=False))
    rows = OptionNBBOs(*(gen.integers(0, 3, (steps, idx.size)) for _ in range(4)))
    times = np.sort(gen.integers(0, 10**12, steps))
    changed = np.zeros((steps, idx.size), dtype=bool)
    for field, new in zip(held, rows, strict=True):
        changed[0] |= new[0] != field[idx]
        changed[1:] |= new[1:] != new[:-1]
    step, col = np.nonzero(changed)
    want = np.stack([times[step], idx[col], *(x[step, col] for x in rows), step, col])
    before = [x.copy() for x in held]
    for run in (_changed_rows, _changed_rows.py):
        out = np.full((8, steps * idx.size), -7, dtype=np.int64)
        got = run(*held, idx, *rows, times, out)
        assert got == step.size and np.array_equal(out[:, :got], want)
        assert all(np.array_equal(x, y) for x, y in zip(held, before, strict=True))
    out = np.empty((8, steps * idx.size), dtype=np.int64)
    assert changed_rows(held, idx, rows, times, out) == step.size


@pytest.mark.parametrize("seed", range(4))
def test_one_contract_consolidates_as_the_chain_does(seed: int) -> None:
    gen = np.random.default_rng(seed)
    slots, n = int(gen.integers(1, 13)), 50
    prices = [gen.integers(0, 6, (slots, n)) for _ in range(2)]  # ties, zero bids
    sizes = [np.where(gen.random((slots, n)) < 0.3, 0, gen.integers(1, 9, (slots, n)))
             for _ in range(2)]
    chain = consolidate(*prices, *sizes)
    for c in range(n):
        want = tuple(int(x[c]) for x in chain)
        assert consolidate_one(*prices, *sizes, c) == want
        assert _best_one.py(*prices, *sizes, c, NO_ASK) == want


@pytest.mark.parametrize("seed", range(3))
def test_published_rows_put_each_contracts_last_shown_quote_in_force(seed: int) -> None:
    gen = np.random.default_rng(seed)
    n, rows = 30, int(gen.integers(1, 120))
    times = np.sort(gen.integers(0, 10**12, rows))
    contracts = gen.integers(0, n, rows)
    out = np.stack([times, contracts, *(gen.integers(0, 500, rows) for _ in range(4)),
                    np.zeros(rows, np.int64), np.zeros(rows, np.int64)])
    held = [gen.integers(0, 500, n) for _ in range(4)] + [gen.integers(-1, 10**6, n)]
    for shown in (np.zeros(0, dtype=bool), gen.random(rows) < 0.5):
        mask = np.ones(rows, dtype=bool) if shown.size == 0 else shown
        want = [h.copy() for h in held]
        for c in np.unique(contracts[mask]):  # the rule: each contract's last shown row
            k = np.flatnonzero(mask & (contracts == c))[-1]
            for h, x in zip(want[:4], out[2:6], strict=True):
                h[c] = x[k]
            want[4][c] = 7 + times[k] // 1_000_000
        for run in (_keep, _keep.py):
            got = [h.copy() for h in held]
            run(*got, np.ascontiguousarray(out), rows, shown, 7)
            assert all(np.array_equal(x, y) for x, y in zip(got, want, strict=True))


def fill_order_rule(prices: np.ndarray, sizes: np.ndarray, slot_venue: np.ndarray, buy: bool,
                    limit: int, venue: int) -> np.ndarray:
    """The fill order as numpy: live slots lexsorted by price (best first), the venue's
    total size there (more first), slot."""
    live = (sizes > 0) & (prices <= limit if buy else (prices >= limit) & (prices > 0))
    if venue >= 0:
        live &= slot_venue == venue
    slots = np.flatnonzero(live)
    venue_size = np.bincount(slot_venue[slots], weights=sizes[slots],
                             minlength=int(slot_venue.max()) + 1)
    key = prices[slots] if buy else -prices[slots]
    return slots[np.lexsort((slots, -venue_size[slot_venue[slots]], key))]


@pytest.mark.parametrize("seed", range(4))
def test_fill_order_is_price_then_venue_size_then_slot(seed: int) -> None:
    gen = np.random.default_rng(seed)
    for _ in range(200):
        slots, venues = int(gen.integers(1, 16)), int(gen.integers(1, 6))
        slot_venue = gen.integers(0, venues, slots)
        quotes = gen.integers(0, 6, (2, slots * 3)) * 5  # ties, zero bids, columns of a chain
        sizes = np.where(gen.random((2, slots * 3)) < 0.3, 0, gen.integers(1, 9, (2, slots * 3)))
        buy = bool(gen.random() < 0.5)
        prices, shown = quotes[0, ::3][:slots], sizes[1, ::3][:slots]  # strided, as in take
        limit, venue = int(gen.integers(0, 30)), int(gen.integers(-1, venues))
        want = fill_order_rule(prices, shown, slot_venue, buy, limit, venue)
        for run in (_fill_order, _fill_order.py):
            assert np.array_equal(run(prices, shown, slot_venue, buy, limit, venue), want)


@pytest.mark.parametrize("seed", range(3))
def test_reposted_sizes_are_the_python_expression(seed: int) -> None:
    gen = np.random.default_rng(seed)
    slots, n = 12, 30
    size_factor = gen.uniform(0.3, 1.0, (n, slots))  # [contract, slot]
    for _ in range(50):
        c, base = int(gen.integers(0, n)), np.int64(gen.integers(0, 400))
        u = gen.random(slots)
        sizes = [np.where(gen.random((slots, n)) < 0.3, 0, gen.integers(1, 99, (slots, n)))
                 for _ in range(2)]
        want = [x.copy() for x in sizes]
        for k in range(slots):  # the rule as the plain Python expression, slot by slot
            size = max(1, int(base * size_factor[c, k] * (0.6 + 0.8 * float(u[k])) + 0.5))
            for x in want:
                if x[k, c] > 0:
                    x[k, c] = size
        for run in (_resize, _resize.py):
            got = [x.copy() for x in sizes]
            run(u, base, size_factor, *got, c)
            assert all(np.array_equal(x, y) for x, y in zip(got, want, strict=True))


def held_rule(theo: np.ndarray, last: np.ndarray, threshold: np.ndarray,
              expiry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole-expiry holding as numpy: at each step an expiry takes the step's values
    once any of its contracts moved by its threshold (a NaN last value moves)."""
    starts = np.flatnonzero(np.r_[True, expiry[1:] != expiry[:-1]])
    sizes = np.diff(np.r_[starts, expiry.size])
    out = np.empty_like(theo)
    for s in range(theo.shape[0]):
        moved = ~(np.abs(theo[s] - last) < threshold)
        moved = np.repeat(np.logical_or.reduceat(moved, starts), sizes)
        last = np.where(moved, theo[s], last)
        out[s] = last
    return out, last


@pytest.mark.parametrize("seed", range(4))
def test_compiled_holding_is_the_rule(seed: int) -> None:
    gen = np.random.default_rng(seed)
    n, steps = int(gen.integers(1, 80)), int(gen.integers(1, 21))
    expiry = np.sort(gen.integers(0, 6, n))
    last = np.where(gen.random(n) < 0.1, np.nan, gen.uniform(0, 500, n))
    theo = last[None, :] + np.cumsum(gen.normal(0, 2, (steps, n)), axis=0)
    theo = np.where(np.isnan(theo), gen.uniform(0, 500, (steps, n)), theo)
    threshold = gen.uniform(1, 6, n)
    want, want_last = held_rule(theo, last.copy(), threshold, expiry)
    for run in (_hold_expiries, _hold_expiries.py):
        got, got_last = np.empty_like(theo), last.copy()
        run(theo, got_last, threshold, expiry, got)
        assert np.array_equal(got, want) and np.array_equal(got_last, want_last)


def delivery_rule(contracts: np.ndarray, ts: np.ndarray, raw: np.ndarray,
                  delivered: np.ndarray, printed_ms: np.ndarray) -> np.ndarray:
    """OPRA's first-in-first-out delivery restated per contract: each contract's rows,
    in order, delivered at the running maximum of their raw times, from the contract's
    last delivery (plus one ms when that was a print of the first row's ms)."""
    ingest = np.empty_like(raw)
    for c in np.unique(contracts):
        rows = np.flatnonzero(contracts == c)
        floor = delivered[c] + int(ts[rows[0]] == printed_ms[c])
        ingest[rows] = np.maximum.accumulate(np.maximum(raw[rows], floor))
        delivered[c], printed_ms[c] = ingest[rows[-1]], -1
    return ingest


@pytest.mark.parametrize("seed", range(4))
def test_compiled_nbbo_rows_follow_the_delivery_rule(seed: int) -> None:
    gen = np.random.default_rng(seed)
    n, rows = 40, int(gen.integers(1, 300))
    contracts = gen.integers(0, n, rows)
    times_ns = np.sort(gen.integers(1_000, 1_050, rows)) * 1_000_000 + gen.integers(0, 10**6)
    exps = gen.standard_exponential(rows)
    latency, open_ms = 2.5, 10**9
    ts = open_ms + times_ns // 1_000_000
    raw = ts + (exps * latency).astype(np.int64)
    delivered = open_ms + gen.integers(990, 1_060, n)
    printed_ms = np.where(gen.random(n) < 0.5, open_ms + gen.integers(1_000, 1_010, n), -1)
    want_state = [delivered.copy(), printed_ms.copy()]
    ingest = delivery_rule(contracts, ts, raw, *want_state)
    quotes = [gen.integers(0, 500, rows) for _ in range(4)]
    causes = gen.integers(-1, 3, rows)
    at = int(gen.integers(0, 5))
    for per_row, cause in ((causes, -1), (np.zeros(0, dtype=np.int64), 2)):
        want = np.stack([np.full(rows, OPTION_NBBO.code), ts, ingest, *quotes, contracts,
                         per_row if per_row.size else np.full(rows, cause)])
        for run in (_append, _append.py):
            state = [delivered.copy(), printed_ms.copy()]
            buf = np.full((24, at + rows + 3), -9, dtype=np.int64)
            run(times_ns, contracts, *quotes, per_row, cause, exps, latency, open_ms, *state,
                buf, at)
            assert np.array_equal(buf[:9, at:at + rows], want)
            assert (buf[:, :at] == -9).all() and (buf[:, at + rows:] == -9).all()
            assert (buf[9:] == -9).all()  # the print-only columns are not touched
            assert all(np.array_equal(x, y) for x, y in zip(state, want_state, strict=True))


def numpy_quotes(chain: Chain, theo_cents: np.ndarray, vega_cents: np.ndarray,
                 t_years: np.ndarray, spot: float, params: QuoteParams, width: float,
                 offset: float | np.ndarray, extra: float | np.ndarray):
    """quote_chain's rule as whole-array numpy expressions, in the order the module
    docstring of tapesim.agents.option_quotes states it."""
    theo = np.maximum(theo_cents + np.asarray(offset, dtype=float) * vega_cents, 0.0)
    h = half_width(chain, theo, vega_cents, t_years, spot, params, width) + extra
    mpv = chain.mpv
    tick = mpv.tick_cents(theo)
    n = np.floor(theo / (tick / 2.0) + 0.5).astype(np.int64)
    odd = n & 1
    need = h + np.abs(theo - n * tick / 2.0)
    k = np.ceil(np.maximum(need / tick - 0.5 * odd - 1e-9, 0.0)).astype(np.int64)
    k = np.where((odd == 0) & (k == 0), 1, k)
    bid, ask = (n // 2 - k) * tick, ((n + 1) // 2 + k) * tick
    if mpv.below_cents != mpv.above_cents:
        coarse = mpv.ceil(ask)
        bid, ask = np.where(bid < NICKEL_FROM_CENTS, bid - (coarse - ask), bid), coarse
    twice = mpv.ceil(np.maximum(n * tick, np.ceil(theo + extra)).astype(np.int64))
    clamped = bid < 0
    ask, bid = np.where(clamped, twice, ask), np.where(clamped, 0, bid)
    wing_ask = (params.penny_wing_ask_cents if mpv.all_penny
                else int(mpv.ceil(np.int64(params.wing_ask_cents))))
    wing = (theo + extra < params.wing_theo_share * wing_ask) | (ask <= 0)
    return np.where(wing, 0, bid), np.where(wing, wing_ask, ask)


@pytest.mark.parametrize("root", ["SPY", "XYZ", "ABC"])
@pytest.mark.parametrize("seed", range(3))
def test_compiled_quotes_are_the_rule(root: str, seed: int) -> None:
    """quote_chain's compiled pass gives numpy's integers (and the plain Python form of
    the loop the same), over values from zero through deep in the money, per-contract
    offsets and extra widths, several steps at once, for each penny-interval class."""
    gen = np.random.default_rng(seed)
    mpv = {"SPY": MPV_CLASSES["all-penny"], "XYZ": MPV_CLASSES["penny"],
           "ABC": MPV_CLASSES["non-penny"]}[root]
    chain = list_chain(root, dt.date(2026, 3, 10), 100.0, 0.4, root == "SPY", mpv=mpv)
    spot = 100.0 * float(np.exp(gen.normal(0.0, 0.05)))
    n, steps = chain.size, int(gen.integers(1, 6))
    t = chain.t_years * gen.uniform(0.5, 1.0)
    intrinsic = np.maximum(np.where(chain.is_call, spot - chain.strike, chain.strike - spot), 0)
    theo = (intrinsic * 100.0)[None, :] + gen.exponential(150.0, (steps, n)) * (
        gen.random((steps, n)) < 0.9)
    vega = gen.uniform(0.0, 3_000.0, n)
    offset = gen.normal(0.0, 0.01, n) if seed else 0.0
    extra = gen.exponential(20.0, n) if seed != 1 else 0.0
    params = QuoteParams.of(OptionMakerConfig())
    want = numpy_quotes(chain, theo, vega, t, spot, params, 1.4, offset, extra)
    got = quote_chain(chain, theo, vega, t, spot, params, 1.4, offset, extra)
    for ours, rule in zip(got, want, strict=True):
        assert ours.dtype == np.int64 and np.array_equal(ours, rule)
    assert np.array_equal(quote_chain(chain, theo[0], vega, t, spot, params, 1.4, offset,
                                      extra)[0], want[0][0])
    with patch.object(option_quotes._quote, "_jit", option_quotes._quote.py):
        plain = quote_chain(chain, theo, vega, t, spot, params, 1.4, offset, extra)
    for ours, py in zip(got, plain, strict=True):
        assert np.array_equal(ours, py)
