"""The server engine: a ClickHouse server over HTTP, through clickhouse-connect.

Each Arrow record batch is one ``INSERT`` (clickhouse-connect's ``insert_arrow``),
so a run is sent as it is read, never held whole.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import Error as ClickHouseConnectError
from clickhouse_connect.driver.exceptions import OperationalError

from tapesim.storage.engine import EngineError, EngineUnreachable, ServerAddress

__all__ = ["ServerEngine"]

CONNECT_TIMEOUT_S = 5
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"')\]]+)")
# clickhouse-connect logs each failed request before raising; the raised error says it.
logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)


def _reason(err: Exception) -> str:
    """The gist of a connection error: the OS error's text when there is one."""
    text = str(err)
    found = _ERRNO.search(text)
    if found:
        return found.group(1).strip()
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


class ServerEngine:
    """A client of one ClickHouse server.

    Args:
        address: the server (see :func:`tapesim.storage.engine.parse_url`).

    Raises:
        EngineUnreachable: nothing answers at the address, or it refuses the login
            (one line naming the URL).
    """

    def __init__(self, address: ServerAddress) -> None:
        self.address = address
        try:
            self._client = clickhouse_connect.get_client(
                host=address.host, port=address.port, secure=address.secure,
                username=address.username, password=address.password,
                connect_timeout=CONNECT_TIMEOUT_S)
        except ClickHouseConnectError as err:
            raise EngineUnreachable(f"cannot reach ClickHouse at {address.url}: "
                                    f"{_reason(err)}") from None

    @property
    def name(self) -> str:
        """The server's URL (without the password)."""
        return self.address.url

    def _failed(self, what: str, err: Exception) -> EngineError:
        if isinstance(err, OperationalError):
            return EngineUnreachable(f"lost ClickHouse at {self.name}: {err}")
        return EngineError(f"ClickHouse at {self.name} rejected {what}: {err}")

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing.

        Raises:
            EngineError: the server rejected it; EngineUnreachable: the server is gone.
        """
        try:
            self._client.command(sql)
        except ClickHouseConnectError as err:
            raise self._failed("a statement", err) from None

    def query_arrow(self, sql: str) -> pa.Table:
        """The result of a ``SELECT`` as an Arrow table (strings as ``string``).

        Raises:
            EngineError: the server rejected it; EngineUnreachable: the server is gone.
        """
        try:
            return self._client.query_arrow(sql, use_strings=True)
        except ClickHouseConnectError as err:
            raise self._failed("a query", err) from None

    def insert_arrow(self, database: str, table: str, schema: pa.Schema,
                     batches: Iterable[pa.RecordBatch]) -> int:
        """Insert ``batches`` (in ``schema``) into ``database.table``, one insert each.

        Raises:
            EngineError: the server rejected rows; EngineUnreachable: the server is gone.
        """
        rows = 0
        try:
            for batch in batches:
                self._client.insert_arrow(table, pa.Table.from_batches([batch], schema),
                                          database=database)
                rows += batch.num_rows
        except ClickHouseConnectError as err:
            raise self._failed(f"rows for {database}.{table}", err) from None
        return rows

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()
