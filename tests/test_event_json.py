"""The per-event JSON encoding shared by export and replay: the column-wise encoder
writes exactly what ``stable_stringify`` writes for every event."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.events.models import KINDS, OPTION_PRINT
from tapesim.events.stable_json import js_number, stable_stringify
from tapesim.io.event_json import (
    _float_texts,
    encode_batch,
    encode_events,
    event_dicts,
    stable_objects,
    value_texts,
)


def test_encoder_matches_stable_stringify_on_every_kind(tiny_options_run: Path) -> None:
    for kind in KINDS:
        table = pq.read_table(tiny_options_run / f"{kind.file_stem}.parquet")
        assert table.num_rows > 0, kind.name
        expected = [stable_stringify(e) for e in event_dicts(table)]
        assert encode_events(table) == expected, kind.name


def test_encoder_on_nulls_lists_and_odd_numbers() -> None:
    rows = [{"ts": 1, "source_ts": 1, "ingest_ts": 2, "seq": 3, "trace_id": "r:option-print:3",
             "option_contract_id": "SPY-2026-01-16-500-C", "price": 500.0, "size": 1,
             "exchange": "CBOE", "conditions": ["SWEEP", "ISO"], "notional": 1e21,
             "execution_iv": 1e-7, "execution_nbbo_mid": float("nan"), "is_etf": True,
             "signal_reasons": [], "underlying_id": "é"}]
    table = pa.Table.from_pylist(rows, schema=OPTION_PRINT.schema)
    assert encode_events(table) == [stable_stringify(e) for e in event_dicts(table)]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_fast_float_text_is_javascripts(value: float) -> None:
    assert _float_texts(pa.array([value], pa.float64())).to_pylist() == [js_number(value)]
    assert math.isfinite(value)


_FLOATS = st.one_of(
    st.floats(allow_infinity=True, allow_nan=True),
    st.integers(-10**14, 10**14).map(lambda k: k / 10_000),  # the fast path's own values
    st.integers(-10**9, 10**9).map(lambda k: k / 100),
    st.none())


@given(st.lists(_FLOATS, max_size=30))
def test_float_columns_are_written_as_javascript_writes_them(values: list[float | None]) -> None:
    column = pa.array(values, pa.float64())
    expected = [None if v is None else js_number(v) for v in values]
    assert value_texts(column).to_pylist() == expected


def test_objects_skip_null_members_and_sort_keys_by_utf16() -> None:
    a = pa.array(['"x"', None, None], pa.string())
    b = pa.array(["1", "2", None], pa.string())
    objects = stable_objects({"b": b, "\U0001F600": a, "\uff61": a}, 3).to_pylist()
    assert objects == [stable_stringify({"b": 1, "\U0001F600": "x", "\uff61": "x"}), '{"b":2}',
                       "{}"]
    assert stable_objects({"k": "true"}, 2).to_pylist() == ['{"k":true}'] * 2


# --- the column-wise encoder against the reference on random events -----------------

_EDGE_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),  # nan/inf written null, -0.0, 5e-324
    st.sampled_from([0.0, -0.0, 1e21, 1e-7, 1e-6, 9_999_999_999.5, 1e10, 1e16, 2.0**53]),
    st.integers(-10**14, 10**14).map(lambda k: k / 10_000))
_EDGE_INTS = st.one_of(st.integers(0, 2**40), st.integers(-(2**63), 2**63 - 1))
# any text JSON can hold: quotes, backslashes, control characters, non-ASCII and
# characters outside the BMP (two UTF-16 code units), the empty string
_STRINGS = st.text(st.characters(codec="utf-8"), max_size=12)


def _values(field: pa.Field) -> st.SearchStrategy:
    t = field.type
    if pa.types.is_boolean(t):
        values: st.SearchStrategy = st.booleans()
    elif pa.types.is_integer(t):
        values = _EDGE_INTS
    elif pa.types.is_floating(t):
        values = _EDGE_FLOATS
    elif pa.types.is_string(t):
        values = _STRINGS
    else:  # lists of strings
        values = st.lists(_STRINGS, max_size=4)
    return st.one_of(st.none(), values) if field.nullable else values


@st.composite
def _kind_rows(draw: st.DrawFn) -> pa.Table:
    kind = draw(st.sampled_from(KINDS))
    row = st.fixed_dictionaries({f.name: _values(f) for f in kind.schema})
    # a column of one repeated value now and then (all null, or equal to another)
    rows = draw(st.lists(row, min_size=1, max_size=12))
    return pa.Table.from_pylist(rows, schema=kind.schema)


@settings(max_examples=80, deadline=None)
@given(_kind_rows(), st.sampled_from([((), ()), (['{"event":'], [',"kind":"k"}\n'])]))
def test_encoder_equals_the_reference_on_random_events(
        table: pa.Table, around: tuple[list[str], list[str]]) -> None:
    """Every kind, every field null or not, edge floats and integers, any unicode text:
    ``encode_batch`` writes ``stable_stringify`` of the reference dicts, between the
    given head and tail."""
    head, tail = around
    expected = ["".join(head) + stable_stringify(e) + "".join(tail) for e in event_dicts(table)]
    assert encode_batch(table, head, tail).to_pylist() == expected
    assert encode_batch(table.slice(1), head, tail).to_pylist() == expected[1:]
