"""The compiled trace ids of a window are Arrow's decimal cast and join of prefix and seq,
and its compiled digest records give, byte for byte, the rule as
numpy expressions: every field of :data:`tapesim.io.digest.RECORD` from the spool
columns, on random windows mixing the four event kinds, negative and huge cents, every
venue (lit, TRF, options), contracts of several shards and the text tables' empty
entries; and a run's records equal what ``verify`` packs from its Parquet files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, KINDS, OPTION_NBBO, OPTION_PRINT
from tapesim.io.canonical import Canonicaliser
from tapesim.io.digest import RECORD, pack_records
from tapesim.io.window_loops import pack_window, trace_ids
from tapesim.runs import SORT_KEYS
from tests.synthetic_run import (
    LIT,
    OPTION_VENUES,
    OPTIONS,
    SHARDS,
    TRF,
    _option_rows,
    _stock_rows,
)


def numpy_rule(col: dict[str, np.ndarray], seq0: int, offsets: np.ndarray,
               unds: np.ndarray, cons: np.ndarray, exchs: np.ndarray, venue0: int,
               n_lit: int) -> np.ndarray:
    """The records as whole-array numpy expressions (the rule the loop restates)."""
    kind = col["kind"]
    n = len(kind)
    quote, nbbo = kind == EQUITY_QUOTE.code, kind == OPTION_NBBO.code
    eprint, oprint = kind == EQUITY_PRINT.code, kind == OPTION_PRINT.code
    shard, venue = col["shard"].astype(np.int64), col["venue"].astype(np.int64)
    rec = np.zeros(n, dtype=RECORD)
    rec["seq"] = np.arange(seq0, seq0 + n)
    rec["ts"] = rec["source_ts"] = col["ts"]
    rec["ingest_ts"] = col["ingest_ts"]
    rec["kind"] = kind
    rec["underlying_id"] = unds[np.where(nbbo, len(unds) - 1, shard)]
    global_ = offsets[shard] + col["contract"].astype(np.int64)
    rec["contract"] = cons[np.where(nbbo | oprint, global_, len(cons) - 1)]
    rec["price"] = col["price"] / 100.0
    rec["ask"] = np.where(eprint | oprint, 0.0, col["ask"] / 100.0)
    rec["size"] = np.where(quote, 0, col["size"])
    rec["ask_size"] = np.where(nbbo, col["ask_size"], 0)
    rec["exchange"] = exchs[np.where(eprint, venue, np.where(oprint, venue0 + venue,
                                                              len(exchs) - 1))]
    rec["off_exchange"] = eprint & (venue >= n_lit)
    return rec


@pytest.mark.parametrize("seed", range(4))
def test_packed_records_are_the_rule(seed: int) -> None:
    gen = np.random.default_rng(seed)
    n = int(gen.integers(1, 3_000))
    shards = int(gen.integers(1, 5))
    sizes = gen.integers(0, 40, shards)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    unds = np.array([f"S{i}X".encode() * (i + 1) for i in range(shards)] + [b""], "S8")
    cons = np.array([gen.bytes(int(gen.integers(1, 33))).replace(b"\0", b"a")
                     for _ in range(int(sizes.sum()))] + [b""], "S32")
    n_eq, n_opt = int(gen.integers(1, 8)), int(gen.integers(1, 6))
    exchs = np.array([f"E{i}".encode() for i in range(n_eq)]
                     + [f"OPT{i}".encode() for i in range(n_opt)] + [b""], "S8")
    kind = gen.choice([k.code for k in KINDS], n).astype(np.int8)
    shard = gen.integers(0, shards, n).astype(np.int32)
    option = (kind == OPTION_NBBO.code) | (kind == OPTION_PRINT.code)
    # option rows name a contract of their own shard; stock rows carry anything there
    local = np.where(option & (sizes[shard] > 0),
                     gen.integers(0, 1 << 20, n) % np.maximum(sizes[shard], 1),
                     gen.integers(-5, 5, n))
    shard = np.where(option & (sizes[shard] == 0), int(np.argmax(sizes)), shard)
    if sizes.max() == 0:
        kind = np.where(option, EQUITY_QUOTE.code, kind).astype(np.int8)
    venue = np.where(kind == OPTION_PRINT.code, gen.integers(0, n_opt, n),
                     gen.integers(0, n_eq, n)).astype(np.int16)
    big = np.int64(1) << 52
    col = {"ts": gen.integers(0, 1 << 45, n), "ingest_ts": gen.integers(0, 1 << 45, n),
           "kind": kind, "shard": shard.astype(np.int32), "venue": venue,
           "price": gen.integers(-big, big, n), "ask": gen.integers(-big, big, n),
           "size": gen.integers(-(1 << 40), 1 << 40, n),
           "contract": local.astype(np.int32),
           "ask_size": gen.integers(0, 1 << 40, n)}
    seq0 = int(gen.integers(1, 1 << 40))
    n_lit = int(gen.integers(0, n_eq + 1))
    want = numpy_rule(col, seq0, offsets, unds, cons, exchs, n_eq, n_lit)
    got = pack_window(col, seq0, offsets, unds, cons, exchs, n_eq, n_lit)
    assert got.dtype == RECORD and got.tobytes() == want.tobytes()


def test_an_empty_window_packs_no_records() -> None:
    col = {name: np.zeros(0, dtype=np.int64) for name in (
        "ts", "ingest_ts", "kind", "shard", "venue", "price", "ask", "size", "contract",
        "ask_size")}
    empty = np.array([b""], "S8")
    out = pack_window(col, 1, np.zeros(1, np.int64), empty, np.array([b""], "S32"), empty,
                      0, 0)
    assert out.dtype == RECORD and out.size == 0


def test_a_short_column_is_refused() -> None:
    col = {name: np.zeros(3, dtype=np.int64) for name in (
        "ts", "ingest_ts", "kind", "shard", "venue", "price", "ask", "size", "contract",
        "ask_size")}
    col["ask"] = col["ask"][:2]
    empty = np.array([b""], "S8")
    with pytest.raises(ValueError, match="one value per row"):
        pack_window(col, 1, np.zeros(1, np.int64), empty, np.array([b""], "S32"), empty,
                    0, 0)


@pytest.mark.parametrize("with_options", [False, True])
def test_window_records_are_what_verify_packs(with_options: bool) -> None:
    """A window's records equal :func:`pack_records` of the canonical tables made from
    it, put back in seq order: with the option spool's columns, and without them (a
    window of stock spool rows alone)."""
    rows = _stock_rows()
    if with_options:
        rows = pa.concat_tables([rows, _option_rows(OPTIONS)], promote_options="default")
    rows = rows.take(pc.sort_indices(rows, sort_keys=SORT_KEYS))
    canon = Canonicaliser("r", SHARDS, [*LIT, *TRF], len(LIT), tuple(OPTION_VENUES))
    tables, _, records, _ = canon.window(rows)
    packed = np.concatenate([pack_records(k, tables[k.name]) for k in KINDS])
    want = packed[np.argsort(packed["seq"])]
    assert len(records) == rows.num_rows and records.tobytes() == want.tobytes()


def arrow_rule(prefixes: list[str], kind: np.ndarray, seq0: int) -> pa.Array:
    """The trace ids as Arrow kernels: each row's prefix, then its seq cast to decimal."""
    seq = pa.array(np.arange(seq0, seq0 + len(kind), dtype=np.int64))
    prefix = pc.cast(pa.DictionaryArray.from_arrays(pa.array(kind.astype(np.int32)),
                                                    pa.array(prefixes)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.cast(seq, pa.string()), "")


@pytest.mark.parametrize("seq0", [1, 7, 99_990, 999_999_950, (1 << 63) - 300])
def test_trace_ids_are_prefix_and_decimal_seq(seq0: int) -> None:
    """Across digit-count boundaries and up to the largest int64, with prefixes of
    different lengths (and a non-ASCII one), each id is its kind's prefix and its seq."""
    gen = np.random.default_rng(seq0 % 1000)
    prefixes = ["r-1:equity-quote:", "r-1:option-nbbo:", "r-1:equity-print:", "r\u00e9:p:"]
    kind = gen.integers(0, len(prefixes), 300).astype(np.int8)
    got = trace_ids(prefixes, kind, seq0)
    got.validate(full=True)
    assert got.type == pa.string() and got.equals(arrow_rule(prefixes, kind, seq0))


def test_trace_ids_of_an_empty_window_and_refusals() -> None:
    assert trace_ids(["a:"], np.zeros(0, np.int8), 5).to_pylist() == []
    with pytest.raises(ValueError, match="kind code"):
        trace_ids(["a:"], np.array([1], np.int8), 1)
    with pytest.raises(ValueError, match="positive"):
        trace_ids(["a:"], np.array([0], np.int8), 0)
    with pytest.raises(ValueError, match="longer than"):
        trace_ids(["a" * 65], np.array([0], np.int8), 1)
