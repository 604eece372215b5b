"""A load's volume: more underlyings, each from a run of its own, interleaved in time.

A :class:`~tapesim.replay.profiles.LoadProfile` with ``volume = V`` replays, for each
run, the run itself and ``V - 1`` copies of it: the same config with every
underlying renamed (:func:`copy_symbol`) and its own root seed (:func:`copies`). A copy
is an ordinary run, generated and cached like any other, so each underlying's events
are exactly those of its own run; :class:`InterleavedSource` only merges the runs'
streams by event time and numbers the merged stream, so nothing an event says changes
but its place in the stream (and, replayed live, its times and ``seq``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from tapesim.config.run import RunConfig, with_overrides
from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.events.models import KINDS
from tapesim.io.seq_merge import merge_ordered
from tapesim.replay.plan import ReplayError, Selector
from tapesim.replay.sources import ReplaySource

__all__ = ["COPY_SEED_STRIDE", "InterleavedSource", "copies", "copy_symbol"]

#: Root seed of copy ``k`` of a run seeded ``s``: ``s + k * COPY_SEED_STRIDE`` (a prime
#: far beyond the seed steps the demo profiles use, so no copy repeats another run).
COPY_SEED_STRIDE = 1_000_003

_MAX_SYMBOL = 6  # the longest symbol a config takes (and an OCC root holds)


def _letters(k: int) -> str:
    """``k >= 1`` in bijective base 26: 1 → A, 26 → Z, 27 → AA."""
    out = ""
    while k > 0:
        k, r = divmod(k - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def copy_symbol(symbol: str, copy: int) -> str:
    """The ticker of copy ``copy`` (from 1) of ``symbol``: letters appended,
    ``SPY`` → ``SPYA``, ``SPYB``, ...

    Raises:
        ReplayError: the name would be longer than six characters.
    """
    name = symbol + _letters(copy)
    if len(name) > _MAX_SYMBOL:
        raise ReplayError(f"a load of this volume names copy {copy} of {symbol} {name!r}, "
                          f"longer than {_MAX_SYMBOL} characters: choose a smaller load")
    return name


def copies(config: RunConfig, volume: int) -> list[RunConfig]:
    """The runs of ``config`` at ``volume``: itself, then ``volume - 1`` copies.

    Copy ``k`` renames every symbol with :func:`copy_symbol` (and a scenario's explicit
    ``underlying`` with it) and takes root seed ``seed + k * COPY_SEED_STRIDE``; nothing
    else changes.

    Raises:
        ReplayError: ``volume`` below 1, a copy's name too long or already a symbol of
            the run, or a seed past the config's range.
    """
    if volume < 1:
        raise ReplayError(f"volume {volume}: use 1 or more")
    own = {s.symbol for s in config.symbols}
    runs = [config]
    for k in range(1, volume):
        names = {s.symbol: copy_symbol(s.symbol, k) for s in config.symbols}
        clash = sorted(own & set(names.values()))
        if clash:
            raise ReplayError(f"copy {k} of the run would rename onto {', '.join(clash)}, "
                              "already one of its symbols: choose a smaller load")
        data: dict[str, Any] = config.snapshot()
        for symbol in data["symbols"]:
            symbol["symbol"] = names[symbol["symbol"]]
        for scenario in data.get("scenarios", []):
            if scenario.get("underlying") is not None:
                scenario["underlying"] = names[scenario["underlying"]]
        seed = config.seed + k * COPY_SEED_STRIDE
        if seed >= 2**63:
            raise ReplayError(f"seed {config.seed}: too large for a load of volume {volume}")
        data["seed"] = seed
        runs.append(with_overrides(config, {"symbols": data["symbols"],
                                            "scenarios": data.get("scenarios", []),
                                            "seed": seed}))
    return runs


class InterleavedSource:
    """Several runs replayed as one stream, merged by event time.

    Events are taken in ``ts`` order; at equal ``ts`` the earlier source goes first,
    and each source keeps its own replay order. ``seq`` is renumbered from 1 in the
    merged order (each run numbers from 1, so their seqs would collide); trace ids
    keep their run's, so the merged stream is meant to be replayed live, where
    :class:`~tapesim.replay.engine.LiveClock` renumbers both.

    Args:
        sources: the runs, the first one's run id naming the stream (at least one).

    Raises:
        ReplayError: no sources.
    """

    def __init__(self, sources: Sequence[ReplaySource]) -> None:
        if not sources:
            raise ReplayError("an interleaved replay needs at least one run")
        self.sources = list(sources)
        plans = [s.plan for s in self.sources]
        first = [p.first_ts for p in plans if p.first_ts is not None]
        last = [p.last_ts for p in plans if p.last_ts is not None]
        events = sum(p.events for p in plans)
        self._plan = ReplayPlan(
            run_id=plans[0].run_id,
            kinds=[k.name for k in sorted(KINDS, key=lambda k: k.code)
                   if any(k.name in p.kinds for p in plans)],
            ordering=plans[0].ordering, first_ts=min(first, default=None),
            last_ts=max(last, default=None),
            symbols=[s for p in plans for s in p.symbols], first_seq=1, last_seq=events,
            events=events)

    @property
    def name(self) -> str:
        """The sources' names joined with ``+``."""
        return "+".join(s.name for s in self.sources)

    @property
    def plan(self) -> ReplayPlan:
        """The merged plan: every run's events, numbered from 1."""
        return self._plan

    def count(self, selector: Selector) -> int:
        """Events the selection holds across the runs (``from_seq`` counts in the merged
        numbering)."""
        total = sum(s.count(selector.model_copy(update={"from_seq": 0})) for s in self.sources)
        return max(0, total - max(0, selector.from_seq - 1))

    def batches(self, selector: Selector) -> Iterator[GeneratedEventBatch]:
        """The selected events of every run, merged by ``ts`` and numbered from 1
        (``from_seq`` skips the merged stream's first ``from_seq - 1`` events)."""
        inner = selector.model_copy(update={"from_seq": 0})
        streams = [((b.kind, b.batch) for b in source.batches(inner))
                   for source in self.sources]
        seq = 1
        for _, kind, part in merge_ordered(streams, "ts"):
            n = part.num_rows
            lo = max(seq, selector.from_seq)
            skip = lo - seq
            seq += n
            if skip < n:
                yield _numbered(kind, part.slice(skip), lo)


def _numbered(kind: str, rows: pa.RecordBatch, first: int) -> GeneratedEventBatch:
    """``rows`` with ``seq`` renumbered from ``first``."""
    i = rows.schema.get_field_index("seq")
    seq = pa.array(np.arange(first, first + rows.num_rows, dtype=np.int64),
                   rows.schema.field(i).type)
    return GeneratedEventBatch.model_construct(
        kind=kind, batch=rows.set_column(i, rows.schema.field(i), seq), first_seq=first,
        last_seq=first + rows.num_rows - 1, num_rows=rows.num_rows)
