"""The options feed adapter: OPRA NBBO changes and option prints, spooled per shard.

NBBO changes arrive in vectorised chunks (one chunk per consolidation pass);
prints arrive one at a time with the raw state the run had at the print (the
NBBO in force and its time, the SIP quote in force and its time, the implied vol
of the print). Rows keep generation order, which is time order, and are written
as Arrow record batches like the equity spool (:mod:`tapesim.venues.tape`); the
run writer derives every enrichment field from these raw values.

Delivery. OPRA delivers each contract's NBBO changes and prints in the order the
venues produced them, as the SIP does a symbol's (:mod:`tapesim.venues.tape`):
``ingest_ts`` is never before the contract's previous row, and an NBBO change that
follows a print of the same contract in the same millisecond (the quote the trade
caused) is delivered at least a millisecond after it, since replay order puts
quotes before prints at equal (``ts``, ``ingest_ts``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from tapesim.events.models import OPTION_NBBO, OPTION_PRINT
from tapesim.sim.calendar import NS_PER_MS
from tapesim.sim.compiled import kernel
from tapesim.venues.tape import column_array, spool_writer

NBBO = OPTION_NBBO.code
PRINT = OPTION_PRINT.code
NONE = -1  # "no value" in the integer columns

OPTION_SPOOL_SCHEMA = pa.schema(
    [
        ("kind", pa.int8()),
        ("ts", pa.int64()),
        ("ingest_ts", pa.int64()),
        ("price", pa.int64()),  # cents: the bid of an NBBO, the price of a print
        ("ask", pa.int64()),  # cents: the ask of an NBBO, 0 for a print
        ("size", pa.int64()),  # the bid size of an NBBO, the size of a print
        ("ask_size", pa.int64()),  # the ask size of an NBBO, 0 for a print
        ("venue", pa.int16()),  # index into the run's option venues, -1 for an NBBO
        ("agent", pa.int32()),  # aggressor of a print
        ("contra", pa.int32()),  # passive side of a print
        ("parent", pa.int64()),  # the package or sweep the print belongs to, -1 if none
        ("contract", pa.int32()),  # index into the shard's listed contracts
        ("conditions", pa.int32()),  # bit i set: CONDITIONS[i] applies
        ("nbbo_bid", pa.int64()),  # the OPRA NBBO in force at the print (cents) ...
        ("nbbo_ask", pa.int64()),
        ("nbbo_bid_size", pa.int64()),
        ("nbbo_ask_size", pa.int64()),
        ("nbbo_ts", pa.int64()),  # ... and when it was published (ms), -1 if none
        ("und_bid", pa.int64()),  # the SIP quote in force at the print (cents) ...
        ("und_ask", pa.int64()),
        ("und_ts", pa.int64()),  # ... and when it was published (ms), -1 if none
        ("effect", pa.int8()),  # bit 0: aggressor opening, bit 1: contra opening
        ("cause", pa.int16()),  # the injected scenario whose action caused it, -1 if none
        ("refers", pa.int64()),  # a CANCEL/CORRECTION's earlier print (its row here), or -1
    ]
)
# The columns every row uses are buffered in one int64 array [column, row] (so a chunk
# of NBBO rows is one compiled pass over it); the print-only columns are kept filled
# with their "none" value, the prints' values written in for a batch and reset after.
# Each shared column is cast to its schema type as the batch is built.
_SHARED = ["kind", "ts", "ingest_ts", "price", "ask", "size", "ask_size", "contract", "cause"]
_NBBO_FIXED = {  # columns an NBBO row does not use
    "venue": NONE, "agent": NONE, "contra": NONE, "parent": NONE, "conditions": 0,
    "nbbo_bid": NONE, "nbbo_ask": NONE, "nbbo_bid_size": NONE, "nbbo_ask_size": NONE,
    "nbbo_ts": NONE, "und_bid": NONE, "und_ask": NONE, "und_ts": NONE, "effect": 0,
    "cause": NONE, "refers": NONE,
}
_PRINT_ONLY = [name for name in _NBBO_FIXED if name not in _SHARED]  # a print's own values
# Each schema column: (True, its row in the buffer) or (False, its index in _PRINT_ONLY),
# with its numpy type.
_LAYOUT = [(f.name in _SHARED,
            _SHARED.index(f.name) if f.name in _SHARED else _PRINT_ONLY.index(f.name),
            np.dtype(f.type.to_pandas_dtype())) for f in OPTION_SPOOL_SCHEMA]
_DTYPE = {name: dtype for name, (_, _, dtype) in zip(OPTION_SPOOL_SCHEMA.names, _LAYOUT,
                                                     strict=True)}
_NO_CAUSES = np.zeros(0, dtype=np.int64)  # "one cause for all rows" to :func:`_append`


def _none_columns(capacity: int) -> list[np.ndarray]:
    """The print-only columns (``_PRINT_ONLY``, schema types) of ``capacity`` rows, each
    filled with its "none" value: kept from batch to batch, prints written in and reset."""
    return [np.full(capacity, _NBBO_FIXED[name], dtype=_DTYPE[name]) for name in _PRINT_ONLY]


class OptionTape:
    """Collects one shard's option events in generation order and spools them.

    ``path`` is the spool file (Arrow IPC, ``OPTION_SPOOL_SCHEMA``), ``open_ms`` the
    session's open in epoch ms, ``latency_ms`` the mean OPRA feed latency, ``gen``
    the shard's option-feed stream (standard exponentials, in row order) and
    ``n_contracts`` the number of listed contracts.

    Until a batch is written, the columns every row uses wait in one int64 buffer
    ``[column, row]`` (a chunk of NBBO rows is appended by one compiled pass, a single
    row by one assignment) and each print's own values in a list; the batch's
    print-only columns are their "none" value but at the prints' rows (kept columns,
    so a batch allocates none of them).
    """

    FLUSH_ROWS = 1 << 16
    FLUSH_SPAN_MS = 300_000

    def __init__(
        self, path: Path, open_ms: int, latency_ms: float, gen: np.random.Generator,
        n_contracts: int,
    ) -> None:
        self._writer = spool_writer(path, OPTION_SPOOL_SCHEMA)
        self._open_ms = open_ms
        self._latency_ms = latency_ms
        self._gen = gen  # feed latencies, drawn in blocks as rows arrive
        self._buf = np.zeros((len(_SHARED), self.FLUSH_ROWS), dtype=np.int64)
        self._own = _none_columns(self.FLUSH_ROWS)  # the print-only columns, "none"
        self._prints: list[tuple[int, ...]] = []  # (buffer row, *_PRINT_ONLY values)
        self._rows = 0
        self._flush_at = open_ms + self.FLUSH_SPAN_MS
        self._last_ts = 0  # ts (ms) of the last row buffered
        # When the feed delivered each contract's last row (ms): first in, first out.
        self.delivered = np.zeros(n_contracts, dtype=np.int64)
        # The ms of each contract's last row if that was a print, else -1.
        self.printed_ms = np.full(n_contracts, -1, dtype=np.int64)
        self.nbbo_count = 0
        self.print_count = 0
        self.generated = 0  # rows written so far: a row's index in the spool
        self.last_print = (0, 0)  # (ts, ingest_ts) in ms of the last print written

    def _room(self, n: int) -> np.ndarray:
        """The buffer, grown if ``n`` more rows do not fit: by an eighth at least (a batch
        overflows ``FLUSH_ROWS`` by its last chunk only), so it holds little more than the
        largest batch."""
        buf = self._buf
        if self._rows + n > buf.shape[1]:
            capacity = max(self._rows + n, buf.shape[1] + buf.shape[1] // 8)
            grown = np.zeros((len(_SHARED), capacity), dtype=np.int64)
            grown[:, :self._rows] = buf[:, :self._rows]
            buf = self._buf = grown
            self._own = _none_columns(capacity)
        return buf

    def ms(self, now_ns: int) -> int:
        """Event time (epoch ms) of a simulation time."""
        return self._open_ms + now_ns // NS_PER_MS

    def nbbos(
        self, times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray, asks: np.ndarray,
        bid_sizes: np.ndarray, ask_sizes: np.ndarray, causes: np.ndarray | int | None = None,
    ) -> None:
        """NBBO changes in time order (parallel arrays; prices in cents). ``causes``
        attributes the rows to an injected scenario: one per row, or one for all (-1 or
        ``None``: none; see :mod:`tapesim.venues.feed.attribution`). It publishes every
        row it is given (a feed fault may wrap it, see :mod:`tapesim.venues.feed`)."""
        n = int(np.size(contracts))
        if n == 0:
            return
        buf = self._room(n)
        if isinstance(causes, np.ndarray):
            per_row, cause = np.asarray(causes, dtype=np.int64), NONE
        else:
            per_row, cause = _NO_CAUSES, NONE if causes is None else int(causes)
        i64 = np.int64
        _append(np.asarray(times_ns, dtype=i64), np.asarray(contracts, dtype=i64),
                np.asarray(bids, dtype=i64), np.asarray(asks, dtype=i64),
                np.asarray(bid_sizes, dtype=i64), np.asarray(ask_sizes, dtype=i64),
                per_row, cause, self._gen.standard_exponential(n), self._latency_ms,
                self._open_ms, self.delivered, self.printed_ms, buf, self._rows)
        self.nbbo_count += n
        self._added(n, int(buf[1, self._rows + n - 1]))

    def nbbo(self, now_ns: int, contract: int, bid: int, ask: int, bid_size: int,
             ask_size: int, cause: int = NONE) -> bool:
        """One NBBO change at ``now_ns`` (ns; cents and contracts): the row :meth:`nbbos`
        writes for a chunk of one, at the cost of a few scalar operations. Returns True
        (the tape publishes every row)."""
        ts = self._open_ms + int(now_ns) // NS_PER_MS
        raw = ts + int(self._gen.standard_exponential() * self._latency_ms)
        first = int(self.delivered[contract]) + int(int(self.printed_ms[contract]) == ts)
        ingest = max(raw, first)
        self.delivered[contract] = ingest
        self.printed_ms[contract] = NONE
        self._room(1)[:, self._rows] = (NBBO, ts, ingest, bid, ask, bid_size, ask_size,
                                       contract, cause)
        self.nbbo_count += 1
        self._added(1, ts)
        return True

    def trade(
        self, now_ns: int, contract: int, price: int, size: int, venue: int, agent: int,
        contra: int, parent: int, conditions: int, nbbo: tuple[int, int, int, int, int] | None,
        underlying: tuple[int, int, int] | None, effect: int, not_before: int = 0,
        refers: int = NONE, cause: int = NONE,
    ) -> int:
        """One option print. ``nbbo`` = (bid, ask, bid size, ask size, ts ms) in force,
        ``underlying`` = (bid, ask, ts ms) of the SIP quote in force; the feed delivers
        it no earlier than ``not_before`` (ms) nor than the contract's previous row.
        ``refers`` is the row of an earlier print this one reports on, ``cause`` the
        injected scenario whose action caused it (-1: none). Returns this
        print's row (its generation index in the spool)."""
        ts = self.ms(now_ns)
        ingest = max(ts + int(self._gen.standard_exponential() * self._latency_ms),
                     int(self.delivered[contract]), not_before)
        self.delivered[contract] = ingest
        self.printed_ms[contract] = ts
        self.last_print = (ts, ingest)
        nb = nbbo if nbbo is not None else (NONE,) * 5
        und = underlying if underlying is not None else (NONE,) * 3
        at = self._rows
        self._room(1)[:, at] = (PRINT, ts, ingest, price, 0, size, 0, contract, cause)
        self._prints.append((at, venue, agent, contra, parent, conditions, *nb, *und, effect,
                             refers))
        self.print_count += 1
        row = self.generated
        self._added(1, ts)
        return row

    def _added(self, n: int, last_ts: int) -> None:
        self._rows += n
        self.generated += n
        self._last_ts = last_ts
        if self._rows >= self.FLUSH_ROWS or last_ts >= self._flush_at:
            self.flush()

    def flush(self) -> None:
        """Write the buffered NBBO chunks and prints as one Arrow record batch of
        ``OPTION_SPOOL_SCHEMA``, in generation order (no-op when empty); columns a row
        kind does not use take their "none" value (-1, or 0 for bit masks).
        """
        rows = self._rows
        if rows == 0:
            return
        self._flush_at = self._last_ts + self.FLUSH_SPAN_MS
        own = self._own
        values = np.array(self._prints, dtype=np.int64).reshape(-1, 1 + len(own))
        at = values[:, 0]
        for j, column in enumerate(own, start=1):  # each print's own values at its row
            column[at] = values[:, j]
        buf = self._buf
        arrays = [column_array((buf[j] if shared else own[j])[:rows].astype(dtype, copy=False),
                               f.type)
                  for (shared, j, dtype), f in zip(_LAYOUT, OPTION_SPOOL_SCHEMA, strict=True)]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=OPTION_SPOOL_SCHEMA))
        for name, column in zip(_PRINT_ONLY, own, strict=True):  # back to "none"
            column[at] = _NBBO_FIXED[name]
        self._prints = []
        self._rows = 0

    def close(self) -> None:
        """Flush the remaining rows and close the spool file."""
        self.flush()
        self._writer.close()


@kernel
def _append(times_ns: np.ndarray, contracts: np.ndarray, bids: np.ndarray, asks: np.ndarray,
            bid_sizes: np.ndarray, ask_sizes: np.ndarray, causes: np.ndarray, cause: int,
            exps: np.ndarray, latency_ms: float, open_ms: int, delivered: np.ndarray,
            printed_ms: np.ndarray, buf: np.ndarray,
            at: int) -> None:  # pragma: no cover - compiled
    """:meth:`OptionTape.nbbos`'s rows written into ``buf`` ([column, row] int64, columns
    ``_SHARED``) from column ``at`` on, row by row in time order: ts = ``open_ms``
    + the time in ns // 1e6; the feed's raw delivery is ts + int(``exps`` x
    ``latency_ms``) (standard exponentials, one a row; truncated toward zero as numpy's
    ``astype`` does). A row is delivered (ingest) at its raw time but never before its
    contract's last delivery, and a millisecond after it when that was a print of the
    row's own millisecond (OPRA is first in, first out per contract, and replay order puts
    quotes before prints at equal times); ``delivered`` and ``printed_ms`` [contract] are
    updated in place (``printed_ms`` reset to -1 once a quote follows). The cause is
    ``causes[i]`` when ``causes`` is not empty, else ``cause``."""
    per_row = causes.size > 0
    for i in range(times_ns.size):
        ts = open_ms + times_ns[i] // NS_PER_MS
        raw = ts + np.int64(exps[i] * latency_ms)
        c = contracts[i]
        first = delivered[c] + (1 if ts == printed_ms[c] else 0)
        first = max(raw, first)
        delivered[c] = first
        printed_ms[c] = -1
        j = at + i
        buf[0, j] = NBBO
        buf[1, j] = ts
        buf[2, j] = first
        buf[3, j] = bids[i]
        buf[4, j] = asks[i]
        buf[5, j] = bid_sizes[i]
        buf[6, j] = ask_sizes[i]
        buf[7, j] = c
        buf[8, j] = causes[i] if per_row else cause
