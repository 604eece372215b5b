"""Each slot's quote from the makers' base quote: the loop behind ``OptionMakers._shade``.

Per slot s, step t and contract c, in integer cents on the chain's MPV grid (tick(p)
is ``above`` at or above $3, ``below`` under it, :class:`tapesim.venues.chains.Mpv`):

    b = max(bid - k_bid[s, c] x tick(bid), 0) where bid > 0, else 0;  b = floor(b)
    a = ceil(max(ask + k_ask[s, c] x tick(ask), b + tick(b)))
    a bid at or above the best ask over slots, A, steps down to max(floor(A - 1), 0)
    bid size = shown[s, c] where b > 0, else 0;  ask size = shown[s, c]

with floor and ceil onto the grid at the price's own level. ``k_bid`` is the slot's
extra ticks plus the maker's skew, ``k_ask`` its extra ticks minus the skew (see
:mod:`tapesim.agents.option_makers`). Written as loops and compiled
(:class:`tapesim.sim.compiled.Kernel`), it makes one pass over the [slot, step,
contract] arrays instead of a numpy temporary per operation.
"""

from __future__ import annotations

import numpy as np

from tapesim.sim.compiled import kernel
from tapesim.venues.chains import NICKEL_FROM_CENTS, Mpv
from tapesim.venues.slots import SlotQuotes


def shade(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
          shown: np.ndarray, mpv: Mpv) -> SlotQuotes:
    """Every slot's quote at every step (the rule in the module docstring).

    Args:
        bid, ask: the base quote, int64 cents [step, contract].
        k_bid, k_ask: ticks each slot moves its bid down and its ask up, int64
            [slot, contract].
        shown: each slot's displayed size, int64 contracts (>= 1) [slot, contract].
        mpv: the chain's minimum price variation.

    Returns:
        int64 arrays [slot, step, contract].
    """
    n_slots, (n_steps, n) = k_bid.shape[0], bid.shape
    out = SlotQuotes(*(np.empty((n_slots, n_steps, n), dtype=np.int64) for _ in range(4)))
    args = (bid, ask, k_bid, k_ask, shown)
    _shade(*(np.ascontiguousarray(a, dtype=np.int64) for a in args),
           mpv.below_cents, mpv.above_cents, NICKEL_FROM_CENTS, *out)
    return out


@kernel
def _shade(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
           shown: np.ndarray, below: int, above: int, nickel: int, out_bid: np.ndarray,
           out_ask: np.ndarray, out_bid_size: np.ndarray,
           out_ask_size: np.ndarray) -> None:  # pragma: no cover - compiled
    n_slots, n_steps, n = out_bid.shape
    best = np.empty((n_steps, n), dtype=np.int64)
    for s in range(n_slots):
        for t in range(n_steps):
            for c in range(n):
                base = bid[t, c]
                b = 0
                if base > 0:
                    b = base - k_bid[s, c] * (above if base >= nickel else below)
                    b = max(b, 0)
                tick = above if b >= nickel else below
                b = b // tick * tick
                tick = above if b >= nickel else below
                base = ask[t, c]
                a = base + k_ask[s, c] * (above if base >= nickel else below)
                a = max(a, b + tick)
                tick = above if a >= nickel else below
                a = -(-a // tick) * tick
                out_bid[s, t, c] = b
                out_ask[s, t, c] = a
                if s == 0 or a < best[t, c]:
                    best[t, c] = a
    for t in range(n_steps):
        for c in range(n):
            top = best[t, c] - 1
            tick = above if top >= nickel else below
            top = max(top // tick * tick, 0)
            for s in range(n_slots):
                if out_bid[s, t, c] >= best[t, c]:
                    out_bid[s, t, c] = top
    for s in range(n_slots):
        for t in range(n_steps):
            for c in range(n):
                size = shown[s, c]
                out_bid_size[s, t, c] = size if out_bid[s, t, c] > 0 else 0
                out_ask_size[s, t, c] = size
