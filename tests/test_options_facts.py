"""Tests of the options facts: pure helpers, then small run directories with known answers."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from tapesim.calibration import option_stats as ost
from tapesim.calibration.options_facts import option_facts
from tapesim.calibration.pooling import pooled_facts
from tapesim.calibration.rows import FactRow, facts_table
from tapesim.calibration.targets import OPTION_BANDS, OPTION_TITLES
from tapesim.events.models import EQUITY_QUOTE, OPTION_NBBO, OPTION_PRINT

NY = ZoneInfo("America/New_York")
DATE = dt.date(2024, 3, 4)
OPEN = int(dt.datetime.combine(DATE, dt.time(9, 30), tzinfo=NY).timestamp() * 1000)
S = 1000  # ms per second
END = OPEN + 3600 * S


# ---------------------------------------------------------------- pure helpers


def test_contract_durations_per_contract() -> None:
    # A quotes at 0, 20, 40; B at 10, 30; window [5, 50)
    d = ost.contract_durations([0, 10, 20, 30, 40], [7, 3, 7, 3, 7], 5, 50)
    assert d.tolist() == [15.0, 20.0, 20.0, 20.0, 10.0]
    assert ost.contract_durations([], [], 0, 10).size == 0
    assert ost.contract_durations([60], [1], 0, 50).tolist() == [0.0]  # after the window


def test_share_ratio_and_delta() -> None:
    assert ost.share([True, False, True, True]) == 0.75
    assert ost.share([True, False], [1.0, 3.0]) == 0.25
    assert math.isnan(ost.share([], []))
    assert ost.ratio(3.0, 4.0) == 0.75 and math.isnan(ost.ratio(1.0, 0.0))
    # S = K = 100, t = 1, vol 0.2: d1 = 0.1
    call, put = ost.bs_delta([100.0, 100.0], [100.0, 100.0], [1.0, 1.0], [0.2, 0.2],
                             [False, True])
    assert call == pytest.approx(sps.norm.cdf(0.1)) and put == pytest.approx(sps.norm.cdf(0.1) - 1)
    assert math.isnan(ost.bs_delta(100.0, 100.0, 1.0, math.nan, True))


def test_bands_have_titles() -> None:
    assert set(OPTION_BANDS) <= set(OPTION_TITLES)
    assert OPTION_BANDS["opt_quote_trade_ratio"].text == "\u2265 100"
    assert OPTION_BANDS["opt_venue_max_share"].text == "\u2264 0.35"


# ---------------------------------------------------------------- run directories


def _meta(rows: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    """Rows sorted by ts with the meta fields filled in replay order."""
    rows = sorted(rows, key=lambda r: r["ts"])
    for seq, r in enumerate(rows, start=1):
        r |= {"source_ts": r["ts"], "ingest_ts": r["ts"], "seq": seq,
              "trace_id": f"run:{stream}:{seq}"}
    return rows


def _write(path: Path, schema: pa.Schema, rows: list[dict[str, Any]], stream: str) -> None:
    pq.write_table(pa.Table.from_pylist(_meta(rows, stream), schema=schema), path)


def _run(
    root: Path,
    equity: list[tuple[str, int, float, float]],
    nbbo: list[tuple[str, int, float, float]],
    prints: list[dict[str, Any]],
    oi: list[tuple[str, int]] | None = None,
) -> Path:
    """A run directory: equity quotes (symbol, ts, bid, ask), NBBO (id, ts, bid, ask),
    prints (dicts of OptionPrint fields) and, optionally, open interest (id, start OI)."""
    root.mkdir(parents=True, exist_ok=True)
    session = {"date": DATE.isoformat(), "open_ts": OPEN, "close_ts": OPEN + 390 * 60 * S,
               "start_ts": OPEN, "end_ts": END}
    manifest = {"session": session, "symbols": ["SPY", "XYZ", "ABC"],
                "venues": {"options": ["CBOE", "ISE", "PHLX", "MIAX", "BOX"]}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    _write(root / "equity_quotes.parquet", EQUITY_QUOTE.schema,
           [{"underlying_id": s, "ts": t, "bid": b, "ask": a} for s, t, b, a in equity],
           "equity-quote")
    _write(root / "option_nbbo.parquet", OPTION_NBBO.schema,
           [{"option_contract_id": c, "ts": t, "bid": b, "ask": a, "bidSize": 10, "askSize": 10}
            for c, t, b, a in nbbo], "option-nbbo")
    _write(root / "option_prints.parquet", OPTION_PRINT.schema, prints, "option-print")
    if oi is not None:
        pq.write_table(pa.table({"option_contract_id": [c for c, _ in oi],
                                 "start_oi": pa.array([n for _, n in oi], pa.int64()),
                                 "end_oi": pa.array([n for _, n in oi], pa.int64())}),
                       root / "open_interest.parquet")
    return root


def _print(cid: str, sec: float, size: int, exchange: str, conditions: list[str] | None = None,
           spot: float | None = None, iv: float | None = None) -> dict[str, Any]:
    return {"option_contract_id": cid, "ts": OPEN + int(sec * S), "price": 1.0, "size": size,
            "exchange": exchange, "conditions": conditions, "execution_underlying_mid": spot,
            "execution_iv": iv, "underlying_id": cid.split("-")[0]}


X = "XYZ-2024-"
XYZ_PRINTS = [  # spot 100 unless None
    _print(X + "03-08-100-C", 10, 5, "CBOE", [], 100.0),  # 4 DTE, ATM
    _print(X + "03-08-102-C", 20, 10, "CBOE", ["COMPLEX", "SPREAD"], 100.0),  # ATM (2%)
    _print(X + "03-08-98-P", 30, 20, "ISE", ["COMPLEX"], 100.0),  # ATM
    _print(X + "03-15-95-P", 40, 3, "PHLX", ["SWEEP"], 100.0),  # 11 DTE, 5% away
    _print(X + "03-04-100-P", 50, 2, "ISE", [], 100.0),  # 0DTE, ATM
    _print(X + "04-19-120-C", 60, 600, "CBOE", [], 100.0),  # 46 DTE, 20% away
    _print(X + "03-15-89-P", 70, 10, "MIAX", None, 100.0),  # 11% away
    _print(X + "03-15-100-C", 80, 50, "BOX", [], None),  # no underlying mid
    _print(X + "03-08-100-C", 3600, 1000, "CBOE", ["COMPLEX"], 100.0),  # at end_ts: outside
]
XYZ_NBBO = [  # (contract, seconds after the open, bid, ask)
    (X + "03-08-100-C", -5, 1.00, 1.04), (X + "03-08-100-C", 600, 1.00, 1.02),  # ATM front
    (X + "03-08-98-P", 100, 0.50, 0.60),  # ATM front
    (X + "03-15-95-P", 0, 0.20, 0.26), (X + "03-15-95-P", 1800, 0.20, 0.24),  # OTM front
    (X + "03-15-105-C", 60, 0.30, 0.33),  # OTM front
    (X + "03-15-95-C", 0, 5.00, 5.50),  # in the money: neither ATM nor OTM
    (X + "03-15-94-P", 0, 0.00, 0.05),  # OTM, one-sided: no spread / mid
    (X + "03-15-85-P", 0, 0.00, 0.05), (X + "03-15-85-P", 1200, 0.01, 0.06),  # far OTM
    (X + "03-08-115-C", 0, 0.00, 0.01),  # far OTM
    (X + "03-15-89-P", 0, 0.00, 0.10),  # far OTM, ask above 0.05
    (X + "04-19-120-C", 0, 0.10, 0.20), (X + "03-04-100-P", 0, 0.50, 0.70),  # not front
    (X + "03-08-100-C", 3600, 0.90, 1.50),  # at end_ts: outside
]
P = "SPY-2024-"
SPY_PRINTS = [  # spot 500
    _print(P + "03-04-500-P", 5, 6, "CBOE", [], 500.0),  # 0DTE
    _print(P + "03-04-500-C", 6, 4, "ISE", [], 500.0),  # 0DTE
    _print(P + "03-06-510-C", 7, 6, "PHLX", [], 500.0),  # 2 DTE, 2% away
    _print(P + "03-15-480-P", 8, 8, "MIAX", [], 500.0),  # 11 DTE, 4% away
]
SPY_NBBO = [
    (P + "03-04-500-P", 0, 4.0, 4.2), (P + "03-04-500-P", 10, 4.1, 4.3),
    (P + "03-06-510-C", 0, 2.00, 2.10), (P + "03-15-480-P", 0, 1.0, 1.1),
    (P + "03-15-400-P", 0, 0.0, 0.05),
]
EQUITY = [("XYZ", OPEN - 10 * S, 99.99, 100.01), ("SPY", OPEN, 499.99, 500.01)]
XYZ_OI = [(X + "03-08-100-C", 100), (X + "03-08-98-P", 50), (X + "03-15-100-C", 250),
          (X + "03-04-100-P", 10), (X + "03-15-95-P", 30), (X + "03-15-101-C", 40),
          (X + "03-08-102-C", 0)]


def _secs(rows: list[tuple[str, int, float, float]]) -> list[tuple[str, int, float, float]]:
    return [(c, OPEN + t * S, b, a) for c, t, b, a in rows]


def _by_fact(rows: list[FactRow], symbol: str) -> dict[str, FactRow]:
    return {r.fact: r for r in rows if r.symbol == symbol}


def test_option_facts_end_to_end(tmp_path: Path) -> None:
    run = _run(tmp_path, EQUITY, _secs(XYZ_NBBO + SPY_NBBO), XYZ_PRINTS + SPY_PRINTS, XYZ_OI)
    rows = option_facts(run)
    assert [r.symbol for r in rows] == ["SPY"] * 20 + ["XYZ"] * 20  # manifest order
    x = _by_fact(rows, "XYZ")
    assert "opt_0dte_share_index" not in x and "opt_put_call_ratio_index" not in x
    assert [f for f in OPTION_TITLES if f in x] == [r.fact for r in rows if r.symbol == "XYZ"]

    vol = 5 + 10 + 20 + 3 + 2 + 600 + 10 + 50  # the print at end_ts is outside the window
    assert x["opt_dte_0_7_share_single"].value == pytest.approx(37 / vol)
    assert x["opt_dte_0_7_share_single"].status == "out"
    assert x["opt_0dte_share_single"].value == pytest.approx(2 / vol)
    assert x["opt_0dte_share_single"].status == "n/a"  # report only for single names
    with_spot = vol - 50
    assert x["opt_atm_volume_share"].value == pytest.approx(37 / with_spot)
    assert x["opt_far_volume_share"].value == pytest.approx(610 / with_spot)
    assert x["opt_atm_volume_share"].note.startswith("7 of 8 prints")
    assert x["opt_put_call_ratio_single"].value == pytest.approx(35 / 665)
    assert x["opt_small_print_share"].value == pytest.approx(5 / 8)
    assert x["opt_small_print_share"].status == "in"
    assert x["opt_block_print_share"].value == pytest.approx(1 / 8)
    assert x["opt_complex_volume_share"].value == pytest.approx(30 / vol)
    assert x["opt_venue_max_share"].value == pytest.approx(3 / 8)
    assert x["opt_venue_max_share"].status == "out"
    assert x["opt_venue_max_share"].note.startswith("CBOE: 3 of 8")

    # ATM front: 100-C 0.04/1.02 for 600 s (its quote before the open counts from the
    # open), then 0.02/1.01 for 3000 s; 98-P 0.10/0.55 for 3500 s -> lower median 0.04/1.02
    atm = x["opt_spread_atm_front"]
    assert atm.value == pytest.approx(0.04 / 1.02) and atm.status == "in"
    assert "7100 quote-s of 2 contracts" in atm.note
    # OTM front: 105-C 0.03/0.315 for 3540 s; 95-P 0.06/0.23 then 0.04/0.22, 1800 s each
    otm = x["opt_spread_otm_front"]
    assert otm.value == pytest.approx(0.04 / 0.22) and otm.status == "in"
    assert "(1 one-sided changes left out)" in otm.note
    # far OTM front: 85-P 0 x 0.05 for 1200 s then two-sided 2400 s, 115-C 0 x 0.01 3600 s,
    # 89-P 0 x 0.10 3600 s
    zero = x["opt_far_otm_zero_bid_share"]
    assert zero.value == pytest.approx(4800 / 10800) and zero.status == "in"
    assert x["opt_quote_trade_ratio"].value == pytest.approx(13 / 8)
    assert x["opt_quote_trade_ratio"].status == "out"
    # 11 quoted contracts; 6 of them printed (102-C and 15-100-C printed but were not quoted)
    assert x["opt_chain_sparsity"].value == pytest.approx(5 / 11)
    assert x["opt_chain_sparsity"].status == "in"
    # breadth: 11 quoted, 8 printed in the window, the longest quoted expiry 46 days out
    assert x["opt_contracts_listed"].value == 11 and x["opt_contracts_listed"].status == "n/a"
    assert x["opt_contracts_traded"].value == 8 and x["opt_contracts_traded"].status == "out"
    assert x["opt_longest_expiry_days"].value == 46
    assert x["opt_longest_expiry_days"].status == "out"
    assert x["opt_dte_60_plus_share"].value == 0.0
    # front near-ATM with start OI > 0: 5/100, 20/50, 50/250, 0/40 -> median 0.125
    oi = x["opt_volume_oi_median"]
    assert oi.value == pytest.approx(0.125) and oi.status == "in"
    assert oi.note.startswith("4 contracts")
    # the skew is read off the quotes (tests/test_skew.py checks its values): snapshots
    # at 09:45 and 10:15 in this 60-minute window, each with a 25-delta put quoted
    assert x["opt_skew_25d_single"].note.startswith("median of 2 (snapshot, front expiry)")

    s = _by_fact(rows, "SPY")
    assert s["opt_0dte_share_index"].value == pytest.approx(10 / 24)
    assert s["opt_0dte_share_index"].status == "in"
    assert s["opt_dte_0_7_share_index"].value == pytest.approx(16 / 24)
    assert s["opt_dte_0_7_share_index"].status == "n/a"
    assert s["opt_put_call_ratio_index"].value == pytest.approx(14 / 10)
    assert s["opt_put_call_ratio_index"].status == "in"
    assert s["opt_atm_volume_share"].value == pytest.approx(16 / 24)  # 480-P is 4% away
    assert s["opt_far_volume_share"].value == 0.0
    assert s["opt_spread_atm_front"].value == pytest.approx(0.10 / 2.05)
    assert s["opt_quote_trade_ratio"].value == pytest.approx(5 / 4)
    assert s["opt_chain_sparsity"].value == pytest.approx(1 / 4)
    assert s["opt_venue_max_share"].value == pytest.approx(1 / 4)
    assert s["opt_volume_oi_median"].status == "n/a"  # no SPY contracts in the OI file

    assert [r.symbol for r in option_facts(run, ["XYZ"])] == ["XYZ"] * 20
    table = facts_table(rows, title="Options facts")
    assert table.title == "Options facts" and table.row_count == len(rows)


def test_spot_moves_reclassify_quotes(tmp_path: Path) -> None:
    """The spot at a quote is the last equity mid at or before it."""
    equity = [("XYZ", OPEN, 99.99, 100.01), ("XYZ", OPEN + 1800 * S, 104.99, 105.01)]
    nbbo = [(X + "03-08-100-C", 0, 1.00, 1.02),  # ATM at spot 100 ...
            (X + "03-08-100-C", 1800, 5.00, 5.50)]  # ... in the money (5%) at spot 105
    run = _run(tmp_path, equity, _secs(nbbo), [_print(X + "03-08-100-C", 5, 1, "CBOE", [], 100.0)])
    x = _by_fact(option_facts(run), "XYZ")
    assert x["opt_spread_atm_front"].value == pytest.approx(0.02 / 1.01)
    assert "1800 quote-s of 1 contracts" in x["opt_spread_atm_front"].note
    assert x["opt_volume_oi_median"].note == "no open_interest.parquet"


def test_equity_only_runs_have_no_option_rows(tmp_path: Path) -> None:
    empty = _run(tmp_path / "empty", EQUITY, [], [])  # zero-row option files
    assert option_facts(empty) == []
    absent = _run(tmp_path / "absent", EQUITY, [], [])
    (absent / "option_nbbo.parquet").unlink()
    (absent / "option_prints.parquet").unlink()
    assert option_facts(absent) == []


def test_quotes_without_prints_are_not_an_error(tmp_path: Path) -> None:
    run = _run(tmp_path, EQUITY, _secs(SPY_NBBO), [])
    s = _by_fact(option_facts(run), "SPY")
    assert s["opt_chain_sparsity"].value == 1.0 and s["opt_chain_sparsity"].status == "out"
    assert s["opt_quote_trade_ratio"].status == "n/a"
    assert s["opt_put_call_ratio_index"].value is None
    assert s["opt_venue_max_share"].note == "no prints"
    assert s["opt_spread_atm_front"].value == pytest.approx(0.10 / 2.05)


def test_option_rows_pool_across_runs(tmp_path: Path) -> None:
    runs = []
    for k, put_size in enumerate((4, 12, 30)):  # SPY put/call 0.4, 1.2, 3.0
        prints = [_print(P + "03-04-500-P", 5, put_size, "CBOE", [], 500.0),
                  _print(P + "03-04-500-C", 6, 10, "ISE", [], 500.0)]
        runs.append(option_facts(_run(tmp_path / str(k), EQUITY, _secs(SPY_NBBO), prints)))
    pooled = _by_fact(pooled_facts(runs), "SPY")
    pc_row = pooled["opt_put_call_ratio_index"]
    assert pc_row.value == pytest.approx(1.2) and pc_row.status == "in"
    assert "in band in 1/3" in pc_row.note
    block = pooled["opt_block_print_share"]  # report only: the median, not judged
    assert block.value == 0.0 and block.status == "n/a" and "report only" in block.note


def test_an_index_like_root_without_daily_expiries_has_no_0dte_share(tmp_path: Path) -> None:
    d = "DIA-2024-03-"
    prints = [_print(d + "04-420-C", 5, 3, "CBOE", [], 420.0),  # 0DTE would need dailies
              _print(d + "08-420-P", 6, 2, "ISE", [], 420.0)]
    run = _run(tmp_path, [("DIA", OPEN, 419.99, 420.01)], [], prints)
    row = _by_fact(option_facts(run), "DIA")["opt_0dte_share_index"]
    assert row.status == "n/a" and row.note == "DIA lists no daily expiries"
