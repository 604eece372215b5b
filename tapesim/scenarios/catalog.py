"""The scenario catalog: what each injection does, and what a classifier should make of it.

An entry pairs a policy (how the injected agent trades: which contracts, which side,
how aggressively, for how long) with the ground truth it stands for (expected
class, direction, confidence band, alert expectation, false-positive penalty) and
the evidence that must and must not be true of the events it causes, stated in
the pipeline's feature vocabulary (CONTRACT.md §4). ``verify`` recomputes that
evidence from the run's own events.

The module is data: one keyword-built :class:`~tapesim.scenarios.spec.ScenarioSpec` per
entry (its types are in :mod:`tapesim.scenarios.spec`), hence its length. ``CATALOG``
keeps the entries' order, which ``tapesim scenarios`` lists.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from tapesim.config.run import RunConfig
from tapesim.events.labels import EvidenceRequirement, FalsePositivePenalty
from tapesim.scenarios.spec import Policy, ScenarioSpec
from tapesim.sim.calendar import NEW_YORK, epoch_ms
from tapesim.sim.strict import ConfigError

__all__ = ["CATALOG", "CATALOG_VERSION", "Policy", "ScenarioSpec", "check_leads", "check_names"]

CATALOG_VERSION = "synthetic-market-scenarios-v1"

BIG_PREMIUM = EvidenceRequirement(
    requirement_id="large-premium",
    fact_kind="premium_size",
    feature_key="total_premium",
    operator="gte",
    value=50_000,
    rationale="Institutional-sized flow carries large premium.",
)
AGGRESSIVE = EvidenceRequirement(
    requirement_id="aggressive-execution",
    fact_kind="execution_aggression",
    feature_key="nbbo_aggression_ratio_max",
    operator="gte",
    value=0.6,
    rationale="Directional flow pays the offer (or hits the bid).",
)
CLEAN_QUOTES = EvidenceRequirement(
    requirement_id="clean-quotes",
    fact_kind="quote_quality",
    feature_key="nbbo_coverage_ratio_mean",
    operator="gte",
    value=0.8,
    rationale="The case must not rest on stale or missing quotes.",
)
NOT_STALE = EvidenceRequirement(
    requirement_id="no-stale-quote-suppression",
    fact_kind="quote_quality",
    feature_key="nbbo_stale_ratio_mean",
    operator="gte",
    value=0.5,
    rationale="A stale-quote explanation would contradict a clean case.",
)
PASSIVE = EvidenceRequirement(
    requirement_id="passive-execution",
    fact_kind="execution_aggression",
    feature_key="nbbo_aggression_ratio_max",
    operator="lte",
    value=0.5,
    rationale="Printed near the mid, not aggressively.",
)
SMALL_PREMIUM = EvidenceRequirement(
    requirement_id="thin-premium",
    fact_kind="premium_size",
    feature_key="total_premium",
    operator="lte",
    value=25_000,
    rationale="Too little premium to mean anything on its own.",
)

_ENTRIES = [
    ScenarioSpec(
        name="institutional-directional-flow",
        family="institutional_directional_flow",
        intent="An institution accumulates near-the-money calls, paying the offer, over minutes.",
        should="alert: directional accumulation, bullish, high confidence",
        expected_class="directional_accumulation",
        direction="bullish",
        band="high",
        confidence=(0.72, 0.92),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.15, severity="low", reason="Missing this case is worse than alerting on it."
        ),
        policy=Policy(right="call", z=0.3, days=(7, 45), orders=10, lots=(80, 200), duration_s=300),
        required=(BIG_PREMIUM, AGGRESSIVE, CLEAN_QUOTES),
        forbidden=(NOT_STALE,),
        notes="Large, aggressive call buying against clean quotes.",
    ),
    ScenarioSpec(
        name="retail-attention-call-chase",
        family="retail_attention_flow",
        intent="A crowd chases short-dated out-of-the-money calls in small lots at the offer.",
        should="alert at low-medium confidence as retail attention, not institutional",
        expected_class="retail_attention_flow",
        direction="bullish",
        band="medium",
        confidence=(0.4, 0.7),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.3,
            severity="medium",
            reason="Retail chases are common; over-alerting is costly.",
        ),
        policy=Policy(right="call", z=1.2, days=(0, 7), orders=40, lots=(1, 10), duration_s=300),
        required=(
            AGGRESSIVE,
            EvidenceRequirement(
                requirement_id="many-small-prints",
                fact_kind="structure_context",
                feature_key="candidate_count",
                operator="gte",
                value=20,
                rationale="Attention flow is many small prints.",
            ),
        ),
        forbidden=(),
        notes="Many small aggressive short-dated OTM call buys.",
    ),
    ScenarioSpec(
        name="event-noise-positioning",
        family="event_positioning",
        intent=(
            "Positioning ahead of an earnings date: straddles in the event expiry, tagged "
            "EVENT."
        ),
        should="classify as event positioning, neutral direction, medium confidence",
        expected_class="event_positioning",
        direction="neutral",
        band="medium",
        confidence=(0.45, 0.75),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.4,
            severity="medium",
            reason="Event positioning is expected flow; a directional call would be wrong.",
        ),
        policy=Policy(
            right="both",
            z=0.0,
            days=(7, 21),
            orders=6,
            lots=(50, 120),
            style="mid",
            structure="straddle",
            duration_s=240,
            event_days=7,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="event-tagged",
                fact_kind="event_context",
                feature_key="days_to_event",
                operator="present",
                value=True,
                rationale="Prints carry the EVENT_<N>D condition.",
            ),
        ),
        forbidden=(),
        notes="Straddles in the event expiry near the mid.",
    ),
    ScenarioSpec(
        name="volatility-seller-supply",
        family="volatility_supply",
        intent="A volatility seller writes out-of-the-money calls and puts, hitting bids.",
        should="classify as volatility supply, neutral, medium confidence",
        expected_class="volatility_supply",
        direction="neutral",
        band="medium",
        confidence=(0.45, 0.75),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.35, severity="medium", reason="Vol selling is not directional."
        ),
        policy=Policy(
            right="both",
            side="sell",
            z=1.0,
            days=(14, 45),
            orders=8,
            lots=(50, 150),
            style="bid",
            duration_s=300,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="sold",
                fact_kind="execution_aggression",
                feature_key="sell_ratio",
                operator="gte",
                value=0.8,
                rationale="Premium is sold, not bought.",
            ),
        ),
        forbidden=(),
        notes="OTM calls and puts sold at the bid.",
    ),
    ScenarioSpec(
        name="hedge-reactive-put-flow",
        family="hedge_rebalance",
        intent="A holder buys protective puts after the stock falls, near the mid, in blocks.",
        should="classify as hedge rebalance, not bearish speculation",
        expected_class="hedge_rebalance",
        direction="bearish",
        band="medium",
        confidence=(0.4, 0.7),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.5,
            severity="medium",
            reason="Hedges read as bearish bets are classic false positives.",
        ),
        policy=Policy(
            right="put",
            z=0.8,
            days=(20, 90),
            orders=4,
            lots=(200, 500),
            style="mid",
            duration_s=240,
            react_bps=10.0,
        ),
        required=(BIG_PREMIUM, PASSIVE),
        forbidden=(),
        notes="Protective put blocks near the mid.",
    ),
    ScenarioSpec(
        name="structure-arbitrage-calm",
        family="structure_arbitrage",
        intent="Vertical spreads traded as packages near the net mid in a calm market.",
        should="classify as structure/arbitrage, no directional alert",
        expected_class="structure_arbitrage",
        direction="neutral",
        band="low",
        confidence=(0.2, 0.5),
        alert="suppress",
        penalty=FalsePositivePenalty(
            score=0.6, severity="high", reason="Package legs are not directional on their own."
        ),
        policy=Policy(
            right="call",
            z=0.6,
            days=(7, 45),
            orders=5,
            lots=(50, 150),
            style="mid",
            structure="vertical",
            duration_s=240,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="packaged",
                fact_kind="structure_shape",
                feature_key="complex_ratio",
                operator="gte",
                value=1.0,
                rationale="Every leg prints as a package (COMPLEX/SPREAD).",
            ),
        ),
        forbidden=(),
        notes="Verticals near the net mid.",
    ),
    ScenarioSpec(
        name="no-alert-wide-quote-chop",
        family="no_alert_negative",
        intent="Small noisy prints in contracts with wide quotes.",
        should="no alert; abstain or suppress",
        expected_class="unclear",
        direction="unknown",
        band="low",
        confidence=(0.0, 0.3),
        alert="no_alert",
        penalty=FalsePositivePenalty(
            score=0.9, severity="high", reason="Any alert on this case is a strong false positive."
        ),
        policy=Policy(
            right="both", z=2.5, days=(60, 200), orders=6, lots=(1, 5), style="mid", duration_s=180
        ),
        required=(
            EvidenceRequirement(
                requirement_id="wide-option-quote",
                fact_kind="quote_quality",
                feature_key="option_spread_bps_max",
                operator="gte",
                value=800,
                rationale="Quote context is wide.",
            ),
            SMALL_PREMIUM,
        ),
        forbidden=(),
        notes="Tiny prints in wide far-OTM contracts.",
    ),
    ScenarioSpec(
        name="informed-put-sweep",
        family="informed_flow",
        intent=(
            "An informed trader sweeps near-the-money puts across venues before the stock "
            "falls."
        ),
        should="alert: directional accumulation, bearish, high confidence",
        expected_class="directional_accumulation",
        direction="bearish",
        band="high",
        confidence=(0.7, 0.92),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.15, severity="low", reason="Missing informed flow is the costly error."
        ),
        policy=Policy(
            right="put",
            z=0.2,
            days=(1, 14),
            orders=6,
            lots=(150, 400),
            style="sweep",
            duration_s=120,
        ),
        required=(
            BIG_PREMIUM,
            AGGRESSIVE,
            EvidenceRequirement(
                requirement_id="swept",
                fact_kind="execution_context",
                feature_key="sweep_ratio",
                operator="gte",
                value=0.8,
                rationale="Orders sweep venues as ISO children.",
            ),
        ),
        forbidden=(NOT_STALE,),
        notes="ISO sweeps of puts, paying up.",
    ),
    ScenarioSpec(
        name="premium-anomaly",
        family="informed_flow",
        intent="One outsized premium print far above the contract's usual size.",
        should="alert on the premium anomaly, medium-high confidence",
        expected_class="directional_accumulation",
        direction="bullish",
        band="medium",
        confidence=(0.55, 0.85),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.25, severity="medium", reason="Outsized premium deserves attention."
        ),
        policy=Policy(
            right="call",
            z=0.4,
            days=(7, 45),
            orders=1,
            lots=(1500, 2500),
            style="ask-block",
            duration_s=10,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="outsized-premium",
                fact_kind="premium_size",
                feature_key="total_premium",
                operator="gte",
                value=150_000,
                rationale="A single print carries outsized premium.",
            ),
        ),
        forbidden=(),
        notes="A single large call print at the offer.",
    ),
    ScenarioSpec(
        name="volume-oi-anomaly",
        family="informed_flow",
        intent="Opening volume in one contract far above its open interest.",
        should="alert: unusual opening volume",
        expected_class="directional_accumulation",
        direction="bullish",
        band="medium",
        confidence=(0.5, 0.8),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.25, severity="medium", reason="Opening volume far above OI is a classic signal."
        ),
        policy=Policy(right="call", z=1.5, days=(7, 30), orders=16, lots=(100, 200),
                      duration_s=240),
        required=(
            EvidenceRequirement(
                requirement_id="opening",
                fact_kind="structure_context",
                feature_key="opening_ratio",
                operator="gte",
                value=0.8,
                rationale="The scenario's prints open new positions.",
            ),
        ),
        forbidden=(),
        notes=(
            "Opening call buying in a thinly held contract, lifting its offer every 15 s or "
            "so: open interest is not on the tape, so its volume must stand far above the "
            "strike's own there."
        ),
    ),
    ScenarioSpec(
        name="stock-and-options-confirmation",
        family="informed_flow",
        intent=(
            "Options flow in the direction of the stock's coming move, then stock buying "
            "confirms."
        ),
        should="alert with higher confidence once the underlying moves the same way",
        expected_class="directional_accumulation",
        direction="mixed",
        band="high",
        confidence=(0.65, 0.9),
        alert="alert",
        penalty=FalsePositivePenalty(
            score=0.2, severity="low", reason="Confirmed flow should be caught."
        ),
        policy=Policy(
            right="call",
            z=0.3,
            days=(7, 30),
            orders=6,
            lots=(100, 250),
            duration_s=180,
            informed_s=360,
            stock_follow_shares=30_000,
        ),
        required=(
            BIG_PREMIUM,
            EvidenceRequirement(
                requirement_id="underlying-confirms",
                fact_kind="underlying_context",
                feature_key="confirming_move_bps",
                operator="gte",
                value=2.0,
                rationale="The stock then moves the flow's way.",
            ),
        ),
        forbidden=(),
        notes="It waits (up to 30 min) for a coming latent move of 10 bps over its horizon, trades "
        "options its way, then the stock.",
    ),
    ScenarioSpec(
        name="stale-quote-trap",
        family="benign_trap",
        intent=(
            "The OPRA feed freezes for a contract; harmless mid prints then look aggressive or "
            "stale."
        ),
        should="abstain or suppress: the quote context is stale",
        expected_class="unclear",
        direction="unknown",
        band="low",
        confidence=(0.0, 0.35),
        alert="abstain",
        penalty=FalsePositivePenalty(
            score=0.8,
            severity="high",
            reason="Alerting on stale-quote artefacts is a false positive.",
        ),
        policy=Policy(
            right="call",
            z=0.2,
            days=(0, 14),
            orders=5,
            lots=(20, 60),
            style="stale-mid",
            duration_s=6,
            fault="freeze",
            fault_s=20,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="stale-context",
                fact_kind="quote_quality",
                feature_key="nbbo_stale_ratio_mean",
                operator="gte",
                value=0.5,
                rationale="The prints meet a frozen, stale NBBO.",
            ),
        ),
        forbidden=(),
        notes="A frozen feed makes mid prints look mispriced.",
    ),
    ScenarioSpec(
        name="locked-crossed-quotes",
        family="benign_trap",
        intent="One venue's bid sticks at or through the offer; small prints meet a locked or "
        "crossed NBBO.",
        should="abstain: a locked or crossed quote says nothing about intent",
        expected_class="unclear",
        direction="unknown",
        band="low",
        confidence=(0.0, 0.3),
        alert="abstain",
        penalty=FalsePositivePenalty(
            score=0.7,
            severity="high",
            reason="Alerting on a crossed-market artefact is a false positive.",
        ),
        policy=Policy(
            right="call",
            z=0.1,
            days=(0, 7),
            orders=4,
            lots=(5, 20),
            duration_s=5,
            fault="stick",
            fault_s=12,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="crossed-context",
                fact_kind="quote_quality",
                feature_key="crossed_quote_ratio",
                operator="gte",
                value=0.5,
                rationale="The prints meet a locked or crossed NBBO.",
            ),
        ),
        forbidden=(),
        notes="A stuck venue bid locks or crosses the market.",
    ),
    ScenarioSpec(
        name="late-and-corrected-prints",
        family="benign_trap",
        intent="Block prints, then a late report of an earlier trade at a stale price, a cancel of "
        "one print and a correction of another.",
        should="suppress: late, cancelled and corrected prints are not fresh intent",
        expected_class="unclear",
        direction="unknown",
        band="low",
        confidence=(0.0, 0.3),
        alert="suppress",
        penalty=FalsePositivePenalty(
            score=0.7,
            severity="high",
            reason="Alerting on reports of old or void trades is a false positive.",
        ),
        policy=Policy(
            right="call",
            z=0.3,
            days=(7, 30),
            orders=3,
            lots=(50, 150),
            style="ask-block",
            duration_s=30,
            fault="reports",
            fault_s=25,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="reported-after-the-fact",
                fact_kind="timing_context",
                feature_key="correction_ratio",
                operator="gte",
                value=0.4,
                rationale="Late, cancelled and corrected reports make up much of the flow.",
            ),
        ),
        forbidden=(),
        notes="LATE, CANCEL and CORRECTION prints; provenance names the prints they report on.",
    ),
    ScenarioSpec(
        name="wide-spread-trap",
        family="benign_trap",
        intent="Prints at the offer of a contract whose quote is very wide.",
        should="suppress: aggression against a wide quote means little",
        expected_class="unclear",
        direction="unknown",
        band="low",
        confidence=(0.0, 0.35),
        alert="suppress",
        penalty=FalsePositivePenalty(
            score=0.7, severity="high", reason="Wide-quote aggression is not informative."
        ),
        policy=Policy(right="put", z=2.2, days=(45, 200), orders=4, lots=(5, 20), duration_s=120),
        required=(
            EvidenceRequirement(
                requirement_id="wide-option-quote",
                fact_kind="quote_quality",
                feature_key="option_spread_bps_max",
                operator="gte",
                value=800,
                rationale="The contract quotes wide.",
            ),
        ),
        forbidden=(),
        notes="At-the-offer prints in a wide, long-dated OTM put.",
    ),
    ScenarioSpec(
        name="benign-block",
        family="benign_trap",
        intent="A large institutional block crossed near the mid.",
        should="no directional alert: a negotiated block near the mid",
        expected_class="unclear",
        direction="neutral",
        band="low",
        confidence=(0.1, 0.4),
        alert="no_alert",
        penalty=FalsePositivePenalty(
            score=0.6, severity="high", reason="Mid-market blocks are routine."
        ),
        policy=Policy(
            right="call",
            z=0.3,
            days=(20, 60),
            orders=1,
            lots=(1000, 2000),
            style="mid",
            duration_s=10,
        ),
        required=(BIG_PREMIUM, PASSIVE),
        forbidden=(),
        notes="One large near-mid block.",
    ),
    ScenarioSpec(
        name="spread-misread-trap",
        family="benign_trap",
        intent="Vertical legs that look directional one at a time.",
        should="classify the package, not the legs",
        expected_class="structure_arbitrage",
        direction="neutral",
        band="low",
        confidence=(0.1, 0.4),
        alert="suppress",
        penalty=FalsePositivePenalty(
            score=0.7,
            severity="high",
            reason="Reading a leg as a directional bet is a false positive.",
        ),
        policy=Policy(
            right="put",
            z=0.5,
            days=(7, 30),
            orders=4,
            lots=(100, 300),
            style="mid",
            structure="vertical",
            duration_s=180,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="packaged",
                fact_kind="structure_shape",
                feature_key="complex_ratio",
                operator="gte",
                value=1.0,
                rationale="Legs print as a package.",
            ),
        ),
        forbidden=(),
        notes="Put verticals: the bought leg alone looks bearish.",
    ),
    ScenarioSpec(
        name="low-liquidity-trap",
        family="benign_trap",
        intent="Small prints in a long-dated, rarely traded contract.",
        should="abstain: too little liquidity to read",
        expected_class="unclear",
        direction="unknown",
        band="low",
        confidence=(0.0, 0.3),
        alert="abstain",
        penalty=FalsePositivePenalty(
            score=0.7, severity="high", reason="Illiquid noise should not alert."
        ),
        policy=Policy(right="call", z=1.8, days=(120, 400), orders=3, lots=(1, 5), duration_s=120),
        required=(SMALL_PREMIUM,),
        forbidden=(),
        notes="A few lots in a far, long-dated call.",
    ),
    ScenarioSpec(
        name="zero-dte-churn",
        family="benign_trap",
        intent="Same-day calls and puts churned both ways in small size.",
        should="no alert: 0DTE churn is noise",
        expected_class="unclear",
        direction="mixed",
        band="low",
        confidence=(0.0, 0.3),
        alert="no_alert",
        penalty=FalsePositivePenalty(
            score=0.6, severity="high", reason="0DTE churn alerts are false positives."
        ),
        policy=Policy(
            right="both",
            z=0.3,
            days=(0, 0),
            orders=30,
            lots=(1, 15),
            duration_s=300,
            alternate=True,
        ),
        required=(
            EvidenceRequirement(
                requirement_id="zero-dte",
                fact_kind="timing_context",
                feature_key="zero_dte_ratio",
                operator="gte",
                value=1.0,
                rationale="Every print is in a same-day expiry.",
            ),
        ),
        forbidden=(),
        notes="Both rights, small lots, today's expiry.",
    ),
    ScenarioSpec(
        name="abstention-case",
        family="benign_trap",
        intent="Mixed buying and selling of calls and puts with no clear story.",
        should="abstain",
        expected_class="unclear",
        direction="mixed",
        band="low",
        confidence=(0.0, 0.3),
        alert="abstain",
        penalty=FalsePositivePenalty(
            score=0.5, severity="medium", reason="Forcing a call on mixed flow is an error."
        ),
        policy=Policy(
            right="both",
            z=0.5,
            days=(7, 30),
            orders=8,
            lots=(20, 60),
            style="mid",
            duration_s=240,
            alternate=True,
        ),
        required=(),
        forbidden=(),
        notes="Balanced mixed flow near the mid.",
    ),
]

CATALOG: dict[str, ScenarioSpec] = {s.name: s for s in _ENTRIES}


def _where(config: RunConfig, flags: Sequence[str], i: int, field: str) -> str:
    """How an error in scenario ``i`` names it: the ``--scenario`` flag as typed when one
    of the last ``len(flags)`` scenarios came from it, else ``field 'scenarios.i.FIELD'``."""
    first_flag = len(config.scenarios) - len(flags)
    return (f"--scenario {flags[i - first_flag]}" if i >= first_flag
            else f"field 'scenarios.{i}.{field}'")


def check_names(config: RunConfig, flags: Sequence[str] = ()) -> None:
    """Refuse a config that names a scenario the catalog does not have.

    ``flags`` are the ``--scenario NAME@TIME`` values that added the config's last
    ``len(flags)`` scenarios, so an error in one names the flag as typed.

    Raises:
        ConfigError: naming ``--scenario NAME@TIME`` or ``scenarios.N.name`` and pointing
            to ``tapesim scenarios``.
    """
    for i, sc in enumerate(config.scenarios):
        if sc.name not in CATALOG:
            raise ConfigError(f"{_where(config, flags, i, 'name')}: unknown scenario "
                              f"{sc.name!r}: `tapesim scenarios` lists the catalog")


def check_leads(config: RunConfig, flags: Sequence[str] = ()) -> None:
    """Refuse a scenario that starts too close to the window's end to act out: its start
    plus its :meth:`Policy.lead_s` (with the config's ``duration_s``) must not pass the
    simulated window's end, or its orders are cut and its events contradict its label's
    evidence. Call after :func:`check_names`.

    ``flags`` as for :func:`check_names`.

    Raises:
        ConfigError: naming ``--scenario NAME@TIME`` or ``scenarios.N.at``, the lead it
            needs and the latest start.
    """
    session = config.session.session()
    end = dt.datetime.fromtimestamp(session.end_ms / 1000, NEW_YORK)
    for i, sc in enumerate(config.scenarios):
        lead = CATALOG[sc.name].policy.lead_s(sc.duration_s)
        room_ms = session.end_ms - epoch_ms(config.session.date, sc.at)
        if room_ms < lead * 1000:
            latest = end - dt.timedelta(milliseconds=math.ceil(lead * 1000))
            raise ConfigError(
                f"{_where(config, flags, i, 'at')}: {sc.name} at {sc.at:%H:%M:%S} leaves "
                f"{room_ms / 1000:g} s before the window ends at {end:%H:%M:%S}, and it needs "
                f"{lead:g} s to act out: start it by {latest:%H:%M:%S}, end "
                "the window later or give it a shorter duration_s"
            )
