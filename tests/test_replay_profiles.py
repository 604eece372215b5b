"""The shipped demo and load profiles: every demo run resolves to a valid run config."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tapesim.api.simulate import resolve
from tapesim.cli.main import app
from tapesim.replay.plan import ReplayError
from tapesim.replay.profiles import (
    DEMO_PROFILES,
    FAMILIES,
    LOAD_PROFILES,
    demo_profile,
    load_profile,
)
from tapesim.replay.volume import copies
from tapesim.scenarios.catalog import check_leads


@pytest.mark.parametrize("name", sorted(DEMO_PROFILES))
def test_every_demo_run_is_a_valid_config(name: str) -> None:
    for run in demo_profile(name).runs:
        config = resolve(run.profile, **run.simulate_keywords())
        check_leads(config)  # each scenario has the time to act out
        assert [s.name for s in config.scenarios] == [s.split("@")[0] for s in run.scenarios]


def test_the_presets_the_pipeline_needs() -> None:
    assert set(DEMO_PROFILES["market-command"].families) == set(FAMILIES)
    assert {"market-command", "event-response", "quiet-range"} <= set(DEMO_PROFILES)
    assert set(LOAD_PROFILES) == {"steady", "active", "burst", "stress"}
    assert load_profile("stress").speed is None and load_profile("active").volume == 3


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(ReplayError, match="market-command"):
        demo_profile("nope")
    with pytest.raises(ReplayError, match="steady"):
        load_profile("nope")


def test_demo_list() -> None:
    result = CliRunner().invoke(app, ["demo", "list"])
    assert result.exit_code == 0, result.output
    assert "market-command" in result.stdout and "stress" in result.stdout


@pytest.mark.parametrize("load", sorted(LOAD_PROFILES))
def test_every_demo_run_has_valid_copies_at_every_load(load: str) -> None:
    volume = load_profile(load).volume
    for demo in DEMO_PROFILES.values():
        for run in demo.runs:
            runs = copies(resolve(run.profile, **run.simulate_keywords()), volume)
            assert len(runs) == volume
            assert len({s.symbol for r in runs for s in r.symbols}) == \
                volume * len(runs[0].symbols)
