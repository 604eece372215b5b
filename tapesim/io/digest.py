"""The event-stream digest: one sha256 over every canonical event in replay order.

It is defined on canonical values, so ``verify`` recomputes it from the Parquet
files alone. Each event contributes one packed little-endian core record (the
fields every kind shares, plus quote sizes and the option contract); option
prints also contribute a detail record of every enrichment field, hashed in a
second running hash. The published digest is sha256(core digest || detail digest).

Detail records are derived from the ``OptionPrint`` schema itself, so a field
added to the model is covered without touching this module. Nulls are packed as
NaN (floats), ``NULL_INT`` (ints), 2 (bools) and ``NULL_TEXT`` (strings and lists),
so a null never collides with a value.
"""

from __future__ import annotations

import hashlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    OPTION_NBBO,
    OPTION_PRINT,
    EventKind,
)

STREAM_LAYOUT = "tapesim-event-stream-v2"
NULL_INT = np.iinfo(np.int64).min
NULL_TEXT = b"\xff"
LIST_SEPARATOR = "|"
TEXT_WIDTH = 64

RECORD = np.dtype(
    [
        ("seq", "<i8"),
        ("ts", "<i8"),
        ("source_ts", "<i8"),
        ("ingest_ts", "<i8"),
        ("kind", "u1"),
        ("underlying_id", "S8"),  # empty where the event has none (option NBBO)
        ("contract", "S32"),  # option_contract_id; empty for equity events
        ("price", "<f8"),  # bid of a quote, price of a print
        ("ask", "<f8"),  # 0 for a print
        ("size", "<i8"),  # print size, or the bid size of an option NBBO; else 0
        ("ask_size", "<i8"),  # the ask size of an option NBBO; else 0
        ("exchange", "S8"),  # empty for a quote
        ("off_exchange", "u1"),
    ]
)

_CORE_FIELDS = {f.name for f in OPTION_PRINT.schema} & {
    "ts", "source_ts", "ingest_ts", "seq", "trace_id", "option_contract_id", "price", "size",
    "exchange"}


def _detail_dtype() -> np.dtype:
    fields: list[tuple[str, str]] = [("seq", "<i8")]
    for f in OPTION_PRINT.schema:
        if f.name in _CORE_FIELDS:
            continue
        t = f.type
        if pa.types.is_floating(t):
            fields.append((f.name, "<f8"))
        elif pa.types.is_integer(t):
            fields.append((f.name, "<i8"))
        elif pa.types.is_boolean(t):
            fields.append((f.name, "u1"))
        else:  # strings, and lists of strings joined with LIST_SEPARATOR
            fields.append((f.name, f"S{TEXT_WIDTH}"))
    return np.dtype(fields)


DETAIL = _detail_dtype()


class StreamDigest:
    """The running digest of a replay-ordered event stream.

    With ``background`` the hashing runs on one helper thread, in submission order
    (hashlib releases the GIL on large updates, so it overlaps the caller's next
    window); at most ``BACKLOG`` updates wait, so memory stays bounded. The arrays
    handed to :meth:`update` and :meth:`update_details` must then not change
    afterwards. :meth:`hexdigest` waits for every update; :meth:`close` ends the
    thread (idempotent; after an error, call it to not leave the thread behind).
    """

    BACKLOG = 4

    def __init__(self, background: bool = False) -> None:
        self._core = hashlib.sha256()
        self._detail = hashlib.sha256()
        self._thread = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="tapesim-digest")
                        if background else None)
        self._inflight: deque[Future[None]] = deque()

    def _run(self, update: hashlib._Hash, data: np.ndarray) -> None:
        if self._thread is None:
            update.update(data)
            return
        while len(self._inflight) >= self.BACKLOG:
            self._inflight.popleft().result()
        self._inflight.append(self._thread.submit(update.update, data))

    def update(self, records: np.ndarray) -> None:
        """Core records of consecutive events, in seq order."""
        self._run(self._core, np.ascontiguousarray(records).view(np.uint8))

    def update_details(self, details: np.ndarray) -> None:
        """Detail records of consecutive option prints, in seq order."""
        self._run(self._detail, np.ascontiguousarray(details).view(np.uint8))

    def hexdigest(self) -> str:
        """The published digest: sha256(core digest || detail digest), 64 hex digits (the
        manifest's ``event_stream.sha256``).
        """
        while self._inflight:
            self._inflight.popleft().result()
        return hashlib.sha256(self._core.digest() + self._detail.digest()).hexdigest()

    def close(self) -> None:
        """Stop the helper thread, if any, after the updates already submitted."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
            self._inflight.clear()


def fixed_width(strings: pa.Array, width: int) -> np.ndarray:
    """A string array (no nulls) as numpy ``S{width}``: each value's UTF-8 bytes cut to
    ``width`` and zero-padded, as ``np.array([s.encode() for s in ...], f"S{width}")``
    gives, built from the Arrow buffers without a Python loop."""
    n = len(strings)
    strings = pc.cast(strings, pa.large_binary())
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[strings.offset:
                                                                   strings.offset + n + 1]
    data = strings.buffers()[2]
    lengths = np.minimum(np.diff(offsets), width)
    out = np.zeros((n, width), dtype=np.uint8)
    if n and data is not None and lengths.sum():
        raw = np.frombuffer(data, dtype=np.uint8)
        row = np.repeat(np.arange(n), lengths)
        col = np.arange(row.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[row, col] = raw[np.repeat(offsets[:-1], lengths) + col]
    return out.view(f"S{width}").reshape(n)


def text_bytes(column: pa.ChunkedArray | pa.Array, width: int = 8) -> np.ndarray:
    """A string column (plain or dictionary-encoded) as fixed-width bytes (nulls as
    NULL_TEXT), via its dictionary (:func:`fixed_width`)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
    n = len(column)
    if n == 0:
        return np.zeros(0, dtype=f"S{width}")
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    values = np.concatenate([fixed_width(encoded.dictionary, width),
                             np.array([NULL_TEXT], dtype=f"S{width}")])
    indices = encoded.indices.fill_null(len(values) - 1)
    return values[indices.to_numpy(zero_copy_only=False)]


def pack_records(kind: EventKind, table: pa.Table) -> np.ndarray:
    """The core digest records of one kind's canonical rows.

    ``table`` holds rows of ``kind`` in its Arrow schema; returns a ``RECORD`` array,
    one record per row in the same order, with the fields the kind lacks zeroed. Used
    by ``verify`` to recompute the digest from the Parquet files.
    """
    n = table.num_rows
    rec = np.zeros(n, dtype=RECORD)
    for name in ("seq", "ts", "source_ts", "ingest_ts"):
        rec[name] = table.column(name).to_numpy()
    rec["kind"] = kind.code
    if kind is not OPTION_NBBO:
        rec["underlying_id"] = text_bytes(table.column("underlying_id"))
    if kind in (OPTION_NBBO, OPTION_PRINT):
        rec["contract"] = text_bytes(table.column("option_contract_id"), 32)
    if kind in (EQUITY_QUOTE, OPTION_NBBO):
        rec["price"] = table.column("bid").to_numpy()
        rec["ask"] = table.column("ask").to_numpy()
    else:
        rec["price"] = table.column("price").to_numpy()
        rec["size"] = table.column("size").to_numpy()
        rec["exchange"] = text_bytes(table.column("exchange"))
    if kind is OPTION_NBBO:
        rec["size"] = table.column("bidSize").to_numpy()
        rec["ask_size"] = table.column("askSize").to_numpy()
    if kind is EQUITY_PRINT:
        rec["off_exchange"] = table.column("offExchangeFlag").to_numpy(zero_copy_only=False)
    return rec


def pack_details(table: pa.Table) -> np.ndarray:
    """The detail records of canonical option prints (every enrichment field).

    ``table`` holds option prints in the ``OptionPrint`` schema; returns a ``DETAIL``
    array, one record per row, nulls packed as described in the module docstring and
    lists joined with ``LIST_SEPARATOR``.
    """
    rec = np.zeros(table.num_rows, dtype=DETAIL)
    rec["seq"] = table.column("seq").to_numpy()
    for name in DETAIL.names[1:]:
        column = table.column(name)
        t = column.type
        if pa.types.is_list(t):
            column = pc.binary_join(pc.cast(column, pa.list_(pa.string())), LIST_SEPARATOR)
        if pa.types.is_floating(t):
            rec[name] = column.to_numpy(zero_copy_only=False)  # nulls read as NaN
        elif pa.types.is_integer(t):
            rec[name] = column.fill_null(NULL_INT).to_numpy()
        elif pa.types.is_boolean(t):
            rec[name] = pc.cast(column, pa.uint8()).fill_null(2).to_numpy()
        else:
            rec[name] = text_bytes(column, TEXT_WIDTH)
    return rec
