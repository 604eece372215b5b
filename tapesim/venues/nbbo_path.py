"""The stock's NBBO over a pass of latent steps, as one compiled loop.

:meth:`tapesim.venues.equity.EquityVenues.sync` consolidates the makers' best quotes
of every step since the last trader action with the books' best (held fixed through
the pass) and writes a SIP quote where the NBBO changed. As a Python loop over the
steps that cost a few microseconds a step; this loop does the same integer
comparisons in one call, writing into the caller's buffer.
"""

from __future__ import annotations

import numpy as np

from tapesim.sim.compiled import kernel
from tapesim.venues.book import NO_ASK, NO_BID


@kernel
def nbbo_changes(times: np.ndarray, a: int, bids: np.ndarray, asks: np.ndarray,
                 book_bid: int, book_ask: int, nbb: int, nbo: int, out: np.ndarray
                 ) -> tuple[int, int, int]:  # pragma: no cover
    """The NBBO changes at steps a, a + 1, ... of the makers' best ``bids`` / ``asks``.

    ``times``: (steps,) int64, each latent step's time in ns; ``bids`` / ``asks``: int64
    whole cents, the best maker quote at steps a .. a + len - 1 (NO_BID / NO_ASK where
    none); ``book_bid`` / ``book_ask``: the books' best (NO_BID / NO_ASK when none);
    ``nbb`` / ``nbo``: the NBBO in force before step a. At each step the NBBO is the
    better of the maker's and the book's price per side; where it differs from the one
    before, it becomes the NBBO in force, and a quote is written unless a side is
    missing (a one-sided market is not a quote). Writes the quotes' times (ns), bids and
    asks into ``out[0]``, ``out[1]``, ``out[2]`` (int64, (3, at least len(bids))) and
    returns (how many quotes, the NBBO bid and ask in force after the last step).
    """
    c = 0
    for k in range(bids.shape[0]):
        x = bids[k]
        y = asks[k]
        bid = x if x > book_bid else book_bid
        ask = y if y < book_ask else book_ask
        if bid != nbb or ask != nbo:
            nbb = bid
            nbo = ask
            if bid != NO_BID and ask != NO_ASK:
                out[0, c] = times[a + k]
                out[1, c] = bid
                out[2, c] = ask
                c += 1
    return c, nbb, nbo
