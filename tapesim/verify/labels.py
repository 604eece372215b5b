"""Checks a scenario run's ``labels.json`` and ``expected_outputs.json`` against its events.

A run with scenarios carries one label and one expected output per injection
(:mod:`tapesim.scenarios.labels`). This module checks that they are what the run's
own events say:

- both documents parse as their models (:class:`tapesim.events.labels.LabelsDocument`,
  :class:`tapesim.events.labels.ExpectedOutputsDocument`: keys, schema versions and
  closed vocabularies; a failure names the field's path), and hold one label and one
  expectation per scenario id, in the manifest's order;
  ``source_label_hash`` is the stable hash of the labels document, and each
  expectation is the one its label gives, its reference derived events those the
  reference classifier states over the run's prints
  (:func:`tapesim.scenarios.reference.label_derived_events`);
- every ``event_refs`` entry names an event of the run: its trace id is in its kind's
  Parquet file with the same ``seq`` and ``source_ts``;
- roles: the anchor is the scenario's first caused option print (exactly one anchor
  whenever it caused option prints); anchor and member refs are events whose
  provenance names the label's scenario, and every print it caused is one of them;
  context refs are the OPRA NBBO and SIP quote the anchor recorded as in force (same
  instrument, stamped at its execution_*_ts, with its execution bid/ask and sizes);
- the evidence values are recomputed from the referenced events exactly as the label
  writer computes them (:func:`tapesim.scenarios.evidence.features`) and must equal
  ``tapesim.evidence_values``; a label whose own events contradict its required or
  forbidden evidence fails.

Events are read with dataset filters on the sets of trace ids (and quote keys)
involved (:mod:`tapesim.verify.label_events`), so the cost follows the number of
labelled events, not the run's size. Problems are one line each, naming the file and the label.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from tapesim.config.options import ScenarioInjection
from tapesim.events.derived import ReferenceDerivedEvents
from tapesim.events.labels import (
    CAUSED_ROLES,
    EventRef,
    ExpectedOutputManifest,
    ExpectedOutputsDocument,
    GroundTruthLabel,
    LabelsDocument,
    validation_line,
)
from tapesim.events.models import (
    EQUITY_QUOTE,
    OPTION_NBBO,
    OPTION_PRINT,
)
from tapesim.events.stable_json import stable_hash
from tapesim.io.manifest import PARAMETER_SNAPSHOT, PROVENANCE
from tapesim.scenarios.catalog import CATALOG, CATALOG_VERSION
from tapesim.scenarios.evidence import contradictions, features
from tapesim.scenarios.labels import EXPECTED_OUTPUTS, LABELS, expected_output, label_direction
from tapesim.scenarios.reference import label_derived_events
from tapesim.sim.strict import error_message, error_path
from tapesim.verify.label_events import PRINT_KINDS, Caused, RunEvents, event_file, trace_seq

ModelT = TypeVar("ModelT", bound=BaseModel)
REL_TOLERANCE = 1e-9


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to a relative 1e-9 (both sides come from the same computation)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-12)
    return bool(a == b)


def _load_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        problems.append(f"{path.name} cannot be read as JSON: {err}")
        return None


def _scenario_configs(run_dir: Path, problems: list[str]) -> list[ScenarioInjection] | None:
    snapshot = _load_json(run_dir / PARAMETER_SNAPSHOT, problems)
    if not isinstance(snapshot, dict):
        return None
    try:
        return [ScenarioInjection.model_validate(s) for s in snapshot.get("scenarios") or []]
    except ValidationError as err:
        first = err.errors()[0]
        problems.append(f"{PARAMETER_SNAPSHOT}: scenarios cannot be read: "
                        f"{error_path(first)}: {error_message(first)}")
        return None


def _parse(model: type[ModelT], value: Any, name: str, problems: list[str]) -> ModelT | None:
    """``value`` as ``model``, or None with one problem naming the first bad field."""
    try:
        return model.model_validate(value)
    except ValidationError as err:
        problems.append(validation_line(err, name))
        return None


def label_problems(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Every problem with a run's labels and expected outputs (none for a run without
    scenarios)."""
    problems: list[str] = []
    configs = _scenario_configs(run_dir, problems)
    entry = manifest.get("scenarios")
    if entry is None:
        if configs:
            problems.append(f"manifest has no scenarios entry, but {PARAMETER_SNAPSHOT} "
                            f"injects {len(configs)} scenario(s)")
        return problems
    if configs is None:
        return problems
    ids = [c.scenario_id() for c in configs]
    if not isinstance(entry, dict) or entry.get("ids") != ids:
        problems.append(f"manifest: scenarios.ids is not {ids}, the scenario ids of "
                        f"{PARAMETER_SNAPSHOT} in order")
        return problems
    for key, name in (("labels_path", LABELS), ("expected_outputs_path", EXPECTED_OUTPUTS)):
        if entry.get(key) != name:
            problems.append(f"manifest: scenarios.{key} must be {name}")
        if name not in manifest.get("artifacts", {}):
            problems.append(f"manifest: artifacts do not list {name}")
    labels_doc = _load_json(run_dir / LABELS, problems)
    expected_doc = _load_json(run_dir / EXPECTED_OUTPUTS, problems)
    if labels_doc is None or expected_doc is None:
        return problems
    labels_model = _parse(LabelsDocument, labels_doc, LABELS, problems)
    expected_model = _parse(ExpectedOutputsDocument, expected_doc, EXPECTED_OUTPUTS, problems)
    if labels_model is None or expected_model is None:
        return problems
    labels = _check_documents(labels_model, expected_model, stable_hash(labels_doc), manifest,
                              ids, problems)
    if labels is None:
        return problems
    if entry.get("label_count") != len(labels):
        problems.append(f"manifest: scenarios.label_count is {entry.get('label_count')}, "
                        f"{LABELS} holds {len(labels)}")
    by_id = dict(zip(ids, configs, strict=True))
    _LabelChecker(run_dir, manifest, by_id, problems).check(labels, expected_model.expectations)
    return problems


def _check_documents(labels_doc: LabelsDocument, expected_doc: ExpectedOutputsDocument,
                     labels_hash: str, manifest: dict[str, Any], ids: list[str],
                     problems: list[str]) -> list[GroundTruthLabel] | None:
    """Both documents' headers against the run (schema versions are fixed by the models);
    the labels when they can be checked further. ``labels_hash`` is the stable hash of
    labels.json as read."""
    joined = "+".join(ids)
    for name, doc in ((LABELS, labels_doc), (EXPECTED_OUTPUTS, expected_doc)):
        for key, want in (("catalog_version", CATALOG_VERSION), ("run_id", manifest["run_id"]),
                          ("scenario_id", joined)):
            if getattr(doc, key) != want:
                problems.append(f"{name}: {key} is {getattr(doc, key)!r}, expected {want!r}")
    if expected_doc.source_label_hash != labels_hash:
        problems.append(f"{EXPECTED_OUTPUTS}: source_label_hash is "
                        f"{expected_doc.source_label_hash}, {LABELS} hashes to {labels_hash}")
    labels, expectations = labels_doc.labels, expected_doc.expectations
    found = [lb.scenario_id for lb in labels]
    if found != ids:
        problems.append(f"{LABELS}: labels are for scenarios {found}, expected one per "
                        f"scenario id in manifest order: {ids}")
        return None
    wanted = [lb.label_id for lb in labels]
    have = [e.label_id for e in expectations]
    if have != wanted:
        problems.append(f"{EXPECTED_OUTPUTS}: expectations are for labels {have}, expected one "
                        f"per label in order: {wanted}")
    return labels


class _LabelChecker(RunEvents):
    """Checks every label against the run's events, reading each file once per purpose."""

    def __init__(self, run_dir: Path, manifest: dict[str, Any],
                 configs: dict[str, ScenarioInjection], problems: list[str]) -> None:
        super().__init__(run_dir)
        self.manifest = manifest
        self.configs = configs
        self.problems = problems
        self.date = dt.date.fromisoformat(manifest["session"]["date"])

    def say(self, label_id: str, text: str) -> None:
        self.problems.append(f"{LABELS}: label {label_id}: {text}")

    # --- checking --------------------------------------------------------------------

    def check(self, labels: list[GroundTruthLabel],
              expectations: list[ExpectedOutputManifest]) -> None:
        """Check every label against the events (and its expectation against the label)."""
        caused = self.caused()
        for sid in sorted(set(caused) - set(self.configs)):
            self.problems.append(f"{PROVENANCE}: events caused by scenario {sid!r}, which the "
                                 "manifest does not list")
        wanted: dict[str, set[str]] = defaultdict(set)
        for label in labels:
            self._shape(label)
            for r in label.event_refs:
                wanted[r.event_kind].add(r.trace_id)
        events = self.events(wanted)
        anchors: dict[str, dict[str, Any]] = {}
        prints: dict[str, list[dict[str, Any]]] = {}
        for label in labels:
            lid = label.label_id
            mine = caused.get(label.scenario_id, Caused())
            anchor = self._refs(label, events, mine)
            if anchor is not None:
                anchors[lid] = anchor
            rows = events.get(OPTION_PRINT.name, {})
            prints[lid] = sorted((rows[r.trace_id] for r in label.event_refs
                                  if r.role in CAUSED_ROLES
                                  and r.event_kind == OPTION_PRINT.name
                                  and r.trace_id in rows), key=lambda p: p["seq"])
        self._context(labels, anchors)
        ends = {lb.label_id: caused.get(lb.scenario_id, Caused()).last_seq for lb in labels}
        mids = self.mids({p[0]["underlying_id"] for p in prints.values() if p},
                          max(ends.values(), default=0))
        by_label = {e.label_id: e for e in expectations}
        derived = label_derived_events(self.run_dir, labels, caused_prints={
            lb.label_id: set(caused.get(lb.scenario_id, Caused()).effects) for lb in labels})
        for label in labels:
            lid = label.label_id
            self._evidence(label, prints[lid], caused.get(label.scenario_id, Caused()),
                           mids, ends[lid])
            if lid in by_label:
                self._expectation(label, by_label[lid], derived[lid])

    def _shape(self, label: GroundTruthLabel) -> None:
        """What the label's model cannot say: its id, run id and one ref per event."""
        sid, lid = label.scenario_id, label.label_id
        run_id = self.manifest["run_id"]
        if lid != f"label:{run_id}:{sid}":
            self.say(lid, f"label_id must be label:{run_id}:{sid}")
        if label.run_id != run_id:
            self.say(lid, f"run_id is {label.run_id!r}, expected {run_id!r}")
        traces = [r.trace_id for r in label.event_refs]
        if len(set(traces)) != len(traces):
            self.say(lid, "event_refs name the same event more than once")

    def _refs(self, label: GroundTruthLabel, events: dict[str, dict[str, dict[str, Any]]],
              caused: Caused) -> dict[str, Any] | None:
        """Existence, roles, causation and completeness; returns the anchor's row."""
        lid, sid, refs = label.label_id, label.scenario_id, label.event_refs
        missing: list[EventRef] = []
        moved: list[tuple[EventRef, dict[str, Any]]] = []
        foreign: list[EventRef] = []
        for r in refs:
            row = events.get(r.event_kind, {}).get(r.trace_id)
            if row is None:
                missing.append(r)
            elif row["seq"] != r.seq or row["source_ts"] != r.source_ts:
                moved.append((r, row))
            elif r.role in CAUSED_ROLES and r.trace_id not in caused.traces:
                foreign.append(r)
        if missing:
            m = missing[0]
            self.say(lid, f"{len(missing)} event_ref(s) not in the run, first "
                          f"{m.trace_id} ({m.role}), not in {event_file(m.event_kind)}")
        if moved:
            m, row = moved[0]
            self.say(lid, f"{len(moved)} event_ref(s) disagree with the event they name, first "
                          f"{m.trace_id}: ref seq {m.seq} source_ts {m.source_ts}, "
                          f"the event has seq {row['seq']} source_ts {row['source_ts']}")
        if foreign:
            self.say(lid, f"{len(foreign)} {'/'.join(CAUSED_ROLES)} ref(s) name events whose "
                          f"provenance does not name scenario {sid}, first "
                          f"{foreign[0].trace_id}")
        if any(r.role in CAUSED_ROLES and r.event_kind not in PRINT_KINDS for r in refs):
            self.say(lid, "anchor and member refs must be prints")
        referenced = {r.trace_id for r in refs if r.role in CAUSED_ROLES}
        unreferenced = sorted(caused.prints - referenced, key=lambda t: trace_seq(t) or 0)
        if unreferenced:
            self.say(lid, f"{len(unreferenced)} print(s) the scenario caused are not anchor or "
                          f"member refs, first {unreferenced[0]}")
        anchors = [r for r in refs if r.role == "anchor"]
        has_option_prints = caused.first_option_print is not None or any(
            r.event_kind == OPTION_PRINT.name for r in refs)
        if len(anchors) != (1 if has_option_prints else 0):
            self.say(lid, f"has {len(anchors)} anchor refs, expected "
                          f"{'exactly one' if has_option_prints else 'none'} (it "
                          f"{'has' if has_option_prints else 'has no'} option prints)")
            return None
        if not anchors:
            return None
        anchor = anchors[0]
        first = caused.first_option_print
        if first is not None and anchor.trace_id != first[1]:
            self.say(lid, f"the anchor {anchor.trace_id} is not the first option print the "
                          f"scenario caused ({first[1]})")
        if anchor.event_kind != OPTION_PRINT.name:
            return None
        return events.get(OPTION_PRINT.name, {}).get(anchor.trace_id)

    def _context(self, labels: list[GroundTruthLabel],
                 anchors: dict[str, dict[str, Any]]) -> None:
        """Context refs are the OPRA NBBO and SIP quote the anchor recorded as in force:
        an update of its contract (underlying) stamped at its execution_nbbo_ts
        (execution_underlying_ts) with its execution bid and ask (and NBBO sizes), one of
        each whenever such an update exists. Time and value, not seq: feed latency may
        replay the quote in force just after the print, in the print's millisecond."""
        sources = (
            (OPTION_NBBO.name, "option_contract_id", "execution_nbbo_ts", "OPRA NBBO",
             {"bid": "execution_nbbo_bid", "ask": "execution_nbbo_ask",
              "bidSize": "execution_nbbo_bid_size", "askSize": "execution_nbbo_ask_size"}),
            (EQUITY_QUOTE.name, "underlying_id", "execution_underlying_ts", "SIP quote",
             {"bid": "execution_underlying_bid", "ask": "execution_underlying_ask"}))
        found = {}
        for kind, key, ts_field, _, fields in sources:
            pairs = {(a[key], a[ts_field]) for a in anchors.values()
                     if a.get(ts_field) is not None}
            found[kind] = self.stamped(kind, key, tuple(fields), pairs)
        for label in labels:
            lid = label.label_id
            context = [r for r in label.event_refs if r.role == "context"]
            anchor = anchors.get(lid)
            if anchor is None:
                if context:
                    self.say(lid, "has context refs but no anchor print to give them context")
                continue
            for kind, key, ts_field, what, fields in sources:
                stamped = found[kind].get((anchor[key], anchor.get(ts_field)), [])
                candidates = [row["trace_id"] for row in stamped
                              if all(row[c] == anchor.get(f) for c, f in fields.items())]
                have = [r.trace_id for r in context if r.event_kind == kind]
                if len(have) != (1 if candidates else 0) or not set(have) <= set(candidates):
                    self.say(lid, f"context {kind} refs {have} are not the {what} the anchor "
                                  f"recorded as in force (an update stamped at its {ts_field} "
                                  f"with its values: {candidates[-1] if candidates else 'none'})")
            others = [r for r in context if r.event_kind not in (OPTION_NBBO.name,
                                                                 EQUITY_QUOTE.name)]
            if others:
                self.say(lid, f"context ref {others[0].trace_id} is not a quote")

    def _evidence(self, label: GroundTruthLabel, prints: list[dict[str, Any]], caused: Caused,
                  mids: dict[str, tuple[np.ndarray, np.ndarray]], end_seq: int) -> None:
        """Recompute the evidence features as the label writer does (from the referenced
        option prints in seq order; the underlying move from the first one's quote in
        force to the last SIP quote at or before the scenario's last caused event),
        compare them with the recorded values and judge the label's evidence by them."""
        lid = label.label_id
        cfg = self.configs[label.scenario_id]
        spec = CATALOG[cfg.name]
        anchor_mid = end_mid = None
        if prints:
            anchor_mid = prints[0].get("execution_underlying_mid")
            seqs, mid = mids.get(prints[0]["underlying_id"], (np.array([], dtype=np.int64), None))
            n = int(np.searchsorted(seqs, end_seq, side="right"))
            end_mid = float(mid[n - 1]) if n and mid is not None else None
        informed = spec.policy.informed_s > 0
        side = "both" if spec.policy.alternate or informed else (cfg.side or spec.policy.side)
        values = features(prints, [caused.effects.get(p["trace_id"]) for p in prints], side,
                          self.date, anchor_mid, end_mid)
        recorded = label.tapesim.evidence_values
        differ = sorted(k for k in set(values) | set(recorded)
                        if not _same(recorded.get(k), values.get(k)))
        if differ:
            k = differ[0]
            self.say(lid, f"tapesim.evidence_values differ from what its events give in "
                          f"{', '.join(differ)} (first {k}: label {recorded.get(k)!r}, events "
                          f"{values.get(k)!r})")
        bad = contradictions(label.required_evidence, label.forbidden_evidence, values)
        if bad:
            reqs = {r.requirement_id: r for r in
                    [*label.required_evidence, *label.forbidden_evidence]}
            said = "; ".join(f"{rid} ({reqs[rid].feature_key} {reqs[rid].operator} "
                             f"{reqs[rid].value!r}: events give "
                             f"{values.get(reqs[rid].feature_key)!r})" for rid in bad)
            self.say(lid, f"its own events contradict its evidence: {said}")
        if label.tapesim.contradicted != bad:
            self.say(lid, f"tapesim.contradicted is {label.tapesim.contradicted!r}, "
                          f"its events give {bad!r}")
        direction = label_direction(spec, values)
        if label.expected_direction != direction:
            self.say(lid, f"expected_direction is {label.expected_direction!r}, its "
                          f"scenario and events give {direction!r}")

    def _expectation(self, label: GroundTruthLabel, expectation: ExpectedOutputManifest,
                     derived: ReferenceDerivedEvents) -> None:
        """The expectation must be the one the label, its catalog entry and the reference
        classifier over the run's prints (``derived``) give."""
        lid = label.label_id
        want = expected_output(label, self.configs[label.scenario_id].name, derived)
        differ = sorted(k for k in type(want).model_fields
                        if getattr(expectation, k) != getattr(want, k))
        if differ:
            self.problems.append(f"{EXPECTED_OUTPUTS}: expectation for {lid} differs from what "
                                 f"its label gives in {', '.join(differ)}")
