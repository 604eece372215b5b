"""Opening a replay source from what the command line names."""

from __future__ import annotations

from pathlib import Path

from tapesim.replay.fixture import FixtureSource, is_fixture
from tapesim.replay.plan import ReplayError
from tapesim.replay.sources import ReplaySource, RunDirectorySource

__all__ = ["open_source"]


def open_source(location: str) -> ReplaySource:
    """The source at ``location``: an exported fixture directory (it holds
    ``market-events.json``; verified on opening) or a run directory.

    Raises:
        ReplayError: a URL scheme this build cannot read.
        RunDirectoryError: not a run directory or fixture, or a damaged one (the
            message points to ``tapesim verify``).
    """
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise ReplayError(f"{location}: replay from {scheme}:// is not available; pass a run "
                          "directory or an exported fixture")
    path = Path(location)
    if is_fixture(path):
        return FixtureSource(path)
    return RunDirectorySource(path)
