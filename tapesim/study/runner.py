"""``tapesim study run``: every cell simulated (or taken from the run cache), classified
and scored, and the study directory written.

Cells run on a local process pool (``workers``; spawn context, as the shard runner)
or, with ``backend="ray"``, as Ray tasks (:mod:`tapesim.study.ray_backend`); each cell
is a pure function of the study and its index, and results are gathered by index, so
the files do not depend on the backend, the worker count or on which cells were cached.
Runs are cached by parameter snapshot hash and code fingerprint
(:class:`tapesim.testing.cache.RunCache`) under the study's cache directory.

The study directory holds ``cells.parquet``, ``alerts.parquet``, ``outcomes.parquet``
and ``scores.parquet`` (schemas in :mod:`tapesim.study.tables`), each written to a
temporary name and renamed, and ``study.json``, the manifest, written last: a
directory without it is not a complete study (an existing one is removed first).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from tapesim._version import __version__
from tapesim.runs import library_versions
from tapesim.sim.strict import ConfigError
from tapesim.study.alerts import sort_key
from tapesim.study.classifiers import classify, identity
from tapesim.study.ray_backend import run_on_ray
from tapesim.study.scoring import BANDS, CellScore, score_cell, study_scores
from tapesim.study.spec import Cell, Study
from tapesim.study.tables import MANIFEST, write_json, write_table
from tapesim.testing.cache import RunCache

STUDY_FORMAT = "tapesim-study-v1"
Progress = Callable[[int, int, int, int, str], None]  # done, running, cached, total, cell
Backend = Literal["local", "ray"]


@dataclass
class CellResult:
    """What one cell gives the study: its row and its scored rows."""

    row: dict[str, Any]
    score: CellScore


def import_path(study: Study) -> None:
    """Put the study file's directory on the import path, so an entry point in a module
    beside the study file loads (in the parent and in every worker)."""
    base = str(Path(study.base_dir).resolve())
    if base not in sys.path:
        sys.path.insert(0, base)


def run_cell(study: Study, index: int, cache_root: Path) -> CellResult:
    """Simulate (or reopen) cell ``index`` of the study, classify and score it.

    Raises:
        ConfigError: the cell's config is invalid.
        ClassifierError: the classifier fails on the cell (the message names it).
    """
    import_path(study)
    cell = study.cells()[index]
    run = RunCache(cache_root)(cell.config())
    alerts = sorted(classify(study.classifier, run.path, cell.cell_id,
                             Path(study.base_dir)), key=sort_key)
    score = score_cell(cell.cell_id, run.manifest, run.labels, run.expected_outputs, alerts,
                       study.scoring)
    row = {"index": index, "cell_id": cell.cell_id, "profile": cell.profile,
           "seed": cell.seed, "scenario": cell.scenario, "intensity": cell.intensity,
           "at": cell.at.isoformat() if cell.at else None, "run_id": run.run_id,
           "parameter_snapshot_hash": run.manifest.parameter_snapshot_hash,
           "event_stream_sha256": run.manifest.event_stream.sha256,
           "events": run.manifest.counts.get("total", 0), "labels": len(run.labels),
           "alerts": sum(not a.abstained for a in alerts),
           "abstentions": sum(a.abstained for a in alerts), "windows": score.windows,
           "background_windows": score.background_windows,
           **{f"fp_windows_{b}": score.fp_windows[b] for b in BANDS}}
    return CellResult(row, score)


def is_cached(cache: RunCache, cell: Cell) -> bool:
    """Whether the cell's run is in the cache (its directory has a manifest)."""
    return (cache.root / cache.key(cell.config()) / "manifest.json").is_file()


def run_cells(study: Study, cache_root: Path, workers: int = 1,
              progress: Progress | None = None, backend: Backend = "local",
              address: str | None = None) -> list[CellResult]:
    """Every cell's result, in grid order, on the local process pool (``workers``
    processes) or as Ray tasks (:mod:`tapesim.study.ray_backend`; ``address``: a Ray
    cluster to join, default a local one of ``workers`` CPUs).

    Raises:
        ConfigError, ClassifierError: as :func:`run_cell`; the first failing cell stops
            the study (cells not yet started are cancelled); ConfigError also when Ray
            is missing or its cluster cannot be reached.
    """
    cells = study.cells()
    cache = RunCache(cache_root)
    cached = {i for i, c in enumerate(cells) if is_cached(cache, c)}
    results: dict[int, CellResult] = {}

    def tick(running: int, cell_id: str) -> None:
        if progress is not None:
            progress(len(results), running, len(cached), len(cells), cell_id)

    if backend == "ray":
        def finished(index: int, result: CellResult, running: int) -> None:
            results[index] = result
            tick(running, cells[index].cell_id)

        tick(0, "")
        run_on_ray(partial(run_cell, study, cache_root=cache_root), len(cells), workers,
                   address, finished)
        return [results[i] for i in range(len(cells))]
    if workers <= 1:
        for i in range(len(cells)):
            tick(1, cells[i].cell_id)
            results[i] = run_cell(study, i, cache_root)
        tick(0, "")
        return [results[i] for i in range(len(cells))]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        pending: dict[Future[CellResult], int] = {
            pool.submit(run_cell, study, i, cache_root): i for i in range(len(cells))}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: pending[f]):
                index = pending.pop(future)
                try:
                    results[index] = future.result()
                except BaseException:
                    for other in pending:
                        other.cancel()
                    raise
                tick(min(workers, len(pending)), cells[index].cell_id)
    return [results[i] for i in range(len(cells))]


def run_study(study: Study, out_dir: Path, workers: int = 1, cache_root: Path | None = None,
              progress: Progress | None = None, backend: Backend = "local",
              address: str | None = None) -> dict[str, Any]:
    """Run the study into ``out_dir``; its manifest.

    Args:
        study: the study.
        out_dir: the study directory, created once every cell has succeeded (an
            earlier study there is replaced then; a failing study leaves it as it was).
        workers: worker processes, or a local Ray's CPUs (the files depend on neither).
        cache_root: the run cache (default: the study's ``cache_path()``).
        progress: called with (done, running, cached, total, cell id) as cells finish.
        backend: ``local`` (a process pool) or ``ray`` (each cell a Ray task).
        address: with ``ray``, the cluster to join (default: start one here).

    Raises:
        ConfigError: a cell's config is invalid (named) before anything runs.
        ClassifierError: the classifier cannot be loaded, or fails on a cell (named).
    """
    import_path(study)
    for cell in study.cells():  # every config resolves before anything runs
        try:
            cell.config()
        except ConfigError as err:
            raise ConfigError(f"cell {cell.cell_id}: {err}") from None
    classifier = identity(study.classifier, Path(study.base_dir))
    results = run_cells(study, cache_root or study.cache_path(), workers, progress, backend,
                        address)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    cells = [r.row for r in results]
    outcomes = [o for r in results for o in r.score.outcomes]
    alerts = [a for r in results for a in r.score.alerts]
    files = {"cells.parquet": write_table(out_dir, "cells", cells),
             "alerts.parquet": write_table(out_dir, "alerts", alerts),
             "outcomes.parquet": write_table(out_dir, "outcomes", outcomes),
             "scores.parquet": write_table(out_dir, "scores", study_scores(outcomes, cells))}
    libraries = {**library_versions(), "scipy": metadata.version("scipy")}
    manifest = {"format": STUDY_FORMAT, "generator": {"name": "tapesim",
                                                      "version": __version__,
                                                      "libraries": libraries},
                "study": study.model_dump(mode="json"), "classifier": classifier,
                "cells": [{"cell_id": c["cell_id"], "run_id": c["run_id"],
                           "parameter_snapshot_hash": c["parameter_snapshot_hash"],
                           "event_stream_sha256": c["event_stream_sha256"]} for c in cells],
                "files": files}
    write_json(out_dir / MANIFEST, manifest)
    return manifest
