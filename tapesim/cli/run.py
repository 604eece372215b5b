"""``tapesim run``: simulate a session into a run directory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from tapesim.cli.common import err, fail, guarded, out
from tapesim.config.flags import resolve_config


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
    write_latent: Annotated[bool, typer.Option(
        "--write-latent", help="Also write the latent truth (fair value, vol regime, ATM IV "
                               "per second) to latent.parquet.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
    verify_after: Annotated[bool, typer.Option("--verify", help="Verify the written "
                                               "directory before exiting.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", help="Inject a catalog scenario, NAME@HH:MM[:SS]; repeatable.")] = None,
) -> None:
    """Simulate a session and write a verified run directory.

    With ``--verify``, a directory that fails verification is removed (exit 1: a bug).
    """
    # The simulator is imported when a run starts, so the CLI starts fast.
    from tapesim.cli.ui import run_progress
    from tapesim.io.writer import check_output
    from tapesim.runs import execute_run
    from tapesim.scenarios.catalog import check_leads, check_names

    cfg = resolve_config(profile, config, seed, symbols, start, end, date, scenario or [])
    check_names(cfg, scenario or [])
    check_leads(cfg, scenario or [])
    check_output(out_dir, force)
    with run_progress(cfg, quiet) as progress:
        summary = execute_run(cfg, out_dir, workers=workers, force=force, jsonl=jsonl,
                              progress=progress.simulated, written=progress.written,
                              write_latent=write_latent)
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
            # A directory that fails its own verification must not stay where a consumer
            # would take it for a good run; the run is reproducible from config and seed.
            shutil.rmtree(out_dir)
            fail(f"{out_dir} was written but does not verify, so it was removed: this is a "
                 "bug, please report it with the FAIL lines above", 1)
        out.print(f"verified {out_dir}")
