"""The two seams feed faults plug into: the OPRA feed adapter, and consolidation.

:class:`OptionFeed` is what the options venues need of the feed adapter; the tape
speaks it, and so does any wrapper around it (a fault, or attribution). Its
:meth:`OptionFeed.nbbos` returns which of the rows it was given it published, or
``None`` when it published them all: the venues keep the last NBBO the feed
published as the NBBO in force.

:class:`QuoteFault` is a fault wrapped around consolidation: it may rewrite the
venue quotes the makers post before they are consolidated and published, and the
quotes in force after they are held. ``OptionVenues.quote_fault`` is ``None`` unless
a scenario installed one.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from tapesim.venues.opra import OptionNBBOs
from tapesim.venues.slots import BlockSlots, SlotQuotes


class OptionFeed(Protocol):
    """The OPRA feed adapter as the options venues use it (see ``OptionTape``).

    ``last_print`` is (ts, ingest_ts), in ms, of the last print it delivered.
    """

    last_print: tuple[int, int]

    def ms(self, now_ns: int) -> int:
        """Event time (epoch ms) of a simulation time (ns)."""
        ...

    def nbbos(
        self, times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray, asks: np.ndarray,
        bid_sizes: np.ndarray, ask_sizes: np.ndarray, causes: np.ndarray | int | None = None,
    ) -> np.ndarray | None:
        """Publish NBBO changes (parallel arrays in time order, cents and contracts;
        ``causes`` the scenario index of each row, -1 for none). Returns a boolean mask
        of the rows published, or ``None`` when every row was."""
        ...

    def nbbo(self, now_ns: int, contract: int, bid: int, ask: int, bid_size: int,
             ask_size: int, cause: int = -1) -> bool:
        """Publish one NBBO change at ``now_ns`` (ns; cents and contracts; ``cause`` as in
        :meth:`nbbos`, -1 for none): :meth:`nbbos` of one row. Returns whether it was
        published."""
        ...

    def trade(
        self, now_ns: int, contract: int, price: int, size: int, venue: int, agent: int,
        contra: int, parent: int, conditions: int, nbbo: tuple[int, int, int, int, int] | None,
        underlying: tuple[int, int, int] | None, effect: int, not_before: int = 0,
        refers: int = -1, cause: int = -1,
    ) -> int:
        """Publish one option print (``cause``: the scenario that caused it, -1 for none);
        returns its row in the spool."""
        ...


class QuoteFault(Protocol):
    """A fault wrapped around consolidation (see :class:`tapesim.venues.feed.stuck.StuckQuote`)."""

    def rows(self, idx: np.ndarray, slots: BlockSlots, times: np.ndarray,
             rows: OptionNBBOs, r0: int, r1: int) -> tuple[OptionNBBOs, np.ndarray | None]:
        """The NBBO rows ``[step, contract of idx]`` to publish at ``times`` (ns) from the
        makers' block ``slots`` (its steps ``r0:r1``), and each row's cause (or ``None``)."""
        ...

    def hold(self, slots: SlotQuotes) -> None:
        """Rewrite the venue quotes in force (``[slot, contract]``) after a requote."""
        ...

    def cause(self, c: int, now_ns: int) -> np.ndarray | None:
        """The cause (a ``[[scenario]]`` array) of contract ``c``'s NBBO republished at
        ``now_ns``, or ``None``."""
        ...

    def expire(self, t_ns: int) -> None:
        """Drop what has ended by ``t_ns`` (the last step published)."""
        ...


class FeedWrapper:
    """An OPRA feed adapter around another (``inner``: the tape, or another wrapper)
    that passes every call on unchanged; a fault or attribution model subclasses it and
    overrides only what it changes. Attributes it lacks are read from ``inner``."""

    def __init__(self, inner: OptionFeed) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def ms(self, now_ns: int) -> int:
        """Event time (epoch ms) of a simulation time (ns)."""
        return self.inner.ms(now_ns)

    def nbbos(
        self, times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray, asks: np.ndarray,
        bid_sizes: np.ndarray, ask_sizes: np.ndarray, causes: np.ndarray | int | None = None,
    ) -> np.ndarray | None:
        """NBBO changes, passed on (see :meth:`OptionFeed.nbbos`)."""
        return self.inner.nbbos(times_ns, contracts, bids, asks, bid_sizes, ask_sizes, causes)

    def nbbo(self, now_ns: int, contract: int, bid: int, ask: int, bid_size: int,
             ask_size: int, cause: int = -1) -> bool:
        """One NBBO change, as one row of this adapter's :meth:`nbbos` (so a wrapper that
        overrides only :meth:`nbbos` treats both alike)."""
        one = [np.array([x], dtype=np.int64)
               for x in (now_ns, contract, bid, ask, bid_size, ask_size)]
        shown = self.nbbos(*one, None if cause == -1 else cause)
        return shown is None or bool(shown[0])

    def trade(self, *args: Any, **kwargs: Any) -> int:
        """One option print, passed on (see :meth:`OptionFeed.trade`)."""
        return self.inner.trade(*args, **kwargs)
