"""The OPRA spool holds, batch by batch, the rows its calls describe.

A random mix of NBBO chunks (causes per row, one for all, or none), single NBBO rows
and prints, with batches small enough to flush often and chunks larger than the
buffer, read back from the spool and compared with the rows restated one by one:
event time, delivery (stamped time plus latency, per contract first in, first out, a
millisecond after a print of the same millisecond), the quote and the print values,
"none" in the columns a row kind does not use, and a batch wherever the row count or
the time span says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tapesim.events.models import OPTION_NBBO, OPTION_PRINT
from tapesim.venues.option_tape import OPTION_SPOOL_SCHEMA, OptionTape
from tapesim.venues.tape import column_array

N_CONTRACTS = 12
OPEN_MS = 1_700_000_000_000
LATENCY_MS = 3.0


class SmallTape(OptionTape):
    FLUSH_ROWS = 40
    FLUSH_SPAN_MS = 2_000


class Rule:
    """The rows restated one at a time: each call's rows and where batches end."""

    def __init__(self, gen: np.random.Generator) -> None:
        self.gen = gen  # the same stream as the tape's, drawn in the same order
        self.delivered = [0] * N_CONTRACTS
        self.printed = [-1] * N_CONTRACTS
        self.batches: list[list[tuple[int, ...]]] = [[]]
        self.flush_at = OPEN_MS + SmallTape.FLUSH_SPAN_MS

    def nbbo(self, t_ns: int, c: int, quote: tuple[int, ...], cause: int, exp: float) -> None:
        ts = OPEN_MS + t_ns // 1_000_000
        ingest = max(ts + int(exp * LATENCY_MS), self.delivered[c] + int(self.printed[c] == ts))
        self.delivered[c], self.printed[c] = ingest, -1
        none = {"venue": -1, "agent": -1, "contra": -1, "parent": -1, "conditions": 0,
                "nbbo_bid": -1, "nbbo_ask": -1, "nbbo_bid_size": -1, "nbbo_ask_size": -1,
                "nbbo_ts": -1, "und_bid": -1, "und_ask": -1, "und_ts": -1, "effect": 0,
                "refers": -1}
        row = {"kind": OPTION_NBBO.code, "ts": ts, "ingest_ts": ingest, "price": quote[0],
               "ask": quote[1], "size": quote[2], "ask_size": quote[3], "contract": c,
               "cause": cause, **none}
        self.batches[-1].append(tuple(row[f.name] for f in OPTION_SPOOL_SCHEMA))

    def trade(self, t_ns: int, c: int, values: dict[str, int], not_before: int,
              exp: float) -> None:
        ts = OPEN_MS + t_ns // 1_000_000
        ingest = max(ts + int(exp * LATENCY_MS), self.delivered[c], not_before)
        self.delivered[c], self.printed[c] = ingest, ts
        row = {"kind": OPTION_PRINT.code, "ts": ts, "ingest_ts": ingest, "ask": 0,
               "ask_size": 0, "contract": c, **values}
        self.batches[-1].append(tuple(row[f.name] for f in OPTION_SPOOL_SCHEMA))

    def added(self) -> None:
        rows = self.batches[-1]
        if len(rows) >= SmallTape.FLUSH_ROWS or rows[-1][1] >= self.flush_at:
            self.flush_at = rows[-1][1] + SmallTape.FLUSH_SPAN_MS
            self.batches.append([])


@pytest.mark.parametrize("seed", range(3))
def test_spooled_rows_and_batches_are_the_calls_rows(tmp_path: Path, seed: int) -> None:
    gen = np.random.default_rng(seed)
    tape = SmallTape(tmp_path / "o.arrow", OPEN_MS, LATENCY_MS, np.random.default_rng(seed),
                     N_CONTRACTS)
    rule = Rule(np.random.default_rng(seed))
    now = 0
    for _ in range(60):
        kind = gen.integers(0, 4)
        if kind <= 1:  # a chunk, now and then larger than the buffer
            n = int(gen.integers(1, 200 if gen.random() < 0.1 else 12))
            times = now + np.sort(gen.integers(0, 400_000_000, n))
            contracts = gen.integers(0, N_CONTRACTS, n)
            quotes = [gen.integers(0, 900, n) for _ in range(4)]
            how = gen.integers(0, 3)
            causes = (None, int(gen.integers(0, 5)), gen.integers(-1, 5, n))[how]
            tape.nbbos(times, contracts, *quotes, causes)
            exps = rule.gen.standard_exponential(n)
            for i in range(n):
                cause = (-1 if causes is None else causes if isinstance(causes, int)
                         else int(causes[i]))
                rule.nbbo(int(times[i]), int(contracts[i]),
                          tuple(int(q[i]) for q in quotes), cause, float(exps[i]))
            now = int(times[-1])
        elif kind == 2:  # one NBBO row (a fill republished)
            c, quote = int(gen.integers(0, N_CONTRACTS)), tuple(gen.integers(0, 900, 4).tolist())
            cause = int(gen.integers(-1, 3))
            assert tape.nbbo(now, c, *quote, cause=cause) is True
            rule.nbbo(now, c, quote, cause, float(rule.gen.standard_exponential()))
        else:  # a print, often in the millisecond of the last NBBO row
            c = int(gen.integers(0, N_CONTRACTS))
            v = {name: int(gen.integers(-1, 500)) for name in (
                "price", "size", "venue", "agent", "contra", "parent", "conditions", "effect",
                "refers", "cause", "nbbo_bid", "nbbo_ask", "nbbo_bid_size", "nbbo_ask_size",
                "nbbo_ts", "und_bid", "und_ask", "und_ts")}
            v["effect"] = int(gen.integers(0, 4))  # two bits
            v["not_before"] = OPEN_MS + now // 1_000_000 + int(gen.integers(-5, 5))
            nbbo = tuple(v[k] for k in ("nbbo_bid", "nbbo_ask", "nbbo_bid_size",
                                        "nbbo_ask_size", "nbbo_ts"))
            und = (v["und_bid"], v["und_ask"], v["und_ts"])
            row = tape.trade(now, c, v["price"], v["size"], v["venue"], v["agent"], v["contra"],
                             v["parent"], v["conditions"], nbbo, und, v["effect"],
                             v["not_before"], v["refers"], v["cause"])
            assert row == sum(map(len, rule.batches))
            not_before = v.pop("not_before")
            rule.trade(now, c, v, not_before, float(rule.gen.standard_exponential()))
        rule.added()
        now += int(gen.integers(0, 3_000_000))
    tape.close()
    with pa.ipc.open_stream(str(tmp_path / "o.arrow")) as reader:
        assert reader.schema == OPTION_SPOOL_SCHEMA
        got = [list(zip(*b.to_pydict().values(), strict=True)) for b in reader]
    want = [b for b in rule.batches if b]
    assert [len(b) for b in got] == [len(b) for b in want]
    assert got == want
    assert tape.generated == sum(map(len, want))


@pytest.mark.parametrize("field", list(OPTION_SPOOL_SCHEMA), ids=lambda f: f.name)
def test_a_spool_column_is_the_array_pyarrow_makes(field: pa.Field) -> None:
    """``column_array`` gives ``pa.array``'s array, from numpy values of any integer
    dtype (cast to the column's) and from a list, and shares an array of its dtype."""
    gen = np.random.default_rng(len(field.name))
    values = gen.integers(-1, 100, 257)
    for given in (values, values.astype(np.int32), values.tolist()):
        got = column_array(given, field.type)
        assert got.type == field.type and got.null_count == 0
        assert got.equals(pa.array(np.asarray(given), type=field.type))
    own = values.astype(field.type.to_pandas_dtype())
    shared = column_array(own, field.type)
    own[0] = 7
    assert shared[0].as_py() == 7
