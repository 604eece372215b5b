"""The feed adapter: turns NBBO changes and executions into shard-local event rows.

Delivery. The SIP delivers one symbol's quotes and trades in the order the matching
engines produced them (each message carries its sequence number and a feed is
first in, first out): ``ingest_ts`` is the event's millisecond plus an exponential
latency, but never before the previous row's. Replay order breaks ties at equal
(``ts``, ``ingest_ts``) with quotes before prints (CONTRACT.md §1), so a quote that
follows a print of the same millisecond (the quote the trade caused) is delivered
at least a millisecond after it. Hence replay order keeps each symbol's engine
order, and a consumer joining a print to the last quote before it finds the quote
the trade met. The same holds across the shard's two feeds: what this feed writes in
the millisecond of an option print after that print (a delta hedge and the quotes
it moves) is delivered after it (:meth:`Tape.follow`), so an option print's
recorded SIP quote is the last one before it in replay order too.

Rows are buffered as Python lists and written as Arrow record batches to the
shard's spool file, so a shard never holds its whole output. The spool layout is
internal (integer cents, venue and agent indices); the run writer turns it into
canonical events when it merges the shards into replay order.
"""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

import numpy as np
import pyarrow as pa

from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE
from tapesim.sim.calendar import NS_PER_MS
from tapesim.sim.rng import Draws

QUOTE = EQUITY_QUOTE.code  # spool kinds are the event kinds' ordering codes
PRINT = EQUITY_PRINT.code

SPOOL_SCHEMA = pa.schema(
    [
        ("kind", pa.int8()),
        ("ts", pa.int64()),
        ("ingest_ts", pa.int64()),
        ("price", pa.int64()),  # cents: the bid of a quote, the price of a print
        ("ask", pa.int64()),  # cents: the ask of a quote, 0 for a print
        ("size", pa.int64()),  # 0 for a quote
        ("venue", pa.int16()),  # index into the run's venue codes, -1 for a quote
        ("agent", pa.int32()),  # aggressor of a print, -1 for a quote
        ("contra", pa.int32()),  # passive side of a print, -1 for a quote
        ("parent", pa.int64()),  # parent order of the aggressor, -1 if none
        ("cause", pa.int16()),  # the injected scenario whose action caused it, -1 if none
    ]
)
_COLUMNS = [f.name for f in SPOOL_SCHEMA]
# Spools are scratch: LZ4-compressed record batches keep a shard's spool at about a
# quarter (stock rows) to a tenth (option rows) of its raw size, for a little CPU.
SPOOL_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def column_array(values: np.ndarray | list[int], type: pa.DataType) -> pa.Array:
    """A spool column: integer ``values`` as an Arrow array of the fixed-width ``type``,
    without nulls, sharing the values' memory when they already have its dtype (so it
    must be written before they change). The same array as ``pa.array`` makes of them;
    ``pa.array`` imports pandas on its first call, about half a CPU second in every
    process that simulates, and this does not."""
    data = np.ascontiguousarray(values, dtype=type.to_pandas_dtype())
    return pa.Array.from_buffers(type, data.size, [None, pa.py_buffer(data)])


def spool_writer(path: Path, schema: pa.Schema) -> pa.ipc.RecordBatchStreamWriter:
    """A spool file: an Arrow IPC *stream* (not the file format, whose footer comes last),
    so the run writer can read each record batch as soon as it is written, while the
    shard is still running (:mod:`tapesim.io.spool`). Each batch goes to the file in
    one write, unbuffered."""
    return pa.ipc.new_stream(str(path), schema, options=SPOOL_WRITE_OPTIONS)


def read_spool(path: Path) -> pa.Table:
    """A finished spool file whole, as written (for tests and diagnostics)."""
    with pa.ipc.open_stream(str(path)) as reader:
        return reader.read_all()


class Tape:
    """Collects one shard's market events in generation order and spools them.

    A batch is flushed at ``FLUSH_ROWS`` rows or once it spans ``FLUSH_SPAN_MS`` of
    event time, whichever comes first: the merge's windows are bounded by the
    sparsest shard's batches, so a quiet symbol must not hold hours in one batch.

    ``path`` is the spool file (Arrow IPC, ``SPOOL_SCHEMA``), ``open_ms`` the
    session's open in epoch ms, ``latency_ms`` the mean SIP feed latency and
    ``draws`` the shard's feed stream, drawn once per row in row order.
    """

    FLUSH_ROWS = 1 << 16
    FLUSH_SPAN_MS = 300_000

    def __init__(self, path: Path, open_ms: int, latency_ms: float, draws: Draws) -> None:
        self._writer = spool_writer(path, SPOOL_SCHEMA)
        self._open_ms = open_ms
        self._latency_ms = latency_ms
        self._draws = draws
        self._cols: list[list[int]] = [[] for _ in _COLUMNS]
        self._flush_at = open_ms + self.FLUSH_SPAN_MS  # event time (ms) of the next flush
        self.quote_count = 0
        self.print_count = 0
        # The SIP quote in force: (ts ms, bid, ask) of the last NBBO written, if any.
        self.last_quote: tuple[int, int, int] | None = None
        self.last_quote_ingest = 0  # ... and when the feed delivered it (ms)
        self._delivered = 0  # ingest_ts of the last row (ms): the feed is first in, first out
        self._printed_ms = -1  # ts of the last row if it was a print, else -1
        self._follows_ms = -1  # ts of the last option print of the shard ...
        self._follows = 0  # ... and the earliest delivery of what follows it in that ms

    def _latency(self) -> int:
        return int(self._draws.exponential() * self._latency_ms)

    def _floor(self, ts: int, quote: bool) -> int:
        """The earliest delivery (ms) of a row stamped ``ts``: not before the last row,
        a quote after a print of the same millisecond, and anything after an option
        print of that millisecond (see the module docstring)."""
        floor = self._delivered + int(quote and ts == self._printed_ms)
        return max(floor, self._follows) if ts == self._follows_ms else floor

    def follow(self, ts: int, ingest: int) -> None:
        """The shard's option feed delivered a print stamped ``ts`` (ms) at ``ingest``
        (ms): rows written next in that millisecond come after it in replay order (and
        after every earlier option print of that millisecond: prints of different
        contracts may be delivered out of their engine order)."""
        if ts != self._follows_ms:
            self._follows_ms, self._follows = ts, 0
        self._follows = max(self._follows, ingest + 1)

    def quote(self, now_ns: int, bid: int, ask: int, cause: int = -1) -> None:
        """One SIP NBBO change at simulation time ``now_ns`` (ns since the open): ``bid`` and
        ``ask`` in integer cents. ``ts`` is the millisecond of ``now_ns`` (floored);
        ``ingest_ts`` adds an exponential feed latency with mean ``latency_ms``, truncated
        to whole ms (one draw from the feed stream per quote), delayed to keep the
        feed's order (module docstring). ``cause`` is the injected
        scenario whose action caused it, -1 for none (see
        :mod:`tapesim.venues.feed.attribution`).
        """
        ts = self._open_ms + now_ns // NS_PER_MS
        c = self._cols
        c[0].append(QUOTE)
        c[1].append(ts)
        ingest = max(ts + self._latency(), self._floor(ts, True))
        c[2].append(ingest)
        c[3].append(bid)
        c[4].append(ask)
        c[5].append(0)
        c[6].append(-1)
        c[7].append(-1)
        c[8].append(-1)
        c[9].append(-1)
        c[10].append(cause)
        self.quote_count += 1
        self.last_quote = (ts, bid, ask)
        self.last_quote_ingest = self._delivered = ingest
        self._printed_ms = -1
        if len(c[0]) >= self.FLUSH_ROWS or ts >= self._flush_at:
            self.flush()

    def quotes(self, times_ns: list[int], bids: list[int], asks: list[int],
               cause: int = -1) -> None:
        """Several NBBO changes at once, in time order: the same rows as one
        :meth:`quote` call each, for a fraction of the cost."""
        n = len(times_ns)
        if n == 0:
            return
        open_ms, latency_ms = self._open_ms, self._latency_ms
        ts = [open_ms + t // NS_PER_MS for t in times_ns]
        c = self._cols
        c[0] += [QUOTE] * n
        c[1] += ts
        ingest = [t + int(e * latency_ms)
                  for t, e in zip(ts, self._draws.exponentials(n), strict=True)]
        ingest[0] = max(ingest[0], self._floor(ts[0], True))
        ingest = list(accumulate(ingest, max))
        c[2] += ingest
        c[3] += bids
        c[4] += asks
        c[5] += [0] * n
        none = [-1] * n
        for col in c[6:10]:
            col += none
        c[10] += [cause] * n
        self.quote_count += n
        self.last_quote = (ts[-1], bids[-1], asks[-1])
        self.last_quote_ingest = self._delivered = ingest[-1]
        self._printed_ms = -1
        if len(c[0]) >= self.FLUSH_ROWS or ts[-1] >= self._flush_at:
            self.flush()

    def trade(
        self, now_ns: int, price: int, size: int, venue: int, agent: int, contra: int,
        parent: int, cause: int = -1,
    ) -> None:
        """One stock execution at ``now_ns`` (ns since the open): ``price`` in integer cents,
        ``size`` in shares, ``venue`` an index into the run's venue codes (lit venues
        first, then TRF codes), ``agent`` the aggressor's and ``contra`` the passive
        side's ledger index, ``parent`` the aggressor's parent order id (-1 if none),
        ``cause`` as in :meth:`quote`. Times and latency as in :meth:`quote`; delivered no
        earlier than the row before it.
        """
        ts = self._open_ms + now_ns // NS_PER_MS
        c = self._cols
        c[0].append(PRINT)
        c[1].append(ts)
        ingest = max(ts + self._latency(), self._floor(ts, False))
        c[2].append(ingest)
        self._delivered = ingest
        self._printed_ms = ts
        c[3].append(price)
        c[4].append(0)
        c[5].append(size)
        c[6].append(venue)
        c[7].append(agent)
        c[8].append(contra)
        c[9].append(parent)
        c[10].append(cause)
        self.print_count += 1
        if len(c[0]) >= self.FLUSH_ROWS or ts >= self._flush_at:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one Arrow record batch of ``SPOOL_SCHEMA`` (no-op when
        empty) and set the next time-based flush ``FLUSH_SPAN_MS`` after the last row.
        """
        if not self._cols[0]:
            return
        self._flush_at = self._cols[1][-1] + self.FLUSH_SPAN_MS
        arrays = [column_array(col, field.type)
                  for col, field in zip(self._cols, SPOOL_SCHEMA, strict=True)]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=SPOOL_SCHEMA))
        self._cols = [[] for _ in _COLUMNS]

    def close(self) -> None:
        """Flush the remaining rows and close the spool file."""
        self.flush()
        self._writer.close()
