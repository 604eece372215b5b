"""A load's volume and bursts: copies of a run with renamed underlyings, merged by time,
and a pace that bursts on schedule."""

from __future__ import annotations

import asyncio
import io
import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from pydantic import ValidationError

from tapesim.config.run import with_overrides
from tapesim.replay import JsonLinesSink, ReplaySpec, RunDirectorySource, replay
from tapesim.replay.engine import LiveClock
from tapesim.replay.plan import Burst, ReplayError, Selector, wall_elapsed_ms
from tapesim.replay.volume import COPY_SEED_STRIDE, InterleavedSource, copies, copy_symbol
from tapesim.testing.cache import RunCache
from tests.test_replay import small_options_config

#: Fields a live replay rewrites: the times (shifted together) and the numbering.
RETIMED = {"ts", "ingest_ts", "source_ts", "seq", "trace_id", "execution_nbbo_ts",
           "execution_underlying_ts"}


def underlying(event: dict) -> str:
    if "underlying_id" in event:
        return event["underlying_id"]
    return event["option_contract_id"].split("-", 1)[0]


def test_copy_symbols_append_letters_and_refuse_names_too_long() -> None:
    assert [copy_symbol("SPY", k) for k in (1, 2, 26, 27)] == ["SPYA", "SPYB", "SPYZ", "SPYAA"]
    assert copy_symbol("GOOGL", 1) == "GOOGLA"
    with pytest.raises(ReplayError, match="longer than 6"):
        copy_symbol("GOOGL", 27)


def test_copies_rename_every_underlying_and_take_their_own_seeds() -> None:
    base = small_options_config()
    base = with_overrides(base, {"scenarios": [
        {"name": "informed-put-sweep", "at": "09:30:10", "underlying": base.symbols[0].symbol}]})
    runs = copies(base, 3)
    assert runs[0] == base
    for k, run in enumerate(runs[1:], 1):
        assert [s.symbol for s in run.symbols] == [copy_symbol(s.symbol, k)
                                                   for s in base.symbols]
        assert run.seed == base.seed + k * COPY_SEED_STRIDE
        assert run.scenarios[0].underlying == copy_symbol(base.symbols[0].symbol, k)
        # nothing else differs
        same = run.snapshot() | {"symbols": None, "seed": None, "scenarios": None}
        assert same == base.snapshot() | {"symbols": None, "seed": None, "scenarios": None}
    with pytest.raises(ReplayError, match="volume 0"):
        copies(base, 0)


def test_a_copy_that_would_take_an_existing_name_is_refused() -> None:
    base = small_options_config()
    first = base.symbols[0].symbol
    twin = dict(base.symbols[1].model_dump(mode="json"), symbol=first + "A")
    config = with_overrides(base, {"symbols": [base.symbols[0].model_dump(mode="json"), twin]})
    with pytest.raises(ReplayError, match="already one of its symbols"):
        copies(config, 2)


@pytest.fixture(scope="module")
def two_runs(synthetic_run: RunCache) -> list[Path]:
    """The small run and its first copy."""
    return [synthetic_run(c).path for c in copies(small_options_config(), 2)]


def live_lines(source: RunDirectorySource | InterleavedSource) -> list[dict]:
    out = io.StringIO()
    clock = LiveClock(source.plan.run_id, speed=1.0, now_ms=lambda: 4_000_000_000_000)
    asyncio.run(replay(source, ReplaySpec(plan=source.plan), JsonLinesSink(out),
                       live_clock=clock))
    return [json.loads(line)["event"] for line in out.getvalue().splitlines()]


def test_each_underlying_of_a_load_is_its_own_run_only_retimed(two_runs: list[Path]) -> None:
    sources = [RunDirectorySource(p) for p in two_runs]
    merged = live_lines(InterleavedSource(sources))
    assert len(merged) == sum(s.plan.events for s in sources)
    assert [e["seq"] for e in merged] == list(range(1, len(merged) + 1))
    assert all(a["ts"] <= b["ts"] for a, b in pairwise(merged))
    by_underlying: dict[str, list[dict]] = defaultdict(list)
    for event in merged:
        by_underlying[underlying(event)].append(event)
    shifts = set()
    for source in sources:
        own = live_lines(source)  # the same clock origin: the same shift
        for symbol in source.plan.symbols:
            mine = [e for e in own if underlying(e) == symbol]
            theirs = by_underlying.pop(symbol)
            assert len(mine) == len(theirs) > 0
            for a, b in zip(mine, theirs, strict=True):
                assert {k: v for k, v in a.items() if k not in RETIMED} == \
                    {k: v for k, v in b.items() if k not in RETIMED}
                shifts.add(b["ts"] - a["ts"])
    assert not by_underlying  # no event of an underlying no run has
    assert len(shifts) == 1  # every event moved by the same time


def test_interleaving_resumes_from_a_merged_seq(two_runs: list[Path]) -> None:
    source = InterleavedSource([RunDirectorySource(p) for p in two_runs])
    all_seqs = [b.first_seq for b in source.batches(Selector())]
    rest = list(source.batches(Selector(from_seq=1001)))
    assert rest[0].first_seq == 1001 and all_seqs[0] == 1
    assert sum(b.num_rows for b in rest) == source.plan.events - 1000
    assert source.count(Selector(from_seq=1001)) == source.plan.events - 1000


def test_a_burst_schedule_maps_event_time_to_wall_time() -> None:
    burst = Burst(every_s=60.0, length_s=5.0, speed=20.0)
    # A period covers 5 s x 20 + 55 s x 1 = 155 simulated seconds, the burst first.
    expected = {0: 0.0, 50_000: 2_500.0, 100_000: 5_000.0, 130_000: 35_000.0,
                155_000: 60_000.0, 160_000: 60_250.0}
    for event_ms, wall_ms in expected.items():
        assert wall_elapsed_ms(event_ms, 1.0, burst) == pytest.approx(wall_ms)
    assert wall_elapsed_ms(90_000, 3.0) == 30_000.0
    with pytest.raises(ValidationError, match="must fit in its period"):
        Burst(every_s=5.0, length_s=6.0, speed=2.0)


def test_a_bursting_live_clock_rebases_on_the_schedule(two_runs: list[Path]) -> None:
    source = RunDirectorySource(two_runs[0])
    burst = Burst(every_s=2.0, length_s=0.5, speed=10.0)
    out = io.StringIO()
    clock = LiveClock(source.plan.run_id, speed=1.0, now_ms=lambda: 4_000_000_000_000,
                      burst=burst)
    asyncio.run(replay(source, ReplaySpec(plan=source.plan), JsonLinesSink(out),
                       live_clock=clock))
    live = [json.loads(line)["event"]["ts"] for line in out.getvalue().splitlines()]
    out = io.StringIO()
    asyncio.run(replay(source, ReplaySpec(plan=source.plan), JsonLinesSink(out)))
    run = [json.loads(line)["event"]["ts"] for line in out.getvalue().splitlines()]
    assert run[-1] - run[0] > 2 * 6_500  # the run spans several periods
    assert [t - live[0] for t in live] == [int(wall_elapsed_ms(t - run[0], 1.0, burst))
                                           for t in run]
