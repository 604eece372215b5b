"""The Python API: simulate -> open_run -> tables, labels, verify; the cheap checks on open;
the typed manifest's round trip; the pytest plugin's cache; ``tapesim schema`` and
``--version``."""

from __future__ import annotations

import gc
import itertools
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import tapesim
from tapesim.api.schemas import schema_names
from tapesim.cli import app
from tapesim.config.flags import FlagError
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.events.labels import GroundTruthLabel
from tapesim.events.manifest import RunManifest, SeedBundle
from tapesim.io.manifest import RunDirectoryError
from tapesim.sim.strict import ConfigError
from tapesim.testing.cache import RunCache
from tests.conftest import file_bytes

runner = CliRunner()


@pytest.fixture(scope="module")
def scenario_run(synthetic_run: RunCache) -> tapesim.SyntheticRun:
    """options-smoke at seed 3 for six minutes with a stale-quote trap at 09:34."""
    return synthetic_run("options-smoke", seed=3, scenarios=["stale-quote-trap@09:34"],
                         end="09:36")


def test_lazy_names_and_version() -> None:
    assert tapesim.__version__ == "0.1.0"
    assert {"simulate", "open_run", "SyntheticRun", "load_profile"} <= set(dir(tapesim))
    assert tapesim.load_profile("options-smoke").name == "options-smoke"
    with pytest.raises(AttributeError):
        _ = tapesim.no_such_name  # type: ignore[attr-defined]
    code = "import sys, tapesim.sim.rng; sys.exit('tapesim.api.run' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_round_trip(scenario_run: tapesim.SyntheticRun) -> None:
    run = tapesim.open_run(scenario_run.path)
    m = run.manifest
    assert isinstance(m, RunManifest)
    assert run.seed_bundle == SeedBundle(seed=3, namespace="tapesim", partition="market")
    snapshot = run.parameter_snapshot
    assert snapshot.sha256 == m.parameter_snapshot_hash and snapshot.run_id == m.run_id
    assert snapshot == ParameterSnapshot.of(snapshot.config)
    assert [s.scenario_id() for s in snapshot.config.scenarios] == ["stale-quote-trap@09:34"]
    assert len(run.labels) == 1 and isinstance(run.labels[0], GroundTruthLabel)
    assert run.labels[0].event_refs[0].role == "anchor"
    assert run.labels[0].scenario_id == "stale-quote-trap@09:34"
    assert len(run.expected_outputs) == 1
    assert run.expected_outputs[0].label_id == run.labels[0].label_id
    prints = run.table("option_prints")
    assert isinstance(prints, pa.Table) and prints.num_rows == m.counts["option_print"] > 0
    assert run.table("option_print").equals(prints)
    assert run.table("provenance").num_rows == m.counts["total"]
    assert run.verify() == []


def test_a_label_outside_its_schema_is_named(scenario_run: tapesim.SyntheticRun,
                                             tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(scenario_run.path, damaged)
    labels = damaged / "labels.json"
    text = labels.read_text()
    labels.write_text(text.replace('"anchor"', '"anchxr"', 1))  # same size: open_run passes
    run = tapesim.open_run(damaged)
    with pytest.raises(tapesim.RunDirectoryError, match=r"labels.json does not fit its schema "
                                                        r"at labels\.0\.event_refs\.0\.role"):
        _ = run.labels


def test_manifest_model_reads_back_what_was_written(scenario_run: tapesim.SyntheticRun,
                                                    tiny_run: Path) -> None:
    for path in (scenario_run.path, tiny_run):
        written = json.loads((path / "manifest.json").read_text("utf-8"))
        assert RunManifest.model_validate(written).document() == written


def test_batches_and_replay_plan(scenario_run: tapesim.SyntheticRun) -> None:
    run = scenario_run
    batches = list(run.batches("equity_quotes", rows=500))
    assert all(isinstance(b, GeneratedEventBatch) and b.kind == "equity_quote" for b in batches)
    assert sum(b.num_rows for b in batches) == run.manifest.counts["equity_quote"]
    assert all(a.last_seq < b.first_seq for a, b in itertools.pairwise(batches))
    plan = run.replay_plan()
    assert plan.kinds == ["equity_quote", "option_nbbo", "equity_print", "option_print"]
    assert (plan.first_seq, plan.last_seq) == (1, run.manifest.counts["total"])
    assert plan.first_ts == run.manifest.time_range.first_ts and plan.symbols == ["SPY"]
    with pytest.raises(KeyError, match="not an event kind"):
        next(run.batches("provenance"))
    with pytest.raises(KeyError, match="choose one of"):
        run.table("no_such_table")


def test_dataframes_need_their_library(scenario_run: tapesim.SyntheticRun,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name, method in (("polars", scenario_run.to_polars), ("pandas", scenario_run.to_pandas)):
        monkeypatch.setitem(sys.modules, name, None)
        with pytest.raises(ImportError, match=f"pip install {name}"):
            method("option_prints")


def test_simulate_writes_what_the_cli_writes(tmp_path: Path) -> None:
    run = tapesim.simulate("equities-smoke", seed=2, end="09:31", symbols=["SPY"],
                           out=tmp_path / "api")
    result = runner.invoke(app, ["run", "--profile", "equities-smoke", "--seed", "2", "--end",
                                 "09:31", "--symbols", "SPY", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert file_bytes(run.path) == file_bytes(tmp_path / "cli")
    with pytest.raises(FileExistsError, match="--force"):
        tapesim.simulate("equities-smoke", seed=2, end="09:31", symbols="SPY",
                         out=tmp_path / "api")


def test_simulate_bad_input_names_the_flag(tmp_path: Path) -> None:
    for kwargs, needle in (({"end": "9h"}, "--end"), ({"scenarios": ["stale"]}, "--scenario"),
                           ({"symbols": "ZZZZ"}, "--symbols")):
        with pytest.raises(FlagError, match=needle):
            tapesim.simulate("equities-smoke", out=tmp_path / "x", **kwargs)
    with pytest.raises(ConfigError, match=r"unknown field 'noise\.orders_per_sec'"):
        tapesim.simulate("equities-smoke", noise={"orders_per_sec": 3}, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_simulate_without_out_keeps_a_temporary_directory_alive() -> None:
    run = tapesim.simulate("equities-smoke", seed=1, end="09:31", symbols="SPY",
                           noise={"orders_per_s": 0.3})
    path = run.path
    assert (path / "manifest.json").is_file() and path.name == run.run_id
    del run
    gc.collect()
    assert not path.exists()


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda d: (d / "manifest.json").unlink(), "has no manifest.json"),
        (lambda d: (d / "manifest.json").write_text("{"), "is not valid JSON"),
        (lambda d: (d / "equity_prints.parquet").unlink(), "equity_prints.parquet is missing"),
        (lambda d: (d / "equity_quotes.parquet").write_bytes(b"short"),
         "equity_quotes.parquet is not the size"),
        (lambda d: (d / "manifest.json").write_text(
            (d / "manifest.json").read_text().replace('"run_id": "tsim-', '"run_id": "x-')),
         "field 'run_id'"),
    ],
)
def test_open_run_names_what_is_damaged(tiny_run: Path, tmp_path: Path, damage, needle) -> None:
    copy = tmp_path / "damaged"
    shutil.copytree(tiny_run, copy)
    damage(copy)
    with pytest.raises(RunDirectoryError, match=needle) as info:
        tapesim.open_run(copy)
    assert "tapesim verify" in str(info.value) or "manifest.json" in str(info.value)
    with pytest.raises(RunDirectoryError, match="not a directory"):
        tapesim.open_run(tmp_path / "nothing")


def test_a_changed_snapshot_is_named(tiny_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "changed"
    shutil.copytree(tiny_run, copy)
    path = copy / "parameter_snapshot.json"
    text = path.read_text().replace('"seed": 7', '"seed": 8')
    path.write_text(text)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["artifacts"]["parameter_snapshot.json"]["bytes"] = len(text.encode())
    (copy / "manifest.json").write_text(json.dumps(manifest))
    run = tapesim.open_run(copy)  # the cheap checks do not hash
    with pytest.raises(RunDirectoryError, match=r"parameter_snapshot\.json does not hash"):
        _ = run.parameter_snapshot
    assert any("parameter_snapshot.json" in p for p in run.verify())


def test_run_cache_simulates_once(tmp_path: Path) -> None:
    settings = {"seed": 4, "end": "09:31", "symbols": "SPY", "noise": {"orders_per_s": 0.3}}
    first = RunCache(tmp_path)
    run = first("equities-smoke", **settings)
    assert first.simulated == [run.path]
    assert first("equities-smoke", **settings) is run
    again = RunCache(tmp_path)  # a later session
    assert again("equities-smoke", **settings).run_id == run.run_id
    assert again.simulated == []
    (run.path / "equity_prints.parquet").unlink()
    damaged = RunCache(tmp_path)
    assert damaged("equities-smoke", **settings).verify() == []
    assert damaged.simulated == [run.path]


def test_plugin_fixture_caches_across_sessions(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_downstream.py").write_text(textwrap.dedent("""
        def test_x(synthetic_run):
            run = synthetic_run("equities-smoke", seed=5, end="09:31", symbols="SPY",
                                noise={"orders_per_s": 0.3})
            assert run.verify() == []
            print("simulated", len(synthetic_run.simulated))
    """))
    for expected in ("simulated 1", "simulated 0"):
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s",
                                 "test_downstream.py"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert expected in result.stdout
    assert list((tmp_path / ".pytest_cache/d/tapesim-runs").iterdir())


def test_schema_command() -> None:
    listed = runner.invoke(app, ["schema"])
    assert listed.exit_code == 0
    assert listed.output.split() == schema_names()
    for name in ("RunConfig", "ParameterSnapshot", "SymbolProfile", "LiquidityProfile",
                 "VolatilityRegime", "OptionChainProfile", "ScenarioInjection", "OptionPrint",
                 "SeedBundle", "ReplayPlan", "GeneratedEventBatch", "RunManifest"):
        shown = runner.invoke(app, ["schema", name])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["title"] == name
    batch = json.loads(runner.invoke(app, ["schema", "GeneratedEventBatch"]).output)
    assert "batch" not in batch["properties"] and "first_seq" in batch["properties"]
    unknown = runner.invoke(app, ["schema", "NoSuchModel"])
    assert unknown.exit_code == 2
    assert unknown.output.strip().splitlines() == [
        "error: unknown schema 'NoSuchModel': `tapesim schema` lists the names"]


def test_version_flag() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"tapesim {tapesim.__version__}\n"


def test_batch_and_plan_models_check_their_fields(tiny_run: Path) -> None:
    run = tapesim.open_run(tiny_run)
    batch = next(run.batches("equity_print")).batch
    with pytest.raises(ValueError, match="unknown event kind"):
        GeneratedEventBatch.of("equity_trade", batch)
    with pytest.raises(ValueError, match="first_seq"):
        GeneratedEventBatch(kind="equity_print", batch=batch, first_seq=9, last_seq=2)
    assert GeneratedEventBatch.of("equity_print", batch).model_dump() == {
        "kind": "equity_print", "first_seq": batch.column("seq")[0].as_py(),
        "last_seq": batch.column("seq")[-1].as_py(), "num_rows": batch.num_rows}
    empty = run.manifest.model_copy(update={"counts": {"total": 0}})
    plan = ReplayPlan.from_manifest(empty)
    assert (plan.kinds, plan.events, plan.first_seq, plan.last_seq) == ([], 0, 1, 0)
