"""Canonical market events, each defined exactly once.

A pydantic model is the single source of truth for an event kind: its Arrow
schema (used for every Parquet file and record batch) is generated from the
model's fields, so the two can never drift apart. Field names and types follow
the downstream pipeline's contract, camelCase included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field


class EventMeta(BaseModel):
    """Fields every canonical market event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: int = Field(ge=0, description="event time, epoch milliseconds UTC")
    source_ts: int = Field(ge=0, description="when the venue or feed stamped it (ms)")
    ingest_ts: int = Field(ge=0, description="when the pipeline would receive it (ms)")
    seq: int = Field(ge=0, description="run-wide sequence number in replay order")
    trace_id: str = Field(min_length=1, description="<run_id>:<stream>:<seq>")


class EquityQuote(EventMeta):
    """A change of a stock's consolidated best bid and offer (SIP NBBO)."""

    underlying_id: str
    bid: float
    ask: float


class EquityPrint(EventMeta):
    """One execution of a stock, on a lit venue or reported off-exchange."""

    underlying_id: str
    price: float
    size: int = Field(gt=0)
    exchange: str
    offExchangeFlag: bool


_ARROW_TYPES: dict[type, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    bool: pa.bool_(),
}


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a model: one non-nullable column per field, in field order."""
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nullable = type(None) in get_args(annotation)
        base = next((a for a in get_args(annotation) if a is not type(None)), annotation)
        fields.append(pa.field(name, _ARROW_TYPES[base], nullable=nullable))
    return pa.schema(fields)


@dataclass(frozen=True)
class EventKind:
    """An event kind as the run directory knows it: model, stream name and file stem."""

    name: str  # contract kind, e.g. "equity_quote"
    stream: str  # trace-id stream, e.g. "equity-quote"
    file_stem: str  # run-directory file stem, e.g. "equity_quotes"
    model: type[EventMeta]
    code: int  # ordering rank at equal (ts, ingest_ts): quotes before prints
    schema: pa.Schema = field(init=False)  # generated from ``model``

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", arrow_schema(self.model))


EQUITY_QUOTE = EventKind("equity_quote", "equity-quote", "equity_quotes", EquityQuote, 0)
EQUITY_PRINT = EventKind("equity_print", "equity-print", "equity_prints", EquityPrint, 1)

KINDS: tuple[EventKind, ...] = (EQUITY_QUOTE, EQUITY_PRINT)
KINDS_BY_NAME: dict[str, EventKind] = {k.name: k for k in KINDS}
