"""Shared fixtures: a tiny seeded run, simulated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapesim.config.run import RunConfig, load_profile, with_overrides
from tapesim.runs import execute_run


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
                                 "options": {"monthlies": 2, "weeklies": 1, "dailies": 2}})


@pytest.fixture(scope="session")
def tiny_options_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny-options"
    execute_run(tiny_options_config(), out)
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    execute_run(tiny_config(), out)
    return out


def file_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}
