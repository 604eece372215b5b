"""Event batches in replay order and the plan of a replay.

A reader of a run directory hands out a kind's events as :class:`GeneratedEventBatch`
(an Arrow record batch with the seq range it covers); a replay publishes what its
:class:`ReplayPlan` states: which kinds, in which order, over which time, symbols and
seq range. Both are built from a run's manifest and files by ``tapesim.api.run``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from tapesim.events.manifest import OrderingRule, RunManifest
from tapesim.events.models import KINDS, KINDS_BY_NAME

_STREAM_ORDER = [k.name for k in sorted(KINDS, key=lambda k: k.code)]


class GeneratedEventBatch(BaseModel):
    """A columnar batch of one event kind, rows in replay order (ascending ``seq``).

    Args:
        kind: the event kind's contract name, e.g. ``"option_print"``.
        batch: the rows, with the kind's Arrow schema (``EventKind.schema``); not part
            of the JSON form or JSON schema (``tapesim schema GeneratedEventBatch``
            shows the metadata).
        first_seq, last_seq: ``seq`` of the first and last row (run-wide, from 1).
        num_rows: rows in ``batch``; filled from it when not given.

    Raises:
        pydantic.ValidationError: an unknown kind, an empty batch, ``first_seq`` after
            ``last_seq``, or ``num_rows`` other than the batch's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    kind: str = Field(description="event kind, e.g. option_print")
    first_seq: int = Field(ge=0, description="seq of the first row")
    last_seq: int = Field(ge=0, description="seq of the last row")
    num_rows: int = Field(gt=0, description="rows in the batch")
    batch: SkipJsonSchema[pa.RecordBatch] = Field(exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        if isinstance(data, dict) and "num_rows" not in data and "batch" in data:
            data = {**data, "num_rows": data["batch"].num_rows}
        return data

    @model_validator(mode="after")
    def _check(self) -> GeneratedEventBatch:
        if self.kind not in KINDS_BY_NAME:
            raise ValueError(f"unknown event kind {self.kind!r}: one of {', '.join(KINDS_BY_NAME)}")
        if self.first_seq > self.last_seq:
            raise ValueError(f"first_seq {self.first_seq} is after last_seq {self.last_seq}")
        if self.batch.num_rows != self.num_rows:
            raise ValueError(f"num_rows {self.num_rows} but the batch has {self.batch.num_rows}")
        return self

    @classmethod
    def of(cls, kind: str, batch: pa.RecordBatch) -> GeneratedEventBatch:
        """The batch of ``kind`` whose seq range is read from its ``seq`` column."""
        seq = batch.column("seq")
        return cls(kind=kind, batch=batch, first_seq=seq[0].as_py(), last_seq=seq[-1].as_py())


class ReplayPlan(BaseModel):
    """What a replay of a run would publish, and in which order.

    Args:
        run_id: the run's id (``tsim-`` and 12 hex digits).
        kinds: event kinds with at least one event, in their order at equal
            ``(ts, ingest_ts)`` (quotes before prints).
        ordering: the manifest's ordering rule (columns, tie-break, first seq).
        first_ts, last_ts: ``ts`` of the first and last event, epoch ms UTC (null in a
            run without events).
        symbols: underlyings, in the config's order (the tie-break's symbol order).
        first_seq, last_seq: the seq range (``last_seq = first_seq + events - 1``).
        events: number of events to publish, every kind together.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    kinds: list[str]
    ordering: OrderingRule
    first_ts: int | None
    last_ts: int | None
    symbols: list[str]
    first_seq: int = Field(ge=0)
    last_seq: int = Field(ge=-1)
    events: int = Field(ge=0)

    @classmethod
    def from_manifest(cls, manifest: RunManifest) -> ReplayPlan:
        """The whole run's plan, from its manifest's counts, time range and ordering."""
        events = manifest.counts.get("total", 0)
        start = manifest.ordering.seq_start
        return cls(run_id=manifest.run_id,
                   kinds=[k for k in _STREAM_ORDER if manifest.counts.get(k, 0) > 0],
                   ordering=manifest.ordering, first_ts=manifest.time_range.first_ts,
                   last_ts=manifest.time_range.last_ts, symbols=list(manifest.symbols),
                   first_seq=start, last_seq=start + events - 1, events=events)
