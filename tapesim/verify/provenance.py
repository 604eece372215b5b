"""Provenance row by row against the events it describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.events.models import KINDS_BY_NAME, OPTION_PRINT
from tapesim.io.manifest import PROVENANCE
from tapesim.io.provenance import POSITION_EFFECTS, PROVENANCE_SCHEMA, REAL_SOURCE_KIND, SOURCE_KIND
from tapesim.verify.problems import Problems, file_batches, schema_ok
from tapesim.verify.stream import Rows

# The columns the checks read (agents, parent orders and scenarios are not checked here).
COLUMNS = ["trace_id", "event_kind", "source_kind", "references_trace_id", "position_effect",
           "contra_position_effect"]


def provenance_problems(run_dir: Path, manifest: dict[str, Any], rows: Rows) -> list[str]:
    """Provenance row by row: one row per event in seq order (trace ids), its
    ``source_kind``, references to earlier option prints, position effects on option
    prints only, and as many rows as events."""
    problems = Problems()
    path = run_dir / PROVENANCE
    if not schema_ok(path, PROVENANCE_SCHEMA, "unexpected schema", problems):
        return list(problems)
    row = 0
    run_id = manifest["run_id"]
    prefixes = {name: f"{run_id}:{k.stream}:" for name, k in KINDS_BY_NAME.items()}
    want = REAL_SOURCE_KIND if manifest.get("source") else SOURCE_KIND
    earlier_prints: set[str] = set()
    for t in file_batches(path, problems, ("event_kind", "source_kind"), COLUMNS):
        kinds = t.column("event_kind").combine_chunks()
        if not set(pc.unique(kinds).to_pylist()) <= set(KINDS_BY_NAME):
            problems.add(f"{PROVENANCE}: unknown event_kind")
            return list(problems)
        names = kinds.dictionary.to_pylist()
        codes = kinds.indices.to_numpy(zero_copy_only=False)
        prefix = pc.take(pa.array([prefixes.get(n, "") for n in names], pa.string()),
                         kinds.indices)
        seqs = pa.array(np.arange(row + 1, row + t.num_rows + 1, dtype=np.int64))
        expected = pc.binary_join_element_wise(prefix, pc.cast(seqs, pa.string()), "")
        same = pc.fill_null(pc.equal(t.column("trace_id"), expected), False)
        if not pc.all(same).as_py():
            problems.add(f"{PROVENANCE}: trace ids do not follow the events in seq order")
            return list(problems)
        if set(t.column("source_kind").unique().to_pylist()) != {want}:
            problems.add(f"{PROVENANCE}: source_kind must be {want}")
        option_print = np.array([n == OPTION_PRINT.name for n in names], dtype=bool)[codes]
        refs = t.column("references_trace_id")
        reporting = pc.is_valid(refs).to_numpy(zero_copy_only=False)
        at = np.flatnonzero(option_print | reporting)  # in seq order
        traces = pc.take(t.column("trace_id"), pa.array(at)).to_pylist()
        for i, trace, ref in zip(at.tolist(), traces, pc.take(refs, pa.array(at)).to_pylist(),
                                 strict=True):
            if ref is not None and ref not in earlier_prints:
                problems.add(f"{PROVENANCE}: {trace} reports on {ref}, which is not an "
                             "earlier option print")
            if option_print[i]:
                earlier_prints.add(trace)
        for column in ("position_effect", "contra_position_effect"):
            effect = t.column(column)
            known = pc.is_in(effect, value_set=pa.array(POSITION_EFFECTS))
            if (option_print != known.to_numpy(zero_copy_only=False)).any() or (
                    effect.null_count != int((~option_print).sum())):
                problems.add(f"{PROVENANCE}: {column} must be one of {POSITION_EFFECTS} on "
                             "option prints and null on other events")
        row += t.num_rows
        rows(row)
    if row != manifest.get("counts", {}).get("total"):
        total = manifest.get("counts", {}).get("total")
        problems.add(f"{PROVENANCE} has {row} rows, the run has {total} events")
    return list(problems)
