"""``tapesim export``: a slice of a run for the downstream pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tapesim.cli.common import InputError, guarded, out, require_dir, symbol_list
from tapesim.config.flags import parse_clock


@guarded
def export(
    path: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run directory.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write.")],
    fmt: Annotated[str, typer.Option("--format", help="islandflow (the pipeline's fixture) "
                                                      "or jsonl.")] = "islandflow",
    symbols: Annotated[str | None, typer.Option(help="Only these symbols.")] = None,
    start: Annotated[str | None, typer.Option(help="Slice start, HH:MM New York.")] = None,
    end: Annotated[str | None, typer.Option(help="Slice end, HH:MM New York.")] = None,
    max_events: Annotated[int, typer.Option(min=1, help="Refuse larger slices.")] = 100_000,
    force: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress display.")] = False,
) -> None:
    """Export a slice of a run for the downstream pipeline."""
    from tapesim.cli.ui import count_progress
    from tapesim.export.islandflow import ExportError, Slice, export_run, use_lean_memory_pool
    from tapesim.io.manifest import reading

    use_lean_memory_pool()
    require_dir(path)
    wanted = symbol_list(symbols) if symbols else None
    sl = Slice(wanted, parse_clock("--start", start), parse_clock("--end", end), max_events)
    try:
        with reading(path), count_progress("exporting", "events", quiet) as progress:
            done = export_run(path, out_dir, fmt, sl, force=force, progress=progress)
    except ExportError as e:
        raise InputError(str(e)) from None
    labels = ""
    if done.labels or done.dropped_labels:
        labels = f" and {done.labels} scenario label(s)"
        if done.dropped_labels:
            labels += f" ({done.dropped_labels} whose anchor print is outside the slice left out)"
    out.print(f"exported {done.events:,} events{labels} to {out_dir} ({fmt})", markup=False,
              highlight=False)
