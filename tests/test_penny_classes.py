"""Each root's option quotes and prints lie on its penny-interval class's grid.

The rule restated (the options exchanges' Penny Interval Program, Cboe Options Rule
5.4): QQQ, SPY and IWM $0.01 at every price; the program's other classes $0.01 below
$3 and $0.05 at or above; every other class $0.05 below $3 and $0.10 at or above.
DIA is a program class, not an all-penny one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tapesim.config.run import RunConfig, with_overrides
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.sim.strict import ConfigError
from tapesim.testing.cache import RunCache
from tapesim.verify.run import verify_run
from tests.conftest import tiny_options_config

# root -> (MPV below $3, MPV at or above), in cents
WANT = {"DIA": (1, 5), "AAPL": (5, 10)}


def dia_config() -> RunConfig:
    """DIA at $420 (default class) and AAPL overridden to non-penny, two minutes."""
    base = tiny_options_config(minutes=2)
    symbols = [s.model_dump(mode="json") for s in base.symbols]
    symbols[0].update(symbol="DIA", price=420.0)
    return with_overrides(base, {"symbols": symbols,
                                 "options": {"penny_classes": {"AAPL": "non-penny"}}})


@pytest.fixture(scope="module")
def dia_run(synthetic_run: RunCache) -> Path:
    return synthetic_run(dia_config()).path


def test_every_option_price_is_on_its_roots_grid(dia_run: Path) -> None:
    for stem, columns in (("option_nbbo", ("bid", "ask")), ("option_prints", ("price",))):
        t = pq.read_table(dia_run / f"{stem}.parquet")
        roots = np.array([c.split("-")[0] for c in t.column("option_contract_id").to_pylist()])
        for name in columns:
            cents = np.rint(t.column(name).to_numpy() * 100).astype(np.int64)
            for root, (below, above) in WANT.items():
                mine = cents[roots == root]
                high = mine[mine >= 300]
                assert high.size > 0, f"no {root} {stem}.{name} at or above $3"
                assert np.all(high % above == 0), f"{root} {stem}.{name} off the grid at >= $3"
                assert np.all(mine[mine < 300] % below == 0), f"{root} {stem}.{name} below $3"
    assert verify_run(dia_run) == []


def test_an_empty_override_leaves_the_snapshot_unchanged() -> None:
    base = tiny_options_config()
    assert "penny_classes" not in base.snapshot()["options"]
    same = with_overrides(base, {"options": {"penny_classes": {}}})
    assert ParameterSnapshot.of(same).sha256 == ParameterSnapshot.of(base).sha256
    assert dia_config().snapshot()["options"]["penny_classes"] == {"AAPL": "non-penny"}


@pytest.mark.parametrize(("classes", "needle"), [
    ({"TSLA": "penny"}, "options.penny_classes.TSLA"),
    ({"AAPL": "dime"}, "penny_classes.AAPL"),
])
def test_a_bad_override_names_the_field(classes: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        with_overrides(tiny_options_config(), {"options": {"penny_classes": classes}})
