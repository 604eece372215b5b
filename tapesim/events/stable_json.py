"""The downstream pipeline's stable stringification and FNV-1a 32-bit hash.

``stable_stringify`` reproduces the pipeline's JavaScript: JSON with object keys
sorted (by UTF-16 code units, as JavaScript sorts), entries whose value is
undefined dropped (``UNDEFINED`` here; ``None`` is JSON null and kept), no spaces,
numbers in JavaScript's shortest round-trip form (``500`` not ``500.0``, ``1e+21``,
``1e-7``), non-finite numbers as ``null``, non-ASCII characters raw.
``stable_hash`` is FNV-1a over the string's UTF-16 code units, written
``fnv1a32:`` plus eight lowercase hex digits.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import numpy as np

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()


def js_number(value: float | int) -> str:
    """ECMAScript Number::toString for a finite number."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(value, int):
        value = float(value) if abs(value) >= 2**53 else value
        if isinstance(value, int):
            return str(value)
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exp = repr(float(abs(value))).partition("e")  # numpy floats repr otherwise
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # n: position of the decimal point relative to the digit string (ECMAScript's n).
    n = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    n += int(exp) if exp else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        tail = ("." + digits[1:]) if k > 1 else ""
        out = f"{digits[0]}{tail}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def _utf16_key(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


_quote = json.encoder.encode_basestring  # JSON string literal, non-ASCII kept raw


@lru_cache(maxsize=4096)
def _key_order(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(key, its quoted form + ':') in UTF-16 order; objects of one shape repeat a lot."""
    return tuple((k, _quote(k) + ":") for k in sorted(keys, key=_utf16_key))


def stable_stringify(value: Any) -> str:
    """The pipeline's stable stringification of ``value`` (its contract, CONTRACT.md
    §2): compact JSON, object keys sorted by UTF-16 code units, ``UNDEFINED`` entries
    dropped from objects (written ``null`` in arrays, as JavaScript does), numbers as
    :func:`js_number` writes them (non-finite as ``null``), non-ASCII characters raw.

    ``value`` is built of ``None``, bools, ints, floats (numpy float64 included), strings,
    lists or tuples
    (arrays) and dicts with string keys (objects).

    Raises:
        TypeError: a value of any other type anywhere in ``value`` (e.g. a numpy int).
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        items = ("null" if v is UNDEFINED else stable_stringify(v) for v in value)
        return "[" + ",".join(items) + "]"
    if isinstance(value, dict):
        keys = tuple(k for k, v in value.items() if v is not UNDEFINED)
        parts = (quoted + stable_stringify(value[k]) for k, quoted in _key_order(keys))
        return "{" + ",".join(parts) + "}"
    raise TypeError(f"cannot stringify a {type(value).__name__}")


def _code_units(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype="<u2")


def fnv1a32(text: str) -> int:
    """FNV-1a 32-bit of ``text`` over its UTF-16 code units (offset basis 0x811c9dc5,
    prime 0x01000193; the pipeline's stable hash, CONTRACT.md §2), as an int in
    [0, 2**32)."""
    h = FNV_OFFSET
    for unit in _code_units(text).tolist():
        h = ((h ^ unit) * FNV_PRIME) & 0xFFFFFFFF
    return h


def fnv1a32_many(texts: list[str]) -> list[int]:
    """:func:`fnv1a32` of many strings, one column of code units at a time across all of
    them (the hash is sequential within a string, not across strings)."""
    if not texts:
        return []
    units = [_code_units(t) for t in texts]
    lengths = np.array([u.size for u in units])
    order = np.argsort(-lengths, kind="stable")  # longest first: live rows are a prefix
    table = np.zeros((len(texts), int(lengths.max())), dtype=np.uint64)
    for row, i in enumerate(order.tolist()):
        table[row, :lengths[i]] = units[i]
    live = np.searchsorted(-lengths[order], -np.arange(table.shape[1]), side="left")
    h = np.full(len(texts), FNV_OFFSET, dtype=np.uint64)
    prime, mask = np.uint64(FNV_PRIME), np.uint64(0xFFFFFFFF)
    for column in range(table.shape[1]):
        k = live[column]
        h[:k] = ((h[:k] ^ table[:k, column]) * prime) & mask
    out = np.empty(len(texts), dtype=np.uint64)
    out[order] = h
    return [int(x) for x in out]


def hash_text(text: str) -> str:
    """The stable hash of an already stringified value."""
    return f"fnv1a32:{fnv1a32(text):08x}"


def stable_hash(value: Any) -> str:
    """The pipeline's stable hash of ``value`` (CONTRACT.md §2): :func:`fnv1a32` of its
    :func:`stable_stringify`, written ``fnv1a32:`` plus eight lowercase hex digits.

    Raises:
        TypeError: as :func:`stable_stringify`.
    """
    return hash_text(stable_stringify(value))
