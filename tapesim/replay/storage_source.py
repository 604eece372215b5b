"""A run loaded into ClickHouse (``tapesim load``) as a replay source.

``tapesim replay clickhouse://host:8123/tapesim_<run_id>`` reads a server;
``tapesim replay chdb:///path/to/clickhouse/tapesim_<run_id>`` the embedded engine's
data directory (the default one is ``clickhouse`` beside the run directory). Rows
come back in the §1 order with the run directory's values
(:class:`tapesim.storage.source.ClickHouseSource`), so a replay from storage
publishes what a replay of the run directory publishes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.replay.plan import Selector
from tapesim.storage.connect import open_source as open_storage
from tapesim.storage.source import ClickHouseSource

SERVER_SCHEMES = ("clickhouse", "clickhouses", "http", "https")
EMBEDDED_SCHEME = "chdb"


class StorageSource:
    """:class:`ClickHouseSource` speaking :class:`tapesim.replay.sources.ReplaySource`.

    Args:
        inner: the loaded run's source.
        location: the URL it was opened from (for messages).
    """

    def __init__(self, inner: ClickHouseSource, location: str) -> None:
        self.inner = inner
        self.location = location

    @property
    def name(self) -> str:
        """The URL the run was read from."""
        return self.location

    @property
    def plan(self) -> ReplayPlan:
        """The plan of the loaded run (from its recorded manifest)."""
        return self.inner.plan

    def count(self, selector: Selector) -> int:
        """Events :meth:`batches` yields for ``selector``."""
        return self.inner.count(**selector.model_dump())

    def batches(self, selector: Selector) -> Iterator[GeneratedEventBatch]:
        """The selected events, single-kind batches in replay order."""
        return self.inner.batches(**selector.model_dump())


def open_storage_source(location: str) -> StorageSource:
    """The loaded run at ``location`` (a ``clickhouse://``/``http(s)://`` URL whose path
    names the database, or ``chdb://`` + the embedded data directory + ``/`` + the
    database).

    Raises:
        EngineError: a bad URL, no database named, or no run loaded in it.
        EngineUnreachable: nothing answers at a server URL.
    """
    scheme, _, rest = location.partition("://")
    if scheme == EMBEDDED_SCHEME:
        path = Path(rest)
        return StorageSource(open_storage(None, path.name, path.parent), location)
    return StorageSource(open_storage(location), location)
