"""Feed fault models and attribution wrap the feed; the venues and tapes hold no scenario state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tapesim.scenarios.catalog import CATALOG, Policy
from tapesim.scenarios.policies import (
    AtTouch,
    BlockAtTouch,
    CrossNearMid,
    FreezeThenTrade,
    HedgeAfterFall,
    InformedWithFollowThrough,
    Injection,
    IsoSweep,
    MidPackage,
    StickThenTrade,
    TradeThenReport,
    execution_for,
    injection_class,
)
from tapesim.sim.rng import Draws, stream
from tapesim.venues.feed.attribution import CausedOptionFeed, CausedTape, caused_by
from tapesim.venues.feed.freeze import FrozenFeed
from tapesim.venues.option_tape import OptionTape
from tapesim.venues.options import OptionVenues
from tapesim.venues.tape import Tape, read_spool


@dataclass
class RecordingFeed:
    """An OPRA feed adapter that keeps what it is asked to publish."""

    nbbo_calls: list[dict[str, Any]] = field(default_factory=list)
    trades: list[int] = field(default_factory=list)  # the cause of each print

    def ms(self, now_ns: int) -> int:
        return now_ns // 1_000_000

    def nbbos(self, times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray,
              asks: np.ndarray, bid_sizes: np.ndarray, ask_sizes: np.ndarray,
              causes: np.ndarray | int | None = None) -> np.ndarray | None:
        self.nbbo_calls.append({"times": times_ns.tolist(), "contracts": contracts.tolist(),
                                "causes": causes})
        return None

    def trade(self, now_ns: int, contract: int, price: int, size: int, venue: int, agent: int,
              contra: int, parent: int, conditions: int, nbbo: Any, underlying: Any,
              effect: int, not_before: int = 0, refers: int = -1, cause: int = -1) -> int:
        self.trades.append(cause)
        return len(self.trades) - 1


@dataclass
class FakeVenues:
    tape: Any


def _rows(times: list[int], contracts: list[int]) -> tuple[np.ndarray, ...]:
    n = len(times)
    return (np.array(times), np.array(contracts), np.full(n, 100), np.full(n, 110),
            np.full(n, 5), np.full(n, 7))


def test_a_freeze_holds_back_its_contracts_changes_until_it_ends() -> None:
    inner = RecordingFeed()
    venues = FakeVenues(inner)
    frozen = FrozenFeed.on(venues)
    assert venues.tape is frozen and FrozenFeed.on(venues) is frozen
    frozen.freeze([3], until_ns=100)
    shown = frozen.nbbos(*_rows([50, 50, 150], [3, 4, 3]), causes=np.array([1, 2, 3]))
    assert shown is not None and shown.tolist() == [False, True, True]
    assert inner.nbbo_calls[-1]["contracts"] == [4, 3]
    assert inner.nbbo_calls[-1]["causes"].tolist() == [2, 3]
    assert frozen.nbbos(*_rows([150], [3])) is None  # ended: everything publishes
    assert frozen.frozen == {}


def test_one_nbbo_row_goes_through_the_wrappers_as_a_chunk_of_one() -> None:
    inner = RecordingFeed()
    venues = FakeVenues(inner)
    frozen = FrozenFeed.on(venues)
    frozen.freeze([3], until_ns=100)
    assert frozen.nbbo(50, 3, 100, 110, 5, 7) is False  # frozen: held back
    assert [c["contracts"] for c in inner.nbbo_calls] == [[]]
    inner.nbbo_calls.clear()
    assert frozen.nbbo(50, 4, 100, 110, 5, 7) is True
    caused = CausedOptionFeed(frozen, 6)
    assert caused.nbbo(60, 4, 100, 110, 5, 7) is True
    assert caused.nbbo(70, 4, 100, 110, 5, 7, cause=2) is True  # a row's own cause stays
    assert [(c["times"], c["contracts"], c["causes"]) for c in inner.nbbo_calls] == [
        ([50], [4], None), ([60], [4], 6), ([70], [4], 2)]


def test_a_freeze_is_found_under_attribution() -> None:
    venues = FakeVenues(RecordingFeed())
    frozen = FrozenFeed.on(venues)
    venues.tape = CausedOptionFeed(frozen, 4)
    assert FrozenFeed.on(venues) is frozen


def test_caused_by_attributes_both_tapes_only_inside_the_block(tmp_path: Path) -> None:
    tape = Tape(tmp_path / "s.arrow", 0, 0.0, Draws(stream(1, "X", "feed")))
    stock, options = FakeVenues(tape), FakeVenues(RecordingFeed())
    option_feed = options.tape
    with caused_by(2, stock, options):
        assert isinstance(stock.tape, CausedTape) and isinstance(options.tape, CausedOptionFeed)
        stock.tape.quote(1_000_000, 100, 101)
        options.tape.trade(0, 1, 50, 1, 0, 0, 1, -1, 0, None, None, 0)
        options.tape.nbbos(*_rows([0], [1]))
        options.tape.nbbos(*_rows([0], [1]), causes=np.array([7]))
        with caused_by(5, stock, options):
            stock.tape.trade(2_000_000, 100, 10, 0, 1, 2, -1)
        stock.tape.quotes([3_000_000], [100], [102])
    assert stock.tape is tape and options.tape is option_feed
    tape.quote(4_000_000, 100, 101)
    tape.close()
    causes = read_spool(tmp_path / "s.arrow").column("cause").to_pylist()
    assert causes == [2, 5, 2, -1]
    assert option_feed.trades == [2]
    assert [c["causes"] for c in option_feed.nbbo_calls[:1]] == [2]
    assert option_feed.nbbo_calls[1]["causes"].tolist() == [7]  # rows with their own cause


def test_tapes_hold_no_cause(tmp_path: Path) -> None:
    tape = Tape(tmp_path / "s.arrow", 0, 0.0, Draws(stream(1, "X", "feed")))
    opra = OptionTape(tmp_path / "o.arrow", 0, 0.0, np.random.default_rng(1), 3)
    assert not hasattr(tape, "cause") and not hasattr(opra, "cause")
    tape.close()
    opra.close()


def test_option_venues_hold_no_fault_state() -> None:
    for name in ("freeze", "stick", "frozen", "stuck", "recording", "cancel", "correct"):
        assert not hasattr(OptionVenues, name), name


EXPECTED = {  # catalog entry -> (schedule, execution)
    "institutional-directional-flow": (Injection, AtTouch),
    "volatility-seller-supply": (Injection, AtTouch),
    "event-noise-positioning": (Injection, MidPackage),
    "structure-arbitrage-calm": (Injection, MidPackage),
    "hedge-reactive-put-flow": (HedgeAfterFall, CrossNearMid),
    "informed-put-sweep": (Injection, IsoSweep),
    "premium-anomaly": (Injection, BlockAtTouch),
    "stock-and-options-confirmation": (InformedWithFollowThrough, AtTouch),
    "stale-quote-trap": (FreezeThenTrade, CrossNearMid),
    "locked-crossed-quotes": (StickThenTrade, AtTouch),
    "late-and-corrected-prints": (TradeThenReport, BlockAtTouch),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_catalog_entries_build_their_policy_classes(name: str) -> None:
    policy = CATALOG[name].policy
    schedule, execution = EXPECTED[name]
    assert injection_class(policy) is schedule
    assert type(execution_for(policy)) is execution


def test_every_catalog_entry_builds() -> None:
    for spec in CATALOG.values():
        assert issubclass(injection_class(spec.policy), Injection)


@pytest.mark.parametrize("policy", [Policy(fault="reports", style="ask"),
                                    Policy(fault="reports", style="sweep"),
                                    Policy(fault="freeze", informed_s=60.0),
                                    Policy(react_bps=10.0, informed_s=60.0),
                                    Policy(react_bps=10.0, fault="freeze", fault_s=10.0)])
def test_combinations_no_class_acts_out_are_refused(policy: Policy) -> None:
    with pytest.raises(ValueError):
        injection_class(policy)
