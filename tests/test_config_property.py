"""Every config that validates runs: configs drawn from the config models' own fields.

Hypothesis draws a tiny options run (one underlying, a one-expiry chain, ten seconds
of simulated time) and sets one to three of its numeric or boolean settings, found by
walking the pydantic models (:class:`~tapesim.config.run.RunConfig` down), to values
drawn around each field's bounds: the bounds themselves and just past them, values
inside, zero, negatives, huge numbers, NaN and the infinities; sometimes it adds a
scenario at a time around the window's end. Each config goes through ``tapesim run
--verify`` in this process and must either run and verify (exit 0) or be refused
(exit 2) with one line naming a field it set, never an internal error (exit 1), and
never take longer than :data:`PER_EXAMPLE_S` (an alarm stops a hang).
"""

from __future__ import annotations

import copy
import json
import math
import signal
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types as at
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from tapesim.cli.main import app
from tapesim.config.options import ScenarioInjection
from tapesim.config.run import RunConfig, load_profile, with_overrides
from tapesim.scenarios.catalog import CATALOG
from tapesim.sim.strict import Strict

#: A run (or refusal) taking longer than this, in wall-clock seconds, counts as a hang;
#: a drawn run takes a second or two of CPU.
PER_EXAMPLE_S = 60
#: The tiny run every example starts from, as plain values: options-smoke's SPY with one
#: monthly and one daily expiry, for the first ten seconds of the session.
BASE = with_overrides(load_profile("options-smoke"), {
    "session": {"start": "09:30:00", "end": "09:30:10"},
    "options": {"monthlies": 1, "weeklies": 0, "dailies": 1},
}).snapshot()
#: Settings left alone: which day and window (the session's own tests cover them) and
#: the shard-independent seed; everything else numeric or boolean is drawn.
SKIPPED = {"seed", "session"}


@dataclass(frozen=True)
class Leaf:
    """One settable number or flag: its dotted path in the config, its type and bounds."""

    path: tuple[str | int, ...]
    kind: type
    low: float | None
    high: float | None


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for m in metadata:
        if isinstance(m, at.Ge | at.Gt):
            low = float(m.ge if isinstance(m, at.Ge) else m.gt)
        elif isinstance(m, at.Le | at.Lt):
            high = float(m.le if isinstance(m, at.Le) else m.lt)
    return low, high


def _leaves_of(annotation: Any, metadata: list[Any], path: tuple[str | int, ...]) -> list[Leaf]:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        more = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        return _leaves_of(inner, [*metadata, *more], path)
    if origin in (Union, types.UnionType):
        return [leaf for a in get_args(annotation) if a is not type(None)
                for leaf in _leaves_of(a, metadata, path)]
    if origin is tuple:
        return [leaf for i, a in enumerate(get_args(annotation))
                for leaf in _leaves_of(a, [], (*path, i))]
    if origin is list:
        (item,) = get_args(annotation)
        return _leaves_of(item, [], (*path, 0)) if isinstance(item, type) and issubclass(
            item, Strict) else []
    if isinstance(annotation, type) and issubclass(annotation, Strict):
        return [leaf for name, info in annotation.model_fields.items() if name not in SKIPPED
                for leaf in _leaves_of(info.annotation, info.metadata, (*path, name))]
    if annotation in (bool, int, float):
        return [Leaf(path, annotation, *_bounds(metadata))]
    return []


LEAVES = [leaf for leaf in _leaves_of(RunConfig, [], ()) if leaf.path[0] != "scenarios"]
SCENARIO_LEAVES = _leaves_of(ScenarioInjection, [], ())

SPECIALS = [math.nan, math.inf, -math.inf, 0, -1, -1e9, 1e12, 1e300]


def values(leaf: Leaf) -> st.SearchStrategy[Any]:
    """Values around ``leaf``'s bounds: the bounds, just past them, inside, and
    :data:`SPECIALS`; for an ``int`` field also non-integral and 64-bit-overflowing
    numbers; for a flag both values."""
    if leaf.kind is bool:
        return st.booleans()
    low = leaf.low if leaf.low is not None else -1e6
    high = leaf.high if leaf.high is not None else 1e6
    past = [low - 1, high + 1, low - 1e-9, high * (1 + 1e-9) + 1e-9]
    if leaf.kind is int:
        inside = st.integers(math.ceil(low), math.floor(high))
        odd = [2**63, 10**30, 1.5]
    else:
        inside = st.floats(low, high, allow_nan=False, allow_infinity=False)
        odd = []
    return st.one_of(inside, st.sampled_from([low, high, *past, *SPECIALS, *odd]))


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def configs(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A config mapping (the tiny run resolved, then changed) and the dotted paths it set."""
    data = copy.deepcopy(BASE)
    changed: list[str] = []
    for leaf in draw(st.lists(st.sampled_from(LEAVES), min_size=1, max_size=3,
                              unique_by=lambda leaf: leaf.path)):
        _set(data, leaf.path, draw(values(leaf)))
        changed.append(".".join(map(str, leaf.path)))
    if draw(st.booleans()):
        name = draw(st.sampled_from([*CATALOG, "no-such-scenario"]))
        second = draw(st.integers(-10, 20))  # from before the window to past its end
        scenario: dict[str, Any] = {"name": name, "at": f"09:{29 + (second + 60) // 60:02d}:"
                                                        f"{(second + 60) % 60:02d}"}
        for leaf in draw(st.lists(st.sampled_from(SCENARIO_LEAVES), max_size=2,
                                  unique_by=lambda leaf: leaf.path)):
            _set(scenario, leaf.path, draw(values(leaf)))
        data["scenarios"] = [scenario]
        changed.append("scenarios.0")
    return data, changed


class Hang(BaseException):
    """Raised by the alarm: not an ``Exception``, so no handler of the CLI swallows it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in this (the main) thread after ``seconds`` of wall time."""
    def ring(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@settings(max_examples=30, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(drawn=configs())
def test_a_drawn_config_runs_or_is_refused_naming_a_field(
        drawn: tuple[dict[str, Any], list[str]]) -> None:
    data, changed = drawn
    with tempfile.TemporaryDirectory(prefix="tapesim-drawn-") as tmp:
        config, out = Path(tmp) / "config.json", Path(tmp) / "run"
        config.write_text(json.dumps(data))  # NaN and the infinities as NaN / Infinity
        with time_limit(PER_EXAMPLE_S):
            result = CliRunner().invoke(app, ["run", "--config", str(config), "--out",
                                              str(out), "--quiet", "--verify"])
        left = out.exists()
    text = result.output.strip()
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (changed, text)
    if result.exit_code == 0:
        assert text.endswith(f"verified {out}"), text
        return
    assert text.startswith("error: ") and "\n" not in text, text
    assert "internal error" not in text, text
    named = {p.split(".")[0] for p in changed} | {p.rsplit(".", 1)[0] for p in changed}
    assert any(n in text for n in named | set(changed)), (changed, text)
    assert not left, "a refused run left output"


def test_the_drawn_fields_cover_every_config_model() -> None:
    sections = {leaf.path[0] for leaf in LEAVES}
    assert sections == set(RunConfig.model_fields) - SKIPPED - {"scenarios", "name",
                                                                 "description"}
    assert ("latent", "regime_vol", 0) in {leaf.path for leaf in LEAVES}
    assert {leaf.path for leaf in SCENARIO_LEAVES} == {("intensity",), ("duration_s",)}
