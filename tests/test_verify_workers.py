"""`verify` finds the same problems, in the same order, whatever its worker count."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from tapesim.io.manifest import read_manifest
from tapesim.verify.run import JOBS, planned_rows, verify_run


def test_jobs_cover_a_simulated_run(tiny_options_run: Path) -> None:
    plan = planned_rows(read_manifest(tiny_options_run))
    assert tuple(plan) == JOBS
    assert plan["stream"] == read_manifest(tiny_options_run)["counts"]["total"] > 0


def test_same_problems_for_any_worker_count(tiny_options_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_options_run, run)
    # Damage rows of two kinds (their hashes, the digest and the tape change with them).
    for name, column in (("equity_quotes.parquet", "bid"), ("option_nbbo.parquet", "ask")):
        table = pq.read_table(run / name)
        i = table.schema.get_field_index(column)
        table = table.set_column(i, table.schema.field(i),
                                 pc.multiply(table.column(column), 1.001))
        pq.write_table(table, run / name)
    seen: list[tuple[str, int]] = []
    one = verify_run(run, workers=1, progress=lambda job, rows: seen.append((job, rows)))
    assert len(one) > 3
    assert verify_run(run, workers=2) == one
    assert verify_run(run, workers=3) == one
    assert {job for job, _ in seen} >= {"stream", "provenance", "rows:option_nbbo"}
