"""`verify` finds the same problems, in the same order, whatever its worker count; the
digest's fixed-width text; the run's plain progress lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tapesim.cli.ui import run_progress
from tapesim.config.run import load_profile
from tapesim.io.digest import NULL_TEXT, text_bytes
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


def test_fixed_width_text_is_numpy_s_dtype() -> None:
    values = ["SPY", "", "AAPL-2026-03-13-230-C", "é€x" * 5, "abcdefghij", None, "Q"]
    for width in (1, 8, 32, 64):
        want = np.array([v.encode() if v is not None else NULL_TEXT for v in values],
                        dtype=f"S{width}")
        assert text_bytes(pa.array(values), width).tobytes() == want.tobytes()
        assert text_bytes(pa.array(values).dictionary_encode(), width).tobytes() == (
            want.tobytes())
        assert text_bytes(pa.array(values).slice(3), width).tobytes() == want[3:].tobytes()


def test_run_progress_lines_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    config = load_profile("equities-smoke")
    with run_progress(config, quiet=True) as quiet:
        assert quiet.simulated is None and quiet.written is None
    with run_progress(config, quiet=False, every_s=0.0) as progress:
        assert progress.simulated is not None and progress.written is not None
        progress.written(5, 10)
    assert "writing: 5 of 10 events (50%)" in capsys.readouterr().err
