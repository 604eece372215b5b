"""What tapesim needs of a ClickHouse engine, and where a URL points.

:class:`Engine` is the whole surface the loader and the replay source use: run a
statement, read a query's result as Arrow, insert Arrow record batches into a table.
Two implementations: ``tapesim.storage.embedded`` (chdb, ClickHouse in this process,
data in a local directory) and ``tapesim.storage.server`` (a ClickHouse server over
HTTP through clickhouse-connect). :func:`tapesim.storage.connect.open_engine` picks one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import pyarrow as pa

__all__ = ["Engine", "EngineError", "EngineUnreachable", "ParquetReader", "ServerAddress",
           "parse_url", "sql_string"]


class EngineError(ValueError):
    """A ClickHouse statement failed, or an address or database is unusable."""


class EngineUnreachable(EngineError):
    """No ClickHouse answers at the given address (the message names it)."""


def sql_string(value: str) -> str:
    """``value`` as a ClickHouse string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@runtime_checkable
class Engine(Protocol):
    """A ClickHouse engine tapesim can load into and read from."""

    @property
    def name(self) -> str:
        """Where the engine is, for messages: a directory or a URL (without password)."""
        ...

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, ``TRUNCATE``, ``DROP``).

        Raises:
            EngineError: ClickHouse rejected it (the message carries ClickHouse's).
        """
        ...

    def query_arrow(self, sql: str) -> pa.Table:
        """The result of a ``SELECT`` as an Arrow table (ClickHouse's types mapped to
        Arrow's: ``UInt64`` to ``uint64``, ``Nullable`` to a nullable field, ...).

        Raises:
            EngineError: ClickHouse rejected it.
        """
        ...

    def insert_arrow(self, database: str, table: str, schema: pa.Schema,
                     batches: Iterable[pa.RecordBatch]) -> int:
        """Insert record batches (each already in ``schema``, the table's columns in
        order) into ``database.table``; the rows inserted.

        The batches are streamed: at most a few are held at a time.

        Raises:
            EngineError: ClickHouse rejected a batch.
        """
        ...

    def close(self) -> None:
        """Release the engine (close chdb's connection or the HTTP client)."""
        ...


@runtime_checkable
class ParquetReader(Protocol):
    """An engine that reads a local Parquet file itself (ClickHouse's ``file()`` table
    function), so rows never pass through Python: the embedded engine, whose process
    sees the run directory. A server does not, and is sent Arrow batches instead."""

    def insert_parquet(self, database: str, table: str, columns: Sequence[tuple[str, str]],
                       path: Path) -> int:
        """Insert every row of the Parquet file ``path`` into ``database.table``.

        Args:
            columns: the table's columns as ``(name, ClickHouse type)``, e.g.
                ``("size", "UInt32")``; each is read from the file's column of that name
                and converted exactly (a value the type cannot hold fails the insert).

        Returns:
            the rows inserted.

        Raises:
            EngineError: ClickHouse could not read the file or rejected its rows.
        """
        ...


@dataclass(frozen=True)
class ServerAddress:
    """A ClickHouse server's HTTP interface, parsed from a URL.

    Args:
        host: host name or address.
        port: HTTP(S) port (8123 plain, 8443 TLS by default).
        secure: HTTPS.
        username, password: credentials; ``default`` and empty when not given.
        database: the database named by the URL's path, or None.
    """

    host: str
    port: int
    secure: bool = False
    username: str = "default"
    password: str = ""
    database: str | None = None

    @property
    def url(self) -> str:
        """The address as a URL for messages (never with the password)."""
        scheme = "https" if self.secure else "http"
        db = f"/{self.database}" if self.database else ""
        return f"{scheme}://{self.host}:{self.port}{db}"


_SCHEMES = {"clickhouse": False, "http": False, "clickhouses": True, "https": True}


def parse_url(url: str) -> ServerAddress:
    """A ClickHouse URL as an address of the server's HTTP interface.

    Accepts ``clickhouse://[user[:password]@]host[:port][/database]``
    (``clickhouses://`` for TLS) and the same with ``http://`` / ``https://``. Without
    a port: 8123, or 8443 with TLS (clickhouse-connect speaks HTTP only, so the native
    port 9000 does not work).

    Raises:
        EngineError: another scheme, no host, or a port that is not a number.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise EngineError(f"{url!r} is not a ClickHouse URL: use clickhouse://host:port "
                          "or http://host:port")
    try:
        port = parts.port
    except ValueError:
        raise EngineError(f"{url!r} has a port that is not a number") from None
    if not parts.hostname:
        raise EngineError(f"{url!r} names no host: use clickhouse://host:port")
    secure = _SCHEMES[scheme]
    database = parts.path.strip("/") or None
    return ServerAddress(host=parts.hostname, port=port or (8443 if secure else 8123),
                         secure=secure, username=unquote(parts.username or "default"),
                         password=unquote(parts.password or ""), database=database)
