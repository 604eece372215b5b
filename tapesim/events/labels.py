"""Ground-truth labels and expected outputs as types, with every closed vocabulary in one place.

A run with scenarios writes two documents beside its events (CONTRACT.md §2):
``labels.json`` (:class:`LabelsDocument`, one :class:`GroundTruthLabel` per injected
scenario) and ``expected_outputs.json`` (:class:`ExpectedOutputsDocument`, one
:class:`ExpectedOutputManifest` per label). The label writer
(:mod:`tapesim.scenarios.labels`) builds these models and ``verify``
(:mod:`tapesim.verify.labels`) reads the files back through them, so the shapes and
value sets are stated once, here.

Two vocabularies live side by side (the ``Literal`` types are in
:mod:`tapesim.events.vocabulary`):

- tapesim's own, used in the run directory: richer families (``informed_flow``,
  ``benign_trap``, ...), the ``member`` role of a caused print other than the anchor,
  the ``structure_context`` fact kind and two abstention reasons of its own, plus
  tapesim's evidence features (``sell_ratio``, ``complex_ratio``, ...) that ``verify``
  recomputes. These bytes are part of the run's recorded output.
- the pipeline's closed sets (CONTRACT.md §4, "Closed vocabularies of the fixture
  sidecars"), the only values the islandflow export may write. The ``Pipeline*``
  models admit exactly those; :data:`PIPELINE_FAMILY`, :data:`PIPELINE_ROLE`,
  :data:`PIPELINE_FACT_KIND` and :data:`PIPELINE_ABSTENTION_REASON` map tapesim's
  names onto them.

Every model forbids unknown keys. ``model_dump(mode="json")`` gives the exact keys
the files hold (no key is ever omitted; absent values are ``null``).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tapesim.events.derived import ReferenceDerivedEvents
from tapesim.events.vocabulary import (
    AbstentionReason,
    AlertExpectation,
    ConfidenceBand,
    Direction,
    EventKindName,
    EvidenceValue,
    ExpectedClass,
    FactKind,
    Family,
    Operator,
    PipelineAbstentionReason,
    PipelineEventKind,
    PipelineFactKind,
    PipelineFamily,
    PipelineFeatureKey,
    PipelineRole,
    RefRole,
    Severity,
    Side,
)
from tapesim.sim.strict import error_message, error_path

LABEL_SCHEMA = "synthetic-market-labels-v1"
EXPECTED_SCHEMA = "synthetic-smart-flow-expected-outputs-v1"
FIXTURE_GENERATOR_NAME = "@islandflow/synthetic-market"
FIXTURE_GENERATOR_VERSION = "synthetic-market-spine-v1"


CAUSED_ROLES: tuple[RefRole, ...] = ("anchor", "member")

# --- tapesim names -> the pipeline's (CONTRACT.md §4) --------------------------------------

PIPELINE_FAMILY: dict[str, PipelineFamily] = {
    "institutional_directional_flow": "institutional_directional_flow",
    "retail_attention_flow": "retail_attention_flow",
    "event_positioning": "event_noise_flow",
    "volatility_supply": "volatility_seller_behavior",
    "hedge_rebalance": "hedge_reactive_flow",
    "structure_arbitrage": "structure_arbitrage_flow",
    "no_alert_negative": "no_alert_negative",
    "informed_flow": "institutional_directional_flow",  # positive informed flow
    "benign_trap": "no_alert_negative",  # structure traps: see pipeline_family
}
PIPELINE_ROLE: dict[str, PipelineRole] = {"anchor": "anchor", "member": "supporting",
                                          "context": "context"}
PIPELINE_FACT_KIND: dict[str, PipelineFactKind] = {
    **{k: k for k in get_args(PipelineFactKind)}, "structure_context": "structure_shape"}
PIPELINE_ABSTENTION_REASON: dict[str, PipelineAbstentionReason] = {
    **{k: k for k in get_args(PipelineAbstentionReason)},
    "structure_explains_flow": "complex_or_special_print_context",
    "weak_quote_context": "stale_quote_context",
}
PIPELINE_FEATURE_KEYS: frozenset[str] = frozenset(get_args(PipelineFeatureKey))


def pipeline_family(family: str, expected_class: str) -> PipelineFamily:
    """The pipeline family a tapesim family is exported under (CONTRACT.md §4): a benign
    trap whose expected class is ``structure_arbitrage`` goes under
    ``structure_arbitrage_flow``, the other traps under ``no_alert_negative``.

    Raises:
        KeyError: for a family outside :data:`Family`.
    """
    if family == "benign_trap" and expected_class == "structure_arbitrage":
        return "structure_arbitrage_flow"
    return PIPELINE_FAMILY[family]


class _Strict(BaseModel):
    """Unknown keys are errors and numbers are finite (a NaN in a damaged labels.json is
    refused, not carried on)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# --- the parts of a label ---------------------------------------------------------------

class EventRef(_Strict):
    """One event a label points at, by trace id (CONTRACT.md §2).

    ``anchor`` is the scenario's first caused option print, ``member`` any other print
    its orders caused, ``context`` a quote in force at the anchor.
    """

    role: RefRole = Field(description="anchor, member (another caused print) or context")
    event_kind: EventKindName = Field(description="the kind of the referenced event")
    event_id: str = Field(description="the event's id: its trace id")
    trace_id: str = Field(min_length=1, description="<run_id>:<stream>:<seq>")
    source_ts: int = Field(ge=0, description="the event's source_ts, epoch milliseconds UTC")
    seq: int = Field(ge=0, description="the event's run-wide sequence number")
    description: str = Field(description="why the label names this event")

    @model_validator(mode="after")
    def _event_id_is_trace_id(self) -> EventRef:
        if self.event_id != self.trace_id:
            raise ValueError(f"event_id {self.event_id!r} must equal trace_id "
                             f"{self.trace_id!r}")
        return self


class PipelineEventRef(EventRef):
    """An event ref in the pipeline's vocabulary (a caused non-anchor print is
    ``supporting``)."""

    role: PipelineRole = Field(description="anchor, supporting or context")  # type: ignore[assignment]


class EvidenceRequirement(_Strict):
    """One evidence statement, ``feature_key operator value``, over a label's events
    (features: :mod:`tapesim.scenarios.evidence`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    requirement_id: str = Field(description="stable id of the statement, e.g. large-premium")
    fact_kind: FactKind = Field(description="the kind of fact the statement is about")
    feature_key: str = Field(description="the evidence feature it tests, e.g. total_premium")
    operator: Operator = Field(description="present, absent, gte, lte or eq")
    value: EvidenceValue = Field(description="the threshold or value, in the feature's unit "
                                 "(dollars for premiums, ratios in [0, 1], bps)")
    rationale: str = Field(description="why the scenario implies it")


class PipelineEvidenceRequirement(EvidenceRequirement):
    """An evidence statement in the pipeline's vocabulary: one of its fact kinds, on a
    feature it computes."""

    fact_kind: PipelineFactKind = Field(  # type: ignore[assignment]
        description="one of the pipeline's evidence fact kinds")
    feature_key: PipelineFeatureKey = Field(  # type: ignore[assignment]
        description="a feature the pipeline computes")


class FalsePositivePenalty(_Strict):
    """What alerting on the case wrongly costs a classifier."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    score: float = Field(ge=0.0, le=1.0, description="penalty weight in [0, 1]")
    severity: Severity = Field(description="none, low, medium or high")
    reason: str = Field(description="why the penalty is what it is")


class LabelWindow(_Strict):
    """The span of a scenario's caused prints (null when it caused none)."""

    start_ts: int | None = Field(description="first caused print's source_ts, epoch ms UTC")
    end_ts: int | None = Field(description="last caused print's source_ts, epoch ms UTC")


class LabelQuantities(_Strict):
    """How much the scenario's prints traded."""

    contracts: int = Field(ge=0, description="option contracts over its option prints")
    shares: int = Field(ge=0, description="shares over its stock prints (hedges included)")


class TapesimLabelDetail(_Strict):
    """tapesim's own block of a run-directory label (never exported)."""

    scenario: str = Field(description="the catalog entry's name")
    agent_ids: list[str] = Field(description="agents whose option prints the scenario caused, "
                                 "sorted")
    intent: str = Field(description="what the injected agent sets out to do")
    window: LabelWindow
    instruments: list[str] = Field(description="option contract ids it printed, sorted")
    underlying_id: str = Field(description="the stock symbol")
    side: Side = Field(description="buy, sell or both (alternating or chosen at run time)")
    quantities: LabelQuantities
    notional: float = Field(description="total option premium, dollars")
    caused_event_count: int = Field(ge=0, description="events provenance ties to the scenario")
    evidence_values: dict[str, Any] = Field(
        description="evidence features of its events, by feature key (tapesim.scenarios.evidence)")
    parameters: dict[str, Any] = Field(description="the scenario's config as injected")
    contradicted: list[str] = Field(
        description="requirement ids its own events contradict (empty for a good label)")


# --- labels and expected outputs ----------------------------------------------------------

class _LabelBase(_Strict):
    """The fields a label has in both vocabularies (CONTRACT.md §2)."""

    label_id: str = Field(description="label:<run_id>:<scenario_id>")
    run_id: str = Field(description="the run's id (tsim-<12 hex>)")
    scenario_id: str = Field(description="<name>@<HH:MM[:SS]>[#n], as the manifest lists it")
    expected_class: ExpectedClass = Field(description="the class a good classifier assigns")
    expected_direction: Direction = Field(
        description="the catalog's direction; an informed entry's is its prints' own")
    confidence_band: ConfidenceBand = Field(description="low, medium or high")
    false_positive_penalty: FalsePositivePenalty
    notes: str = Field(description="one line on what the label captures")
    schema_version: Literal["synthetic-market-labels-v1"]


class GroundTruthLabel(_LabelBase):
    """What one injected scenario is, and which events its orders caused: a label of a
    run directory's ``labels.json``, in tapesim's vocabulary."""

    family: Family = Field(description="tapesim's scenario family")
    event_refs: list[EventRef] = Field(
        description="caused option prints (anchor first, seq order), caused stock prints, "
                    "then the anchor's quotes in force as context")
    required_evidence: list[EvidenceRequirement] = Field(
        description="statements its events must bear out (verify recomputes them)")
    forbidden_evidence: list[EvidenceRequirement] = Field(
        description="statements its events must not bear out")
    tapesim: TapesimLabelDetail = Field(description="tapesim's own detail (run directory only)")


class PipelineLabel(_LabelBase):
    """A label as the pipeline's fixture holds it: its keys, its closed sets only (the
    notes also name tapesim's scenario and family)."""

    family: PipelineFamily = Field(description="one of the pipeline's seven families")
    event_refs: list[PipelineEventRef] = Field(
        description="the label's refs to exported events only")
    required_evidence: list[PipelineEvidenceRequirement] = Field(
        description="statements on features the pipeline computes")
    forbidden_evidence: list[PipelineEvidenceRequirement] = Field(
        description="statements on features the pipeline computes")


class ConfidenceRange(_Strict):
    """The confidence a good classifier should land in, [min, max] within [0, 1]."""

    min: float = Field(ge=0.0, le=1.0, description="lowest acceptable confidence")
    max: float = Field(ge=0.0, le=1.0, description="highest acceptable confidence")


class ExpectedPipelineEvent(_Strict):
    """One kind of pipeline output the case should (or must not) produce."""

    event_kind: PipelineEventKind = Field(description="a smart-flow pipeline output kind")
    expectation: Literal["present", "absent"] = Field(
        description="whether the case should produce it")
    notes: str = Field(description="why")
    required_fields: list[str] = Field(description="fields that output must carry")


class _ExpectedOutputBase(_Strict):
    """The fields an expected output has in both vocabularies (CONTRACT.md §2)."""

    expected_output_id: str = Field(description="expected:<run_id>:<scenario_id>")
    label_id: str = Field(description="the label it expects an output for")
    alert_expectation: AlertExpectation = Field(
        description="alert, no_alert, abstain or suppress")
    expected_class: ExpectedClass = Field(description="as the label")
    expected_direction: Direction = Field(description="as the label")
    confidence_band: ConfidenceBand = Field(description="as the label")
    confidence_range: ConfidenceRange
    expected_pipeline_events: list[ExpectedPipelineEvent] = Field(
        description="pipeline outputs that should (not) appear, in pipeline order")
    required_evidence: list[EvidenceRequirement] = Field(description="as the label")
    forbidden_evidence: list[EvidenceRequirement] = Field(description="as the label")
    false_positive_penalty: FalsePositivePenalty = Field(description="as the label")
    abstention_reasons: list[AbstentionReason] = Field(
        description="why a classifier would (not) abstain: not_abstained for alerts")


class ExpectedOutputManifest(_ExpectedOutputBase):
    """What the pipeline should make of one label: the expected output of its case, in
    tapesim's vocabulary, with the reference classifier's derived events for the label
    (run directory only, never exported)."""

    reference_derived_events: ReferenceDerivedEvents = Field(
        description="what tapesim's reference classifier states over the label's prints")


class PipelineExpectedOutput(_ExpectedOutputBase):
    """An expected output in the pipeline's closed sets."""

    required_evidence: list[PipelineEvidenceRequirement]  # type: ignore[assignment]
    forbidden_evidence: list[PipelineEvidenceRequirement]  # type: ignore[assignment]
    abstention_reasons: list[PipelineAbstentionReason]  # type: ignore[assignment]


# --- the documents --------------------------------------------------------------------

class _Document(_Strict):
    catalog_version: str = Field(description="the scenario catalog's version")
    run_id: str = Field(description="the run's id")
    scenario_id: str = Field(description="the labels' scenario ids joined by '+'")


class LabelsDocument(_Document):
    """``labels.json`` of a run directory: one label per scenario, in the manifest's order."""

    schema_version: Literal["synthetic-market-labels-v1"]
    labels: list[GroundTruthLabel]


class ExpectedOutputsDocument(_Document):
    """``expected_outputs.json`` of a run directory: one expectation per label, in order."""

    schema_version: Literal["synthetic-smart-flow-expected-outputs-v1"]
    label_schema_version: Literal["synthetic-market-labels-v1"]
    source_label_hash: str = Field(description="fnv1a32 stable hash of labels.json's value")
    expectations: list[ExpectedOutputManifest]


class PipelineLabelsDocument(LabelsDocument):
    """The fixture's ``labels.json``."""

    labels: list[PipelineLabel]  # type: ignore[assignment]


class PipelineExpectedOutputsDocument(ExpectedOutputsDocument):
    """The fixture's ``smart-flow-expected-outputs.json``."""

    expectations: list[PipelineExpectedOutput]  # type: ignore[assignment]


class FixtureGenerator(_Strict):
    """``manifest.json``'s ``generator`` in a fixture: fixed by the pipeline's type."""

    name: Literal["@islandflow/synthetic-market"] = Field(description="fixed by the pipeline")
    version: Literal["synthetic-market-spine-v1"] = Field(description="the loader's version")


def validation_line(err: ValidationError, where: str) -> str:
    """One line for a validation error: the first failing field's path, message and value."""
    first = err.errors()[0]
    path = error_path(first) or "(document)"
    more = len(err.errors()) - 1
    tail = f" ({more} more)" if more else ""
    shown = first.get("input")
    value = "" if isinstance(shown, dict | list) else f", got {shown!r}"
    return f"{where}: {path}: {error_message(first)}{value}{tail}"
