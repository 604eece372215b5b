"""Open the engine a ``--clickhouse`` option names: embedded by default, a server by URL."""

from __future__ import annotations

from pathlib import Path

from tapesim.storage.embedded import EmbeddedEngine
from tapesim.storage.engine import Engine, parse_url
from tapesim.storage.server import ServerEngine

__all__ = ["EMBEDDED_DIR", "default_path", "open_engine"]

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
