"""The base of every config model (unknown keys are errors, numbers are finite, values
are frozen) and the one rendering of a validation error as the line a user reads."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

#: The field description of a config share or probability, bounded to [0, 1].
SHARE = "a share of the whole (or a probability), 0-1"


class ConfigError(ValueError):
    """A config, profile or flag that cannot be used; the message names field and fix."""


class FieldError(ValueError):
    """A model validator's complaint about one of the model's fields.

    ``field`` is the field's path below the model (``"end"``, or
    ``("scenarios", 2, "at")``); :func:`error_path` appends it to the model's own
    location, so the message names the key or flag the user wrote rather than the
    model that checked it.
    """

    def __init__(self, field: str | tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path: tuple[str | int, ...] = (field,) if isinstance(field, str) else field


def _raised(error: ErrorDetails) -> Exception | None:
    """The exception a validator raised, when pydantic's error wraps one."""
    found = error.get("ctx", {}).get("error")
    return found if isinstance(found, Exception) else None


def error_path(error: ErrorDetails) -> str:
    """Where one pydantic error is, as the dotted key of the document (``session.date``,
    ``scenarios.0.at``), a :class:`FieldError`'s field included; ``""`` at the top."""
    raised = _raised(error)
    loc = (*error["loc"], *(raised.path if isinstance(raised, FieldError) else ()))
    return ".".join(str(p) for p in loc)


def error_message(error: ErrorDetails) -> str:
    """One pydantic error's message as a user reads it: a ``ValueError`` or assertion
    raised by a validator as its own text, without pydantic's "Value error, " or
    "Assertion failed, " prefix; pydantic's own message otherwise."""
    raised = _raised(error)
    if error["type"] in ("value_error", "assertion_error") and raised is not None:
        return str(raised)
    return error["msg"]


def describe(err: ValidationError, names: Mapping[str, str] | None = None) -> str:
    """The first error of ``err`` as one line naming what the user wrote.

    ``names`` maps dotted keys to the flags that set them (``{"session.date":
    "--date"}``; a key also covers the keys below it): an error there reads
    ``--date: ...``. Any other error reads ``field 'session.end': ...`` with the
    config file's dotted key, or the bare message for a whole-document check.
    """
    first = err.errors()[0]
    where, msg = error_path(first), error_message(first)
    for key in sorted(names or {}, key=len, reverse=True):
        if where == key or where.startswith(f"{key}."):
            return f"{(names or {})[key]}: {msg}"
    if first["type"] == "extra_forbidden":
        return f"unknown field '{where}': remove it or check its spelling"
    if first["type"] == "missing":
        return f"missing field '{where}': add it to the config"
    return f"field '{where}': {msg}" if where else msg


class Strict(BaseModel):
    """A config model: unknown keys are errors (naming the key), instances are frozen, and
    every number is finite.

    ``allow_inf_nan=False`` applies to every ``float`` (and ``int``) a config model holds,
    inside tuples and lists and optional fields included, so ``nan``, ``inf`` and
    ``-inf`` (which TOML, YAML and JSON parsers all produce) are refused with pydantic's
    ``finite_number`` error naming the field, one mechanism for every model rather than
    a check per field: no setting of the simulation has a meaning at infinity or NaN.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def venue_codes(codes: list[str]) -> list[str]:
    """A field validator's check of a list of venue codes: non-empty, distinct, short.

    Returns ``codes`` unchanged. Raises ``ValueError`` (pydantic reports it against
    the field) when the list is empty, repeats a code, or a code is not 1-8
    upper-case letters, digits or ``_``.
    """
    if not codes or len(set(codes)) != len(codes):
        raise ValueError("must be a non-empty list of distinct venue codes")
    bad = [c for c in codes if not re.fullmatch(r"[A-Z0-9_]{1,8}", c)]
    if bad:
        raise ValueError(f"venue codes are 1-8 upper-case letters, digits or _: {bad}")
    return codes
