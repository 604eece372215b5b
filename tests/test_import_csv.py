"""``tapesim import csv --map``: a CSV the test writes itself in several time formats and
price units, checked value by value, through verify and facts, and each bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tapesim.calibration.facts import equity_facts
from tapesim.cli.main import app
from tapesim.sim.calendar import NEW_YORK
from tapesim.verify.run import verify_run

DAY = dt.date(2024, 3, 5)
MIDNIGHT = dt.datetime.combine(DAY, dt.time(0), tzinfo=NEW_YORK)
runner = CliRunner()
HEADER = ["time", "sym", "px", "qty", "bid", "ask", "ex"]
MAP = """quotes = "nbbo"
[columns]
ts = "time"
symbol = "sym"
price = "px"
size = "qty"
bid = "bid"
ask = "ask"
exchange = "ex"
[time]
format = "{fmt}"
[prices]
unit = "{unit}"
[venues]
off_exchange = ["FINN", "FINY"]
"""


def _rows(n: int = 300, seed: int = 3) -> list[dict]:
    """Seeded rows: quotes and prints of SPY and AAPL from 09:30, ns times, cent prices."""
    rng = np.random.default_rng(seed)
    ns = (9 * 3600 + 30 * 60) * 10**9
    mids = {"SPY": 51_011, "AAPL": 17_050}  # cents
    rows = []
    for _ in range(n):
        ns += int(rng.integers(0, 2_000_000_000))
        sym = "SPY" if rng.random() < 0.6 else "AAPL"
        mids[sym] += int(rng.integers(-1, 2))
        if rng.random() < 0.5:
            rows.append({"ns": ns, "sym": sym, "bid": mids[sym] - 1, "ask": mids[sym] + 1})
        else:
            rows.append({"ns": ns, "sym": sym, "px": mids[sym] + int(rng.integers(-1, 2)),
                         "qty": int(rng.choice([100, 37, 200, 5])),
                         "ex": str(rng.choice(["NASDAQ", "ARCA", "FINN"]))})
    return rows


def _time_text(ns: int, fmt: str) -> str:
    at = MIDNIGHT + dt.timedelta(microseconds=ns // 1000)
    epoch_ns = int(MIDNIGHT.timestamp()) * 10**9 + ns
    return {
        "iso": f"{at:%Y-%m-%d %H:%M:%S}.{ns % 10**9:09d}",
        "iso_utc": f"{at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S}.{ns % 10**9:09d}Z",
        "epoch_ns": str(epoch_ns),
        "epoch_ms": str(epoch_ns // 10**6),
        "seconds_after_midnight": f"{ns // 10**9}.{ns % 10**9:09d}",
        "time_of_day": f"{at:%H:%M:%S}.{ns % 10**9:09d}",
    }[fmt]


def _write(folder: Path, rows: list[dict], fmt: str = "iso", unit: str = "dollars",
           map_text: str | None = None) -> tuple[Path, Path]:
    def price(cents: int | None) -> str:
        if cents is None:
            return ""
        return {"dollars": f"{cents / 100:.2f}", "cents": str(cents),
                "ten_thousandths": str(cents * 100)}[unit]

    lines = [",".join(HEADER)]
    for r in rows:
        lines.append(",".join([_time_text(r["ns"], fmt), r["sym"], price(r.get("px")),
                               str(r.get("qty", "")), price(r.get("bid")),
                               price(r.get("ask")), r.get("ex", "")]))
    data, column_map = folder / "tape.csv", folder / "map.toml"
    data.write_text("\n".join(lines) + "\n")
    map_fmt = "iso" if fmt == "iso_utc" else fmt
    column_map.write_text(map_text if map_text is not None else
                          MAP.format(fmt=map_fmt, unit=unit))
    return data, column_map


def _import(data: Path, column_map: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "csv", str(data), "--map", str(column_map),
                                 "--date", DAY.isoformat(), "--out", str(out), *extra])
    return result.exit_code, result.output


def _ms(ns: int) -> int:
    return int(MIDNIGHT.timestamp()) * 1000 + ns // 10**6


@pytest.mark.parametrize(("fmt", "unit"), [
    ("iso", "dollars"), ("iso_utc", "cents"), ("epoch_ns", "ten_thousandths"),
    ("epoch_ms", "dollars"), ("seconds_after_midnight", "cents"), ("time_of_day", "dollars"),
])
def test_values_whatever_the_time_format_and_unit(tmp_path: Path, fmt: str, unit: str) -> None:
    rows = _rows()
    data, column_map = _write(tmp_path, rows, fmt, unit)
    code, output = _import(data, column_map, tmp_path / "run")
    assert code == 0, output
    run = tmp_path / "run"
    prints = pq.read_table(run / "equity_prints.parquet").to_pylist()
    assert [(p["ts"], p["underlying_id"], p["price"], p["size"], p["exchange"],
             p["offExchangeFlag"]) for p in prints] == [
        (_ms(r["ns"]), r["sym"], r["px"] / 100, r["qty"], r["ex"], r["ex"] == "FINN")
        for r in rows if "px" in r]
    expected, last = [], {}
    for r in rows:
        if "bid" in r and last.get(r["sym"]) != (r["bid"], r["ask"]):
            last[r["sym"]] = (r["bid"], r["ask"])
            expected.append((_ms(r["ns"]), r["sym"], r["bid"] / 100, r["ask"] / 100))
    quotes = pq.read_table(run / "equity_quotes.parquet").to_pylist()
    assert [(q["ts"], q["underlying_id"], q["bid"], q["ask"]) for q in quotes] == expected
    assert verify_run(run) == []


def test_facts_on_a_prints_only_file_say_what_the_source_lacks(tmp_path: Path) -> None:
    rows = [r for r in _rows() if "px" in r]
    map_text = MAP.format(fmt="iso", unit="dollars").replace('bid = "bid"\nask = "ask"\n', "")
    map_text = map_text.replace('exchange = "ex"\n', "").replace(
        'off_exchange = ["FINN", "FINY"]', 'default = "NASDAQ"')
    data, column_map = _write(tmp_path, rows, map_text=map_text)
    code, output = _import(data, column_map, tmp_path / "run")
    assert code == 0, output
    facts = {(r.symbol, r.fact): r for r in equity_facts(tmp_path / "run")}
    assert facts[("SPY", "spread_median_ticks")].note == "n/a: the source has no quotes"
    assert facts[("SPY", "off_exchange_share")].note == \
        "n/a: the source has no off-exchange prints"
    assert facts[("SPY", "odd_lot_share")].status in ("in", "out")
    assert verify_run(tmp_path / "run") == []


def test_symbol_filter(tmp_path: Path) -> None:
    rows = _rows()
    data, column_map = _write(tmp_path, rows)
    code, output = _import(data, column_map, tmp_path / "run", "--symbol", "aapl")
    assert code == 0, output
    prints = pq.read_table(tmp_path / "run" / "equity_prints.parquet")
    assert set(prints.column("underlying_id").to_pylist()) == {"AAPL"}
    assert prints.num_rows == sum(1 for r in rows if "px" in r and r["sym"] == "AAPL")


def _edit(line: int, column: str, value: str):
    def mutate(data: Path, _map: Path) -> None:
        lines = data.read_text().splitlines()
        fields = lines[line - 1].split(",")
        fields[HEADER.index(column)] = value
        lines[line - 1] = ",".join(fields)
        data.write_text("\n".join(lines) + "\n")
    return mutate


def _map_edit(old: str, new: str):
    def mutate(_data: Path, column_map: Path) -> None:
        column_map.write_text(column_map.read_text().replace(old, new))
    return mutate


def _truncate(data: Path, _map: Path) -> None:
    text = data.read_text()
    data.write_text(text[: text.rstrip("\n").rfind("\n") + 20])


def _swap(data: Path, _map: Path) -> None:
    lines = data.read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    data.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("mutate", "needle"), [
    (_map_edit('px', 'price_x'), "no column 'price_x' (map field columns.price"),
    (_map_edit('ts = "time"\n', ''), "field 'columns.ts': Field required"),
    (_map_edit('size = "qty"\n', ''), "price and size go together"),
    (_map_edit('[time]', '[time'), "not TOML"),
    (_map_edit('format = "iso"', 'format = "unix"'), "field 'time.format'"),
    (_map_edit('format = "iso"', 'format = "iso"\nzone = "Mars/Base"'), "unknown time zone"),
    (_map_edit('"FINN", "FINY"', '"finn"'), "field 'venues.off_exchange'"),
    (_edit(5, "time", "2024-03-06 09:31:00"), "line 5: time 2024-03-06 09:31:00 New York is "
                                              "not on --date 2024-03-05"),
    (_edit(7, "time", "yesterday"), "line 7: time 'yesterday' is not ISO-8601"),
    (_swap, "line 12: time goes back from line"),
    (_truncate, "fields where 7 are expected"),
    (_edit(9, "qty", "lots"), "line 9: column 'qty': 'lots' is not a number"),
    (_edit(9, "sym", ""), "line 9: no symbol"),
    (_edit(5, "ex", "nasdaq!"), "venue codes are 1-8 upper-case"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, mutate, needle: str) -> None:
    rows = _rows(60)
    rows[3] = {"ns": rows[3]["ns"], "sym": "SPY", "px": 51_000, "qty": 100, "ex": "ARCA"}
    rows[9]["sym"] = rows[10]["sym"] = "SPY"  # lines 11 and 12: one symbol, times apart
    assert rows[9]["ns"] < rows[10]["ns"]
    data, column_map = _write(tmp_path, rows)
    mutate(data, column_map)
    code, output = _import(data, column_map, tmp_path / "out")
    assert code == 2, output
    assert needle in output
    assert output.startswith("error: ") and output.count("\n") == 1
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_rows_that_are_neither_or_half_a_pair(tmp_path: Path) -> None:
    rows = _rows(40)
    rows[5] = {"ns": rows[5]["ns"], "sym": "SPY"}
    data, column_map = _write(tmp_path, rows)
    code, output = _import(data, column_map, tmp_path / "out")
    assert code == 2 and "line 7: neither a print (price, size) nor a quote" in output
    rows[5] = {"ns": rows[5]["ns"], "sym": "SPY", "bid": 51_000}
    data, column_map = _write(tmp_path, rows)
    code, output = _import(data, column_map, tmp_path / "out")
    assert code == 2 and "line 7: bid without ask or ask without bid" in output
