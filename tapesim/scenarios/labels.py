"""Ground-truth labels and expected outputs of a scenario run, from what its agents caused.

Each injection becomes one label. Its ``event_refs`` are found causally, not by
search: provenance names the scenario of every event its agent's actions wrote
(its prints, the makers' hedges they triggered, the quotes they moved). The label
lists every caused print (the first option print is the ``anchor``, the rest are
``member``s) and, as ``context``, the OPRA NBBO and the SIP quote in force at the
anchor. Evidence values are computed from those events
(:mod:`tapesim.scenarios.evidence`) and recorded alongside; ``verify`` recomputes
them. Labels and expected outputs are built as the models of
:mod:`tapesim.events.labels` (:class:`~tapesim.events.labels.GroundTruthLabel`,
:class:`~tapesim.events.labels.ExpectedOutputManifest` and the two documents), whose
shapes follow CONTRACT.md §2 and the example fixtures; tapesim's own fields sit under
``tapesim``, and each expected output carries the reference classifier's derived
events for its label (:mod:`tapesim.scenarios.reference`). The run writes them with
``model_dump(mode="json")``: every key, in the canonical JSON of the run directory.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tapesim.config.options import ScenarioInjection
from tapesim.events.derived import ReferenceDerivedEvents
from tapesim.events.labels import (
    EXPECTED_SCHEMA,
    LABEL_SCHEMA,
    AbstentionReason,
    AlertExpectation,
    ConfidenceRange,
    Direction,
    EventKindName,
    EventRef,
    ExpectedOutputManifest,
    ExpectedOutputsDocument,
    ExpectedPipelineEvent,
    GroundTruthLabel,
    LabelQuantities,
    LabelsDocument,
    LabelWindow,
    RefRole,
    Side,
    TapesimLabelDetail,
)
from tapesim.events.stable_json import stable_hash
from tapesim.scenarios.catalog import CATALOG, CATALOG_VERSION, ScenarioSpec
from tapesim.scenarios.evidence import contradictions, features
from tapesim.scenarios.reference import label_derived_events

LABELS = "labels.json"
EXPECTED_OUTPUTS = "expected_outputs.json"
__all__ = [
    "EXPECTED_OUTPUTS",
    "EXPECTED_SCHEMA",
    "LABELS",
    "LABEL_SCHEMA",
    "LabelWriter",
    "expected_output",
    "label_direction",
    "label_documents",
]

_ALERT_EVENTS = [
    ("flow_evidence_candidate", "present", "The scenario should resolve into traceable "
     "candidate evidence.", ["candidate_id", "observation_refs", "feature_vector",
                             "evidence_quality"]),
    ("flow_evidence_cluster", "present", "Evidence should remain explainable before "
     "hypothesis scoring.", ["cluster_id", "candidate_ids", "feature_summary",
                             "evidence_facts"]),
    ("flow_hypothesis_event", "present", "The expected class is a smart-flow hypothesis, "
     "not a label on raw events.", ["hypothesis_type", "direction", "scores", "abstention",
                                    "evidence_refs"]),
]
_QUIET_EVENTS = [
    ("flow_evidence_candidate", "present", "The case may still produce evidence candidates.",
     ["candidate_id", "eligibility", "evidence_quality"]),
    ("flow_hypothesis_event", "absent", "No alerting smart-flow hypothesis should be "
     "emitted.", []),
    ("smart_flow_insight", "absent", "No user-facing insight should be projected.", []),
]
_ABSTENTION: dict[AlertExpectation, list[AbstentionReason]] = {
    "alert": ["not_abstained"], "no_alert": ["below_policy_threshold"],
    "suppress": ["structure_explains_flow"], "abstain": ["weak_quote_context"]}


def _seq(trace_id: str) -> int:
    return int(trace_id.rsplit(":", 1)[1])


def _rows(run_dir: Path, stem: str, expr: pc.Expression, columns: list[str] | None = None,
          ) -> list[dict[str, Any]]:
    table = pq.read_table(run_dir / f"{stem}.parquet", filters=expr, columns=columns)
    return table.sort_by("seq").to_pylist()


def _in_force(rows: list[dict[str, Any]], anchor_seq: int) -> dict[str, Any]:
    """Of the updates matching what the anchor recorded (seq order), the last one replayed
    before it, else the first after it."""
    before = [r for r in rows if r["seq"] < anchor_seq]
    return before[-1] if before else rows[0]


def _ref(role: RefRole, kind: EventKindName, row: dict[str, Any], description: str) -> EventRef:
    return EventRef(role=role, event_kind=kind, event_id=row["trace_id"],
                    trace_id=row["trace_id"], source_ts=row["source_ts"], seq=row["seq"],
                    description=description)


def label_direction(spec: ScenarioSpec, values: dict[str, Any]) -> Direction:
    """The direction a label states: the catalog's, except that an informed entry picks
    its side at run time (from the latent path ahead), so its label states the direction
    its own prints show (``net_directional_bias`` beyond +-0.2, else ``mixed``)."""
    stated = spec.direction
    if spec.policy.informed_s <= 0:
        return stated
    bias = values.get("net_directional_bias", 0.0)
    return "bullish" if bias > 0.2 else "bearish" if bias < -0.2 else "mixed"


class LabelWriter:
    """Builds every injection's label from a finished (closed) run directory.

    ``run_dir`` holds the run's event Parquet files and ``provenance.parquet`` (the
    writer's temporary directory once events are closed); ``run_id`` is the run's id
    and ``session_date`` its trading day (for the 0DTE feature).
    """

    def __init__(self, run_dir: Path, run_id: str, session_date: dt.date) -> None:
        self.run_dir = run_dir
        self.run_id = run_id
        self.date = session_date
        prov = pq.read_table(
            run_dir / "provenance.parquet", filters=pc.is_valid(pc.field("scenario_id")),
            columns=["trace_id", "event_kind", "scenario_id", "agent_id", "position_effect"])
        self.caused = prov

    def label(self, cfg: ScenarioInjection) -> GroundTruthLabel:
        """The label of one injection: its caused prints as anchor/member refs, the
        anchor's quotes in force as context, evidence values from its option prints.

        Raises:
            KeyError: for a scenario the catalog does not have.
        """
        sid = cfg.scenario_id()
        spec = CATALOG[cfg.name]
        mine = self.caused.filter(pc.equal(self.caused.column("scenario_id"), sid))
        kinds = mine.column("event_kind").to_pylist()
        traces = mine.column("trace_id").to_pylist()
        effects = dict(zip(traces, mine.column("position_effect").to_pylist(), strict=True))
        agents = sorted({a for a, k in zip(mine.column("agent_id").to_pylist(), kinds,
                                           strict=True) if k == "option_print" and a})
        option_ids = [t for t, k in zip(traces, kinds, strict=True) if k == "option_print"]
        equity_ids = [t for t, k in zip(traces, kinds, strict=True) if k == "equity_print"]
        o_prints = _rows(self.run_dir, "option_prints",
                         pc.field("trace_id").isin(pa.array(option_ids, pa.string())))
        e_prints = _rows(self.run_dir, "equity_prints",
                         pc.field("trace_id").isin(pa.array(equity_ids, pa.string())),
                         ["trace_id", "source_ts", "seq", "size", "price"])
        refs: list[EventRef] = []
        anchor = o_prints[0] if o_prints else None
        for p in o_prints:
            role: RefRole = "anchor" if p is anchor else "member"
            refs.append(_ref(role, "option_print", p, "Option print the scenario's orders "
                             "caused." if role == "member" else "First option print the "
                             "scenario's orders caused: the label's anchor."))
        refs += [_ref("member", "equity_print", p, "Stock print the scenario caused (a maker's "
                      "hedge of its fill, or its own stock order).") for p in e_prints]
        anchor_mid = end_mid = None
        if anchor is not None:
            refs += self._context(anchor)
            anchor_mid = anchor.get("execution_underlying_mid")
            last_seq = max(_seq(t) for t in traces)
            end_mid = self._mid_at(anchor["underlying_id"], last_seq)
        informed = spec.policy.informed_s > 0  # its side comes from the path ahead
        side: Side = "both" if spec.policy.alternate or informed else (
            cfg.side or spec.policy.side)
        values = features(o_prints, [effects.get(p["trace_id"]) for p in o_prints], side,
                          self.date, anchor_mid, end_mid)
        return self._document(cfg, spec, sid, refs, values, agents, o_prints, e_prints, traces,
                              side)

    def _context(self, anchor: dict[str, Any]) -> list[EventRef]:
        """The quotes the anchor traded against: the OPRA NBBO and SIP quote it recorded as
        in force, found by time and value (feed latency may replay a quote published in
        the print's own millisecond just after it)."""
        quotes = (
            ("option_nbbo", "option_nbbo", "OPRA NBBO in force at the anchor print.",
             {"option_contract_id": "option_contract_id", "ts": "execution_nbbo_ts",
              "bid": "execution_nbbo_bid", "ask": "execution_nbbo_ask",
              "bidSize": "execution_nbbo_bid_size", "askSize": "execution_nbbo_ask_size"}),
            ("equity_quotes", "equity_quote", "Underlying SIP quote in force at the anchor "
             "print.", {"underlying_id": "underlying_id", "ts": "execution_underlying_ts",
                        "bid": "execution_underlying_bid", "ask": "execution_underlying_ask"}),
        )
        out = []
        for stem, kind, description, recorded in quotes:
            if anchor.get(recorded["ts"]) is None:
                continue
            match = functools.reduce(operator.and_, (pc.field(column) == anchor[field]
                                                     for column, field in recorded.items()))
            rows = _rows(self.run_dir, stem, match, ["trace_id", "source_ts", "seq"])
            if rows:
                out.append(_ref("context", kind, _in_force(rows, anchor["seq"]), description))
        return out

    def _mid_at(self, underlying: str, seq: int) -> float | None:
        rows = _rows(self.run_dir, "equity_quotes",
                     (pc.field("underlying_id") == underlying) & (pc.field("seq") <= seq),
                     ["seq", "bid", "ask"])
        return (rows[-1]["bid"] + rows[-1]["ask"]) / 2.0 if rows else None

    def _document(self, cfg: ScenarioInjection, spec: ScenarioSpec, sid: str,
                  refs: list[EventRef], values: dict[str, Any], agents: list[str],
                  o_prints: list[dict[str, Any]], e_prints: list[dict[str, Any]],
                  traces: list[str], side: Side) -> GroundTruthLabel:
        times = [r.source_ts for r in refs if r.role != "context"]
        detail = TapesimLabelDetail(
            scenario=cfg.name,
            agent_ids=agents,
            intent=spec.intent,
            window=LabelWindow(start_ts=min(times) if times else None,
                               end_ts=max(times) if times else None),
            instruments=sorted({p["option_contract_id"] for p in o_prints}),
            underlying_id=o_prints[0]["underlying_id"] if o_prints else cfg.underlying,
            side=side,
            quantities=LabelQuantities(contracts=sum(p["size"] for p in o_prints),
                                       shares=sum(p["size"] for p in e_prints)),
            notional=values.get("total_premium", 0.0),
            caused_event_count=len(traces),
            evidence_values=values,
            parameters=cfg.model_dump(mode="json"),
            contradicted=contradictions(spec.required, spec.forbidden, values),
        )
        return GroundTruthLabel(
            label_id=f"label:{self.run_id}:{sid}",
            run_id=self.run_id,
            scenario_id=sid,
            family=spec.family,
            event_refs=refs,
            expected_class=spec.expected_class,
            expected_direction=label_direction(spec, values),
            confidence_band=spec.band,
            required_evidence=list(spec.required),
            forbidden_evidence=list(spec.forbidden),
            false_positive_penalty=spec.penalty,
            notes=spec.notes,
            schema_version=LABEL_SCHEMA,
            tapesim=detail,
        )


def expected_output(label: GroundTruthLabel, scenario: str, derived: ReferenceDerivedEvents,
                    ) -> ExpectedOutputManifest:
    """The smart-flow expected output of one label of catalog entry ``scenario``, with
    ``derived``, the reference classifier's derived events for the label
    (:func:`tapesim.scenarios.reference.label_derived_events`).

    Raises:
        KeyError: for a scenario the catalog does not have.
    """
    spec = CATALOG[scenario]
    events = _ALERT_EVENTS if spec.alert == "alert" else _QUIET_EVENTS
    low, high = spec.confidence
    return ExpectedOutputManifest(
        expected_output_id=label.label_id.replace("label:", "expected:", 1),
        label_id=label.label_id,
        alert_expectation=spec.alert,
        expected_class=spec.expected_class,
        expected_direction=label.expected_direction,
        confidence_band=spec.band,
        confidence_range=ConfidenceRange(min=low, max=high),
        expected_pipeline_events=[
            ExpectedPipelineEvent(event_kind=k, expectation=e, notes=n, required_fields=f)
            for k, e, n, f in events],
        required_evidence=label.required_evidence,
        forbidden_evidence=label.forbidden_evidence,
        false_positive_penalty=label.false_positive_penalty,
        abstention_reasons=_ABSTENTION[spec.alert],
        reference_derived_events=derived,
    )


def label_documents(run_dir: Path, run_id: str, session_date: dt.date,
                    scenarios: list[ScenarioInjection],
                    ) -> tuple[LabelsDocument, ExpectedOutputsDocument]:
    """(labels.json, expected_outputs.json) of a run with scenarios, from its closed
    run directory ``run_dir`` (event Parquet files and provenance written); each
    expectation carries the reference classifier's derived events for its label."""
    writer = LabelWriter(run_dir, run_id, session_date)
    labels = [writer.label(s) for s in scenarios]
    derived = label_derived_events(run_dir, labels)
    scenario_id = "+".join(s.scenario_id() for s in scenarios)
    labels_doc = LabelsDocument(catalog_version=CATALOG_VERSION, run_id=run_id,
                                scenario_id=scenario_id, schema_version=LABEL_SCHEMA,
                                labels=labels)
    expected_doc = ExpectedOutputsDocument(
        catalog_version=CATALOG_VERSION, run_id=run_id, scenario_id=scenario_id,
        schema_version=EXPECTED_SCHEMA, label_schema_version=LABEL_SCHEMA,
        source_label_hash=stable_hash(labels_doc.model_dump(mode="json")),
        expectations=[expected_output(lb, lb.tapesim.scenario, derived[lb.label_id])
                      for lb in labels])
    return labels_doc, expected_doc
