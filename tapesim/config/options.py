"""Config of the option side of a run and of the scenarios injected into it.

Part of the run config (:mod:`tapesim.config.run`); split out to keep each module
readable. Every model forbids unknown keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from tapesim.sim.strict import SHARE, Strict, venue_codes

#: Contracts a maker shows at one price, at most (beyond any displayed option size).
MAX_QUOTED_CONTRACTS = 10_000


class OptionMakerConfig(Strict):
    """Options market makers: each quotes the whole chain on several options venues.

    Quotes are repriced every ``requote_ms`` for contracts near the money
    (``|z| <= active_z`` standard deviations, at most ``active_days`` to expiry) and
    every ``slow_requote_s`` for the rest; a contract is requoted only once its value
    moved by ``requote_vol_points`` of vega (or a cent). Widths follow
    ``tapesim.agents.option_quotes``; each maker adds 0-``extra_ticks`` ticks per side
    and contract, and skews both sides by one tick per ``skew_lots`` contracts of
    inventory. A maker delta-hedges in the
    stock once its net delta passes ``hedge_shares``.
    """

    makers: int = Field(default=4, ge=1, le=16, description=(
        "options market makers; 1-16, the most a chain has in practice"))
    venues_per_maker: int = Field(default=3, ge=1, le=16, description=(
        "options venues each maker quotes on; up to 16, beyond the exchanges there are"))
    requote_ms: int = Field(default=1000, ge=25, le=60_000, description=(
        "requote interval near the money in ms; 25 ms (the latent grid) to a minute"))
    block_steps: int = Field(default=20, ge=1, le=600, description=(
        "requote intervals priced in one block; 1-600"))
    slow_requote_s: float = Field(default=60.0, ge=1.0, le=3600.0, description=(
        "requote interval of the far contracts in seconds; 1 s to an hour"))
    active_z: float = Field(default=2.0, gt=0.0, le=1_000.0, description=(
        "moneyness, in sds, of the contracts requoted fast; up to 1,000, past every "
        "listed strike (near expiry a strike a few percent away is hundreds of sds out)"))
    active_days: int = Field(default=30, ge=0, le=1_000, description=(
        "days to expiry of the contracts requoted fast; up to 1,000 (every listed one)"))
    requote_vol_points: float = Field(default=0.15, ge=0.0, le=10.0, description=(
        "vega move (vol points) that triggers a requote; up to 10"))
    premium_share: float = Field(default=0.015, ge=0.0, le=0.5, description=(
        "width as a share of the premium; up to half of it"))
    vol_risk_points: float = Field(default=0.25, ge=0.0, le=10.0, description=(
        "width in vol points of vega; up to 10"))
    open_extra: float = Field(default=1.0, ge=0.0, le=20.0, description=(
        "extra width just after the open, in multiples; up to 20x"))
    otm_slope: float = Field(default=0.25, ge=0.0, le=10.0, description=(
        "extra width per sd out of the money; up to 10"))
    illiquid_slope: float = Field(default=0.1, ge=0.0, le=10.0, description=(
        "extra width for illiquid contracts; up to 10"))
    extra_ticks: int = Field(default=2, ge=0, le=10, description=(
        "a maker's largest extra ticks per side; up to 10"))
    skew_lots: int = Field(default=50, ge=1, le=1_000_000, description=(
        "contracts of inventory per tick of skew; up to a million"))
    hedge_shares: int = Field(default=500, ge=1, le=10_000_000, description=(
        "net delta in shares that triggers a hedge; up to ten million"))
    atm_lots: int = Field(default=50, ge=1, le=MAX_QUOTED_CONTRACTS, description=(
        "contracts shown at the money; up to 10,000"))
    wing_lots: int = Field(default=5, ge=1, le=MAX_QUOTED_CONTRACTS, description=(
        "contracts shown in the wings; at most atm_lots"))

    @model_validator(mode="after")
    def _lots(self) -> OptionMakerConfig:
        if self.wing_lots > self.atm_lots:
            raise ValueError("wing_lots must not exceed atm_lots")
        return self


class OptionFlowConfig(Strict):
    """Option order flow per underlying (rates scale with the symbol's option_activity
    and its intraday activity)."""

    retail_per_s: float = Field(default=0.12, ge=0.0, le=2.0, description=(
        "retail option orders per second at option_activity 1; at most 2, about 17x the "
        "default, before option_activity scales it up to 20x"))
    retail_buy_share: float = Field(default=0.62, ge=0.0, le=1.0, description=SHARE)
    retail_call_share: float = Field(default=0.66, ge=0.0, le=1.0, description=SHARE)
    etf_call_share: float = Field(default=0.45, ge=0.0, le=1.0, description=SHARE)
    zero_dte_share: float = Field(default=0.6, ge=0.0, le=1.0, description=(
        "share of ETF retail flow in 0DTE contracts (roots with dailies); a share, 0-1"))
    long_dated_share: float = Field(default=0.15, ge=0.0, le=1.0, description=(
        "share of retail orders in expiries more than 60 days out; a share, 0-1"))
    improve_share: float = Field(default=0.3, ge=0.0, le=1.0, description=(
        "share of retail fills inside the spread; a share, 0-1"))
    complex_per_hour: float = Field(default=25.0, ge=0.0, le=3_600.0, description=(
        "complex (multi-leg) packages per hour; at most one a second"))
    sweeps_per_hour: float = Field(default=12.0, ge=0.0, le=3_600.0, description=(
        "sweeps per hour; at most one a second"))
    hedgers_per_hour: float = Field(default=20.0, ge=0.0, le=3_600.0, description=(
        "hedging orders per hour; at most one a second"))
    # Index ETFs carry more of the market's hedging than single names (index puts are
    # the portfolio hedge: Bollen and Whaley 2004, Garleanu, Pedersen and Poteshman
    # 2009), so their hedges reach further out of the money's volume share.
    index_hedgers_per_hour: float = Field(default=25.0, ge=0.0, le=3_600.0, description=(
        "hedging orders per hour on index-like ETFs; at most one a second"))
    # 2.5: a contract the flow trades steadily turns over about 40% of its interest a
    # day, lumpier ones less, so the front near-the-money median lands inside the real
    # 10-50% (realism targets, volume / open interest).
    open_interest_days: float = Field(default=2.5, ge=0.0, le=20.0, description=(
        "sessions of the flow's own contract choices held as open interest at the start; "
        "up to 20, a month of sessions (each is replayed at the open, so cost grows with it)"))


#: The options exchanges' penny-interval classes: ``all-penny`` ($0.01 at every price),
#: ``penny`` ($0.01 below $3, $0.05 at or above), ``non-penny`` ($0.05 below $3, $0.10
#: at or above); ``tapesim.venues.chains`` holds the rule and its sources.
PennyClass = Literal["all-penny", "penny", "non-penny"]


class OptionChainProfile(Strict):
    """Listed options: venues, the OPRA feed, makers, flow and how prints are enriched.

    ``penny_classes`` maps a root to its penny-interval class where it differs from the
    default (QQQ, SPY and IWM ``all-penny``, every other root ``penny``); e.g.
    ``penny_classes = { DECK = "non-penny" }``. Left empty it is not written to the
    parameter snapshot, so configs without it keep their snapshot hash.
    """

    venues: list[str] = Field(default_factory=lambda: ["CBOE", "C2", "PHLX", "ISE", "ARCA",
                                                       "BOX", "MIAX", "NOM"])
    opra_latency_ms: float = Field(default=1.5, ge=0.0, le=1000.0, description=(
        "mean OPRA feed latency in ms; up to a second"))
    contract_ids: Literal["dashed", "occ"] = "dashed"
    signal_mode: Literal["smart-flow", "balanced", "all"] = "smart-flow"
    monthlies: int = Field(default=6, ge=1, le=24, description=(
        "monthly expiries listed; 1-24, two years of monthlies (LEAPS reach about that)"))
    weeklies: int = Field(default=5, ge=0, le=12, description=(
        "weekly expiries listed; up to 12, beyond the exchanges' weekly listings"))
    dailies: int = Field(default=5, ge=0, le=10, description=(
        "daily expiries listed on the index-like roots; up to two weeks of them"))
    quarterlies: int = Field(default=2, ge=0, le=8, description=(
        "quarterly-cycle (March, June, September, December) expiries listed beyond the "
        "monthlies; up to 8, two years of them, the furthest any expiry is listed"))
    leaps: int = Field(default=2, ge=0, le=2, description=(
        "January LEAPS expiries of the next years; up to 2, as expiries are listed at "
        "most two years ahead (the exchange calendar's reach past the last session)"))
    makers: OptionMakerConfig = OptionMakerConfig()
    flow: OptionFlowConfig = OptionFlowConfig()
    penny_classes: dict[str, PennyClass] = Field(default_factory=dict)

    @field_validator("venues")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return venue_codes(v)

    @model_serializer(mode="wrap")
    def _omit_empty_classes(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.penny_classes:
            data.pop("penny_classes", None)
        return data


class ScenarioInjection(Strict):
    """One injected scenario: a catalog entry, when it starts, and its parameters.

    ``tapesim scenarios show NAME`` explains an entry and its defaults; a field left
    unset takes the entry's default. ``underlying`` defaults to the first symbol with
    options; ``contracts`` names explicit contract ids instead of the entry's choice.
    """

    name: str
    at: dt.time
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9@:._-]{0,63}$")
    underlying: str | None = None
    intensity: float = Field(default=1.0, gt=0.0, le=20.0, description=(
        "multiplier of the entry's order count; up to 20x"))
    side: Literal["buy", "sell"] | None = None
    duration_s: float | None = Field(default=None, gt=0.0, le=23_400.0, description=(
        "seconds its orders are spread over (default: the entry's); up to a session"))
    contracts: list[str] | None = None

    def scenario_id(self) -> str:
        """The injection's id in labels and provenance: ``id``, else ``NAME@HH:MM[:SS]``."""
        if self.id is not None:
            return self.id
        clock = self.at.strftime("%H:%M:%S" if self.at.second else "%H:%M")
        return f"{self.name}@{clock}"
