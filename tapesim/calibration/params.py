"""The parameters a calibration fits: config paths, their bounds, and the configs they make.

A parameter is a dotted path into the run config, ``latent.jumps_per_day`` or
``noise.orders_per_s``, or ``symbol.FIELD`` for a field of the calibrated symbol's
:class:`~tapesim.config.run.SymbolProfile` (``symbol.activity``,
``symbol.spread_scale``). Its bounds are the config model's own (pydantic ``Field``
``ge`` / ``gt`` / ``le`` / ``lt``: :mod:`tapesim.config.run`, :mod:`tapesim.config.traders`),
read from the model rather than restated; ``path=LOW:HIGH`` narrows them. A search
range that spans three decades or more above zero is searched on a log scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tapesim.config.flags import FlagError
from tapesim.config.run import RunConfig, SymbolProfile, with_overrides

FLAG = "--params"
SYMBOL = "symbol"  # the path prefix of the calibrated symbol's own fields
LOG_SPAN = 1_000.0  # high / low at or above which a positive range is searched in logs


@dataclass(frozen=True)
class Param:
    """One fitted parameter: its config path, search range and kind.

    ``low`` and ``high`` are inclusive (an open model bound is moved inside by one
    unit for integers, by 1e-9 relative for floats); ``integer`` for an ``int`` field;
    ``log`` when searched on a log scale.
    """

    path: str
    low: float
    high: float
    integer: bool
    log: bool

    def clip(self, value: float) -> float | int:
        """``value`` inside the range, an int for an integer field."""
        v = min(max(float(value), self.low), self.high)
        return round(v) if self.integer else v


def _field(model: type[BaseModel], name: str, path: str) -> FieldInfo:
    fields = model.model_fields
    if name not in fields:
        raise FlagError(f"{FLAG} {path}: {model.__name__} has no field {name!r}: choose "
                        f"from {', '.join(fields)}")
    return fields[name]


def _bounds(info: FieldInfo, integer: bool, path: str) -> tuple[float, float]:
    """The field's inclusive bounds from its ``ge/gt/le/lt`` metadata."""
    low = high = math.nan
    step = 1.0 if integer else 0.0
    for m in info.metadata:
        if isinstance(m, at.Ge):
            low = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, at.Gt):
            low = float(m.gt) + (step or 1e-9 * max(1.0, abs(float(m.gt))))  # type: ignore[arg-type]
        elif isinstance(m, at.Le):
            high = float(m.le)  # type: ignore[arg-type]
        elif isinstance(m, at.Lt):
            high = float(m.lt) - (step or 1e-9 * max(1.0, abs(float(m.lt))))  # type: ignore[arg-type]
    if math.isnan(low) or math.isnan(high):
        raise FlagError(f"{FLAG} {path}: the config model gives it no lower and upper bound, "
                        "so it cannot be fitted")
    return low, high


def _resolve(path: str) -> tuple[FieldInfo, bool]:
    """The field at ``path`` and whether it is an integer; refuses non-numeric fields."""
    parts = path.split(".")
    model: type[BaseModel] = RunConfig
    if parts[0] == SYMBOL:
        model, parts = SymbolProfile, parts[1:]
    if not parts or not all(parts):
        raise FlagError(f"{FLAG} {path!r}: use SECTION.FIELD (e.g. latent.jumps_per_day) "
                        f"or {SYMBOL}.FIELD (e.g. {SYMBOL}.activity)")
    for i, name in enumerate(parts):
        info = _field(model, name, path)
        kind = info.annotation
        if i < len(parts) - 1:
            section = isinstance(kind, type) and issubclass(kind, BaseModel)
            if not section or kind is SymbolProfile:
                raise FlagError(f"{FLAG} {path}: {name} is not a section of settings")
            model = kind
    if kind not in (int, float):
        raise FlagError(f"{FLAG} {path}: not a number ({kind}); only numeric fields can be "
                        "fitted")
    return info, kind is int


def parse_params(spec: str) -> list[Param]:
    """``--params a.b,c.d=LOW:HIGH,...`` as parameters with their search ranges.

    Raises:
        FlagError: an empty list, a repeated path, an unknown path, a non-numeric or
            unbounded field, or a ``LOW:HIGH`` that is not two numbers inside the
            model's bounds; the message names ``--params``.
    """
    out: list[Param] = []
    items = [x.strip() for x in spec.split(",") if x.strip()]
    if not items:
        raise FlagError(f"{FLAG} is empty: name one or more fields, e.g. "
                        f"{FLAG} latent.jumps_per_day,noise.orders_per_s")
    for item in items:
        path, _eq, narrow = item.partition("=")
        info, integer = _resolve(path)
        low, high = _bounds(info, integer, path)
        if narrow:
            try:
                lo_text, hi_text = narrow.split(":")
                lo, hi = float(lo_text), float(hi_text)
            except ValueError:
                raise FlagError(f"{FLAG} {item}: give the range as LOW:HIGH numbers, e.g. "
                                f"{path}=0.5:4") from None
            if not (low <= lo < hi <= high):
                raise FlagError(f"{FLAG} {item}: the range must lie inside the field's bounds "
                                f"{low:g}..{high:g} with LOW < HIGH")
            low, high = lo, hi
        if any(p.path == path for p in out):
            raise FlagError(f"{FLAG} names {path} twice")
        out.append(Param(path, low, high, integer, low > 0 and high / low >= LOG_SPAN))
    return out


def current_value(config: RunConfig, path: str) -> float:
    """The value at ``path`` in ``config`` (``symbol.`` paths: its only symbol)."""
    parts = path.split(".")
    node: Any = config.symbols[0] if parts[0] == SYMBOL else config
    for name in parts[1:] if parts[0] == SYMBOL else parts:
        node = getattr(node, name)
    return float(node)


def with_values(config: RunConfig, values: dict[str, float | int]) -> RunConfig:
    """``config`` (one symbol) with each path set to its value, validated again.

    Raises:
        ConfigError: a combination the config refuses (names the field).
    """
    overrides: dict[str, Any] = {}
    symbol = config.symbols[0].model_dump(mode="json")
    for path, value in values.items():
        parts = path.split(".")
        if parts[0] == SYMBOL:
            symbol[parts[1]] = value
            continue
        node = overrides
        for name in parts[:-1]:
            node = node.setdefault(name, {})
        node[parts[-1]] = value
    if any(p.startswith(SYMBOL + ".") for p in values):
        overrides["symbols"] = [symbol]
    return with_overrides(config, overrides)
