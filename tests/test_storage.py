"""A run in ClickHouse (CONTRACT.md §5), with the embedded engine (chdb; no server).

Load a scenario smoke run, check the tables against the contract's layout, the row
counts against the manifest, idempotence, reading back in replay order (the event-stream
digest recomputed from the rows equals the manifest's), ``--drop`` and bad input. A
ClickHouse server is not available here: the server engine is covered by URL parsing
and the unreachable-URL error only.

chdb holds one data directory per process at a time, so every test opens the module's
directory and closes it before the next (the CLI closes its own).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import tapesim
from tapesim.cli.main import app
from tapesim.events.models import KINDS_BY_NAME, OPTION_PRINT
from tapesim.io.digest import StreamDigest, pack_details, pack_records
from tapesim.storage.connect import open_source
from tapesim.storage.embedded import EmbeddedEngine
from tapesim.storage.engine import EngineError, ServerAddress, parse_url
from tapesim.storage.load import LoadConflict, load_run
from tapesim.storage.schema import database_name
from tapesim.storage.source import ClickHouseSource
from tapesim.testing.cache import RunCache

runner = CliRunner()

META = [("source_ts", "UInt64"), ("ingest_ts", "UInt64"), ("seq", "UInt64"),
        ("trace_id", "String"), ("ts", "UInt64")]
F, S, U32, U64, B = ("Nullable(Float64)", "Nullable(String)", "Nullable(UInt32)",
                     "Nullable(UInt64)", "Nullable(Bool)")
#: The four tables as CONTRACT.md §5 lists them, written out here independently of the
#: generator in tapesim.storage.schema.
CONTRACT_TABLES: dict[str, list[tuple[str, str]]] = {
    "equity_quotes": [*META, ("underlying_id", "String"), ("bid", "Float64"),
                      ("ask", "Float64")],
    "equity_prints": [*META, ("underlying_id", "String"), ("price", "Float64"),
                      ("size", "UInt32"), ("exchange", "String"), ("offExchangeFlag", "Bool")],
    "option_nbbo": [*META, ("option_contract_id", "String"), ("bid", "Float64"),
                    ("ask", "Float64"), ("bidSize", "UInt32"), ("askSize", "UInt32")],
    "option_prints": [*META, ("option_contract_id", "String"), ("price", "Float64"),
                      ("size", "UInt32"), ("exchange", "String"),
                      ("conditions", "Array(String)"), ("underlying_id", S),
                      ("option_type", S), ("notional", F), ("nbbo_side", S),
                      ("execution_nbbo_side", S), ("execution_nbbo_bid", F),
                      ("execution_nbbo_ask", F), ("execution_nbbo_mid", F),
                      ("execution_nbbo_spread", F), ("execution_nbbo_bid_size", U32),
                      ("execution_nbbo_ask_size", U32), ("execution_nbbo_ts", U64),
                      ("execution_nbbo_age_ms", F), ("execution_underlying_spot", F),
                      ("execution_underlying_bid", F), ("execution_underlying_ask", F),
                      ("execution_underlying_mid", F), ("execution_underlying_spread", F),
                      ("execution_underlying_ts", U64), ("execution_underlying_age_ms", F),
                      ("execution_underlying_source", S), ("execution_iv", F),
                      ("execution_iv_source", S), ("is_etf", B), ("signal_pass", B),
                      ("signal_reasons", "Array(String)"), ("signal_profile", S)],
}


@pytest.fixture(scope="module")
def run(synthetic_run: RunCache) -> tapesim.SyntheticRun:
    """options-smoke at seed 3 for six minutes with a stale-quote trap at 09:34."""
    return synthetic_run("options-smoke", seed=3, scenarios=["stale-quote-trap@09:34"],
                         end="09:36")


@pytest.fixture(scope="module")
def ch_dir(run: tapesim.SyntheticRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded ClickHouse directory with the run loaded once."""
    path = tmp_path_factory.mktemp("clickhouse")
    engine = EmbeddedEngine(path)
    try:
        summary = load_run(engine, run.path)
    finally:
        engine.close()
    assert not summary.already_loaded
    return path


@pytest.fixture
def engine(ch_dir: Path) -> Iterator[EmbeddedEngine]:
    opened = EmbeddedEngine(ch_dir)
    yield opened
    opened.close()


def _db(run: tapesim.SyntheticRun) -> str:
    return database_name(run.run_id)


def test_counts_equal_the_manifest(run: tapesim.SyntheticRun, engine: EmbeddedEngine) -> None:
    db = _db(run)
    assert db == "tapesim_" + run.run_id.replace("-", "_")
    for kind in KINDS_BY_NAME.values():
        got = engine.query_arrow(f"SELECT count() AS n FROM {db}.{kind.file_stem}")
        assert got.column("n")[0].as_py() == run.manifest.counts[kind.name], kind.name
    provenance = engine.query_arrow(f"SELECT count() AS n FROM {db}.provenance")
    assert provenance.column("n")[0].as_py() == run.manifest.counts["total"]
    labels = engine.query_arrow(f"SELECT label_id, anchor_trace_ids FROM {db}.labels")
    assert labels.num_rows == len(run.labels) == 1
    assert labels.column("label_id")[0].as_py() == run.labels[0].label_id
    assert engine.query_arrow(f"SELECT * FROM {db}.expected_outputs").num_rows == 1


def test_schema_is_the_contracts(run: tapesim.SyntheticRun, engine: EmbeddedEngine) -> None:
    db = _db(run)
    for table, columns in CONTRACT_TABLES.items():
        got = engine.query_arrow(
            f"SELECT name, type, default_expression FROM system.columns WHERE database = "
            f"'{db}' AND table = '{table}' ORDER BY position").to_pylist()
        assert [(c["name"], c["type"]) for c in got] == columns, table
        defaults = {c["name"]: c["default_expression"] for c in got if c["default_expression"]}
        assert defaults == ({"signal_reasons": "[]"} if table == "option_prints" else {})
        meta = engine.query_arrow(
            f"SELECT engine, sorting_key FROM system.tables WHERE database = '{db}' AND "
            f"name = '{table}'").to_pylist()
        key = "option_contract_id" if table.startswith("option") else "underlying_id"
        assert meta == [{"engine": "MergeTree", "sorting_key": f"ts, {key}"}]
        index = engine.query_arrow(
            f"SELECT expr, type FROM system.data_skipping_indices WHERE database = '{db}' "
            f"AND table = '{table}'").to_pylist()
        assert index == [{"expr": "trace_id", "type": "bloom_filter"}]


def test_loading_twice_adds_nothing(run: tapesim.SyntheticRun, engine: EmbeddedEngine) -> None:
    before = engine.query_arrow(f"SELECT count() AS n FROM {_db(run)}.option_nbbo")
    again = load_run(engine, run.path)
    assert again.already_loaded and again.rows["option_nbbo"] == run.manifest.counts[
        "option_nbbo"]
    after = engine.query_arrow(f"SELECT count() AS n FROM {_db(run)}.option_nbbo")
    assert before.equals(after)
    runs = engine.query_arrow(f"SELECT run_id FROM {_db(run)}.runs").to_pylist()
    assert runs == [{"run_id": run.run_id}]


def test_read_back_in_replay_order_equals_the_run(run: tapesim.SyntheticRun,
                                                 engine: EmbeddedEngine) -> None:
    source = ClickHouseSource(engine, _db(run), window_rows=50_000)
    assert source.plan == run.replay_plan()
    assert source.count() == run.manifest.counts["total"]
    digest, last, kinds = StreamDigest(), 0, set()
    for batch in source.batches():
        kind = KINDS_BY_NAME[batch.kind]
        assert batch.batch.schema.equals(kind.schema)
        assert batch.first_seq > last
        last = batch.last_seq
        kinds.add(batch.kind)
        table = pa.Table.from_batches([batch.batch])
        digest.update(pack_records(kind, table))
        if kind is OPTION_PRINT:
            digest.update_details(pack_details(table))
    assert last == run.manifest.counts["total"]
    assert kinds == set(KINDS_BY_NAME)
    assert digest.hexdigest() == run.manifest.event_stream.sha256
    prints = pa.Table.from_batches(
        [b.batch for b in source.batches() if b.kind == "option_print"])
    assert prints.to_pylist() == run.table("option_print").to_pylist()


def test_read_back_a_selection(run: tapesim.SyntheticRun, engine: EmbeddedEngine) -> None:
    source = ClickHouseSource(engine, _db(run))
    start = run.manifest.time_range.first_ts + 60_000
    end = start + 60_000
    rows = [b for b in source.batches(symbols=["SPY"], start_ts=start, end_ts=end,
                                      from_seq=100)]
    seqs = [s for b in rows for s in b.batch.column("seq").to_pylist()]
    ts = [t for b in rows for t in b.batch.column("ts").to_pylist()]
    assert seqs == sorted(seqs) and seqs[0] >= 100 and start <= min(ts) and max(ts) < end
    assert len(seqs) == source.count(symbols=["SPY"], start_ts=start, end_ts=end,
                                     from_seq=100)
    assert source.count(symbols=["QQQ"]) == 0


def test_cli_load_and_drop(run: tapesim.SyntheticRun, tmp_path: Path) -> None:
    where = tmp_path / "ch"
    first = runner.invoke(app, ["load", str(run.path), "--clickhouse",
                                "--clickhouse-path", str(where)])
    assert first.exit_code == 0, first.output
    assert "loaded" in first.output and "rows/s" in first.output
    assert "option_nbbo" in first.output
    second = runner.invoke(app, ["load", str(run.path), "--clickhouse",
                                 "--clickhouse-path", str(where)])
    assert second.exit_code == 0 and "nothing added" in second.output
    dropped = runner.invoke(app, ["load", str(run.path), "--clickhouse", "--drop",
                                  "--clickhouse-path", str(where)])
    assert dropped.exit_code == 0 and _db(run) in dropped.output
    engine = EmbeddedEngine(where)
    try:
        names = engine.query_arrow("SELECT name FROM system.databases").column("name")
        assert _db(run) not in names.to_pylist()
    finally:
        engine.close()


def test_damaged_run_exits_2_pointing_to_verify(run: tapesim.SyntheticRun,
                                                tmp_path: Path) -> None:
    damaged = tmp_path / "run"
    shutil.copytree(run.path, damaged)
    (damaged / "option_prints.parquet").write_bytes(b"x")
    result = runner.invoke(app, ["load", str(damaged), "--clickhouse",
                                 "--clickhouse-path", str(tmp_path / "ch")])
    assert result.exit_code == 2
    assert "tapesim verify" in result.output and result.output.count("\n") == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_url_exits_2_naming_it(run: tapesim.SyntheticRun) -> None:
    port = _closed_port()
    result = runner.invoke(app, ["load", str(run.path), "--clickhouse",
                                 f"clickhouse://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output and result.output.count("\n") == 1
    bad = runner.invoke(app, ["load", str(run.path), "--clickhouse", "ftp://host"])
    assert bad.exit_code == 2 and "ftp://host" in bad.output
    bare = runner.invoke(app, ["load", str(run.path)])
    assert bare.exit_code == 2 and "--clickhouse" in bare.output


def test_parse_url() -> None:
    assert parse_url("clickhouse://db.local") == ServerAddress("db.local", 8123)
    assert parse_url("clickhouses://u:p%40ss@db:9440/tapesim_tsim_0") == ServerAddress(
        "db", 9440, secure=True, username="u", password="p@ss", database="tapesim_tsim_0")
    assert parse_url("http://127.0.0.1:8124/").port == 8124
    assert parse_url("https://ch.example").port == 8443
    assert "p@ss" not in parse_url("clickhouse://u:p%40ss@db").url
    for bad in ("ftp://db", "clickhouse://", "clickhouse://db:port", "db:8123"):
        with pytest.raises(EngineError):
            parse_url(bad)


def test_open_source(run: tapesim.SyntheticRun, ch_dir: Path) -> None:
    source = open_source(None, _db(run), ch_dir)
    try:
        assert source.plan.events == run.manifest.counts["total"]
        first = next(source.batches())
        assert first.first_seq == 1 and first.kind == "equity_quote"
    finally:
        source.engine.close()
    with pytest.raises(EngineError, match="tapesim_<run_id>"):
        open_source("clickhouse://127.0.0.1:1")
    with pytest.raises(EngineError, match="holds no loaded run"):
        open_source(None, "tapesim_nothing_here", ch_dir)


def test_a_file_damaged_inside_exits_2_and_leaves_nothing(run: tapesim.SyntheticRun,
                                                          tmp_path: Path) -> None:
    damaged = tmp_path / "run"
    shutil.copytree(run.path, damaged)
    path = damaged / "option_nbbo.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 4096] = bytes(4096)  # same size, bad pages
    path.write_bytes(bytes(data))
    where = tmp_path / "ch"
    result = runner.invoke(app, ["load", str(damaged), "--clickhouse",
                                 "--clickhouse-path", str(where)])
    assert result.exit_code == 2, result.output
    assert "tapesim verify" in result.output and "option_nbbo" in result.output
    engine = EmbeddedEngine(where)
    try:
        for table in ("equity_quotes", "option_nbbo", "runs"):
            got = engine.query_arrow(f"SELECT count() AS n FROM {_db(run)}.{table}")
            assert got.column("n")[0].as_py() == 0, table
    finally:
        engine.close()


def test_interrupted_load_is_redone_and_another_manifest_refused(
        run: tapesim.SyntheticRun, tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "ch")
    db = _db(run)
    try:
        load_run(engine, run.path)
        engine.command(f"TRUNCATE TABLE {db}.runs")  # as if the load had stopped
        again = load_run(engine, run.path)
        assert not again.already_loaded
        got = engine.query_arrow(f"SELECT count() AS n FROM {db}.option_nbbo")
        assert got.column("n")[0].as_py() == run.manifest.counts["option_nbbo"]
        other = tmp_path / "run"
        shutil.copytree(run.path, other)
        manifest = json.loads((other / "manifest.json").read_text("utf-8"))
        (other / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
        with pytest.raises(LoadConflict, match="--drop"):
            load_run(engine, other)
    finally:
        engine.close()


def _replay_lines(location: str) -> list[str]:
    """``tapesim replay LOCATION --to jsonl`` of one minute of SPY, in a process of its
    own (an embedded ClickHouse directory stays open for its process's life)."""
    code = "import sys; from tapesim.cli import app; sys.argv[0] = 'tapesim'; app()"
    args = ["replay", location, "--to", "jsonl", "--symbols", "SPY", "--start", "09:34",
            "--end", "09:35", "--no-progress"]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("{")]


def test_replay_from_storage_publishes_what_the_run_directory_does(
        run: tapesim.SyntheticRun, ch_dir: Path) -> None:
    from_storage = _replay_lines(f"chdb://{ch_dir}/{_db(run)}")
    assert from_storage and from_storage == _replay_lines(str(run.path))
