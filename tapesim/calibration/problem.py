"""A calibration problem from its flags: the target day, the base config, the window.

The base config is the base profile cut down to the calibrated symbol, on the
target's trading day, over the calibration window (the target's own window unless
``--start`` / ``--end`` narrow it), without the profile's scenarios. A symbol the
profile lacks is modelled on one it has (``--like``): that symbol's profile renamed,
at the target's first two-sided mid in the window. The moments are the target's
equity facts over the same window.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow.dataset as ds

from tapesim.calibration import stats as st
from tapesim.calibration.facts import equity_facts
from tapesim.calibration.fit import Problem
from tapesim.calibration.params import Param
from tapesim.calibration.tape import NEW_YORK, Session, load_quotes, read_manifest
from tapesim.config.flags import FlagError, parse_clock
from tapesim.config.run import RunConfig, build_config
from tapesim.sim.strict import ConfigError


def _window(session: Session, start: str | None, end: str | None) -> tuple[int, int]:
    """The calibration window (epoch ms) inside the target's; refuses one outside it."""
    lo, hi = session.start_ts, session.end_ts
    for flag, text in (("--start", start), ("--end", end)):
        clock = parse_clock(flag, text)
        if clock is None:
            continue
        ms = session.ny_ms(clock)
        if not session.start_ts <= ms <= session.end_ts:
            raise FlagError(f"{flag} {text} is outside --target's window: choose a time "
                            "between its start and end")
        lo, hi = (ms, hi) if flag == "--start" else (lo, ms)
    if lo >= hi:
        raise FlagError("--start must be before --end")
    return lo, hi


def _clock(ts: int) -> str:
    """``HH:MM:SS`` New York time of an epoch ms."""
    utc = dt.datetime.fromtimestamp(ts / 1000, tz=dt.UTC)
    return utc.astimezone(NEW_YORK).time().isoformat(timespec="seconds")


def build_problem(target: Path, base: RunConfig, symbol: str, like: str | None,
                  params: list[Param], seeds: list[int], start: str | None = None,
                  end: str | None = None) -> Problem:
    """The calibration problem of the flags.

    Raises:
        FlagError: ``--symbol`` not in the target, or not in the base profile without
            ``--like``; ``--like`` not in the profile; a window outside the target's;
            a target with no supported moment in the window.
        ConfigError: the cut-down config does not validate (names the field).
    """
    session, listed = read_manifest(target)
    if symbol not in listed:
        raise FlagError(f"--symbol {symbol} is not in --target {target}: it has "
                        f"{','.join(listed)}")
    lo, hi = _window(session, start, end)
    known = {s.symbol: s for s in base.symbols}
    model = like or symbol
    if model not in known:
        flag = "--like" if like else "--symbol"
        hint = "" if like else " (or pass --like SYMBOL to model it on one of them)"
        raise FlagError(f"{flag} {model} is not in the base profile: choose from "
                        f"{','.join(known)}{hint}")
    profile = known[model].model_dump(mode="json")
    if like:
        quotes = load_quotes(ds.dataset(target / "equity_quotes.parquet"), symbol,
                             Session(session.date, session.open_ts, session.close_ts, lo, hi))
        first = float(st.value_at(quotes.mid_ts, quotes.mid, [lo])[0]) if quotes.mid.size \
            else math.nan
        if not math.isfinite(first) and quotes.mid.size:
            first = float(quotes.mid[0])
        if not math.isfinite(first):
            raise FlagError(f"--symbol {symbol} has no two-sided quote in --target's window")
        profile.update(symbol=symbol, price=round(first, 2))
    data = base.snapshot()  # replaced whole, not merged: other symbols' settings go
    data.update(symbols=[profile], scenarios=[], seed=seeds[0],
                session={"date": session.date.isoformat(), "start": _clock(lo),
                         "end": _clock(hi)})
    penny = data["options"].pop("penny_classes", {})
    if symbol in penny:
        data["options"]["penny_classes"] = {symbol: penny[symbol]}
    config = build_config(data)
    real = equity_facts(target, [symbol], window=(lo, hi))
    moments = {r.fact: float(r.value) for r in real
               if r.value is not None and math.isfinite(r.value)}
    if not moments:
        raise ConfigError(f"--target {target} supports no equity fact of {symbol} in the "
                          "window: widen it with --start/--end")
    return Problem(config, symbol, params, moments, seeds)
