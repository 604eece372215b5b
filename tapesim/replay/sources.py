"""Where a replay reads events from: the source protocol, and a run directory.

A source is anything with a :class:`~tapesim.events.batches.ReplayPlan` that hands out
the selected events as an iterator of
:class:`~tapesim.events.batches.GeneratedEventBatch` in replay order: the contract's
order ``ts, ingest_ts, seq, trace_id`` (CONTRACT.md §1), which is ascending ``seq``
since seq is assigned in that order. Each batch holds one kind; across kinds the
batches are merged by seq, so concatenating them gives the stream in order. A run
directory (here), an exported fixture (``tapesim.replay.fixture``) and a ClickHouse
database are sources.

A run directory is streamed: each kind's Parquet file is read a batch at a time
(without pre-buffering, whose cache keeps every range read until the file closes)
and the four are merged by seq, so memory stays bounded by a few batches per kind
whatever the run's size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.dataset as ds

from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.events.manifest import RunManifest
from tapesim.events.models import KINDS_BY_NAME
from tapesim.io.manifest import RunDirectoryError, damaged, open_run
from tapesim.io.parquet import streaming
from tapesim.io.seq_merge import merge_by_seq
from tapesim.replay.plan import Selector
from tapesim.sim.calendar import NEW_YORK

__all__ = ["BATCH_ROWS", "ReplaySource", "RunDirectorySource", "merge_by_seq", "session_day"]

BATCH_ROWS = 1 << 15  # rows read from a Parquet file at a time


@runtime_checkable
class ReplaySource(Protocol):
    """A source of events for a replay.

    ``plan`` describes the whole source (run id, kinds, symbols, seq and time range);
    ``count`` and ``batches`` apply a :class:`~tapesim.replay.plan.Selector`.
    ``batches`` yields single-kind batches whose concatenation is the selection in
    replay order (strictly ascending ``seq``); a source must raise
    ``RunDirectoryError`` (or a subclass of ``ValueError``) naming the damage when its
    data is out of order or unreadable.
    """

    @property
    def name(self) -> str:
        """What the source is, for messages (a path or a URL)."""
        ...

    @property
    def plan(self) -> ReplayPlan:
        """The plan of the whole source."""
        ...

    def count(self, selector: Selector) -> int:
        """Events ``batches(selector)`` will yield (for a progress bar)."""
        ...

    def batches(self, selector: Selector) -> Iterator[GeneratedEventBatch]:
        """The selected events, batches of one kind in replay order."""
        ...


def session_day(plan: ReplayPlan) -> dt.date:
    """The New York trading day of a plan's events (for ``--start``/``--end``)."""
    if plan.first_ts is None:
        raise ValueError(f"run {plan.run_id} has no events")
    return dt.datetime.fromtimestamp(plan.first_ts / 1000, NEW_YORK).date()


class RunDirectorySource:
    """A run directory as a replay source, streamed from its Parquet files.

    Args:
        path: the run directory.
        batch_rows: rows read from a file at a time (bounds memory: a few batches of
            each kind are alive at once).

    Raises:
        RunDirectoryError: not a directory, a manifest missing, unreadable or not a
            valid run manifest, or a listed file missing or not at its size (the
            message points to ``tapesim verify``).
    """

    def __init__(self, path: Path, batch_rows: int = BATCH_ROWS) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunDirectoryError(f"{self.path} is not a directory: pass a run directory "
                                    "or an exported fixture")
        # open_run checks the manifest against RunManifest (naming a bad field)
        self.manifest = RunManifest.model_validate(open_run(self.path))
        self._plan = ReplayPlan.from_manifest(self.manifest)
        self.batch_rows = batch_rows

    @property
    def name(self) -> str:
        """The run directory's path."""
        return str(self.path)

    @property
    def plan(self) -> ReplayPlan:
        """The whole run's plan, from its manifest."""
        return self._plan

    def _file(self, kind: str) -> Path:
        return self.path / f"{KINDS_BY_NAME[kind].file_stem}.parquet"

    def count(self, selector: Selector) -> int:
        """Events the selection holds, counted from the files (a scan of the filtered
        columns, not of the rows)."""
        total = 0
        for kind in self._plan.kinds:
            expr = selector.expression(KINDS_BY_NAME[kind])
            data = ds.dataset(self._file(kind))
            total += data.count_rows() if expr is None else data.count_rows(filter=expr)
        return total

    def _kind(self, kind: str, selector: Selector) -> Iterator[pa.RecordBatch]:
        event_kind = KINDS_BY_NAME[kind]
        try:
            reader = streaming(self._file(kind))
            for batch in reader.iter_batches(batch_size=self.batch_rows):
                yield selector.mask(event_kind, batch)
        except (OSError, pa.ArrowException) as err:
            raise damaged(self.path, f"{self._file(kind)} cannot be read ({err})") from None

    def batches(self, selector: Selector) -> Iterator[GeneratedEventBatch]:
        """The selected events in replay order: each kind streamed from its file and the
        kinds merged by seq (:func:`merge_by_seq`)."""
        return merge_by_seq({k: self._kind(k, selector) for k in self._plan.kinds
                             if k in KINDS_BY_NAME}, self.name)

