"""Canonical market events, each defined exactly once.

A pydantic model is the single source of truth for an event kind: its Arrow
schema (used for every Parquet file and record batch) is generated from the
model's fields, so the two can never drift apart. Field names and types follow
the downstream pipeline's contract, camelCase included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

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


class OptionNBBO(EventMeta):
    """A change of an option contract's consolidated best bid and offer (OPRA)."""

    option_contract_id: str
    bid: float
    ask: float
    bidSize: int = Field(ge=0)
    askSize: int = Field(ge=0)


class OptionPrint(EventMeta):
    """One execution of an option contract, enriched from the run's state at the print.

    Everything after ``exchange`` is optional in the contract; tapesim fills it so
    the pipeline needs no enrichment step. A field without a value is null here and
    omitted from JSON.
    """

    option_contract_id: str
    price: float
    size: int = Field(gt=0)
    exchange: str
    conditions: list[str] | None = None
    underlying_id: str | None = None
    option_type: str | None = None  # "call" | "put"
    notional: float | None = None  # price * size * 100, in dollars rounded to cents
    nbbo_side: str | None = None
    execution_nbbo_side: str | None = None
    execution_nbbo_bid: float | None = None
    execution_nbbo_ask: float | None = None
    execution_nbbo_mid: float | None = None
    execution_nbbo_spread: float | None = None
    execution_nbbo_bid_size: int | None = None
    execution_nbbo_ask_size: int | None = None
    execution_nbbo_ts: int | None = None
    execution_nbbo_age_ms: int | None = None
    execution_underlying_spot: float | None = None
    execution_underlying_bid: float | None = None
    execution_underlying_ask: float | None = None
    execution_underlying_mid: float | None = None
    execution_underlying_spread: float | None = None
    execution_underlying_ts: int | None = None
    execution_underlying_age_ms: int | None = None
    execution_underlying_source: str | None = None
    execution_iv: float | None = Field(default=None, ge=0)
    execution_iv_source: str | None = None
    is_etf: bool | None = None
    signal_pass: bool | None = None
    signal_reasons: list[str] | None = None
    signal_profile: str | None = None


_ARROW_TYPES: dict[type, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    bool: pa.bool_(),
}


def _arrow_type(annotation: Any) -> pa.DataType:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return pa.list_(pa.field("item", _ARROW_TYPES[item], nullable=False))
    return _ARROW_TYPES[annotation]


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a model: one column per field, in field order.

    A field is nullable exactly when its annotation admits ``None``; ``list[str]``
    becomes a list of non-null strings. ``int`` maps to int64, ``float`` to float64,
    ``str`` to string, ``bool`` to bool; any other annotation raises ``KeyError``.
    """
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nullable = type(None) in get_args(annotation)
        if nullable:
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        fields.append(pa.field(name, _arrow_type(annotation), nullable=nullable))
    return pa.schema(fields)


@dataclass(frozen=True)
class EventKind:
    """An event kind as the run directory knows it: model, stream name and file stem.

    ``code`` is also the kind's value in the spools' ``kind`` column and in the
    digest's records; its order (quotes before prints) is the replay tie-break
    (CONTRACT.md §1, *Ordering*).
    """

    name: str  # contract kind, e.g. "equity_quote"
    stream: str  # trace-id stream, e.g. "equity-quote"
    file_stem: str  # run-directory file stem, e.g. "equity_quotes"
    model: type[EventMeta]
    code: int  # ordering rank at equal (ts, ingest_ts): quotes before prints
    schema: pa.Schema = field(init=False)  # generated from ``model``

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", arrow_schema(self.model))


EQUITY_QUOTE = EventKind("equity_quote", "equity-quote", "equity_quotes", EquityQuote, 0)
OPTION_NBBO = EventKind("option_nbbo", "option-nbbo", "option_nbbo", OptionNBBO, 1)
EQUITY_PRINT = EventKind("equity_print", "equity-print", "equity_prints", EquityPrint, 2)
OPTION_PRINT = EventKind("option_print", "option-print", "option_prints", OptionPrint, 3)

KINDS: tuple[EventKind, ...] = (EQUITY_QUOTE, EQUITY_PRINT, OPTION_NBBO, OPTION_PRINT)
KINDS_BY_NAME: dict[str, EventKind] = {k.name: k for k in KINDS}
