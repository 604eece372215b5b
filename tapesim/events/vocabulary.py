"""The closed vocabularies of labels, expected outputs and derived events, in one place.

Two vocabularies live side by side (:mod:`tapesim.events.labels` explains them):
tapesim's own, used in the run directory, and the pipeline's closed sets
(CONTRACT.md §4, "Closed vocabularies of the fixture sidecars"). Each is a
``Literal`` type, so a pydantic model admits exactly its values.
"""

from __future__ import annotations

from typing import Literal

# --- vocabularies shared by tapesim and the pipeline ---------------------------------------

ExpectedClass = Literal["directional_accumulation", "retail_attention_flow",
                        "event_positioning", "volatility_supply", "structure_arbitrage",
                        "hedge_rebalance", "unclear"]
Direction = Literal["bullish", "bearish", "neutral", "mixed", "unknown"]
ConfidenceBand = Literal["low", "medium", "high"]
AlertExpectation = Literal["alert", "no_alert", "abstain", "suppress"]
Operator = Literal["present", "absent", "gte", "lte", "eq"]
Severity = Literal["none", "low", "medium", "high"]
PipelineEventKind = Literal["flow_evidence_candidate", "flow_evidence_cluster",
                            "flow_hypothesis_event", "smart_flow_insight"]
EventKindName = Literal["equity_quote", "equity_print", "option_nbbo", "option_print"]
EvidenceValue = bool | int | float | str

# --- the pipeline's closed sets (CONTRACT.md §4) -------------------------------------------

PipelineFamily = Literal["institutional_directional_flow", "retail_attention_flow",
                         "event_noise_flow", "volatility_seller_behavior",
                         "hedge_reactive_flow", "structure_arbitrage_flow",
                         "no_alert_negative"]
PipelineRole = Literal["anchor", "supporting", "context"]
PipelineFactKind = Literal["premium_size", "execution_context", "execution_aggression",
                           "quote_quality", "underlying_context", "structure_shape",
                           "event_context", "timing_context", "eligibility_decision",
                           "synthetic_ground_truth", "other"]
PipelineAbstentionReason = Literal["insufficient_evidence", "stale_quote_context",
                                   "conflicting_evidence", "inside_market_context",
                                   "complex_or_special_print_context",
                                   "below_policy_threshold", "calibration_unavailable",
                                   "not_abstained", "other"]
# Features the pipeline computes itself (CONTRACT.md §4, "Common feature keys"), so its
# golden comparison can check them; the last three are facts of its own decision
# (the ground truth, the confidence band, the eligibility reason) that the reference
# fixtures state evidence on.
PipelineFeatureKey = Literal["total_premium", "nbbo_aggression_ratio_max",
                             "nbbo_coverage_ratio_mean", "nbbo_stale_ratio_mean",
                             "net_directional_bias", "underlying_move_bps",
                             "option_spread_bps_max", "execution_iv", "days_to_event",
                             "candidate_count", "option_type", "structure_type",
                             "alert_expectation", "confidence_band", "reason_code"]

# --- tapesim's run-directory vocabulary --------------------------------------------------

Family = Literal["institutional_directional_flow", "retail_attention_flow",
                 "event_positioning", "volatility_supply", "hedge_rebalance",
                 "structure_arbitrage", "no_alert_negative", "informed_flow", "benign_trap"]
RefRole = Literal["anchor", "member", "context"]
FactKind = PipelineFactKind | Literal["structure_context"]
AbstentionReason = PipelineAbstentionReason | Literal["structure_explains_flow",
                                                      "weak_quote_context"]
Side = Literal["buy", "sell", "both"]
