"""The JSON form of a canonical event, as the downstream pipeline reads it.

One home for the per-event encoding that ``tapesim export`` writes and ``tapesim
replay`` publishes: a row of an event kind's Arrow table becomes a dict of its fields
with the null ones omitted (CONTRACT.md §1: "a field that has no value is omitted"),
and that dict is written in the pipeline's stable stringification
(``tapesim.events.stable_json``: sorted keys, no spaces, JavaScript numbers).

The reference is :func:`event_dicts` plus ``stable_stringify``, a Python object per
row. The encoder here builds the same text a batch at a time from the columns: each
column's values formatted once by Arrow (integers and floats cast to decimal text in
JavaScript's form, strings quoted by surrounding them with the quote characters,
lists joined), then every row's members laid out in key order by one Arrow join
(:func:`stable_objects`) with the keys, separators and quotes as constant parts; no
Python object per row. ``tests/test_event_json.py`` holds the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.models import EventKind
from tapesim.events.stable_json import js_number, stable_stringify

__all__ = ["Bare", "Member", "concat_texts", "encode_batch", "encode_events", "event_dicts",
           "event_json", "kind_entries", "member_texts", "member_value", "quoted",
           "stable_objects", "utf16_sorted", "value_texts"]

_quote: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
_SAFE_INT = 2**53  # JavaScript writes integers below this in full


@dataclass(frozen=True)
class Bare:
    """A string column whose JSON literals are its values between two quote
    characters: nothing in it needs escaping (no ``"``, backslash or control
    character; non-ASCII is written raw). The quotes are added where the texts are
    joined (:func:`concat_texts`), saving a pass over the strings."""

    values: pa.Array


# A member's value texts: JSON text per row (null: member absent), a string column
# written quoted as it is, or one JSON text for every row.
Member = pa.Array | Bare | str


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


def _single(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def _texts(values: list[Any], fmt: Callable[[Any], str]) -> pa.Array:
    """``fmt`` of each value as a string array (None stays null)."""
    return pa.array([None if v is None else fmt(v) for v in values], pa.string())


def _per_distinct(column: pa.Array, fmt: Callable[[Any], str]) -> pa.Array:
    """``fmt`` of each value of ``column``, called once per distinct value."""
    encoded = pc.dictionary_encode(column)
    return pc.take(_texts(encoded.dictionary.to_pylist(), fmt), encoded.indices)


def member_value(column: pa.Array | pa.ChunkedArray) -> pa.Array | Bare:
    """The JSON text of each value of ``column``, as ``stable_stringify`` writes it
    (null where null), or :class:`Bare` for a string column with nothing to escape.

    Integers are cast by Arrow (decimal digits, as JavaScript writes integers below
    2**53), floats as :func:`_float_texts` writes them, lists of strings joined by
    Arrow; other values are formatted once per distinct value in Python.
    """
    column = _single(column)
    t = column.type
    if pa.types.is_boolean(t):
        return pc.if_else(column, "true", "false")
    if pa.types.is_integer(t):
        bounds = pc.min_max(column).as_py()  # not abs: it wraps at the type's minimum
        if bounds["min"] is None or -_SAFE_INT < bounds["min"] <= bounds["max"] < _SAFE_INT:
            return pc.cast(column, pa.string())
        return _texts(column.to_pylist(), js_number)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return Bare(column) if not _needs_escape(column) else _per_distinct(column, _quote)
    if pa.types.is_floating(t):
        return _float_texts(column)
    if pa.types.is_list(t) and pa.types.is_string(t.value_type):
        return _string_list_texts(column)
    return _texts(column.to_pylist(), stable_stringify)


def value_texts(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value's JSON text as ``stable_stringify`` writes it, null where null
    (:func:`member_value` with strings quoted)."""
    value = member_value(column)
    return quoted(value.values) if isinstance(value, Bare) else value


# Arrow casts a float to the shortest round-trip digits (double-conversion, as V8)
# in JavaScript's layout except: fixed notation only below 1e10 (JavaScript: below
# 1e21), negative zero written "-0" (JavaScript: "0"), and non-finite values (the
# stable stringification: null). Values in none of those cases are cast by Arrow;
# the rest (rare: huge prices, -0.0) are formatted once per distinct value.
_ARROW_FIXED_BELOW = 1e10


def _float_texts(column: pa.Array) -> pa.Array:
    """The JavaScript text of each float of ``column`` (non-finite as ``null``, null
    stays null)."""
    cast = pc.cast(column, pa.string())
    x = column.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        odd = ~(np.abs(x) < _ARROW_FIXED_BELOW) | ((x == 0) & np.signbit(x))
    odd &= ~np.asarray(column.is_null())
    if not odd.any():
        return cast
    return pc.if_else(pa.array(odd), _per_distinct(column, js_number), cast)


def _needs_escape(column: pa.Array) -> bool:
    """True when some value of string ``column`` holds ``"``, a backslash or a control
    character (JSON escapes them; everything else, non-ASCII too, is written raw)."""
    data = np.frombuffer(column.buffers()[2] or b"", dtype=np.uint8)
    # the whole buffer, a superset of the values; the minimum first (one fast pass that
    # rules out control characters) instead of one combined mask
    return bool(data.size) and bool(
        data.min() < 0x20 or (data == 0x22).any() or (data == 0x5C).any())


def quoted(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string of ``column`` as a JSON string literal, as ``stable_stringify`` writes
    it (null stays null): wrapped in quotes by Arrow when nothing needs escaping
    (``json``'s ``encode_basestring`` keeps non-ASCII raw), else each distinct value
    escaped once."""
    column = _single(column)
    if not _needs_escape(column):
        return pc.binary_join_element_wise('"', column, '"', "")
    return _per_distinct(column, _quote)


def _string_list_texts(column: pa.Array) -> pa.Array:
    """Each list of strings as its JSON array text (null stays null)."""
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset:column.offset + len(column) + 1]
    start = int(offsets[0])
    items = pc.fill_null(value_texts(column.values.slice(start, int(offsets[-1]) - start)),
                         "null")
    lists = pa.ListArray.from_arrays(pa.array(offsets - start, pa.int32()), items,
                                     mask=column.is_null() if column.null_count else None)
    return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")


def concat_texts(parts: Sequence[Member], rows: int) -> pa.Array:
    """Row by row, the concatenation of ``parts`` (one Arrow join).

    Args:
        parts: each a string array of ``rows`` texts (a null makes the row null), a
            :class:`Bare` column (its values in quotes), or one text for every row.
        rows: the number of rows.

    Returns:
        a string array of ``rows`` texts.
    """
    pieces: list[pa.Array | str] = []
    for part in parts:
        if isinstance(part, Bare):
            pieces += ['"', part.values, '"']
        else:
            pieces.append(part)
    merged: list[pa.Array | str] = []
    for piece in pieces:  # adjacent constants joined here, not per row
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif not isinstance(piece, str) or piece:
            merged.append(piece)
    if not any(isinstance(p, pa.Array) for p in merged):
        return pa.array(["".join(merged)] * rows, pa.string())  # type: ignore[arg-type]
    if len(merged) == 1:
        return merged[0]  # type: ignore[return-value]
    return pc.binary_join_element_wise(*merged, "")


def _null_count(value: Member) -> int:
    if isinstance(value, str):
        return 0
    return (value.values if isinstance(value, Bare) else value).null_count


def _length(value: Member, rows: int) -> int:
    if isinstance(value, str):
        return rows
    return len(value.values if isinstance(value, Bare) else value)


def _optional(before: str, value: Member, after: str) -> pa.Array:
    """``before + value + after`` per row, or nothing where ``value`` is null."""
    column = value.values if isinstance(value, Bare) else value
    if isinstance(value, Bare):
        before, after = before + '"', '"' + after
    return pc.fill_null(pc.binary_join_element_wise(before, column, after, ""), "")


def utf16_sorted(keys: list[str]) -> list[str]:
    """``keys`` in JavaScript's sort order (UTF-16 code units), the order of an object's
    members in the stable stringification."""
    return sorted(keys, key=lambda k: k.encode("utf-16-be", "surrogatepass"))


def stable_objects(members: dict[str, Member], rows: int, head: Sequence[Member] = (),
                   tail: Sequence[Member] = ()) -> pa.Array:
    """One JSON object per row, in the stable stringification, from its members' texts,
    each between ``head`` and ``tail``.

    Args:
        members: by key, an Arrow string array of each row's value text (already stable
            JSON; null omits the member from that row), a :class:`Bare` string column,
            or one text for every row.
        rows: the number of rows (the length of every array in ``members``).
        head, tail: parts (as :func:`concat_texts` takes them) written before and after
            each object, e.g. the entry around an event, a separator after it.

    Returns:
        a string array of ``rows`` texts: ``head``, the object with its members in
        UTF-16 key order (what ``stable_stringify`` writes for the same dicts), ``tail``.

    Built in one Arrow join: the members before the first one present in every row
    each as ``"key":value,`` (nothing where absent), that one as ``"key":value``, the
    later ones as ``,"key":value``, so no row's separators need mending. When no
    member is present in every row, each row's leading comma is cut instead.
    """
    keys = [k for k in utf16_sorted(list(members))
            if _null_count(members[k]) < _length(members[k], rows)]  # all null: absent
    anchor = next((i for i, k in enumerate(keys) if not _null_count(members[k])), None)
    parts: list[Member] = []
    for i, key in enumerate(keys):
        name, value = _quote(key) + ":", members[key]
        if anchor is not None and i < anchor:
            parts.append(_optional(name, value, ","))
        elif i == anchor:
            parts += [name, value]
        elif not _null_count(value):
            parts += ["," + name, value]
        else:
            parts.append(_optional("," + name, value, ""))
    if anchor is None and parts:
        body = pc.binary_replace_slice(concat_texts(parts, rows), start=0, stop=1,
                                       replacement="")
        parts = [body]
    return concat_texts([*head, "{", *parts, "}", *tail], rows)


def member_texts(rows: pa.Table | pa.RecordBatch) -> dict[str, Member]:
    """:func:`member_value` of every column, by name; an integer column equal to an
    earlier one (``source_ts`` and ``ts`` mostly are) reuses its texts."""
    texts: dict[str, Member] = {}
    ints: list[tuple[np.ndarray, Member]] = []
    for name in rows.schema.names:
        column = rows.column(name)
        if pa.types.is_integer(column.type) and not column.null_count:
            values = column.to_numpy()
            same = next((t for v, t in ints if np.array_equal(v, values)), None)
            texts[name] = same if same is not None else member_value(column)
            ints.append((values, texts[name]))
        else:
            texts[name] = member_value(column)
    return texts


def encode_batch(rows: pa.Table | pa.RecordBatch, head: Sequence[Member] = (),
                 tail: Sequence[Member] = ()) -> pa.Array:
    """:func:`encode_events` as an Arrow string array (no Python string per row), each
    event's text between ``head`` and ``tail`` (as :func:`stable_objects` takes them)."""
    return stable_objects(member_texts(rows), rows.num_rows, head, tail)


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
