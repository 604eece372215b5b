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
