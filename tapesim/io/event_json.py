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

from tapesim.events.models import EventKind
from tapesim.events.stable_json import js_number, stable_stringify

__all__ = ["encode_events", "event_dicts", "event_json", "kind_entries"]

_quote: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
_SAFE_INT = 2**53  # JavaScript writes integers below this in full


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


def _int_text(value: int) -> str:
    return str(value) if -_SAFE_INT < value < _SAFE_INT else js_number(value)


def _column_texts(name: str, column: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """``"name":value`` of each row of one column (None where null), as
    ``stable_stringify`` writes the member."""
    head = _quote(name) + ":"
    values = column.to_pylist()
    t = column.type
    if pa.types.is_boolean(t):
        return [None if v is None else head + ("true" if v else "false") for v in values]
    if pa.types.is_integer(t):
        return [None if v is None else head + _int_text(v) for v in values]
    if pa.types.is_floating(t):
        return [None if v is None else head + _js_float(v) for v in values]
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        quoted: dict[str, str] = {}
        out: list[str | None] = []
        for v in values:
            if v is None:
                out.append(None)
                continue
            text = quoted.get(v)
            if text is None:
                text = quoted[v] = head + _quote(v)
            out.append(text)
        return out
    return [None if v is None else head + stable_stringify(v) for v in values]


def encode_events(rows: pa.Table | pa.RecordBatch) -> list[str]:
    """The stable JSON of every row, column by column: for each row exactly
    ``stable_stringify`` of its :func:`event_dicts` entry (members in UTF-16 key order,
    null fields omitted, numbers as JavaScript writes them), many times faster.

    Args:
        rows: rows of one event kind in its Arrow schema.
    """
    if rows.num_rows == 0:
        return []
    names = sorted(rows.schema.names, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    columns = [_column_texts(n, rows.column(n)) for n in names]
    return ["{" + ",".join([m for m in members if m is not None]) + "}"
            for members in zip(*columns, strict=True)]
