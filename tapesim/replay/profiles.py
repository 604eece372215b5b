"""Demo and load profiles: named, seeded recipes for replaying onto the bus.

A :class:`DemoProfile` is a fixed sequence of runs (a shipped profile, a seed, a
window and injected scenarios) replayed live at a pace, so every showing of a demo
shows the same tape; runs are identified by their parameter snapshot hash, so a
generator can make them on first use and cache them. A :class:`LoadProfile` scales a
replay's rate (pacing) and volume (more underlyings, each its own shard) without
changing what any event means.

``tapesim demo list`` shows the presets; ``tapesim demo NAME [--load L]`` loops a
demo onto the bus (``tapesim.replay.demo``) at the load's pace and bursts, each run
with the load's volume of underlyings (``tapesim.replay.volume``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tapesim.replay.plan import Burst, ReplayError
from tapesim.scenarios.catalog import CATALOG

__all__ = ["DEMO_PROFILES", "FAMILIES", "LOAD_PROFILES", "Burst", "DemoProfile", "DemoRun",
           "LoadProfile", "demo_profile", "load_profile"]

# The pipeline's label families (CONTRACT.md §4, closed vocabularies).
FAMILIES = ("institutional_directional_flow", "retail_attention_flow", "event_noise_flow",
            "volatility_seller_behavior", "hedge_reactive_flow", "structure_arbitrage_flow",
            "no_alert_negative")
_CLOCK = re.compile(r"^\d{2}:\d{2}$")
_SCENARIO = re.compile(r"^[a-z0-9-]+@\d{2}:\d{2}(:\d{2})?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoRun(_Model):
    """One run of a demo.

    Args:
        profile: a shipped profile name (``tapesim profiles``), e.g. ``options-smoke``.
        seed: the root seed.
        start, end: the simulated window, ``HH:MM`` New York (None: the profile's).
        scenarios: injections as ``tapesim run --scenario`` takes them, ``NAME@HH:MM``.
    """

    profile: str
    seed: int = Field(ge=0)
    start: str | None = Field(default=None, pattern=_CLOCK.pattern)
    end: str | None = Field(default=None, pattern=_CLOCK.pattern)
    scenarios: list[str] = Field(default_factory=list)

    @field_validator("scenarios")
    @classmethod
    def _scenario_form(cls, values: list[str]) -> list[str]:
        for v in values:
            if not _SCENARIO.match(v):
                raise ValueError(f"scenario {v!r}: write NAME@HH:MM")
        return values

    def simulate_keywords(self) -> dict[str, Any]:
        """The keywords of ``tapesim.simulate(self.profile, **...)`` for this run."""
        keywords: dict[str, Any] = {"seed": self.seed, "scenarios": list(self.scenarios)}
        if self.start:
            keywords["start"] = self.start
        if self.end:
            keywords["end"] = self.end
        return keywords


class DemoProfile(_Model):
    """A named demo: runs replayed live, one after another, at a pace.

    Args:
        name: the name ``tapesim demo`` takes.
        description: one line, what the demo shows.
        families: the pipeline label families its scenarios exercise.
        runs: the runs, in order (at least one).
        speed: simulated seconds per wall second.
    """

    name: str
    description: str
    families: list[str]
    runs: list[DemoRun] = Field(min_length=1)
    speed: float = Field(default=1.0, gt=0)

    @field_validator("families")
    @classmethod
    def _known_families(cls, values: list[str]) -> list[str]:
        unknown = sorted(set(values) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown families {unknown}: choose from {', '.join(FAMILIES)}")
        return values


class LoadProfile(_Model):
    """A named load: how much faster and how much more than a run's own tape.

    Args:
        name: the name ``--load`` takes.
        description: one line.
        speed: simulated seconds per wall second; None for as fast as acks return.
        volume: underlyings per underlying of the run (each extra one its own shard
            with its own seeds), 1 for the run as it is.
        burst: periodic bursts over ``speed``, or None.
    """

    name: str
    description: str
    speed: float | None = Field(default=1.0, gt=0)
    volume: int = Field(default=1, ge=1, le=100)
    burst: Burst | None = None


def _one_per(scenarios: list[str], seed: int, minutes: int = 6) -> list[DemoRun]:
    """options-smoke runs from the open, each with one scenario at 09:32, of ``minutes``
    or, when the scenario needs longer to act out (its ``Policy.lead_s``), up to the
    whole minute after that."""
    ends = [32 + max(minutes - 2, math.ceil(CATALOG[s].policy.lead_s() / 60)) for s in scenarios]
    return [DemoRun(profile="options-smoke", seed=seed + i, scenarios=[f"{s}@09:32"],
                    end=f"09:{end:02d}")
            for i, (s, end) in enumerate(zip(scenarios, ends, strict=True))]


DEMO_PROFILES: dict[str, DemoProfile] = {d.name: d for d in (
    DemoProfile(
        name="market-command", families=list(FAMILIES),
        description="Balanced: one run per pipeline family, in the catalog's order.",
        runs=_one_per(["institutional-directional-flow", "retail-attention-call-chase",
                       "event-noise-positioning", "volatility-seller-supply",
                       "hedge-reactive-put-flow", "structure-arbitrage-calm",
                       "no-alert-wide-quote-chop"], seed=101)),
    DemoProfile(
        name="event-response", families=["event_noise_flow", "institutional_directional_flow"],
        description="Positioning before an event, then informed flow the stock confirms.",
        runs=_one_per(["event-noise-positioning", "informed-put-sweep",
                       "stock-and-options-confirmation"], seed=201)),
    DemoProfile(
        name="quiet-range", families=["no_alert_negative", "structure_arbitrage_flow"],
        description="A range-bound tape with benign flow only: nothing should alert.",
        runs=_one_per(["no-alert-wide-quote-chop", "benign-block", "zero-dte-churn",
                       "structure-arbitrage-calm"], seed=301)),
)}

LOAD_PROFILES: dict[str, LoadProfile] = {p.name: p for p in (
    LoadProfile(name="steady", description="The tape at event time (1x).", speed=1.0),
    LoadProfile(name="active", description="Three times the rate and the underlyings (3x).",
                speed=3.0, volume=3),
    LoadProfile(name="burst", description="3x underlyings at event time, with 5 s bursts "
                "at 20x every minute.", speed=1.0, volume=3,
                burst=Burst(every_s=60.0, length_s=5.0, speed=20.0)),
    LoadProfile(name="stress", description="As fast as acks return, ten times the "
                "underlyings (max).", speed=None, volume=10),
)}


def demo_profile(name: str) -> DemoProfile:
    """The shipped demo profile ``name``.

    Raises:
        ReplayError: no such demo (the message lists the choices).
    """
    if name not in DEMO_PROFILES:
        raise ReplayError(f"unknown demo {name!r}: choose one of {', '.join(DEMO_PROFILES)}")
    return DEMO_PROFILES[name]


def load_profile(name: str) -> LoadProfile:
    """The shipped load profile ``name``.

    Raises:
        ReplayError: no such load profile (the message lists the choices).
    """
    if name not in LOAD_PROFILES:
        raise ReplayError(f"unknown load profile {name!r}: choose one of "
                          f"{', '.join(LOAD_PROFILES)}")
    return LOAD_PROFILES[name]
