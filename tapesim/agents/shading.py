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
    for t in range(n_steps):
        for c in range(n):
            base_bid = bid[t, c]
            base_ask = ask[t, c]
            bid_tick = above if base_bid >= nickel else below
            ask_tick = above if base_ask >= nickel else below
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
