"""`verify` passes a sound run and names what is wrong with a damaged one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tapesim.config.run import load_profile
from tapesim.events.manifest import RunManifest
from tapesim.events.models import KINDS, OPTION_NBBO, OPTION_PRINT
from tapesim.io.manifest import artifact_entry, canonical_json
from tapesim.runs import execute_run
from tapesim.verify.options import (
    ContractIds,
    off_grid,
    option_nbbo_problems,
    option_print_problems,
)
from tapesim.verify.run import verify_run
from tests.synthetic_run import write_option_run


@pytest.fixture
def copy(tiny_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst


def test_sound_run_verifies(tiny_run: Path) -> None:
    assert verify_run(tiny_run) == []


def test_flipped_byte(copy: Path) -> None:
    path = copy / "equity_prints.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    problems = verify_run(copy)
    assert any("equity_prints.parquet" in p and "sha256" in p for p in problems)


def test_missing_file(copy: Path) -> None:
    (copy / "provenance.parquet").unlink()
    assert any("provenance.parquet is missing" in p for p in verify_run(copy))


def test_truncated_file(copy: Path) -> None:
    path = copy / "equity_quotes.parquet"
    path.write_bytes(path.read_bytes()[:-100])
    assert any("equity_quotes.parquet" in p and "truncated" in p for p in verify_run(copy))


def test_missing_manifest(copy: Path) -> None:
    (copy / "manifest.json").unlink()
    assert any("manifest.json" in p for p in verify_run(copy))


def _rewrite_with_fixed_hash(run: Path, name: str, table) -> None:
    pq.write_table(table, run / name, compression="zstd")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["artifacts"][name] = artifact_entry(run / name, table.num_rows)
    (run / "manifest.json").write_text(canonical_json(manifest))


REQUIRED_MANIFEST_KEYS = [name for name, field in RunManifest.model_fields.items()
                          if field.is_required()]


@pytest.mark.parametrize("key", REQUIRED_MANIFEST_KEYS)
def test_a_manifest_without_a_required_key_is_one_problem(copy: Path, key: str) -> None:
    path = copy / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest[key]
    path.write_text(json.dumps(manifest))
    assert verify_run(copy) == [f"{path}: field '{key}': Field required: the run directory is "
                                f"damaged (`tapesim verify {copy}` names every problem)"]


def test_a_manifest_value_of_the_wrong_type_is_one_problem(copy: Path) -> None:
    path = copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["counts"] = "many"
    path.write_text(json.dumps(manifest))
    [problem] = verify_run(copy)
    assert problem.startswith(f"{path}: field 'counts': ")


def test_rows_out_of_order_even_with_matching_hashes(copy: Path) -> None:
    table = pq.read_table(copy / "equity_quotes.parquet")
    n = table.num_rows
    order = list(range(n))
    order[1], order[n - 2] = order[n - 2], order[1]
    _rewrite_with_fixed_hash(copy, "equity_quotes.parquet", table.take(order))
    problems = verify_run(copy)
    assert any("out of replay order" in p for p in problems)


def test_crossed_quote_is_caught(copy: Path) -> None:
    table = pq.read_table(copy / "equity_quotes.parquet")
    bid = table.column("bid").to_pylist()
    ask = table.column("ask").to_pylist()
    bid[3] = ask[3] + 0.01
    index = table.schema.get_field_index("bid")
    table = table.set_column(index, table.schema.field(index), pa.array(bid))
    _rewrite_with_fixed_hash(copy, "equity_quotes.parquet", table)
    problems = verify_run(copy)
    assert any("crossed" in p for p in problems)
    assert any("digest" in p for p in problems)


def test_schema_change_is_caught(copy: Path) -> None:
    table = pq.read_table(copy / "equity_prints.parquet").drop_columns(["exchange"])
    _rewrite_with_fixed_hash(copy, "equity_prints.parquet", table)
    assert any("schema differs" in p for p in verify_run(copy))


def test_parquet_bytes_do_not_depend_on_windowing(tiny_run: Path, tmp_path: Path) -> None:
    """The same rows written in one piece or in ragged pieces give the same file."""
    from tapesim.io.writer import ROW_GROUP, _GroupedParquet

    table = pq.read_table(tiny_run / "equity_quotes.parquet")
    table = pa.concat_tables([table] * (2 * ROW_GROUP // table.num_rows + 1))
    whole = _GroupedParquet(tmp_path / "whole.parquet", table.schema)
    whole.write(table)
    whole.close()
    ragged = _GroupedParquet(tmp_path / "ragged.parquet", table.schema)
    start, step = 0, 1
    while start < table.num_rows:
        ragged.write(table.slice(start, step))
        start += step
        step = step * 3 % 9973 + 1
    ragged.close()
    assert (tmp_path / "whole.parquet").read_bytes() == (tmp_path / "ragged.parquet").read_bytes()


# --- option kinds: row checks on small tables, one deliberate defect each ---------------

SYMBOLS = frozenset({"SPY", "AAPL"})
OPTION_VENUES = frozenset({"CBOE", "ISE"})


def _meta(seq: int, stream: str) -> dict[str, Any]:
    ts = 1_773_149_400_000 + seq
    return {"ts": ts, "source_ts": ts, "ingest_ts": ts + 1, "seq": seq,
            "trace_id": f"tsim-x:{stream}:{seq}"}


def _nbbo_rows() -> list[dict[str, Any]]:
    def row(seq: int, contract: str, bid: float, ask: float, bid_size: int,
            ask_size: int) -> dict[str, Any]:
        return {**_meta(seq, "option-nbbo"), "option_contract_id": contract, "bid": bid,
                "ask": ask, "bidSize": bid_size, "askSize": ask_size}

    return [
        row(1, "SPY-2026-03-20-575-C", 3.11, 3.13, 50, 60),  # all-penny root above $3
        row(2, "SPY-2026-03-20-575-P", 0.0, 0.01, 0, 10),  # a far wing: no bid
        row(3, "AAPL-2026-03-20-230-C", 2.95, 3.05, 5, 5),  # penny bid, nickel ask
        row(4, "AAPL  260320C00230000", 0.5, 0.55, 7, 9),  # the OCC form parses too
    ]


def _print_rows() -> list[dict[str, Any]]:
    """A SPY sweep at the ask that passes the filter, and an AAPL print with no NBBO."""
    at_ask = {
        **_meta(10, "option-print"), "option_contract_id": "SPY-2026-03-20-575-C",
        "price": 3.13, "size": 200, "exchange": "CBOE", "conditions": ["SWEEP"],
        "underlying_id": "SPY", "option_type": "call", "notional": 62_600.0,
        "nbbo_side": "A", "execution_nbbo_side": "A", "execution_nbbo_bid": 3.11,
        "execution_nbbo_ask": 3.13, "execution_nbbo_mid": 3.12, "execution_nbbo_spread": 0.02,
        "execution_nbbo_bid_size": 50, "execution_nbbo_ask_size": 60,
        "execution_nbbo_ts": 1_773_149_400_000, "execution_nbbo_age_ms": 10,
        "execution_underlying_spot": 575.0, "execution_underlying_bid": 574.99,
        "execution_underlying_ask": 575.01, "execution_underlying_mid": 575.0,
        "execution_underlying_spread": 0.02, "execution_underlying_ts": 1_773_149_399_990,
        "execution_underlying_age_ms": 20, "execution_underlying_source": "equity_quote_mid",
        "execution_iv": 0.0813, "execution_iv_source": "synthetic_pressure_model",
        "is_etf": True, "signal_pass": True, "signal_reasons": ["ask-side", "sweep"],
        "signal_profile": "smart-flow",
    }
    unquoted = {
        **_meta(11, "option-print"), "option_contract_id": "AAPL-2026-03-20-230-C",
        "price": 3.05, "size": 5, "exchange": "ISE", "conditions": [], "underlying_id": "AAPL",
        "option_type": "call", "notional": 1_525.0, "nbbo_side": "MISSING",
        "execution_nbbo_side": "MISSING", "is_etf": False, "signal_pass": False,
        "signal_reasons": [], "signal_profile": "smart-flow",
    }
    return [at_ask, unquoted]


def _with(rows: list[dict[str, Any]], index: int, changes: dict[str, Any],
          schema: pa.Schema) -> pa.Table:
    rows[index] = {**rows[index], **changes}
    return pa.Table.from_pylist(rows, schema=schema)


def test_sound_option_rows_have_no_problems() -> None:
    nbbo = pa.Table.from_pylist(_nbbo_rows(), schema=OPTION_NBBO.schema)
    assert option_nbbo_problems(nbbo, ContractIds(SYMBOLS)) == []
    prints = pa.Table.from_pylist(_print_rows(), schema=OPTION_PRINT.schema)
    assert option_print_problems(prints, ContractIds(SYMBOLS), OPTION_VENUES) == []


def test_off_grid_follows_each_roots_penny_interval_class() -> None:
    prices = np.array([2.99, 3.0, 3.02, 3.05, 12.34, 0.015, 3.10])
    ids = pa.array([f"{root}-2026-01-16-10-C" for root in ("SPY", "DIA", "AAPL")])
    spy, dia, aapl = (ContractIds(frozenset({"SPY", "DIA", "AAPL"}), {"AAPL": "non-penny"})
                      .rows(pa.array([i.as_py()] * 7)) for i in ids)
    assert off_grid(prices, spy).tolist() == [False] * 5 + [True, False]
    assert off_grid(prices, dia).tolist() == [False, False, True, False, True, True, False]
    assert off_grid(prices, aapl).tolist() == [True, False, True, True, True, True, False]


@pytest.mark.parametrize(
    ("index", "changes", "needle"),
    [
        (2, {"ask": 3.07}, "ask off the option MPV grid"),  # a nickel root at $3.07
        (0, {"bid": 3.14}, "crossed NBBO"),
        (0, {"bid": 3.13}, "locked or crossed"),
        (1, {"bid": -0.01}, "bid < 0"),
        (1, {"bidSize": 5}, "a zero bid with a bidSize"),
        (0, {"bidSize": 0}, "a bid with bidSize 0"),
        (0, {"askSize": 0}, "askSize 0"),
        (2, {"option_contract_id": "MSFT-2026-03-20-400-C"}, "root outside the manifest"),
        (0, {"option_contract_id": "SPY 575 call"}, "neither ROOT-YYYY-MM-DD"),
    ],
)
def test_option_nbbo_defects(index: int, changes: dict[str, Any], needle: str) -> None:
    table = _with(_nbbo_rows(), index, changes, OPTION_NBBO.schema)
    problems = option_nbbo_problems(table, ContractIds(SYMBOLS))
    assert any(needle in p for p in problems), problems
    assert all(p.startswith("option_nbbo.parquet: ") for p in problems)
    assert f"(first at seq {index + 1})" in next(p for p in problems if needle in p)


@pytest.mark.parametrize(
    ("index", "changes", "needle"),
    [
        (0, {"notional": 62_500.0}, "notional is not price x size x 100"),
        (0, {"nbbo_side": "B", "execution_nbbo_side": "B"}, "nbbo_side is not the placement"),
        (0, {"execution_nbbo_side": "MID"}, "execution_nbbo_side differs"),
        (0, {"signal_pass": False}, "signal_pass is not what the signal filter"),
        (0, {"signal_reasons": ["ask-side"]}, "signal_reasons are not what"),
        (1, {"signal_pass": True, "signal_reasons": ["all"]}, "signal_pass is not"),
        (1, {"signal_profile": "loose"}, "signal_profile 'loose'"),
        (1, {"exchange": "NYSE"}, "'NYSE' is not an options venue"),
        (1, {"price": 3.07, "notional": 1_535.0}, "price off the option MPV grid"),
        (1, {"size": 0, "notional": 0.0}, "size <= 0"),
        (0, {"option_type": "put"}, "option_type is not the call/put"),
        (0, {"underlying_id": "AAPL"}, "underlying_id is not the root"),
        (0, {"is_etf": False}, "is_etf is not the ETF rule"),
        (0, {"execution_nbbo_mid": 3.13}, "execution_nbbo_mid is not the mid"),
        (0, {"execution_nbbo_spread": 0.03}, "execution_nbbo_spread"),
        (0, {"execution_nbbo_age_ms": 11}, "execution_nbbo_age_ms is not"),
        (1, {"execution_nbbo_bid": 3.0}, "execution_nbbo_* fields are neither"),
        (0, {"execution_underlying_spot": 576.0}, "execution_underlying_* are not"),
        (0, {"execution_iv_source": None}, "execution_iv and execution_iv_source"),
        (0, {"execution_iv_source": "guess"}, "execution_iv_source is not one of"),
        (1, {"signal_reasons": None}, "signal_reasons is null"),
        (0, {"conditions": ["SWEEP", "BLOCK"]}, "condition 'BLOCK'"),
    ],
)
def test_option_print_defects(index: int, changes: dict[str, Any], needle: str) -> None:
    table = _with(_print_rows(), index, changes, OPTION_PRINT.schema)
    problems = option_print_problems(table, ContractIds(SYMBOLS), OPTION_VENUES)
    assert any(needle in p for p in problems), problems
    assert all(p.startswith("option_prints.parquet: ") for p in problems)


def test_signal_filter_is_recomputed_per_profile() -> None:
    """A print is judged by the filter of its own signal_profile."""
    table = _with(_print_rows(), 1, {"signal_profile": "all", "signal_pass": True,
                                     "signal_reasons": ["all"]}, OPTION_PRINT.schema)
    assert option_print_problems(table, ContractIds(SYMBOLS), OPTION_VENUES) == []


# --- a run with all four kinds -----------------------------------------------------------

@pytest.fixture(scope="module")
def option_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_option_run(tmp_path_factory.mktemp("runs") / "options")


@pytest.fixture
def option_copy(option_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(option_run, dst)
    return dst


def _set_value(table: pa.Table, column: str, row: int, value: Any) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(index),
                            pa.array(values, table.schema.field(index).type))


def test_run_with_option_events_verifies(option_run: Path) -> None:
    manifest = json.loads((option_run / "manifest.json").read_text())
    assert all(manifest["counts"][k.name] > 0 for k in KINDS)
    assert verify_run(option_run) == []


@pytest.mark.parametrize(
    ("name", "column", "value", "needle"),
    [
        ("option_prints.parquet", "nbbo_side", "MID", "nbbo_side is not the placement"),
        ("option_prints.parquet", "signal_reasons", ["sweep"], "signal_reasons are not"),
        ("option_nbbo.parquet", "ask", 3.11, "crossed NBBO"),
    ],
)
def test_option_corruption_with_matching_hashes(
    option_copy: Path, name: str, column: str, value: Any, needle: str
) -> None:
    """A changed field fails both its row check and the event-stream digest (core records
    for the NBBO, detail records for the print's enrichment)."""
    table = _set_value(pq.read_table(option_copy / name), column, 0, value)
    _rewrite_with_fixed_hash(option_copy, name, table)
    problems = verify_run(option_copy)
    assert any(needle in p and name in p for p in problems), problems
    assert any("digest" in p for p in problems)


def test_unconserved_contracts_are_caught(option_copy: Path) -> None:
    manifest = json.loads((option_copy / "manifest.json").read_text())
    manifest["conservation"]["AAPL"]["contracts"] = 3
    (option_copy / "manifest.json").write_text(canonical_json(manifest))
    assert verify_run(option_copy) == ["AAPL: not conserved across agents (every total must "
                                       "be 0): {'contracts': 3}"]


def test_option_venues_come_from_the_manifest(option_copy: Path) -> None:
    manifest = json.loads((option_copy / "manifest.json").read_text())
    manifest["venues"]["options"] = ["CBOE"]
    (option_copy / "manifest.json").write_text(canonical_json(manifest))
    problems = verify_run(option_copy)
    assert problems == ["option_prints.parquet: exchange 'ISE' is not an options venue of "
                        "this run (manifest venues.options)"]


def test_provenance_position_effects(option_copy: Path) -> None:
    table = pq.read_table(option_copy / "provenance.parquet")
    _rewrite_with_fixed_hash(option_copy, "provenance.parquet",
                             _set_value(table, "position_effect", 0, "opening"))
    assert any("position_effect must be one of" in p for p in verify_run(option_copy))


# --- end to end: the options-smoke profile -----------------------------------------------

@pytest.fixture(scope="module")
def options_smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "options-smoke"
    execute_run(load_profile("options-smoke"), out)
    return out


def test_options_smoke_run_verifies(options_smoke: Path) -> None:
    manifest = json.loads((options_smoke / "manifest.json").read_text())
    assert manifest["counts"]["option_nbbo"] > 0 and manifest["counts"]["option_print"] > 0
    assert verify_run(options_smoke) == []


def test_two_root_options_run_verifies(tiny_options_run: Path) -> None:
    """AAPL's chain quotes on the nickel grid above $3, SPY's in pennies throughout."""
    assert verify_run(tiny_options_run) == []


def test_options_smoke_corrupted_notional(options_smoke: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(options_smoke, run)
    table = pq.read_table(run / "option_prints.parquet")
    row = table.num_rows // 2
    wrong = table.column("notional")[row].as_py() + 1.0
    _rewrite_with_fixed_hash(run, "option_prints.parquet",
                             _set_value(table, "notional", row, wrong))
    problems = verify_run(run)
    seq = table.column("seq")[row].as_py()
    assert (f"option_prints.parquet: notional is not price x size x 100 to the cent "
            f"(first at seq {seq})") in problems
    assert any("digest" in p for p in problems)
