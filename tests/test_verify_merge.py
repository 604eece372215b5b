"""verify's columnar paths against plain references: the stream's merge by seq (the
windows it cuts and the rows in them) and the tape-consistency join (the quote in
force before each print), on random inputs small enough to check by brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.events.models import OPTION_NBBO, OPTION_PRINT
from tapesim.io.digest import RECORD
from tapesim.verify import consistency
from tapesim.verify.stream import Chunk, merge_by_seq


def _chunks(seqs: list[int], kind: int, size: int) -> list[Chunk]:
    rec = np.zeros(len(seqs), dtype=RECORD)
    rec["seq"] = seqs
    rec["ts"] = np.array(seqs) * 3
    rec["ingest_ts"] = np.array(seqs) * 3 + 1
    rec["kind"] = kind
    return [Chunk.of(rec[i:i + size], kind) for i in range(0, len(seqs), size)]


def _reference_windows(sources: list[list[Chunk]]) -> list[list[int]]:
    """The windows of the merge as first written: a source's buffer is one array, a
    window takes each buffer's first rows, as many as have seq below the smallest last
    seq of the sources still giving rows, sorted by seq (stable)."""
    its = [iter(s) for s in sources]
    bufs = [np.zeros(0, dtype=np.int64) for _ in its]
    live = [True] * len(its)
    out: list[list[int]] = []
    while True:
        for i, it in enumerate(its):
            while live[i] and bufs[i].size == 0:
                nxt = next(it, None)
                if nxt is None:
                    live[i] = False
                else:
                    bufs[i] = nxt.seq
        if not any(b.size for b in bufs):
            return out
        pending = [i for i in range(len(its)) if live[i]]
        cutoff = min(int(bufs[i][-1]) for i in pending) if pending else None
        parts = []
        for i, b in enumerate(bufs):
            split = b.size if cutoff is None else int(np.count_nonzero(b < cutoff))
            if split:
                parts.append(b[:split])
                bufs[i] = b[split:]
        if not parts:
            for i in pending:
                if int(bufs[i][-1]) == cutoff:
                    nxt = next(its[i], None)
                    if nxt is None:
                        live[i] = False
                    else:
                        bufs[i] = np.concatenate([bufs[i], nxt.seq])
            continue
        window = np.concatenate(parts)
        out.append(window[np.argsort(window, kind="stable")].tolist())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=120), st.integers(1, 9),
       st.integers(0, 5), st.booleans())
def test_merge_by_seq_cuts_and_orders_windows_as_before(
        owners: list[int], size: int, damage: int, swap: bool) -> None:
    seqs: list[list[int]] = [[], [], [], []]
    for s, owner in enumerate(owners, start=1):
        seqs[owner].append(s)
    if damage and seqs[0]:  # a gap, a repeated seq, or rows out of order in one source
        seqs[0][min(damage, len(seqs[0])) - 1] += damage if not swap else -2
    sources = [_chunks(s, k, size) for k, s in enumerate(seqs)]
    windows = list(merge_by_seq([iter(s) for s in sources]))
    assert [w.seq.tolist() for w in windows] == _reference_windows(sources)
    for w in windows:
        assert w.records["seq"].tolist() == w.seq.tolist()
        assert (w.records["ts"] == w.ts).all() and (w.records["ingest_ts"] == w.ingest).all()
        assert (w.kind_codes() == w.records["kind"]).all()


def _brute_force(quotes: list[tuple[int, str, float, float]],
                 prints: list[tuple[int, str, float, float, float]]) -> tuple[int, int, list[int]]:
    """(outside, mismatched, first bad seqs) of option prints against the last NBBO of
    their contract with a seq at or below theirs."""
    outside = mismatched = 0
    bad: list[int] = []
    for seq, contract, price, bid_rec, ask_rec in prints:
        before = [q for q in quotes if q[1] == contract and q[0] <= seq]
        bid, ask = (before[-1][2], before[-1][3]) if before else (np.nan, np.nan)
        out = bool(before) and (price < bid - 1e-9 or price > ask + 1e-9)
        mis = not ((bid_rec == bid and ask_rec == ask)
                   or (np.isnan(bid) and np.isnan(bid_rec) and np.isnan(ask_rec)))
        outside += out
        mismatched += mis
        if out or mis:
            bad.append(seq)
    return outside, mismatched, bad[:5]


@pytest.mark.parametrize("seed", range(6))
def test_in_force_join_matches_brute_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           seed: int) -> None:
    monkeypatch.setattr(consistency, "BATCH", 5)  # many quote batches
    rng = np.random.default_rng(seed)
    contracts = ["SPY-2026-03-20-575-C", "SPY-2026-03-20-580-C", "SPY-2026-03-20-585-P",
                 "QQQ-2026-03-20-500-C"]
    quotes: list[tuple[int, str, float, float]] = []
    prints: list[tuple[int, str, float, float, float]] = []
    for seq in range(1, 160):
        contract = contracts[int(rng.integers(0, 3))]  # the fourth never quotes
        if rng.random() < 0.75:
            bid = float(rng.integers(100, 110)) / 100
            quotes.append((seq, contract, bid, bid + 0.02))
            continue
        contract = contracts[int(rng.integers(0, 4))]
        before = [q for q in quotes if q[1] == contract]
        bid, ask = (before[-1][2], before[-1][3]) if before else (np.nan, np.nan)
        if rng.random() < 0.2 and before:
            bid += 0.01  # a recorded NBBO other than the one in force
        price = (bid if rng.random() < 0.8 else bid - 0.05) if before else 1.0
        prints.append((seq, contract, price, bid, ask))
    pq.write_table(pa.table({
        "seq": [q[0] for q in quotes], "option_contract_id": [q[1] for q in quotes],
        "bid": [q[2] for q in quotes], "ask": [q[3] for q in quotes],
        "bidSize": [1] * len(quotes), "askSize": [1] * len(quotes),
        "ts": [q[0] for q in quotes]}), tmp_path / f"{OPTION_NBBO.file_stem}.parquet")
    n = len(prints)
    pq.write_table(pa.table({
        "seq": [p[0] for p in prints], "option_contract_id": [p[1] for p in prints],
        "underlying_id": [p[1][:3] for p in prints], "price": [p[2] for p in prints],
        "conditions": pa.array([[]] * n, pa.list_(pa.string())),
        "execution_nbbo_bid": [p[3] for p in prints],
        "execution_nbbo_ask": [p[4] for p in prints],
        "execution_nbbo_bid_size": [None if np.isnan(p[3]) else 1 for p in prints],
        "execution_nbbo_ask_size": [None if np.isnan(p[3]) else 1 for p in prints],
        "execution_nbbo_ts": [None if np.isnan(p[3]) else
                              max(q[0] for q in quotes if q[1] == p[1] and q[0] < p[0])
                              for p in prints],
        "execution_underlying_bid": [np.nan] * n, "execution_underlying_ask": [np.nan] * n,
        "execution_underlying_ts": pa.array([None] * n, pa.int64())}),
        tmp_path / f"{OPTION_PRINT.file_stem}.parquet")
    options = consistency.family_consistency(tmp_path, "options").options
    outside, mismatched, bad = _brute_force(quotes, prints)
    assert (options.checked, options.outside, options.mismatched, options.examples) == (
        n, outside, mismatched, bad)
