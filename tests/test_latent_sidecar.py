"""The latent truth sidecar (``--write-latent``): beside the events, never one of them.

A tiny options run is written with the sidecar on one and on two workers and without
it. The sidecar's bytes do not depend on the worker count; every other file but the
manifest is byte-identical to the run without it (the event digest too); the manifest
lists and hashes it, so ``verify`` checks it; its columns are the ones ``docs/DATA.md``
documents; and its fair value is the value the makers quote around, so the tape's mid
stays near it second by second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import tapesim
from tapesim.cli.main import app
from tapesim.market.truth import LATENT, LATENT_SCHEMA
from tapesim.verify.run import verify_run
from tests.conftest import file_bytes, tiny_options_config
from tests.test_data_doc import _columns, _sections

MINUTES = 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("latent")
    config = tiny_options_config(minutes=MINUTES)
    out = {}
    for name, workers, latent in (("one", 1, True), ("two", 2, True), ("off", 1, False)):
        out[name] = root / name
        tapesim.simulate(config, out=out[name], workers=workers, write_latent=latent)
    return out


def test_bytes_do_not_depend_on_workers_and_events_are_untouched(runs: dict[str, Path]) -> None:
    one, two, off = (file_bytes(runs[k]) for k in ("one", "two", "off"))
    assert one == two
    assert set(one) - set(off) == {LATENT}
    assert {k: v for k, v in one.items() if k not in (LATENT, "manifest.json")} == {
        k: v for k, v in off.items() if k != "manifest.json"}
    with_latent, without = tapesim.open_run(runs["one"]), tapesim.open_run(runs["off"])
    assert with_latent.manifest.event_stream == without.manifest.event_stream
    assert LATENT in with_latent.manifest.artifacts
    assert with_latent.verify() == []


def test_verify_catches_a_damaged_sidecar(runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name, data in file_bytes(runs["one"]).items():
        (run_dir / name).write_bytes(data)
    table = pq.read_table(run_dir / LATENT)
    fair = pc.multiply(table["fair_value"], 1.01)
    damaged = table.set_column(table.schema.get_field_index("fair_value"), "fair_value", fair)
    pq.write_table(damaged, run_dir / LATENT)
    assert any(LATENT in p for p in verify_run(run_dir))


def test_the_api_reads_it_and_docs_describe_it(runs: dict[str, Path]) -> None:
    run = tapesim.open_run(runs["one"])
    table = run.latent()
    assert table.schema == LATENT_SCHEMA
    symbols = run.manifest.symbols
    assert table.num_rows == len(symbols) * MINUTES * 60
    assert pc.unique(table["underlying_id"]).to_pylist() == symbols
    assert set(pc.unique(table["regime"]).to_pylist()) <= {0, 1, 2}
    assert pc.min(table["atm_iv_30d"]).as_py() > 0.0
    documented = _columns(_sections()[LATENT])
    written = {f.name: (str(f.type), f.nullable) for f in pq.read_schema(runs["one"] / LATENT)}
    assert documented == written
    with pytest.raises(KeyError, match="--write-latent"):
        tapesim.open_run(runs["off"]).latent()


def test_fair_value_is_what_the_tape_quotes_around(runs: dict[str, Path]) -> None:
    run = tapesim.open_run(runs["one"])
    latent = run.latent()
    quotes = run.table("equity_quote", ["ts", "underlying_id", "bid", "ask"])
    for symbol in run.manifest.symbols:
        truth = latent.filter(pc.equal(latent["underlying_id"], symbol))
        q = quotes.filter(pc.equal(quotes["underlying_id"], symbol))
        ts, mid = q["ts"].to_numpy(), ((q["bid"].to_numpy() + q["ask"].to_numpy()) / 2)
        at = truth["ts"].to_numpy()
        idx = np.searchsorted(ts, at, side="right") - 1
        ok = idx >= 0
        gap = np.abs(mid[idx[ok]] / truth["fair_value"].to_numpy()[ok] - 1.0)
        half_spread = np.median((q["ask"].to_numpy() - q["bid"].to_numpy()) / mid) / 2
        # within a few half-spreads (makers' offsets, impact, tick rounding, SIP latency)
        assert np.median(gap) < 4 * half_spread + 2e-4, symbol


def test_the_cli_flag_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["run", "--profile", "equities-smoke", "--end", "09:31",
                                      "--out", str(out), "--quiet", "--write-latent"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / LATENT)
    assert isinstance(table, pa.Table) and table.num_rows > 0
