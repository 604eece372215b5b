"""Shared fixtures: a tiny seeded run, simulated once and cached by the ``synthetic_run``
fixture of tapesim's pytest plugin (``tapesim.testing.plugin``).

The cache is keyed by the parameter snapshot hash and a fingerprint of tapesim's
source, so a run made by other code is never reused; ``pytest --cache-clear``
empties it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tapesim.config.run import RunConfig, load_profile, with_overrides
from tapesim.testing.cache import RunCache


def tiny_config(seed: int = 7, minutes: int = 3) -> RunConfig:
    """Two stocks for a few minutes after the open."""
    return with_overrides(load_profile("equities-smoke"),
                          {"seed": seed, "session": {"end": f"09:{30 + minutes:02d}:00"}})


def tiny_options_config(seed: int = 7, minutes: int = 3) -> RunConfig:
    """The tiny run with both stocks' option chains (narrow listings)."""
    base = tiny_config(seed, minutes)
    symbols = [dict(s.model_dump(mode="json"), options=True, option_activity=4.0)
               for s in base.symbols]
    return with_overrides(base, {"symbols": symbols,
                                 "options": {"monthlies": 2, "weeklies": 1, "dailies": 2,
                                             "quarterlies": 0, "leaps": 0}})


@pytest.fixture(scope="session")
def tiny_options_run(synthetic_run: RunCache) -> Path:
    """The run directory of :func:`tiny_options_config` (read-only: copy to damage it)."""
    return synthetic_run(tiny_options_config()).path


@pytest.fixture(scope="session")
def tiny_run(synthetic_run: RunCache) -> Path:
    """The run directory of :func:`tiny_config` (read-only: copy to damage it)."""
    return synthetic_run(tiny_config()).path


def file_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}
