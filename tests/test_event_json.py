"""The per-event JSON encoding shared by export and replay: the column-wise encoder
writes exactly what ``stable_stringify`` writes for every event."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from tapesim.events.models import KINDS, OPTION_PRINT
from tapesim.events.stable_json import js_number, stable_stringify
from tapesim.io.event_json import _js_float, encode_events, event_dicts


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
    assert _js_float(value) == js_number(value)
    assert math.isfinite(value)
