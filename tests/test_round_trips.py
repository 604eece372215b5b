"""Identifiers and numbers in every format tapesim writes read back to the same value.

Each format is read with its standard consumer: Parquet with pyarrow, JSON lines and
the pipeline's fixture with ``json``, the ClickHouse load with chdb. Option ids are
read field by field as the OCC symbology (OSI) lays them out: root in columns 1-6
(space padded), expiry ``YYMMDD`` in 7-12, ``C|P`` in 13, strike x 1000 in 14-21.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.events.contracts import (
    ContractIdStyle,
    OptionContract,
    ShardListing,
    parse_contract_id,
)
from tapesim.events.models import KINDS
from tapesim.io.event_json import encode_events
from tapesim.storage.embedded import EmbeddedEngine
from tapesim.storage.load import load_run
from tapesim.storage.schema import database_name
from tests.synthetic_run import EXPIRY_MS, OPTIONS, write_option_run

runner = CliRunner()
EXPIRY = dt.date(2026, 3, 20)
#: Strikes at the edges of the OSI field: half dollars, a fraction of a cent, the largest.
STRIKES = (0.5, 12.5, 1234.5, 99999.999)


def read_osi(text: str) -> tuple[str, dt.date, str, Decimal]:
    """(root, expiry, right, strike in dollars) of a 21-character OSI symbol, by column."""
    assert len(text) == 21 and text[:6] == text[:6].strip().ljust(6)
    expiry = dt.date(2000 + int(text[6:8]), int(text[8:10]), int(text[10:12]))
    return text[:6].strip(), expiry, text[12], Decimal(text[13:21]) / 1000


@given(root=st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True),
       expiry=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
       right=st.sampled_from(["C", "P"]), mills=st.integers(1, 99_999_999))
def test_option_ids_parse_back(root: str, expiry: dt.date, right: str, mills: int) -> None:
    contract = OptionContract(root, expiry, mills, right)  # type: ignore[arg-type]
    assert read_osi(contract.occ()) == (root, expiry, right, Decimal(mills) / 1000)
    assert parse_contract_id(contract.occ()) == contract
    assert parse_contract_id(contract.dashed()) == contract
    strike = contract.dashed().split("-")[-2]
    assert Decimal(strike) == Decimal(mills) / 1000


@pytest.mark.parametrize("strike", STRIKES)
def test_strikes_in_dollars_keep_their_value(strike: float) -> None:
    contract = OptionContract.of("SPY", EXPIRY, strike, "C")
    assert contract.strike == strike
    assert read_osi(contract.occ())[3] == Decimal(str(strike))
    assert float(contract.dashed().split("-")[-2]) == strike


@pytest.mark.parametrize("year", [1999, 2100])
def test_an_expiry_the_osi_year_cannot_hold_is_refused(year: int) -> None:
    contract = OptionContract("SPY", dt.date(year, 1, 15), 500_000, "C")
    with pytest.raises(ValueError, match="2000-2099"):
        contract.occ()
    assert parse_contract_id(contract.dashed()) == contract


@given(cents=st.lists(st.integers(0, 10**12), min_size=1, max_size=20))
def test_prices_in_cents_keep_their_value_in_json_and_parquet(
        cents: list[int], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dollars as the canonicaliser makes them (cents / 100 in float64) read back from the
    JSON text and from Parquet as the same float, and to the same cent."""
    dollars = pc.divide(pc.cast(pa.array(cents, pa.int64()), pa.float64()), 100.0)
    table = pa.table({"price": dollars})
    back = [json.loads(line)["price"] for line in encode_events(table)]
    assert back == dollars.to_pylist()
    assert [round(d * 100) for d in back] == cents
    path = tmp_path_factory.mktemp("parquet") / "prices.parquet"
    pq.write_table(table, path, compression="zstd")
    assert pq.read_table(path).column("price").to_pylist() == dollars.to_pylist()


# --- a run whose contracts and prices sit at the edges, through every writer ----------


def _contracts(style: ContractIdStyle) -> list[ShardListing]:
    def ids(root: str, strikes: tuple[float, ...]) -> tuple[str, ...]:
        return tuple(OptionContract.of(root, EXPIRY, k, r).format(style)
                     for k, r in zip(strikes, "CP", strict=False))

    spy, aapl = (0.5, 99999.999), (1234.5, 12.5)  # the rows trade SPY's both, AAPL's first
    return [ShardListing("SPY", ("mm-spy", "retail-spy"), ids("SPY", spy), (True, False), spy,
                       (EXPIRY_MS, EXPIRY_MS)),
            ShardListing("AAPL", ("mm-aapl", "retail-aapl"), ids("AAPL", aapl), (True, False),
                       aapl, (EXPIRY_MS, EXPIRY_MS))]


#: The synthetic run's option rows with prices from a cent to $99,999.99 (cents).
EDGE_PRICES = [(1, 9_999_999), (0, 5), (1_234_505, 0), (1, 0), (299, 305), (99_999_95, 0)]


def _edge_options() -> list[tuple]:
    rows = []
    for row, (price, ask) in zip(OPTIONS, EDGE_PRICES, strict=True):
        nbbo = row[10]
        if nbbo is not None:
            nbbo = (1, 9_999_999, *nbbo[2:]) if row[0] == 0 else nbbo
        rows.append((*row[:4], price, ask, *row[6:10], nbbo, row[11]))
    return rows


@pytest.fixture(scope="module", params=["dashed", "occ"])
def edge_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / request.param
    return write_option_run(out, jsonl=True, shards=_contracts(request.param),
                            options=_edge_options())


def _parquet(run: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """Each kind's rows by seq, null fields omitted, as pyarrow reads them."""
    out = {}
    for kind in KINDS:
        rows = pq.read_table(run / f"{kind.file_stem}.parquet").to_pylist()
        out[kind.name] = {r["seq"]: {k: v for k, v in r.items() if v is not None} for r in rows}
    return out


def test_the_runs_values_are_the_edge_values(edge_run: Path) -> None:
    rows = _parquet(edge_run)
    ids = {r["option_contract_id"] for k in ("option_nbbo", "option_print")
           for r in rows[k].values()}
    strikes = {parse_contract_id(i).strike for i in ids}
    assert strikes == {0.5, 99999.999, 1234.5}
    prices = {r.get("price", r.get("bid")) for k in ("option_nbbo", "option_print")
              for r in rows[k].values()} | {r["ask"] for r in rows["option_nbbo"].values()}
    assert {0.01, 99999.99, 12345.05, 99999.95} <= prices
    assert all(round(p * 100) / 100 == p for p in prices)


def test_json_lines_read_back_as_the_parquet_rows(edge_run: Path, tmp_path: Path) -> None:
    rows = _parquet(edge_run)
    for kind in KINDS:  # the run's own JSON lines (run --jsonl)
        lines = (edge_run / f"{kind.file_stem}.jsonl").read_text().splitlines()
        assert {json.loads(x)["seq"]: json.loads(x) for x in lines} == rows[kind.name]
    for fmt, name in (("jsonl", "market-events.jsonl"), ("islandflow", "market-events.json")):
        out = tmp_path / fmt
        result = runner.invoke(app, ["export", str(edge_run), "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = (out / name).read_text()
        entries = ([json.loads(x) for x in text.splitlines()] if fmt == "jsonl"
                   else json.loads(text))
        got: dict[str, dict[int, dict[str, Any]]] = {k.name: {} for k in KINDS}
        for e in entries:
            got[e["kind"]][e["event"]["seq"]] = e["event"]
        assert got == rows


def test_the_clickhouse_load_reads_back_as_the_parquet_rows(edge_run: Path,
                                                            tmp_path: Path) -> None:
    rows = _parquet(edge_run)
    engine = EmbeddedEngine(tmp_path / "ch")
    try:
        load_run(engine, edge_run)
        db = database_name(json.loads((edge_run / "manifest.json").read_text())["run_id"])
        for kind in KINDS:
            table = engine.query_arrow(f"SELECT * FROM {db}.{kind.file_stem} ORDER BY seq")
            back = {r["seq"]: {k: v for k, v in r.items() if v is not None and v != []}
                    for r in table.to_pylist()}
            want = {s: {k: v for k, v in r.items() if v != []} for s, r in rows[kind.name].items()}
            assert back == want, kind.name
    finally:
        engine.close()
