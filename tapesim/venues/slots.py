"""What the options makers and the options venues exchange: slot quotes and quote blocks.

A *slot* is one maker quoting on one venue. The makers (``tapesim.agents.option_makers``)
decide what every slot quotes and when; the venues (:mod:`tapesim.venues.options`)
hold the quotes in force, consolidate them and match orders against them. The venues
see the makers only through :class:`SlotMakers`, and the two pass plain data:

* :class:`SlotQuotes`: every slot's quote for some contracts at some times, int64
  arrays ``[slot, time, contract]`` (prices in cents, sizes in contracts);
* :class:`BlockSlots`: every slot's quote for some contracts at the steps of a block,
  made when read (the venues put one step's in force at a time);
* :class:`QuoteBlock`: the quotes of a block of requote grid steps, as the makers'
  cadence produces them.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from tapesim.venues.opra import OptionNBBOs, consolidate


class SlotQuotes(NamedTuple):
    """Every slot's quote for some contracts at some times: int64 arrays [slot, time,
    contract] (the quotes in force: [slot, contract]), prices in cents, sizes in
    contracts (a size of 0: that side not shown)."""

    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray

    def consolidated(self) -> OptionNBBOs:
        """The OPRA NBBO at each (time, contract): best over slots, sizes summed at the
        best (see :func:`tapesim.venues.opra.consolidate`); arrays [time, contract]."""
        s, t, c = self.bid.shape
        flat = [a.reshape(s, t * c) for a in (self.bid, self.ask, self.bid_size, self.ask_size)]
        return OptionNBBOs(*(a.reshape(t, c) for a in consolidate(*flat)))


class BlockSlots(Protocol):
    """Every slot's quote for some contracts at each step of a block (implemented by
    ``tapesim.agents.shading.ShadedQuotes``), made when read: the venues read one step
    at a time, a quote fault the steps it covers."""

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        ...

    def place(self, held: SlotQuotes, idx: np.ndarray, row: int) -> None:
        """Write the slots' quotes at step ``row`` into the quotes in force ``held``
        ([slot, contract of the chain], int64 C-contiguous) at the chain's contracts
        ``idx`` (int64, one per contract of the block)."""
        ...

    def window(self, r0: int, r1: int, cols: np.ndarray | None = None) -> SlotQuotes:
        """The slots' quotes at steps ``r0:r1`` for the block's contracts ``cols`` (all
        when ``None``): fresh int64 arrays [slot, r1 - r0, contract of cols]."""
        ...


class QuoteBlock(NamedTuple):
    """The makers' quotes for a block of consecutive requote grid steps, with the NBBO
    they make.

    ``slots`` holds the quotes of the fast (active) contracts ``idx`` at every step of
    the block; ``slow_slots`` those of the other contracts ``slow`` at the block's
    first step only (``None`` when none is requoted in this block). ``nbbo`` and
    ``slow_nbbo`` are their consolidations (what :meth:`SlotQuotes.consolidated`
    gives for the slots' quotes), made when the block is; the slots' quotes themselves
    are made as they are read (:class:`BlockSlots`).
    """

    first: int  # grid step of times[0]
    times: np.ndarray  # int64 ns since the open of each grid step
    idx: np.ndarray  # int64 contracts requoted every step
    slots: BlockSlots  # [slot, step, contract of idx]
    nbbo: OptionNBBOs  # [step, contract of idx]
    slow: np.ndarray  # int64 contracts requoted at the first step only
    slow_slots: BlockSlots | None  # [slot, 1, contract of slow]
    slow_nbbo: OptionNBBOs | None  # [1, contract of slow]


class SlotMakers(Protocol):
    """The options makers of one chain as the venues see them (implemented by
    ``tapesim.agents.option_makers.OptionMakers``)."""

    agents: list[int]  # ledger id of each maker
    slot_maker: np.ndarray  # int64 [slot]: the maker quoting in the slot
    slot_venue: np.ndarray  # int64 [slot]: the venue the slot quotes on
    first_step: int  # the first requote grid step of the session

    @property
    def root(self) -> str:
        """The chain's root, which sets its MPV grid."""
        ...

    @property
    def n_slots(self) -> int:
        """Number of slots (maker, venue)."""
        ...

    @property
    def n_contracts(self) -> int:
        """Number of listed contracts of the chain."""
        ...

    def due(self, now_ns: int) -> int:
        """The last requote grid step due at ``now_ns``."""
        ...

    def block(self, k: int) -> QuoteBlock:
        """The quotes of the block of grid steps starting at step ``k``."""
        ...

    def repost(self, c: int, held: SlotQuotes, published: tuple[int, ...]) -> None:
        """The makers re-post contract ``c``'s displayed sizes in the quotes in force
        ``held`` [slot, contract] (in place), given the NBBO last published for it (nbb,
        nbo, nbb_size, nbo_size)."""
        ...

    def on_fill(self, maker: int, c: int, signed_qty: int, now_ns: int) -> None:
        """Maker ``maker`` bought (+) or sold (-) ``signed_qty`` contracts of ``c``."""
        ...
