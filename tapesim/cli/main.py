"""The ``tapesim`` command line.

Exit codes: 0 success; 2 bad input (unknown profile, bad flag or config field,
existing output, a run directory that fails verification); 1 an internal error.
Errors are one line naming the field or flag and the fix.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from tapesim.cli.scenarios import scenarios_app
from tapesim.config.run import (
    ConfigError,
    RunConfig,
    load_config_file,
    load_profile,
    profile_names,
    with_overrides,
)
from tapesim.io.manifest import RunDirectoryError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Synthetic US equity and options tape: simulate, verify, inspect and "
                       "export runs, with injected scenarios.")
app.add_typer(scenarios_app, name="scenarios")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class InputError(Exception):
    """Bad input found by the CLI itself."""


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def guarded(fn: F) -> F:
    """Map exceptions to the exit-code contract."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (ConfigError, InputError, FileExistsError, FileNotFoundError,
                RunDirectoryError) as e:
            fail(str(e))
        except KeyboardInterrupt:
            fail("interrupted; nothing was written", 130)
        except Exception as e:
            fail(f"internal error: {type(e).__name__}: {e}", 1)

    return wrapper  # type: ignore[return-value]


def _run_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(f"{path} is not a directory: pass a run directory")
    return path


def _clock(flag: str, value: str | None) -> dt.time | None:
    if value is None:
        return None
    try:
        return dt.datetime.strptime(value, "%H:%M").time()
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a time: use HH:MM, e.g. {flag} 10:30") from None


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--date {value!r} is not a date: use YYYY-MM-DD") from None


def _scenario(flag: str) -> dict[str, str]:
    name, at, when = flag.partition("@")
    if not at or not name:
        raise InputError(f"--scenario {flag!r}: use NAME@HH:MM, e.g. "
                         "--scenario stale-quote-trap@11:30")
    for form in ("%H:%M", "%H:%M:%S"):
        try:
            return {"name": name, "at": dt.datetime.strptime(when, form).time().isoformat()}
        except ValueError:
            continue
    raise InputError(f"--scenario {flag!r}: {when!r} is not a time; use HH:MM or HH:MM:SS")


def resolve_config(
    profile: str | None, config: Path | None, seed: int | None, symbols: str | None,
    start: str | None, end: str | None, date: str | None, scenarios: list[str] | None = None,
) -> RunConfig:
    """The run config from a profile or file plus command-line overrides."""
    if (profile is None) == (config is None):
        raise InputError("give exactly one of --profile NAME or --config FILE")
    base = load_profile(profile) if profile else load_config_file(config)  # type: ignore[arg-type]
    overrides: dict[str, Any] = {}
    if seed is not None:
        if seed < 0:
            raise InputError("--seed must be a non-negative integer")
        overrides["seed"] = seed
    session: dict[str, Any] = {}
    for key, value in (("start", _clock("--start", start)), ("end", _clock("--end", end)),
                       ("date", _date(date))):
        if value is not None:
            session[key] = value.isoformat()
    if session:
        overrides["session"] = session
    if symbols is not None:
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
        known = {s.symbol: s for s in base.symbols}
        unknown = [s for s in wanted if s not in known]
        if unknown or not wanted:
            raise InputError(f"--symbols {','.join(unknown) or symbols!r} not in this profile: "
                             f"choose from {','.join(known)}")
        overrides["symbols"] = [known[s].model_dump(mode="json") for s in wanted]
    if scenarios:
        overrides["scenarios"] = ([s.model_dump(mode="json") for s in base.scenarios]
                                  + [_scenario(s) for s in scenarios])
    return with_overrides(base, overrides) if overrides else base


@app.command()
@guarded
def run(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory to create.")],
    profile: Annotated[str | None, typer.Option(help="A shipped profile (see `profiles`).")] = None,
    config: Annotated[Path | None, typer.Option(help="A TOML, YAML or JSON config file.")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: the config's).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    symbols: Annotated[str | None, typer.Option(help="Only these symbols, e.g. SPY,AAPL.")] = None,
    start: Annotated[str | None, typer.Option(help="Window start, HH:MM New York.")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, HH:MM New York.")] = None,
    date: Annotated[str | None, typer.Option(help="Trading day, YYYY-MM-DD.")] = None,
    jsonl: Annotated[bool, typer.Option(help="Also write events as JSON lines.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
    verify_after: Annotated[bool, typer.Option("--verify", help="Verify the written "
                                               "directory before exiting.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", help="Inject a catalog scenario, NAME@HH:MM[:SS]; repeatable.")] = None,
) -> None:
    """Simulate a session and write a verified run directory."""
    from tapesim.cli.ui import progress_bar
    from tapesim.io.writer import check_output
    from tapesim.runs import execute_run

    cfg = resolve_config(profile, config, seed, symbols, start, end, date, scenario or [])
    check_output(out_dir, force)
    with progress_bar(cfg, enabled=not quiet and sys.stderr.isatty()) as progress:
        summary = execute_run(cfg, out_dir, workers=workers, force=force, jsonl=jsonl,
                              progress=progress)
    counts = summary.manifest["counts"]
    detail = (f"{counts['equity_quote']:,} equity quotes, {counts['equity_print']:,} equity "
              f"prints")
    if counts.get("option_nbbo") or counts.get("option_print"):
        detail += (f", {counts['option_nbbo']:,} option NBBOs, "
                   f"{counts['option_print']:,} option prints")
    out.print(f"wrote {out_dir}: {counts['total']:,} events ({detail}), "
              f"run id {summary.manifest['run_id']}")
    if verify_after:
        from tapesim.verify.run import verify_run

        problems = verify_run(out_dir)
        for p in problems:
            err.print(f"FAIL {p}", markup=False, highlight=False)
        if problems:
            fail(f"{out_dir} was written but does not verify: this is a bug, please report it", 1)
        out.print(f"verified {out_dir}")


@app.command()
@guarded
def verify(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Recompute every hash and invariant of a run directory."""
    from tapesim.verify.run import verify_run

    _run_dir(run_dir)
    problems = verify_run(run_dir)
    if problems:
        for p in problems:
            err.print(f"FAIL {p}", markup=False, highlight=False)
        raise typer.Exit(2)
    out.print(f"ok {run_dir}: every hash and invariant checks out")


@app.command()
@guarded
def inspect(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Counts per kind, symbol and venue, time range and spreads."""
    from tapesim.cli.ui import inspect_tables

    _run_dir(run_dir)
    for table in inspect_tables(run_dir):
        out.print(table)


@app.command()
@guarded
def profiles() -> None:
    """List the shipped profiles."""
    from rich.table import Table

    table = Table("profile", "symbols", "window", "description")
    for name in profile_names():
        cfg = load_profile(name)
        s = cfg.session.session()
        window = f"{cfg.session.date} {(s.end_ns - s.start_ns) / 60e9:.0f} min"
        table.add_row(name, ",".join(x.symbol for x in cfg.symbols), window, cfg.description)
    out.print(table)


@app.command()
@guarded
def facts(
    run_dirs: Annotated[list[Path], typer.Argument(help="One run directory, or several to pool.")],
    symbols: Annotated[str | None, typer.Option(help="Only these symbols.")] = None,
    notes: Annotated[bool | None, typer.Option(help="Show each row's note (default: when "
                                                    "pooling).")] = None,
) -> None:
    """Equity and options facts of a run against the realism targets; several runs are
    pooled."""
    from tapesim.calibration.facts import equity_facts, facts_table
    from tapesim.calibration.options_facts import option_facts
    from tapesim.calibration.pooling import pooled_facts
    from tapesim.io.manifest import open_run

    wanted = [s.strip().upper() for s in symbols.split(",")] if symbols else None
    equity_runs, option_runs = [], []
    for run_dir in run_dirs:
        _run_dir(run_dir)
        known = open_run(run_dir)["symbols"]
        unknown = sorted(set(wanted or []) - set(known))
        if unknown:
            raise InputError(f"--symbols {','.join(unknown)} not in {run_dir}: choose from "
                             f"{','.join(known)}")
        equity_runs.append(equity_facts(run_dir, wanted))
        option_runs.append(option_facts(run_dir, wanted))
    show_notes = len(run_dirs) > 1 if notes is None else notes
    for title, runs in (("Equity stylized facts", equity_runs), ("Options facts", option_runs)):
        rows = runs[0] if len(runs) == 1 else pooled_facts(runs)
        if rows:  # a run without options has no options rows
            out.print(facts_table(rows, notes=show_notes, title=title))


@app.command()
@guarded
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write.")],
    fmt: Annotated[str, typer.Option("--format", help="islandflow (the pipeline's fixture) "
                                                      "or jsonl.")] = "islandflow",
    symbols: Annotated[str | None, typer.Option(help="Only these symbols.")] = None,
    start: Annotated[str | None, typer.Option(help="Slice start, HH:MM New York.")] = None,
    end: Annotated[str | None, typer.Option(help="Slice end, HH:MM New York.")] = None,
    max_events: Annotated[int, typer.Option(min=1, help="Refuse larger slices.")] = 100_000,
    force: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
) -> None:
    """Export a slice of a run for the downstream pipeline."""
    from tapesim.export.islandflow import ExportError, Slice, export_run

    _run_dir(run_dir)
    wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else None
    sl = Slice(wanted, _clock("--start", start), _clock("--end", end), max_events)
    try:
        done = export_run(run_dir, out_dir, fmt, sl, force=force)
    except ExportError as e:
        raise InputError(str(e)) from None
    labels = ""
    if done.labels or done.dropped_labels:
        labels = f" and {done.labels} scenario label(s)"
        if done.dropped_labels:
            labels += f" ({done.dropped_labels} whose anchor print is outside the slice left out)"
    out.print(f"exported {done.events:,} events{labels} to {out_dir} ({fmt})", markup=False,
              highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
