"""Feed freeze: the OPRA feed stops publishing some contracts' NBBO for a while.

:class:`FrozenFeed` wraps the feed adapter the options venues publish through. While a
contract is frozen its NBBO changes are not published (the venues still quote and
trade it), so prints meet the stale NBBO in force; changes from the freeze's end on
publish as usual. The freeze only filters the changes the venues found (each row
against the one before it, the first against the NBBO in force), so a contract whose
quote moved while frozen publishes again at its next change after the freeze ends.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tapesim.venues.feed.base import FeedWrapper, OptionFeed


class _HasFeed(Protocol):
    tape: OptionFeed


class FrozenFeed(FeedWrapper):
    """The OPRA feed adapter with some contracts frozen.

    Args:
        inner: the feed adapter it wraps (the tape, or another wrapper).
    """

    def __init__(self, inner: OptionFeed) -> None:
        super().__init__(inner)
        self.frozen: dict[int, int] = {}  # contract -> ns until which it does not publish

    @classmethod
    def on(cls, venues: _HasFeed) -> FrozenFeed:
        """The freeze wrapped around ``venues.tape``, installed there if none is yet."""
        feed: object = venues.tape
        while True:
            if isinstance(feed, cls):
                return feed
            if not hasattr(feed, "inner"):
                break
            feed = feed.inner
        frozen = cls(venues.tape)
        venues.tape = frozen
        return frozen

    def freeze(self, contracts: list[int], until_ns: int) -> None:
        """Publish no NBBO change of these contracts (indices into the chain) before
        ``until_ns`` (ns); a contract frozen again takes the later end."""
        for c in contracts:
            self.frozen[c] = until_ns

    def nbbos(
        self, times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray, asks: np.ndarray,
        bid_sizes: np.ndarray, ask_sizes: np.ndarray, causes: np.ndarray | int | None = None,
    ) -> np.ndarray | None:
        """Publish the rows of contracts not frozen at their time; returns the mask of rows
        published (``None``: all of them). Times only grow, so a freeze ended by the
        first row's time is dropped."""
        if self.frozen and np.size(times_ns):
            start = int(times_ns[0])
            self.frozen = {c: until for c, until in self.frozen.items() if until > start}
        if not self.frozen:
            return self.inner.nbbos(times_ns, contracts, bids, asks, bid_sizes, ask_sizes,
                                    causes)
        shown = np.ones(np.size(contracts), dtype=bool)
        for c, until in self.frozen.items():
            shown &= ~((contracts == c) & (times_ns < until))
        if shown.all():
            return self.inner.nbbos(times_ns, contracts, bids, asks, bid_sizes, ask_sizes,
                                    causes)
        kept = causes[shown] if isinstance(causes, np.ndarray) else causes
        self.inner.nbbos(times_ns[shown], contracts[shown], bids[shown], asks[shown],
                         bid_sizes[shown], ask_sizes[shown], kept)
        return shown
