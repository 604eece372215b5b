"""The reference classifier's rules: clusters, baselines and the hypothesis each rule states.

The classifier (:mod:`tapesim.scenarios.reference`) gathers an underlying's option
prints into one-minute :class:`Cluster` s and takes each cluster's *focus*: the prints
of the expiry that drew the most premium that minute (:func:`focus`; a position,
single leg or structure, is built in one expiry, while background flow spreads over
the chain). Over the focus it computes the contract's features
(:func:`tapesim.scenarios.evidence.features`: total premium, NBBO aggression and
coverage, stale-quote ratio, net directional bias, underlying move, option spread,
days to event, structure shares), then :class:`Baselines` add their view (premium
z-score against the underlying's past clusters, the largest per-contract volume
ratio, the underlying's move over the last five minutes) and :func:`wide_share` the
premium share printed against a very wide quote. :func:`hypothesis` is the first rule
of :data:`RULES` that fires.

Baselines are held in memory per underlying and per contract and start empty for each
cell. Rules are plain functions; each one's docstring gives its reason. Thresholds are
module constants, in dollars, bps and ratios in [0, 1].
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
AGGRESSIVE = 0.6  # premium share at the aggressive side that counts as paying up
BIASED = 0.6  # |net directional bias| that counts as one-way
STALE_MAX = 0.3  # share of STALE prints above which quotes cannot place prints
COVERAGE_MIN = 0.7  # share of prints with a usable NBBO below which the same holds
WIDE_BPS = 2_000.0  # option spread / mid above which the offer is no evidence of urgency
HEDGE_MOVE_BPS = -10.0  # the underlying's five-minute move that makes puts a hedge
RETAIL_PRINTS = 15  # prints in a minute that make a crowd
RETAIL_TICKET = 5_000.0  # dollars: the mean premium per print of a crowd
RETAIL_Z = 1.5  # premium z-score against the underlying's baseline that makes a crowd unusual
SELLING = 0.8  # premium share sold at the bid that makes a volatility seller
NO_BASELINE_CAP = 0.65  # highest confidence before the underlying has a baseline
EWMA_ALPHA = 0.1  # weight of the newest cluster in the per-underlying premium baseline
BASELINE_MIN = 5  # clusters an underlying needs before its baseline is used
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
    premium (weight :data:`EWMA_ALPHA`) and the last :data:`MOVE_LOOKBACK` minutes'
    closing underlying mids. Per contract: contracts traded and minutes seen.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (between cells)."""
        self.premium: dict[str, tuple[float, float, int]] = {}
        self.mids: dict[str, deque[float]] = {}
        self.contracts: dict[str, tuple[int, int]] = {}

    def observe(self, cluster: Cluster) -> None:
        """Fill the cluster's baseline view, then fold the cluster into the baselines."""
        u = cluster.underlying
        logp = math.log10(max(cluster.values.get("total_premium", 0.0), 1.0))
        mean, var, n = self.premium.get(u, (logp, 0.0, 0))
        if n >= BASELINE_MIN:
            cluster.premium_z = round((logp - mean) / math.sqrt(max(var, 1e-4)), 3)
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
    the move, not its sign, so mixed calls and puts read neutral)."""
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
    nearly all of the premium (:data:`SELLING`) must be sold."""
    v = c.values
    if (v.get("sell_ratio", 0.0) >= SELLING and v.get("total_premium", 0) >= MIN_PREMIUM
            and (v.get("option_type") == "mixed"
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
    """Many small tickets on one side in a minute are a crowd's attention, not one
    informed desk: retail order flow is small-lot and clusters in time (Bryzgalova,
    Pavlova & Sikorskaya 2023 on retail options trading). Small tickets are the
    background of a liquid chain, so the crowd must be unusual: premium
    :data:`RETAIL_Z` standard deviations above the underlying's baseline (no baseline,
    no call)."""
    v = c.values
    count = v.get("candidate_count", 0)
    if (count >= RETAIL_PRINTS and v.get("total_premium", 0.0) / count <= RETAIL_TICKET
            and c.premium_z is not None and c.premium_z >= RETAIL_Z
            and v.get("nbbo_aggression_ratio_max", 0.0) >= AGGRESSIVE
            and abs(v.get("net_directional_bias", 0.0)) >= BIASED):
        return Hypothesis("retail_attention_flow", _sign(v["net_directional_bias"]),
                          min(0.65, _confidence(c, 0.4)))
    return None


def directional(c: Cluster) -> Hypothesis | None:
    """Large premium paid at the offer (or sold at the bid) on one side is directional
    accumulation: an informed trader pays for immediacy (Easley, O'Hara & Srinivas
    1998 on informed trading in options). Direction: calls bought or puts sold bullish."""
    v = c.values
    if (v.get("total_premium", 0.0) >= DIRECTIONAL_PREMIUM
            and v.get("nbbo_aggression_ratio_max", 0.0) >= AGGRESSIVE
            and abs(v.get("net_directional_bias", 0.0)) >= BIASED):
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
    corrected_prints, unusable_quotes, too_small, packaged_structure, wide_market,
    event_positioning, volatility_supply, hedge_rebalance, retail_attention, directional,
    conflicting, insufficient]


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
