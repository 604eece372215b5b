"""An exported pipeline fixture (``tapesim export --format islandflow``) as a replay
source, after re-verifying it the way the pipeline's loader does (CONTRACT.md §2).

Every file must be the stable stringification of its value; the manifest's
parameter-snapshot hash, events hash, per-event hashes and batch hash must equal
the FNV-1a hashes recomputed here (``tapesim.events.stable_json``); the trace ids
must be the replay plan's, in the §1 order; no event may carry a label-like key. A
fixture is at most ``export --max-events`` events, so it is read whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa

from tapesim.events.batches import GeneratedEventBatch, ReplayPlan
from tapesim.events.manifest import OrderingRule
from tapesim.events.models import KINDS, KINDS_BY_NAME
from tapesim.events.stable_json import fnv1a32_many, hash_text, stable_hash, stable_stringify
from tapesim.io.manifest import RunDirectoryError
from tapesim.replay.plan import Selector

__all__ = ["FIXTURE_MANIFEST_VERSION", "FixtureError", "FixtureSource", "is_fixture"]

FIXTURE_MANIFEST_VERSION = "synthetic-market-fixture-v1"
FILES = ("manifest.json", "market-events.json", "provenance.json", "parameter-snapshot.json")
LABEL_LIKE = frozenset({"label", "labels", "hidden_label", "hidden_labels",
                        "expected_outputs", "scenario_id", "source_kind"})
_ORDER = ("ts", "ingest_ts", "seq", "trace_id")
_KIND_ORDER = [k.name for k in sorted(KINDS, key=lambda k: k.code)]


class FixtureError(RunDirectoryError):
    """A fixture directory that fails the loader's checks; the message names the check."""


def is_fixture(path: Path) -> bool:
    """Whether ``path`` looks like an exported fixture (has ``market-events.json``)."""
    return (path / "market-events.json").is_file()


def _damaged(path: Path, what: str) -> FixtureError:
    return FixtureError(f"{path}: {what}: the fixture is damaged (export it again from its run "
                        "directory; `tapesim verify RUN_DIR` checks the run)")


def _read(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in FILES:
        try:
            text = (path / name).read_text("utf-8")
            value = json.loads(text)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
            raise _damaged(path, f"{name} cannot be read ({err.__class__.__name__})") from None
        if text != stable_stringify(value) + "\n":
            raise _damaged(path, f"{name} is not in stable JSON")
        values[name] = value
    return values


def verify_fixture(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Recompute every hash of a fixture and check its order.

    Returns:
        (the fixture's manifest, its ``{kind, event}`` entries in replay order).

    Raises:
        FixtureError: a file missing or not stable JSON, a hash that differs, trace
            ids out of the plan's order, or a label-like key on an event.
    """
    values = _read(path)
    manifest, entries = values["manifest.json"], values["market-events.json"]
    try:
        if manifest["manifest_version"] != FIXTURE_MANIFEST_VERSION:
            raise _damaged(path, f"manifest_version is not {FIXTURE_MANIFEST_VERSION}")
        if manifest["parameter_snapshot_hash"] != stable_hash(values["parameter-snapshot.json"]):
            raise _damaged(path, "parameter-snapshot.json does not hash to the manifest's")
        hashes = manifest["event_hashes"]
        texts = [stable_stringify({"kind": e["kind"], "event": e["event"]}) for e in entries]
        events_text = "[" + ",".join(texts) + "]"
        if hashes["events_hash"] != hash_text(events_text):
            raise _damaged(path, "market-events.json does not hash to events_hash")
        listed = hashes["events"]
        if len(listed) != len(entries):
            raise _damaged(path, "event_hashes lists another number of events")
        for i, (entry, h, fnv) in enumerate(zip(entries, listed, fnv1a32_many(texts),
                                                strict=True)):
            if h != {"index": i, "kind": entry["kind"], "trace_id": entry["event"]["trace_id"],
                     "hash": f"fnv1a32:{fnv:08x}"}:
                raise _damaged(path, f"event {i} does not match its hash entry")
            if LABEL_LIKE & entry["event"].keys():
                raise _damaged(path, f"event {i} carries a label-like key")
        run = {"run_id": manifest["run"]["run_id"], "seed_bundle": manifest["seed_bundle"],
               "start_ts": manifest["run"]["start_ts"], "event_count": len(entries),
               "parameter_snapshot_hash": manifest["parameter_snapshot_hash"]}
        batch_text = ('{"events":' + events_text + ',"provenance_by_trace_id":'
                      + stable_stringify(values["provenance.json"]) + ',"run":'
                      + stable_stringify(run) + "}")
        if hashes["batch_hash"] != hash_text(batch_text):
            raise _damaged(path, "the batch hash differs")
        trace_ids = [e["event"]["trace_id"] for e in entries]
        if manifest["replay_plan"]["trace_ids"] != trace_ids:
            raise _damaged(path, "the trace ids are not the replay plan's")
        keys = [tuple(e["event"][k] for k in _ORDER) for e in entries]
        if any(a >= b for a, b in pairwise(keys)):
            raise _damaged(path, "the events are not in the order ts, ingest_ts, seq, trace_id")
        if any(e["kind"] not in KINDS_BY_NAME for e in entries):
            raise _damaged(path, "an event of an unknown kind")
    except (KeyError, TypeError) as err:
        raise _damaged(path, f"a manifest or event field is missing ({err})") from None
    if not entries:
        raise _damaged(path, "it holds no events")
    return manifest, entries


class FixtureSource:
    """An exported fixture directory as a replay source (verified on opening).

    Args:
        path: the fixture directory.

    Raises:
        FixtureError: the fixture fails a check (see :func:`verify_fixture`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.manifest, self._entries = verify_fixture(self.path)
        events = [e["event"] for e in self._entries]
        symbols = dict.fromkeys(e["underlying_id"] for e in events if "underlying_id" in e)
        kinds = {e["kind"] for e in self._entries}
        self._plan = ReplayPlan(
            run_id=self.manifest["run"]["run_id"],
            kinds=[k for k in _KIND_ORDER if k in kinds], ordering=OrderingRule(),
            first_ts=events[0]["ts"], last_ts=events[-1]["ts"], symbols=sorted(symbols),
            first_seq=events[0]["seq"], last_seq=events[-1]["seq"], events=len(events))

    @property
    def name(self) -> str:
        """The fixture directory's path."""
        return str(self.path)

    @property
    def plan(self) -> ReplayPlan:
        """The fixture's plan (its seq range may have gaps: a slice of a run)."""
        return self._plan

    def _batches(self, selector: Selector) -> Iterator[GeneratedEventBatch]:
        for kind, run in groupby(self._entries, key=lambda e: e["kind"]):
            event_kind = KINDS_BY_NAME[kind]
            rows = pa.RecordBatch.from_pylist([e["event"] for e in run],
                                              schema=event_kind.schema)
            rows = selector.mask(event_kind, rows)
            if rows.num_rows:
                yield GeneratedEventBatch.of(kind, rows)

    def count(self, selector: Selector) -> int:
        """Events the selection holds."""
        return sum(b.num_rows for b in self._batches(selector))

    def batches(self, selector: Selector) -> Iterator[GeneratedEventBatch]:
        """The selected events in the fixture's (replay) order, one batch per run of
        consecutive events of one kind."""
        return self._batches(selector)
