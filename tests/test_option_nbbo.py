"""The one-pass option NBBO reader of the options facts: rows grouped by root, stored
small and handed back bit for bit, whatever the row groups and buffer sizes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tapesim.calibration import option_nbbo
from tapesim.calibration.option_nbbo import expiring_within, read_option_nbbo
from tapesim.io.manifest import RunDirectoryError

DATE = dt.date(2024, 3, 4)
START, END = 1_000_000, 2_000_000
IDS = ["XYZ-2024-03-08-100-C", "XYZ-2024-04-19-100-C", "SPY-2024-03-06-500-P",
       "SPY-2024-03-15-480-P", "SPY-2024-03-04-500-C"]


def _file(path: Path, n: int, seed: int, sub_penny_from: int | None = None,
          far_ts: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(START - 5_000, END + 5_000, n))
    if far_ts:
        ts[:3] = [-(2**40), -(2**39), -(2**38)]  # 35 years before: no int32 offset
    code = rng.integers(0, len(IDS), n)
    bid = rng.integers(0, 5_000, n) / 100.0
    ask = bid + rng.integers(1, 50, n) / 100.0
    if sub_penny_from is not None:
        bid[sub_penny_from:] += 0.0004
    pq.write_table(pa.table({
        "ts": ts, "seq": np.arange(1, n + 1), "option_contract_id": pa.array(IDS).take(code),
        "bid": bid, "ask": ask}), path, row_group_size=97)
    return {"ts": ts, "code": code, "bid": bid, "ask": ask}


@pytest.mark.parametrize(("sub_penny_from", "far_ts"), [(None, False), (700, False),
                                                        (None, True)])
def test_rows_come_back_grouped_by_root_bit_for_bit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sub_penny_from: int | None,
        far_ts: bool) -> None:
    monkeypatch.setattr(option_nbbo, "BATCH_ROWS", 64)  # many batches
    monkeypatch.setattr(option_nbbo, "FIRST_ROWS", 16)  # many buffer growths
    rows = _file(tmp_path / "nbbo.parquet", 1_000, 7, sub_penny_from, far_ts)
    front = expiring_within(DATE, (1, 31))
    got = read_option_nbbo(tmp_path / "nbbo.parquet", START, END, front)
    assert sorted(got.ids.to_pylist()) == sorted(IDS)
    for root in ("XYZ", "SPY", "ABC"):
        mine = np.array([IDS[c].startswith(root + "-") for c in rows["code"]], dtype=bool)
        is_front = np.array([1 <= (dt.date.fromisoformat(IDS[c][len(root) + 1:][:10]) - DATE).days
                             <= 31 for c in rows["code"]], dtype=bool)
        kept = mine & is_front & (rows["ts"] < END)
        assert got.kept_rows(root) == int(kept.sum())
        q = got.take(root)
        assert q.in_window == int(np.sum(mine & (rows["ts"] >= START) & (rows["ts"] < END)))
        assert q.ts.tobytes() == rows["ts"][kept].tobytes()
        assert q.bid.tobytes() == rows["bid"][kept].tobytes()
        assert q.ask.tobytes() == rows["ask"][kept].tobytes()
        names = np.array(IDS)[rows["code"][kept]]
        assert [got.ids[int(c)].as_py() for c in q.code] == names.tolist()
        assert got.take(root).ts.size == 0  # handed out once


def test_roots_not_asked_for_are_not_kept(tmp_path: Path) -> None:
    _file(tmp_path / "nbbo.parquet", 300, 3)
    got = read_option_nbbo(tmp_path / "nbbo.parquet", START, END,
                           expiring_within(DATE, (0, 400)), roots={"SPY"})
    assert got.kept_rows("SPY") > 0
    assert got.kept_rows("XYZ") == 0
    assert len(got.ids) == len(IDS)  # every contract is listed whatever its root


def test_a_file_out_of_seq_order_is_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"ts": [START, START + 1], "seq": [2, 1],
                             "option_contract_id": IDS[:2], "bid": [1.0, 1.0],
                             "ask": [1.1, 1.1]}), tmp_path / "nbbo.parquet")
    with pytest.raises(RunDirectoryError, match="not in seq order"):
        read_option_nbbo(tmp_path / "nbbo.parquet", START, END, expiring_within(DATE, (1, 31)))
