"""Opening a replay source from what the command line names."""

from __future__ import annotations

from pathlib import Path

from tapesim.replay.fixture import FixtureSource, is_fixture
from tapesim.replay.plan import ReplayError
from tapesim.replay.sources import ReplaySource, RunDirectorySource
from tapesim.replay.storage_source import (
    EMBEDDED_SCHEME,
    SERVER_SCHEMES,
    open_storage_source,
)

__all__ = ["open_source"]


def open_source(location: str) -> ReplaySource:
    """The source at ``location``: a run loaded into ClickHouse (a ``clickhouse://``,
    ``http(s)://`` or ``chdb://`` URL, see :mod:`tapesim.replay.storage_source`), an
    exported fixture directory (it holds ``market-events.json``; verified on
    opening) or a run directory.

    Raises:
        ReplayError: a URL scheme this build cannot read.
        EngineError: a ClickHouse URL that names no loaded run, or is unreachable.
        RunDirectoryError: not a run directory or fixture, or a damaged one (the
            message points to ``tapesim verify``).
    """
    if "://" in location:
        scheme = location.split("://", 1)[0]
        if scheme in (*SERVER_SCHEMES, EMBEDDED_SCHEME):
            return open_storage_source(location)
        raise ReplayError(f"{location}: replay from {scheme}:// is not available; pass a run "
                          "directory, an exported fixture, or a clickhouse:// or chdb:// URL "
                          "of a loaded run")
    path = Path(location)
    if is_fixture(path):
        return FixtureSource(path)
    return RunDirectorySource(path)
