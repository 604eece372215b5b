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

A shortcut. Where a (step, contract)'s base bid is > 0, both base prices are on the
grid at one tick size T, and every slot's shifted prices (bid - k_bid x T, ask + k_ask
x T) stay > 0 at that tick size with each ask at least a tick above its own slot's bid
and every bid below the best ask, the rule does no clipping, rounding or stepping
down: each slot's quote is the shift. Its NBBO is then the base shifted by the least
k_bid and k_ask of the slots showing, with the sizes of the slots sharing them, all
fixed per contract for the block (:func:`_span`); so the loop settles most (step,
contract)s from that summary and goes slot by slot only for the rest, and a step put
in force writes the shifted quotes a slot (a row of the quotes in force) at a time.
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
_NO_DEST = np.empty(0, dtype=np.int64)


class ShadedQuotes:
    """Every slot's quote for some contracts at the steps of a block, kept as the rule's
    inputs and made on demand (the module docstring gives the rule).

    Args:
        bid, ask: the base quote, int64 cents [step, contract] (C-contiguous).
        shading: k_bid, k_ask and shown (see :func:`shade`), int64 [3, contract, slot]
            (C-contiguous).
        span: each contract's extreme shading (:func:`_span`), int64 [9, contract].
        mpv: the chain's minimum price variation.
    """

    __slots__ = ("ask", "bid", "mpv", "shading", "shading_t", "span")

    def __init__(self, bid: np.ndarray, ask: np.ndarray, shading: np.ndarray, span: np.ndarray,
                 mpv: Mpv) -> None:
        self.bid, self.ask = bid, ask
        self.shading, self.span = shading, span
        self.shading_t = np.ascontiguousarray(shading.transpose(0, 2, 1))  # [3, slot, contract]
        self.mpv = mpv

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return int(self.bid.shape[0])

    def _quotes(self, r0: int, r1: int, cols: np.ndarray | slice, dest: np.ndarray,
                out: SlotQuotes) -> None:
        """The slots' quotes at steps ``r0:r1`` for contracts ``cols``, written to
        ``out.x[:, step, dest[contract]]`` (``out`` int64 [slot, step, *])."""
        bid, ask = (np.ascontiguousarray(x[r0:r1, cols]) for x in (self.bid, self.ask))
        shading, shading_t, span = (self.shading, self.shading_t, self.span) if isinstance(
            cols, slice) else (np.ascontiguousarray(self.shading[:, cols]),
                               np.ascontiguousarray(self.shading_t[:, :, cols]),
                               np.ascontiguousarray(self.span[:, cols]))
        _shade(bid, ask, shading, shading_t, span, self.mpv.below_cents, self.mpv.above_cents,
               NICKEL_FROM_CENTS, NO_ASK, dest, *out, _NO_NBBO, _NO_NBBO, _NO_NBBO, _NO_NBBO)

    def place(self, held: SlotQuotes, idx: np.ndarray, row: int) -> None:
        """Write the slots' quotes at step ``row`` into the quotes in force:
        ``held.x[:, idx] = quotes.x[:, row, :]`` for each of the four arrays (``held``
        int64 [slot, contract of the chain], C-contiguous; ``idx`` int64, the chain's
        index of each of this block's contracts).

        Raises:
            IndexError: ``row`` is not a step of the block.
        """
        if not 0 <= row < self.n_steps:
            raise IndexError(f"step {row} is not in a block of {self.n_steps}")
        self._quotes(row, row + 1, slice(None), np.ascontiguousarray(idx, dtype=np.int64),
                     SlotQuotes(*(x[:, None, :] for x in held)))

    def window(self, r0: int, r1: int, cols: np.ndarray | None = None) -> SlotQuotes:
        """The slots' quotes at steps ``r0:r1`` for the block's contracts ``cols`` (all
        when ``None``): fresh int64 arrays [slot, r1 - r0, contract of cols]."""
        pick = slice(None) if cols is None else np.asarray(cols, dtype=np.int64)
        n = self.bid[:, pick].shape[1]
        shape = (self.shading.shape[2], self.bid[r0:r1].shape[0], n)
        out = SlotQuotes(*(np.empty(shape, dtype=np.int64) for _ in range(4)))
        self._quotes(r0, r1, pick, np.arange(n, dtype=np.int64), out)
        return out


def slot_shading(extra: np.ndarray, size_factor: np.ndarray, idx: np.ndarray,
                 skew: np.ndarray, slot_maker: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each slot's shading of contracts ``idx``, as :func:`shade` takes it: int64
    [3, contract of idx, slot] holding k_bid = extra + skew, k_ask = extra - skew and
    shown = max(rint(sizes x size_factor), 1).

    Args:
        extra: each slot's extra ticks, int64 [contract of the chain, slot].
        size_factor: each slot's size factor, float64 [contract of the chain, slot].
        idx: the contracts, int64 indices into the chain.
        skew: each maker's skew in ticks, int64 [maker, contract of idx].
        slot_maker: the maker of each slot, int64 [slot].
        sizes: the base displayed size of each contract of ``idx``, int64 contracts.
    """
    out = np.empty((3, idx.size, slot_maker.size), dtype=np.int64)
    _slot_shading(extra, size_factor, np.ascontiguousarray(idx, dtype=np.int64),
                  np.ascontiguousarray(skew, dtype=np.int64), slot_maker,
                  np.ascontiguousarray(sizes, dtype=np.int64), out)
    return out


def shade(bid: np.ndarray, ask: np.ndarray, shading: np.ndarray,
          mpv: Mpv) -> tuple[ShadedQuotes, OptionNBBOs]:
    """The slots' quotes at every step (kept to be made on demand) and the NBBO they
    make (the rule in the module docstring).

    Args:
        bid, ask: the base quote, int64 cents [step, contract].
        shading: int64 [3, contract, slot]: ticks each slot moves its bid down
            (k_bid) and its ask up (k_ask), and its displayed size in contracts
            (shown, >= 1), as :func:`slot_shading` makes them.
        mpv: the chain's minimum price variation.

    Returns:
        The slot quotes (:class:`ShadedQuotes`), and their NBBO, int64 arrays
        [step, contract] (what :meth:`SlotQuotes.consolidated` gives for the slot
        quotes).
    """
    bid, ask = (np.ascontiguousarray(a, dtype=np.int64) for a in (bid, ask))
    shading = np.ascontiguousarray(shading, dtype=np.int64)
    span = np.empty((9, shading.shape[1] if shading.shape[2] else 0), dtype=np.int64)
    _span(shading, NO_ASK, span)
    nbbo = OptionNBBOs(*(np.empty(bid.shape, dtype=np.int64) for _ in range(4)))
    _shade(bid, ask, shading, _NO_SLOTS, span, mpv.below_cents, mpv.above_cents,
           NICKEL_FROM_CENTS, NO_ASK, _NO_DEST, _NO_SLOTS, _NO_SLOTS, _NO_SLOTS, _NO_SLOTS,
           *nbbo)
    return ShadedQuotes(bid, ask, shading, span, mpv), nbbo


@kernel
def _slot_shading(extra: np.ndarray, size_factor: np.ndarray, idx: np.ndarray,
                  skew: np.ndarray, slot_maker: np.ndarray, sizes: np.ndarray,
                  out: np.ndarray) -> None:  # pragma: no cover - compiled
    """:func:`slot_shading`'s loop: one pass over [contract of idx, slot] instead of a
    numpy temporary per operation (the same float product and rounding)."""
    for j in range(idx.size):
        c = idx[j]
        base = sizes[j]
        for s in range(slot_maker.size):
            k = extra[c, s]
            m = skew[slot_maker[s], j]
            out[0, j, s] = k + m
            out[1, j, s] = k - m
            out[2, j, s] = np.int64(max(np.rint(base * size_factor[c, s]), 1.0))


@kernel
def _span(shading: np.ndarray, no_ask: int, span: np.ndarray) -> None:  # pragma: no cover
    """Each contract's extreme shading (``shading`` int64 [3, contract, slot]: k_bid,
    k_ask, shown; at least one slot) into ``span`` int64 [9, contract]: the least and
    most k_bid (rows 0, 1), the least and most k_ask (2, 3), the least k_bid + k_ask
    (4); over the slots showing (shown > 0), the least k_bid and the shown sizes summed
    over the slots at it (5, 6), likewise for k_ask (7, 8) (``no_ask`` and 0 when no
    slot shows)."""
    for c in range(span.shape[1]):
        span[0, c] = span[1, c] = shading[0, c, 0]
        span[2, c] = span[3, c] = shading[1, c, 0]
        span[4, c] = shading[0, c, 0] + shading[1, c, 0]
        span[5, c] = span[7, c] = no_ask
        span[6, c] = span[8, c] = 0
        for s in range(shading.shape[2]):
            kb = shading[0, c, s]
            ka = shading[1, c, s]
            span[0, c] = min(span[0, c], kb)
            span[1, c] = max(span[1, c], kb)
            span[2, c] = min(span[2, c], ka)
            span[3, c] = max(span[3, c], ka)
            span[4, c] = min(span[4, c], kb + ka)
            size = shading[2, c, s]
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


@kernel
def _shade(bid: np.ndarray, ask: np.ndarray, shading: np.ndarray, shading_t: np.ndarray,
           span: np.ndarray, below: int, above: int, nickel: int, no_ask: int,
           dest: np.ndarray, out_bid: np.ndarray, out_ask: np.ndarray,
           out_bid_size: np.ndarray, out_ask_size: np.ndarray, nbb: np.ndarray,
           nbo: np.ndarray, nbb_size: np.ndarray,
           nbo_size: np.ndarray) -> None:  # pragma: no cover - compiled
    """The rule's loop, a (step, contract) at a time (``bid``, ``ask`` [step, contract];
    ``shading`` [3, contract, slot]: k_bid, k_ask, shown; ``span`` their extremes per
    contract, :func:`_span`, or [9, 0] to go slot by slot everywhere).

    A (step, contract) where the module docstring's shortcut holds is settled from
    ``span``; any other goes slot by slot: the slots' prices and the best ask over them,
    then the bids that would lock or cross it stepped down, and the sizes. Where
    ``nbb`` etc. (int64 [step, contract]) are not empty the consolidation goes there (a
    bid shows when its size and price are > 0, an ask when its size is > 0; ``nbo`` is
    ``no_ask`` and the sizes 0 where nothing shows). Where ``out_*`` (int64 [slot, step,
    *]) are not empty slot s's quote of (step t, contract c) goes to
    ``out_*[s, t, dest[c]]``: those of the shortcut's contracts after each step's pass,
    a slot at a time (``shading_t``, the shading [3, slot, contract], read in order),
    so a row of ``out_*`` is written in order. Prices are >= 0, so a tick of one cent
    needs no rounding."""
    n_steps, n = bid.shape
    n_slots = shading.shape[2]
    write = out_bid.shape[0] > 0
    book = nbb.shape[0] > 0
    fast = span.shape[1] > 0
    shift = np.zeros(n if write else 0, dtype=np.int64)  # the shortcut's tick, else 0
    slot_bid = np.empty(n_slots, dtype=np.int64)
    slot_ask = np.empty(n_slots, dtype=np.int64)
    for t in range(n_steps):
        for c in range(n):
            base_bid = bid[t, c]
            base_ask = ask[t, c]
            bid_tick = above if base_bid >= nickel else below
            ask_tick = above if base_ask >= nickel else below
            if fast and base_bid > 0 and bid_tick == ask_tick and (
                    bid_tick == 1 or (base_bid % bid_tick == 0 and base_ask % bid_tick == 0)):
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
                    if book:
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
                    if write:
                        shift[c] = bid_tick
                    continue
            if write:
                shift[c] = 0
            best = no_ask
            for s in range(n_slots):
                b = 0
                if base_bid > 0:
                    b = max(base_bid - shading[0, c, s] * bid_tick, 0)
                tick = above if b >= nickel else below
                if tick != 1:
                    b = b // tick * tick
                tick = above if b >= nickel else below
                a = max(base_ask + shading[1, c, s] * ask_tick, b + tick)
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
                size = shading[2, c, s]
                if size > 0:
                    best_bid = max(best_bid, b)
                    best_ask = min(best_ask, slot_ask[s])
                if write:
                    d = dest[c]
                    out_bid[s, t, d] = b
                    out_ask[s, t, d] = slot_ask[s]
                    out_bid_size[s, t, d] = size if b > 0 else 0
                    out_ask_size[s, t, d] = size
            if book:
                bid_size = 0
                ask_size = 0
                for s in range(n_slots):
                    size = shading[2, c, s]
                    if size > 0:
                        if slot_bid[s] == best_bid:
                            bid_size += size
                        if slot_ask[s] == best_ask:
                            ask_size += size
                nbb[t, c] = best_bid
                nbo[t, c] = best_ask
                nbb_size[t, c] = bid_size if best_bid > 0 else 0
                nbo_size[t, c] = ask_size
        if write:  # the shortcut's slot quotes: every one is the base shifted, its bid > 0
            for s in range(n_slots):
                for c in range(n):
                    tick = shift[c]
                    if tick != 0:
                        d = dest[c]
                        size = shading_t[2, s, c]
                        out_bid[s, t, d] = bid[t, c] - shading_t[0, s, c] * tick
                        out_ask[s, t, d] = ask[t, c] + shading_t[1, s, c] * tick
                        out_bid_size[s, t, d] = size
                        out_ask_size[s, t, d] = size
