"""From merged spool rows to canonical events, provenance rows and digest records.

The spools (``tapesim.venues.tape`` for the stock, ``tapesim.venues.option_tape``
for the chain) are the engines' compact internal form. Here, once rows are in
replay order, each gets its run-wide ``seq`` (from 1) and ``trace_id``, prices
become dollars, venue and contract indices become codes and ids, agent indices
become provenance records, and option prints get every enrichment field from the
raw state the shard recorded at the print (see :mod:`tapesim.io.option_prints`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.contracts import ShardListing
from tapesim.events.enrichment import SignalMode
from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    KINDS,
    OPTION_NBBO,
    OPTION_PRINT,
    EventKind,
)
from tapesim.io.digest import DETAIL, pack_details
from tapesim.io.merge import Window
from tapesim.io.option_prints import ContractBook, option_print_columns
from tapesim.io.provenance import (  # noqa: F401 - re-exported: canonical provenance rows
    POSITION_EFFECTS,
    PROVENANCE_SCHEMA,
    REAL_SOURCE_KIND,
    SOURCE_KIND,
)
from tapesim.io.window_loops import pack_window, trace_ids

_BY_CODE: dict[int, EventKind] = {k.code: k for k in KINDS}
#: The option spool's columns read only at option prints (their enrichment, position
#: effects and references): the merge may leave them in the spools' order
#: (:class:`~tapesim.io.merge.Window`), and the prints' rows are taken from there.
PRINT_ONLY = ("conditions", "nbbo_bid", "nbbo_ask", "nbbo_bid_size", "nbbo_ask_size",
              "nbbo_ts", "und_bid", "und_ask", "und_ts", "effect", "refers")
# The spool columns ``Canonicaliser._events`` reads for a kind, so a window is cut into
# kinds without copying the columns a kind leaves unread; option prints read them all.
_READS: dict[int, list[str]] = {
    EQUITY_QUOTE.code: ["ts", "ingest_ts", "shard", "price", "ask"],
    EQUITY_PRINT.code: ["ts", "ingest_ts", "shard", "price", "size", "venue"],
    OPTION_NBBO.code: ["ts", "ingest_ts", "shard", "contract", "price", "ask", "size",
                       "ask_size"],
}
_STREAM_ORDER = sorted(KINDS, key=lambda k: k.code)


def _by_code(codes: np.ndarray, values: list[str]) -> pa.Array:
    """A string column whose row i is ``values[codes[i]]``."""
    indices = pa.array(codes.astype(np.int32))
    return pc.cast(pa.DictionaryArray.from_arrays(indices, pa.array(values)), pa.string())


def _dollars(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Integer cents as float64 dollars: each value converted exactly, then divided by
    100.0 (one IEEE division, as Arrow's cast and divide do), in one numpy pass."""
    return pa.array(column.to_numpy() / 100.0)


def _scattered(n: int, where: np.ndarray, values: pa.Array) -> pa.Array:
    """A string column of ``n`` rows holding ``values[j]`` at row ``where[j]`` (an int64
    array of distinct rows) and null in every other row.

    With ``where`` ascending and ``values`` a plain string array without nulls (every
    caller's case) the column is built from ``values``' own bytes: offsets that step only
    at ``where`` and a validity bitmap, without copying a string.
    """
    if where.size == 0:
        return pa.nulls(n, pa.string())
    if (values.type == pa.string() and not values.null_count
            and bool(np.all(where[1:] > where[:-1]))):
        m = len(values)
        bounds = np.frombuffer(values.buffers()[1], dtype=np.int32)[
            values.offset:values.offset + m + 1]
        lengths = np.zeros(n, dtype=np.int32)
        lengths[where] = np.diff(bounds)
        offsets = np.empty(n + 1, dtype=np.int32)
        offsets[0] = bounds[0]
        np.cumsum(lengths, out=offsets[1:])
        offsets[1:] += bounds[0]
        valid = np.zeros(n, dtype=bool)
        valid[where] = True
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets), values.buffers()[2],
            pa.py_buffer(np.packbits(valid, bitorder="little")), n - where.size)
    # Row i takes values[j] where where[j] == i, else the null appended at the end.
    index = np.full(n, where.size, dtype=np.int64)
    index[where] = np.arange(where.size)
    return pa.concat_arrays([values, pa.nulls(1, pa.string())]).take(pa.array(index))


@dataclass
class Canonicaliser:
    """Turns merged spool windows into canonical tables, numbering events as it goes.

    ``venue_codes`` are the equity tape's venue codes (lit venues, then TRF codes;
    ``n_lit`` of them lit), ``option_venues`` the options venue codes, in the
    spools' index order. ``scenario_ids`` name the spools' ``cause`` indices.
    ``next_seq`` is the ``seq`` the next row gets (from 1). ``print_batch``: option
    prints are enriched (:func:`~tapesim.io.option_prints.option_print_columns`, whose
    implied-vol search and detail records cost a few milliseconds a call however few the
    prints) once this many are held, so :meth:`window` may return them windows later;
    :meth:`flush_prints` returns the rest. With 1 (the default) every window returns its
    own.
    """

    run_id: str
    shards: list[ShardListing]
    venue_codes: list[str]
    n_lit: int
    option_venues: tuple[str, ...] = ()
    signal_mode: SignalMode = "smart-flow"
    scenario_ids: tuple[str, ...] = ()  # provenance names of the injected scenarios
    next_seq: int = 1
    print_batch: int = 1

    def __post_init__(self) -> None:
        self._symbols = pa.array([s.symbol for s in self.shards])
        self._symbol_bytes = np.array([s.symbol.encode("ascii") for s in self.shards], dtype="S8")
        # Indexed by venue (a quote has none: -1).
        self._venue_bytes = np.array([v.encode("ascii") for v in self.venue_codes], dtype="S8")
        self._venues = pa.array(self.venue_codes)
        self._option_venue_bytes = np.array(
            [v.encode("ascii") for v in self.option_venues] or [b""], dtype="S8")
        self.contracts = ContractBook.of(self.shards)
        # The digest's text fields, each table ending in the empty value of rows without one.
        self._underlying_bytes = np.append(self._symbol_bytes, np.array([b""], dtype="S8"))
        self._exchange_bytes = np.concatenate([self._venue_bytes, self._option_venue_bytes,
                                               np.array([b""], dtype="S8")])
        self._contract_bytes = np.append(self.contracts.id_bytes_table,
                                         np.array([b""], dtype="S32"))
        self._printed: dict[tuple[int, int], str] = {}  # (shard, spool row) -> trace id
        names = sorted({a for s in self.shards for a in s.agent_names})
        self._agent_dict = pa.array(names)
        index = {a: i for i, a in enumerate(names)}
        # Shard i's local agent j is at _agent_offsets[i] + j in _agent_codes, its position
        # in the run-wide dictionary; the last entry, -1, is the code of no agent.
        self._agent_codes = np.array([index[a] for s in self.shards for a in s.agent_names]
                                     + [-1], dtype=np.int32)
        self._agent_offsets = np.cumsum([0] + [len(s.agent_names) for s in self.shards])[:-1]
        # Option prints held for enrichment: every column of their spool rows, seq, trace id.
        self._held: list[tuple[pa.Table, np.ndarray, pa.Array]] = []
        self._held_rows = 0

    def window(self, merged: Window | pa.Table) -> tuple[dict[str, pa.Table], pa.Table,
                                                         np.ndarray, np.ndarray]:
        """(tables by kind name, provenance, core records, detail records) of a window.

        ``merged`` is one merged window of spool rows in replay order (the spool columns
        of :mod:`tapesim.venues.tape` and :mod:`tapesim.venues.option_tape`, plus
        ``shard`` and ``local``), as the merge gives it (:data:`PRINT_ONLY` may be
        deferred) or as one table; each row gets the next ``seq``. Every kind gets a
        table in its Arrow schema (empty when the window has none of it); provenance
        follows ``PROVENANCE_SCHEMA``, one row per event; the records are the digest's
        ``RECORD`` and ``DETAIL`` arrays (:mod:`tapesim.io.digest`). The option prints
        and their detail records are those held until ``print_batch`` were (in seq order;
        none while fewer are held).
        """
        if isinstance(merged, pa.Table):
            merged = Window.of(merged)
        rows = merged.rows
        n = rows.num_rows
        seq = np.arange(self.next_seq, self.next_seq + n, dtype=np.int64)
        self.next_seq += n
        kind = rows.column("kind").to_numpy()
        printed = np.flatnonzero(kind == OPTION_PRINT.code)
        prints = merged.at(printed)  # every column of the option prints
        trace = self._window_traces(seq, kind)
        tables = {}
        for event_kind in KINDS:
            mask = kind == event_kind.code
            if event_kind is OPTION_PRINT:
                if printed.size:
                    self._held.append((prints, seq[printed], trace.take(pa.array(printed))))
                    self._held_rows += printed.size
                continue
            if mask.any():
                selected = pa.array(mask)
                own = rows.select(_READS[event_kind.code]).filter(selected)
                tables[event_kind.name] = self._events(event_kind, own, seq[mask],
                                                       trace.filter(selected))
            else:
                tables[event_kind.name] = event_kind.schema.empty_table()
        if self._held_rows >= self.print_batch:
            tables[OPTION_PRINT.name], details = self.flush_prints()
        else:
            tables[OPTION_PRINT.name] = OPTION_PRINT.schema.empty_table()
            details = np.zeros(0, dtype=DETAIL)
        provenance = self._provenance(rows, kind, trace, prints, pa.array(printed))
        return tables, provenance, self._records(rows, seq), details

    def flush_prints(self) -> tuple[pa.Table, np.ndarray]:
        """The option prints held so far (``OptionPrint`` schema, seq order) and their
        ``DETAIL`` records; none are held afterwards."""
        if not self._held:
            return OPTION_PRINT.schema.empty_table(), np.zeros(0, dtype=DETAIL)
        held, self._held, self._held_rows = self._held, [], 0
        rows = pa.concat_tables([h[0] for h in held], promote_options="default")
        table = self._events(OPTION_PRINT, rows.combine_chunks(),
                             np.concatenate([h[1] for h in held]),
                             pa.concat_arrays([h[2] for h in held]))
        return table, pack_details(table)

    def _window_traces(self, seq: np.ndarray, kind: np.ndarray) -> pa.Array:
        """The trace id of every row of a window (:meth:`trace_ids`, each row's own stream),
        built once for the event tables and provenance alike, in one compiled pass
        (:func:`~tapesim.io.window_loops.trace_ids`; ``seq`` is consecutive)."""
        if not len(seq):
            return pa.array([], pa.string())
        return trace_ids([f"{self.run_id}:{k.stream}:" for k in _STREAM_ORDER], kind,
                         int(seq[0]))

    def _records(self, rows: pa.Table, seq: np.ndarray) -> np.ndarray:
        """The core digest records of a replay-ordered window, straight from its rows.

        Field for field what ``pack_records`` makes of the canonical tables (the same
        float division of cents by 100), without splitting and re-interleaving, in one
        compiled pass (:func:`~tapesim.io.window_loops.pack_window`). Stock rows read
        null in the option spool's columns (and a window of stock rows alone has none):
        the pass reads them only on option rows.
        """
        columns = {name: rows.column(name).to_numpy() for name in (
            "ts", "ingest_ts", "kind", "shard", "price", "ask", "size", "venue")}
        for name, dtype in (("contract", np.int32), ("ask_size", np.int64)):
            columns[name] = (rows.column(name).fill_null(0).to_numpy()
                             if name in rows.column_names
                             else np.zeros(rows.num_rows, dtype=dtype))
        return pack_window(columns, int(seq[0]) if len(seq) else self.next_seq,
                           self.contracts.offsets, self._underlying_bytes,
                           self._contract_bytes, self._exchange_bytes,
                           len(self._venue_bytes), self.n_lit)

    def trace_ids(self, stream: str, seq: np.ndarray) -> pa.Array:
        """The contract's trace ids ``<run_id>:<stream>:<seq>`` (CONTRACT.md §1) of ``seq``.

        ``stream`` is an event kind's stream name (e.g. ``"option-print"``); ``seq`` is an
        int64 array of run-wide sequence numbers. Returns a string array of the same
        length.
        """
        prefix = f"{self.run_id}:{stream}:"
        return pc.binary_join_element_wise(prefix, pc.cast(pa.array(seq), pa.string()), "")

    def _events(self, kind: EventKind, rows: pa.Table, seq: np.ndarray,
                trace: pa.Array) -> pa.Table:
        ts = rows.column("ts")
        shard = rows.column("shard")
        cols: dict[str, pa.Array | pa.ChunkedArray] = {
            "ts": ts,
            "source_ts": ts,
            "ingest_ts": rows.column("ingest_ts"),
            "seq": pa.array(seq, pa.int64()),
            "trace_id": trace,
        }
        if kind is EQUITY_QUOTE:
            cols["underlying_id"] = self._symbols.take(shard)
            cols["bid"] = _dollars(rows.column("price"))
            cols["ask"] = _dollars(rows.column("ask"))
        elif kind is EQUITY_PRINT:
            venue = rows.column("venue")
            cols["underlying_id"] = self._symbols.take(shard)
            cols["price"] = _dollars(rows.column("price"))
            cols["size"] = rows.column("size")
            cols["exchange"] = self._venues.take(venue)
            cols["offExchangeFlag"] = pc.greater_equal(venue, self.n_lit)
        elif kind is OPTION_NBBO:
            cols["option_contract_id"] = self.contracts.ids_of(rows)
            cols["bid"] = _dollars(rows.column("price"))
            cols["ask"] = _dollars(rows.column("ask"))
            cols["bidSize"] = rows.column("size")
            cols["askSize"] = rows.column("ask_size")
        else:
            cols.update(option_print_columns(rows, self.contracts, self._symbols,
                                             self.option_venues, self.signal_mode))
        return pa.table(cols, schema=kind.schema)

    def _names(self, rows: pa.Table, column: str) -> pa.Array:
        """The run-wide agent name of each row's agent index in ``column`` (``agent`` or
        ``contra``, local to its shard; -1 for none, read as null)."""
        local = rows.column(column).to_numpy()
        index = np.where(local >= 0, self._agent_offsets[rows.column("shard").to_numpy()] + local,
                         len(self._agent_codes) - 1)
        out = self._agent_codes[index]
        indices = pa.array(out, mask=out < 0)
        return pc.cast(pa.DictionaryArray.from_arrays(indices, self._agent_dict), pa.string())

    def _effects(self, n: int, prints: pa.Table, printed: pa.Array, bit: int) -> pa.Array:
        """Each option print's aggressor (``bit`` 0) or passive side's (``bit`` 1)
        position effect, from the spool's ``effect`` bits (opening set), at its row
        ``printed`` of the window's ``n``; null elsewhere."""
        if "effect" not in prints.column_names or not len(printed):
            return pa.nulls(n, pa.string())
        effect = prints.column("effect").fill_null(0).to_numpy().astype(np.int64)
        named = pa.array(POSITION_EFFECTS).take(pa.array((effect >> bit) & 1))
        return _scattered(n, printed.to_numpy(), named)

    def _references(self, n: int, prints: pa.Table, printed: pa.Array,
                    trace: pa.Array) -> pa.Array:
        """The trace id of the earlier print a CANCEL or CORRECTION reports on.

        Option prints are remembered by (shard, spool row) as they pass; a report always
        comes after the print it names, so the name is known by then."""
        if "refers" not in prints.column_names or not len(printed):
            return pa.nulls(n, pa.string())
        shard = prints.column("shard").to_numpy()
        local = prints.column("local").to_numpy()
        refers = prints.column("refers").fill_null(-1).to_numpy()
        rows_of = printed.to_numpy()
        reports: list[int] = []
        names: list[str] = []
        for j, name in enumerate(trace.take(printed).to_pylist()):
            self._printed[(int(shard[j]), int(local[j]))] = name
            if refers[j] >= 0:
                reports.append(int(rows_of[j]))
                names.append(self._printed[(int(shard[j]), int(refers[j]))])
        return _scattered(n, np.array(reports, dtype=np.int64), pa.array(names, pa.string()))

    def _scenarios(self, rows: pa.Table) -> pa.Array:
        cause = rows.column("cause").to_numpy(zero_copy_only=False).astype(np.int32)
        if not self.scenario_ids or (cause < 0).all():
            return pa.nulls(rows.num_rows, pa.string())
        indices = pa.array(cause, mask=cause < 0)
        return pc.cast(pa.DictionaryArray.from_arrays(indices, pa.array(self.scenario_ids)),
                       pa.string())

    def _parents(self, rows: pa.Table, kind: np.ndarray) -> pa.Array:
        """``<symbol>:parent-<n>`` of an equity child order, ``<symbol>:package-<n>`` of an
        option print in a package; null for a row without one (most rows: quotes)."""
        parent = rows.column("parent").to_numpy()
        has = np.flatnonzero(parent >= 0)
        if has.size == 0:
            return pa.nulls(rows.num_rows, pa.string())
        shard = rows.column("shard").to_numpy()[has]
        prefixes = [f"{symbol}:{word}-" for symbol in self._symbols.to_pylist()
                    for word in ("parent", "package")]
        codes = 2 * shard.astype(np.int64) + (kind[has] == OPTION_PRINT.code)
        named = pc.binary_join_element_wise(
            _by_code(codes, prefixes), pc.cast(pa.array(parent[has]), pa.string()), "")
        return _scattered(rows.num_rows, has, named)

    def _provenance(self, rows: pa.Table, kind: np.ndarray, trace: pa.Array,
                    prints: pa.Table, printed: pa.Array) -> pa.Table:
        """The window's provenance rows; ``prints`` holds every column of its option
        prints, which are its rows ``printed``."""
        n = rows.num_rows
        symbols = self._symbols.take(rows.column("shard"))
        return pa.table(
            {
                "trace_id": trace,
                "event_kind": _by_code(kind, [k.name for k in _STREAM_ORDER]),
                "underlying_id": symbols,
                "source_kind": pa.repeat(pa.scalar(SOURCE_KIND), n),
                "agent_id": self._names(rows, "agent"),
                "contra_agent_id": self._names(rows, "contra"),
                "parent_order_id": self._parents(rows, kind),
                "position_effect": self._effects(n, prints, printed, 0),
                "contra_position_effect": self._effects(n, prints, printed, 1),
                "references_trace_id": self._references(n, prints, printed, trace),
                "scenario_id": self._scenarios(rows),
            },
            schema=PROVENANCE_SCHEMA,
        )
