"""The vectorised trace-id check gives the string comparison's answer, damaged ids
included, and a damaged trace id in a run is still named by `verify`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.events.models import OPTION_NBBO
from tapesim.verify.run import verify_run
from tapesim.verify.traces import expected_traces, traces_match

PREFIXES = ["tsim-0123456789ab:equity-quote:", "tsim-0123456789ab:option-nbbo:",
            "tsim-0123456789ab:equity-print:", ""]


def _reference(trace: list[str | None], codes: np.ndarray, seq: np.ndarray) -> bool:
    prefix = pa.array([PREFIXES[c] for c in codes.tolist()], pa.string())
    same = pc.equal(pa.array(trace, pa.string()), expected_traces(prefix, pa.array(seq)))
    return bool(pc.all(pc.fill_null(same, False)).as_py())


def _damage(text: str, how: int, at: int) -> str | None:
    if how == 0 or not text:
        return text
    at %= len(text)
    return {1: text[:at] + "x" + text[at + 1:], 2: text[:at] + "0" + text[at:],
            3: text[:at] + text[at + 1:], 4: text + "7", 5: None,
            6: text[:at] + ":" + text[at + 1:], 7: text.replace(":", "-", 1)}.get(how, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 10**13), st.integers(0, 7),
                          st.integers(0, 60), st.booleans()), min_size=1, max_size=40),
       st.booleans())
def test_vectorised_check_is_the_string_comparison(
        rows: list[tuple[int, int, int, int, bool]], consecutive: bool) -> None:
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    seq = (np.arange(1, len(rows) + 1, dtype=np.int64) * 10**5 - 3 if consecutive
           else np.array([r[1] for r in rows], dtype=np.int64))
    trace = [_damage(PREFIXES[c] + str(s), r[2] if r[4] else 0, r[3])
             for c, s, r in zip(codes.tolist(), seq.tolist(), rows, strict=True)]
    want = _reference(trace, codes, seq)
    assert traces_match(pa.array(trace, pa.string()), codes, PREFIXES, seq) is want
    assert traces_match(pa.array(trace, pa.large_string()), codes, PREFIXES, seq) is want
    chunked = pa.chunked_array([pa.array(trace[:1], pa.string()),
                                pa.array(trace[1:], pa.string())])
    assert traces_match(chunked, codes, PREFIXES, seq) is want


def test_one_prefix_digit_boundaries_and_slices() -> None:
    seq = np.arange(1, 12_001, dtype=np.int64)  # 1 to 5 digits
    trace = pa.array([f"{PREFIXES[1]}{s}" for s in seq.tolist()])
    zeros = np.zeros(len(seq), dtype=np.int64)
    assert traces_match(trace, zeros, PREFIXES[1:2], seq)
    assert traces_match(trace.slice(5000), zeros[5000:], PREFIXES[1:2], seq[5000:])
    shifted = seq.copy()
    shifted[9_999] += 1
    assert not traces_match(trace, zeros, PREFIXES[1:2], shifted)
    assert not traces_match(trace, zeros, ["tsim-0123456789ab:option-nbbp:"], seq)
    assert traces_match(pa.array([], pa.string()), zeros[:0], PREFIXES, seq[:0])
    # seq below 1 takes the string comparison: "-5" is a valid spelling there
    assert traces_match(pa.array([f"{PREFIXES[0]}-5"]), zeros[:1], PREFIXES, np.array([-5]))


def test_damaged_trace_id_in_a_run_is_named(tiny_options_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_options_run, run)
    for name in ("option_nbbo.parquet", "provenance.parquet"):
        table = pq.read_table(run / name)
        i = table.schema.get_field_index("trace_id")
        ids = table.column("trace_id").to_pylist()
        ids[len(ids) // 2] = ids[len(ids) // 2] + "0"
        table = table.set_column(i, table.schema.field(i), pa.array(ids, pa.string()))
        pq.write_table(table, run / name)
    problems = verify_run(run)
    assert (f"option_nbbo.parquet: trace_id is not <run_id>:{OPTION_NBBO.stream}:<seq>"
            in problems)
    assert ("provenance.parquet: trace ids do not follow the events in seq order"
            in problems)
