"""The compiled loops of a stock's pass over latent steps give, value for value, what
the rule restated in numpy and plain Python gives.

The makers' best quotes (tapesim.agents.maker_best.MakerLoops.best) and every maker's
quotes at one step (MakerLoops.column): against the whole
(makers, 2, steps) quote array's maximum over makers, the first pick-off step found
by scanning and the slide rule of tapesim.agents.market_maker.slide_bounds, on random
held quotes with sides not shown, adjustments of both signs and books that cross
the makers at random steps, or are empty. The NBBO changes of a pass
(tapesim.venues.nbbo_path.NbboPass.changes): against a plain loop over the steps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tapesim.agents.maker_best import MakerLoops
from tapesim.agents.market_maker import slide_bounds
from tapesim.sim.compiled import Buffer
from tapesim.venues.book import NO_ASK, NO_BID
from tapesim.venues.nbbo_path import NbboPass


def rule_best(held: np.ndarray, shifts: np.ndarray, a: int, b: int, book_bid: int,
              book_ask: int) -> tuple[list[int], list[int], int]:
    """The makers' best path as the rule states it, in numpy over every step at once,
    and how many of its asks slid."""
    best = (held[:, :, a:b] + shifts).max(axis=0)
    bids, asks = best[0].tolist(), [-y for y in best[1].tolist()]
    out_b: list[int] = []
    out_a: list[int] = []
    slid = 0
    for x, y in zip(bids, asks, strict=True):
        if x >= book_ask or y <= book_bid:
            break
        if y <= x:
            y = max(y, slide_bounds(x, book_bid, book_ask)[1])
            slid += 1
        out_b.append(NO_BID if x == -math.inf else int(x))
        out_a.append(NO_ASK if y == math.inf else int(y))
    return out_b, out_a, slid


def random_pass(gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Held quotes of a few makers around a wandering price, and their shifts."""
    m, n = int(gen.integers(1, 9)), int(gen.integers(1, 60))
    centre = 10_000 + np.cumsum(gen.integers(-3, 4, n))
    bid = centre[None, :] - gen.integers(0, 6, (m, n))
    ask = centre[None, :] + gen.integers(-2, 6, (m, n))  # some asks at or under bids
    held = np.stack([bid, -ask], axis=1).astype(np.int32)
    adjust = gen.integers(-4, 5, m).astype(float)
    shifts = np.stack([adjust, -adjust], axis=1)[:, :, None]
    shifts[gen.random((m, 2)) < 0.25] = -np.inf
    bb = int(centre.min()) - int(gen.integers(0, 8)) if gen.random() < 0.7 else NO_BID
    ba = int(centre.max()) + int(gen.integers(0, 8)) if gen.random() < 0.7 else NO_ASK
    return held, shifts, bb, ba


def test_best_quotes_follow_the_rule() -> None:
    gen = np.random.default_rng(7)
    stopped = slid = 0
    for _ in range(400):
        held, shifts, bb, ba = random_pass(gen)
        loops, n = MakerLoops(held, shifts), held.shape[2]
        a = int(gen.integers(0, n))
        b = int(gen.integers(a, n + 1))
        out = Buffer(np.full((2, b - a + 3), -7, dtype=np.int64))
        k = loops.best(a, b, bb, ba, out)
        want_b, want_a, n_slid = rule_best(held, shifts, a, b, bb, ba)
        assert (out.array[0, :k].tolist(), out.array[1, :k].tolist()) == (want_b, want_a)
        assert (out.array[:, k:] == -7).all()  # nothing written past the steps it returns
        assert loops.column(a) == (held[:, :, a:a + 1] + shifts)[:, :, 0].T.tolist()
        stopped += len(want_b) < b - a
        slid += n_slid
    assert stopped > 20 and slid > 0  # the pick-off stop and the slide were exercised


def test_the_loops_refuse_what_does_not_fit() -> None:
    held = np.zeros((2, 2, 5), dtype=np.int32)
    with pytest.raises(ValueError, match="shifts"):
        MakerLoops(held, np.zeros((2, 2)))
    loops = MakerLoops(held, np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match="do not fit"):
        loops.best(2, 7, NO_BID, NO_ASK, Buffer(np.zeros((2, 9), dtype=np.int64)))
    with pytest.raises(ValueError, match="do not fit"):
        loops.best(0, 5, NO_BID, NO_ASK, Buffer(np.zeros((2, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match="outside"):
        loops.column(5)
    with pytest.raises(ValueError, match="do not fit"):
        NbboPass(np.zeros(4, dtype=np.int64), 3).changes(2, 3, NO_BID, NO_ASK, NO_BID, NO_ASK)


def loop_changes(times: list[int], a: int, bids: list[int], asks: list[int], bb: int,
                 ba: int, nbb: int, nbo: int) -> tuple[list[list[int]], int, int]:
    """The NBBO changes of a pass, one step at a time."""
    out: list[list[int]] = [[], [], []]
    for k, (x, y) in enumerate(zip(bids, asks, strict=True)):
        bid, ask = max(x, bb), min(y, ba)
        if (bid, ask) != (nbb, nbo):
            nbb, nbo = bid, ask
            if bid != NO_BID and ask != NO_ASK:
                for col, v in zip(out, (times[a + k], bid, ask), strict=True):
                    col.append(v)
    return out, nbb, nbo


def test_nbbo_changes_follow_the_loop() -> None:
    gen = np.random.default_rng(11)
    one_sided = 0
    for _ in range(400):
        n, a = int(gen.integers(0, 40)), int(gen.integers(0, 5))
        times = np.cumsum(gen.integers(1, 10**7, a + n)).astype(np.int64)
        bids = 10_000 + gen.integers(-3, 3, n)
        asks = 10_003 + gen.integers(-2, 3, n)
        bids[gen.random(n) < 0.1] = NO_BID
        asks[gen.random(n) < 0.1] = NO_ASK
        bb = int(gen.choice([NO_BID, 9_998, 10_001]))
        ba = int(gen.choice([NO_ASK, 10_002, 10_005]))
        nbb, nbo = int(gen.choice([NO_BID, 9_999])), int(gen.choice([NO_ASK, 10_003]))
        p = NbboPass(times, n + 2)
        p.best.array[0, :n], p.best.array[1, :n] = bids, asks
        p.out.array[:] = -7
        c, got_b, got_o = p.changes(a, n, bb, ba, nbb, nbo)
        want, want_b, want_o = loop_changes(times.tolist(), a, bids.tolist(), asks.tolist(),
                                            bb, ba, nbb, nbo)
        assert p.out.array[:, :c].tolist() == want and (p.out.array[:, c:] == -7).all()
        assert (got_b, got_o) == (want_b, want_o)
        one_sided += NO_BID in (got_b,) or NO_ASK in (got_o,)
    assert one_sided > 0
