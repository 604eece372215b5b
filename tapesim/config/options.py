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

from tapesim.sim.strict import Strict, venue_codes


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

    makers: int = Field(default=4, ge=1, le=16)
    venues_per_maker: int = Field(default=3, ge=1, le=16)
    requote_ms: int = Field(default=1000, ge=25, le=60_000)
    block_steps: int = Field(default=20, ge=1, le=600)
    slow_requote_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    active_z: float = Field(default=2.0, gt=0.0)
    active_days: int = Field(default=30, ge=0)
    requote_vol_points: float = Field(default=0.15, ge=0.0, le=10.0)
    premium_share: float = Field(default=0.015, ge=0.0, le=0.5)
    vol_risk_points: float = Field(default=0.25, ge=0.0, le=10.0)
    open_extra: float = Field(default=1.0, ge=0.0)
    otm_slope: float = Field(default=0.25, ge=0.0)
    illiquid_slope: float = Field(default=0.1, ge=0.0)
    extra_ticks: int = Field(default=2, ge=0, le=10)
    skew_lots: int = Field(default=50, gt=0)
    hedge_shares: int = Field(default=500, gt=0)
    atm_lots: int = Field(default=50, ge=1)
    wing_lots: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _lots(self) -> OptionMakerConfig:
        if self.wing_lots > self.atm_lots:
            raise ValueError("wing_lots must not exceed atm_lots")
        return self


class OptionFlowConfig(Strict):
    """Option order flow per underlying (rates scale with the symbol's option_activity
    and its intraday activity)."""

    retail_per_s: float = Field(default=0.12, ge=0.0)
    retail_buy_share: float = Field(default=0.62, ge=0.0, le=1.0)
    retail_call_share: float = Field(default=0.66, ge=0.0, le=1.0)
    etf_call_share: float = Field(default=0.45, ge=0.0, le=1.0)
    zero_dte_share: float = Field(default=0.6, ge=0.0, le=1.0)  # ETFs with dailies
    improve_share: float = Field(default=0.3, ge=0.0, le=1.0)  # fills inside the spread
    complex_per_hour: float = Field(default=25.0, ge=0.0)
    sweeps_per_hour: float = Field(default=12.0, ge=0.0)
    hedgers_per_hour: float = Field(default=20.0, ge=0.0)
    open_interest_lots: float = Field(default=1000.0, ge=0.0)  # start OI near the money


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
    opra_latency_ms: float = Field(default=1.5, ge=0.0, le=1000.0)
    contract_ids: Literal["dashed", "occ"] = "dashed"
    signal_mode: Literal["smart-flow", "balanced", "all"] = "smart-flow"
    monthlies: int = Field(default=6, ge=1, le=24)
    weeklies: int = Field(default=5, ge=0, le=12)
    dailies: int = Field(default=5, ge=0, le=10)
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
    intensity: float = Field(default=1.0, gt=0.0, le=20.0)
    side: Literal["buy", "sell"] | None = None
    duration_s: float | None = Field(default=None, gt=0.0, le=23_400.0)
    contracts: list[str] | None = None

    def scenario_id(self) -> str:
        """The injection's id in labels and provenance: ``id``, else ``NAME@HH:MM[:SS]``."""
        if self.id is not None:
            return self.id
        clock = self.at.strftime("%H:%M:%S" if self.at.second else "%H:%M")
        return f"{self.name}@{clock}"
