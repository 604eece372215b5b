"""OPRA-style consolidation: the national best bid and offer of every option contract.

Venue quotes come as ``[venue, contract]`` int64 arrays (prices in cents, sizes in
contracts) and are consolidated for the whole chain at once:

* a venue shows a bid when its bid size > 0 and its bid price > 0 (a 0 bid, as in
  a far wing's "0 x 0.05", is no bid); it shows an ask when its ask size > 0;
* the best bid is the highest shown bid, the best ask the lowest shown ask, and
  each side's size is the sum of the sizes of the venues at that best price;
* a contract with no bid gets ``nbb = 0`` and ``nbb_size = 0`` (an OptionNBBO with a
  zero bid is valid: ints >= 0); a contract with no ask gets ``nbo = NO_ASK`` (the
  order books' sentinel) and ``nbo_size = 0``, and the caller does not emit an
  OptionNBBO for it until some venue offers it (see :func:`has_offer`).

:func:`nbbo_changes` then names the contracts whose consolidated quote changed,
so the feed emits exactly one OptionNBBO per change; :func:`changed_rows` gathers them
over a block of steps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tapesim.sim.compiled import kernel
from tapesim.venues.book import NO_ASK


class OptionNBBOs(NamedTuple):
    """The consolidated quote of every contract: prices in cents, sizes in contracts."""

    nbb: np.ndarray
    nbo: np.ndarray
    nbb_size: np.ndarray
    nbo_size: np.ndarray


def consolidate(
    bids: np.ndarray, asks: np.ndarray, bid_sizes: np.ndarray, ask_sizes: np.ndarray
) -> OptionNBBOs:
    """Best bid and offer over venues (axis 0) for every contract (axis 1)."""
    bids = np.asarray(bids, dtype=np.int64)
    asks = np.asarray(asks, dtype=np.int64)
    bid_sizes = np.asarray(bid_sizes, dtype=np.int64)
    ask_sizes = np.asarray(ask_sizes, dtype=np.int64)
    if not bids.shape == asks.shape == bid_sizes.shape == ask_sizes.shape or bids.ndim != 2:
        raise ValueError("bids, asks and sizes must all be [venue, contract] arrays of one shape")
    n = bids.shape[1]
    out = OptionNBBOs(np.zeros(n, np.int64), np.full(n, NO_ASK, np.int64),
                      np.zeros(n, np.int64), np.zeros(n, np.int64))
    _best(*(np.ascontiguousarray(a) for a in (bids, asks, bid_sizes, ask_sizes)), *out)
    return out


@kernel
def _best(bids: np.ndarray, asks: np.ndarray, bid_sizes: np.ndarray, ask_sizes: np.ndarray,
          nbb: np.ndarray, nbo: np.ndarray, nbb_size: np.ndarray,
          nbo_size: np.ndarray) -> None:  # pragma: no cover - compiled
    """:func:`consolidate`'s loop, one pass over the venues: the best shown price of each
    side and the sizes at it summed, into ``nbb`` (0), ``nbo`` (``NO_ASK``) and the sizes
    (0) as initialised by the caller."""
    for v in range(bids.shape[0]):
        for c in range(bids.shape[1]):
            size = bid_sizes[v, c]
            price = bids[v, c]
            if size > 0 and price > 0:
                if price > nbb[c]:
                    nbb[c] = price
                    nbb_size[c] = size
                elif price == nbb[c]:
                    nbb_size[c] += size
            size = ask_sizes[v, c]
            price = asks[v, c]
            if size > 0:
                if price < nbo[c]:
                    nbo[c] = price
                    nbo_size[c] = size
                elif price == nbo[c]:
                    nbo_size[c] += size


def consolidate_one(bids: np.ndarray, asks: np.ndarray, bid_sizes: np.ndarray,
                    ask_sizes: np.ndarray, c: int) -> tuple[int, int, int, int]:
    """Contract ``c``'s consolidated quote (nbb, nbo, nbb_size, nbo_size) from venue
    quotes ``[venue, contract]`` (int64 arrays, cents and contracts): column ``c`` of what
    :func:`consolidate` gives, as Python ints, without building its arrays (a fill
    re-consolidates one contract)."""
    return _best_one(bids, asks, bid_sizes, ask_sizes, c, NO_ASK)  # type: ignore[no-any-return]


@kernel
def _best_one(bids: np.ndarray, asks: np.ndarray, bid_sizes: np.ndarray,
              ask_sizes: np.ndarray, c: int,
              no_ask: int) -> tuple[int, int, int, int]:  # pragma: no cover - compiled
    """:func:`_best`'s loop for the one contract ``c``."""
    nbb, nbo, nbb_size, nbo_size = 0, no_ask, 0, 0
    for v in range(bids.shape[0]):
        size = bid_sizes[v, c]
        price = bids[v, c]
        if size > 0 and price > 0:
            if price > nbb:
                nbb = price
                nbb_size = size
            elif price == nbb:
                nbb_size += size
        size = ask_sizes[v, c]
        price = asks[v, c]
        if size > 0:
            if price < nbo:
                nbo = price
                nbo_size = size
            elif price == nbo:
                nbo_size += size
    return nbb, nbo, nbb_size, nbo_size


def has_offer(nbbo: OptionNBBOs) -> np.ndarray:
    """Contracts some venue offers: only these are emitted as OptionNBBO."""
    return nbbo.nbo != NO_ASK


def nbbo_changes(prev: OptionNBBOs | None, new: OptionNBBOs) -> np.ndarray:
    """Indices (ascending) of contracts whose (nbb, nbo, nbb_size, nbo_size) changed.

    With no previous state (``prev is None``) every contract counts as changed.
    """
    if prev is None:
        return np.arange(new.nbb.size)
    changed = np.zeros(new.nbb.shape, dtype=bool)
    for old, now in zip(prev, new, strict=True):
        changed |= np.asarray(old) != np.asarray(now)
    return np.flatnonzero(changed)


def changed_rows(held: OptionNBBOs, idx: np.ndarray, rows: OptionNBBOs, times: np.ndarray,
                 out: np.ndarray) -> int:
    """The NBBO rows a block of consolidated quotes publishes, gathered into ``out``.

    ``rows`` holds the NBBO of contracts ``idx`` at consecutive steps (arrays [step,
    contract of ``idx``], cents and contracts) at ``times`` (ns); ``held`` the NBBO in
    force before the first step (arrays [contract of the chain]). A (step, contract)
    publishes where its quote differs from the step before (step 0: from ``held``) in
    any of nbb, nbo and their sizes. The rows go to ``out`` (int64 [8, at least steps x
    contracts]) in step order, then contract order (numpy's ``nonzero`` order of the
    change mask), one column each: time (ns), contract, nbb, nbo, nbb_size, nbo_size,
    step, column of ``idx``. Returns how many; ``held`` is not modified.
    """
    return _changed_rows(  # type: ignore[no-any-return]
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (*held, idx, *rows, times)), out)


@kernel
def _changed_rows(held_nbb: np.ndarray, held_nbo: np.ndarray, held_bid_size: np.ndarray,
                  held_ask_size: np.ndarray, idx: np.ndarray, nbb: np.ndarray, nbo: np.ndarray,
                  nbb_size: np.ndarray, nbo_size: np.ndarray, times: np.ndarray,
                  out: np.ndarray) -> int:  # pragma: no cover - compiled
    """:func:`changed_rows`' loop: each step against the one before, in one pass."""
    n = 0
    for t in range(nbb.shape[0]):
        for c in range(idx.size):
            b, a, bs, az = nbb[t, c], nbo[t, c], nbb_size[t, c], nbo_size[t, c]
            if t == 0:
                i = idx[c]
                same = (b == held_nbb[i] and a == held_nbo[i] and bs == held_bid_size[i]
                        and az == held_ask_size[i])
            else:
                same = (b == nbb[t - 1, c] and a == nbo[t - 1, c]
                        and bs == nbb_size[t - 1, c] and az == nbo_size[t - 1, c])
            if not same:
                out[0, n] = times[t]
                out[1, n] = idx[c]
                out[2, n] = b
                out[3, n] = a
                out[4, n] = bs
                out[5, n] = az
                out[6, n] = t
                out[7, n] = c
                n += 1
    return n
