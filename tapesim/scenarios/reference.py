"""The reference classifier: a transparent, rule-based smart-flow classifier, and the
derived events it states for each label of a scenario run.

It reads option prints in replay order and, per underlying, gathers them into
one-minute clusters (the minute of ``ts``, epoch ms UTC). When a cluster closes (a
later minute begins, or the feed ends) it states, in the pipeline's derived event
kinds (CONTRACT.md §4, :mod:`tapesim.events.derived`):

- a ``flow_evidence_candidate`` per print of the minute (eligible when it is in the
  cluster's focus, the expiry with the most premium);
- a ``flow_evidence_cluster``: the focus's features and the baselines' view, and the
  common features as evidence facts;
- a ``flow_hypothesis_event``: class, direction, confidence and abstention reasons from
  the first rule of :data:`~tapesim.scenarios.reference_rules.RULES` that fires.

Each hypothesis is also an alert of the study's classifier protocol
(docs/CLASSIFIERS.md): :func:`classify` is the entry point
``tapesim.study.reference:classify``. An underlying's clusters, baselines and derived
events depend on its own prints only, so the classifier over some underlyings' prints
states for them exactly what it states over the whole feed.

:func:`label_derived_events` runs it over a finished run directory for the label
writer: each label's expected output carries the derived events of the clusters that
hold one of its caused option prints (``expected_outputs.json``, run directory only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tapesim.events.batches import GeneratedEventBatch
from tapesim.events.derived import (
    CandidateEligibility,
    EvidenceFact,
    EvidenceQuality,
    FlowEvidenceCandidate,
    FlowEvidenceCluster,
    FlowHypothesisEvent,
    HypothesisAbstention,
    HypothesisScores,
    ReferenceDerivedEvents,
)
from tapesim.events.labels import CAUSED_ROLES, GroundTruthLabel
from tapesim.events.vocabulary import PipelineFactKind
from tapesim.scenarios import reference_baselines, reference_flow, reference_rules
from tapesim.scenarios.evidence import features
from tapesim.scenarios.reference_baselines import (
    MINUTE_MS,
    Baselines,
    Cluster,
    focus,
    wide_share,
)
from tapesim.scenarios.reference_rules import MAX_REFS, Hypothesis, hypothesis

NEW_YORK = ZoneInfo("America/New_York")
# The files whose bytes identify the classifier in a study manifest (its rules first,
# then its clusters and baselines, its flow ledger, and this driver).
CLASSIFIER_SOURCES = (reference_rules.__file__, reference_baselines.__file__,
                      reference_flow.__file__, __file__)
ENTRY_POINT = "tapesim.study.reference:classify"
BATCH_ROWS = 1 << 16  # prints per batch handed to the classifier
ReferenceFeed = Literal["signal_prints", "option_prints"]
# The feed of the expected outputs' derived events: every option print, as the shipped
# study examples read (on an ETF the signal filter drops prints under $50,000, most of
# an injected scenario's prints), so that every label's prints are seen.
LABEL_FEED: ReferenceFeed = "option_prints"

# The pipeline's common feature keys (CONTRACT.md §4) stated as a cluster's evidence
# facts, with the fact kind each is evidence of.
FACTS: tuple[tuple[str, PipelineFactKind], ...] = (
    ("total_premium", "premium_size"), ("candidate_count", "premium_size"),
    ("nbbo_aggression_ratio_max", "execution_aggression"),
    ("net_directional_bias", "execution_aggression"),
    ("nbbo_coverage_ratio_mean", "quote_quality"), ("nbbo_stale_ratio_mean", "quote_quality"),
    ("option_spread_bps_max", "quote_quality"), ("underlying_move_bps", "underlying_context"),
    ("days_to_event", "event_context"), ("option_type", "structure_shape"))
_QUALITY: dict[str | None, EvidenceQuality] = {"STALE": "stale", "MISSING": "missing",
                                               None: "missing"}


@dataclass(frozen=True)
class ClusterEvents:
    """The derived events stated when one cluster closed."""

    candidates: list[FlowEvidenceCandidate]
    cluster: FlowEvidenceCluster
    hypothesis: FlowHypothesisEvent


class ReferenceClassifier:
    """The reference classifier's state over one cell: open clusters, baselines and,
    when ``keep_derived``, the derived events stated so far (:attr:`derived`, one
    :class:`ClusterEvents` per closed cluster, in closing order)."""

    def __init__(self, keep_derived: bool = False) -> None:
        self.keep_derived = keep_derived
        self.baselines = Baselines()
        self.reset()

    def reset(self) -> None:
        """Start a new cell: no open clusters, empty baselines, no derived events."""
        self.open: dict[str, Cluster] = {}
        self.baselines.reset()
        self.derived: list[ClusterEvents] = []

    def feed(self, batches: Iterable[GeneratedEventBatch]) -> Iterator[dict[str, Any]]:
        """Alerts and abstentions over the batches (their option prints, in replay
        order), in the order clusters close, as the alert JSON of docs/CLASSIFIERS.md."""
        for group in batches:
            if group.kind != "option_print":
                continue
            for row in group.batch.to_pylist():
                minute = row["ts"] // MINUTE_MS
                yield from self._close(before=minute)
                u = row.get("underlying_id") or row["option_contract_id"].split("-")[0]
                cluster = self.open.setdefault(u, Cluster(u, minute))
                cluster.prints.append(row)
        yield from self._close(before=None)

    def _close(self, before: int | None) -> Iterator[dict[str, Any]]:
        done = sorted(u for u, c in self.open.items() if before is None or c.minute < before)
        for u in done:
            yield self._conclude(self.open.pop(u))

    def _conclude(self, c: Cluster) -> dict[str, Any]:
        minute_prints = c.minute_prints = c.prints
        c.prints = focus(minute_prints)
        first, last = c.prints[0], c.prints[-1]
        day = dt.datetime.fromtimestamp(first["ts"] / 1000, NEW_YORK).date()
        c.values = features(c.prints, [None] * len(c.prints), "both", day,
                            first.get("execution_underlying_mid"),
                            last.get("execution_underlying_mid"))
        c.wide_share = wide_share(c.prints)
        self.baselines.observe(c)
        h = hypothesis(c)
        refs = [p["trace_id"] for p in c.prints[:MAX_REFS]]
        if self.keep_derived:
            self.derived.append(derive(c, minute_prints, h, refs))
        return {"ts": c.close_ts, "underlying": c.underlying, "class": h.hypothesis_class,
                "direction": h.direction, "confidence": h.confidence, "evidence_refs": refs,
                "abstention_reasons": list(h.abstention)}


def _candidate(p: dict[str, Any], eligible: bool) -> FlowEvidenceCandidate:
    side = p.get("nbbo_side")
    return FlowEvidenceCandidate(
        candidate_id=p["trace_id"], observation_refs=[p["trace_id"]],
        feature_vector={"option_contract_id": p["option_contract_id"],
                        "premium": p.get("notional"), "size": p["size"], "nbbo_side": side,
                        "conditions": "|".join(p.get("conditions") or [])},
        evidence_quality=_QUALITY.get(side, "usable"),
        eligibility=CandidateEligibility(
            eligible=eligible, reason_code="focus_expiry" if eligible else "other_expiry"))


def derive(c: Cluster, minute_prints: Sequence[dict[str, Any]], h: Hypothesis,
           refs: list[str]) -> ClusterEvents:
    """The derived events of a closed cluster ``c`` (its focus in ``c.prints``, every
    print of its minute in ``minute_prints``) and the hypothesis ``h`` stated on it."""
    start = c.minute * MINUTE_MS
    cluster_id = f"cluster:{c.underlying}:{start}"
    in_focus = {p["trace_id"] for p in c.prints}
    summary = {**c.values, "premium_z": c.premium_z, "wide_share": round(c.wide_share, 6),
               "volume_ratio_max": c.volume_ratio_max, "move_5m_bps": c.move_5m_bps,
               "drawdown_bps": c.drawdown_bps, "protection": c.protection,
               "protection_share": c.protection_share,
               "premium_ratio": c.premium_ratio, "print_ratio": c.print_ratio,
               "repeat_minutes": c.repeat_minutes, "crowd_tickets": c.crowd_tickets,
               "crowd_pace": c.crowd_pace, "crowd_side": c.crowd_side, **ledger_view(c)}
    facts = [EvidenceFact(fact_kind=kind, feature_key=key, value=c.values.get(key))
             for key, kind in FACTS]
    facts.append(EvidenceFact(fact_kind="eligibility_decision", feature_key="reason_code",
                              value=h.rule))
    cluster = FlowEvidenceCluster(
        cluster_id=cluster_id, underlying_id=c.underlying, start_ts=start, end_ts=c.close_ts,
        candidate_ids=[p["trace_id"] for p in c.prints], feature_summary=summary,
        evidence_facts=facts)
    stated = FlowHypothesisEvent(
        hypothesis_id=f"hypothesis:{c.underlying}:{start}", cluster_id=cluster_id,
        ts=c.close_ts, hypothesis_type=h.hypothesis_class,  # type: ignore[arg-type]
        direction=h.direction,  # type: ignore[arg-type]
        scores=HypothesisScores(confidence=h.confidence),
        abstention=HypothesisAbstention(abstained=bool(h.abstention),
                                        reasons=list(h.abstention) or ["not_abstained"]),  # type: ignore[arg-type]
        evidence_refs=refs)
    return ClusterEvents([_candidate(p, p["trace_id"] in in_focus) for p in minute_prints],
                         cluster, stated)


def ledger_view(c: Cluster) -> dict[str, Any]:
    """The flow ledger's view of a closed cluster as feature-summary entries: the
    unusual contract's contracts, pace ratio, share bought, minutes bought and premium
    (dollars), and the sold expiry's premium sold (dollars), its sold share, its
    selling minutes, its premium sold this minute (dollars) and the calls' share of
    its contracts sold; None
    where the ledger has no such contract or expiry."""
    u, s = c.unusual, c.supply
    return {"unusual_contracts": u.contracts if u else None,
            "unusual_pace_ratio": u.pace_ratio if u else None,
            "unusual_bought_share": u.bought_share if u else None,
            "unusual_minutes": u.minutes if u else None,
            "unusual_premium": u.premium if u else None,
            "sold_premium": s.sold if s else None, "sold_share": s.sold_share if s else None,
            "sold_minutes": s.minutes if s else None, "sold_now": s.now if s else None,
            "sold_call_share": round(s.calls / max(s.calls + s.puts, 1), 3) if s else None}


def classify(batches: Iterator[GeneratedEventBatch]) -> list[dict[str, Any]]:
    """The study entry point ``tapesim.study.reference:classify``: a fresh
    :class:`ReferenceClassifier` over one cell's batches, its alerts and abstentions."""
    return list(ReferenceClassifier().feed(batches))


def feed_prints(run_dir: Path, underlyings: Iterable[str], feed: ReferenceFeed,
                ) -> list[GeneratedEventBatch]:
    """The option prints of ``underlyings`` a classifier of ``feed`` reads, from a run
    directory's ``option_prints.parquet``, in replay order (ascending ``seq``)."""
    where = pc.field("underlying_id").isin(pa.array(sorted(set(underlyings)), pa.string()))
    if feed == "signal_prints":
        where = where & pc.fill_null(pc.field("signal_pass"), False)
    table = pq.read_table(run_dir / "option_prints.parquet", filters=where)
    table = table.sort_by("seq")
    return [GeneratedEventBatch.of("option_print", b)
            for b in table.to_batches(max_chunksize=BATCH_ROWS) if b.num_rows]


def label_derived_events(run_dir: Path, labels: Sequence[GroundTruthLabel],
                         feed: ReferenceFeed = LABEL_FEED,
                         caused_prints: Mapping[str, set[str]] | None = None,
                         ) -> dict[str, ReferenceDerivedEvents]:
    """Each label's reference derived events, by label id: the reference classifier
    over the feed's prints of the labels' underlyings, keeping the clusters whose
    minute holds one of the label's caused option prints (anchor or member refs), in
    closing order, with their eligible candidates and the label's own prints left out
    of the focus (not eligible).

    ``run_dir`` holds the run's ``option_prints.parquet`` (a finished run directory,
    or the run writer's once its events are closed). ``caused_prints`` (trace ids by
    label id) replaces the labels' refs as the caused option prints, for a reader
    that knows them from provenance (``verify``).
    """
    classifier = ReferenceClassifier(keep_derived=True)
    for _ in classifier.feed(feed_prints(run_dir, (lb.tapesim.underlying_id for lb in labels),
                                         feed)):
        pass
    out = {}
    for label in labels:
        caused = (caused_prints[label.label_id] if caused_prints is not None else
                  {r.trace_id for r in label.event_refs
                   if r.role in CAUSED_ROLES and r.event_kind == "option_print"})
        mine = [e for e in classifier.derived
                if e.cluster.underlying_id == label.tapesim.underlying_id
                and any(cand.candidate_id in caused for cand in e.candidates)]
        out[label.label_id] = ReferenceDerivedEvents(
            classifier=ENTRY_POINT, feed=feed,
            flow_evidence_candidate=[cand for e in mine for cand in e.candidates
                                     if cand.eligibility.eligible
                                     or cand.candidate_id in caused],
            flow_evidence_cluster=[e.cluster for e in mine],
            flow_hypothesis_event=[e.hypothesis for e in mine])
    return out
