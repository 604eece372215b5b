"""``tapesim.simulate``: a run from Python, with the ``tapesim run`` flags as keywords."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tapesim.api.run import SyntheticRun
from tapesim.config.flags import apply_flags, parse_scenario
from tapesim.config.options import ScenarioInjection
from tapesim.config.run import RunConfig, load_config_file, load_profile, with_overrides
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.runs import execute_run

Scenario = str | Mapping[str, Any] | ScenarioInjection


def _scenario_entry(scenario: Scenario) -> dict[str, Any]:
    if isinstance(scenario, str):
        return parse_scenario(scenario)
    if isinstance(scenario, ScenarioInjection):
        return scenario.model_dump(mode="json")
    return dict(scenario)


def resolve(
    profile_or_config: str | os.PathLike[str] | RunConfig, *, seed: int | None = None,
    scenarios: Sequence[Scenario] | None = None, start: str | None = None,
    end: str | None = None, date: str | None = None,
    symbols: str | Sequence[str] | None = None, **overrides: Any,
) -> RunConfig:
    """The run config :func:`simulate` would run (the same keywords, without running).

    Args:
        profile_or_config: a shipped profile's name (``"options-smoke"``), a config
            file's path (a ``pathlib.Path`` or other ``os.PathLike``: TOML, YAML or
            JSON, may start from ``base_profile``), or a ``RunConfig``.
        seed: root seed (default: the config's).
        scenarios: injections added after the config's own: ``"NAME@HH:MM[:SS]"``
            as ``tapesim run --scenario`` takes, a mapping of ``ScenarioInjection``
            fields, or a ``ScenarioInjection``.
        start, end: the simulated window, ``"HH:MM"`` New York time.
        date: the trading day, ``"YYYY-MM-DD"``.
        symbols: the config's symbols to keep, ``"SPY,AAPL"`` or ``["SPY", "AAPL"]``.
        **overrides: nested config settings applied first, as in a config file, e.g.
            ``noise={"orders_per_s": 1.0}``.

    Raises:
        ConfigError: an unknown profile, an unreadable file, a bad value (the message
            names the field or the ``tapesim run`` flag) or an invalid config.
    """
    if isinstance(profile_or_config, RunConfig):
        base = profile_or_config
    elif isinstance(profile_or_config, str):
        base = load_profile(profile_or_config)
    else:
        base = load_config_file(Path(profile_or_config))
    if scenarios:
        overrides["scenarios"] = ([s.model_dump(mode="json") for s in base.scenarios]
                                  + [_scenario_entry(s) for s in scenarios])
    if overrides:
        base = with_overrides(base, overrides)
    if symbols is not None and not isinstance(symbols, str):
        symbols = ",".join(symbols)
    return apply_flags(base, seed=seed, symbols=symbols, start=start, end=end, date=date)


def simulate(
    profile_or_config: str | os.PathLike[str] | RunConfig, *, seed: int | None = None,
    scenarios: Sequence[Scenario] | None = None, start: str | None = None,
    end: str | None = None, date: str | None = None,
    symbols: str | Sequence[str] | None = None, out: str | os.PathLike[str] | None = None,
    workers: int = 1, force: bool = False, jsonl: bool = False, write_latent: bool = False,
    **overrides: Any,
) -> SyntheticRun:
    """Simulate a run into a run directory and open it.

    ``tapesim.simulate("options-smoke", seed=3, scenarios=["stale-quote-trap@09:40"],
    end="09:42", out="runs/s3")`` is ``tapesim run --profile options-smoke --seed 3
    --scenario stale-quote-trap@09:40 --end 09:42 --out runs/s3``: the same parsing,
    the same run, the same bytes.

    Args:
        profile_or_config, seed, scenarios, start, end, date, symbols, **overrides:
            the config, as :func:`resolve` takes them.
        out: the run directory to write. None writes into a new temporary directory
            that lives as long as the returned run (removed when it is garbage
            collected): pass ``out`` to keep the files.
        workers: worker processes (the bytes do not depend on it).
        force: replace an existing non-empty ``out``.
        jsonl: also write each event kind as JSON lines.
        write_latent: also write the latent truth sidecar ``latent.parquet``
            (``tapesim run --write-latent``; read it with :meth:`SyntheticRun.latent`).

    Raises:
        ConfigError: as :func:`resolve`, or a scenario the catalog lacks.
        FileExistsError: ``out`` exists, is not empty and ``force`` is false.
    """
    config = resolve(profile_or_config, seed=seed, scenarios=scenarios, start=start, end=end,
                     date=date, symbols=symbols, **overrides)
    keep_alive = None
    if out is None:
        keep_alive = tempfile.TemporaryDirectory(prefix="tapesim-")
        path = Path(keep_alive.name) / ParameterSnapshot.of(config).run_id
    else:
        path = Path(out)
    execute_run(config, path, workers=workers, force=force, jsonl=jsonl,
                write_latent=write_latent)
    return SyntheticRun(path, keep_alive=keep_alive)
