"""The equity makers' best quotes over a pass of latent steps, and every maker's quotes
at one step, as compiled loops.

:meth:`tapesim.agents.market_maker.MakerDesk.best_path` states the rule: every maker's
quotes are its held quotes plus its shift (``held + shifts``, float64 whole cents,
-inf for a side not shown), the best bid and ask are their maxima over makers, the
pass stops short of the first step where a maker picks off a book order, and an ask
at or below the best bid slides by :func:`tapesim.agents.market_maker.slide_bounds`.
Written as numpy passes and Python lists, a pass of a few tens of steps cost tens of
microseconds of per-call overhead; these loops do it in one call each, with the same
float operations (an int32 held quote plus a float64 shift, compared with the book's
integer prices), so every value is the one the numpy form gives. They write into the
caller's buffers rather than return arrays (returning an array costs more than the
loop).
"""

from __future__ import annotations

import numpy as np

from tapesim.sim.compiled import kernel
from tapesim.venues.book import NO_ASK, NO_BID


@kernel
def best_quotes(held: np.ndarray, shifts: np.ndarray, a: int, b: int, book_bid: int,
                book_ask: int, out: np.ndarray) -> int:  # pragma: no cover
    """The best maker bid and ask at steps a .. b - 1, stopping before the first step
    where the best bid >= ``book_ask`` or the best ask <= ``book_bid`` (a pick-off).

    ``held``: (makers, 2, steps) int32, each maker's bid and minus ask before its
    adjustment; ``shifts``: (makers, 2, 1) float64, A_m and -A_m on a side shown, -inf
    on a side not shown; ``book_bid`` / ``book_ask``: the best book prices in cents
    (NO_BID / NO_ASK when none). Writes the best bids and asks, int64 whole cents
    (NO_BID / NO_ASK where no maker shows that side), into ``out[0]`` / ``out[1]``
    (int64, (2, at least b - a)) and returns how many steps it wrote: b - a, or the
    steps before the pick-off. An ask at or below the best bid shows at
    max(ask, max(min(bid, book_ask - 1), book_bid) + 1).
    """
    m = held.shape[0]
    cap = book_ask - 1
    n = 0
    for k in range(a, b):
        x = -np.inf
        z = -np.inf
        for i in range(m):
            v = held[i, 0, k] + shifts[i, 0, 0]
            if v > x:
                x = v
            w = held[i, 1, k] + shifts[i, 1, 0]
            if w > z:
                z = w
        y = -z
        if x >= book_ask or y <= book_bid:
            break
        if y <= x:
            lo = x if x < cap else cap
            floor = (lo if lo > book_bid else book_bid) + 1
            if floor > y:
                y = floor
        out[0, n] = NO_BID if x == -np.inf else int(x)
        out[1, n] = NO_ASK if y == np.inf else int(y)
        n += 1
    return n


@kernel
def column(held: np.ndarray, shifts: np.ndarray, j: int, out: np.ndarray
           ) -> None:  # pragma: no cover
    """Every maker's quotes at step j, ``held[:, :, j] + shifts[:, :, 0]`` transposed into
    ``out`` ((2, makers) float64: the bids, then minus the asks; -inf for a side not
    shown), the values :meth:`tapesim.agents.market_maker.MakerDesk.quotes` gives."""
    for i in range(held.shape[0]):
        out[0, i] = held[i, 0, j] + shifts[i, 0, 0]
        out[1, i] = held[i, 1, j] + shifts[i, 1, 0]
