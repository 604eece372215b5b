"""The embedded engine: ClickHouse inside this process (chdb), data in a local directory.

A run's Parquet files are inserted by ClickHouse itself (``INSERT INTO t SELECT ...
FROM file(path, Parquet)``): it decodes, converts and writes the rows on its own
threads, and no row passes through Python (:meth:`EmbeddedEngine.insert_parquet`).
Other rows (labels, expectations, the runs row) come as Arrow record batches: inserts
write an Arrow IPC stream into ``INSERT ... FORMAT ArrowStream`` (chdb's
``send_insert``) a record batch at a time. chdb keeps what an insert was sent until it
finishes, so an insert is closed after about ``INSERT_ROWS`` rows and the next one
opened: memory stays bounded by one such chunk whatever the run's size, and each chunk
is large enough that the per-insert cost (a new MergeTree part) stays small.

chdb runs one data directory per process at a time: open another only after closing
the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from chdb import ChdbError
from chdb.session import Session

from tapesim.storage.engine import EngineError, sql_string

__all__ = ["INSERT_ROWS", "EmbeddedEngine"]

INSERT_ROWS = 1 << 20  # rows per INSERT statement (a chunk chdb holds until it ends)
_AS_READ = ("String", "Array(String)")  # types a Parquet column is inserted as it is


def _converted(name: str, sql_type: str) -> str:
    """The ``SELECT`` expression of a column read from a Parquet file: ``accurateCast``
    to the table's type, which fails on a value the type cannot hold (a negative time
    into ``UInt64``), as Arrow's safe cast does."""
    if sql_type in _AS_READ or sql_type.removeprefix("Nullable(").rstrip(")") in _AS_READ:
        return f"`{name}`"
    return f"accurateCast(`{name}`, '{sql_type}')"


class _Forward:
    """A write-only file object handing each written block to a streaming insert."""

    closed = False

    def __init__(self, inserter: object) -> None:
        self._inserter = inserter

    def write(self, data: bytes | memoryview) -> int:
        self._inserter.append(bytes(data))  # type: ignore[attr-defined]
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        self.closed = True


def _finish(inserter: Any, writer: pa.ipc.RecordBatchStreamWriter) -> None:
    """End an insert's Arrow stream and the ``INSERT`` (chdb writes the rows now)."""
    writer.close()
    inserter.finish()


class EmbeddedEngine:
    """ClickHouse in this process (a chdb ``Session``) on a local data directory.

    Args:
        path: the directory ClickHouse keeps its databases in; created when missing.
            A process holds one data directory open at a time.

    Raises:
        EngineError: chdb cannot open the directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._session = Session(str(self.path))
        except (ChdbError, RuntimeError) as err:
            raise EngineError(f"cannot open embedded ClickHouse in {self.path}: {err}") from None

    @property
    def name(self) -> str:
        """The data directory."""
        return str(self.path)

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing.

        Raises:
            EngineError: ClickHouse rejected it.
        """
        try:
            self._session.query(sql)
        except (ChdbError, RuntimeError) as err:
            raise EngineError(f"ClickHouse ({self.path}) rejected a statement: {err}") from None

    def query_arrow(self, sql: str) -> pa.Table:
        """The result of a ``SELECT`` as an Arrow table.

        Raises:
            EngineError: ClickHouse rejected it.
        """
        try:
            table = self._session.query(sql, "ArrowTable")
        except (ChdbError, RuntimeError) as err:
            raise EngineError(f"ClickHouse ({self.path}) rejected a query: {err}") from None
        assert isinstance(table, pa.Table)
        return table

    def insert_arrow(self, database: str, table: str, schema: pa.Schema,
                     batches: Iterable[pa.RecordBatch]) -> int:
        """Stream ``batches`` (in ``schema``) into ``database.table`` as one insert.

        Raises:
            EngineError: ClickHouse rejected the rows.
        """
        rows = 0
        columns = ", ".join(f"`{f.name}`" for f in schema)
        statement = f"INSERT INTO `{database}`.`{table}` ({columns})"
        open_insert: tuple[Any, pa.ipc.RecordBatchStreamWriter] | None = None
        try:
            for batch in batches:
                if open_insert is None:
                    inserter = self._session.send_insert(statement, "ArrowStream")
                    sink = pa.PythonFile(_Forward(inserter), mode="w")
                    open_insert, held = (inserter, pa.ipc.new_stream(sink, schema)), 0
                open_insert[1].write_batch(batch)
                rows += batch.num_rows
                held += batch.num_rows
                if held >= INSERT_ROWS:
                    _finish(*open_insert)
                    open_insert = None
            if open_insert is not None:
                _finish(*open_insert)
        except (ChdbError, RuntimeError) as err:
            raise EngineError(f"ClickHouse ({self.path}) rejected rows for "
                              f"{database}.{table}: {err}") from None
        return rows

    def insert_parquet(self, database: str, table: str, columns: Sequence[tuple[str, str]],
                       path: Path) -> int:
        """Insert the Parquet file ``path`` into ``database.table`` inside ClickHouse
        (``file(path, Parquet)``; the file's columns are found by name, each converted
        with ``accurateCast`` to its ``(name, type)`` in ``columns``); the rows inserted.

        Raises:
            EngineError: ClickHouse could not read the file or rejected its rows.
        """
        target = f"`{database}`.`{table}`"
        names = ", ".join(f"`{name}`" for name, _ in columns)
        select = ", ".join(_converted(name, sql_type) for name, sql_type in columns)
        before = self._count(target)
        try:
            self._session.query(f"INSERT INTO {target} ({names}) SELECT {select} FROM "
                                f"file({sql_string(str(path.resolve()))}, Parquet)")
        except (ChdbError, RuntimeError) as err:
            raise EngineError(f"ClickHouse ({self.path}) could not insert {path} into "
                              f"{database}.{table}: {err}") from None
        return self._count(target) - before

    def _count(self, target: str) -> int:
        """Rows of a MergeTree table (from its parts' metadata: no data is read)."""
        return int(self.query_arrow(f"SELECT count() AS n FROM {target}").column("n")[0]
                   .as_py())

    def close(self) -> None:
        """Close chdb's connection (the data stays in the directory)."""
        self._session.close()
