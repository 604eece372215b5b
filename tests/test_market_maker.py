"""The equity makers' price views agree with each other and with the documented rule.

At every re-consolidation of a stressed session (makers that disagree by many ticks,
heavy inventory skew, busy takers) the test restates the rule of
``tapesim.agents.market_maker`` for every maker in plain Python, from the desk's
paths and state (the re-pricing steps searched one step at a time), and checks that
the vectorised evaluation over a range of steps, the views at one step (every maker,
the best, the pick-off decision) and the slide rule agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import simpy

from tapesim.agents.market_maker import MakerDesk, adjusted
from tapesim.config.run import with_overrides
from tapesim.market.shard import ShardModel
from tapesim.venues.book import BUY, NO_ASK, NO_BID
from tapesim.venues.equity import EquityVenues
from tests.conftest import tiny_config
from tests.test_invariants import STRESS


def documented_repricings(mk: MakerDesk) -> list[int]:
    """The re-pricing steps as the module docstring states them, one step at a time."""
    cents, half, band = mk.cents.tolist(), mk.half.tolist(), mk.band.tolist()
    steps = [0]
    for k in range(1, len(cents)):
        t = steps[-1]
        if abs(cents[k] - cents[t]) >= band[k] or abs(half[k] - half[t]) >= 0.5:
            steps.append(k)
    return steps


def documented_quotes(mk: MakerDesk, j: int) -> tuple[list[int], list[int]]:
    """Every maker's raw (bid, ask) at step j, as the module docstring states the rule."""
    bids, asks = [], []
    for i, (w, a) in enumerate(zip(mk.width, mk.adjust, strict=True)):
        n = max(x for x, step in enumerate(mk.adopted[i].tolist()) if step <= j)
        t = mk.repricings.item(n)
        v, h, o = mk.cents.item(t), mk.half.item(t), mk.anchor_offsets.item(i, n)
        bids.append(math.floor(((v - h) + o) - w) + a if mk.bid_qty[i] else NO_BID)
        asks.append(math.ceil(((v + h) + o) + w) + a if mk.ask_qty[i] else NO_ASK)
    return bids, asks


@pytest.mark.parametrize("symbol", ["SPY", "AAPL"])
def test_views_follow_the_one_rule(
    symbol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = {"publishes": 0, "slid": 0, "pick_offs": 0}
    original = EquityVenues.publish

    def checked_publish(self: EquityVenues) -> None:
        mk = self.makers
        j, bb, ba = self.j, max(self.book_bids), min(self.book_asks)
        raw_bids, raw_asks = documented_quotes(mk, j)
        shown = [b for b in raw_bids if b != NO_BID]
        pick = mk.pick_off(j, bb, ba)
        if shown and max(shown) >= ba:
            assert pick is not None and pick[1:] == (BUY, max(shown))
            checks["pick_offs"] += 1
        elif min(raw_asks) <= bb:
            assert pick is not None and pick[1:] == (-BUY, min(raw_asks))
            checks["pick_offs"] += 1
        else:
            assert pick is None
        # Every maker at step j: the documented rule, slid off the books and the best bid.
        cap = ba - 1
        slid_bids = [min(b, cap) if b != NO_BID else NO_BID for b in raw_bids]
        floor = max(max(slid_bids), bb) + 1
        slid_asks = [max(a, floor) if a != NO_ASK else NO_ASK for a in raw_asks]
        checks["slid"] += (slid_bids, slid_asks) != (raw_bids, raw_asks)
        assert mk.quotes_at(j, bb, ba) == (slid_bids, slid_asks)
        assert mk.best_at(j, bb, ba) == (max(slid_bids), min(slid_asks))
        # The vectorised rule over a range agrees with its length-1 evaluation.
        lo = max(j - 3, 0)
        window = mk.quotes(lo, j + 1)
        assert (window[:, :, -1] == mk.quotes(j, j + 1)[:, :, 0]).all()
        original(self)
        checks["publishes"] += 1

    monkeypatch.setattr(EquityVenues, "publish", checked_publish)
    config = with_overrides(tiny_config(minutes=2), STRESS)
    model = ShardModel(config, symbol, tmp_path / "spool.arrow")
    mk = model.venues.makers
    assert mk.repricings.tolist() == documented_repricings(mk)
    adopted = mk.adopted
    assert (adopted[:, 0] == 0).all() and (np.diff(adopted, axis=1) >= 0).all()
    assert (adopted[:, 1:] >= mk.repricings[1:]).all()  # adopted at or after the step
    model.run()
    assert checks["publishes"] > 200
    assert checks["slid"] > 0 and checks["pick_offs"] > 0


def test_adjustment_moves_by_the_band() -> None:
    """A maker keeps its whole-tick adjustment until the target leaves the band, then
    rounds half up."""
    assert adjusted(1.9, 0, 2.0) == 0
    assert adjusted(2.0, 0, 2.0) == 2
    assert adjusted(-2.5, 0, 2.0) == -2
    assert adjusted(0.1, 2, 2.0) == 2
    assert adjusted(-0.6, 2, 2.0) == -1



class _Tape:
    """The tape calls the venues make, kept as lists: quotes (ms, bid, ask), prints."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int]] = []
        self.last_quote: tuple[int, int, int] | None = None

    def quote(self, now_ns: int, bid: int, ask: int, cause: int = -1) -> None:
        self.rows.append(("quote", bid, ask))
        self.last_quote = (now_ns, bid, ask)

    def quotes(self, times: list[int], bids: list[int], asks: list[int]) -> None:
        for t, b, a in zip(times, bids, asks, strict=True):
            self.quote(t, b, a)

    def trade(self, now_ns: int, price: int, size: int, venue: int, agent: int, contra: int,
              parent: int, cause: int = -1) -> None:
        self.rows.append(("print", price, size))


class _Ledger:
    def transfer(self, buyer: int, seller: int, qty: int, price: int) -> None:
        pass


class _TwoMakers:
    """Two makers on venues 0 and 1 whose raw quotes jump at step 1 in opposite
    directions: maker 0's ask falls through a resting book bid (a pick-off) while maker
    1's bid rises above the ask in force. Quotes are slid as ``MakerDesk.quotes_at``
    slides them (bids under the book ask, asks above the best bid)."""

    def __init__(self) -> None:
        self.raw = {0: ([100, 99], [101, 102]), 1: ([97, 102], [99, 104])}
        self.venue_of, self.agents = [0, 1], [1, 2]
        self.bid_qty, self.ask_qty = [300, 300], [300, 300]

    def step_at(self, now_ns: int) -> int:
        return 0

    def quotes_at(self, j: int, book_bid: int, book_ask: int) -> tuple[list[int], list[int]]:
        bids, asks = self.raw[j]
        bids = [min(b, book_ask - 1) for b in bids]
        floor = max(max(bids), book_bid) + 1
        return bids, [max(a, floor) for a in asks]

    def best_at(self, j: int, book_bid: int, book_ask: int) -> tuple[int, int]:
        bids, asks = self.quotes_at(j, book_bid, book_ask)
        return max(bids), min(asks)

    def pick_off(self, j: int, book_bid: int, book_ask: int) -> tuple[int, int, int] | None:
        asks = self.raw[j][1]
        if min(asks) <= book_bid:
            return asks.index(min(asks)), -BUY, min(asks)
        return None

    def on_fill(self, i: int, side: int, qty: int, now_ns: int) -> None:
        (self.bid_qty if side == BUY else self.ask_qty)[i] -= qty


def test_a_pick_off_does_not_trade_at_an_unpublished_price() -> None:
    """Maker 0 sells to the book bid its new ask crosses; maker 1's new bid (102) is
    above the ask in force (101) and not on the tape yet, so the pick-off prints at the
    book's 100, inside the published 100 x 101, and only then is 102 x 103 published."""
    tape = _Tape()
    venues = EquityVenues(simpy.Environment(), 2, tape, _Ledger(),  # type: ignore[arg-type]
                          lambda now, side, qty: None)
    venues.attach(_TwoMakers())  # type: ignore[arg-type]
    venues.post(agent=9, venue=1, side=BUY, price=100, qty=100)
    venues.publish()
    assert tape.rows == [("quote", 100, 101)]
    venues.j = 1
    venues.publish()
    assert tape.rows[1:] == [("print", 100, 100), ("quote", 102, 103)]


@pytest.mark.parametrize("symbol", ["SPY", "AAPL"])
def test_every_lit_print_lies_inside_the_published_quote(
    symbol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A print on a lit venue is bound by the last NBBO the tape published before it,
    pick-offs included: a maker picking off a book order at a step whose quotes are not
    yet consolidated must not trade against another maker's unpublished price."""
    outside: list[tuple[int, tuple[int, int, int]]] = []
    prints = [0]
    original = EquityVenues._execute

    def checked(self: EquityVenues, venue: int, aggressor: int, passive: int, side: int,
                qty: int, price: int, parent: int) -> None:
        last = self.tape.last_quote
        if last is not None and venue < len(self.books):
            prints[0] += 1
            if not last[1] <= price <= last[2]:
                outside.append((price, last))
        original(self, venue, aggressor, passive, side, qty, price, parent)

    monkeypatch.setattr(EquityVenues, "_execute", checked)
    config = with_overrides(tiny_config(minutes=2), STRESS)
    ShardModel(config, symbol, tmp_path / "spool.arrow").run()
    assert prints[0] > 100
    assert outside == []
