"""The pytest plugin: a ``synthetic_run`` fixture that simulates each run once.

::

    def test_x(synthetic_run):
        run = synthetic_run("options-smoke", seed=1, end="09:35")   # a SyntheticRun
        assert run.verify() == []

Runs are cached by parameter snapshot hash (and a fingerprint of the code) in
pytest's cache directory, ``.pytest_cache/d/tapesim-runs``, so a suite pays for each
run once, across sessions too; ``pytest --cache-clear`` empties it. Override the
``synthetic_run_cache`` fixture to put the runs elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tapesim.testing.cache import RunCache

CACHE_DIR = "tapesim-runs"


@pytest.fixture(scope="session")
def synthetic_run_cache(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory cached runs live in: pytest's cache directory, or a temporary one
    when the cache provider is disabled (``-p no:cacheprovider``)."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp(CACHE_DIR)
    return Path(cache.mkdir(CACHE_DIR))


@pytest.fixture(scope="session")
def synthetic_run(synthetic_run_cache: Path) -> RunCache:
    """A callable taking ``tapesim.simulate``'s keywords (without ``out``) and
    returning the run as a ``SyntheticRun``, simulated only when not cached.

    Raises (when called):
        ConfigError: an unknown profile or a bad setting, as ``tapesim.simulate``.
    """
    # Loaded here, not at the top: the plugin is imported by every pytest session of
    # an environment with tapesim installed, and the simulator is heavy to import.
    from tapesim.testing.cache import RunCache

    return RunCache(synthetic_run_cache)
