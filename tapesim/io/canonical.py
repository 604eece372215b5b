"""From merged spool rows to canonical events, provenance rows and the stream digest.

The spool (see ``tapesim.venues.tape``) is the engines' compact internal form.
Here, once rows are in replay order, each gets its run-wide ``seq`` (from 1) and
``trace_id``, prices become dollars, venue indices become exchange codes, and
agent indices become provenance records. The event-stream digest is defined on
the canonical values, so ``verify`` can recompute it from the Parquet files alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, EventKind
from tapesim.venues.tape import PRINT, QUOTE

STREAM_LAYOUT = "tapesim-event-stream-v1"
SOURCE_KIND = "synthetic_market"

# One packed little-endian record per event, in seq order: the digest's input.
RECORD = np.dtype(
    [
        ("seq", "<i8"),
        ("ts", "<i8"),
        ("source_ts", "<i8"),
        ("ingest_ts", "<i8"),
        ("kind", "u1"),
        ("underlying_id", "S8"),
        ("price", "<f8"),  # bid of a quote, price of a print
        ("ask", "<f8"),  # 0 for a print
        ("size", "<i8"),  # 0 for a quote
        ("exchange", "S8"),  # empty for a quote
        ("off_exchange", "u1"),
    ]
)

PROVENANCE_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("event_kind", pa.string()),
        ("underlying_id", pa.string()),
        ("source_kind", pa.string()),
        ("agent_id", pa.string()),
        ("contra_agent_id", pa.string()),
        ("parent_order_id", pa.string()),
        ("scenario_id", pa.string()),
    ]
)


class StreamDigest:
    """sha256 over the packed records of every event in seq order."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, records: np.ndarray) -> None:
        self._h.update(records.tobytes())

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def pack_records(kind: EventKind, table: pa.Table) -> np.ndarray:
    """The digest records of one kind's canonical rows."""
    n = table.num_rows
    rec = np.zeros(n, dtype=RECORD)
    for name in ("seq", "ts", "source_ts", "ingest_ts"):
        rec[name] = table.column(name).to_numpy()
    rec["kind"] = kind.code
    rec["underlying_id"] = _bytes(table.column("underlying_id"))
    if kind is EQUITY_QUOTE:
        rec["price"] = table.column("bid").to_numpy()
        rec["ask"] = table.column("ask").to_numpy()
    else:
        rec["price"] = table.column("price").to_numpy()
        rec["size"] = table.column("size").to_numpy()
        rec["exchange"] = _bytes(table.column("exchange"))
        rec["off_exchange"] = table.column("offExchangeFlag").to_numpy(zero_copy_only=False)
    return rec


def _bytes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A string column as fixed-width bytes, via its (small) dictionary."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], pa.string())
        if not isinstance(encoded, pa.DictionaryArray):
            return np.zeros(0, dtype="S8")
    values = np.array([v.encode("ascii") for v in encoded.dictionary.to_pylist()], dtype="S8")
    return values[encoded.indices.to_numpy(zero_copy_only=False)] if len(values) else (
        np.zeros(0, dtype="S8"))


def _by_code(codes: np.ndarray, values: list[str]) -> pa.Array:
    """A string column whose row i is ``values[codes[i]]``."""
    indices = pa.array(codes.astype(np.int32))
    return pc.cast(pa.DictionaryArray.from_arrays(indices, pa.array(values)), pa.string())


@dataclass(frozen=True)
class ShardNames:
    """How one shard's indices map to names."""

    symbol: str
    agents: tuple[str, ...]


@dataclass
class Canonicaliser:
    """Turns merged spool windows into canonical tables, numbering events as it goes."""

    run_id: str
    shards: list[ShardNames]
    venue_codes: list[str]
    n_lit: int
    next_seq: int = 1

    def __post_init__(self) -> None:
        self._symbols = pa.array([s.symbol for s in self.shards])
        self._symbol_bytes = np.array([s.symbol.encode("ascii") for s in self.shards], dtype="S8")
        # Indexed by venue; -1 (a quote's venue) reads the last entry, masked out anyway.
        self._venue_bytes = np.array([v.encode("ascii") for v in self.venue_codes], dtype="S8")
        self._venues = pa.array(self.venue_codes)
        names = sorted({a for s in self.shards for a in s.agents})
        self._agent_dict = pa.array(names)
        index = {a: i for i, a in enumerate(names)}
        # Per shard: local agent index -> position in the run-wide dictionary.
        self._agent_maps = [np.array([index[a] for a in s.agents], dtype=np.int32)
                            for s in self.shards]

    def window(self, rows: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table, np.ndarray]:
        """(quotes, prints, provenance, digest records) of one replay-ordered window."""
        n = rows.num_rows
        seq = np.arange(self.next_seq, self.next_seq + n, dtype=np.int64)
        self.next_seq += n
        kind = rows.column("kind").to_numpy()
        out = []
        for code, event_kind in ((QUOTE, EQUITY_QUOTE), (PRINT, EQUITY_PRINT)):
            mask = kind == code
            out.append(self._events(event_kind, rows.filter(pa.array(mask)), seq[mask]))
        quotes, prints = out
        provenance = self._provenance(rows, seq, kind)
        return quotes, prints, provenance, self._records(rows, seq, kind)

    def _records(self, rows: pa.Table, seq: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """The digest records of a replay-ordered window, straight from its rows.

        Field for field what ``pack_records`` makes of the canonical tables (the same
        float division of cents by 100), without splitting and re-interleaving.
        """
        rec = np.zeros(rows.num_rows, dtype=RECORD)
        rec["seq"] = seq
        rec["ts"] = rec["source_ts"] = rows.column("ts").to_numpy()
        rec["ingest_ts"] = rows.column("ingest_ts").to_numpy()
        rec["kind"] = kind
        rec["underlying_id"] = self._symbol_bytes[rows.column("shard").to_numpy()]
        is_print = kind == PRINT
        rec["price"] = rows.column("price").to_numpy() / 100.0
        rec["ask"] = np.where(is_print, 0.0, rows.column("ask").to_numpy() / 100.0)
        rec["size"] = np.where(is_print, rows.column("size").to_numpy(), 0)
        venue = rows.column("venue").to_numpy()
        rec["exchange"] = np.where(is_print, self._venue_bytes[venue], b"")
        rec["off_exchange"] = is_print & (venue >= self.n_lit)
        return rec

    def trace_ids(self, stream: str, seq: np.ndarray) -> pa.Array:
        prefix = f"{self.run_id}:{stream}:"
        return pc.binary_join_element_wise(prefix, pc.cast(pa.array(seq), pa.string()), "")

    def _events(self, kind: EventKind, rows: pa.Table, seq: np.ndarray) -> pa.Table:
        ts = rows.column("ts")
        shard = rows.column("shard")
        cols: dict[str, pa.Array | pa.ChunkedArray] = {
            "ts": ts,
            "source_ts": ts,
            "ingest_ts": rows.column("ingest_ts"),
            "seq": pa.array(seq),
            "trace_id": self.trace_ids(kind.stream, seq),
            "underlying_id": self._symbols.take(shard),
        }
        price = pc.divide(pc.cast(rows.column("price"), pa.float64()), 100.0)
        if kind is EQUITY_QUOTE:
            cols["bid"] = price
            cols["ask"] = pc.divide(pc.cast(rows.column("ask"), pa.float64()), 100.0)
        else:
            venue = rows.column("venue")
            cols["price"] = price
            cols["size"] = rows.column("size")
            cols["exchange"] = self._venues.take(venue)
            cols["offExchangeFlag"] = pc.greater_equal(venue, self.n_lit)
        return pa.table(cols, schema=kind.schema)

    def _names(self, rows: pa.Table, column: str) -> pa.Array:
        local = rows.column(column).to_numpy()
        shard = rows.column("shard").to_numpy()
        out = np.full(local.size, -1, dtype=np.int32)
        for i, mapping in enumerate(self._agent_maps):
            hit = (shard == i) & (local >= 0)
            out[hit] = mapping[local[hit]]
        indices = pa.array(out, mask=out < 0)
        return pc.cast(pa.DictionaryArray.from_arrays(indices, self._agent_dict), pa.string())

    def _provenance(self, rows: pa.Table, seq: np.ndarray, kind: np.ndarray) -> pa.Table:
        n = rows.num_rows
        streams = [f"{self.run_id}:{k.stream}:" for k in (EQUITY_QUOTE, EQUITY_PRINT)]
        trace = pc.binary_join_element_wise(
            _by_code(kind, streams), pc.cast(pa.array(seq), pa.string()), "")
        parent = rows.column("parent").to_numpy()
        symbols = self._symbols.take(rows.column("shard"))
        parent_ids = pc.binary_join_element_wise(
            symbols, pc.cast(pa.array(parent, mask=parent < 0), pa.string()), ":parent-")
        return pa.table(
            {
                "trace_id": trace,
                "event_kind": _by_code(kind, [EQUITY_QUOTE.name, EQUITY_PRINT.name]),
                "underlying_id": symbols,
                "source_kind": _by_code(np.zeros(n, np.int8), [SOURCE_KIND]),
                "agent_id": self._names(rows, "agent"),
                "contra_agent_id": self._names(rows, "contra"),
                "parent_order_id": parent_ids,
                "scenario_id": pa.nulls(n, pa.string()),
            },
            schema=PROVENANCE_SCHEMA,
        )
