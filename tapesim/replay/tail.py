"""Reading back what a replay put on the bus, and checking it.

``tapesim tail`` consumes every message of the five streams under a subject prefix
(what they hold when it starts) and reports messages per subject, order violations
(a message not after the one before it in the §1 order ``ts, ingest_ts, seq,
trace_id``), duplicate trace ids, and signal messages of prints that did not pass.

Given the run directory, it also compares digests. The digest is the run manifest's
own, ``tapesim-event-stream-v2`` (``tapesim.io.digest``), recomputed from the consumed
JSON: each message of the four kind subjects is read back into its kind's Arrow
schema (omitted fields as nulls), packed into the digest's core and detail records,
and the records merged by seq, exactly as ``tapesim verify`` does from the Parquet
files. It equals the manifest's ``event_stream.sha256`` when the bus holds the whole
run, each event once, with every field as written (a replay without a selection and
without ``--live``). The consumed core records (about 150 bytes an event) are held
until the end to merge them by seq.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import numpy as np
import pyarrow as pa
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from tapesim.events.models import KINDS_BY_NAME
from tapesim.io.digest import StreamDigest, pack_details, pack_records
from tapesim.replay.bus import KIND_OF_SUBJECT, SIGNAL_SUBJECT, SUBJECTS, stream_name
from tapesim.replay.nats_client import connect

__all__ = ["TailReport", "stream_digest", "tail"]

FETCH = 2048  # messages per fetch
_ORDER = ("ts", "ingest_ts", "seq", "trace_id")


@dataclass
class TailReport:
    """What ``tapesim tail`` found on the bus.

    Args:
        per_subject: messages per canonical subject.
        order_violations: per subject, messages not after their predecessor in the
            order ``ts, ingest_ts, seq, trace_id``.
        duplicates: per subject, messages whose trace id came before.
        missing: per subject, messages the stream held when the tail started but no
            longer delivered (removed by the stream's limits meanwhile).
        bad_signal: messages on ``options.prints.signal`` whose ``signal_pass`` is not
            true.
        digest: ``tapesim-event-stream-v2`` of the consumed events (hex sha256).
    """

    per_subject: Counter[str] = field(default_factory=Counter)
    order_violations: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    bad_signal: int = 0
    digest: str = ""

    @property
    def events(self) -> int:
        """Events on the four kind subjects (the signal copies not counted)."""
        return sum(n for s, n in self.per_subject.items() if s != SIGNAL_SUBJECT)

    @property
    def clean(self) -> bool:
        """No order violation, duplicate, missing or wrong signal message."""
        return not (sum(self.order_violations.values()) or sum(self.duplicates.values())
                    or sum(self.missing.values()) or self.bad_signal)


class _DigestBuilder:
    """Packs consumed events into digest records, chunk by chunk."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS_BY_NAME}
        self.records: list[np.ndarray] = []
        self.details: list[np.ndarray] = []

    def add(self, kind: str, event: dict[str, Any]) -> None:
        rows = self.rows[kind]
        rows.append(event)
        if len(rows) >= 8192:
            self._pack(kind)

    def _pack(self, kind: str) -> None:
        rows, self.rows[kind] = self.rows[kind], []
        if not rows:
            return
        event_kind = KINDS_BY_NAME[kind]
        table = pa.Table.from_pylist(rows, schema=event_kind.schema)
        self.records.append(pack_records(event_kind, table))
        if kind == "option_print":
            self.details.append(pack_details(table))

    def hexdigest(self) -> str:
        for kind in self.rows:
            self._pack(kind)
        digest = StreamDigest()
        for parts in (self.records, self.details):
            if not parts:
                continue
            merged = np.concatenate(parts)
            merged = merged[np.argsort(merged["seq"], kind="stable")]
            (digest.update if parts is self.records else digest.update_details)(merged)
        return digest.hexdigest()


def stream_digest(events: list[tuple[str, dict[str, Any]]]) -> str:
    """``tapesim-event-stream-v2`` of ``(kind, event JSON values)`` pairs, any order."""
    builder = _DigestBuilder()
    for kind, event in events:
        builder.add(kind, event)
    return builder.hexdigest()


async def tail(url: str, prefix: str, timeout: float = 5.0) -> TailReport:
    """Consume the five streams under ``prefix`` at ``url`` and check them.

    Args:
        url: the server, ``nats://host:port``.
        prefix: the subject prefix the replay used (``""`` or ending in ``.``).
        timeout: seconds a fetch may wait for messages the stream said it holds.

    Raises:
        ReplayError: the server cannot be reached.
    """
    nc = await connect(url)
    js = nc.jetstream()
    report = TailReport()
    builder = _DigestBuilder()
    try:
        for subject in SUBJECTS:
            name = stream_name(prefix, subject)
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                continue
            total = info.state.messages
            if not total:
                continue
            sub = await js.pull_subscribe(
                prefix + subject, stream=name,
                config=ConsumerConfig(ack_policy=AckPolicy.NONE,
                                      deliver_policy=DeliverPolicy.ALL))
            kind = KIND_OF_SUBJECT[subject]
            seen: set[str] = set()
            last: tuple[Any, ...] | None = None
            got = 0
            while got < total:
                try:
                    msgs = await sub.fetch(batch=min(FETCH, total - got), timeout=timeout)
                except nats.errors.TimeoutError:  # messages removed meanwhile (limits)
                    report.missing[subject] += total - got
                    break
                for msg in msgs:
                    got += 1
                    event = json.loads(msg.data)
                    report.per_subject[subject] += 1
                    key = tuple(event[k] for k in _ORDER)
                    if last is not None and key <= last:
                        report.order_violations[subject] += 1
                    last = key
                    if event["trace_id"] in seen:
                        report.duplicates[subject] += 1
                    seen.add(event["trace_id"])
                    if subject == SIGNAL_SUBJECT:
                        report.bad_signal += event.get("signal_pass") is not True
                    else:
                        builder.add(kind, event)
            await sub.unsubscribe()
    finally:
        await nc.close()
    report.digest = builder.hexdigest()
    return report
