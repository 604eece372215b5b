"""A small hand-written run with all four event kinds, written the way a run is.

Spool rows (the engines' compact form) for two symbols are merged into replay
order and pushed through the run's own canonicaliser, digest and writer, so the
directory is byte-for-byte what the run writer would make of those events. It
covers what a stock-only run cannot: a penny root (SPY) and a nickel root (AAPL)
quoted above $3, a zero-bid wing, prints at the ask with SWEEP, a print on a stale
NBBO and one with no NBBO at all (its execution fields null).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.contracts import ShardListing
from tapesim.events.enrichment import CONDITION_BIT
from tapesim.events.models import KINDS
from tapesim.io.canonical import Canonicaliser
from tapesim.io.digest import STREAM_LAYOUT, StreamDigest
from tapesim.io.manifest import FORMAT, ORDER_BY, TIE_BREAK, run_id_for, snapshot_hash
from tapesim.io.writer import RunWriter
from tapesim.runs import SORT_KEYS
from tapesim.sim.calendar import epoch_ms
from tapesim.venues.option_tape import OPTION_SPOOL_SCHEMA
from tapesim.venues.tape import SPOOL_SCHEMA

DAY = dt.date(2026, 3, 10)
LIT, TRF = ["NYSE", "ARCA"], ["FINN"]
OPTION_VENUES = ["CBOE", "ISE"]
OPEN = epoch_ms(DAY, dt.time(9, 30))
EXPIRY_MS = epoch_ms(dt.date(2026, 3, 20), dt.time(16, 0))
SHARDS = [
    ShardListing("SPY", ("mm-spy", "retail-spy"), ("SPY-2026-03-20-575-C", "SPY-2026-03-20-575-P"),
               (True, False), (575.0, 575.0), (EXPIRY_MS, EXPIRY_MS)),
    ShardListing("AAPL", ("mm-aapl", "retail-aapl"), ("AAPL-2026-03-20-230-C",), (True,),
               (230.0,), (EXPIRY_MS,)),
]
SWEEP = CONDITION_BIT["SWEEP"]

# (shard, kind, ms after the open, bid or price, ask, size) - stock quotes (0) and prints (2)
STOCK = [
    (0, 0, 0, 57_499, 57_501, 0),
    (1, 0, 1, 22_799, 22_801, 0),
    (0, 2, 5, 57_500, 0, 100),
    (1, 2, 7, 22_800, 0, 50),
]
# (shard, kind, ms, contract, bid or price, ask, size or bid size, ask size, venue,
#  conditions, nbbo (bid, ask, bid size, ask size, ts) or None, underlying (bid, ask, ts))
OPTIONS = [
    (0, 1, 10, 0, 311, 313, 50, 60, -1, 0, None, None),
    (0, 1, 10, 1, 0, 5, 0, 10, -1, 0, None, None),
    (1, 3, 15, 0, 305, 0, 5, 0, 1, 0, None, (22_799, 22_801, 1)),
    (0, 3, 20, 0, 313, 0, 200, 0, 0, SWEEP, (311, 313, 50, 60, 10), (57_499, 57_501, 0)),
    (1, 1, 30, 0, 300, 310, 5, 5, -1, 0, None, None),
    (0, 3, 3_000, 1, 3, 0, 10, 0, 1, 0, (0, 5, 0, 10, 10), (57_499, 57_501, 0)),
]


def _stock_rows() -> pa.Table:
    cols: dict[str, list[int]] = {f.name: [] for f in SPOOL_SCHEMA}
    shard, local = [], []
    for i, (s, kind, ms, price, ask, size) in enumerate(STOCK):
        venue = -1 if kind == 0 else (0 if s == 0 else len(LIT))  # AAPL's print is off-exchange
        row = [kind, OPEN + ms, OPEN + ms + 1, price, ask, size, venue,
               -1 if kind == 0 else 1, -1 if kind == 0 else 0, -1, -1]
        for name, value in zip(cols, row, strict=True):
            cols[name].append(value)
        shard.append(s)
        local.append(i)
    table = pa.table(cols, schema=SPOOL_SCHEMA)
    return table.append_column("shard", pa.array(shard, pa.int32())).append_column(
        "local", pa.array(local, pa.int64()))


def _option_rows(options: list[tuple]) -> pa.Table:
    cols: dict[str, list[int]] = {f.name: [] for f in OPTION_SPOOL_SCHEMA}
    shard, local = [], []
    for i, (s, kind, ms, contract, price, ask, size, ask_size, venue, cond, nbbo,
            und) in enumerate(options):
        printed = kind == 3
        nb = (*nbbo[:4], OPEN + nbbo[4]) if nbbo else (-1,) * 5
        un = (*und[:2], OPEN + und[2]) if und else (-1,) * 3
        row = [kind, OPEN + ms, OPEN + ms + 2, price, ask, size, ask_size, venue,
               1 if printed else -1, 0 if printed else -1, -1, contract, cond, *nb, *un,
               1 if printed else 0, -1, -1]
        for name, value in zip(cols, row, strict=True):
            cols[name].append(value)
        shard.append(s)
        local.append(len(STOCK) + i)
    table = pa.table(cols, schema=OPTION_SPOOL_SCHEMA)
    return table.append_column("shard", pa.array(shard, pa.int32())).append_column(
        "local", pa.array(local, pa.int64()))


def write_option_run(out: Path, jsonl: bool = False, shards: list[ShardListing] = SHARDS,
                     options: list[tuple] = OPTIONS) -> Path:
    """Write the run into ``out`` (with JSON lines too if ``jsonl``); returns ``out``.
    ``shards`` and ``options`` replace the listed contracts and option rows (same shapes
    as :data:`SHARDS` and :data:`OPTIONS`)."""
    snapshot = {"profile": "synthetic-options", "seed": 1}
    params_hash = snapshot_hash(snapshot)
    run_id = run_id_for(params_hash)
    rows = pa.concat_tables([_stock_rows(), _option_rows(options)], promote_options="default")
    rows = rows.take(pc.sort_indices(rows, sort_keys=SORT_KEYS))
    canon = Canonicaliser(run_id, shards, [*LIT, *TRF], len(LIT), tuple(OPTION_VENUES),
                          "smart-flow")
    writer = RunWriter(out, jsonl=jsonl)
    tables, provenance, records, details = canon.window(rows)
    for name, table in tables.items():
        writer.write(name, table)
    writer.provenance.write(provenance)
    digest = StreamDigest()
    digest.update(records)
    digest.update_details(details)
    counts = {k.name: tables[k.name].num_rows for k in KINDS}
    ts = rows.column("ts")
    manifest = {
        "format": FORMAT,
        "generator": {"name": "tapesim", "version": "test", "libraries": {}},
        "run_id": run_id,
        "profile": "synthetic-options",
        "seed_bundle": {"seed": 1, "namespace": "tapesim", "partition": "market"},
        "parameter_snapshot_hash": params_hash,
        "session": {"date": DAY.isoformat(), "open_ts": OPEN,
                    "close_ts": epoch_ms(DAY, dt.time(16, 0)), "start_ts": OPEN,
                    "end_ts": epoch_ms(DAY, dt.time(9, 45))},
        "symbols": [s.symbol for s in shards],
        "venues": {"lit": LIT, "trf": TRF, "options": OPTION_VENUES},
        "counts": {**counts, "total": sum(counts.values())},
        "time_range": {"first_ts": ts[0].as_py(), "last_ts": ts[-1].as_py()},
        "ordering": {"order_by": ORDER_BY, "tie_break": TIE_BREAK, "seq_start": 1},
        "event_stream": {"layout": STREAM_LAYOUT, "sha256": digest.hexdigest()},
        "conservation": {s.symbol: {"shares": 0, "cash_cents": 0, "contracts": 0,
                                    "premium_cents": 0} for s in shards},
    }
    writer.finish(snapshot, manifest)
    return out
