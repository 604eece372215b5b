"""A damaged trace id in an event file and in provenance is named by `verify`."""

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
from tapesim.verify.kinds import trace_ids_match
from tapesim.verify.run import verify_run


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


_SEQS = st.lists(st.integers(1, 10**16), min_size=1, max_size=12).map(sorted)
_EDITS = st.sampled_from(["none", "zero", "plus", "prefix", "next", "hex", "space", "bare",
                          "accent", "slash"])


@settings(max_examples=300, deadline=None)
@given(_SEQS, _EDITS, st.integers(0, 11), st.booleans())
def test_trace_ids_read_from_the_buffers_judge_as_built_strings(
        seqs: list[int], edit: str, at: int, offset: bool) -> None:
    """`trace_ids_match` (views of the string buffer) agrees with comparing every id to
    the string built from its seq, on sound ids and on ids damaged in one row."""
    prefix = "tsim-x:option-nbbo:"
    seq = np.array(seqs, dtype=np.int64)
    texts = [f"{prefix}{s}" for s in seqs]
    k, s = at % len(seqs), seqs[at % len(seqs)]
    texts[k] = {"none": texts[k], "zero": f"{prefix}0{s}", "plus": f"{prefix}+{s}",
                "prefix": f"tsim-y:option-nbbo:{s}", "next": f"{prefix}{s + 1}",
                "hex": f"{prefix}{s:#x}", "space": f"{prefix}{s} ", "bare": prefix,
                "accent": f"{prefix}{s}é", "slash": f"{prefix}{str(s)[:-1]}/"}[edit]
    ids = pa.array(texts, pa.string())
    if offset:  # an array that starts inside its buffers
        ids = pa.concat_arrays([pa.array(["x" * 5]), ids]).slice(1)
    built = pc.binary_join_element_wise(prefix, pc.cast(pa.array(seq), pa.string()), "")
    assert trace_ids_match(ids, prefix, seq) == pc.all(pc.equal(ids, built)).as_py()
