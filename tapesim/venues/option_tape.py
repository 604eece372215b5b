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
from tapesim.venues.tape import spool_writer

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
_NAMES = [f.name for f in OPTION_SPOOL_SCHEMA]
_DTYPES = [f.type.to_pandas_dtype() for f in OPTION_SPOOL_SCHEMA]
_NBBO_FIXED = {  # columns an NBBO row does not use
    "venue": NONE, "agent": NONE, "contra": NONE, "parent": NONE, "conditions": 0,
    "nbbo_bid": NONE, "nbbo_ask": NONE, "nbbo_bid_size": NONE, "nbbo_ask_size": NONE,
    "nbbo_ts": NONE, "und_bid": NONE, "und_ask": NONE, "und_ts": NONE, "effect": 0,
    "cause": NONE, "refers": NONE,
}


class OptionTape:
    """Collects one shard's option events in generation order and spools them.

    ``path`` is the spool file (Arrow IPC, ``OPTION_SPOOL_SCHEMA``), ``open_ms`` the
    session's open in epoch ms, ``latency_ms`` the mean OPRA feed latency, ``gen``
    the shard's option-feed stream (standard exponentials, in row order) and
    ``n_contracts`` the number of listed contracts.
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
        # (rows, column values): an array per column, or a scalar for a constant column
        self._segments: list[tuple[int, dict[str, np.ndarray | int | float]]] = []
        self._prints: list[list[float | int]] = []
        self._rows = 0
        self._flush_at = open_ms + self.FLUSH_SPAN_MS
        # When the feed delivered each contract's last row (ms): first in, first out.
        self.delivered = np.zeros(n_contracts, dtype=np.int64)
        # The ms of each contract's last row if that was a print, else -1.
        self.printed_ms = np.full(n_contracts, -1, dtype=np.int64)
        self.nbbo_count = 0
        self.print_count = 0
        self.generated = 0  # rows written so far: a row's index in the spool
        self.last_print = (0, 0)  # (ts, ingest_ts) in ms of the last print written

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
        self._close_prints()
        ts = self._open_ms + np.asarray(times_ns, dtype=np.int64) // NS_PER_MS
        raw = ts + (self._gen.standard_exponential(n) * self._latency_ms).astype(np.int64)
        ingest = self._in_order(np.asarray(contracts, dtype=np.int64), ts, raw)
        self._segments.append((n, {"kind": NBBO, "ts": ts, "ingest_ts": ingest, "price": bids,
                                   "ask": asks, "size": bid_sizes, "ask_size": ask_sizes,
                                   "contract": contracts,
                                   "cause": NONE if causes is None else causes}))
        self.nbbo_count += n
        self._added(n, int(ts[-1]))

    def _in_order(self, contracts: np.ndarray, ts: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Delivery times (ms) of NBBO rows in time order (``raw``: stamped time plus
        latency): per contract a running maximum from its last row's delivery (plus one
        after a print of the same ms); updates the per-contract delivery state."""
        ingest = np.empty(raw.size, dtype=np.int64)
        _deliver(contracts, ts, raw, self.delivered, self.printed_ms, ingest)
        return ingest

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
        self._prints.append([PRINT, ts, ingest, price, 0, size, 0, venue, agent, contra, parent,
                             contract, conditions, *nb, *und, effect, cause, refers])
        self.print_count += 1
        row = self.generated
        self._added(1, ts)
        return row

    def _added(self, n: int, last_ts: int) -> None:
        self._rows += n
        self.generated += n
        if self._rows >= self.FLUSH_ROWS or last_ts >= self._flush_at:
            self.flush()

    def _close_prints(self) -> None:
        if self._prints:
            by_column = zip(*self._prints, strict=True)
            self._segments.append((len(self._prints), {
                name: np.asarray(col, dtype=dtype)
                for col, name, dtype in zip(by_column, _NAMES, _DTYPES, strict=True)}))
            self._prints = []

    def flush(self) -> None:
        """Write the buffered NBBO chunks and prints as one Arrow record batch of
        ``OPTION_SPOOL_SCHEMA``, in generation order (no-op when empty); columns a row
        kind does not use take their "none" value (-1, or 0 for bit masks).
        """
        self._close_prints()
        if not self._segments:
            return
        total = sum(n for n, _ in self._segments)
        columns = [np.empty(total, dtype=dtype) for dtype in _DTYPES]
        start = 0
        for n, values in self._segments:
            for name, column in zip(_NAMES, columns, strict=True):
                column[start:start + n] = values.get(name, _NBBO_FIXED.get(name, 0))
            start += n
        self._flush_at = int(columns[1][-1]) + self.FLUSH_SPAN_MS
        arrays = [pa.array(col, type=f.type)
                  for col, f in zip(columns, OPTION_SPOOL_SCHEMA, strict=True)]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=OPTION_SPOOL_SCHEMA))
        self._segments = []
        self._rows = 0

    def close(self) -> None:
        """Flush the remaining rows and close the spool file."""
        self.flush()
        self._writer.close()


@kernel
def _deliver(contracts: np.ndarray, ts: np.ndarray, raw: np.ndarray, delivered: np.ndarray,
             printed_ms: np.ndarray, ingest: np.ndarray) -> None:  # pragma: no cover - compiled
    """:meth:`OptionTape._in_order`'s loop, row by row in time order: a row is delivered at
    its ``raw`` time but never before its contract's last delivery, and a millisecond
    after it when that was a print of the row's own millisecond (``printed_ms``, reset to
    -1 once a quote follows). ``delivered`` and ``printed_ms`` [contract] are updated in
    place; ``ingest`` [row] receives the delivery times (int64 ms)."""
    for i in range(raw.size):
        c = contracts[i]
        first = delivered[c] + (1 if ts[i] == printed_ms[c] else 0)
        first = max(raw[i], first)
        delivered[c] = first
        printed_ms[c] = -1
        ingest[i] = first
