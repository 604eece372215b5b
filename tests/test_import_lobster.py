"""``tapesim import lobster``: a LOBSTER pair the test writes itself, checked value by value,
through verify and facts, byte-stable, and every class of bad input (exit 2, no output)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import tapesim
from tapesim.calibration.facts import equity_facts
from tapesim.calibration.importers.lobster import read_lobster
from tapesim.calibration.importers.writer import WRITE_STEPS, write_imported_run
from tapesim.cli.main import app
from tapesim.io.manifest import RunDirectoryError
from tapesim.sim.calendar import NEW_YORK
from tapesim.verify.run import skipped_checks, verify_run
from tests.import_files import EMPTY_ASK, EMPTY_BID, LobsterPair, lobster_pair
from tests.test_data_doc import _columns, _sections

DAY = dt.date(2012, 6, 21)
MIDNIGHT_MS = int(dt.datetime.combine(DAY, dt.time(0), tzinfo=NEW_YORK).timestamp()) * 1000
runner = CliRunner()


def _import(pair: LobsterPair, out: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "lobster", str(pair.message), str(pair.orderbook),
                                 "--date", DAY.isoformat(), "--symbol", "AMZN", "--out",
                                 str(out), *extra])
    return result.exit_code, result.output


def _ms(text: str) -> int:
    whole, frac = text.split(".")
    return MIDNIGHT_MS + int(whole) * 1000 + int(frac[:3])


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[LobsterPair, Path]:
    folder = tmp_path_factory.mktemp("lobster")
    pair = lobster_pair(folder, DAY)
    code, output = _import(pair, folder / "run")
    assert code == 0, output
    return pair, folder / "run"


def test_prints_are_the_executions(imported: tuple[LobsterPair, Path]) -> None:
    pair, run = imported
    executions = [m for m in pair.messages if m[1] in (4, 5)]
    assert len(executions) > 50
    prints = pq.read_table(run / "equity_prints.parquet").to_pylist()
    assert [(p["ts"], p["price"], p["size"]) for p in prints] == [
        (_ms(t), price / 10_000, size) for t, _k, _o, size, price, _d in executions]
    assert {(p["exchange"], p["offExchangeFlag"]) for p in prints} == {("NASDAQ", False)}
    assert all(p["source_ts"] == p["ingest_ts"] == p["ts"] for p in prints)
    events = {e["seq"]: e for e in pq.read_table(run / "source_events.parquet").to_pylist()}
    for p, m in zip(prints, executions, strict=True):
        e = events[p["seq"]]
        assert e["source_event"] == ("hidden_execution" if m[1] == 5 else "visible_execution")
        assert e["aggressor"] == ("buy" if m[5] == -1 else "sell")
        assert e["order_id"] == m[2]
        assert pair.messages[e["source_line"] - 1] == m


def test_quotes_are_the_best_level_changes(imported: tuple[LobsterPair, Path]) -> None:
    pair, run = imported
    expected, last = [], None
    for (t, *_rest), row in zip(pair.messages, pair.book, strict=True):
        ask, bid = row[0], row[2]
        if ask == EMPTY_ASK or bid == EMPTY_BID or (bid, ask) == last:
            continue
        last = (bid, ask)
        expected.append((_ms(t), bid / 10_000, ask / 10_000))
    assert pair.book[0][0] == EMPTY_ASK  # the day starts one-sided: no quote for it
    quotes = pq.read_table(run / "equity_quotes.parquet").to_pylist()
    assert len(expected) > 10
    assert [(q["ts"], q["bid"], q["ask"]) for q in quotes] == expected
    assert {q["underlying_id"] for q in quotes} == {"AMZN"}


def test_replay_order_seq_and_trace_ids(imported: tuple[LobsterPair, Path]) -> None:
    _pair, run = imported
    manifest = json.loads((run / "manifest.json").read_text())
    rows = [(r["ts"], 0, r["seq"], r["trace_id"]) for r in
            pq.read_table(run / "equity_quotes.parquet").to_pylist()]
    rows += [(r["ts"], 2, r["seq"], r["trace_id"]) for r in
             pq.read_table(run / "equity_prints.parquet").to_pylist()]
    by_seq = sorted(rows, key=lambda r: r[2])
    assert [r[2] for r in by_seq] == list(range(1, len(rows) + 1))
    assert [r[:2] for r in by_seq] == sorted(r[:2] for r in rows)  # ts, then quotes first
    stream = {0: "equity-quote", 2: "equity-print"}
    assert all(r[3] == f"{manifest['run_id']}:{stream[r[1]]}:{r[2]}" for r in rows)


def test_manifest_says_where_the_tape_came_from(imported: tuple[LobsterPair, Path]) -> None:
    pair, run = imported
    manifest = json.loads((run / "manifest.json").read_text())
    source = manifest["source"]
    assert source["kind"] == "real" and source["format"] == "lobster"
    assert source["quotes"] == "venue_bbo" and source["venue"] == "NASDAQ"
    names = [f["name"] for f in source["files"]]
    assert names == [pair.message.name, pair.orderbook.name]
    assert source["files"][0]["sha256"] == hashlib.sha256(pair.message.read_bytes()).hexdigest()
    assert source["files"][1]["rows"] == len(pair.book)
    assert manifest["conservation"] == {} and manifest["symbols"] == ["AMZN"]
    prov = pq.read_table(run / "provenance.parquet")
    assert set(prov.column("source_kind").to_pylist()) == {"real_market"}


def test_verify_and_facts_run_on_the_import(imported: tuple[LobsterPair, Path]) -> None:
    _pair, run = imported
    assert verify_run(run) == []
    manifest = json.loads((run / "manifest.json").read_text())
    assert any("conservation" in s for s in skipped_checks(manifest))
    rows = {r.fact: r for r in equity_facts(run)}
    assert rows["off_exchange_share"].status == "n/a"
    assert rows["off_exchange_share"].note == "n/a: the source has no off-exchange prints"
    assert rows["impact_exponent"].note == "n/a: the source has no parent orders"
    assert rows["spread_median_ticks"].value is not None
    assert rows["odd_lot_share"].value == pytest.approx(
        np.mean(pq.read_table(run / "equity_prints.parquet").column("size").to_numpy() < 100))
    result = runner.invoke(app, ["verify", str(run)])
    assert result.exit_code == 0 and "skip conservation" in result.output


def test_import_is_byte_stable(imported: tuple[LobsterPair, Path], tmp_path: Path) -> None:
    pair, run = imported
    code, output = _import(pair, tmp_path / "again")
    assert code == 0, output
    for path in sorted(run.iterdir()):
        assert (tmp_path / "again" / path.name).read_bytes() == path.read_bytes(), path.name


def _cut_last_line(pair: LobsterPair) -> None:
    text = pair.message.read_text()
    pair.message.write_text(text[: text.rstrip("\n").rfind("\n") + 12])


def _drop_book_lines(pair: LobsterPair) -> None:
    lines = pair.orderbook.read_text().splitlines(keepends=True)
    pair.orderbook.write_text("".join(lines[:-5]))


def _header(pair: LobsterPair) -> None:
    pair.message.write_text("Time,Type,OrderID,Size,Price,Direction\n" + pair.message.read_text())


def _unsorted(pair: LobsterPair) -> None:
    for path in (pair.message, pair.orderbook):
        lines = path.read_text().splitlines(keepends=True)
        lines[20], lines[21] = lines[21], lines[20]
        path.write_text("".join(lines))


def _crossed(pair: LobsterPair) -> None:
    lines = pair.orderbook.read_text().splitlines(keepends=True)
    fields = lines[-1].rstrip("\n").split(",")
    fields[2] = str(int(fields[0]) + 100)
    lines[-1] = ",".join(fields) + "\n"
    pair.orderbook.write_text("".join(lines))


def _extra_field(pair: LobsterPair) -> None:
    lines = pair.message.read_text().splitlines(keepends=True)
    lines[29] = lines[29].rstrip("\n") + ",1\n"
    pair.message.write_text("".join(lines))


def _short_book_line(pair: LobsterPair) -> None:
    """The last book line cut inside its second level: the best level still reads."""
    lines = pair.orderbook.read_text().splitlines(keepends=True)
    lines[-1] = ",".join(lines[-1].rstrip("\n").split(",")[:7]) + "\n"
    pair.orderbook.write_text("".join(lines))


def _bad_type(pair: LobsterPair) -> None:
    lines = pair.message.read_text().splitlines(keepends=True)
    fields = lines[9].split(",")
    fields[1] = "9"
    lines[9] = ",".join(fields)
    pair.message.write_text("".join(lines))


@pytest.mark.parametrize(("mutate", "args", "needle"), [
    (_cut_last_line, {}, "line 400: 1 fields where 6 are expected"),
    (_extra_field, {}, "line 30: 7 fields where 6 are expected"),
    (_short_book_line, {}, "line 400: 7 fields where 8 are expected"),
    (_drop_book_lines, {}, "395 lines but"),
    (_header, {}, "line 1: field 1 'Time' is not a number"),
    (_unsorted, {}, "line 22: time goes back from line 21"),
    (_crossed, {}, "line 400: best bid"),
    (_bad_type, {}, "line 10: event type 9 is not 1-7"),
    (None, {"swap": True}, "a LOBSTER orderbook has 4 per level"),
    (None, {"--date": "2012-06-22"}, "not --date 2012-06-22"),
    (None, {"--date": "2012-06-23"}, "not an NYSE trading day"),
    (None, {"--date": "21/06/2012"}, "write YYYY-MM-DD"),
    (None, {"--symbol": "AAPL"}, "not --symbol AAPL"),
    (None, {"missing": True}, "no such file"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, mutate, args: dict,
                                              needle: str) -> None:
    pair = lobster_pair(tmp_path, DAY, n=400)
    if mutate is not None:
        mutate(pair)
    message, orderbook = pair.message, pair.orderbook
    if args.get("swap"):
        message, orderbook = orderbook, message
    if args.get("missing"):
        orderbook = tmp_path / "nope_orderbook.csv"
    out = tmp_path / "out"
    result = runner.invoke(app, ["import", "lobster", str(message), str(orderbook), "--date",
                                 args.get("--date", DAY.isoformat()), "--symbol",
                                 args.get("--symbol", "AMZN"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_writer_reports_each_step(imported: tuple[LobsterPair, Path], tmp_path: Path) -> None:
    """The progress of ``tapesim import``: the writer's steps, in order, each once."""
    pair, run = imported
    steps: list[tuple[int, int]] = []
    tape = read_lobster(pair.message, pair.orderbook, DAY, "AMZN")
    write_imported_run(tape, tmp_path / "again", progress=lambda d, t: steps.append((d, t)))
    assert steps == [(k, WRITE_STEPS) for k in range(1, WRITE_STEPS + 1)]
    assert (tmp_path / "again" / "manifest.json").read_bytes() == \
        (run / "manifest.json").read_bytes()
    code, output = _import(pair, tmp_path / "quiet", "--quiet")
    assert code == 0 and output.startswith("imported "), output


def test_existing_output_is_refused(imported: tuple[LobsterPair, Path]) -> None:
    pair, run = imported
    code, output = _import(pair, run)
    assert code == 2 and "--force" in output


def test_source_events_columns_are_documented(imported: tuple[LobsterPair, Path]) -> None:
    _pair, run = imported
    documented = _columns(_sections()["source_events.parquet"])
    schema = pq.read_schema(run / "source_events.parquet")
    assert {f.name: (str(f.type), f.nullable) for f in schema} == documented


def test_replay_and_export_read_the_import(imported: tuple[LobsterPair, Path],
                                           tmp_path: Path) -> None:
    _pair, run = imported
    total = json.loads((run / "manifest.json").read_text())["counts"]["total"]
    replayed = runner.invoke(app, ["replay", str(run), "--to", "jsonl"])
    assert replayed.exit_code == 0, replayed.output
    lines = [json.loads(x) for x in replayed.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == total
    assert [x["event"]["seq"] for x in lines] == list(range(1, total + 1))
    exported = runner.invoke(app, ["export", str(run), "--format", "jsonl", "--out",
                                   str(tmp_path / "x")])
    assert exported.exit_code == 0, exported.output
    assert f"exported {total} events" in exported.output


def test_python_api_opens_the_import(imported: tuple[LobsterPair, Path]) -> None:
    _pair, run = imported
    opened = tapesim.open_run(run)
    assert opened.manifest.source is not None and opened.manifest.source.format == "lobster"
    assert opened.table("equity_print").num_rows == opened.manifest.counts["equity_print"]
    with pytest.raises(RunDirectoryError, match="imported from a real tape"):
        _ = opened.parameter_snapshot
