"""What a replay publishes and how fast: selection, pacing and the plan around them.

A :class:`ReplaySpec` wraps the run's :class:`~tapesim.events.batches.ReplayPlan` (what
the whole run holds, in the contract's order ``ts, ingest_ts, seq, trace_id``) with
the :class:`Selector` (symbols, a New York time window, a first seq) and the
:class:`Pacing` (event time, a multiple of it, or as fast as acks return; live
rebasing to the wall clock). Sources apply the selector; the replay loop
(``tapesim.replay.engine``) applies the pacing.
"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tapesim.events.batches import ReplayPlan
from tapesim.events.contracts import of_roots
from tapesim.events.models import OPTION_NBBO, OPTION_PRINT, EventKind
from tapesim.sim.calendar import epoch_ms

__all__ = ["SPEEDS", "Burst", "Pacing", "ReplayError", "ReplaySpec", "Selector", "parse_speed",
           "wall_elapsed_ms"]

SPEEDS = ("1", "60", "max")


class ReplayError(ValueError):
    """Bad replay input (a flag, a source, an unreachable server); the message is one
    line naming what is wrong and how to fix it (the CLI exits 2 with it)."""


class Selector(BaseModel):
    """Which events of a source a replay publishes.

    Args:
        symbols: only these underlyings (equity events by ``underlying_id``, option
            events by the contract id's root, in either id form); None for all.
        start_ts, end_ts: only events with ``start_ts <= ts < end_ts``, epoch ms UTC;
            None for no bound.
        from_seq: only events with ``seq >= from_seq`` (to resume a stopped replay).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbols: list[str] | None = None
    start_ts: int | None = Field(default=None, ge=0)
    end_ts: int | None = Field(default=None, ge=0)
    from_seq: int = Field(default=0, ge=0)

    @classmethod
    def on_day(cls, day: dt.date, symbols: list[str] | None = None,
               start: dt.time | None = None, end: dt.time | None = None,
               from_seq: int = 0) -> Selector:
        """The selector of New York wall-clock ``start``/``end`` on the run's ``day``.

        Raises:
            ReplayError: ``start`` is not before ``end``.
        """
        lo = epoch_ms(day, start) if start else None
        hi = epoch_ms(day, end) if end else None
        if lo is not None and hi is not None and lo >= hi:
            raise ReplayError("--start must be before --end")
        return cls(symbols=symbols, start_ts=lo, end_ts=hi, from_seq=from_seq)

    def expression(self, kind: EventKind) -> pc.Expression | None:
        """The Arrow filter of this selection over rows of ``kind``; None selects all."""
        terms: list[pc.Expression] = []
        if self.start_ts is not None:
            terms.append(pc.field("ts") >= self.start_ts)
        if self.end_ts is not None:
            terms.append(pc.field("ts") < self.end_ts)
        if self.from_seq:
            terms.append(pc.field("seq") >= self.from_seq)
        if self.symbols:
            if kind in (OPTION_NBBO, OPTION_PRINT):
                terms.append(of_roots(self.symbols))
            else:
                terms.append(pc.field("underlying_id").isin(self.symbols))
        if not terms:
            return None
        expr = terms[0]
        for term in terms[1:]:
            expr = expr & term
        return expr

    def mask(self, kind: EventKind, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The rows of ``batch`` (of ``kind``) this selection keeps, in order."""
        expr = self.expression(kind)
        return batch if expr is None else batch.filter(expr)



def parse_speed(value: str) -> float | None:
    """``--speed``: ``1`` (event time), ``60`` (a simulated minute per second), any other
    positive factor, or ``max`` (None: as fast as acks return).

    Raises:
        ReplayError: not ``max`` nor a positive number.
    """
    if value.strip().lower() == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        speed = -1.0
    if not (speed > 0 and math.isfinite(speed)):
        raise ReplayError(f"--speed {value!r}: use 1, 60 (or another finite positive factor) "
                          "or max")
    return speed


class Burst(BaseModel):
    """Periodic bursts over a replay's base speed: each ``every_s`` wall seconds begin
    with ``length_s`` wall seconds at ``speed``.

    Args:
        every_s: wall seconds from one burst's start to the next's.
        length_s: wall seconds a burst lasts (at most ``every_s``).
        speed: simulated seconds per wall second during a burst.

    Raises:
        pydantic.ValidationError: a non-positive figure, or a burst longer than its period.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_s: float = Field(gt=0, allow_inf_nan=False)
    length_s: float = Field(gt=0, allow_inf_nan=False)
    speed: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _fits(self) -> Burst:
        if self.length_s > self.every_s:
            raise ValueError(f"length_s {self.length_s:g} is longer than every_s "
                             f"{self.every_s:g}: a burst must fit in its period")
        return self


def wall_elapsed_ms(event_ms: float, speed: float, burst: Burst | None = None) -> float:
    """Wall-clock ms after the first event at which an event ``event_ms`` simulated ms
    after it is due, at ``speed`` simulated seconds per wall second with ``burst``.

    With bursts, one period of ``every_s`` wall seconds covers ``length_s * burst.speed
    + (every_s - length_s) * speed`` simulated seconds, the burst first; the schedule
    starts with a burst at the first event.
    """
    if burst is None:
        return event_ms / speed
    period, length = burst.every_s * 1000.0, burst.length_s * 1000.0
    in_burst = length * burst.speed
    cycles, rest = divmod(event_ms, in_burst + (period - length) * speed)
    if rest < in_burst:
        return cycles * period + rest / burst.speed
    return cycles * period + length + (rest - in_burst) / speed


class Pacing(BaseModel):
    """How fast events go out, and whether their times are rebased to the wall clock.

    Args:
        speed: simulated seconds per wall-clock second (1 follows event time, 60 a
            simulated minute per second); None publishes as fast as acks return.
        live: rebase ``ts``/``source_ts``/``ingest_ts`` to the wall clock at publish
            and renumber ``seq`` (and the seq of ``trace_id``) from ``live_seq_start``
            in publish order, as a live feed must (CONTRACT.md §3: the live API drops
            events more than 15 s old).
        live_seq_start: the first renumbered seq of a live replay.
        burst: periodic bursts over ``speed`` (ignored when ``speed`` is None).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    live: bool = False
    live_seq_start: int = Field(default=1, ge=0)
    burst: Burst | None = None

    def wall_ms(self, event_ms: float) -> float:
        """:func:`wall_elapsed_ms` at this pacing (``speed`` must be set)."""
        assert self.speed is not None
        return wall_elapsed_ms(event_ms, self.speed, self.burst)


class ReplaySpec(BaseModel):
    """A replay: the source's plan, the selection of it and the pacing.

    Args:
        plan: the whole source's plan (run id, kinds, seq and time range).
        source: where the events come from, as named on the command line (a run
            directory, a fixture directory, a storage URL); for messages and records.
        selector: the events to publish.
        pacing: how fast, and whether live.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: ReplayPlan
    source: str = ""
    selector: Selector = Selector()
    pacing: Pacing = Pacing()

    @field_validator("plan")
    @classmethod
    def _has_events(cls, plan: ReplayPlan) -> ReplayPlan:
        if plan.events == 0:
            raise ValueError(f"run {plan.run_id} has no events to replay")
        return plan

    def check(self) -> None:
        """Check the selection against the plan.

        Raises:
            ReplayError: ``from_seq`` beyond the source's last seq, or symbols the run
                does not have.
        """
        sel, plan = self.selector, self.plan
        if sel.from_seq > plan.last_seq:
            raise ReplayError(f"--from-seq {sel.from_seq} is beyond the run's last seq "
                              f"{plan.last_seq}: use a seq from {plan.first_seq} to "
                              f"{plan.last_seq}")
        unknown = sorted(set(sel.symbols or []) - set(plan.symbols))
        if unknown and plan.symbols:
            raise ReplayError(f"--symbols {','.join(unknown)} not in this run: choose from "
                              f"{','.join(plan.symbols)}")
