"""The types of a scenario catalog entry: the injected agent's policy and its ground truth.

:class:`Policy` says how the injected agent trades; :class:`ScenarioSpec` pairs it with
what its label states (:mod:`tapesim.events.labels` holds the vocabularies). The
entries themselves are in :mod:`tapesim.scenarios.catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tapesim.events.labels import (
    AlertExpectation,
    ConfidenceBand,
    Direction,
    EvidenceRequirement,
    ExpectedClass,
    FalsePositivePenalty,
    Family,
)

Style = Literal["ask", "ask-block", "sweep", "mid", "bid", "stale-mid"]
#: The stock follow-through after an informed injection's last order, in seconds, at
#: most: 40 child orders (four times the planned ten, when each fills) at most 2.5 s
#: apart (:meth:`~tapesim.scenarios.policies.informed.InformedWithFollowThrough.follow`);
#: children a thin book fills only in part make it longer.
FOLLOW_THROUGH_S = 100.0


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
    # wait until the stock stands this far (bps) below its recent high, then act (a hedge)
    react_bps: float = 0.0
    alternate: bool = False  # alternate buying and selling, order by order

    def orders_at(self, intensity: float) -> int:
        """How many orders it sends at ``intensity`` (a config's multiplier): at least one."""
        return max(1, round(self.orders * intensity))

    def lead_s(self, duration_s: float | None = None) -> float:
        """The time, in seconds, from its start to the window's end it needs to act out
        in full, so its events bear out its label's evidence (``tapesim verify`` checks
        that they do): what it does before its first order (half a feed freeze's
        ``fault_s``, as :class:`~tapesim.scenarios.policies.faults.FreezeThenTrade`
        waits), its orders' ``duration_s`` (the config's, else the policy's; they are
        spread over it), and what follows them (a late report's ``fault_s``; a stock
        follow-through's :data:`FOLLOW_THROUGH_S`). With ``informed_s`` it waits for a
        move but leaves ``informed_s`` before the window's end, so it needs at least that.
        """
        before = self.fault_s / 2 if self.fault == "freeze" else 0.0
        after = (self.fault_s if self.fault == "reports" else 0.0) + (
            FOLLOW_THROUGH_S if self.stock_follow_shares else 0.0)
        return max(self.informed_s, before + (duration_s or self.duration_s) + after)


class ScenarioSpec(BaseModel):
    """One catalog entry: the injected agent's policy and the ground truth it stands for.

    Its label (:class:`tapesim.events.labels.GroundTruthLabel`) takes family, expected
    class, direction, band, penalty, evidence and notes from here; its expected output
    (:class:`tapesim.events.labels.ExpectedOutputManifest`) also the alert expectation
    and the confidence range.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the entry's name, as a config's scenarios.N.name gives it")
    family: Family = Field(description="tapesim's scenario family (run-directory labels)")
    intent: str = Field(description="what the injected agent sets out to do")
    should: str = Field(description="what a good classifier does with it")
    expected_class: ExpectedClass
    direction: Direction = Field(
        description="stated direction (an informed entry's label "
        "states its prints' direction instead)"
    )
    band: ConfidenceBand = Field(description="the label's confidence band")
    confidence: tuple[float, float] = Field(description="expected confidence range (min, max)")
    alert: AlertExpectation
    penalty: FalsePositivePenalty
    policy: Policy
    required: tuple[EvidenceRequirement, ...] = Field(
        default=(), description="evidence its events must bear out"
    )
    forbidden: tuple[EvidenceRequirement, ...] = Field(
        default=(), description="evidence its events must not show"
    )
    notes: str = Field(default="", description="one line on what the label captures")
