"""Tests of the equity stylized facts: pure helpers on known cases, then end to end."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from tapesim.calibration import stats as st
from tapesim.calibration.facts import equity_facts
from tapesim.calibration.rows import FactRow, facts_table
from tapesim.calibration.targets import EQUITY_BANDS, EQUITY_TITLES, Band

NY = ZoneInfo("America/New_York")
MIN = 60_000


# ---------------------------------------------------------------- pure helpers


def test_acf_of_ar1_matches_phi() -> None:
    rng = np.random.default_rng(11)
    phi, n = 0.6, 20_000
    eps = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = eps[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    a = st.acf(x, [1, 2, 5])
    assert a[0] == pytest.approx(phi, abs=0.03)
    assert a[1] == pytest.approx(phi**2, abs=0.03)
    assert a[2] == pytest.approx(phi**5, abs=0.03)


def test_acf_hand_cases() -> None:
    assert st.acf([1.0, -1.0, 1.0, -1.0], 1)[0] == pytest.approx(-0.75)
    assert st.acf([1, 1, 1, -1, -1, -1], [1, 3]) == pytest.approx([3 / 6, -3 / 6])
    assert np.isnan(st.acf([2.0, 2.0, 2.0], 1)[0])  # constant series
    assert np.isnan(st.acf([1.0, 2.0], 5)[0])  # lag beyond the series


def test_excess_kurtosis() -> None:
    assert st.excess_kurtosis([-1.0, 1.0, -1.0, 1.0]) == pytest.approx(-2.0)
    x = np.random.default_rng(3).standard_t(5, 500)
    assert st.excess_kurtosis(x) == pytest.approx(sps.kurtosis(x, fisher=True, bias=True))
    assert math.isnan(st.excess_kurtosis([1.0, 2.0, 3.0]))


def test_hill_on_pareto_sample() -> None:
    rng = np.random.default_rng(5)
    for alpha in (1.5, 3.0):
        x = rng.pareto(alpha, 200_000) + 1.0  # P(X > x) = x^-alpha, x >= 1
        signs = np.where(rng.random(x.size) < 0.5, -1.0, 1.0)
        assert st.hill_tail_index(signs * x, 0.05) == pytest.approx(alpha, rel=0.05)


def test_hill_hand_case_and_degenerate() -> None:
    # 40 values, k = 2: top two 4 and 2 over threshold 1 -> 2 / (log 4 + log 2)
    x = np.concatenate([[4.0, 2.0], np.ones(38)])
    assert st.hill_tail_index(x, 0.05) == pytest.approx(2 / math.log(8))
    assert math.isnan(st.hill_tail_index(np.ones(100), 0.05))  # all tied
    assert math.isnan(st.hill_tail_index(np.arange(10.0), 0.05))  # k < 2


def test_tick_rule() -> None:
    signs = st.tick_rule_signs([10.0, 10.0, 10.01, 10.01, 10.0, 10.0])
    assert signs.tolist() == [0, 0, 1, 1, -1, -1]


def test_lee_ready_hand_case() -> None:
    # quotes: seq 1 @ t=1000 10.00/10.02; seq 10 @ t=2000 10.04/10.06
    q_ts, q_seq = np.array([1000, 2000]), np.array([1, 10])
    bid, ask = np.array([10.00, 10.04]), np.array([10.02, 10.06])
    # prints: before any quote; above mid; below mid; at mid (tick rule: uptick);
    # same ms as the second quote but an earlier seq (still the first quote: buy at 10.02);
    # after the second quote at its mid, a downtick from 10.06 -> sell.
    p_ts = np.array([500, 1100, 1200, 1300, 2000, 2000, 2100])
    p_seq = np.array([0, 2, 3, 4, 5, 11, 12])
    price = np.array([9.99, 10.02, 10.00, 10.01, 10.02, 10.06, 10.05])
    qi = st.quote_index_before(p_ts, p_seq, q_ts, q_seq)
    assert qi.tolist() == [-1, 0, 0, 0, 0, 1, 1]
    mid = st.take_or_nan(0.5 * (bid + ask), qi)
    signs = st.lee_ready_signs(price, mid)
    # print 0: no quote and no earlier price -> 0; print 3 at the mid, 10.00 -> 10.01 is an
    # uptick -> buy; print 6 at the mid 10.05 after 10.06 is a downtick -> sell.
    assert signs.tolist() == [0, 1, -1, 1, 1, 1, -1]


def test_time_weighted_median_of_quote_sequence() -> None:
    # spreads (ticks) 1 for 10 s, 3 for 5 s, 2 for 20 s, then 5 at the window's end
    ts = np.array([0, 10_000, 15_000, 35_000])
    spread = np.array([1.0, 3.0, 2.0, 5.0])
    dur = st.clipped_durations(ts, 0, 35_000)
    assert dur.tolist() == [10_000, 5_000, 20_000, 0]
    assert st.weighted_median(spread, dur) == 2.0
    assert st.weighted_mean(spread, dur) == pytest.approx((10 + 15 + 40) / 35)
    # a window starting mid-way clips the first quote; a quote before the window counts
    assert st.clipped_durations(ts, 12_000, 40_000).tolist() == [0, 3_000, 20_000, 5_000]
    assert st.weighted_median([1.0, 2.0], [1.0, 1.0]) == 1.0  # lower median on a tie


def test_grid_returns_and_bars() -> None:
    ts = np.array([0, 30_000, 90_000, 200_000])
    mid = np.array([100.0, 101.0, 102.0, 99.0])
    r = st.grid_log_returns(ts, mid, 0, 250_000, MIN)  # 4 bars; mids 100, 101, 102, 102, 99
    assert r == pytest.approx(np.diff(np.log([100.0, 101.0, 102.0, 102.0, 99.0])))
    late = st.grid_log_returns(ts + 70_000, mid, 0, 250_000, MIN)
    assert np.isnan(late[:2]).all() and np.isfinite(late[2:]).all()
    vol = st.bar_sums([0, 59_999, 60_000, 250_000], [1, 2, 4, 8], 0, MIN, 4)
    assert vol.tolist() == [3.0, 4.0, 0.0, 0.0]
    assert st.aggregate_returns(np.arange(7.0), 3).tolist() == [3.0, 12.0]


def test_weibull_shape_recovers_known_shape() -> None:
    d = np.random.default_rng(9).weibull(0.5, 5_000) * 1_000.0
    assert st.weibull_shape(np.concatenate([d, np.zeros(100)])) == pytest.approx(0.5, rel=0.05)
    assert math.isnan(st.weibull_shape(np.full(50, 7.0)))


def test_pearson() -> None:
    assert st.pearson([1.0, 2.0, 3.0], [2.0, 4.0, 7.0]) == pytest.approx(0.9933, abs=1e-4)
    assert math.isnan(st.pearson([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))


def test_coefficient_of_variation() -> None:
    assert st.coefficient_of_variation([0.0, 2.0]) == pytest.approx(1.0)
    assert st.coefficient_of_variation([5.0, 5.0, 5.0]) == 0.0


def test_mode_peak_ratio() -> None:
    sizes = [100, 100, 100, 99, 99, 110, 111, 90, 200]
    assert st.mode_peak_ratio(sizes, 100) == (3, 2)
    assert st.mode_peak_ratio(sizes, 500) == (0, 0)


def test_impact_exponent_exact_power_law() -> None:
    x = np.logspace(-4, -1, 60)
    delta, bins = st.impact_exponent(x, 0.2 * x**0.5, 6)
    assert delta == pytest.approx(0.5, abs=1e-9) and bins == 6
    y = 0.2 * x**0.5
    y[:10] = -1.0  # the lowest bin has a negative mean and is dropped
    assert st.impact_exponent(x, y, 6) == (pytest.approx(0.5, abs=1e-9), 5)
    assert math.isnan(st.impact_exponent(x[:2], y[:2], 6)[0])


def test_band() -> None:
    assert Band(2, 30).contains(2) and Band(2, 30).contains(30) and not Band(2, 30).contains(31)
    assert not Band(0, None, inclusive=False).contains(0.0)
    assert Band(0, None, inclusive=False).contains(1e-9)
    assert not Band(None, 0.05).contains(math.nan) and not Band(None, 0.05).contains(None)
    assert Band(2, 30).text == "2\u201330"
    assert Band(-0.25, 0.05).text == "[-0.25, 0.05]"
    assert Band(0, None, inclusive=False).text == "> 0"
    assert Band(None, 0.05).text == "\u2264 0.05"
    assert set(EQUITY_BANDS) <= set(EQUITY_TITLES)


# ---------------------------------------------------------------- end to end


def _ms(date: dt.date, clock: dt.time) -> int:
    return int(dt.datetime.combine(date, clock, tzinfo=NY).timestamp() * 1000)


def _write_run(
    root: Path,
    session: dict[str, int | str],
    quotes: list[tuple[str, int, float, float]],
    prints: list[tuple[str, int, float, int, bool]],
    parents: dict[int, str] | None = None,
    split_prints: bool = False,
) -> Path:
    """A run directory with the exact columns; seq is assigned in (ts, quotes-first) order.

    ``parents`` maps a print's index to its parent order id.
    """
    events = [(ts, 0, i) for i, (_s, ts, _b, _a) in enumerate(quotes)]
    events += [(ts, 1, i) for i, (_s, ts, _p, _z, _o) in enumerate(prints)]
    seq_of = {(kind, i): n for n, (_t, kind, i) in enumerate(sorted(events))}
    qseq = [seq_of[(0, i)] for i in range(len(quotes))]
    pseq = [seq_of[(1, i)] for i in range(len(prints))]
    q_ts = [q[1] for q in quotes]
    pq.write_table(
        pa.table(
            {
                "ts": pa.array(q_ts, pa.int64()),
                "source_ts": pa.array(q_ts, pa.int64()),
                "ingest_ts": pa.array(q_ts, pa.int64()),
                "seq": pa.array(qseq, pa.int64()),
                "trace_id": [f"run:equity-quote:{s}" for s in qseq],
                "underlying_id": [q[0] for q in quotes],
                "bid": pa.array([q[2] for q in quotes], pa.float64()),
                "ask": pa.array([q[3] for q in quotes], pa.float64()),
            }
        ),
        root / "equity_quotes.parquet",
    )
    p_ids = [f"run:equity-print:{s}" for s in pseq]
    p_ts = [p[1] for p in prints]
    table = pa.table(
        {
            "ts": pa.array(p_ts, pa.int64()),
            "source_ts": pa.array(p_ts, pa.int64()),
            "ingest_ts": pa.array(p_ts, pa.int64()),
            "seq": pa.array(pseq, pa.int64()),
            "trace_id": p_ids,
            "underlying_id": [p[0] for p in prints],
            "price": pa.array([p[2] for p in prints], pa.float64()),
            "size": pa.array([p[3] for p in prints], pa.int64()),
            "exchange": ["XNAS" if not p[4] else "FINRA" for p in prints],
            "offExchangeFlag": [p[4] for p in prints],
        }
    )
    if split_prints:  # a directory of part files whose name order is not replay order
        (root / "equity_prints.parquet").mkdir()
        half = table.num_rows // 2
        pq.write_table(table.slice(half), root / "equity_prints.parquet" / "a.parquet")
        pq.write_table(table.slice(0, half), root / "equity_prints.parquet" / "b.parquet")
    else:
        pq.write_table(table, root / "equity_prints.parquet")
    parents = parents or {}
    pq.write_table(
        pa.table(
            {
                "trace_id": p_ids,
                "event_kind": ["equity_print"] * len(prints),
                "parent_order_id": pa.array(
                    [parents.get(i) for i in range(len(prints))], pa.string()
                ),
                "agent_id": pa.array([None] * len(prints), pa.string()),
            }
        ),
        root / "provenance.parquet",
    )
    symbols = sorted({q[0] for q in quotes} | {p[0] for p in prints})
    (root / "manifest.json").write_text(json.dumps({"session": session, "symbols": symbols}))
    return root


def _by_fact(rows: list[FactRow], symbol: str) -> dict[str, FactRow]:
    return {r.fact: r for r in rows if r.symbol == symbol}


def test_equity_facts_end_to_end(tmp_path: Path) -> None:
    date = dt.date(2024, 3, 4)
    o = _ms(date, dt.time(9, 30))
    session = {"date": "2024-03-04", "open_ts": o, "close_ts": o + 390 * MIN}
    session |= {"start_ts": o, "end_ts": o + 40 * MIN}
    # XYZ: one quote a minute; bid path in cents; spread 2 ticks for 30 min, then 1 tick
    bids = 100.0 + 0.01 * np.array([0, 1, 3, 2, 2, 5, 4, 1, 0, 2] * 4)
    spreads = np.where(np.arange(40) < 30, 0.02, 0.01)
    quotes = [("XYZ", o + k * MIN, bids[k], bids[k] + spreads[k]) for k in range(40)]
    quotes += [("ABC", o + 5, 50.0, 50.10), ("ABC", o + 7 * MIN, 50.0, 50.02)]
    offs = [30, 90, 90, 150, 270, 330, 450, 510, 630, 690, 810, 1230]  # seconds after open
    sizes = [50, 100, 100, 200, 37, 500, 100, 300, 10, 99, 1000, 100]
    off_ex = [i in (1, 4, 7) for i in range(12)]
    prints = []
    for j, (sec, size) in enumerate(zip(offs, sizes, strict=True)):
        k = sec // 60  # the quote in force
        price = bids[k] + spreads[k] if j < 6 else bids[k]  # 6 buys at the ask, 6 sells
        prints.append(("XYZ", o + sec * 1000, price, size, off_ex[j]))
    prints += [("ABC", o + 1000 * s, 50.01, 7, True) for s in (61, 62, 63)]
    run = _write_run(tmp_path, session, quotes, prints, {0: "P1", 3: "P1", 8: "P2"}, True)

    rows = equity_facts(run)
    assert {r.symbol for r in rows} == {"XYZ", "ABC"}
    assert [r.fact for r in rows if r.symbol == "XYZ"] == list(EQUITY_TITLES)
    f = _by_fact(equity_facts(run, ["XYZ"]), "XYZ")

    mids = bids + spreads / 2
    r = np.diff(np.log(np.append(mids, mids[-1])))  # 40 bars, the last one flat
    assert f["return_kurtosis_1m"].value == pytest.approx(sps.kurtosis(r))
    d = r - r.mean()
    assert f["return_acf1_1m"].value == pytest.approx((d[:-1] @ d[1:]) / (d @ d))
    assert "noise floor 2/sqrt(n) = 0.316" in f["return_acf1_1m"].note
    vol = np.zeros(40)
    np.add.at(vol, np.array(offs) // 60, sizes)
    assert f["volume_volatility_corr"].value == pytest.approx(np.corrcoef(np.abs(r), vol)[0, 1])

    # XYZ trades near $100: its spread is scored in basis points, not ticks
    assert f["spread_median_ticks"].value == pytest.approx(2.0)
    assert f["spread_median_ticks"].status == "n/a"
    assert f["spread_median_bps"].value == pytest.approx(2.0, rel=1e-3)
    assert f["spread_median_bps"].status == "in"
    for fact in ("spread_open5_ratio", "spread_open_decay_min", "spread_close_ratio"):
        assert f[fact].status == "n/a" and "midday" in f[fact].note  # 40 minutes only
    assert f["odd_lot_share"].value == pytest.approx(4 / 12)
    assert f["round_lot_share"].value == pytest.approx(8 / 12)
    assert f["round_lot_share"].status == "n/a"
    # modes: 100 has 4 prints vs 1 at 99; 200 and 500 have a single print -> ratio 1, not > 1
    assert f["size_modes_100_200_500"].value == pytest.approx(1.0)
    assert f["size_modes_100_200_500"].status == "out"
    assert f["off_exchange_share"].value == pytest.approx(3 / 12)
    assert f["off_exchange_share"].status == "in"
    dur = np.diff(offs) * 1000.0
    assert f["duration_cv"].value == pytest.approx(dur.std() / dur.mean())
    assert "10 positive durations (1 same-ms excluded)" in f["duration_weibull_shape"].note
    assert f["sign_acf1"].value == pytest.approx(9 / 12)
    assert f["sign_acf10"].value == pytest.approx(-2 / 12)
    # 40 quotes, but one bid repeats (2, 2) with the same spread in each block of ten
    assert f["quote_trade_ratio"].value == pytest.approx(36 / 12)
    assert f["quote_change_seconds_share"].value == pytest.approx(36 / 2400)
    assert f["duration_same_ms_share"].value == pytest.approx(1 / 11)
    prices = np.round([p[2] for p in prints if p[0] == "XYZ"], 2)
    assert f["same_price_prints_share"].value == pytest.approx(np.mean(prices[1:] == prices[:-1]))
    assert f["size_modes_small"].value == 0.0  # no print of 1 share
    assert f["size_modes_small"].status == "out"
    assert f["size_largest"].value == 1000 and f["size_largest"].status == "n/a"
    for fact in ("ushape_first_bin", "ushape_midday", "ushape_last_bin", "ushape_bin_noise"):
        assert f[fact].status == "n/a" and f[fact].value is None
    assert f["impact_exponent"].status == "n/a"
    assert "2 signed parents" in f["impact_exponent"].note

    abc = _by_fact(rows, "ABC")
    # the first bar opens before a quote
    assert abc["return_kurtosis_1m"].note.startswith("n = 39 bars;")
    assert abc["quote_trade_ratio"].value == pytest.approx(2 / 3)
    assert abc["off_exchange_share"].value == 1.0
    assert abc["spread_median_ticks"].value == pytest.approx(2.0)  # 10 ticks 7 min, 2 for 33

    with pytest.raises(ValueError, match="not in manifest"):
        equity_facts(run, ["NOPE"])

    table = facts_table(rows)
    assert [c.header for c in table.columns] == ["symbol", "fact", "value", "band", "status"]
    assert table.row_count == len(rows)


def test_spread_in_bps_has_no_band_above_500_dollars(tmp_path: Path) -> None:
    """The basis-point band is for $50-$500 names: a one-cent spread on a $600 name
    (0.17 bp, as SPY quotes) is measured but not judged."""
    date = dt.date(2024, 3, 4)
    o = _ms(date, dt.time(9, 30))
    session = {"date": "2024-03-04", "open_ts": o, "close_ts": o + 390 * MIN,
               "start_ts": o, "end_ts": o + 10 * MIN}
    quotes = [("BIG", o + k * MIN, 600.0 + 0.01 * k, 600.01 + 0.01 * k) for k in range(10)]
    prints = [("BIG", o + k * MIN + 500, 600.01 + 0.01 * k, 100, False) for k in range(10)]
    run = _write_run(tmp_path, session, quotes, prints, {}, False)
    f = _by_fact(equity_facts(run), "BIG")
    assert f["spread_median_bps"].value == pytest.approx(1e4 * 0.01 / 600.0, rel=1e-3)
    assert f["spread_median_bps"].status == "n/a"
    assert "no band above $500" in f["spread_median_bps"].note


def test_intraday_u_shape_full_session_dst(tmp_path: Path) -> None:
    date = dt.date(2024, 7, 1)  # daylight time: the open is 13:30 UTC
    o, c = _ms(date, dt.time(9, 30)), _ms(date, dt.time(16, 0))
    session = {"date": "2024-07-01", "open_ts": o, "close_ts": c, "start_ts": o, "end_ts": c}
    bin_volume = [300, 100, 100, 400, 100, 100, 100, 100, 100, 100, 400, 100, 300]
    prints = [("XYZ", o + b * 30 * MIN + 60_000, 100.0, v, False) for b, v in enumerate(bin_volume)]
    run = _write_run(tmp_path, session, [("XYZ", o, 99.99, 100.01)], prints)
    f = _by_fact(equity_facts(run), "XYZ")
    mean = sum(bin_volume) / 13
    assert f["ushape_first_bin"].value == pytest.approx(300 / mean)
    assert f["ushape_midday"].value == pytest.approx(100 / mean)  # bins 11:30-14:30 only
    assert f["ushape_last_bin"].value == pytest.approx(300 / mean)
    assert [f[k].status for k in ("ushape_first_bin", "ushape_midday", "ushape_last_bin")] == [
        "in",
        "in",
        "in",
    ]
    assert f["return_kurtosis_1m"].status == "n/a"  # a flat mid has no kurtosis


def test_square_root_impact_from_parent_orders(tmp_path: Path) -> None:
    o = _ms(dt.date(2024, 3, 4), dt.time(9, 30))
    session = {"date": "2024-03-04", "open_ts": o, "close_ts": o + 390 * MIN}
    session |= {"start_ts": o, "end_ts": o + 30 * MIN}
    quotes, prints, parents = [], [], {}
    for i in range(24):  # parent i: Q = 100 (i+1)^2 sh, moves the mid (i+1) cents its way
        side = 1 if i % 2 == 0 else -1
        t = o + i * MIN
        moved = round(99.99 + side * (i + 1) * 0.01, 2)
        quotes += [("IMP", t, 99.99, 100.01), ("IMP", t + 20_000, moved, moved + 0.02)]
        half = 50 * (i + 1) ** 2
        first, last = (100.01, moved + 0.02) if side > 0 else (99.99, moved)
        parents |= {len(prints): f"P{i}", len(prints) + 1: f"P{i}"}
        prints += [("IMP", t + 10_000, first, half, False), ("IMP", t + 30_000, last, half, False)]
    prints.append(("IMP", o + 25 * MIN, 100.0, 100, False))  # no parent
    f = _by_fact(equity_facts(_write_run(tmp_path, session, quotes, prints, parents)), "IMP")
    row = f["impact_exponent"]
    # impact = (i+1) cents / $100 ~ sqrt(Q): exactly 1/2 per parent; the quantile-bin
    # means (geometric in Q, arithmetic in impact) pull it a little below 1/2
    assert row.value == pytest.approx(0.47, abs=0.03)
    assert row.status == "in"
    assert row.note.startswith("24 signed parents of 24; 4 of 4 Q/V quantile bins")


def test_pooled_facts_take_the_median_and_count_runs_in_band() -> None:
    from tapesim.calibration.pooling import pooled_facts
    from tapesim.calibration.rows import FactRow

    def row(value: float | None, status: str) -> FactRow:
        return FactRow("SPY", "return_acf1_1m", "ACF lag 1, 1-min returns", value,
                       "[-0.25, 0.05]", status)  # type: ignore[arg-type]

    pooled = pooled_facts([[row(0.12, "out")], [row(0.01, "in")], [row(-0.02, "in")]])
    assert len(pooled) == 1
    assert pooled[0].value == pytest.approx(0.01) and pooled[0].status == "in"
    assert "in band in 2/3" in pooled[0].note
    assert pooled_facts([[row(None, "n/a")], [row(None, "n/a")]])[0].status == "n/a"


def test_heavy_tails_pool_every_runs_returns_together() -> None:
    from tapesim.calibration.pooling import pooled_facts

    gen = np.random.default_rng(3)
    days = [gen.standard_t(4, size=390) * 1e-3 for _ in range(3)]

    def rows(value: float) -> list[FactRow]:
        return [FactRow("SPY", "return_kurtosis_1m", "k", value, "2-30", "in"),
                FactRow("SPY", "return_tail_index_1m", "t", value, "2-5", "in")]

    pooled = {r.fact: r for r in pooled_facts([rows(1.0), rows(2.0), rows(3.0)],
                                              {"SPY": days})}
    together = np.concatenate(days)
    assert pooled["return_kurtosis_1m"].value == pytest.approx(sps.kurtosis(together))
    assert pooled["return_tail_index_1m"].value == pytest.approx(
        st.hill_tail_index(together, 0.05))
    assert pooled["return_kurtosis_1m"].note == "n = 1170 bars; pooled over 3 runs"
    # without the returns, the median of the runs' values
    assert {r.fact: r.value for r in pooled_facts([rows(1.0), rows(2.0), rows(3.0)])} == {
        "return_kurtosis_1m": 2.0, "return_tail_index_1m": 2.0}


def test_every_equity_fact_says_what_a_source_must_have() -> None:
    from tapesim.calibration.facts import NEEDS

    assert set(NEEDS) == set(EQUITY_TITLES)
    assert all({"quotes", "prints"} & set(needs) for needs in NEEDS.values())
