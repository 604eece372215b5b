"""A run config from a profile or file plus the run's flags: seed, window, symbols, scenarios.

One parser for the ``tapesim run`` flags and the keywords of ``tapesim.simulate``
(``--end 09:42`` is ``end="09:42"``, ``--scenario stale-quote-trap@09:40`` is
``scenarios=["stale-quote-trap@09:40"]``), so both accept the same values and fail
with the same one-line messages, which name the command-line flag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tapesim.config.run import RunConfig, load_config_file, load_profile, with_overrides
from tapesim.sim.strict import ConfigError


class FlagError(ConfigError):
    """A flag value that cannot be used (not a time, an unknown symbol...); the message
    names the flag and the fix."""


def parse_clock(flag: str, value: str | None) -> dt.time | None:
    """``HH:MM`` (New York time) as a time; None stays None.

    Raises:
        FlagError: ``value`` is not ``HH:MM``; the message names ``flag``.
    """
    if value is None:
        return None
    try:
        return dt.datetime.strptime(value, "%H:%M").time()
    except ValueError:
        raise FlagError(f"{flag} {value!r} is not a time: use HH:MM, e.g. {flag} 10:30") from None


def parse_date(value: str | None) -> dt.date | None:
    """``YYYY-MM-DD`` as a date; None stays None.

    Raises:
        FlagError: not an ISO date.
    """
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FlagError(f"--date {value!r} is not a date: use YYYY-MM-DD") from None


def parse_scenario(flag: str) -> dict[str, str]:
    """``NAME@HH:MM[:SS]`` as a scenario entry ``{"name": NAME, "at": "HH:MM:SS"}``.

    The name is checked against the catalog when the run starts
    (``tapesim.scenarios.catalog.check_names``), not here.

    Raises:
        FlagError: no ``@``, no name, or a time that is not ``HH:MM[:SS]``.
    """
    name, at, when = flag.partition("@")
    if not at or not name:
        raise FlagError(f"--scenario {flag!r}: use NAME@HH:MM, e.g. "
                        "--scenario stale-quote-trap@11:30")
    for form in ("%H:%M", "%H:%M:%S"):
        try:
            return {"name": name, "at": dt.datetime.strptime(when, form).time().isoformat()}
        except ValueError:
            continue
    raise FlagError(f"--scenario {flag!r}: {when!r} is not a time; use HH:MM or HH:MM:SS")


def apply_flags(
    base: RunConfig, seed: int | None = None, symbols: str | None = None,
    start: str | None = None, end: str | None = None, date: str | None = None,
    scenarios: Sequence[str] | None = None,
) -> RunConfig:
    """``base`` with the run flags applied; ``base`` itself when none is given.

    Args:
        base: the config to start from.
        seed: root seed, a non-negative integer.
        symbols: comma-separated symbols of ``base`` to keep, in the given order.
        start, end: the simulated window, ``HH:MM`` New York time.
        date: the trading day, ``YYYY-MM-DD``.
        scenarios: ``NAME@HH:MM[:SS]`` entries added after ``base``'s own scenarios.

    Raises:
        FlagError: a value that cannot be parsed, or a symbol not in ``base``.
        ConfigError: the resulting config is invalid (e.g. a window outside the day).
    """
    overrides: dict[str, Any] = {}
    names: dict[str, str] = {}  # the keys the flags set -> the flags, for error messages
    if seed is not None:
        if seed < 0:
            raise FlagError("--seed must be a non-negative integer")
        overrides["seed"] = seed
        names["seed"] = "--seed"
    session: dict[str, Any] = {}
    for key, flag, value in (("start", "--start", parse_clock("--start", start)),
                             ("end", "--end", parse_clock("--end", end)),
                             ("date", "--date", parse_date(date))):
        if value is not None:
            session[key] = value.isoformat()
            names[f"session.{key}"] = flag
    if session:
        overrides["session"] = session
    if symbols is not None:
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
        known = {s.symbol: s for s in base.symbols}
        unknown = [s for s in wanted if s not in known]
        if unknown or not wanted:
            raise FlagError(f"--symbols {','.join(unknown) or symbols!r} not in this profile: "
                            f"choose from {','.join(known)}")
        overrides["symbols"] = [known[s].model_dump(mode="json") for s in wanted]
        names["symbols"] = "--symbols"
    if scenarios:
        overrides["scenarios"] = ([s.model_dump(mode="json") for s in base.scenarios]
                                  + [parse_scenario(s) for s in scenarios])
        for i, flag in enumerate(scenarios, start=len(base.scenarios)):
            names[f"scenarios.{i}"] = f"--scenario {flag}"
    return with_overrides(base, overrides, names) if overrides else base


def resolve_config(
    profile: str | None, config: Path | None, seed: int | None, symbols: str | None,
    start: str | None, end: str | None, date: str | None, scenarios: Sequence[str] | None = None,
) -> RunConfig:
    """The run config of ``tapesim run``: a profile or a config file, plus the flags.

    Args:
        profile: a shipped profile's name, or None.
        config: a TOML, YAML or JSON config file, or None; exactly one of the two.
        seed, symbols, start, end, date, scenarios: as :func:`apply_flags`.

    Raises:
        FlagError: both or neither of ``profile`` and ``config``, or a bad flag value.
        ConfigError: an unknown profile, an unreadable file or an invalid config.
    """
    if (profile is None) == (config is None):
        raise FlagError("give exactly one of --profile NAME or --config FILE")
    base = load_profile(profile) if profile is not None else load_config_file(config)  # type: ignore[arg-type]
    return apply_flags(base, seed, symbols, start, end, date, scenarios)
