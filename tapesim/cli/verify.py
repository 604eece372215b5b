"""``tapesim verify`` and ``tapesim inspect``: check a run directory, summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tapesim.cli.common import err, guarded, out, require_dir


@guarded
def verify(
    path: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run directory.")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes for the "
                                         "checks (the result is the same for any count).")] = 1,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Recompute every hash and invariant of a run directory."""
    from tapesim.cli.ui import count_progress
    from tapesim.io.manifest import RunDirectoryError, read_manifest
    from tapesim.verify.run import planned_rows, skipped_checks, verify_run

    require_dir(path)
    try:
        total = sum(planned_rows(read_manifest(path)).values())
    except RunDirectoryError:  # verify_run names what is wrong with the manifest
        total = 0
    done: dict[str, int] = {}
    with count_progress("verifying", "rows", quiet) as update:

        def progress(job: str, rows: int) -> None:
            done[job] = rows
            update(sum(done.values()), total)

        problems = verify_run(path, workers, progress)
    if not problems:
        for reason in skipped_checks(read_manifest(path)):
            out.print(f"skip {reason}", markup=False, highlight=False)
    if problems:
        for p in problems:
            err.print(f"FAIL {p}", markup=False, highlight=False)
        raise typer.Exit(2)
    out.print(f"ok {path}: every hash and invariant checks out")


@guarded
def inspect(path: Annotated[Path, typer.Argument(metavar="RUN_DIR",
                                                 help="A run directory.")]) -> None:
    """Counts per kind, symbol and venue, time range and spreads (after checking every
    file against its sha256 in the manifest)."""
    from tapesim.cli.ui import inspect_tables
    from tapesim.io.manifest import check_hashes, open_run

    require_dir(path)
    check_hashes(path, open_run(path))
    for table in inspect_tables(path):
        out.print(table)
