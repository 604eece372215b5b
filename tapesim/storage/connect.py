"""Open the engine a ``--clickhouse`` option names: embedded by default, a server by URL."""

from __future__ import annotations

from pathlib import Path

from tapesim.storage.embedded import EmbeddedEngine
from tapesim.storage.engine import Engine, EngineError, parse_url
from tapesim.storage.server import ServerEngine
from tapesim.storage.source import ClickHouseSource

__all__ = ["EMBEDDED_DIR", "default_path", "open_engine", "open_source"]

#: The embedded engine's directory beside a run directory (shared by its siblings).
EMBEDDED_DIR = "clickhouse"


def default_path(run_dir: Path) -> Path:
    """The embedded engine's default data directory for a run: ``clickhouse`` beside
    the run directory (``runs/m1`` -> ``runs/clickhouse``), one database per run."""
    return run_dir.resolve().parent / EMBEDDED_DIR


def open_engine(url: str | None, path: Path) -> Engine:
    """The engine of ``url``, or the embedded one in ``path`` when ``url`` is None or
    empty.

    Args:
        url: ``clickhouse://host:port``, ``http(s)://host:port`` (see
            :func:`tapesim.storage.engine.parse_url`), or None.
        path: the embedded engine's data directory.

    Raises:
        EngineError: a URL that does not parse, or a directory chdb cannot open.
        EngineUnreachable: nothing answers at the URL.
    """
    if url:
        return ServerEngine(parse_url(url))
    return EmbeddedEngine(path)


def open_source(url: str | None, database: str | None = None,
                path: Path | None = None) -> ClickHouseSource:
    """A loaded run as a replay source: ``tapesim replay clickhouse://host:8123/tapesim_<run_id>``
    (the database from the URL's path), or the embedded engine in ``path`` with
    ``database``. Close it with ``source.engine.close()``.

    Raises:
        EngineError: no database named, a bad URL, or a database without a loaded run.
        EngineUnreachable: nothing answers at the URL.
    """
    if url:
        database = database or parse_url(url).database
    if not database:
        raise EngineError("name the run's database: clickhouse://host:port/tapesim_<run_id>")
    if not url and path is None:
        raise EngineError("the embedded engine needs its data directory (--clickhouse-path)")
    engine = open_engine(url, path or Path())
    try:
        return ClickHouseSource(engine, database)
    except BaseException:
        engine.close()
        raise
