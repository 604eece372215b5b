"""The reference classifier's rules: clusters, baselines and the hypothesis each rule states.

The classifier (:mod:`tapesim.scenarios.reference`) gathers an underlying's option
prints into one-minute :class:`Cluster` s and takes each cluster's *focus*: the prints
of the expiry that drew the most premium that minute (:func:`focus`; a position,
single leg or structure, is built in one expiry, while background flow spreads over
the chain). Over the focus it computes the contract's features
(:func:`tapesim.scenarios.evidence.features`: total premium, NBBO aggression and
coverage, stale-quote ratio, net directional bias, underlying move, option spread,
days to event, structure shares), then :class:`Baselines` add their view (premium
z-score against the underlying's past clusters, the premium against the underlying's
typical minute, the largest per-contract volume ratio, the minutes in which the
lead contract was taken the same way, the underlying's recent selling minutes, the
underlying's move over the last five minutes, and the largest crowd of small
tickets in one contract against that contract's own pace) and :func:`wide_share`
the premium share printed against a very wide quote. :func:`hypothesis` is the
first rule of :data:`RULES` that fires.

Baselines are held in memory per underlying and per contract and start empty for each
cell; those a rule needs early (the typical minute, a contract's ticket pace) are
usable after the underlying's first :data:`COLD_START` minutes, learnt from the
run's own tape rather than from a prior that would not fit every underlying. Rules
are plain functions; each one's docstring gives its reason. Thresholds are module
constants, in dollars, bps and ratios in [0, 1].
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tapesim.events.contracts import parse_contract_id

MINUTE_MS = 60_000
MIN_PREMIUM = 25_000.0  # dollars: a cluster below this states no hypothesis
DIRECTIONAL_PREMIUM = 50_000.0  # dollars: institutional-sized flow starts here
OUTSIZED = 5.0  # one print's premium against the underlying's typical minute: a block
REPEAT_MINUTES = 2  # minutes of the lookback in which the lead contract went the same way
LOOKBACK = 3  # minutes (this one included) over which flow counts as repeated
AGGRESSIVE = 0.6  # premium share at the aggressive side that counts as paying up
BIASED = 0.6  # |net directional bias| that counts as one-way
STALE_MAX = 0.3  # share of STALE prints above which quotes cannot place prints
COVERAGE_MIN = 0.7  # share of prints with a usable NBBO below which the same holds
WIDE_BPS = 2_000.0  # option spread / mid above which the offer is no evidence of urgency
HEDGE_MOVE_BPS = -10.0  # the underlying's five-minute move that makes puts a hedge
CROWD_TICKETS = 8  # small tickets bought at the offer in one contract in a minute: a crowd
SMALL_LOTS = 10  # contracts: the largest ticket counted as small (a retail-sized order)
CROWD_PACE = 3.0  # a crowd's tickets against the contract's own mean per minute
CROWD_SIDE = 0.8  # share of the contract's small tickets at the touch bought at the offer
CHURN_TICKET = 5_000.0  # dollars: the mean premium per print of same-day churn
SELLING = 0.8  # premium share sold at the bid that makes a volatility seller
NO_BASELINE_CAP = 0.65  # highest confidence before the underlying has a baseline
EWMA_ALPHA = 0.1  # weight of the newest cluster in the per-underlying premium baseline
BASELINE_MIN = 5  # clusters an underlying needs before its premium z-score is used
COLD_START = 2  # minutes an underlying needs before its typical minute and ticket pace are
MOVE_LOOKBACK = 5  # minutes of underlying mids the hedge rule looks back over
MAX_REFS = 50  # evidence refs an alert carries (the cluster's first prints)


@dataclass
class Cluster:
    """One minute of one underlying's prints and what the baselines say about them."""

    underlying: str
    minute: int  # ts // 60_000
    prints: list[dict[str, Any]] = field(default_factory=list)  # the focus, once closed
    values: dict[str, Any] = field(default_factory=dict)  # the contract features
    premium_z: float | None = None  # log10 premium against the underlying's baseline
    volume_ratio_max: float | None = None  # contracts vs the contract's mean per minute
    move_5m_bps: float | None = None  # underlying mid move over the last five minutes
    wide_share: float = 0.0  # premium share printed against a spread over WIDE_BPS
    premium_ratio: float | None = None  # premium / the underlying's typical minute
    print_ratio: float | None = None  # the largest print's premium / the typical minute
    repeat_minutes: int = 0  # lookback minutes the lead contract was taken the same way
    selling_minutes: int = 0  # lookback minutes of the underlying sold at the bid
    sold_both: bool = False  # calls and puts both sold at the bid over those minutes
    crowd_tickets: int = 0  # small tickets bought at the offer in the busiest contract
    crowd_pace: float | None = None  # those tickets / the contract's mean per minute
    crowd_side: float = 0.0  # share of the contract's small tickets at the touch bought
    crowd_direction: str = "unknown"  # bullish for a crowd in calls, bearish in puts
    minute_prints: list[dict[str, Any]] = field(default_factory=list)  # every print

    @property
    def close_ts(self) -> int:
        """When the cluster closes: the last millisecond of its minute, epoch ms UTC."""
        return (self.minute + 1) * MINUTE_MS - 1


@dataclass(frozen=True)
class Hypothesis:
    """What a rule concludes: class, direction, confidence, abstention reasons."""

    hypothesis_class: str
    direction: str
    confidence: float
    abstention: tuple[str, ...] = ()
    rule: str = ""


class Baselines:
    """Rolling per-underlying and per-contract baselines, in memory.

    Per underlying: an exponentially weighted mean and variance of log10 cluster
    premium (weight :data:`EWMA_ALPHA`), the last :data:`MOVE_LOOKBACK` minutes'
    closing underlying mids and the minutes of the last :data:`LOOKBACK` sold at the
    bid. Per contract: contracts traded and minutes seen, small tickets bought at the
    offer, and the net signed aggressive premium of its last :data:`LOOKBACK` minutes
    (calls bought or puts sold positive, in dollars).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (between cells)."""
        self.premium: dict[str, tuple[float, float, int]] = {}
        self.mids: dict[str, deque[float]] = {}
        self.contracts: dict[str, tuple[int, int]] = {}
        self.tickets: dict[str, int] = {}
        self.flow: dict[str, dict[int, float]] = {}
        self.selling: dict[str, deque[tuple[int, str]]] = {}

    def observe(self, cluster: Cluster) -> None:
        """Fill the cluster's baseline view, then fold the cluster into the baselines."""
        u = cluster.underlying
        logp = math.log10(max(cluster.values.get("total_premium", 0.0), 1.0))
        mean, var, n = self.premium.get(u, (logp, 0.0, 0))
        if n >= BASELINE_MIN:
            cluster.premium_z = round((logp - mean) / math.sqrt(max(var, 1e-4)), 3)
        if n >= COLD_START:
            typical = 10 ** mean
            cluster.premium_ratio = round(10 ** logp / typical, 3)
            largest = max((p.get("notional") or 0.0 for p in cluster.prints), default=0.0)
            cluster.print_ratio = round(largest / typical, 3)
        self._repeats(cluster)
        self._crowd(cluster, n)
        delta = logp - mean
        mean += EWMA_ALPHA * delta
        var = (1 - EWMA_ALPHA) * (var + EWMA_ALPHA * delta * delta)
        self.premium[u] = (mean, var, n + 1)
        mids = self.mids.setdefault(u, deque(maxlen=MOVE_LOOKBACK))
        last = next((p.get("execution_underlying_mid") for p in reversed(cluster.prints)
                     if p.get("execution_underlying_mid")), None)
        if mids and last:
            cluster.move_5m_bps = round((last - mids[0]) / mids[0] * 1e4, 3)
        if last:
            mids.append(last)
        sizes: dict[str, int] = {}
        for p in cluster.prints:
            sizes[p["option_contract_id"]] = sizes.get(p["option_contract_id"], 0) + p["size"]
        ratios = []
        for contract, size in sorted(sizes.items()):
            total, minutes = self.contracts.get(contract, (0, 0))
            if minutes:
                ratios.append(size / max(total / minutes, 1.0))
            self.contracts[contract] = (total + size, minutes + 1)
        cluster.volume_ratio_max = round(max(ratios), 3) if ratios else None

    def _repeats(self, cluster: Cluster) -> None:
        """The lead contract's same-way minutes, and the underlying's selling minutes."""
        recent = range(cluster.minute - LOOKBACK + 1, cluster.minute + 1)
        signed: dict[str, float] = {}
        for p in cluster.prints:
            s = _signed(p)
            if s:
                signed[p["option_contract_id"]] = signed.get(p["option_contract_id"], 0.0) + s
        if signed:
            lead = max(sorted(signed), key=lambda k: abs(signed[k]))
            way = math.copysign(1.0, signed[lead])
            floor = MIN_PREMIUM / 2
            for contract, value in signed.items():
                self.flow.setdefault(contract, {})[cluster.minute] = value
            history = self.flow[lead]
            cluster.repeat_minutes = sum(history.get(m, 0.0) * way >= floor for m in recent)
        sold = self.selling.setdefault(cluster.underlying, deque(maxlen=LOOKBACK))
        if (cluster.values.get("sell_ratio", 0.0) >= SELLING
                and cluster.values.get("total_premium", 0.0) >= MIN_PREMIUM):
            sold.append((cluster.minute, cluster.values.get("option_type", "mixed")))
        kinds = {kind for m, kind in sold if m in recent}
        cluster.selling_minutes = sum(m in recent for m, _ in sold)
        cluster.sold_both = "mixed" in kinds or kinds >= {"call", "put"}

    def _crowd(self, cluster: Cluster, minutes: int) -> None:
        """The busiest contract's small tickets bought at the offer this minute, against
        its own mean per minute so far (known after :data:`COLD_START` minutes)."""
        counts: dict[str, int] = {}
        touch: dict[str, int] = {}
        for p in cluster.minute_prints:
            if p["size"] <= SMALL_LOTS and p.get("nbbo_side") in ("A", "AA", "B", "BB"):
                k = p["option_contract_id"]
                touch[k] = touch.get(k, 0) + 1
                if p["nbbo_side"] in ("A", "AA"):
                    counts[k] = counts.get(k, 0) + 1
        if counts:
            busiest = max(sorted(counts), key=lambda k: counts[k])
            cluster.crowd_tickets = counts[busiest]
            cluster.crowd_side = round(counts[busiest] / touch[busiest], 3)
            cluster.crowd_direction = ("bullish" if parse_contract_id(busiest).right == "C"
                                       else "bearish")
            if minutes >= COLD_START:
                pace = self.tickets.get(busiest, 0) / minutes
                cluster.crowd_pace = round(counts[busiest] / max(pace, 1.0), 3)
        for contract, count in counts.items():
            self.tickets[contract] = self.tickets.get(contract, 0) + count


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
    """Premium sold at the bid across calls and puts is a short-volatility position
    (net selling pressure on options, Bollen & Whaley 2004): the seller collects
    premium and is neutral on direction. Background selling is mixed with buying, so
    nearly all of the premium (:data:`SELLING`) must be sold, and a seller works an
    order over minutes: the underlying must have been sold so in :data:`REPEAT_MINUTES`
    of the last :data:`LOOKBACK` minutes (one minute's sale is a single ticket's), in
    both calls and puts over them (a minute may hold one leg only). It is tried before
    :func:`wide_market`: hitting the bid of a wide market minute after minute gives up
    the spread knowingly, which is no accident of a small order landing on a side."""
    v = c.values
    if (v.get("sell_ratio", 0.0) >= SELLING and v.get("total_premium", 0) >= MIN_PREMIUM
            and c.selling_minutes >= REPEAT_MINUTES
            and (c.sold_both or v.get("option_type") == "mixed"
                 or abs(v.get("net_directional_bias", 0.0)) < BIASED)):
        return Hypothesis("volatility_supply", "neutral", _confidence(c, 0.45))
    return None


def hedge_rebalance(c: Cluster) -> Hypothesis | None:
    """Puts bought without paying up after the stock fell over the last minutes are
    protection being added to a long stock position (a reactive hedge), bearish in
    delta but not a bet on further falls."""
    v = c.values
    if (v.get("option_type") == "put" and v.get("nbbo_aggression_ratio_max", 1.0) < AGGRESSIVE
            and c.move_5m_bps is not None and c.move_5m_bps <= HEDGE_MOVE_BPS):
        return Hypothesis("hedge_rebalance", "bearish", _confidence(c, 0.45))
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
    retail_attention, corrected_prints, unusable_quotes, too_small, event_positioning,
    packaged_structure, volatility_supply, wide_market, hedge_rebalance, zero_dte_churn,
    directional, conflicting, insufficient]


def _sign(bias: float) -> str:
    return "bullish" if bias > 0 else "bearish"


def _signed(p: dict[str, Any]) -> float:
    """A print's aggressive premium signed as :func:`features` signs the directional
    bias (calls bought or puts sold +, puts bought or calls sold -); 0 off the touch."""
    side = p.get("nbbo_side")
    way = 1.0 if side in ("A", "AA") else -1.0 if side in ("B", "BB") else 0.0
    call = parse_contract_id(p["option_contract_id"]).right == "C"
    return way * (1.0 if call else -1.0) * (p.get("notional") or 0.0)


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


def focus(prints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prints of the expiry with the most premium (the earliest expiry on a tie),
    in their order."""
    premium: dict[dt.date, float] = {}
    for p in prints:
        expiry = parse_contract_id(p["option_contract_id"]).expiry
        premium[expiry] = premium.get(expiry, 0.0) + (p.get("notional") or 0.0)
    best = max(sorted(premium), key=lambda e: premium[e])
    return [p for p in prints if parse_contract_id(p["option_contract_id"]).expiry == best]


def wide_share(prints: list[dict[str, Any]]) -> float:
    """Premium share of prints whose NBBO in force was wider than :data:`WIDE_BPS` of
    its mid."""
    total = sum(p.get("notional") or 0.0 for p in prints)
    wide = sum(p.get("notional") or 0.0 for p in prints if p.get("execution_nbbo_mid")
               and p["execution_nbbo_spread"] / p["execution_nbbo_mid"] * 1e4 > WIDE_BPS)
    return wide / total if total > 0 else 0.0
