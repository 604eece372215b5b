"""The run manifest as types: what ``manifest.json`` of a run directory states.

The manifest is written last by :mod:`tapesim.io.writer` as canonical JSON (sorted
keys, two-space indent); these models describe that document field by field, so a
reader gets typed values and a damaged or foreign manifest fails naming the field.
Reading a manifest through :class:`RunManifest` and dumping it back with
:meth:`RunManifest.document` gives the same JSON values (``tests/test_api.py``
checks this on real runs), so the written bytes do not depend on which side built it.

Times are epoch milliseconds UTC; sizes are bytes; hashes are lower-case hex sha256.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "tapesim-run-v1"
ORDER_BY = ["ts", "ingest_ts", "seq", "trace_id"]
TIE_BREAK = (
    "seq is assigned in replay order: by ts, then ingest_ts, then quotes before prints, "
    "then the symbol's position in the config, then generation order within the symbol"
)
SEED_NAMESPACE = "tapesim"
SEED_PARTITION = "market"
SHA256_HEX = r"^[0-9a-f]{64}$"
SNAPSHOT_HASH = r"^sha256:[0-9a-f]{64}$"


class ManifestPart(BaseModel):
    """Base of the manifest's models: unknown keys are errors, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedBundle(ManifestPart):
    """The seeds a run drew every random stream from.

    Every stream is ``Generator(PCG64(SeedSequence(seed, spawn_key=K)))`` with ``K``
    derived from the stream's names (``tapesim.sim.rng``); ``namespace`` and
    ``partition`` name the family of streams the seed feeds, so a later kind of
    stream (e.g. a replay's jitter) can take its own partition of the same seed.
    """

    seed: int = Field(ge=0, lt=2**63, description="root seed of the run")
    namespace: str = Field(default=SEED_NAMESPACE, description="generator of the streams")
    partition: str = Field(default=SEED_PARTITION, description="family of streams seeded")


class Generator(ManifestPart):
    """Which program wrote the run, and the library versions its bytes depend on."""

    name: str
    version: str
    libraries: dict[str, str] = Field(description="e.g. numpy, pyarrow, simpy -> version")


class SessionWindow(ManifestPart):
    """The trading day and the simulated window, epoch milliseconds UTC."""

    date: dt.date
    open_ts: int = Field(description="the regular open, 09:30 New York (ms)")
    close_ts: int = Field(description="the day's close, 16:00 or an early close (ms)")
    start_ts: int = Field(description="start of the simulated window (ms)")
    end_ts: int = Field(description="end of the simulated window (ms)")


class VenueCodes(ManifestPart):
    """Venue codes of the run: lit exchanges, trade reporting facilities, options venues."""

    lit: list[str]
    trf: list[str]
    options: list[str]


class TimeRange(ManifestPart):
    """``ts`` of the first and last event in replay order (ms); null when no events."""

    first_ts: int | None
    last_ts: int | None


class OrderingRule(ManifestPart):
    """The replay order of a run's events and how ``seq`` follows it.

    ``order_by`` are the columns that sort every event kind together; ``tie_break``
    says in words what decides between events equal on ``ts`` and ``ingest_ts``;
    ``seq`` numbers the events in that order from ``seq_start``.
    """

    order_by: list[str] = Field(default_factory=lambda: list(ORDER_BY))
    tie_break: str = TIE_BREAK
    seq_start: int = Field(default=1, ge=0)


class EventStream(ManifestPart):
    """The digest of the event stream in replay order (``tapesim.io.digest``)."""

    layout: str = Field(description="the record layout the digest is taken over")
    sha256: str = Field(pattern=SHA256_HEX)


class ScenarioSummary(ManifestPart):
    """The injected scenarios of a run and where their labels are."""

    ids: list[str] = Field(description="scenario ids, NAME@HH:MM[:SS] or the given id")
    labels_path: str
    expected_outputs_path: str
    label_count: int = Field(ge=0)


class ArtifactEntry(ManifestPart):
    """One file of the run directory: its sha256, size in bytes and, for tables, rows."""

    sha256: str = Field(pattern=SHA256_HEX)
    bytes: int = Field(ge=0)
    rows: int | None = Field(default=None, ge=0)


class SourceFile(ManifestPart):
    """One file an imported run was read from: its base name, sha256, size in bytes and
    data rows."""

    name: str
    sha256: str = Field(pattern=SHA256_HEX)
    bytes: int = Field(ge=0)
    rows: int = Field(ge=0)


class RunSource(ManifestPart):
    """Where an imported run's events came from: a real tape, not the simulator.

    ``quotes`` says what ``equity_quotes.parquet`` holds: ``nbbo`` (a consolidated
    source), ``venue_bbo`` (one venue's best bid and offer, e.g. LOBSTER's Nasdaq book;
    ``venue`` names it) or ``none`` (a source without quotes). ``lacks`` names what the
    source does not carry, in words (e.g. ``parent orders``); the scorecard prints
    "n/a: the source has no X" for a fact that needs one of them.
    """

    kind: Literal["real"] = "real"
    format: str = Field(description="the importer: lobster, csv, ...")
    quotes: Literal["nbbo", "venue_bbo", "none"]
    venue: str | None = Field(default=None, description="the venue of a single-venue source")
    files: list[SourceFile]
    lacks: list[str] = Field(default_factory=list)


class RunManifest(ManifestPart):
    """``manifest.json``: what a run directory holds and how to check it.

    ``counts`` maps each event kind (``equity_quote`` ...) and ``total`` to a number of
    events; ``conservation`` maps each symbol to its totals across agents (shares,
    cash cents, contracts, premium cents), every one zero in a sound run.
    ``scenarios`` is present only when scenarios were injected; ``source`` only in a
    run imported from a real tape (:class:`RunSource`), whose ``conservation`` is empty
    and whose ``seed_bundle`` (seed 0) drew nothing.
    """

    format: str = FORMAT
    generator: Generator
    run_id: str = Field(pattern=r"^tsim-[0-9a-f]{12}$")
    profile: str
    seed_bundle: SeedBundle
    parameter_snapshot_hash: str = Field(pattern=SNAPSHOT_HASH)
    session: SessionWindow
    symbols: list[str]
    venues: VenueCodes
    counts: dict[str, int]
    time_range: TimeRange
    ordering: OrderingRule
    event_stream: EventStream
    conservation: dict[str, dict[str, int]]
    scenarios: ScenarioSummary | None = None
    source: RunSource | None = None
    artifacts: dict[str, ArtifactEntry] = Field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The manifest as the JSON values it was read from (keys left unset omitted)."""
        return self.model_dump(mode="json", exclude_unset=True)
