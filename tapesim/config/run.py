"""The run config: pydantic v2 models, loadable from YAML, JSON or TOML.

Every model forbids unknown keys, so a misspelt field is an error that names the
field instead of a silently ignored setting. A config file may start from a
shipped profile with ``base_profile = "NAME"`` and override any field; the fully
resolved config, seed included, is the run's parameter snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from tapesim.config.options import OptionChainProfile, ScenarioInjection
from tapesim.config.traders import (
    ArrivalsConfig,
    ImpactConfig,
    InstitutionalConfig,
    MomentumConfig,
    NoiseConfig,
    RetailConfig,
)
from tapesim.sim.calendar import (
    REGULAR_OPEN,
    Session,
    close_time,
    epoch_ms,
    open_time,
    require_session,
)
from tapesim.sim.strict import ConfigError, FieldError, Strict, describe, venue_codes

#: One regime's relative volatility: positive (a vol), at most 10 (see ``regime_vol``).
RegimeLevel = Annotated[float, Field(gt=0.0, le=10.0)]
#: The market's volatility regimes, in the order of ``VolatilityRegime.regime_vol``.
REGIMES = ("calm", "normal", "stress")
#: Round lots a maker shows on one side: 1 to 10,000 (a million shares, beyond any
#: displayed quote).
QuoteLots = Annotated[int, Field(ge=1, le=10_000)]


class SessionConfig(Strict):
    """Which trading day, and which part of it, to simulate (New York time).

    ``date`` must be an NYSE session (the XNYS exchange calendar) from 1985-09-30 to
    2038-12-31 (:mod:`tapesim.sim.calendar`); ``start`` and ``end`` default to its open
    and close (16:00, or 13:00 on an early close).
    """

    date: dt.date = dt.date(2026, 3, 10)
    start: dt.time | None = None
    end: dt.time | None = None

    @field_validator("date")
    @classmethod
    def _trading_day(cls, v: dt.date) -> dt.date:
        require_session(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> SessionConfig:
        opens, close = open_time(self.date), close_time(self.date)
        start = self.start or opens
        end = self.end or close
        if not (opens <= start < end <= close):
            raise FieldError("start" if self.start and not opens <= start < close else "end",
                             f"start {start} and end {end} must satisfy {opens:%H:%M} <= start "
                             f"< end <= {close:%H:%M} on {self.date}")
        return self

    def session(self) -> Session:
        """The trading session of ``date`` with its simulated window: ``start`` / ``end``
        (New York wall clock; ``None`` for the open and the day's close) as ns since the
        open, the open and close as epoch ms UTC (:meth:`Session.build`)."""
        return Session.build(self.date, self.start, self.end)


class SymbolProfile(Strict):
    """One underlying: its price level, volatility, factor loadings and activity.

    Each bound's reason is in its field's ``description`` (shown by ``tapesim schema
    RunConfig``).
    """

    symbol: str = Field(pattern=r"^[A-Z][A-Z.]{0,5}$")
    price: float = Field(gt=1.0, lt=100_000.0, description=(
        "opening price in dollars; above $1 (sub-dollar stocks quote in $0.0001, which the "
        "cent-tick makers do not model) and below $100,000 (the strike field of an OCC "
        "option symbol carries at most five dollar digits)"))
    annual_vol: float = Field(gt=0.0, le=3.0, description=(
        "annualised volatility as a fraction (0.2 = 20%); up to 300%, beyond the most "
        "volatile listed names"))
    sector: str = "broad"
    market_beta: float = Field(default=1.0, ge=-5.0, le=5.0, description=(
        "loading on the market factor; within +-5, beyond the +-3 of leveraged and "
        "inverse ETFs"))
    sector_weight: float = Field(default=0.3, ge=0.0, le=1.0, description=(
        "share of the non-market variance that is the sector factor's"))
    activity: float = Field(default=1.0, gt=0.0, le=10.0, description=(
        "multiplier of every trader population's arrival rate; up to 10x the defaults, "
        "which model a liquid large cap"))
    spread_scale: float = Field(default=1.0, gt=0.0, le=50.0, description=(
        "multiplier of the makers' half-width in ticks; up to 50x for thin names"))
    is_etf: bool = False
    options: bool = Field(default=False, description="list and simulate the option chain")
    option_activity: float = Field(default=1.0, gt=0.0, le=20.0, description=(
        "option flow multiplier; up to 20x for the most active option names"))
    implied_vol_premium: float = Field(default=1.1, gt=0.3, le=3.0, description=(
        "ATM implied over realised vol; 0.3-3 spans observed variance risk premia"))
    earnings_in_days: int | None = Field(default=None, ge=0, le=400, description=(
        "calendar days to the next earnings (bumps that expiry's vol); within the "
        "listed expiries' reach"))
    earnings_move: float = Field(default=0.05, ge=0.0, le=0.5, description=(
        "expected absolute earnings move as a fraction; up to 50%"))


class VolatilityRegime(Strict):
    """The latent fundamental: regime-switching stochastic volatility, factors, jumps.

    Trading activity follows the intraday envelope (``open_*``, ``close_*``) and
    rises in the symbol's high-volatility spells with ``activity_vol_elasticity``.
    """

    step_ms: int = Field(default=25, ge=5, le=1_000, description=(
        "latent grid step in ms; 5 ms to 1 s (finer costs memory, coarser loses the "
        "intraday texture)"))
    regime_vol: tuple[RegimeLevel, RegimeLevel, RegimeLevel] = Field(
        default=(0.8, 1.0, 1.4), description=(
            "relative vol of the calm, normal and stressed regimes (scaled to mean square "
            "1, so only their ratios matter); each in (0, 10]: a vol is positive, and "
            "stressed spells run at most a few times calm ones"))
    regime_switch_per_hour: float = Field(default=0.35, ge=0.0, le=60.0, description=(
        "regime switches per hour; at most one a minute, or the regimes become noise"))
    start_regime: Literal["calm", "normal", "stress"] = Field(default="normal", description=(
        "the market's volatility regime at the window's start (a demo's next run "
        "continues the regime the run before it closed in); left at normal it is not "
        "written to the parameter snapshot"))
    sv_reversion_minutes: float = Field(default=40.0, ge=0.1, le=1_440.0, description=(
        "mean-reversion time of the log-vol; from a few steps of its 1 s grid to a day"))
    sv_vol_of_vol: float = Field(default=0.5, ge=0.0, le=3.0, description=(
        "stationary sd of log-vol times sqrt(2); up to 3 (vol swinging about 8x at one "
        "sd), beyond equity stochastic-vol estimates"))
    sv_fast_reversion_minutes: float = Field(default=3.0, ge=0.05, le=60.0, description=(
        "mean-reversion time of the fast log-vol factor (bursts); from a few seconds of "
        "its 1 s grid to an hour, beyond which it is the slow factor"))
    sv_fast_vol_of_vol: float = Field(default=0.8, ge=0.0, le=3.0, description=(
        "stationary sd of the fast log-vol times sqrt(2); up to 3, as sv_vol_of_vol"))
    market_share: float = Field(default=0.45, ge=0.0, le=1.0, description=(
        "share of the variance that is the market factor's"))
    jumps_per_day: float = Field(default=3.0, ge=0.0, le=100.0, description=(
        "price jumps per session; up to 100, far beyond news-driven jump counts"))
    jump_bps: float = Field(default=18.0, ge=0.0, le=1_000.0, description=(
        "sd of a jump in bps; up to 10%, the Limit Up-Limit Down band of most stocks, "
        "beyond which trading would halt (not modelled)"))
    open_boost: float = Field(default=3.5, ge=0.0, le=20.0, description=(
        "extra activity at the open, in multiples of the base rate; up to 20x"))
    open_decay_minutes: float = Field(default=30.0, ge=0.1, le=390.0, description=(
        "decay time of the open's boost in minutes; up to the 390-minute session"))
    close_boost: float = Field(default=2.5, ge=0.0, le=20.0, description=(
        "extra activity into the close, in multiples of the base rate; up to 20x"))
    close_decay_minutes: float = Field(default=30.0, ge=0.1, le=390.0, description=(
        "decay time of the close's boost in minutes; up to the 390-minute session"))
    activity_vol_elasticity: float = Field(default=0.25, ge=0.0, le=3.0, description=(
        "how strongly activity rises with volatility (exponent); up to 3"))

    @model_serializer(mode="wrap")
    def _omit_normal_start(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.start_regime == "normal":
            data.pop("start_regime", None)
        return data


class VenueConfig(Strict):
    """Lit exchanges, off-exchange reporting facilities and the SIP feed's latency."""

    lit: list[str] = Field(default_factory=lambda: ["NYSE", "NASDAQ", "ARCA", "BATS", "IEX",
                                                    "MEMX"])
    trf: list[str] = Field(default_factory=lambda: ["FINN", "FINY"])
    sip_latency_ms: float = Field(default=1.2, ge=0.0, le=1000.0, description=(
        "mean SIP feed latency in ms; up to a second"))

    @field_validator("lit", "trf")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return venue_codes(v)

    @model_validator(mode="after")
    def _disjoint(self) -> VenueConfig:
        if set(self.lit) & set(self.trf):
            raise ValueError("a code cannot be both a lit venue and a TRF")
        return self


class LiquidityProfile(Strict):
    """Equity market makers: one or more per lit venue, quoting on the latent grid.

    Half-width in ticks: the symbol's ``spread_scale`` times ``half_spread_ticks``
    plus ``half_spread_sd`` sds of one second's value move (``spread_vol_share`` of
    that following volatility per trade), widened by
    ``open_widening`` just after the open (decay ``open_widening_minutes``) and
    narrowed by ``close_narrowing`` into the close (``close_narrowing_minutes``).
    Makers re-price once the value has left a band of ``requote_sd`` sds of a second's
    move (at least ``requote_min_ticks``), each after a delay of about ``react_ms``,
    and hold their quotes in between. Each maker adds a slowly mean-reverting
    valuation offset (sd ``offset_ticks``, reversion ``offset_reversion_s``) and a
    fixed extra half-width up to ``width_ticks``, and moves both sides by whole ticks
    for impact and an inventory skew of ``inventory_skew_ticks`` per
    ``inventory_unit`` shares once they moved its quote ``adjust_ticks``. Displayed
    sizes are Pareto(``quote_lots_alpha``) round lots within ``quote_lots``; a side
    filled out comes back after ``refill_ms`` on average. The rule in full:
    ``tapesim.agents.market_maker``.
    """

    per_venue: int = Field(default=1, ge=1, le=8, description="makers per lit venue; 1-8")
    half_spread_ticks: float = Field(default=0.3, gt=0.0, le=100.0, description=(
        "half-width in ticks added to the volatility part; up to 100 (a dollar), beyond "
        "any quoted name's"))
    half_spread_sd: float = Field(default=1.0, ge=0.0, le=100.0, description=(
        "half-width in sds of one second's value move (cents); up to 100, quotes wider "
        "than a minute's typical move"))
    spread_vol_share: float = Field(default=0.5, ge=0.0, le=1.0, description=(
        "share of the volatility part of the half-width that follows volatility per "
        "trade"))
    open_widening: float = Field(default=3.0, ge=0.0, le=20.0, description=(
        "extra width just after the open, in multiples; up to 20x"))
    open_widening_minutes: float = Field(default=6.0, ge=0.1, le=390.0, description=(
        "decay time of the open's extra width in minutes; up to the 390-minute session"))
    close_narrowing: float = Field(default=0.4, ge=0.0, le=0.9, description=(
        "share of the width given up at the close; at most 0.9, so a spread stays"))
    close_narrowing_minutes: float = Field(default=20.0, ge=0.1, le=390.0, description=(
        "how long before the close the narrowing sets in (decay time in minutes); up to "
        "the 390-minute session"))
    requote_sd: float = Field(default=2.5, ge=0.0, le=100.0, description=(
        "re-pricing band in sds of one second's value move per unit of activity; "
        "re-pricings come about activity / requote_sd^2 a second; up to 100 (quotes "
        "then hold for hours)"))
    requote_min_ticks: float = Field(default=1.0, ge=0.5, le=100.0, description=(
        "the smallest re-pricing band in ticks; at least half a tick (a cent quote "
        "moves by whole ticks, a narrower band re-prices rounding noise), up to 100"))
    react_ms: float = Field(default=30.0, ge=0.0, le=10_000.0, description=(
        "mean delay of a maker's re-pricing after the market's, in ms; up to 10 s"))
    adjust_ticks: float = Field(default=2.0, ge=0.5, le=100.0, description=(
        "how far impact and inventory skew move a maker's desired quote, in ticks, "
        "before it re-posts; from half a tick (rounding) to 100"))
    inventory_skew_ticks: float = Field(default=0.6, ge=0.0, le=100.0, description=(
        "skew in ticks per inventory_unit held; up to 100, the half-width's bound"))
    inventory_unit: int = Field(default=2000, ge=1, le=10_000_000, description=(
        "shares per inventory_skew_ticks of skew; up to ten million"))
    quote_lots: tuple[QuoteLots, QuoteLots] = Field(default=(2, 60), description=(
        "(smallest, largest) round lots shown per side; each 1-10,000"))
    quote_lots_alpha: float = Field(default=1.3, ge=0.1, le=10.0, description=(
        "Pareto tail of displayed lots; 0.1-10 (lower is heavier-tailed)"))
    offset_ticks: float = Field(default=0.2, ge=0.0, le=100.0, description=(
        "sd of a maker's valuation offset in ticks; up to 100, the half-width's bound"))
    offset_reversion_s: float = Field(default=30.0, ge=0.1, le=23_400.0, description=(
        "reversion time of the offset in seconds; up to a session"))
    width_ticks: float = Field(default=0.3, ge=0.0, le=100.0, description=(
        "a maker's largest fixed extra half-width in ticks; up to 100"))
    refill_ms: float = Field(default=150.0, ge=0.0, le=60_000.0, description=(
        "mean delay before a side filled out comes back, in ms; up to a minute"))

    @field_validator("quote_lots")
    @classmethod
    def _lots(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1]:
            raise ValueError("quote_lots must be (smallest, largest) round lots, 1 <= low <= high")
        return v


class RunConfig(Strict):
    """Everything a run needs; its JSON form is the parameter snapshot."""

    name: str = "custom"
    description: str = ""
    seed: int = Field(default=1, ge=0, lt=2**63, description=(
        "root seed; a non-negative 64-bit signed integer, as Parquet and JSON carry it"))
    # model_construct: the default is a known session, and validating it here would load
    # the exchange calendar (pandas) whenever this module is imported.
    session: SessionConfig = SessionConfig.model_construct()
    symbols: list[SymbolProfile] = Field(min_length=1)
    latent: VolatilityRegime = VolatilityRegime()
    venues: VenueConfig = VenueConfig()
    market_makers: LiquidityProfile = LiquidityProfile()
    retail: RetailConfig = RetailConfig()
    institutional: InstitutionalConfig = InstitutionalConfig()
    noise: NoiseConfig = NoiseConfig()
    momentum: MomentumConfig = MomentumConfig()
    impact: ImpactConfig = ImpactConfig()
    arrivals: ArrivalsConfig = ArrivalsConfig()
    options: OptionChainProfile = OptionChainProfile()
    scenarios: list[ScenarioInjection] = Field(default_factory=list)

    @field_validator("symbols")
    @classmethod
    def _distinct(cls, v: list[SymbolProfile]) -> list[SymbolProfile]:
        names = [s.symbol for s in v]
        if len(set(names)) != len(names):
            raise ValueError("symbols must be distinct")
        return v

    @model_validator(mode="after")
    def _scenarios_fit(self) -> RunConfig:
        session = self.session.session()
        optioned = [s.symbol for s in self.symbols if s.options]
        ids = [s.scenario_id() for s in self.scenarios]
        if len(set(ids)) != len(ids):
            again = next(j for j, x in enumerate(ids) if x in ids[:j])
            raise FieldError(("scenarios", again),
                             "two injections share a name and time: give one an id or another time")
        for i, sc in enumerate(self.scenarios):
            at_ms = epoch_ms(self.session.date, sc.at)
            if not session.start_ms <= at_ms < session.end_ms:
                start = self.session.start or REGULAR_OPEN
                end = self.session.end or close_time(self.session.date)
                raise FieldError(("scenarios", i, "at"),
                                 f"{sc.at:%H:%M:%S} is outside the simulated window "
                                 f"{start:%H:%M}-{end:%H:%M}; pick a time inside it")
            if sc.underlying is not None and sc.underlying not in optioned:
                raise FieldError(("scenarios", i, "underlying"),
                                 f"{sc.underlying} has no option chain in this run: choose "
                                 f"one of {', '.join(optioned) or 'none'}")
            if sc.underlying is None and not optioned:
                raise FieldError(("scenarios", i), "no symbol has options = true to inject into")
        return self

    @model_validator(mode="after")
    def _penny_roots(self) -> RunConfig:
        optioned = [s.symbol for s in self.symbols if s.options]
        for root in self.options.penny_classes:
            if root not in optioned:
                raise ValueError(f"options.penny_classes.{root}: no symbol {root} with options "
                                 f"= true in this run: choose one of "
                                 f"{', '.join(optioned) or 'none'}")
        return self

    def snapshot(self) -> dict[str, Any]:
        """The parameter snapshot: the resolved config as plain JSON values."""
        return self.model_dump(mode="json")


PROFILE_PACKAGE = "tapesim.profiles"


def profile_names() -> list[str]:
    """The shipped profiles' names, sorted: the ``.toml`` files of ``tapesim.profiles``
    without the suffix."""
    files = resources.files(PROFILE_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def _profile_data(name: str) -> dict[str, Any]:
    if name not in profile_names():
        raise ConfigError(
            f"unknown profile '{name}': choose one of {', '.join(profile_names())} "
            "(`tapesim profiles` lists them)"
        )
    text = resources.files(PROFILE_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist: pass an existing --config FILE")
    text = path.read_text("utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {path}: use a .toml, .yaml, .yml or .json file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid {suffix[1:].upper()}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings at the top")
    return data


def build_config(data: dict[str, Any], names: Mapping[str, str] | None = None) -> RunConfig:
    """Validate a config mapping, turning pydantic's report into one clear line
    (:func:`tapesim.sim.strict.describe`; ``names`` maps the keys set by flags to the
    flags, so an error there names the flag)."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe(err, names)) from None


def load_profile(name: str) -> RunConfig:
    """The run config of the shipped profile ``name`` (see :func:`profile_names`).

    Raises:
        ConfigError: an unknown profile (the message lists the known ones), or a profile
            that does not validate (names the field).
    """
    return build_config(_profile_data(name))


def load_config_file(path: Path) -> RunConfig:
    """The run config in a ``.toml``, ``.yaml`` / ``.yml`` or ``.json`` file.

    A top-level ``base_profile = "NAME"`` starts from that shipped profile: the file's
    tables merge into the profile's key by key, and any other value (a list such as
    ``symbols`` included) replaces the profile's.

    Raises:
        ConfigError: the file does not exist, has another suffix, does not parse, or
            does not hold a mapping; an unknown ``base_profile``; or the result does not
            validate (names the field).
    """
    data = _read_file(path)
    base = data.pop("base_profile", None)
    if base is not None:
        data = _merge(_profile_data(str(base)), data)
    return build_config(data)


def with_overrides(config: RunConfig, overrides: dict[str, Any],
                   names: Mapping[str, str] | None = None) -> RunConfig:
    """A copy of ``config`` with nested overrides applied and validated again; ``names``
    as :func:`build_config`."""
    return build_config(_merge(config.snapshot(), overrides), names)
