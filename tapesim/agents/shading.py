"""Each slot's quote from the makers' base quote, and its OPRA NBBO: the loop behind
``OptionMakers._shade``.

Per slot s, step t and contract c, in integer cents on the chain's MPV grid (tick(p)
is ``above`` at or above $3, ``below`` under it, :class:`tapesim.venues.chains.Mpv`):

    b = max(bid - k_bid[s, c] x tick(bid), 0) where bid > 0, else 0;  b = floor(b)
    a = ceil(max(ask + k_ask[s, c] x tick(ask), b + tick(b)))
    a bid at or above the best ask over slots, A, steps down to max(floor(A - 1), 0)
    bid size = shown[s, c] where b > 0, else 0;  ask size = shown[s, c]

with floor and ceil onto the grid at the price's own level. ``k_bid`` is the slot's
extra ticks plus the maker's skew, ``k_ask`` its extra ticks minus the skew (see
:mod:`tapesim.agents.option_makers`). The same pass consolidates the slots' quotes
of each (step, contract) into its NBBO by the OPRA rule of
:func:`tapesim.venues.opra.consolidate` (best price over slots, sizes summed at the
best), so a block's quotes are read once. Written as loops and compiled
(:class:`tapesim.sim.compiled.Kernel`), it makes one pass over the [slot, step,
contract] arrays instead of a numpy temporary per operation.
"""

from __future__ import annotations

import numpy as np

from tapesim.sim.compiled import kernel
from tapesim.venues.book import NO_ASK
from tapesim.venues.chains import NICKEL_FROM_CENTS, Mpv
from tapesim.venues.opra import OptionNBBOs
from tapesim.venues.slots import SlotQuotes


def shade(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
          shown: np.ndarray, mpv: Mpv) -> tuple[SlotQuotes, OptionNBBOs]:
    """Every slot's quote at every step and the NBBO they make (the rule in the module
    docstring).

    Args:
        bid, ask: the base quote, int64 cents [step, contract].
        k_bid, k_ask: ticks each slot moves its bid down and its ask up, int64
            [slot, contract].
        shown: each slot's displayed size, int64 contracts (>= 1) [slot, contract].
        mpv: the chain's minimum price variation.

    Returns:
        The slot quotes, int64 arrays [slot, step, contract], and their NBBO, int64
        arrays [step, contract] (what :meth:`SlotQuotes.consolidated` gives for them).
    """
    n_slots, (n_steps, n) = k_bid.shape[0], bid.shape
    out = SlotQuotes(*(np.empty((n_slots, n_steps, n), dtype=np.int64) for _ in range(4)))
    nbbo = OptionNBBOs(*(np.empty((n_steps, n), dtype=np.int64) for _ in range(4)))
    args = (bid, ask, k_bid, k_ask, shown)
    _shade(*(np.ascontiguousarray(a, dtype=np.int64) for a in args),
           mpv.below_cents, mpv.above_cents, NICKEL_FROM_CENTS, NO_ASK, *out, *nbbo)
    return out, nbbo


@kernel
def _shade(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
           shown: np.ndarray, below: int, above: int, nickel: int, no_ask: int,
           out_bid: np.ndarray, out_ask: np.ndarray, out_bid_size: np.ndarray,
           out_ask_size: np.ndarray, nbb: np.ndarray, nbo: np.ndarray, nbb_size: np.ndarray,
           nbo_size: np.ndarray) -> None:  # pragma: no cover - compiled
    """:func:`shade`'s loop, a step at a time: the slots' prices and the best ask over
    them, then the bids that would lock or cross it stepped down, the sizes, and the
    consolidation (a bid shows when its size and price are > 0, an ask when its size is
    > 0; ``nbo`` is ``no_ask`` and the sizes 0 where nothing shows). Prices are >= 0, so
    a tick of one cent needs no rounding."""
    n_slots, n_steps, n = out_bid.shape
    best = np.empty(n, dtype=np.int64)
    top = np.empty(n, dtype=np.int64)
    for t in range(n_steps):
        for s in range(n_slots):
            for c in range(n):
                base = bid[t, c]
                b = 0
                if base > 0:
                    b = base - k_bid[s, c] * (above if base >= nickel else below)
                    b = max(b, 0)
                tick = above if b >= nickel else below
                if tick != 1:
                    b = b // tick * tick
                tick = above if b >= nickel else below
                base = ask[t, c]
                a = base + k_ask[s, c] * (above if base >= nickel else below)
                a = max(a, b + tick)
                tick = above if a >= nickel else below
                if tick != 1:
                    a = -(-a // tick) * tick
                out_bid[s, t, c] = b
                out_ask[s, t, c] = a
                if s == 0 or a < best[c]:
                    best[c] = a
        for c in range(n):
            step = best[c] - 1
            tick = above if step >= nickel else below
            if tick != 1:
                step = step // tick * tick
            top[c] = max(step, 0)
            nbb[t, c] = 0
            nbo[t, c] = no_ask
            nbb_size[t, c] = 0
            nbo_size[t, c] = 0
        for s in range(n_slots):
            for c in range(n):
                b = out_bid[s, t, c]
                if b >= best[c]:
                    b = top[c]
                    out_bid[s, t, c] = b
                size = shown[s, c]
                b_size = size if b > 0 else 0
                out_bid_size[s, t, c] = b_size
                out_ask_size[s, t, c] = size
                if b_size > 0 and b > 0:
                    if b > nbb[t, c]:
                        nbb[t, c] = b
                        nbb_size[t, c] = b_size
                    elif b == nbb[t, c]:
                        nbb_size[t, c] += b_size
                if size > 0:
                    a = out_ask[s, t, c]
                    if a < nbo[t, c]:
                        nbo[t, c] = a
                        nbo_size[t, c] = size
                    elif a == nbo[t, c]:
                        nbo_size[t, c] += size
