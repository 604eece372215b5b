"""The session calendar comes from the exchange's (``exchange_calendars``' XNYS): the
closures, early closes and range a hand-written calendar got wrong, and the run and
verify behaviour around them."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.config.run import SessionConfig
from tapesim.io.manifest import artifact_entry
from tapesim.io.writer import RunWriter
from tapesim.sim.calendar import (
    CALENDAR_END,
    FIRST_SESSION,
    LAST_SESSION,
    CalendarRangeError,
    ExchangeDays,
    Session,
    adopt_exchange_days,
    close_time,
    exchange_days,
    is_trading_day,
    next_session,
    previous_session,
    require_session,
)
from tapesim.verify.run import verify_run

D = dt.date
runner = CliRunner()

#: Weekdays from 2000 to 2030 when the NYSE did not trade though no regular holiday
#: fell on them: the attacks of 2001-09-11, the national days of mourning for Reagan,
#: Ford, G. H. W. Bush and Carter, and Hurricane Sandy.
AD_HOC_CLOSURES = [D(2001, 9, 11), D(2001, 9, 12), D(2001, 9, 13), D(2001, 9, 14),
                   D(2004, 6, 11), D(2007, 1, 2), D(2012, 10, 29), D(2012, 10, 30),
                   D(2018, 12, 5), D(2025, 1, 9)]


def test_holidays_2026() -> None:
    weekdays = [D(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    closed = [d for d in weekdays if d.weekday() < 5 and not is_trading_day(d)]
    assert closed == [D(2026, 1, 1), D(2026, 1, 19), D(2026, 2, 16), D(2026, 4, 3),
                      D(2026, 5, 25), D(2026, 6, 19), D(2026, 7, 3), D(2026, 9, 7),
                      D(2026, 11, 26), D(2026, 12, 25)]
    assert not is_trading_day(D(2026, 3, 14))  # a Saturday
    assert close_time(D(2026, 11, 27)) == dt.time(13, 0)
    assert close_time(D(2026, 12, 24)) == dt.time(13, 0)
    assert close_time(D(2026, 3, 10)) == dt.time(16, 0)


@pytest.mark.parametrize("day", AD_HOC_CLOSURES)
def test_ad_hoc_closures_are_closed(day: dt.date) -> None:
    assert day.weekday() < 5 and not is_trading_day(day)


def test_holidays_as_observed_in_their_year() -> None:
    assert is_trading_day(D(1997, 1, 20))  # MLK Day: observed by the NYSE from 1998
    assert not is_trading_day(D(1998, 1, 19))
    assert is_trading_day(D(2021, 6, 18))  # Juneteenth: from 2022
    assert not is_trading_day(D(2022, 6, 20))


@pytest.mark.parametrize(("day", "close"), [
    (D(2002, 7, 3), dt.time(16, 0)),   # a Wednesday before July 4 before 2013: full day
    (D(2002, 7, 5), dt.time(13, 0)),   # the Friday after it: early
    (D(2003, 12, 26), dt.time(13, 0)),  # an ad hoc early close
    (D(2013, 7, 3), dt.time(13, 0)),
    (D(1999, 12, 31), dt.time(13, 0)),
    (D(1992, 11, 27), dt.time(14, 0)),  # before 1993 early closes were at 14:00
    (D(2008, 12, 26), dt.time(16, 0)),
])
def test_early_closes(day: dt.date, close: dt.time) -> None:
    assert close_time(day) == close
    session = Session.build(day, None, None)
    assert session.close_ms - session.open_ms == (
        (close.hour * 60 + close.minute) - (9 * 60 + 30)) * 60_000


def test_previous_and_next_session() -> None:
    assert previous_session(D(2012, 10, 29)) == D(2012, 10, 26)
    assert next_session(D(2012, 10, 29)) == D(2012, 10, 31)
    assert next_session(D(2001, 9, 11)) == D(2001, 9, 17)
    assert previous_session(D(2026, 3, 10)) == D(2026, 3, 9)


@pytest.mark.parametrize("day", [D(1969, 12, 31), D(1985, 9, 27), D(2039, 1, 3),
                                 D(9999, 12, 1)])
def test_dates_outside_the_calendar_are_refused_with_the_range(day: dt.date) -> None:
    with pytest.raises(CalendarRangeError, match=f"{FIRST_SESSION} to {LAST_SESSION}"):
        require_session(day)


def test_lookups_outside_the_calendar_raise() -> None:
    assert is_trading_day(CALENDAR_END)  # 2040-12-31, a Monday
    with pytest.raises(CalendarRangeError, match=str(CALENDAR_END)):
        is_trading_day(CALENDAR_END + dt.timedelta(days=1))
    with pytest.raises(CalendarRangeError):
        is_trading_day(D(1970, 1, 2))


def test_a_closed_day_names_the_sessions_around_it() -> None:
    with pytest.raises(ValueError, match=r"2025-01-09 is not an NYSE trading day .* "
                                         r"\(2025-01-08\) or after it \(2025-01-10\)"):
        require_session(D(2025, 1, 9))


def run(*args: str):
    return runner.invoke(app, ["run", *args])


@pytest.mark.parametrize("day", ["2025-01-09", "2018-12-05", "2012-10-29", "2012-10-30",
                                 "2001-09-11"])
def test_closed_dates_exit_2_naming_the_flag(tmp_path: Path, day: str) -> None:
    out = tmp_path / "never"
    result = run("--profile", "equities-smoke", "--date", day, "--out", str(out))
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith(f"error: --date: {day} is not an NYSE trading day"), line
    assert "previous" in line or "before it" in line
    assert "Value error" not in line and "session" not in line.split(":")[1]
    assert len(line.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("day", ["1969-12-31", "9999-12-01", "1985-09-27"])
def test_dates_outside_the_range_exit_2(tmp_path: Path, day: str) -> None:
    out = tmp_path / "never"
    result = run("--profile", "equities-smoke", "--date", day, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --date: {day} is outside the sessions")
    assert f"{FIRST_SESSION} to {LAST_SESSION}" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_config_file_date_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('base_profile = "equities-smoke"\n[session]\ndate = 2025-01-09\n')
    result = run("--config", str(cfg), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.output.startswith("error: field 'session.date': 2025-01-09 is not an NYSE")
    cfg.write_text('base_profile = "equities-smoke"\n[session]\ndate = 2026-11-27\n'
                   'end = "14:00:00"\n')
    result = run("--config", str(cfg), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.output.startswith("error: field 'session.end': ")
    assert "<= 13:00 on 2026-11-27" in result.output and "Value error" not in result.output


@pytest.mark.parametrize(("args", "start"), [
    (["--date", "2026-11-27", "--end", "13:30"], "error: --end: "),
    (["--date", "2026-11-27", "--start", "13:30"], "error: --start: "),
    (["--seed", str(2**63)], "error: --seed: "),
    (["--scenario", "benign-block@09:00"], "error: --scenario benign-block@09:00: 09:00:00 is "
                                           "outside the simulated window"),
    (["--scenario", "benign-block@09:35"], "error: --scenario benign-block@09:35: no symbol has "
                                           "options = true"),
    (["--profile", "options-smoke", "--scenario", "no-such@09:35"],
     "error: --scenario no-such@09:35: unknown scenario"),
    (["--profile", "options-smoke", "--scenario", "benign-block@09:35", "--scenario",
      "benign-block@09:35"], "error: --scenario benign-block@09:35: two injections share"),
])
def test_flag_errors_name_the_flag(tmp_path: Path, args: list[str], start: str) -> None:
    profile = [] if "--profile" in args else ["--profile", "equities-smoke"]
    result = run(*profile, *args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.output.startswith(start), result.output
    assert "Value error" not in result.output


def test_a_day_the_old_calendar_refused_runs(tmp_path: Path) -> None:
    out = tmp_path / "mlk97"
    result = run("--profile", "equities-smoke", "--date", "1997-01-20", "--end", "09:31",
                 "--symbols", "SPY", "--out", str(out), "--quiet", "--verify")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["session"]["date"] == "1997-01-20"


def test_the_writer_refuses_negative_times(tmp_path: Path, tiny_run: Path) -> None:
    table = pq.read_table(tiny_run / "equity_quotes.parquet")
    i = table.schema.get_field_index("ts")
    shifted = table.set_column(i, table.schema.field(i),
                               pc.subtract(table.column("ts"), 2 * 10**12))
    writer = RunWriter(tmp_path / "out")
    try:
        with pytest.raises(ValueError, match="negative ts"):
            writer.write("equity_quote", shifted)
    finally:
        writer.abort()
    assert not (tmp_path / "out").exists()


def test_verify_rejects_negative_times(tmp_path: Path, tiny_run: Path) -> None:
    copy = tmp_path / "negative"
    shutil.copytree(tiny_run, copy)
    name = "equity_quotes.parquet"
    table = pq.read_table(copy / name)
    for column in ("ts", "source_ts", "ingest_ts"):
        i = table.schema.get_field_index(column)
        table = table.set_column(i, table.schema.field(i),
                                 pc.subtract(table.column(column), 2 * 10**12))
    pq.write_table(table, copy / name, compression="zstd")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["artifacts"][name] = artifact_entry(copy / name, table.num_rows)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert pc.min(table.column("ts")).as_py() < 0
    problems = verify_run(copy)
    assert f"{name}: negative ts, source_ts, ingest_ts (before 1970; epoch ms must be >= 0)" \
        in problems, problems
    assert verify_run(tiny_run) == []


def test_the_cli_starts_without_the_calendar_library() -> None:
    code = ("import sys, tapesim.cli, tapesim.config.run; "
            "sys.exit(('pandas' in sys.modules) + 2 * ('exchange_calendars' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_config_docs_state_the_range() -> None:
    assert f"from {FIRST_SESSION} to\n    {LAST_SESSION}" in (SessionConfig.__doc__ or "")


def test_a_worker_uses_the_calendar_it_adopts() -> None:
    own = exchange_days()
    day = D(2026, 3, 10)
    try:
        adopt_exchange_days(ExchangeDays((day,), frozenset({day}), {}, {day: dt.time(13)}))
        assert close_time(day) == dt.time(13, 0)
        assert not is_trading_day(D(2026, 3, 9))
    finally:
        adopt_exchange_days(own)
    assert close_time(day) == dt.time(16, 0) and is_trading_day(D(2026, 3, 9))


def test_the_calendar_is_kept_in_the_cache_as_built(tmp_path: Path, monkeypatch) -> None:
    """The first process builds the calendar and writes it under XDG_CACHE_HOME; the next
    reads it from there, equal to what the library builds, without loading the library."""
    from tapesim.sim import calendar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calendar, "_LOADED", [])
    built = calendar.exchange_days()
    path = calendar.cache_path()
    assert path.parent == tmp_path / "tapesim" and path.is_file()
    probe = ("import sys; from tapesim.sim import calendar as c; d = c.exchange_days(); "
             "print(len(d.sessions), len(d.closes), 'exchange_calendars' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == [str(len(built.sessions)), str(len(built.closes)), "False"]
    monkeypatch.setattr(calendar, "_LOADED", [])
    assert calendar.exchange_days() == built == calendar._build()


def test_a_damaged_or_unwritable_cache_only_means_building(tmp_path: Path,
                                                           monkeypatch) -> None:
    from tapesim.sim import calendar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calendar, "_LOADED", [])
    path = calendar.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"sessions": ["2026-03-10", "2026-03-09"], "opens": {}, "closes": {}}')
    days = calendar.exchange_days()
    assert len(days.sessions) > 10_000 and json.loads(path.read_text())["sessions"][0] == (
        FIRST_SESSION.isoformat())
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(calendar, "_LOADED", [])
    assert calendar.exchange_days() == days
    assert sorted(tmp_path.iterdir()) == sorted([tmp_path / "tapesim", blocked])
