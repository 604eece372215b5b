"""The ClickHouse tables of a materialised run, generated from the Arrow schemas.

The four event tables follow the pipeline's storage layout (CONTRACT.md §5): named as
the run directory's event files (``equity_quotes``, ``equity_prints``, ``option_nbbo``,
``option_prints``), ``ENGINE = MergeTree`` ordered by ``(ts, underlying_id)`` for the
equity tables and ``(ts, option_contract_id)`` for the option tables, the meta columns
first (``source_ts, ingest_ts, seq, trace_id, ts``), then the kind's own fields in the
model's order. Column types are derived from each kind's Arrow schema
(``tapesim.events.models``), so a field added to a model reaches the table without a
second column list; only the §5 choices the Arrow types cannot tell are rules here:
meta integers and timestamps ``UInt64``, sizes ``UInt32``, ages ``Float64``, optional
fields ``Nullable(...)``, ``signal_reasons`` with ``DEFAULT []``, and a bloom-filter
skip index on ``trace_id``.

tapesim's own tables sit beside them in the run's database (§5: "never by adding
columns to these tables"): ``provenance`` and ``open_interest`` (the run directory's
Parquet files, column for column), ``labels`` and ``expected_outputs`` (one row per
label or expectation: its ids and the whole JSON object), and ``runs`` (one row per
loaded run: the sha256 of its ``manifest.json``, which makes a load idempotent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from tapesim.events.models import KINDS, EventKind

__all__ = ["EVENT_TABLES", "EXPECTED_OUTPUTS_TABLE", "LABELS_TABLE", "META_ORDER",
           "RUNS_TABLE", "SIDE_TABLES", "Column", "TableSpec", "database_name",
           "event_table", "table_from_arrow"]

#: The meta columns in the order §5 lists them, first in every event table.
META_ORDER = ("source_ts", "ingest_ts", "seq", "trace_id", "ts")
_UNSIGNED_META = {"source_ts", "ingest_ts", "seq", "ts"}
_SIZES = {"size", "bidSize", "askSize"}
_DEFAULT_EMPTY = {"signal_reasons"}

_ARROW_OF_CLICKHOUSE: dict[str, pa.DataType] = {
    "UInt64": pa.uint64(),
    "UInt32": pa.uint32(),
    "Int64": pa.int64(),
    "Float64": pa.float64(),
    "String": pa.string(),
    "Bool": pa.bool_(),
    "Array(String)": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class Column:
    """One column of a ClickHouse table.

    Args:
        name: the column's name, as the Arrow field's (camelCase kept).
        type: the ClickHouse type without ``Nullable``, e.g. ``"UInt64"``,
            ``"Array(String)"``; a key of the Arrow mapping below.
        nullable: wrap the type in ``Nullable(...)``.
        default: a ``DEFAULT`` expression, e.g. ``"[]"``; None for none.
    """

    name: str
    type: str
    nullable: bool = False
    default: str | None = None

    @property
    def sql_type(self) -> str:
        """The type as written in DDL and reported by ``system.columns``."""
        return f"Nullable({self.type})" if self.nullable else self.type

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type rows are cast to before they are inserted."""
        return _ARROW_OF_CLICKHOUSE[self.type]

    def ddl(self) -> str:
        """The column's definition in ``CREATE TABLE``."""
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"`{self.name}` {self.sql_type}{default}"


@dataclass(frozen=True)
class TableSpec:
    """A MergeTree table of a run's database.

    Args:
        name: the table's name inside the run's database.
        columns: its columns, in order.
        order_by: the sorting key, column names.
        indexes: skip-index definitions, each ``INDEX ...`` text without the keyword.
        kind: the event kind stored in it; None for tapesim's own tables.
    """

    name: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]
    indexes: tuple[str, ...] = ()
    kind: EventKind | None = None

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema rows are cast to for an insert (column order of the table)."""
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable or
                                   c.type == "Array(String)") for c in self.columns])

    def create(self, database: str) -> str:
        """``CREATE TABLE IF NOT EXISTS`` of this table in ``database``."""
        parts = [c.ddl() for c in self.columns] + [f"INDEX {i}" for i in self.indexes]
        body = ",\n    ".join(parts)
        return (f"CREATE TABLE IF NOT EXISTS `{database}`.`{self.name}` (\n    {body}\n)\n"
                f"ENGINE = MergeTree\nORDER BY ({', '.join(self.order_by)})")


def _event_column(field: pa.Field) -> Column:
    """The §5 column of one field of an event kind's Arrow schema."""
    name = field.name
    if name in _UNSIGNED_META or (name.endswith("_ts") and pa.types.is_integer(field.type)):
        ch = "UInt64"
    elif name in _SIZES or name.endswith("_size"):
        ch = "UInt32"
    elif name.endswith("_age_ms"):
        ch = "Float64"  # §5: "prices, spreads, ages and IVs Nullable(Float64)"
    else:
        ch = _generic_type(field.type)
    if name in _DEFAULT_EMPTY:
        return Column(name, ch, default="[]")
    return Column(name, ch, nullable=field.nullable and not ch.startswith("Array"))


def _generic_type(t: pa.DataType) -> str:
    if pa.types.is_list(t) and pa.types.is_string(t.value_type):
        return "Array(String)"
    if pa.types.is_boolean(t):
        return "Bool"
    if pa.types.is_floating(t):
        return "Float64"
    if pa.types.is_integer(t):
        return "Int64"
    if pa.types.is_string(t):
        return "String"
    raise KeyError(f"no ClickHouse column type for Arrow type {t}")


def event_table(kind: EventKind) -> TableSpec:
    """The §5 table of an event kind, generated from ``kind.schema``.

    Raises:
        KeyError: a field whose Arrow type has no ClickHouse mapping here.
    """
    fields = {f.name: f for f in kind.schema}
    names = list(META_ORDER) + [n for n in fields if n not in META_ORDER]
    key = "option_contract_id" if "option_contract_id" in fields else "underlying_id"
    return TableSpec(name=kind.file_stem, columns=tuple(_event_column(fields[n]) for n in names),
                     order_by=("ts", key),
                     indexes=("trace_id_bloom trace_id TYPE bloom_filter GRANULARITY 4",),
                     kind=kind)


def table_from_arrow(name: str, schema: pa.Schema, order_by: tuple[str, ...]) -> TableSpec:
    """A table holding a Parquet file of the run column for column (nullable Arrow
    fields become ``Nullable``, except the sorting key's; ``int64`` is ``Int64``).

    Raises:
        KeyError: a field whose Arrow type has no ClickHouse mapping here.
    """
    columns = []
    for f in schema:
        ch = _generic_type(f.type)
        columns.append(Column(f.name, ch, nullable=f.nullable and f.name not in order_by
                              and not ch.startswith("Array")))
    return TableSpec(name=name, columns=tuple(columns), order_by=order_by)


#: The four §5 tables, in the order of ``tapesim.events.models.KINDS``.
EVENT_TABLES: tuple[TableSpec, ...] = tuple(event_table(k) for k in KINDS)

#: ``provenance.parquet`` and ``open_interest.parquet``: their sorting keys (the
#: columns come from the file's own schema when it is loaded).
SIDE_TABLES: dict[str, tuple[str, ...]] = {
    "provenance": ("trace_id",),
    "open_interest": ("option_contract_id",),
}

#: One row per ground-truth label: ids to join on and the label as written (JSON).
LABELS_TABLE = TableSpec("labels", (
    Column("position", "UInt32"), Column("label_id", "String"), Column("scenario_id", "String"),
    Column("family", "String"), Column("anchor_trace_ids", "Array(String)"),
    Column("label", "String")), order_by=("position",))

#: One row per expected smart-flow output: its ids and the expectation as written (JSON).
EXPECTED_OUTPUTS_TABLE = TableSpec("expected_outputs", (
    Column("position", "UInt32"), Column("expected_output_id", "String"),
    Column("label_id", "String"), Column("alert_expectation", "String"),
    Column("expectation", "String")), order_by=("position",))

#: One row per loaded run; written last, so its presence means the load completed.
RUNS_TABLE = TableSpec("runs", (
    Column("run_id", "String"), Column("manifest_sha256", "String"),
    Column("event_stream_sha256", "String"), Column("parameter_snapshot_hash", "String"),
    Column("generator_version", "String"), Column("table_rows", "String"),
    Column("manifest", "String")), order_by=("run_id",))

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def database_name(run_id: str) -> str:
    """The run-scoped database of a run: ``tapesim_`` and the run id with every character
    other than a letter, digit or underscore (the ``-`` of ``tsim-…``) as ``_``, so the
    name needs no quoting in ClickHouse (e.g. ``tapesim_tsim_524f98a11dcc``)."""
    return "tapesim_" + _NOT_NAME.sub("_", run_id)
