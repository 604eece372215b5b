"""An export holds a bounded amount whatever the slice: the provenance written in
trace-id key order from per-stream spools (``export/keyorder.py``), and what follows
from relying on the trace ids' form."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.events.models import KINDS
from tapesim.export import keyorder, slices
from tapesim.export.islandflow import Slice, export_run
from tapesim.export.keyorder import TraceIdSpool
from tapesim.io.manifest import artifact_entry, canonical_json

runner = CliRunner()
RUN_ID = "tsim-0123456789ab"


def _spooled(tmp: Path, seqs_by_code: dict[int, list[int]]) -> tuple[TraceIdSpool, list[str]]:
    """A spool of events with these seqs per kind code, in replay order, each text its
    own trace id; and the trace ids."""
    pairs = sorted((s, code) for code, seqs in seqs_by_code.items() for s in seqs)
    seqs = np.array([s for s, _ in pairs], dtype=np.int64)
    kinds = np.array([c for _, c in pairs], dtype=np.int8)
    ids = [f"{RUN_ID}:{KINDS[c].stream}:{s}" for s, c in pairs]
    spool = TraceIdSpool(tmp, RUN_ID, texts=True)
    half = len(pairs) // 2  # two batches
    for lo, hi in ((0, half), (half, len(pairs))):
        spool.add(kinds[lo:hi], seqs[lo:hi], pa.array(ids[lo:hi], pa.string()))
    return spool, ids


@settings(max_examples=60, deadline=None)
@given(seqs=st.sets(st.integers(1, 30_000), min_size=1, max_size=400),
       runs=st.lists(st.tuples(st.integers(0, len(KINDS) - 1), st.integers(1, 80)),
                     min_size=1, max_size=60),
       chunk=st.integers(1, 50), block=st.integers(1, 30))
def test_key_order_is_the_trace_ids_sorted(tmp_path_factory: pytest.TempPathFactory,
                                           seqs: set[int], runs: list[tuple[int, int]],
                                           chunk: int, block: int) -> None:
    """Seqs of one to five digits, in runs of kinds of any length, spooled in
    compressed blocks of any size and read back in chunks of any size: the order of the
    sorted trace ids (ASCII, so Python's order is the UTF-16 key order), every chunk at
    most the chunk size."""
    codes = [code for code, n in runs for _ in range(n)]
    by_code: dict[int, list[int]] = {}
    for s, code in zip(sorted(seqs), codes, strict=False):
        by_code.setdefault(code, []).append(s)
    old = slices.BATCH_ROWS, keyorder.BLOCK_ROWS
    slices.BATCH_ROWS, keyorder.BLOCK_ROWS = chunk, block
    try:
        with _spooled(tmp_path_factory.mktemp("spool"), by_code)[0] as spool:
            chunks = list(spool.key_order())
        ids = [f"{RUN_ID}:{KINDS[c].stream}:{s}" for c, ss in by_code.items() for s in ss]
    finally:
        slices.BATCH_ROWS, keyorder.BLOCK_ROWS = old
    assert all(len(c) <= chunk for c in chunks)
    assert [t for c in chunks for t in c.to_pylist()] == sorted(ids)


def test_exported_takes_only_canonical_ids_of_the_slice(tmp_path: Path) -> None:
    spool, ids = _spooled(tmp_path, {0: [5, 10, 100], 3: [7, 2_000]})
    with spool:
        stream = KINDS[3].stream
        asked = {*ids[:2], f"{RUN_ID}:{stream}:2000", f"{RUN_ID}:{stream}:02000",
                 f"{RUN_ID}:{stream}:6", f"other:{stream}:7", f"{RUN_ID}:nowhere:7",
                 f"{RUN_ID}:{stream}:", f"{RUN_ID}:{stream}:7x"}
        assert spool.exported(asked) == {*ids[:2], f"{RUN_ID}:{stream}:2000"}
    assert not list(tmp_path.iterdir()), "the spool files are removed"


def test_a_trace_id_not_of_the_contract_form_is_refused(tiny_options_run: Path,
                                                        tmp_path: Path) -> None:
    """The key order relies on ``<run_id>:<stream>:<seq>``: an id of another form in the
    slice is refused, exit 2 naming the file and `tapesim verify`, nothing written."""
    run = tmp_path / "run"
    shutil.copytree(tiny_options_run, run)
    name = "option_nbbo.parquet"
    table = pq.read_table(run / name)
    i = table.schema.get_field_index("trace_id")
    ids = table.column("trace_id").to_pylist()
    ids[len(ids) // 2] = ids[len(ids) // 2].replace(":option-nbbo:", ":option-nbbo:0")
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(ids, pa.string())),
                   run / name)
    manifest = json.loads((run / "manifest.json").read_text())  # passes the cheap checks
    manifest["artifacts"][name] = artifact_entry(run / name, table.num_rows)
    (run / "manifest.json").write_text(canonical_json(manifest))
    out = tmp_path / "fx"
    result = runner.invoke(app, ["export", str(run), "--out", str(out), "--max-events",
                                 "1000000"])
    assert result.exit_code == 2, result.output
    assert f"{name}: a trace id is not" in result.output and "tapesim verify" in result.output
    assert not out.exists() and not list(tmp_path.glob(".fx*"))


def _peak_bytes(run: Path, out: Path, fmt: str, end: str) -> tuple[int, int]:
    """(events, peak bytes held while exporting 09:30 to ``end``): Arrow's allocations
    (a proxy of the pool, with its own high-water mark) plus Python's and numpy's
    (tracemalloc)."""
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    old = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        done = export_run(run, out, fmt, Slice(None, dt.time(9, 30), dt.time.fromisoformat(end),
                                               10**9))
        python = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(old)
    shutil.rmtree(out)
    return done.events, python + pool.max_memory()


@pytest.mark.parametrize("fmt", ["islandflow", "jsonl"])
def test_memory_does_not_grow_with_the_slice(tiny_options_run: Path, tmp_path: Path,
                                             fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With batches of 4,096 rows, a slice 3.5 times the size holds about as much: the
    peak differs by what the batches hold (up to about 1.6 MB here), where keeping
    anything per exported event grows it by that times the 106k events more (a trace id
    alone is about 50 bytes: 5 MB for jsonl; with the provenance records and their sort,
    30 MB for islandflow)."""
    monkeypatch.setattr(slices, "BATCH_ROWS", 4096)
    _peak_bytes(tiny_options_run, tmp_path / "warm", fmt, "09:30:05")  # imports, JIT
    small_events, small = _peak_bytes(tiny_options_run, tmp_path / "small", fmt, "09:31")
    big_events, big = _peak_bytes(tiny_options_run, tmp_path / "big", fmt, "09:33")
    assert big_events >= 3 * small_events
    assert big - small < 3 << 20, f"peak {small:,} -> {big:,} bytes"
