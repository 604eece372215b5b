"""The JSON form of a canonical event, as the downstream pipeline reads it.

One home for the per-event encoding that ``tapesim export --format jsonl`` writes and
``tapesim replay`` publishes: a row of an event kind's Arrow table becomes a dict of
its fields with the null ones omitted (CONTRACT.md §1: "a field that has no value is
omitted"), and that dict is written in the pipeline's stable stringification
(``tapesim.events.stable_json``: sorted keys, no spaces, JavaScript numbers).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.models import EventKind
from tapesim.events.stable_json import js_number, stable_stringify

__all__ = ["encode_batch", "encode_events", "event_dicts", "event_json", "kind_entries",
           "quoted", "stable_objects", "utf16_sorted", "value_texts"]

_quote: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
_SAFE_INT = 2**53  # JavaScript writes integers below this in full
_ESCAPED = r'["\\\x00-\x1f]'  # what encode_basestring escapes (non-ASCII stays raw)


def event_dicts(rows: pa.Table | pa.RecordBatch) -> list[dict[str, Any]]:
    """The events of ``rows`` as dicts, one per row in row order, null fields omitted.

    Args:
        rows: rows of one event kind in its Arrow schema (``EventKind.schema``):
            times in epoch ms, prices in dollars, sizes in shares or contracts.
    """
    return [{k: v for k, v in row.items() if v is not None} for row in rows.to_pylist()]


def kind_entries(kind: EventKind, rows: pa.Table | pa.RecordBatch) -> list[dict[str, Any]]:
    """``{"kind": kind.name, "event": {...}}`` per row, the entries of the pipeline's
    ``market-events`` files (CONTRACT.md §2); fields without a value are omitted."""
    return [{"kind": kind.name, "event": event} for event in event_dicts(rows)]


def event_json(event: dict[str, Any]) -> str:
    """An event dict (from :func:`event_dicts`) as its stable JSON text, the payload a
    bus message carries (CONTRACT.md §3: one event per message)."""
    return stable_stringify(event)


def _js_float(value: float) -> str:
    """``js_number`` of a float, fast where Python's ``repr`` already agrees with it:
    both write the shortest round-trip digits, in fixed notation from 1e-4 to 1e16
    (JavaScript without the ``.0`` of an integral value)."""
    if 1e-4 <= abs(value) < 1e16:
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return js_number(value)


def _texts(values: list[Any], fmt: Callable[[Any], str]) -> pa.Array:
    """``fmt`` of each value as a string array (None stays null)."""
    return pa.array([None if v is None else fmt(v) for v in values], pa.string())


def value_texts(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value's JSON text as ``stable_stringify`` writes it, null where null.

    Integers are cast by Arrow (decimal digits, as JavaScript writes integers below
    2**53); floats, strings and lists are formatted once per distinct value.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    t = column.type
    if pa.types.is_boolean(t):
        return pc.if_else(column, "true", "false")
    if pa.types.is_integer(t):
        big = pc.max(pc.abs(column)).as_py()
        if big is None or big < _SAFE_INT:
            return pc.cast(column, pa.string())
        return _texts(column.to_pylist(), js_number)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return quoted(column)
    if pa.types.is_floating(t):
        fmt = _js_float
        encoded = pc.dictionary_encode(column)
        return pc.take(_texts(encoded.dictionary.to_pylist(), fmt), encoded.indices)
    return _texts(column.to_pylist(), stable_stringify)


def quoted(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string of ``column`` as a JSON string literal, as ``stable_stringify`` writes
    it (null stays null): wrapped in quotes by Arrow when nothing needs escaping, else
    each distinct value escaped once."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pc.any(pc.match_substring_regex(column, _ESCAPED)).as_py():
        return pc.binary_join_element_wise('"', column, '"', "")
    encoded = pc.dictionary_encode(column)
    return pc.take(_texts(encoded.dictionary.to_pylist(), _quote), encoded.indices)


def utf16_sorted(keys: list[str]) -> list[str]:
    """``keys`` in JavaScript's sort order (UTF-16 code units), the order of an object's
    members in the stable stringification."""
    return sorted(keys, key=lambda k: k.encode("utf-16-be", "surrogatepass"))


def stable_objects(members: dict[str, pa.Array | str], rows: int) -> pa.Array:
    """One JSON object per row, in the stable stringification, from its members' texts.

    Args:
        members: by key, either an Arrow string array of each row's value text (already
            stable JSON; null omits the member from that row) or one text for every row.
        rows: the number of rows (the length of every array in ``members``).

    Returns:
        a string array of ``rows`` objects, members in UTF-16 key order (what
        ``stable_stringify`` writes for the same dicts).
    """
    if not members:
        return pa.array(["{}"] * rows, pa.string())
    parts = []
    for key in utf16_sorted(list(members)):
        value = members[key]
        if isinstance(value, str):
            value = pa.array([value], pa.string()).take(pa.array([0] * rows, pa.int32()))
        parts.append(pc.binary_join_element_wise(_quote(key) + ":", value, ""))
    joined = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
    return pc.binary_join_element_wise("{", joined, "}", "")


def encode_batch(rows: pa.Table | pa.RecordBatch) -> pa.Array:
    """:func:`encode_events` as an Arrow string array (no Python string per row)."""
    if isinstance(rows, pa.RecordBatch):
        rows = pa.Table.from_batches([rows])
    return stable_objects({n: value_texts(rows.column(n)) for n in rows.schema.names},
                          rows.num_rows)


def encode_events(rows: pa.Table | pa.RecordBatch) -> list[str]:
    """The stable JSON of every row, column by column: for each row exactly
    ``stable_stringify`` of its :func:`event_dicts` entry (members in UTF-16 key order,
    null fields omitted, numbers as JavaScript writes them), built with Arrow's string
    kernels, many times faster.

    Args:
        rows: rows of one event kind in its Arrow schema.
    """
    if rows.num_rows == 0:
        return []
    return encode_batch(rows).to_pylist()
