"""A demo loop's runs chained: each run opens every underlying where the run before it
closed (laps included), the same chain every time."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from tapesim.config.run import REGIMES, RunConfig, with_overrides
from tapesim.market.truth import closing_regime, latent_table
from tapesim.replay import JsonLinesSink, RunDirectorySource
from tapesim.replay.demo import LAP_SEED_STRIDE, TICK, DemoChain, loop, quote_mids
from tapesim.testing.cache import RunCache
from tests.conftest import tiny_config


def _half_minute(seed: int) -> RunConfig:
    """Two stocks for 30 s after the open."""
    return with_overrides(tiny_config(seed=seed, minutes=1), {"session": {"end": "09:30:30"}})


@pytest.fixture(scope="module")
def make(synthetic_run: RunCache) -> Callable[[RunConfig], Path]:
    """Runs made through the suite's run cache."""
    return lambda config: synthetic_run(config).path


def _quote_mids(lines: list[str]) -> list[tuple[str, float]]:
    """(underlying, mid) of each equity quote line, in publish order."""
    quotes = []
    for line in lines:
        doc = json.loads(line)
        if doc["kind"] == "equity_quote":
            event = doc["event"]
            quotes.append((event["underlying_id"], (event["bid"] + event["ask"]) / 2))
    return quotes


def test_consecutive_runs_and_laps_join_within_a_tick(make: Callable[[RunConfig], Path]
                                                      ) -> None:
    chain = DemoChain([[_half_minute(11)], [_half_minute(12)]], make)
    written = io.StringIO()
    done = asyncio.run(loop(chain.lap, JsonLinesSink(written), speed=None, laps=2))
    lines = written.getvalue().splitlines()
    runs = [s.plan.events for lap in (0, 1) for s in chain.lap(lap)]
    assert done.events == len(lines) == sum(runs)
    starts = [sum(runs[:i]) for i in range(len(runs) + 1)]
    pieces = [_quote_mids(lines[a:b]) for a, b in pairwise(starts)]
    symbols = {s.symbol for s in _half_minute(11).symbols}
    for before, after in pairwise(pieces):  # three seams
        for symbol in symbols:
            last = [m for s, m in before if s == symbol][-1]
            first = next(m for s, m in after if s == symbol)
            assert abs(first - last) <= TICK + 1e-9, (symbol, last, first)


def test_the_chain_is_deterministic_and_each_lap_has_its_seeds(
        make: Callable[[RunConfig], Path]) -> None:
    base = _half_minute(11)
    first, second = DemoChain([[base]], make), DemoChain([[base]], make)
    lap0 = first.lap(0)[0]
    assert lap0.plan.run_id == RunDirectorySource(make(base)).plan.run_id  # as configured
    chained = first.chained(base, 1)  # lap 1 after lap 0
    assert chained.seed == base.seed + LAP_SEED_STRIDE
    closing = quote_mids(Path(lap0.name))
    assert {s.symbol: s.price for s in chained.symbols} == {
        k: round(v, 3) for k, v in closing.items()}
    assert closing != {s.symbol: s.price for s in base.symbols}
    laps = [[s.plan.run_id for s in first.lap(k)] for k in (0, 1)]
    assert laps == [[s.plan.run_id for s in second.lap(k)] for k in (0, 1)]
    assert laps[0] != laps[1]


def test_a_chained_run_keeps_every_volatility_setting_of_its_config(
        make: Callable[[RunConfig], Path]) -> None:
    # Only the opening prices, the seed and the regime the market starts in move along
    # the chain: the volatility regime parameters and each symbol's volatility are the
    # config's in every lap.
    base = with_overrides(_half_minute(11), {"latent": {
        "regime_vol": [0.5, 1.0, 2.0], "regime_switch_per_hour": 4.0}})
    chain = DemoChain([[base]], make)
    chain.lap(0)
    chained = chain.chained(base, 1)
    assert chained.latent.start_regime == closing_regime(base)
    assert chained.latent.model_copy(update={"start_regime": "normal"}) == base.latent
    moved = chained.model_dump(mode="json")
    moved["latent"].pop("start_regime", None)
    for symbol in moved["symbols"]:
        symbol["price"] = next(s.price for s in base.symbols if s.symbol == symbol["symbol"])
    moved["seed"] = base.seed
    assert moved == base.model_dump(mode="json")
    assert chained.symbols != base.symbols  # the prices did move


def _switching(seed: int) -> RunConfig:
    """:func:`_half_minute` with the regime switching about once a minute."""
    return with_overrides(_half_minute(seed), {"latent": {"regime_switch_per_hour": 60.0}})


def test_laps_chain_the_volatility_regime_as_well_as_the_price(
        make: Callable[[RunConfig], Path]) -> None:
    base = _switching(11)  # its market closes the 30 s in the stress regime
    closing = closing_regime(base)
    assert closing == "stress" and base.latent.start_regime == "normal"
    first, second = DemoChain([[base]], make), DemoChain([[base]], make)
    lap0 = first.lap(0)[0]
    chained = first.chained(base, 1)  # lap 1 after lap 0
    assert chained.latent.start_regime == closing
    lap1 = first.lap(1)[0]
    snapshot = json.loads((Path(lap1.name) / "parameter_snapshot.json").read_text())
    assert snapshot["latent"]["start_regime"] == closing
    assert latent_table(chained).column("regime")[0].as_py() == REGIMES.index(closing)
    prices = quote_mids(Path(lap0.name))
    assert {s.symbol: s.price for s in chained.symbols} == {
        k: round(v, 3) for k, v in prices.items()}
    assert [[s.plan.run_id for s in first.lap(k)] for k in (0, 1)] == [
        [s.plan.run_id for s in second.lap(k)] for k in (0, 1)]


def test_the_default_start_regime_is_not_written_and_draws_as_before() -> None:
    base = _switching(11)
    assert "start_regime" not in base.latent.model_dump()
    normal = with_overrides(base, {"latent": {"start_regime": "normal"}})
    assert normal.model_dump() == base.model_dump()
    calm = with_overrides(base, {"latent": {"start_regime": "calm"}})
    assert calm.latent.model_dump()["start_regime"] == "calm"
    assert latent_table(calm).column("regime")[0].as_py() == 0
    assert latent_table(base).column("regime")[0].as_py() == 1
