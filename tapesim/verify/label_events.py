"""Reading what a scenario run's labels are checked against: provenance and events.

:class:`RunEvents` reads a run directory's provenance and event files with dataset
filters on the trace ids (and quote keys) involved, so the cost of checking labels
follows the number of labelled events, not the run's size
(:mod:`tapesim.verify.labels` does the checking).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, KINDS_BY_NAME, OPTION_PRINT
from tapesim.io.manifest import PROVENANCE

PRINT_KINDS = (OPTION_PRINT.name, EQUITY_PRINT.name)


def event_file(kind_name: str) -> str:
    """The Parquet file name of an event kind (by kind name)."""
    return f"{KINDS_BY_NAME[kind_name].file_stem}.parquet"


def trace_seq(trace_id: str) -> int | None:
    """The seq a trace id ends with (``<run_id>:<stream>:<seq>``), or None."""
    tail = trace_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


@dataclass
class Caused:
    """What provenance says one scenario caused."""

    traces: set[str] = field(default_factory=set)  # every caused event
    prints: set[str] = field(default_factory=set)  # the caused prints
    first_option_print: tuple[int, str] | None = None  # (seq, trace id)
    last_seq: int = 0
    effects: dict[str, str | None] = field(default_factory=dict)  # option prints


class RunEvents:
    """Reads one run directory's provenance and events for the label checks."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def dataset(self, kind_name: str) -> ds.Dataset:
        """The run's Parquet dataset of one event kind (by kind name)."""
        return ds.dataset(self.run_dir / event_file(kind_name))

    def caused(self) -> dict[str, Caused]:
        """What provenance says each scenario caused, by scenario id."""
        table = ds.dataset(self.run_dir / PROVENANCE).to_table(
            filter=pc.is_valid(pc.field("scenario_id")),
            columns=["trace_id", "event_kind", "scenario_id", "position_effect"])
        out: dict[str, Caused] = defaultdict(Caused)
        for trace, kind, sid, effect in zip(*(table.column(c).to_pylist()
                                              for c in table.column_names), strict=True):
            caused = out[sid]
            seq = trace_seq(trace) or 0
            caused.last_seq = max(caused.last_seq, seq)
            caused.traces.add(trace)
            if kind in PRINT_KINDS:
                caused.prints.add(trace)
            if kind == OPTION_PRINT.name:
                caused.effects[trace] = effect
                if caused.first_option_print is None or seq < caused.first_option_print[0]:
                    caused.first_option_print = (seq, trace)
        return out

    def events(self, wanted: dict[str, set[str]]) -> dict[str, dict[str, dict[str, Any]]]:
        """Rows of the referenced events by kind and trace id (option prints whole, the
        other kinds' trace id, seq and source_ts)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for kind, traces in wanted.items():
            columns = None if kind == OPTION_PRINT.name else ["trace_id", "seq", "source_ts"]
            table = self.dataset(kind).to_table(
                filter=pc.field("trace_id").isin(pa.array(sorted(traces), pa.string())),
                columns=columns)
            out[kind] = {row["trace_id"]: row for row in table.to_pylist()}
        return out

    def stamped(self, kind_name: str, key: str, values: tuple[str, ...],
                 pairs: set[tuple[str, int]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """Per (instrument, ts): the kind's events stamped then (trace id, seq and
        ``values`` columns)."""
        if not pairs:
            return {}
        table = self.dataset(kind_name).to_table(
            filter=pc.field("ts").isin(pa.array(sorted({t for _, t in pairs}), pa.int64()))
            & pc.field(key).isin(pa.array(sorted({k for k, _ in pairs}), pa.string())),
            columns=[key, "ts", "seq", "trace_id", *values]).sort_by("seq")
        out: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for row in table.to_pylist():
            if (row[key], row["ts"]) in pairs:
                out[(row[key], row["ts"])].append(row)
        return out

    def mids(self, underlyings: set[str], max_seq: int,
              ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per underlying: SIP quote seqs (sorted) and mids, up to ``max_seq``."""
        if not underlyings:
            return {}
        table = self.dataset(EQUITY_QUOTE.name).to_table(
            filter=pc.field("underlying_id").isin(pa.array(sorted(underlyings), pa.string()))
            & (pc.field("seq") <= max_seq),
            columns=["underlying_id", "seq", "bid", "ask"]).sort_by("seq")
        out = {}
        for u in underlyings:
            t = table.filter(pc.equal(table.column("underlying_id"), u))
            mid = (t.column("bid").to_numpy() + t.column("ask").to_numpy()) / 2.0
            out[u] = (t.column("seq").to_numpy(), mid)
        return out
