"""Each slot's quote from the makers' base quote, and its OPRA NBBO: the loop behind
``OptionMakers._shade``.

Per slot s, step t and contract c, in integer cents on the chain's MPV grid (tick(p)
is ``above`` at or above $3, ``below`` under it, :class:`tapesim.venues.chains.Mpv`):

    b = max(bid - k_bid[c, s] x tick(bid), 0) where bid > 0, else 0;  b = floor(b)
    a = ceil(max(ask + k_ask[c, s] x tick(ask), b + tick(b)))
    a bid at or above the best ask over slots, A, steps down to max(floor(A - 1), 0)
    bid size = shown[c, s] where b > 0, else 0;  ask size = shown[c, s]

with floor and ceil onto the grid at the price's own level. ``k_bid`` is the slot's
extra ticks plus the maker's skew, ``k_ask`` its extra ticks minus the skew (see
:mod:`tapesim.agents.option_makers`). The slots' quotes of each (step, contract) are
consolidated into its NBBO by the OPRA rule of :func:`tapesim.venues.opra.consolidate`
(best price over slots, sizes summed at the best).

What is read of a block. The venues publish the NBBO of every (step, contract) of a
block, but put in force the slots' quotes of one step per sync, and only a quote fault
(a rare scenario) reads the slots' quotes of other steps. So :func:`shade` makes the
NBBO [step, contract] in one pass with the slots innermost (the shading laid out
[contract, slot], each contract's slot quotes in a scratch row, never in a [slot,
step, contract] array), and the block keeps what the rule starts from
(:class:`ShadedQuotes`: the base quote [step, contract] and the shading [contract,
slot]) to make the slots' quotes of the steps and contracts asked for, when asked, by
the same compiled loop. Written as loops and compiled
(:class:`tapesim.sim.compiled.Kernel`) instead of a numpy temporary per operation.

A shortcut for the NBBO of a block. Where a (step, contract)'s base bid is > 0, both
base prices are on the grid at one tick size T, and every slot's shifted prices
(bid - k_bid x T, ask + k_ask x T) stay > 0 at that tick size with each ask at least
a tick above its own slot's bid and every bid below the best ask, the rule does no
clipping, rounding or stepping down: each slot's quote is the shift. Its NBBO is then
the base shifted by the least k_bid and k_ask of the slots showing, with the sizes of
the slots sharing them, both fixed per contract for the block; so the loop settles
those (step, contract)s from a per-contract summary of the shading and goes slot by
slot only for the rest (and whenever slot quotes are asked for).
"""

from __future__ import annotations

import numpy as np

from tapesim.sim.compiled import kernel
from tapesim.venues.book import NO_ASK
from tapesim.venues.chains import NICKEL_FROM_CENTS, Mpv
from tapesim.venues.opra import OptionNBBOs
from tapesim.venues.slots import SlotQuotes

_NO_SLOTS = np.empty((0, 0, 0), dtype=np.int64)  # "no slot quotes wanted" for the loop
_NO_NBBO = np.empty((0, 0), dtype=np.int64)  # "no NBBO wanted"


class ShadedQuotes:
    """Every slot's quote for some contracts at the steps of a block, kept as the rule's
    inputs and made on demand (the module docstring gives the rule).

    Args:
        bid, ask: the base quote, int64 cents [step, contract] (C-contiguous).
        k_bid, k_ask: ticks each slot moves its bid down and its ask up, int64
            [contract, slot] (C-contiguous).
        shown: each slot's displayed size, int64 contracts (>= 1) [contract, slot].
        mpv: the chain's minimum price variation.
    """

    __slots__ = ("_row", "ask", "bid", "k_ask", "k_bid", "mpv", "shown")

    def __init__(self, bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
                 shown: np.ndarray, mpv: Mpv) -> None:
        self.bid, self.ask = bid, ask
        self.k_bid, self.k_ask, self.shown = k_bid, k_ask, shown
        self.mpv = mpv
        self._row: SlotQuotes | None = None  # scratch for one step [slot, 1, contract]

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return int(self.bid.shape[0])

    def _quotes(self, r0: int, r1: int, cols: np.ndarray | slice, out: SlotQuotes) -> None:
        """The slots' quotes at steps ``r0:r1`` for contracts ``cols`` into ``out`` (int64
        [slot, step, contract])."""
        bid, ask = (np.ascontiguousarray(x[r0:r1, cols]) for x in (self.bid, self.ask))
        k_bid, k_ask, shown = (self.k_bid, self.k_ask, self.shown) if isinstance(
            cols, slice) else (np.ascontiguousarray(x[cols])
                               for x in (self.k_bid, self.k_ask, self.shown))
        _shade(bid, ask, k_bid, k_ask, shown, self.mpv.below_cents, self.mpv.above_cents,
               NICKEL_FROM_CENTS, NO_ASK, *out, _NO_NBBO, _NO_NBBO, _NO_NBBO, _NO_NBBO)

    def place(self, held: SlotQuotes, idx: np.ndarray, row: int) -> None:
        """Write the slots' quotes at step ``row`` into the quotes in force:
        ``held.x[:, idx] = quotes.x[:, row, :]`` for each of the four arrays (``held``
        int64 [slot, contract of the chain]; ``idx`` int64, the chain's index of each
        of this block's contracts).

        Raises:
            IndexError: ``row`` is not a step of the block.
        """
        if not 0 <= row < self.n_steps:
            raise IndexError(f"step {row} is not in a block of {self.n_steps}")
        n, n_slots = self.k_bid.shape
        if self._row is None:
            self._row = SlotQuotes(*(np.empty((n_slots, 1, n), dtype=np.int64)
                                     for _ in range(4)))
        self._quotes(row, row + 1, slice(None), self._row)
        _put(*held, np.ascontiguousarray(idx, dtype=np.int64), *(x[:, 0] for x in self._row))

    def window(self, r0: int, r1: int, cols: np.ndarray | None = None) -> SlotQuotes:
        """The slots' quotes at steps ``r0:r1`` for the block's contracts ``cols`` (all
        when ``None``): fresh int64 arrays [slot, r1 - r0, contract of cols]."""
        pick = slice(None) if cols is None else np.asarray(cols, dtype=np.int64)
        n = self.k_bid[pick].shape[0]
        shape = (self.k_bid.shape[1], self.bid[r0:r1].shape[0], n)
        out = SlotQuotes(*(np.empty(shape, dtype=np.int64) for _ in range(4)))
        self._quotes(r0, r1, pick, out)
        return out


def shade(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
          shown: np.ndarray, mpv: Mpv) -> tuple[ShadedQuotes, OptionNBBOs]:
    """The slots' quotes at every step (kept to be made on demand) and the NBBO they
    make (the rule in the module docstring).

    Args:
        bid, ask: the base quote, int64 cents [step, contract].
        k_bid, k_ask: ticks each slot moves its bid down and its ask up, int64
            [contract, slot].
        shown: each slot's displayed size, int64 contracts (>= 1) [contract, slot].
        mpv: the chain's minimum price variation.

    Returns:
        The slot quotes (:class:`ShadedQuotes`), and their NBBO, int64 arrays
        [step, contract] (what :meth:`SlotQuotes.consolidated` gives for the slot
        quotes).
    """
    bid, ask, k_bid, k_ask, shown = (np.ascontiguousarray(a, dtype=np.int64)
                                     for a in (bid, ask, k_bid, k_ask, shown))
    nbbo = OptionNBBOs(*(np.empty(bid.shape, dtype=np.int64) for _ in range(4)))
    _shade(bid, ask, k_bid, k_ask, shown, mpv.below_cents, mpv.above_cents, NICKEL_FROM_CENTS,
           NO_ASK, _NO_SLOTS, _NO_SLOTS, _NO_SLOTS, _NO_SLOTS, *nbbo)
    return ShadedQuotes(bid, ask, k_bid, k_ask, shown, mpv), nbbo


@kernel
def _shade(bid: np.ndarray, ask: np.ndarray, k_bid: np.ndarray, k_ask: np.ndarray,
           shown: np.ndarray, below: int, above: int, nickel: int, no_ask: int,
           out_bid: np.ndarray, out_ask: np.ndarray, out_bid_size: np.ndarray,
           out_ask_size: np.ndarray, nbb: np.ndarray, nbo: np.ndarray, nbb_size: np.ndarray,
           nbo_size: np.ndarray) -> None:  # pragma: no cover - compiled
    """The rule's loop, a (step, contract) at a time with the slots innermost (``bid``,
    ``ask`` [step, contract]; ``k_bid``, ``k_ask``, ``shown`` [contract, slot]): the
    slots' prices and the best ask over them, then the bids that would lock or cross it
    stepped down, and the sizes. Where ``out_*`` (int64 [slot, step, contract]) are not
    empty the slots' quotes go there; where ``nbb`` etc. (int64 [step, contract]) are
    not empty, the
    consolidation goes there (a bid shows when its size and price are > 0, an ask when
    its size is > 0; ``nbo`` is ``no_ask`` and the sizes 0 where nothing shows).
    Prices are >= 0, so a tick of one cent needs no rounding."""
    n_steps, n = bid.shape
    n_slots = k_bid.shape[1]
    write = out_bid.shape[0] > 0
    book = nbb.shape[0] > 0
    slot_bid = np.empty(n_slots, dtype=np.int64)
    slot_ask = np.empty(n_slots, dtype=np.int64)
    # The NBBO alone, over several steps: each contract's extreme shading, to settle a
    # (step, contract) without its slots where the rule reduces to a shift (see below).
    fast = book and not write and n_steps > 2 and n_slots > 0
    span = np.zeros((9, n if fast else 0), dtype=np.int64)
    for c in range(span.shape[1]):
        span[0, c] = span[1, c] = k_bid[c, 0]  # min, max of k_bid
        span[2, c] = span[3, c] = k_ask[c, 0]  # min, max of k_ask
        span[4, c] = k_bid[c, 0] + k_ask[c, 0]  # min of k_bid + k_ask
        span[5, c] = span[7, c] = no_ask  # min k_bid, min k_ask of the slots showing
        for s in range(n_slots):
            kb = k_bid[c, s]
            ka = k_ask[c, s]
            span[0, c] = min(span[0, c], kb)
            span[1, c] = max(span[1, c], kb)
            span[2, c] = min(span[2, c], ka)
            span[3, c] = max(span[3, c], ka)
            span[4, c] = min(span[4, c], kb + ka)
            size = shown[c, s]
            if size > 0:
                if kb < span[5, c]:
                    span[5, c] = kb
                    span[6, c] = size
                elif kb == span[5, c]:
                    span[6, c] += size
                if ka < span[7, c]:
                    span[7, c] = ka
                    span[8, c] = size
                elif ka == span[7, c]:
                    span[8, c] += size
    for t in range(n_steps):
        for c in range(n):
            base_bid = bid[t, c]
            base_ask = ask[t, c]
            bid_tick = above if base_bid >= nickel else below
            ask_tick = above if base_ask >= nickel else below
            if fast and base_bid > 0 and bid_tick == ask_tick and (
                    bid_tick == 1 or (base_bid % bid_tick == 0 and base_ask % bid_tick == 0)):
                # Every slot's bid is base_bid - k_bid x tick and its ask base_ask + k_ask
                # x tick, with no clipping at 0 and no rounding, when those prices are all
                # > 0, on the grid (the base is) at one tick size, each ask at least a
                # tick above its own slot's bid, and no bid reaches the best ask (nothing
                # steps down). Then the best prices come from the extreme shading alone,
                # and the sizes at them are those of the slots sharing it.
                low_bid = base_bid - span[1, c] * bid_tick
                high_bid = base_bid - span[0, c] * bid_tick
                low_ask = base_ask + span[2, c] * bid_tick
                high_ask = base_ask + span[3, c] * bid_tick
                if (low_bid > 0 and (above if low_bid >= nickel else below) == bid_tick
                        and (above if high_bid >= nickel else below) == bid_tick
                        and base_ask - base_bid + span[4, c] * bid_tick >= bid_tick
                        and (above if low_ask >= nickel else below) == bid_tick
                        and (above if high_ask >= nickel else below) == bid_tick
                        and high_bid < low_ask and high_ask < no_ask):
                    if span[8, c] > 0:
                        nbb[t, c] = base_bid - span[5, c] * bid_tick
                        nbo[t, c] = base_ask + span[7, c] * bid_tick
                        nbb_size[t, c] = span[6, c]
                        nbo_size[t, c] = span[8, c]
                    else:
                        nbb[t, c] = 0
                        nbo[t, c] = no_ask
                        nbb_size[t, c] = 0
                        nbo_size[t, c] = 0
                    continue
            best = no_ask
            for s in range(n_slots):
                b = 0
                if base_bid > 0:
                    b = max(base_bid - k_bid[c, s] * bid_tick, 0)
                tick = above if b >= nickel else below
                if tick != 1:
                    b = b // tick * tick
                tick = above if b >= nickel else below
                a = max(base_ask + k_ask[c, s] * ask_tick, b + tick)
                tick = above if a >= nickel else below
                if tick != 1:
                    a = -(-a // tick) * tick
                slot_bid[s] = b
                slot_ask[s] = a
                if s == 0 or a < best:
                    best = a
            step = best - 1
            tick = above if step >= nickel else below
            if tick != 1:
                step = step // tick * tick
            top = max(step, 0)
            best_bid = 0
            best_ask = no_ask
            for s in range(n_slots):
                b = slot_bid[s]
                if b >= best:
                    b = top
                    slot_bid[s] = b
                size = shown[c, s]
                if size > 0:
                    best_bid = max(best_bid, b)
                    best_ask = min(best_ask, slot_ask[s])
                if write:
                    out_bid[s, t, c] = b
                    out_ask[s, t, c] = slot_ask[s]
                    out_bid_size[s, t, c] = size if b > 0 else 0
                    out_ask_size[s, t, c] = size
            if book:
                bid_size = 0
                ask_size = 0
                for s in range(n_slots):
                    size = shown[c, s]
                    if size > 0:
                        if slot_bid[s] == best_bid:
                            bid_size += size
                        if slot_ask[s] == best_ask:
                            ask_size += size
                nbb[t, c] = best_bid
                nbo[t, c] = best_ask
                nbb_size[t, c] = bid_size if best_bid > 0 else 0
                nbo_size[t, c] = ask_size


@kernel
def _put(held_bid: np.ndarray, held_ask: np.ndarray, held_bid_size: np.ndarray,
         held_ask_size: np.ndarray, idx: np.ndarray, bid: np.ndarray, ask: np.ndarray,
         bid_size: np.ndarray, ask_size: np.ndarray) -> None:  # pragma: no cover - compiled
    """``held[:, idx] = new`` for the four arrays of a :class:`SlotQuotes` (``held`` int64
    [slot, contract of the chain], ``new`` int64 [slot, contract of ``idx``]): one pass,
    a held row at a time, instead of four numpy scatters."""
    for s in range(held_bid.shape[0]):
        for j in range(idx.size):
            c = idx[j]
            held_bid[s, c] = bid[s, j]
            held_ask[s, c] = ask[s, j]
            held_bid_size[s, c] = bid_size[s, j]
            held_ask_size[s, c] = ask_size[s, j]
