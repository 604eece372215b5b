"""The NBBO moves in steps and holds (``docs/realism-targets.md``, quote dynamics).

A five-minute midday window of each stock of the smoke profile, read from the shard's
spool (each quote row is one NBBO price change): NBBO price changes per print, the
share of seconds with a price change, and the share of consecutive prints at the same
price stay in the realism bands. Makers that re-quoted on every latent step gave 5-20
changes per print and a change in nearly every second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapesim.calibration.targets import EQUITY_BANDS
from tapesim.config.run import load_profile, with_overrides
from tapesim.runs import simulate_shard
from tapesim.venues.tape import PRINT, QUOTE, read_spool

WINDOW_S = 300


@pytest.mark.parametrize("symbol", ["SPY", "AAPL"])
def test_midday_nbbo_steps_and_holds(symbol: str, tmp_path: Path) -> None:
    config = with_overrides(load_profile("equities-smoke"),
                            {"seed": 5, "session": {"start": "12:00:00", "end": "12:05:00"}})
    spool = tmp_path / "spool.arrow"
    simulate_shard(config, symbol, spool)
    rows = read_spool(spool)
    kind, ts = rows["kind"].to_numpy(), rows["ts"].to_numpy()
    quotes, prints = ts[kind == QUOTE], rows["price"].to_numpy()[kind == PRINT]
    assert prints.size > 100
    per_print = quotes.size / prints.size
    seconds = np.unique((quotes - quotes.min()) // 1000).size / WINDOW_S
    same_price = float(np.mean(prints[1:] == prints[:-1]))
    assert EQUITY_BANDS["quote_trade_ratio"].contains(per_print), per_print
    assert EQUITY_BANDS["quote_change_seconds_share"].contains(seconds), seconds
    assert EQUITY_BANDS["same_price_prints_share"].contains(same_price), same_price
