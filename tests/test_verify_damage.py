"""A damaged trace id in an event file and in provenance is named by `verify`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tapesim.events.models import OPTION_NBBO
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
