"""The scenario catalog: what each injection does, and what a classifier should make of it.

An entry pairs a policy (how the injected agent trades: which contracts, which side,
how aggressively, for how long) with the ground truth it stands for (expected
class, direction, confidence band, alert expectation, false-positive penalty) and
the evidence that must and must not be true of the events it causes, stated in
the pipeline's feature vocabulary (CONTRACT.md §4). ``verify`` recomputes that
evidence from the run's own events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tapesim.config.run import RunConfig
from tapesim.sim.strict import ConfigError

CATALOG_VERSION = "synthetic-market-scenarios-v1"

Style = Literal["ask", "ask-block", "sweep", "mid", "bid", "stale-mid"]
Alert = Literal["alert", "no_alert", "abstain", "suppress"]


@dataclass(frozen=True)
class Requirement:
    """One evidence statement: ``feature_key operator value`` over the label's events."""

    requirement_id: str
    fact_kind: str
    feature_key: str
    operator: Literal["present", "absent", "gte", "lte", "eq"]
    value: Any
    rationale: str

    def as_json(self) -> dict[str, Any]:
        return {"requirement_id": self.requirement_id, "fact_kind": self.fact_kind,
                "feature_key": self.feature_key, "operator": self.operator,
                "value": self.value, "rationale": self.rationale}


@dataclass(frozen=True)
class Policy:
    """How the injected agent trades (defaults; a run's config may override some)."""

    right: Literal["call", "put", "both"] = "call"
    side: Literal["buy", "sell"] = "buy"
    z: float = 0.5  # distance from the money, in standard deviations (out of the money > 0)
    days: tuple[int, int] = (1, 30)  # expiry window, calendar days
    orders: int = 8  # orders at intensity 1
    lots: tuple[int, int] = (50, 150)  # contracts per order (uniform)
    style: Style = "ask"
    duration_s: float = 120.0
    structure: Literal["single", "vertical", "straddle"] = "single"
    # A feed fault: the feed freezes or a venue's bid sticks for fault_s before trading,
    # or ("reports") fault_s after trading a late print, a cancel and a correction follow.
    fault: Literal["none", "freeze", "stick", "reports"] = "none"
    fault_s: float = 0.0
    informed_s: float = 0.0  # look this far ahead in the latent path to pick the direction
    stock_follow_shares: int = 0  # then buy (or sell) this much stock, in the same direction
    event_days: int | None = None  # tag prints EVENT_<N>D
    alternate: bool = False  # alternate buying and selling, order by order


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    family: str
    intent: str
    should: str  # what a good classifier does with it
    expected_class: str
    direction: Literal["bullish", "bearish", "neutral", "mixed", "unknown"]
    band: Literal["low", "medium", "high"]
    confidence: tuple[float, float]
    alert: Alert
    penalty: tuple[float, str, str]  # score, severity, reason
    policy: Policy
    required: tuple[Requirement, ...] = ()
    forbidden: tuple[Requirement, ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _r(rid: str, kind: str, key: str, op: str, value: Any, why: str) -> Requirement:
    return Requirement(rid, kind, key, op, value, why)  # type: ignore[arg-type]


BIG_PREMIUM = _r("large-premium", "premium_size", "total_premium", "gte", 50_000,
                 "Institutional-sized flow carries large premium.")
AGGRESSIVE = _r("aggressive-execution", "execution_aggression", "nbbo_aggression_ratio_max",
                "gte", 0.6, "Directional flow pays the offer (or hits the bid).")
CLEAN_QUOTES = _r("clean-quotes", "quote_quality", "nbbo_coverage_ratio_mean", "gte", 0.8,
                  "The case must not rest on stale or missing quotes.")
NOT_STALE = _r("no-stale-quote-suppression", "quote_quality", "nbbo_stale_ratio_mean", "gte",
               0.5, "A stale-quote explanation would contradict a clean case.")
PASSIVE = _r("passive-execution", "execution_aggression", "nbbo_aggression_ratio_max", "lte",
             0.5, "Printed near the mid, not aggressively.")
SMALL_PREMIUM = _r("thin-premium", "premium_size", "total_premium", "lte", 25_000,
                   "Too little premium to mean anything on its own.")

_ENTRIES = [
    ScenarioSpec(
        "institutional-directional-flow", "institutional_directional_flow",
        "An institution accumulates near-the-money calls, paying the offer, over minutes.",
        "alert: directional accumulation, bullish, high confidence",
        "directional_accumulation", "bullish", "high", (0.72, 0.92), "alert",
        (0.15, "low", "Missing this case is worse than alerting on it."),
        Policy(right="call", z=0.3, days=(7, 45), orders=10, lots=(80, 200), duration_s=300),
        (BIG_PREMIUM, AGGRESSIVE, CLEAN_QUOTES), (NOT_STALE,),
        "Large, aggressive call buying against clean quotes."),
    ScenarioSpec(
        "retail-attention-call-chase", "retail_attention_flow",
        "A crowd chases short-dated out-of-the-money calls in small lots at the offer.",
        "alert at low-medium confidence as retail attention, not institutional",
        "retail_attention_flow", "bullish", "medium", (0.4, 0.7), "alert",
        (0.3, "medium", "Retail chases are common; over-alerting is costly."),
        Policy(right="call", z=1.2, days=(0, 7), orders=40, lots=(1, 10), duration_s=300),
        (AGGRESSIVE, _r("many-small-prints", "structure_context", "candidate_count", "gte", 20,
                        "Attention flow is many small prints.")), (),
        "Many small aggressive short-dated OTM call buys."),
    ScenarioSpec(
        "event-noise-positioning", "event_positioning",
        "Positioning ahead of an earnings date: straddles in the event expiry, tagged EVENT.",
        "classify as event positioning, neutral direction, medium confidence",
        "event_positioning", "neutral", "medium", (0.45, 0.75), "alert",
        (0.4, "medium", "Event positioning is expected flow; a directional call would be wrong."),
        Policy(right="both", z=0.0, days=(7, 21), orders=6, lots=(50, 120), style="mid",
               structure="straddle", duration_s=240, event_days=7),
        (_r("event-tagged", "event_context", "days_to_event", "present", True,
            "Prints carry the EVENT_<N>D condition."),), (),
        "Straddles in the event expiry near the mid."),
    ScenarioSpec(
        "volatility-seller-supply", "volatility_supply",
        "A volatility seller writes out-of-the-money calls and puts, hitting bids.",
        "classify as volatility supply, neutral, medium confidence",
        "volatility_supply", "neutral", "medium", (0.45, 0.75), "alert",
        (0.35, "medium", "Vol selling is not directional."),
        Policy(right="both", side="sell", z=1.0, days=(14, 45), orders=8, lots=(50, 150),
               style="bid", duration_s=300),
        (_r("sold", "execution_aggression", "sell_ratio", "gte", 0.8,
            "Premium is sold, not bought."),), (),
        "OTM calls and puts sold at the bid."),
    ScenarioSpec(
        "hedge-reactive-put-flow", "hedge_rebalance",
        "A holder buys protective puts after the stock falls, near the mid, in blocks.",
        "classify as hedge rebalance, not bearish speculation",
        "hedge_rebalance", "bearish", "medium", (0.4, 0.7), "alert",
        (0.5, "medium", "Hedges read as bearish bets are classic false positives."),
        Policy(right="put", z=0.8, days=(20, 90), orders=4, lots=(200, 500), style="mid",
               duration_s=240),
        (BIG_PREMIUM, PASSIVE), (),
        "Protective put blocks near the mid."),
    ScenarioSpec(
        "structure-arbitrage-calm", "structure_arbitrage",
        "Vertical spreads traded as packages near the net mid in a calm market.",
        "classify as structure/arbitrage, no directional alert",
        "structure_arbitrage", "neutral", "low", (0.2, 0.5), "suppress",
        (0.6, "high", "Package legs are not directional on their own."),
        Policy(right="call", z=0.6, days=(7, 45), orders=5, lots=(50, 150), style="mid",
               structure="vertical", duration_s=240),
        (_r("packaged", "structure_shape", "complex_ratio", "gte", 1.0,
            "Every leg prints as a package (COMPLEX/SPREAD)."),), (),
        "Verticals near the net mid."),
    ScenarioSpec(
        "no-alert-wide-quote-chop", "no_alert_negative",
        "Small noisy prints in contracts with wide quotes.",
        "no alert; abstain or suppress",
        "unclear", "unknown", "low", (0.0, 0.3), "no_alert",
        (0.9, "high", "Any alert on this case is a strong false positive."),
        Policy(right="both", z=2.5, days=(60, 200), orders=6, lots=(1, 5), style="mid",
               duration_s=180),
        (_r("wide-option-quote", "quote_quality", "option_spread_bps_max", "gte", 800,
            "Quote context is wide."), SMALL_PREMIUM), (),
        "Tiny prints in wide far-OTM contracts."),
    ScenarioSpec(
        "informed-put-sweep", "informed_flow",
        "An informed trader sweeps near-the-money puts across venues before the stock falls.",
        "alert: directional accumulation, bearish, high confidence",
        "directional_accumulation", "bearish", "high", (0.7, 0.92), "alert",
        (0.15, "low", "Missing informed flow is the costly error."),
        Policy(right="put", z=0.2, days=(1, 14), orders=6, lots=(150, 400), style="sweep",
               duration_s=120),
        (BIG_PREMIUM, AGGRESSIVE, _r("swept", "execution_context", "sweep_ratio", "gte", 0.8,
                                     "Orders sweep venues as ISO children.")), (NOT_STALE,),
        "ISO sweeps of puts, paying up."),
    ScenarioSpec(
        "premium-anomaly", "informed_flow",
        "One outsized premium print far above the contract's usual size.",
        "alert on the premium anomaly, medium-high confidence",
        "directional_accumulation", "bullish", "medium", (0.55, 0.85), "alert",
        (0.25, "medium", "Outsized premium deserves attention."),
        Policy(right="call", z=0.4, days=(7, 45), orders=1, lots=(1500, 2500),
               style="ask-block", duration_s=10),
        (_r("outsized-premium", "premium_size", "total_premium", "gte", 150_000,
            "A single print carries outsized premium."),), (),
        "A single large call print at the offer."),
    ScenarioSpec(
        "volume-oi-anomaly", "informed_flow",
        "Opening volume in one contract far above its open interest.",
        "alert: unusual opening volume",
        "directional_accumulation", "bullish", "medium", (0.5, 0.8), "alert",
        (0.25, "medium", "Opening volume far above OI is a classic signal."),
        Policy(right="call", z=1.5, days=(7, 30), orders=8, lots=(100, 200), duration_s=240),
        (_r("opening", "structure_context", "opening_ratio", "gte", 0.8,
            "The scenario's prints open new positions."),), (),
        "Opening call buying in a thinly held contract."),
    ScenarioSpec(
        "stock-and-options-confirmation", "informed_flow",
        "Options flow in the direction of the stock's coming move, then stock buying confirms.",
        "alert with higher confidence once the underlying moves the same way",
        "directional_accumulation", "mixed", "high", (0.65, 0.9), "alert",
        (0.2, "low", "Confirmed flow should be caught."),
        Policy(right="call", z=0.3, days=(7, 30), orders=6, lots=(100, 250), duration_s=180,
               informed_s=360, stock_follow_shares=30_000),
        (BIG_PREMIUM, _r("underlying-confirms", "underlying_context", "confirming_move_bps",
                         "gte", 2.0, "The stock then moves the flow's way.")), (),
        "It waits (up to 30 min) for a coming latent move of 10 bps over its horizon, trades "
        "options its way, then the stock."),
    ScenarioSpec(
        "stale-quote-trap", "benign_trap",
        "The OPRA feed freezes for a contract; harmless mid prints then look aggressive or stale.",
        "abstain or suppress: the quote context is stale",
        "unclear", "unknown", "low", (0.0, 0.35), "abstain",
        (0.8, "high", "Alerting on stale-quote artefacts is a false positive."),
        Policy(right="call", z=0.2, days=(0, 14), orders=5, lots=(20, 60), style="stale-mid",
               duration_s=6, fault="freeze", fault_s=20),
        (_r("stale-context", "quote_quality", "nbbo_stale_ratio_mean", "gte", 0.5,
            "The prints meet a frozen, stale NBBO."),), (),
        "A frozen feed makes mid prints look mispriced."),
    ScenarioSpec(
        "locked-crossed-quotes", "benign_trap",
        "One venue's bid sticks at or through the offer; small prints meet a locked or "
        "crossed NBBO.",
        "abstain: a locked or crossed quote says nothing about intent",
        "unclear", "unknown", "low", (0.0, 0.3), "abstain",
        (0.7, "high", "Alerting on a crossed-market artefact is a false positive."),
        Policy(right="call", z=0.1, days=(0, 7), orders=4, lots=(5, 20), duration_s=5,
               fault="stick", fault_s=12),
        (_r("crossed-context", "quote_quality", "crossed_quote_ratio", "gte", 0.5,
            "The prints meet a locked or crossed NBBO."),), (),
        "A stuck venue bid locks or crosses the market."),
    ScenarioSpec(
        "late-and-corrected-prints", "benign_trap",
        "Block prints, then a late report of an earlier trade at a stale price, a cancel of "
        "one print and a correction of another.",
        "suppress: late, cancelled and corrected prints are not fresh intent",
        "unclear", "unknown", "low", (0.0, 0.3), "suppress",
        (0.7, "high", "Alerting on reports of old or void trades is a false positive."),
        Policy(right="call", z=0.3, days=(7, 30), orders=3, lots=(50, 150), style="ask-block",
               duration_s=30, fault="reports", fault_s=25),
        (_r("reported-after-the-fact", "timing_context", "correction_ratio", "gte", 0.4,
            "Late, cancelled and corrected reports make up much of the flow."),), (),
        "LATE, CANCEL and CORRECTION prints; provenance names the prints they report on."),
    ScenarioSpec(
        "wide-spread-trap", "benign_trap",
        "Prints at the offer of a contract whose quote is very wide.",
        "suppress: aggression against a wide quote means little",
        "unclear", "unknown", "low", (0.0, 0.35), "suppress",
        (0.7, "high", "Wide-quote aggression is not informative."),
        Policy(right="put", z=2.2, days=(45, 200), orders=4, lots=(5, 20), duration_s=120),
        (_r("wide-option-quote", "quote_quality", "option_spread_bps_max", "gte", 800,
            "The contract quotes wide."),), (),
        "At-the-offer prints in a wide, long-dated OTM put."),
    ScenarioSpec(
        "benign-block", "benign_trap",
        "A large institutional block crossed near the mid.",
        "no directional alert: a negotiated block near the mid",
        "unclear", "neutral", "low", (0.1, 0.4), "no_alert",
        (0.6, "high", "Mid-market blocks are routine."),
        Policy(right="call", z=0.3, days=(20, 60), orders=1, lots=(1000, 2000), style="mid",
               duration_s=10),
        (BIG_PREMIUM, PASSIVE), (),
        "One large near-mid block."),
    ScenarioSpec(
        "spread-misread-trap", "benign_trap",
        "Vertical legs that look directional one at a time.",
        "classify the package, not the legs",
        "structure_arbitrage", "neutral", "low", (0.1, 0.4), "suppress",
        (0.7, "high", "Reading a leg as a directional bet is a false positive."),
        Policy(right="put", z=0.5, days=(7, 30), orders=4, lots=(100, 300), style="mid",
               structure="vertical", duration_s=180),
        (_r("packaged", "structure_shape", "complex_ratio", "gte", 1.0,
            "Legs print as a package."),), (),
        "Put verticals: the bought leg alone looks bearish."),
    ScenarioSpec(
        "low-liquidity-trap", "benign_trap",
        "Small prints in a long-dated, rarely traded contract.",
        "abstain: too little liquidity to read",
        "unclear", "unknown", "low", (0.0, 0.3), "abstain",
        (0.7, "high", "Illiquid noise should not alert."),
        Policy(right="call", z=1.8, days=(120, 400), orders=3, lots=(1, 5), duration_s=120),
        (SMALL_PREMIUM,), (),
        "A few lots in a far, long-dated call."),
    ScenarioSpec(
        "zero-dte-churn", "benign_trap",
        "Same-day calls and puts churned both ways in small size.",
        "no alert: 0DTE churn is noise",
        "unclear", "mixed", "low", (0.0, 0.3), "no_alert",
        (0.6, "high", "0DTE churn alerts are false positives."),
        Policy(right="both", z=0.3, days=(0, 0), orders=30, lots=(1, 15), duration_s=300,
               alternate=True),
        (_r("zero-dte", "timing_context", "zero_dte_ratio", "gte", 1.0,
            "Every print is in a same-day expiry."),), (),
        "Both rights, small lots, today's expiry."),
    ScenarioSpec(
        "abstention-case", "benign_trap",
        "Mixed buying and selling of calls and puts with no clear story.",
        "abstain",
        "unclear", "mixed", "low", (0.0, 0.3), "abstain",
        (0.5, "medium", "Forcing a call on mixed flow is an error."),
        Policy(right="both", z=0.5, days=(7, 30), orders=8, lots=(20, 60), style="mid",
               duration_s=240, alternate=True),
        (), (),
        "Balanced mixed flow near the mid."),
]

CATALOG: dict[str, ScenarioSpec] = {s.name: s for s in _ENTRIES}


def check_names(config: RunConfig) -> None:
    """Refuse a config that names a scenario the catalog does not have.

    Raises:
        ConfigError: naming ``scenarios.N.name`` and pointing to ``tapesim scenarios``.
    """
    for i, sc in enumerate(config.scenarios):
        if sc.name not in CATALOG:
            raise ConfigError(f"field 'scenarios.{i}.name': unknown scenario {sc.name!r}: "
                              "`tapesim scenarios` lists the catalog")
