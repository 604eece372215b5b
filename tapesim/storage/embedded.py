"""The embedded engine: ClickHouse inside this process (chdb), data in a local directory.

Inserts stream one Arrow IPC stream into a single ``INSERT ... FORMAT ArrowStream``
(chdb's ``send_insert``), a record batch at a time, so a run is never held whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
from chdb import ChdbError
from chdb.session import Session

from tapesim.storage.engine import EngineError

__all__ = ["EmbeddedEngine"]


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


class EmbeddedEngine:
    """A chdb session on a local data directory.

    Args:
        path: the directory ClickHouse keeps its databases in; created when missing.
            One process should hold one session on a directory at a time.

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
        try:
            inserter = self._session.send_insert(
                f"INSERT INTO `{database}`.`{table}` ({columns})", "ArrowStream")
            with pa.ipc.new_stream(pa.PythonFile(_Forward(inserter), mode="w"), schema) as w:
                for batch in batches:
                    w.write_batch(batch)
                    rows += batch.num_rows
            inserter.finish()
        except (ChdbError, RuntimeError) as err:
            raise EngineError(f"ClickHouse ({self.path}) rejected rows for "
                              f"{database}.{table}: {err}") from None
        return rows

    def close(self) -> None:
        """Close the session (its data stays in the directory)."""
        self._session.close()
