"""Read a loaded run back from ClickHouse as event batches in replay order.

:class:`ClickHouseSource` has the shape of a replay source: a :attr:`plan` (from the
manifest recorded at load) and :meth:`batches`, single-kind
:class:`~tapesim.events.batches.GeneratedEventBatch` es whose concatenation is the
selected stream in the contract's order (CONTRACT.md §1: ``ts, ingest_ts, seq,
trace_id``; seq is assigned in that order, so the kinds merge by seq). Rows come back
in each kind's Arrow schema (``EventKind.schema``: ``int64`` times and sizes, nullable
optional fields), the same values as the run directory's Parquet files.

Memory stays bounded: the stream is read in windows of whole seconds of event time
(a ``ts`` range, which the tables' sorting key serves), each window sized from a
per-second count to about ``window_rows`` events, and merged by seq in the window.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.events.labels import validation_line
from tapesim.events.manifest import RunManifest
from tapesim.events.models import EventKind
from tapesim.io.seq_merge import merge_by_seq
from tapesim.storage.engine import Engine, EngineError, sql_string
from tapesim.storage.schema import EVENT_TABLES, RUNS_TABLE, TableSpec

__all__ = ["WINDOW_ROWS", "ClickHouseSource"]

WINDOW_ROWS = 1 << 18  # about this many events are read and merged at a time
_ORDER = "ts, ingest_ts, seq, trace_id"
# The root of an option contract id in either form: dashed ROOT-YYYY-MM-DD-..., or
# the 21-character OCC form with the root space-padded to 6 characters.
_OPTION_ROOT = ("if(position(option_contract_id, '-') > 0, "
                "splitByChar('-', option_contract_id)[1], "
                "trimRight(substring(option_contract_id, 1, 6)))")


class ClickHouseSource:
    """A run's database as a source of events in replay order.

    Args:
        engine: the engine holding the database.
        database: the run's database, ``tapesim_<run_id>`` (see
            ``tapesim.storage.schema.database_name``).
        window_rows: about how many events to read and merge at a time.

    Raises:
        EngineError: the database has no completed load (no row in ``runs``), or
            its recorded manifest does not parse.
    """

    def __init__(self, engine: Engine, database: str, window_rows: int = WINDOW_ROWS) -> None:
        self.engine = engine
        self.database = database
        self.window_rows = window_rows
        try:
            rows = engine.query_arrow(
                f"SELECT manifest FROM `{database}`.`{RUNS_TABLE.name}` LIMIT 2").to_pylist()
        except EngineError as err:
            raise EngineError(f"{database} on {engine.name} holds no loaded run "
                              f"(`tapesim load RUN --clickhouse` makes one): {err}") from None
        if len(rows) != 1:
            raise EngineError(f"{database} on {engine.name} holds {len(rows)} loaded runs, "
                              "not one")
        try:
            self.manifest = RunManifest.model_validate(json.loads(rows[0]["manifest"]))
        except (ValidationError, json.JSONDecodeError) as err:
            why = validation_line(err, "manifest") if isinstance(err, ValidationError) else err
            raise EngineError(f"{database} on {engine.name}: the recorded manifest does "
                              f"not parse ({why})") from None

    @property
    def name(self) -> str:
        """The engine and database, for messages."""
        return f"{self.engine.name} {self.database}"

    @property
    def plan(self) -> ReplayPlan:
        """The plan of the whole run, from the manifest recorded at load."""
        return ReplayPlan.from_manifest(self.manifest)

    def _where(self, spec: TableSpec, symbols: list[str] | None, start_ts: int | None,
               end_ts: int | None, from_seq: int) -> list[str]:
        terms = []
        if start_ts is not None:
            terms.append(f"ts >= {int(start_ts)}")
        if end_ts is not None:
            terms.append(f"ts < {int(end_ts)}")
        if from_seq:
            terms.append(f"seq >= {int(from_seq)}")
        if symbols is not None:
            names = ", ".join(sql_string(s) for s in symbols) or "''"
            root = "underlying_id" if spec.order_by[1] == "underlying_id" else _OPTION_ROOT
            terms.append(f"{root} IN ({names})")
        return terms

    def _per_second(self, symbols: list[str] | None, start_ts: int | None,
                    end_ts: int | None, from_seq: int) -> pa.Table:
        parts = []
        for spec in EVENT_TABLES:
            terms = self._where(spec, symbols, start_ts, end_ts, from_seq)
            where = f" WHERE {' AND '.join(terms)}" if terms else ""
            parts.append(f"SELECT ts FROM `{self.database}`.`{spec.name}`{where}")
        return self.engine.query_arrow(
            f"SELECT intDiv(ts, 1000) AS second, count() AS n FROM ({' UNION ALL '.join(parts)})"
            " GROUP BY second ORDER BY second")

    def count(self, symbols: list[str] | None = None, start_ts: int | None = None,
              end_ts: int | None = None, from_seq: int = 0) -> int:
        """Events :meth:`batches` with the same arguments yields.

        Raises:
            EngineError: ClickHouse rejected the query.
        """
        counts = self._per_second(symbols, start_ts, end_ts, from_seq)
        return int(pc.sum(counts.column("n")).as_py() or 0)

    def _windows(self, counts: pa.Table) -> Iterator[tuple[int, int]]:
        seconds = counts.column("second").to_numpy().astype(np.int64)
        n = counts.column("n").to_numpy().astype(np.int64)
        lo, held = None, 0
        for second, rows in zip(seconds.tolist(), n.tolist(), strict=True):
            lo = second if lo is None else lo
            held += rows
            if held >= self.window_rows:
                yield lo * 1000, (second + 1) * 1000
                lo, held = None, 0
        if lo is not None:
            yield lo * 1000, (int(seconds[-1]) + 1) * 1000

    def _read(self, spec: TableSpec, terms: list[str]) -> pa.RecordBatch | None:
        kind = spec.kind
        assert kind is not None
        names = ", ".join(f"`{f.name}`" for f in kind.schema)
        table = self.engine.query_arrow(
            f"SELECT {names} FROM `{self.database}`.`{spec.name}` WHERE {' AND '.join(terms)} "
            f"ORDER BY {_ORDER}")
        if table.num_rows == 0:
            return None
        return _as_kind(table, kind)

    def batches(self, symbols: list[str] | None = None, start_ts: int | None = None,
                end_ts: int | None = None, from_seq: int = 0,
                ) -> Iterator[GeneratedEventBatch]:
        """The selected events as single-kind batches, concatenating to replay order.

        Args:
            symbols: only these underlyings (option events by the contract id's root);
                None for all.
            start_ts, end_ts: only events with ``start_ts <= ts < end_ts`` (epoch ms
                UTC); None for no bound.
            from_seq: only events with ``seq >= from_seq``.

        Raises:
            EngineError: ClickHouse rejected a query, or the rows are not in seq order
                or two share a seq (a damaged load: ``--drop`` and load again).
        """
        counts = self._per_second(symbols, start_ts, end_ts, from_seq)
        last = -1
        for lo, hi in self._windows(counts):
            parts: list[tuple[EventKind, pa.RecordBatch]] = []
            for spec in EVENT_TABLES:
                terms = [*self._where(spec, symbols, start_ts, end_ts, from_seq),
                         f"ts >= {lo}", f"ts < {hi}"]
                batch = self._read(spec, terms)
                if batch is not None:
                    parts.append((spec.kind, batch))  # type: ignore[arg-type]
            merged = merge_by_seq({kind.name: [batch] for kind, batch in parts}, self.name,
                                  _damaged_load)
            for out in merged:
                if out.first_seq <= last:
                    raise EngineError(f"{self.name}: seq {out.first_seq} comes after {last} "
                                      "in replay order; the load is damaged (--drop and "
                                      "load again)")
                last = out.last_seq
                yield out


def _as_kind(table: pa.Table, kind: EventKind) -> pa.RecordBatch:
    """ClickHouse's result as a record batch in the kind's Arrow schema (``UInt64`` and
    ``UInt32`` back to ``int64``, ages from ``Float64`` back to ``int64``)."""
    columns = []
    for f in kind.schema:
        column = table.column(f.name)
        if pa.types.is_list(f.type):
            column = column.cast(pa.list_(pa.string()))
        columns.append(column.cast(f.type).combine_chunks())
    return pa.RecordBatch.from_arrays(columns, schema=kind.schema)


def _damaged_load(what: str) -> EngineError:
    return EngineError(f"{what}; the load is damaged (--drop and load again)")
