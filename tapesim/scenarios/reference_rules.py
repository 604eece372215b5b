"""The reference classifier's rules: the hypothesis each one states, and which fires.

Each rule reads a closed :class:`~tapesim.scenarios.reference_baselines.Cluster` (its
focus's features and the baselines' view, :mod:`tapesim.scenarios.reference_baselines`)
and states a :class:`Hypothesis` or passes; :func:`hypothesis` is the first rule of
:data:`RULES` that fires. Rules are plain functions; each one's docstring gives its
reason. Thresholds are module constants, in dollars, bps and ratios in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tapesim.scenarios.reference_baselines import (
    COLD_START,
    LOOKBACK,
    MIN_PREMIUM,
    Cluster,
)

# the baselines' constants the rules' docstrings name are re-exported with the rules
__all__ = ["COLD_START", "LOOKBACK", "MIN_PREMIUM", "RULES", "Hypothesis", "hypothesis"]

DIRECTIONAL_PREMIUM = 50_000.0  # dollars: institutional-sized flow starts here
OUTSIZED = 5.0  # one print's premium against the underlying's typical minute: a block
REPEAT_MINUTES = 2  # minutes of the lookback in which the lead contract went the same way
AGGRESSIVE = 0.6  # premium share at the aggressive side that counts as paying up
BIASED = 0.6  # |net directional bias| that counts as one-way
STALE_MAX = 0.3  # share of STALE prints above which quotes cannot place prints
COVERAGE_MIN = 0.7  # share of prints with a usable NBBO below which the same holds
HEDGE_MOVE_BPS = -10.0  # the stock's fall from its five-minute high that makes puts a hedge
CONTEXT_CAP = 0.65  # highest confidence of a hypothesis that states no view (a hedge)
PROTECTED = 0.5  # share of an expiry's put premium printed at the mid that reads as a hedge
CROWD_TICKETS = 8  # small tickets bought at the offer in one contract in a minute: a crowd
CROWD_PACE = 3.0  # a crowd's tickets against the contract's own mean per minute
CROWD_SIDE = 0.8  # share of the contract's small tickets at the touch bought at the offer
CHURN_TICKET = 5_000.0  # dollars: the mean premium per print of same-day churn
SELLING = 0.8  # premium share sold at the bid that makes a volatility seller
LEG_SHARE = 0.25  # share of a volatility seller's contracts each of calls and puts holds
UNUSUAL_LOTS = 500  # contracts over the lookback that make a strike's volume unusual
UNUSUAL_PACE = 10.0  # that volume against the contract's own pace over as many minutes
ONE_WAY = 0.8  # share of those contracts bought at the offer
NO_BASELINE_CAP = 0.65  # highest confidence before the underlying has a baseline
MAX_REFS = 50  # evidence refs an alert carries (the cluster's first prints)




@dataclass(frozen=True)
class Hypothesis:
    """What a rule concludes: class, direction, confidence, abstention reasons."""

    hypothesis_class: str
    direction: str
    confidence: float
    abstention: tuple[str, ...] = ()
    rule: str = ""


# --- the rules, in the order they are tried -------------------------------------------

def _abstain(reason: str, cls: str = "unclear") -> Hypothesis:
    return Hypothesis(cls, "unknown", 0.0, (reason,))


def corrected_prints(c: Cluster) -> Hypothesis | None:
    """Late reports, cancels and corrections describe trades already reported (or
    undone) out of sequence, not a live decision: suppress (a special print context,
    as the consolidated tape's own sale conditions flag them)."""
    if c.values.get("correction_ratio", 0.0) > 0:
        return _abstain("complex_or_special_print_context")
    return None


def unusable_quotes(c: Cluster) -> Hypothesis | None:
    """The aggressor side is inferred from the quote in force (the quote rule of Lee &
    Ready, 1991); a stale, missing, locked or crossed NBBO makes it unknowable, so the
    cluster is abstained on rather than read as aggressive."""
    v = c.values
    if (v.get("nbbo_stale_ratio_mean", 0.0) > STALE_MAX
            or v.get("nbbo_coverage_ratio_mean", 1.0) < COVERAGE_MIN
            or v.get("crossed_quote_ratio", 0.0) > 0):
        return _abstain("stale_quote_context")
    return None


def too_small(c: Cluster) -> Hypothesis | None:
    """Below :data:`MIN_PREMIUM` a minute's flow is too small to mean anything on its
    own (the pipeline's signal filter draws the same line per print at 10k-50k)."""
    if c.values.get("total_premium", 0.0) < MIN_PREMIUM:
        return _abstain("below_policy_threshold")
    return None


def packaged_structure(c: Cluster) -> Hypothesis | None:
    """Legs printed as a package (COMPLEX / SPREAD conditions) offset each other's
    delta; reading each leg as a directional bet is the classic spread misread, so the
    hypothesis is structure arbitrage, suppressed."""
    if c.values.get("complex_ratio", 0.0) >= 0.5:
        return Hypothesis("structure_arbitrage", "neutral", 0.3,
                          ("complex_or_special_print_context",))
    return None


def wide_market(c: Cluster) -> Hypothesis | None:
    """When the NBBO is very wide (spread over :data:`WIDE_BPS` of the mid), a print at
    the offer says little about urgency: market makers quote wide where they cannot
    hedge, and any small order lands on a side. Abstain on the weak quote context when
    most of the premium printed against such quotes."""
    if c.wide_share > 0.5:
        return _abstain("stale_quote_context")
    return None


def event_positioning(c: Cluster) -> Hypothesis | None:
    """An ``EVENT_<N>D`` condition names a scheduled catalyst N days out; volume
    concentrated in it is positioning for the event (a straddle bets on the size of
    the move, not its sign, so mixed calls and puts read neutral). It is tried before
    :func:`packaged_structure`: a straddle or strangle in the event expiry is the
    classic event-volatility trade, so the package is the means and the event the
    reason."""
    if c.values.get("days_to_event") is None:
        return None
    bias = c.values.get("net_directional_bias", 0.0)
    direction = ("neutral" if c.values.get("option_type") == "mixed" or abs(bias) < BIASED
                 else _sign(bias))
    return Hypothesis("event_positioning", direction, _confidence(c, 0.5), rule="event")


def volatility_supply(c: Cluster) -> Hypothesis | None:
    """Premium sold at the bid across calls and puts of one expiry is a short-volatility
    position (net selling pressure on options, Bollen & Whaley 2004; a strangle or
    straddle writer): the seller collects premium and is neutral on direction. It is
    read from the whole tape of the underlying's last :data:`LOOKBACK` minutes
    (:class:`~tapesim.scenarios.reference_flow.Supply`), not from one minute's focus: a
    seller works an order over minutes, one leg at a time, while busier expiries may
    draw more premium in any one minute. Background selling is mixed with buying, so
    :data:`SELLING` of the expiry's premium at the touch must be sold, at least
    :data:`DIRECTIONAL_PREMIUM` over the lookback, in :data:`REPEAT_MINUTES` of its
    minutes (one minute's sale is a single ticket's) including this one, and in both
    calls and puts (each at least :data:`LEG_SHARE` of the contracts sold, as a
    strangle sells as many calls as puts, while the skew makes its calls' premium the
    smaller; puts or calls sold alone are a directional bet). It is tried before the
    focus's context (too small, a package, a wide market): hitting the bid of a wide
    market minute after minute gives up the spread knowingly, which is no accident of
    a small order landing on a side."""
    s = c.supply
    if (s is not None and s.sold >= DIRECTIONAL_PREMIUM and s.sold_share >= SELLING
            and s.minutes >= REPEAT_MINUTES and s.now >= MIN_PREMIUM / 2
            and min(s.calls, s.puts) >= LEG_SHARE * (s.calls + s.puts)):
        return Hypothesis("volatility_supply", "neutral", _confidence(c, 0.45))
    return None


def unusual_volume(c: Cluster) -> Hypothesis | None:
    """Contracts bought at the offer, minute after minute, in a strike far above its own
    pace are new positions being opened: the classic "volume far above open interest"
    signal of unusual-options-activity screens, read as a tape reader must, since open
    interest is not on the tape (CONTRACT.md §1): against the contract's own volume
    before. Buyer-initiated opening volume carries information about the coming move
    (Pan & Poteshman 2006). From the whole tape of the underlying's last
    :data:`LOOKBACK` minutes (:class:`~tapesim.scenarios.reference_flow.Unusual`, the
    contract's pace learnt from the underlying's earlier minutes, so none before its
    first :data:`COLD_START`): at least :data:`UNUSUAL_LOTS` contracts,
    :data:`UNUSUAL_PACE` times its pace, :data:`ONE_WAY` of them bought at the offer, in
    :data:`REPEAT_MINUTES` of the minutes (one block is a print, not accumulation), and
    :data:`MIN_PREMIUM` of premium (lottery tickets aside). A strike nobody traded
    quotes wide, so it is tried before :func:`wide_market`, as a buyer who lifts a wide
    offer minute after minute pays the spread knowingly. Direction: calls bought
    bullish, puts bought bearish."""
    u = c.unusual
    if (u is not None and u.contracts >= UNUSUAL_LOTS and u.pace_ratio >= UNUSUAL_PACE
            and u.bought_share >= ONE_WAY and u.minutes >= REPEAT_MINUTES
            and u.premium >= MIN_PREMIUM):
        return Hypothesis("directional_accumulation", "bullish" if u.call else "bearish",
                          _confidence(c, 0.45))
    return None


def hedge_rebalance(c: Cluster) -> Hypothesis | None:
    """Puts bought in size without paying up after the stock fell from its recent high
    are protection being added to a long stock position: a reactive hedge (portfolio
    insurance and risk limits buy protection on a drawdown, Leland 1980), bearish in
    delta but not a bet on further falls. Read from this minute's whole tape (the
    expiry whose puts drew the most premium between the touches,
    :meth:`~tapesim.scenarios.reference_flow.Ledger.protection`): at least
    :data:`DIRECTIONAL_PREMIUM` of puts at the mid, :data:`PROTECTED` of that expiry's
    put premium (a hedger crosses near the mid, it does not sweep the offer), with the
    stock :data:`HEDGE_MOVE_BPS` or more below its highest mid of the last five
    minutes. It is tried before the focus's context: a package or a wide quote in a
    busier expiry says nothing about the hedge. A hedge carries no view, so its
    confidence stays below the high band (at most :data:`CONTEXT_CAP`)."""
    if (c.protection >= DIRECTIONAL_PREMIUM and c.protection_share >= PROTECTED
            and c.drawdown_bps is not None and c.drawdown_bps <= HEDGE_MOVE_BPS):
        return Hypothesis("hedge_rebalance", "bearish", min(CONTEXT_CAP, _confidence(c, 0.45)))
    return None


def retail_attention(c: Cluster) -> Hypothesis | None:
    """Many small tickets bought at the offer in one contract within a minute are a
    crowd's attention, not one informed desk: retail order flow is small-lot, buys
    short-dated out-of-the-money options and clusters in time on the same names
    (Bryzgalova, Pavlova & Sikorskaya 2023 on retail options trading). Small tickets
    are the background of a liquid chain, so the crowd is judged against that
    contract's own pace: :data:`CROWD_TICKETS` or more tickets of at most
    :data:`SMALL_LOTS` contracts (more than the one-sided bursts of six or seven small
    tickets a liquid chain's busiest contracts see on their own), :data:`CROWD_PACE`
    times its mean per minute so far (learnt from the run's first :data:`COLD_START`
    minutes; no pace, no call), and
    one-sided (:data:`CROWD_SIDE` of its small tickets at the touch bought: a crowd
    chases, while churn trades both ways). The crowd is read over the whole minute in
    its own contract, so it is tried first: the focus's premium, package or quote
    width say nothing about it.
    Direction: a crowd in calls is bullish, in puts bearish."""
    if (c.crowd_tickets >= CROWD_TICKETS and c.crowd_side >= CROWD_SIDE
            and c.crowd_pace is not None and c.crowd_pace >= CROWD_PACE):
        return Hypothesis("retail_attention_flow", c.crowd_direction,
                          min(0.65, _confidence(c, 0.4)))
    return None


def zero_dte_churn(c: Cluster) -> Hypothesis | None:
    """Same-day options traded in small tickets are churn: gamma scalping and
    lottery-ticket trading opened and closed within the day (Beckmeyer, Branger &
    Gayda 2023 on retail 0DTE trading; Bandi, Fusari & Reno 2023 on 0DTE pricing).
    A focus in today's expiry whose mean ticket is under :data:`CHURN_TICKET` says
    nothing about positioning, whatever side it leans to: abstain."""
    v = c.values
    count = v.get("candidate_count", 0)
    if (v.get("zero_dte_ratio", 0.0) >= 0.9 and count
            and v.get("total_premium", 0.0) / count <= CHURN_TICKET):
        return _abstain("insufficient_evidence")
    return None


def directional(c: Cluster) -> Hypothesis | None:
    """Premium paid at the offer (or sold at the bid) on one side and *accumulated* is
    directional: an informed trader pays for immediacy (Easley, O'Hara & Srinivas
    1998 on informed trading in options) and, to hide size, splits the position into
    orders over minutes (Kyle 1985; Chakravarty, Gulen & Mayhew 2004 on informed
    option orders). One print, however large or swept, is routine in a liquid chain,
    so a call needs aggression and one-sidedness (|net directional bias| at least
    :data:`BIASED`, which bounds the premium at the aggressive side from below) over
    :data:`DIRECTIONAL_PREMIUM`, and either repetition (the lead contract taken the
    same way in :data:`REPEAT_MINUTES` of the last :data:`LOOKBACK` minutes) or one
    print carrying :data:`OUTSIZED` times the underlying's typical minute of premium
    (a block paid for at once, the classic premium anomaly; a sweep's children are
    each ordinary). Usable quotes (coverage) are checked before, by
    :func:`unusable_quotes`. Direction: calls bought or puts sold bullish."""
    v = c.values
    accumulated = c.repeat_minutes >= REPEAT_MINUTES
    outsized = c.print_ratio is not None and c.print_ratio >= OUTSIZED
    if (v.get("total_premium", 0.0) >= DIRECTIONAL_PREMIUM
            and v.get("nbbo_aggression_ratio_max", 0.0) >= AGGRESSIVE
            and abs(v.get("net_directional_bias", 0.0)) >= BIASED
            and (accumulated or outsized)):
        return Hypothesis("directional_accumulation", _sign(v["net_directional_bias"]),
                          _confidence(c, 0.45))
    return None


def conflicting(c: Cluster) -> Hypothesis | None:
    """Aggressive prints on both sides cancel out: no direction can be stated."""
    v = c.values
    if (v.get("nbbo_aggression_ratio_max", 0.0) >= AGGRESSIVE
            and abs(v.get("net_directional_bias", 0.0)) < BIASED):
        return _abstain("conflicting_evidence")
    return None


def insufficient(c: Cluster) -> Hypothesis | None:
    """Nothing above fired: passive, mid-market or one-off flow is not evidence."""
    return _abstain("insufficient_evidence")


RULES: list[Callable[[Cluster], Hypothesis | None]] = [
    retail_attention, corrected_prints, unusable_quotes, volatility_supply, unusual_volume,
    hedge_rebalance, too_small, event_positioning, packaged_structure, wide_market,
    zero_dte_churn, directional, conflicting, insufficient]


def _sign(bias: float) -> str:
    return "bullish" if bias > 0 else "bearish"


def _confidence(c: Cluster, base: float) -> float:
    """A confidence in [0.05, 0.95]: ``base`` raised by premium size (up to +0.15 at
    ten times :data:`DIRECTIONAL_PREMIUM`), repetition (+0.1 for three or more prints),
    aggression above :data:`AGGRESSIVE` (up to +0.1), unusual premium for the
    underlying (+0.1 at a z-score of 2, -0.1 at or below 0), urgency (+0.05 for mostly
    sweeps) and unusual contract volume (+0.05 at five times its mean minute). Before
    the underlying has a baseline nothing can be called unusual, so the confidence is
    capped at :data:`NO_BASELINE_CAP`."""
    v = c.values
    premium = max(v.get("total_premium", 0.0), 1.0)
    conf = base + 0.15 * min(1.0, max(0.0, math.log10(premium / DIRECTIONAL_PREMIUM)))
    conf += 0.1 if v.get("candidate_count", 0) >= 3 else 0.0
    conf += 0.1 * min(1.0, max(0.0, (v.get("nbbo_aggression_ratio_max", 0.0) - AGGRESSIVE)
                                / (1 - AGGRESSIVE)))
    if c.premium_z is not None:
        conf += 0.1 if c.premium_z >= 2 else -0.1 if c.premium_z <= 0 else 0.0
    conf += 0.05 if v.get("sweep_ratio", 0.0) >= 0.5 else 0.0
    conf += 0.05 if (c.volume_ratio_max or 0.0) >= 5 else 0.0
    top = 0.95 if c.premium_z is not None else NO_BASELINE_CAP
    return round(min(top, max(0.05, conf)), 3)


def hypothesis(c: Cluster) -> Hypothesis:
    """The first rule of :data:`RULES` that fires on the cluster, named."""
    for rule in RULES:
        found = rule(c)
        if found is not None:
            return Hypothesis(found.hypothesis_class, found.direction, found.confidence,
                              found.abstention, rule.__name__)
    raise AssertionError("insufficient always fires")  # pragma: no cover
