"""The base of every config model: unknown keys are errors, numbers are finite, values are
frozen."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

#: The field description of a config share or probability, bounded to [0, 1].
SHARE = "a share of the whole (or a probability), 0-1"


class ConfigError(ValueError):
    """A config, profile or flag that cannot be used; the message names field and fix."""


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
