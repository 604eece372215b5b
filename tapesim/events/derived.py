"""The smart-flow pipeline's derived event kinds, as tapesim's reference classifier states them.

Between raw prints and an alert the pipeline states three kinds of derived events
(CONTRACT.md §2 and §4; their required fields are the ``required_fields`` of the
expected outputs' ``expected_pipeline_events``):

- :class:`FlowEvidenceCandidate`: one option print taken as evidence (its trace id,
  premium and NBBO side, whether its quote context can place it, whether it entered
  its cluster);
- :class:`FlowEvidenceCluster`: the candidates of one underlying over one minute that a
  hypothesis rests on, with their features (CONTRACT.md §4 feature keys) and evidence
  facts in the pipeline's fact kinds;
- :class:`FlowHypothesisEvent`: the class, direction, confidence and abstention stated
  over a cluster.

:class:`ReferenceDerivedEvents` groups the three lists as one expected output of a
run directory's ``expected_outputs.json`` holds them: the derived events the reference
classifier (:mod:`tapesim.scenarios.reference`) states over its label's prints.
Timestamps are epoch milliseconds UTC, premiums dollars, ratios in [0, 1].
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tapesim.events.vocabulary import (
    Direction,
    EvidenceValue,
    ExpectedClass,
    PipelineAbstentionReason,
    PipelineFactKind,
)

EvidenceQuality = Literal["usable", "stale", "missing"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CandidateEligibility(_Strict):
    """Whether a candidate entered its cluster's features, and why (not)."""

    eligible: bool = Field(description="true when the print is in its cluster's focus")
    reason_code: Literal["focus_expiry", "other_expiry"] = Field(
        description="focus_expiry: in the expiry that drew the minute's most premium; "
                    "other_expiry: outside it")


class FlowEvidenceCandidate(_Strict):
    """One option print as evidence (``flow_evidence_candidate``)."""

    candidate_id: str = Field(description="the print's trace id")
    observation_refs: list[str] = Field(description="trace ids of the events observed: the "
                                        "print")
    feature_vector: dict[str, EvidenceValue | None] = Field(
        description="the print's own features: option_contract_id, premium (dollars), "
                    "size (contracts), nbbo_side, conditions joined by '|'")
    evidence_quality: EvidenceQuality = Field(
        description="usable when the NBBO in force places the print; stale or missing "
                    "when its nbbo_side is STALE or MISSING")
    eligibility: CandidateEligibility


class EvidenceFact(_Strict):
    """One fact a cluster's hypothesis rests on: a feature's value under a fact kind."""

    fact_kind: PipelineFactKind = Field(description="one of the pipeline's fact kinds")
    feature_key: str = Field(description="the feature, e.g. total_premium, or reason_code")
    value: EvidenceValue | None = Field(description="its value (null: not computable)")


class FlowEvidenceCluster(_Strict):
    """One underlying's candidates over one minute (``flow_evidence_cluster``)."""

    cluster_id: str = Field(description="cluster:<underlying>:<minute start, epoch ms UTC>")
    underlying_id: str = Field(description="the stock symbol")
    start_ts: int = Field(ge=0, description="the minute's first millisecond, epoch ms UTC")
    end_ts: int = Field(ge=0, description="the minute's last millisecond, epoch ms UTC")
    candidate_ids: list[str] = Field(description="the eligible candidates' ids, in replay "
                                     "order")
    feature_summary: dict[str, EvidenceValue | None] = Field(
        description="features of the eligible candidates (tapesim.scenarios.evidence) and "
                    "the baselines' view (premium_z, volume_ratio_max, move_5m_bps, "
                    "wide_share)")
    evidence_facts: list[EvidenceFact] = Field(
        description="the pipeline's common features as facts, then the deciding rule as "
                    "an eligibility_decision on reason_code")


class HypothesisScores(_Strict):
    """A hypothesis' scores."""

    confidence: float = Field(ge=0.0, le=1.0, description="in [0, 1]")


class HypothesisAbstention(_Strict):
    """Whether a hypothesis abstains, and why (``not_abstained`` when it does not)."""

    abstained: bool
    reasons: list[PipelineAbstentionReason] = Field(min_length=1)


class FlowHypothesisEvent(_Strict):
    """What is stated over one cluster (``flow_hypothesis_event``)."""

    hypothesis_id: str = Field(description="hypothesis:<underlying>:<minute start ms>")
    cluster_id: str = Field(description="the cluster it is stated over")
    ts: int = Field(ge=0, description="when it is stated: the cluster's end_ts")
    hypothesis_type: ExpectedClass = Field(description="a CONTRACT.md §4 class")
    direction: Direction
    scores: HypothesisScores
    abstention: HypothesisAbstention
    evidence_refs: list[str] = Field(description="trace ids it rests on (the cluster's "
                                     "first candidates, at most 50)")


class ReferenceDerivedEvents(_Strict):
    """The reference classifier's derived events for one label: the clusters on the
    label's underlying whose minute holds one of its caused option prints, their
    eligible candidates (and the label's prints left out of a focus, not eligible) and
    hypotheses, in replay order (empty when none of its prints is in the feed)."""

    classifier: str = Field(description="the classifier's entry point")
    feed: Literal["signal_prints", "option_prints"] = Field(
        description="the prints it read: the signal prints (CONTRACT.md §3) or all")
    flow_evidence_candidate: list[FlowEvidenceCandidate]
    flow_evidence_cluster: list[FlowEvidenceCluster]
    flow_hypothesis_event: list[FlowHypothesisEvent]
