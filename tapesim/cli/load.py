"""``tapesim load``: materialise a run into ClickHouse (the pipeline's tables, §5)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tapesim.cli.common import InputError, err, guarded, out, require_dir


@contextmanager
def load_progress(run_dir: Path, enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A bar over the rows of the run's tables (from the manifest's row counts), on
    stderr; None when disabled (not a terminal)."""
    if not enabled:
        yield None
        return
    artifacts = json.loads((run_dir / "manifest.json").read_text("utf-8")).get("artifacts", {})
    total = sum(int(a.get("rows", 0)) for a in artifacts.values())
    columns = (TextColumn("loading {task.fields[table]:<16}"), BarColumn(),
               TextColumn("{task.completed:>12,.0f} rows"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("load", total=total or None, table="")

        def update(table: str, rows: int) -> None:
            bar.update(task, advance=rows, table=table)

        yield update


@guarded
def load(
    path: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run directory.")],
    url: Annotated[str | None, typer.Argument(
        metavar="URL", help="A ClickHouse server (clickhouse://host:8123, "
                              "http://host:8123); without it, the embedded engine (chdb).",
        show_default=False)] = None,
    clickhouse: Annotated[bool, typer.Option(
        "--clickhouse", help="Load into ClickHouse (required; the URL follows it, if any).",
    )] = False,
    clickhouse_path: Annotated[Path | None, typer.Option(
        "--clickhouse-path", metavar="DIR",
        help="The embedded engine's data directory (default: 'clickhouse' beside the "
             "run directory).")] = None,
    drop: Annotated[bool, typer.Option(
        "--drop", help="Remove the run's database instead of loading.")] = False,
) -> None:
    """Load a run's events, provenance and labels into the database tapesim_<run_id>.

    Embedded: tapesim load runs/m1 --clickhouse

    A server: tapesim load runs/m1 --clickhouse clickhouse://host:8123

    Loading a run twice adds nothing.
    """
    try:
        from tapesim.storage.connect import default_path, open_engine
    except ImportError as e:  # the optional dependencies are not installed
        raise InputError(f"tapesim load needs ClickHouse support ({e.name} is missing): "
                         "pip install 'tapesim[clickhouse]'") from None
    from tapesim.storage.engine import EngineError
    from tapesim.storage.load import drop_run, load_run, manifest_run_id

    require_dir(path)
    if not clickhouse:
        raise InputError("say where to load: --clickhouse (embedded) or --clickhouse URL")
    run_id = manifest_run_id(path)
    try:
        engine = open_engine(url, clickhouse_path or default_path(path))
    except EngineError as e:
        raise InputError(str(e)) from None
    try:
        if drop:
            database = drop_run(engine, run_id)
            out.print(f"dropped {database} on {engine.name}", markup=False, highlight=False)
            return
        with load_progress(path, err.is_terminal) as progress:
            summary = load_run(engine, path, progress)
    except EngineError as e:
        raise InputError(str(e)) from None
    finally:
        engine.close()
    where = f"{summary.database} on {engine.name}"
    if summary.already_loaded:
        out.print(f"{summary.run_id} is already in {where} (same manifest sha256 "
                  f"{summary.manifest_sha256[:12]}); nothing added", markup=False,
                  highlight=False)
        return
    for table, rows in summary.rows.items():
        out.print(f"  {table:<18} {rows:>12,} rows", markup=False, highlight=False)
    rate = summary.total_rows / summary.seconds if summary.seconds > 0 else 0.0
    out.print(f"loaded {summary.total_rows:,} rows into {where} in {summary.seconds:.1f} s "
              f"({rate:,.0f} rows/s)", markup=False, highlight=False)
