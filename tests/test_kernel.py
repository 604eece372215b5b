"""Session time, RNG tree and the streaming merge (the calendar: test_calendar.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.io.merge import windowed_merge
from tapesim.sim.calendar import Session
from tapesim.sim.rng import Draws, stream, stream_key


def test_session_times_follow_daylight_saving() -> None:
    winter = Session.build(dt.date(2026, 3, 6), None, None)  # EST, UTC-5
    summer = Session.build(dt.date(2026, 3, 9), None, None)  # EDT, UTC-4
    assert winter.open_ms % 86_400_000 == (14 * 60 + 30) * 60_000
    assert summer.open_ms % 86_400_000 == (13 * 60 + 30) * 60_000


def test_streams_are_keyed_by_identity_only() -> None:
    a = stream(5, "SPY", "agent", "retail").random(4)
    _ = stream(5, "SPY", "agent", "brand-new-agent").random(100)
    assert np.array_equal(a, stream(5, "SPY", "agent", "retail").random(4))
    assert not np.array_equal(a, stream(6, "SPY", "agent", "retail").random(4))
    assert stream_key("SPY", "a") != stream_key("SPY", "b")
    # Pinned: a change here would silently change every run's output.
    assert stream_key("SPY", "a") == (2530104621, 1905666665, 3454674204, 10568816)


def test_block_draws_equal_direct_draws() -> None:
    draws = Draws(stream(1, "x"))
    got = [draws.uniform() for _ in range(Draws.BLOCK + 5)]
    gen = stream(1, "x")
    want = np.concatenate([gen.random(Draws.BLOCK), gen.random(Draws.BLOCK)[:5]])
    assert np.array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=40), min_size=1, max_size=4),
       st.integers(1, 7), st.integers(0, 30))
def test_windowed_merge_equals_full_sort(sources: list[list[int]], chunk: int,
                                         min_rows: int) -> None:
    """Windows concatenated are the full sort, whatever ``min_rows`` gathers, and every
    window but the last holds at least ``min_rows`` rows; sorted by ``k`` alone, rows
    tied on it keep source order, then their own (a stable sort). A deferred column
    read back at every position is the sorted column."""
    tables = []
    for i, keys in enumerate(sources):
        keys = sorted(keys)
        tables.append([pa.table({"k": keys[j:j + chunk], "src": [i] * len(keys[j:j + chunk]),
                                 "x": [7 * k + i for k in keys[j:j + chunk]],
                                 "local": list(range(j, j + len(keys[j:j + chunk])))})
                       for j in range(0, len(keys), chunk)])
    sort_keys = [("k", "ascending"), ("src", "ascending"), ("local", "ascending")]
    everything = [t for ts in tables for t in ts]
    full = pa.concat_tables(everything) if everything else None
    for keys in (sort_keys, sort_keys[:1]):
        merged = list(windowed_merge([iter(ts) for ts in tables], "k", keys, min_rows, ["x"]))
        assert all(w.num_rows >= min_rows for w in merged[:-1])
        if full is None:
            assert merged == []
            continue
        want = full.take(pc.sort_indices(full, sort_keys=sort_keys))
        got = pa.concat_tables([w.at(np.arange(w.num_rows)) for w in merged])
        assert got.select(want.column_names).equals(want)
        assert all(w.rows.column_names == ["k", "src"] for w in merged)


def test_ar1_filter_matches_the_recursion() -> None:
    from tapesim.agents.latent import ar1_filter

    gen = np.random.default_rng(3)
    for a in (0.2, 0.97, 0.9996):
        shocks = gen.standard_normal(5000)
        want, y = [], 0.7
        for e in shocks:
            y = a * y + e
            want.append(y)
        assert np.allclose(ar1_filter(shocks, a, 0.7), want, rtol=1e-9, atol=1e-9)


def test_bulk_exponentials_continue_the_scalar_sequence() -> None:
    one, many = Draws(stream(4, "x")), Draws(stream(4, "x"))
    want = [one.exponential() for _ in range(3 * Draws.BLOCK + 7)]
    got = [*many.exponentials(5), many.exponential(), *many.exponentials(3 * Draws.BLOCK + 1)]
    assert got == want
