"""A study file as types: :class:`Study` (a :class:`Grid` of cells, a classifier and the
scoring options) and the :class:`Cell` each grid point expands to.

A study file is TOML::

    name = "smoke"
    [grid]
    profiles = ["options-smoke"]          # shipped profiles or config files
    seeds = [1, 2]
    scenarios = ["none", "institutional-directional-flow"]   # "none": background only
    intensities = [1.0]
    at = ["09:31"]                        # injection times, New York
    start = "09:30"                       # each cell's simulated window
    end = "09:33"
    [classifier]
    entry_point = "tapesim.study.reference:classify"   # or command = ["bun", "run", "c.ts"]
    [scoring]
    latency_s = 60

Every model forbids unknown keys and does not coerce types (``seeds = ["1"]`` is an
error naming ``grid.seeds.0``). :func:`load_study` turns any problem into one
:class:`~tapesim.sim.strict.ConfigError` line naming the field.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from tapesim.api.simulate import resolve
from tapesim.config.run import RunConfig
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.events.labels import validation_line
from tapesim.scenarios.catalog import CATALOG
from tapesim.sim.strict import ConfigError, Strict

NONE = "none"  # the scenario name of a background-only cell
Feed = Literal["signal_prints", "option_prints", "all"]


class _StrictModel(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _clock(value: Any) -> Any:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (or a TOML local time) as a time; other values are
    left for pydantic to refuse."""
    if isinstance(value, str):
        for form in ("%H:%M", "%H:%M:%S"):
            try:
                return dt.datetime.strptime(value, form).time()
            except ValueError:
                continue
        raise ValueError(f"{value!r} is not a time: use HH:MM or HH:MM:SS")
    return value


class Grid(_StrictModel):
    """The cells of a study: every profile x seed x scenario x intensity x injection time.

    A ``"none"`` scenario (pure background) takes no intensity or time, so it gives one
    cell per profile and seed.
    """

    profiles: list[str] = Field(min_length=1, description="shipped profile names or "
                                "config file paths (relative to the study file)")
    seeds: list[int] = Field(min_length=1, description="root seeds, non-negative")
    scenarios: list[str] = Field(min_length=1, description="catalog names, or 'none'")
    intensities: list[float] = Field(default=[1.0], min_length=1,
                                     description="scenario intensities, (0, 20]")
    at: list[dt.time] = Field(min_length=1, description="injection times, HH:MM[:SS] New York")
    duration_s: float | None = Field(default=None, gt=0.0, le=23_400.0, allow_inf_nan=False,
                                     description="every injected scenario's duration, "
                                     "seconds (default: each catalog entry's own); a "
                                     "scenario must act out before the cell's window ends")
    start: dt.time | None = Field(default=None, description="cell window start (default: "
                                  "the profile's)")
    end: dt.time | None = Field(default=None, description="cell window end (default: the "
                                "profile's)")
    symbols: list[str] | None = Field(default=None, description="keep only these symbols")

    @field_validator("at", mode="before")
    @classmethod
    def _times(cls, value: Any) -> Any:
        return [_clock(v) for v in value] if isinstance(value, list) else value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return _clock(value)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value):
            raise ValueError("seeds must be non-negative integers")
        return value

    @field_validator("intensities")
    @classmethod
    def _intensities(cls, value: list[float]) -> list[float]:
        if any(not 0.0 < v <= 20.0 for v in value):
            raise ValueError("intensities must be in (0, 20]")
        return value

    @field_validator("scenarios")
    @classmethod
    def _scenarios(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s != NONE and s not in CATALOG]
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r}: `tapesim scenarios` lists "
                             "the catalog, or use 'none' for background only")
        return value


class ClassifierSpec(_StrictModel):
    """Which classifier a study scores: a Python entry point or an external command.

    ``entry_point`` is ``"module:function"``, a function taking the cell's event batches
    (``GeneratedEventBatch``, replay order) and returning alerts; ``command`` an argv
    that reads events as JSON lines on stdin and writes alert JSON lines on stdout
    (docs/CLASSIFIERS.md). ``feed`` picks the events it is given: the signal option
    prints (the pipeline's classifier stream, default), every option print, or all four
    event kinds.
    """

    entry_point: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    command: list[str] | None = Field(default=None, min_length=1)
    feed: Feed = "signal_prints"
    name: str | None = Field(default=None, description="a display name (default: the "
                             "entry point or the command)")

    @model_validator(mode="after")
    def _one(self) -> ClassifierSpec:
        if (self.entry_point is None) == (self.command is None):
            raise ValueError("give exactly one of entry_point = \"module:function\" or "
                             "command = [\"prog\", \"arg\", ...]")
        return self

    @property
    def label(self) -> str:
        """The classifier's display name."""
        return self.name or self.entry_point or " ".join(self.command or [])


class ScoringOptions(_StrictModel):
    """How alerts are scored against labels.

    ``latency_s``: an alert counts for a label up to this many seconds after its last
    caused print. ``match``: ``window`` counts every alert in a label's window for it;
    ``evidence`` only those whose ``evidence_refs`` name one of the label's caused
    prints (so background flow in the same minutes is told apart; an alert in the
    window that names none is then background). ``medium_from`` / ``high_from``: the
    confidence at which an alert's band becomes medium / high (below ``medium_from``
    it is low).
    """

    latency_s: float = Field(default=60.0, ge=0.0, le=3600.0)
    match: Literal["window", "evidence"] = "window"
    medium_from: float = Field(default=0.4, gt=0.0, lt=1.0)
    high_from: float = Field(default=0.7, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _order(self) -> ScoringOptions:
        if self.medium_from >= self.high_from:
            raise ValueError("medium_from must be below high_from")
        return self

    def band(self, confidence: float) -> str:
        """The confidence band (low, medium, high) of a confidence in [0, 1]."""
        if confidence >= self.high_from:
            return "high"
        return "medium" if confidence >= self.medium_from else "low"


class Cell(_StrictModel):
    """One grid point: a run (profile, seed, at most one scenario) to classify and score."""

    profile: str
    seed: int = Field(ge=0)
    scenario: str = Field(description="a catalog name or 'none'")
    intensity: float | None = None
    at: dt.time | None = None
    duration_s: float | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    symbols: list[str] | None = None
    base_dir: str = Field(default=".", description="where relative profile paths start")

    @property
    def cell_id(self) -> str:
        """A stable, readable id: ``profile/s<seed>/<scenario>[@HH:MM[:SS]x<intensity>]``."""
        name = Path(self.profile).stem if self._is_file() else self.profile
        head = f"{name}/s{self.seed}/{self.scenario}"
        if self.at is None:
            return head
        clock = self.at.strftime("%H:%M:%S" if self.at.second else "%H:%M")
        return f"{head}@{clock}x{self.intensity:g}"

    def _is_file(self) -> bool:
        return Path(self.profile).suffix.lower() in (".toml", ".yaml", ".yml", ".json")

    def config(self) -> RunConfig:
        """The run config of the cell.

        Raises:
            ConfigError: an unknown profile, a missing config file or an invalid
                setting (the message names the field).
        """
        base: str | Path = self.profile
        if self._is_file():
            base = Path(self.base_dir) / self.profile
        scenarios = []
        if self.scenario != NONE:
            assert self.at is not None
            scenarios.append({"name": self.scenario, "at": self.at.isoformat(),
                              "intensity": self.intensity, "duration_s": self.duration_s})
        window = {k: v.isoformat() for k, v in (("start", self.start), ("end", self.end))
                  if v is not None}
        overrides = {"session": window} if window else {}
        return resolve(base, seed=self.seed, scenarios=scenarios, symbols=self.symbols,
                       **overrides)

    def config_hash(self) -> str:
        """The parameter snapshot hash of the cell's run (``sha256:...``)."""
        return ParameterSnapshot.of(self.config()).sha256


class Study(_StrictModel):
    """A study file: its grid, classifier, scoring options and run cache.

    ``cache_dir`` (relative to the study file; default ``.tapesim-runs`` beside it) holds
    the simulated runs by config hash, so a re-run or a second classifier reuses them.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    grid: Grid
    classifier: ClassifierSpec
    scoring: ScoringOptions = ScoringOptions()
    cache_dir: str | None = None
    base_dir: str = Field(default=".", exclude=True,
                          description="the study file's directory (set by load_study)")

    def cells(self) -> list[Cell]:
        """The grid's cells in grid order (profile, seed, scenario, intensity, time).

        Raises:
            ConfigError: two grid points give the same cell (a repeated value).
        """
        g = self.grid
        out: list[Cell] = []
        common = {"start": g.start, "end": g.end, "symbols": g.symbols,
                  "base_dir": self.base_dir}
        timed = {"duration_s": g.duration_s}
        for profile in g.profiles:
            for seed in g.seeds:
                for scenario in g.scenarios:
                    if scenario == NONE:
                        out.append(Cell(profile=profile, seed=seed, scenario=NONE, **common))
                        continue
                    out.extend(Cell(profile=profile, seed=seed, scenario=scenario,
                                    intensity=intensity, at=at, **timed, **common)
                               for intensity in g.intensities for at in g.at)
        ids = [c.cell_id for c in out]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            raise ConfigError(f"grid: cell {dup} appears twice: remove the repeated value")
        return out

    def cache_path(self) -> Path:
        """The run cache directory."""
        return Path(self.base_dir) / (self.cache_dir or ".tapesim-runs")


def study_of(data: dict[str, Any], where: str = "study", base_dir: Path | None = None,
             ) -> Study:
    """A study from its mapping.

    Raises:
        ConfigError: one line naming the first bad field (``grid.seeds.0``...).
    """
    try:
        study = Study.model_validate({**data, "base_dir": str(base_dir or Path("."))})
    except ValidationError as err:
        raise ConfigError(validation_line(err, where)) from None
    return study


def load_study(path: Path) -> Study:
    """The study in a TOML file.

    Raises:
        ConfigError: the file is missing or not TOML, or a field is bad (named).
    """
    if not path.is_file():
        raise ConfigError(f"study file {path} does not exist: pass an existing study TOML")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not TOML: {err}") from None
    return study_of(data, str(path), path.parent)
