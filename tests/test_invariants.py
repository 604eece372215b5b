"""Market invariants checked at every consolidation of a simulated session.

After each re-consolidation the test recomputes, from the books and the market
makers' standing quotes, every venue's best bid and offer and the NBBO, and checks:
no venue is ever crossed, the NBBO is never locked or crossed, the consolidated
state equals the recomputation, prices are whole cents and sizes positive, and
shares and cash are conserved across all agents.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from tapesim.config.run import with_overrides
from tapesim.runs import simulate_shard
from tapesim.venues.book import NO_ASK, NO_BID
from tapesim.venues.equity import EquityVenues
from tapesim.venues.tape import PRINT, QUOTE, read_spool
from tests.conftest import tiny_config

DEFAULTS: dict = {}
# Makers whose valuations disagree by many ticks, with heavy inventory skew and busy
# takers: quotes lock, cross and pick off book orders all the time, so every slide
# and pick-off rule is exercised.
STRESS = {"market_makers": {"offset_ticks": 6.0, "inventory_skew_ticks": 3.0,
                            "inventory_unit": 300},
          "noise": {"orders_per_s": 6.0}}


@pytest.mark.parametrize("symbol", ["SPY", "AAPL"])
@pytest.mark.parametrize("overrides", [DEFAULTS, STRESS], ids=["defaults", "stress"])
def test_invariants_hold_at_every_consolidation(
    symbol: str, overrides: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = {"publishes": 0}
    original = EquityVenues.publish

    def checked_publish(self: EquityVenues) -> None:
        original(self)
        checks["publishes"] += 1
        mk = self.makers
        bids, asks = mk.quotes_at(self.j, max(self.book_bids), min(self.book_asks))
        venue_bid = list(self.book_bids)
        venue_ask = list(self.book_asks)
        for i, venue in enumerate(mk.venue_of):
            if mk.bid_qty[i] > 0:
                venue_bid[venue] = max(venue_bid[venue], bids[i])
            if mk.ask_qty[i] > 0:
                venue_ask[venue] = min(venue_ask[venue], asks[i])
        for venue, (b, a) in enumerate(zip(venue_bid, venue_ask, strict=True)):
            assert b < a, f"venue {venue} crossed: {b} >= {a}"
            book = self.books[venue]
            assert book.best_bid < book.best_ask
        nbb, nbo = max(venue_bid), min(venue_ask)
        assert (self.nbb, self.nbo) == (nbb, nbo)
        if nbb != NO_BID and nbo != NO_ASK:
            assert nbb < nbo
        shares, cash = self.ledger.totals()
        assert shares == 0 and cash == 0

    monkeypatch.setattr(EquityVenues, "publish", checked_publish)
    config = with_overrides(tiny_config(minutes=4), overrides)
    result = simulate_shard(config, symbol, tmp_path / "spool.arrow")
    assert checks["publishes"] > 500
    assert set(result.conservation.values()) == {0}

    rows = read_spool(tmp_path / "spool.arrow")
    kind = rows.column("kind").to_numpy()
    ts = rows.column("ts").to_numpy()
    assert (ts[1:] >= ts[:-1]).all(), "the spool must be in time order"
    quotes, prints = rows.filter(pa.array(kind == QUOTE)), rows.filter(pa.array(kind == PRINT))
    assert (quotes.column("price").to_numpy() < quotes.column("ask").to_numpy()).all()
    assert (prints.column("size").to_numpy() > 0).all()
    assert (prints.column("price").to_numpy() > 0).all()
    assert prints.num_rows > 100 and quotes.num_rows > 100
