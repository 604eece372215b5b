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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.models import EventKind
from tapesim.events.stable_json import js_number, stable_stringify

__all__ = ["encode_batch", "encode_events", "event_dicts", "event_json", "kind_entries",
           "member_texts", "quoted", "stable_objects", "utf16_sorted", "value_texts"]

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
        return _float_texts(column)
    return _texts(column.to_pylist(), stable_stringify)


# Floats that are a whole number of 1/10,000ths (prices in dollars and cents, IVs to
# four places): written from that integer by Arrow, no Python per value. For such an x
# (x == k / 10,000 correctly rounded, |x| < 1e10) the shortest round-trip digits are
# those of the decimal k / 10,000 with trailing zeros dropped: any other decimal of
# four places or fewer is 1e-4 away, far outside x's rounding interval (ulp < 2e-6),
# and one of fewer digits has fewer places. JavaScript writes them in fixed notation
# (1e-4 <= |x| < 1e21), the same digits.
_SCALE = 10_000
_FRACTIONS = pa.array([""] + [f".{i:04d}".rstrip("0") for i in range(1, _SCALE)], pa.string())


def _float_texts(column: pa.Array) -> pa.Array:
    """The JavaScript text of each float of ``column`` (null stays null)."""
    x = column.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", over="ignore"):
        k = np.rint(x * _SCALE)
        exact = (np.abs(x) < 1e10) & (k / _SCALE == x)
    exact &= ~np.asarray(column.is_null())
    if not exact.all():
        encoded = pc.dictionary_encode(column)
        slow = pc.take(_texts(encoded.dictionary.to_pylist(), _js_float), encoded.indices)
        if not exact.any():
            return slow
    k = np.where(exact, k, 0).astype(np.int64)
    whole = pa.array(np.abs(k) // _SCALE)
    sign = pa.array(np.where(k < 0, "-", ""), pa.string())
    fast = pc.binary_join_element_wise(sign, pc.cast(whole, pa.string()),
                                       _FRACTIONS.take(pa.array(np.abs(k) % _SCALE)), "")
    return fast if exact.all() else pc.if_else(pa.array(exact), fast, slow)


def quoted(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string of ``column`` as a JSON string literal, as ``stable_stringify`` writes
    it (null stays null): wrapped in quotes by Arrow when nothing needs escaping (no
    ``"``, backslash or control character: ``json``'s ``encode_basestring`` keeps
    non-ASCII raw), else each distinct value escaped once."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    data = np.frombuffer(column.buffers()[2] or b"", dtype=np.uint8)
    # the whole buffer, a superset of the values: nothing to escape in it
    if not ((data < 0x20) | (data == ord('"')) | (data == ord("\\"))).any():
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

    Built in one Arrow join: every member as ``,"key":value`` (a member absent from a
    row as nothing), then the leading comma of each row replaced by ``{``.
    """
    parts: list[pa.Array | str] = []

    def add(part: pa.Array | str) -> None:  # adjacent texts joined here, not per row
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
        else:
            parts.append(part)

    for key in utf16_sorted(list(members)):
        prefix, value = "," + _quote(key) + ":", members[key]
        if isinstance(value, str):
            add(prefix + value)
        elif value.null_count == len(value):
            continue
        elif value.null_count:
            add(pc.fill_null(pc.binary_join_element_wise(prefix, value, ""), ""))
        else:
            add(prefix)
            add(value)
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.array(["{" + "".join(parts)[1:] + "}" if parts else "{}"] * rows, pa.string())
    joined = pc.binary_join_element_wise(*parts, "}", "")
    objects = pc.binary_replace_slice(joined, start=0, stop=1, replacement="{")
    empty = pc.equal(joined, "}")  # a row with no member: "}" became "{"
    return pc.if_else(empty, "{}", objects) if pc.any(empty).as_py() else objects


def member_texts(rows: pa.Table | pa.RecordBatch) -> dict[str, pa.Array]:
    """:func:`value_texts` of every column, by name; an integer column equal to an
    earlier one (``source_ts`` and ``ts`` mostly are) reuses its texts."""
    texts: dict[str, pa.Array] = {}
    ints: list[tuple[np.ndarray, pa.Array]] = []
    for name in rows.schema.names:
        column = rows.column(name)
        if pa.types.is_integer(column.type) and not column.null_count:
            values = column.to_numpy()
            same = next((t for v, t in ints if np.array_equal(v, values)), None)
            texts[name] = same if same is not None else value_texts(column)
            ints.append((values, texts[name]))
        else:
            texts[name] = value_texts(column)
    return texts


def encode_batch(rows: pa.Table | pa.RecordBatch) -> pa.Array:
    """:func:`encode_events` as an Arrow string array (no Python string per row)."""
    return stable_objects(member_texts(rows), rows.num_rows)


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
