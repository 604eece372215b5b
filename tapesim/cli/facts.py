"""``tapesim facts``: a run's stylized facts against the realism targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tapesim.cli.common import InputError, guarded, out, require_dir, symbol_list


@guarded
def facts(
    run_dirs: Annotated[list[Path], typer.Argument(help="One run directory, or several to pool.")],
    symbols: Annotated[str | None, typer.Option(help="Only these symbols.")] = None,
    notes: Annotated[bool | None, typer.Option(help="Show each row's note (default: when "
                                                    "pooling).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Equity and options facts of a run against the realism targets; several runs are
    pooled."""
    from tapesim.calibration.facts import equity_facts, facts_table
    from tapesim.calibration.options_facts import option_facts
    from tapesim.calibration.pooling import pooled_facts
    from tapesim.cli.ui import count_progress
    from tapesim.io.manifest import check_hashes, open_run, reading

    wanted = symbol_list(symbols) if symbols else None
    equity_runs, option_runs = [], []
    returns: dict[str, list] = {}
    for path in run_dirs:
        require_dir(path)
        manifest = open_run(path)
        check_hashes(path, manifest)  # facts read whole columns: a damaged file fails here
        known = manifest["symbols"]
        unknown = sorted(set(wanted or []) - set(known))
        if unknown:
            raise InputError(f"--symbols {','.join(unknown)} not in {path}: choose from "
                             f"{','.join(known)}")
    with count_progress("facts", "parts (equities, options per run)", quiet) as update:
        for i, path in enumerate(run_dirs):
            with reading(path):
                update(2 * i, 2 * len(run_dirs))
                equity_runs.append(equity_facts(path, wanted, returns))
                update(2 * i + 1, 2 * len(run_dirs))
                option_runs.append(option_facts(path, wanted))
    show_notes = len(run_dirs) > 1 if notes is None else notes
    for title, runs in (("Equity stylized facts", equity_runs), ("Options facts", option_runs)):
        rows = runs[0] if len(runs) == 1 else pooled_facts(runs, returns)
        if rows:  # a run without options has no options rows
            out.print(facts_table(rows, notes=show_notes, title=title))
