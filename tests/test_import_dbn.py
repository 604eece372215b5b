"""``tapesim import dbn``: trades and mbp-1 DBN files the test encodes itself (raw and zstd)
with the databento-dbn package, checked value by value, and each bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.sim.calendar import NEW_YORK
from tapesim.verify.run import verify_run

dbn = pytest.importorskip("databento_dbn")

DAY = dt.date(2024, 3, 5)
OPEN_NS = int(dt.datetime.combine(DAY, dt.time(9, 30), tzinfo=NEW_YORK).timestamp()) * 10**9
runner = CliRunner()
IDS = {"SPY": 15, "AAPL": 7}
SCALE = 10**9  # DBN prices: 1e-9 dollars


def _metadata(schema: object, dataset: str = "XNAS.ITCH") -> bytes:
    mappings = [SimpleNamespace(raw_symbol=s, intervals=[SimpleNamespace(
        start_date=DAY, end_date=DAY + dt.timedelta(days=1), symbol=str(i))])
        for s, i in IDS.items()]
    return dbn.Metadata(dataset=dataset, schema=schema, start=OPEN_NS,
                        stype_in=dbn.SType.RAW_SYMBOL, stype_out=dbn.SType.INSTRUMENT_ID,
                        symbols=list(IDS), mappings=mappings).encode()


def _records(n: int = 200, seed: int = 5) -> list[dict]:
    rng = np.random.default_rng(seed)
    ns, rows = OPEN_NS, []
    mids = {"SPY": 51_011, "AAPL": 17_050}  # cents
    for _ in range(n):
        ns += int(rng.integers(0, 3_000_000_000))
        sym = "SPY" if rng.random() < 0.6 else "AAPL"
        mids[sym] += int(rng.integers(-1, 2))
        trade = rng.random() < 0.4
        rows.append({"ns": ns, "sym": sym, "trade": trade,
                     "side": str(rng.choice(["A", "B", "N"])),
                     "price": mids[sym] + int(rng.integers(-1, 2)),
                     "size": int(rng.choice([100, 7])),
                     "bid": mids[sym] - 1, "ask": mids[sym] + 1})
    return rows


def _mbp1(r: dict) -> bytes:
    level = dbn.BidAskPair(bid_px=r["bid"] * SCALE // 100, ask_px=r["ask"] * SCALE // 100,
                           bid_sz=300, ask_sz=400, bid_ct=1, ask_ct=1)
    return bytes(dbn.MBP1Msg(publisher_id=2, instrument_id=IDS[r["sym"]], ts_event=r["ns"],
                             price=r["price"] * SCALE // 100, size=r["size"],
                             action=dbn.Action.TRADE if r["trade"] else dbn.Action.ADD,
                             side=dbn.Side(r["side"]), depth=0, ts_recv=r["ns"] + 1000,
                             levels=level))


def _trade(r: dict) -> bytes:
    return bytes(dbn.TradeMsg(publisher_id=2, instrument_id=IDS[r["sym"]], ts_event=r["ns"],
                              price=r["price"] * SCALE // 100, size=r["size"],
                              action=dbn.Action.TRADE, side=dbn.Side(r["side"]), depth=0,
                              ts_recv=r["ns"] + 1000))


def _write(path: Path, schema: object, rows: list[dict], zstd: bool = False) -> Path:
    encode = _trade if schema == dbn.Schema.TRADES else _mbp1
    data = _metadata(schema) + b"".join(encode(r) for r in rows)
    if zstd:
        with pa.output_stream(str(path), compression="zstd") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _import(path: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "dbn", str(path), "--date", DAY.isoformat(),
                                 "--out", str(out), *extra])
    return result.exit_code, result.output


def _ms(ns: int) -> int:
    return ns // 10**6


@pytest.mark.parametrize("zstd", [False, True])
def test_mbp1_values(tmp_path: Path, zstd: bool) -> None:
    rows = _records()
    name = "day.dbn.zst" if zstd else "day.dbn"
    path = _write(tmp_path / name, dbn.Schema.MBP_1, rows, zstd)
    code, output = _import(path, tmp_path / "run")
    assert code == 0, output
    run = tmp_path / "run"
    prints = pq.read_table(run / "equity_prints.parquet").to_pylist()
    assert [(p["ts"], p["underlying_id"], p["price"], p["size"], p["exchange"]) for p in prints] \
        == [(_ms(r["ns"]), r["sym"], r["price"] / 100, r["size"], "NASDAQ")
            for r in rows if r["trade"]]
    expected, last = [], {}
    for r in rows:
        if last.get(r["sym"]) != (r["bid"], r["ask"]):
            last[r["sym"]] = (r["bid"], r["ask"])
            expected.append((_ms(r["ns"]), r["sym"], r["bid"] / 100, r["ask"] / 100))
    quotes = pq.read_table(run / "equity_quotes.parquet").to_pylist()
    assert [(q["ts"], q["underlying_id"], q["bid"], q["ask"]) for q in quotes] == expected
    events = pq.read_table(run / "source_events.parquet").to_pylist()
    sides = [e["aggressor"] for e in events if e["source_event"] == "trade"]
    assert sides == [{"A": "sell", "B": "buy", "N": None}[r["side"]] for r in rows if r["trade"]]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["source"]["format"] == "dbn" and manifest["source"]["quotes"] == "venue_bbo"
    assert manifest["symbols"] == list(dict.fromkeys(r["sym"] for r in rows))
    assert verify_run(run) == []


def test_trades_and_symbol_filter(tmp_path: Path) -> None:
    rows = _records()
    path = _write(tmp_path / "t.dbn", dbn.Schema.TRADES, rows)
    code, output = _import(path, tmp_path / "run", "--symbol", "aapl")
    assert code == 0, output
    prints = pq.read_table(tmp_path / "run" / "equity_prints.parquet").to_pylist()
    assert [(p["ts"], p["price"]) for p in prints] == [
        (_ms(r["ns"]), r["price"] / 100) for r in rows if r["sym"] == "AAPL"]
    assert pq.read_table(tmp_path / "run" / "equity_quotes.parquet").num_rows == 0
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["source"]["lacks"][0] \
        == "quotes"


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-13])


def _not_dbn(path: Path) -> None:
    path.write_bytes(b"time,price\n1,2\n")


def _ohlcv(path: Path) -> None:
    path.write_bytes(_metadata(dbn.Schema.OHLCV_1S))


def _other_dataset(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(_metadata(dbn.Schema.MBP_1, "GLBX.MDP3") + data[len(
        _metadata(dbn.Schema.MBP_1)):])


@pytest.mark.parametrize(("mutate", "args", "needle"), [
    (_truncated, [], "less than a 80-byte mbp-1 record: the file is truncated"),
    (_not_dbn, [], "not a DBN file"),
    (_ohlcv, [], "schema ohlcv-1s is not imported"),
    (_other_dataset, [], "dataset GLBX.MDP3 is not a single venue"),
    (None, ["--date", "2024-03-04"], "is not on --date 2024-03-04"),
    (None, ["--symbol", "MSFT"], "no record of --symbol MSFT"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, mutate, args: list[str],
                                              needle: str) -> None:
    path = _write(tmp_path / "day.dbn", dbn.Schema.MBP_1, _records(40))
    if mutate is not None:
        mutate(path)
    cmd = ["import", "dbn", str(path), "--out", str(tmp_path / "out")]
    cmd += args if "--date" in args else ["--date", DAY.isoformat(), *args]
    result = runner.invoke(app, cmd)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()
