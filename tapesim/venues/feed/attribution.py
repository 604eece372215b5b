"""Attribution: which injected scenario caused an event.

While an injected agent acts, :func:`caused_by` wraps both tapes the venues write to
(the SIP feed adapter of the stock and the OPRA one of its options) in a thin adapter
that writes the scenario's index in every row's ``cause`` column: the agent's own
prints, the makers' hedges its fills trigger, the quotes those move. On leaving, the
venues get their tapes back. Nothing else changes (the same rows, the same latency
draws), and the tapes themselves hold no cause: a row is attributed only when a
caller passes one, so background flow pays nothing for attribution. Rows that carry
their own causes (a stuck quote's NBBOs) keep them.

Why a wrapper for the action's length rather than a cause passed with each order: the
events an order causes are written far from it (a maker's fill handler hedges in the
stock, a fill republishes the NBBO), so a cause argument would have to run through
the venues' take and cross, the makers' fill handling and the stock venues' order
path, on every order of every agent. The wrapper gives the same attribution and
changes none of those signatures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from tapesim.venues.feed.base import FeedWrapper, OptionFeed
from tapesim.venues.tape import Tape


class _StockVenues(Protocol):
    tape: Any  # the SIP feed adapter (a Tape, or this module's wrapper of one)


class _OptionVenues(Protocol):
    tape: OptionFeed


class CausedTape:
    """The stock's tape with every row attributed to scenario ``cause``."""

    def __init__(self, inner: Tape, cause: int) -> None:
        self.inner = inner
        self.cause = cause

    def quote(self, now_ns: int, bid: int, ask: int) -> None:
        """One SIP quote (cents) at ``now_ns`` (ns)."""
        self.inner.quote(now_ns, bid, ask, self.cause)

    def quotes(self, times_ns: list[int], bids: list[int], asks: list[int]) -> None:
        """Several SIP quotes in time order (ns, cents)."""
        self.inner.quotes(times_ns, bids, asks, self.cause)

    def trade(self, now_ns: int, price: int, size: int, venue: int, agent: int, contra: int,
              parent: int) -> None:
        """One equity print (cents, shares)."""
        self.inner.trade(now_ns, price, size, venue, agent, contra, parent, self.cause)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CausedOptionFeed(FeedWrapper):
    """The OPRA feed adapter with every row attributed to scenario ``cause`` (rows given
    their own causes keep them)."""

    def __init__(self, inner: OptionFeed, cause: int) -> None:
        super().__init__(inner)
        self.cause = cause

    def nbbos(
        self, times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray, asks: np.ndarray,
        bid_sizes: np.ndarray, ask_sizes: np.ndarray, causes: np.ndarray | int | None = None,
    ) -> np.ndarray | None:
        """NBBO changes (see :class:`~tapesim.venues.feed.base.OptionFeed`)."""
        return self.inner.nbbos(times_ns, contracts, bids, asks, bid_sizes, ask_sizes,
                                self.cause if causes is None else causes)

    def trade(
        self, now_ns: int, contract: int, price: int, size: int, venue: int, agent: int,
        contra: int, parent: int, conditions: int, nbbo: tuple[int, int, int, int, int] | None,
        underlying: tuple[int, int, int] | None, effect: int, not_before: int = 0,
        refers: int = -1, cause: int = -1,
    ) -> int:
        """One option print, attributed to this scenario."""
        return self.inner.trade(now_ns, contract, price, size, venue, agent, contra, parent,
                                conditions, nbbo, underlying, effect, not_before, refers,
                                self.cause)


@contextmanager
def caused_by(cause: int, stock: _StockVenues, options: _OptionVenues) -> Iterator[None]:
    """Attribute every row written to ``stock.tape`` and ``options.tape`` inside the block
    to scenario ``cause`` (its index in the run's scenario list); a nested block
    attributes to its own."""
    stock_tape, option_feed = stock.tape, options.tape
    stock.tape = CausedTape(
        stock_tape.inner if isinstance(stock_tape, CausedTape) else stock_tape, cause)
    inner = option_feed.inner if isinstance(option_feed, CausedOptionFeed) else option_feed
    options.tape = CausedOptionFeed(inner, cause)
    try:
        yield
    finally:
        stock.tape = stock_tape
        options.tape = option_feed
