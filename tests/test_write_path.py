"""The write path's building blocks: the merge's window sort and cutoff count, the
canonicaliser's scattered columns and the prefetching thread."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.events.models import OPTION_PRINT
from tapesim.io.canonical import Canonicaliser, _scattered
from tapesim.io.merge import _count_below, order, take_rows
from tapesim.io.prefetch import prefetched
from tapesim.runs import SORT_KEYS
from tests.synthetic_run import (
    LIT,
    OPTION_VENUES,
    OPTIONS,
    SHARDS,
    TRF,
    _option_rows,
    _stock_rows,
)

_BIG = 1 << 40


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 60), st.sampled_from([3, 1000, _BIG]), st.integers(0, 2**32 - 1))
def test_order_is_arrows_stable_sort(n: int, span: int, seed: int) -> None:
    """The composite-key sort, its lexsort fallback (``span`` 2**40 overflows the
    composite) and Arrow's stable multi-key sort give the same permutation."""
    gen = np.random.default_rng(seed)
    table = pa.table({
        "a": gen.integers(-span, span, n),
        "b": gen.integers(0, 3, n).astype(np.int8),
        "c": gen.integers(0, span, n),
        "tag": np.arange(n),
    })
    keys = [("a", "ascending"), ("b", "ascending"), ("c", "ascending")]
    want = pc.sort_indices(table, sort_keys=keys).to_numpy()
    assert np.array_equal(order(table, keys), want)


def test_order_leaves_other_keys_to_arrow() -> None:
    table = pa.table({"x": [0.5, 0.25, 0.5], "y": [1, 2, 0]})
    keys = [("x", "descending"), ("y", "ascending")]
    assert order(table, keys).tolist() == [2, 0, 1]


def test_prefetched_keeps_order_and_raises_the_producers_error() -> None:
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("spool damaged")

    got = []
    with pytest.raises(ValueError, match="spool damaged"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1]


def test_prefetched_stops_its_thread_when_closed_early() -> None:
    produced = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    stream = prefetched(endless(), depth=2, name="test-prefetch")
    assert next(stream) == 0
    stream.close()
    assert not any(t.name == "test-prefetch" for t in threading.enumerate())
    assert len(produced) <= 4  # the item handed out, ``depth`` waiting, one blocked



@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=6).map(sorted), max_size=5),
       st.integers(-1, 32))
def test_count_below_is_a_comparison_of_every_key(parts: list[list[int]], cutoff: int,
                                                  ) -> None:
    """The binary search over a chunked column of ascending keys counts what comparing
    every key counts (empty chunks and ties at the cutoff included)."""
    keys = sorted(k for part in parts for k in part)
    chunks, at = [], 0
    for part in parts:
        chunks.append(pa.array(keys[at:at + len(part)], pa.int64()))
        at += len(part)
    column = pa.chunked_array(chunks, pa.int64())
    assert _count_below(column, cutoff) == sum(k < cutoff for k in keys)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.data())
def test_scattered_puts_each_value_at_its_row(n: int, data: st.DataObject) -> None:
    """A scattered column holds each value at its row and null elsewhere, built from the
    values' bytes (rows ascending, values a slice of a larger array) or by a take (rows
    in any order)."""
    rows = data.draw(st.lists(st.integers(0, n - 1), unique=True))
    texts = data.draw(st.lists(st.text(max_size=4), min_size=len(rows) + 2,
                               max_size=len(rows) + 2))
    start = data.draw(st.integers(0, 2))
    values = pa.array(texts, pa.string()).slice(start, len(rows))
    for where in (sorted(rows), rows):
        got = _scattered(n, np.array(where, dtype=np.int64), values)
        got.validate(full=True)
        want: list[str | None] = [None] * n
        for row, text in zip(where, values.to_pylist(), strict=True):
            want[row] = text
        assert got.to_pylist() == want


@pytest.mark.parametrize("batch", [2, 3, 100])
def test_held_option_prints_come_out_as_each_windows_own(batch: int) -> None:
    """Prints held across windows until ``print_batch`` are, once flushed, the same rows,
    columns and detail records as each window's own, in seq order; the other kinds and
    provenance do not wait."""
    rows = pa.concat_tables([_stock_rows(), _option_rows(OPTIONS * 3)],
                            promote_options="default")
    rows = rows.take(pc.sort_indices(rows, sort_keys=SORT_KEYS))
    cuts = [0, 3, 5, 9, 12, rows.num_rows]

    def run(print_batch: int) -> tuple[dict[str, pa.Table], pa.Table, np.ndarray]:
        canon = Canonicaliser("r", SHARDS, [*LIT, *TRF], len(LIT), tuple(OPTION_VENUES),
                              print_batch=print_batch)
        tables: dict[str, list[pa.Table]] = {}
        provenance, details = [], []
        for lo, hi in itertools.pairwise(cuts):
            kinds, prov, _, detail = canon.window(rows.slice(lo, hi - lo))
            for name, table in kinds.items():
                tables.setdefault(name, []).append(table)
            provenance.append(prov)
            details.append(detail)
        held, detail = canon.flush_prints()
        tables[OPTION_PRINT.name].append(held)
        details.append(detail)
        return ({name: pa.concat_tables(parts) for name, parts in tables.items()},
                pa.concat_tables(provenance), np.concatenate(details))

    own, held = run(1), run(batch)
    assert own[0][OPTION_PRINT.name].num_rows == 9
    for name, table in own[0].items():
        assert held[0][name].equals(table), name
    assert held[1].equals(own[1])
    assert held[2].tobytes() == own[2].tobytes() and len(own[2]) == 9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=6), st.data())
def test_take_rows_is_a_take(sizes: list[int], data: st.DataObject) -> None:
    """Rows taken batch by batch from a table of several chunks (empty ones included)
    are ``Table.take``'s, in the order asked for."""
    n = sum(sizes)
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    table = pa.Table.from_batches([pa.record_batch({"a": np.arange(k, dtype=np.int64) + at,
                                                    "b": [str(i) for i in range(k)]},
                                                   schema=schema)
                                   for k, at in zip(sizes, np.cumsum([0, *sizes[:-1]]),
                                                    strict=True)], schema=schema)
    rows = np.array(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=12)
                              if n else st.just([])), dtype=np.int64)
    got = take_rows(table, rows)
    assert got.schema == table.schema and got.to_pydict() == table.take(
        pa.array(rows, pa.int64())).to_pydict()
