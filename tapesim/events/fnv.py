"""FNV-1a 32-bit over UTF-16 code units, compiled: the pipeline's stable hash
(CONTRACT.md §2: offset basis 0x811c9dc5, prime 0x01000193, one step per code unit)
at the speed of a file export.

The hash is sequential within a text, so numpy cannot vectorise it over one long text
(a fixture's events array is hundreds of megabytes); the two loops here are compiled
by numba on first use (:class:`tapesim.sim.compiled.Kernel`: numba is loaded only by a
command that hashes, never by ``export --format jsonl`` or ``replay``). Texts arrive
as UTF-8 bytes, what a file holds: when every byte is ASCII, each byte is one UTF-16
code unit of the same value, so the bytes are hashed as they are; otherwise the text
is transcoded to UTF-16 first. :mod:`tapesim.events.stable_json` keeps the plain
Python hash for small values, which needs no compiler; the tests hold the two equal.

- :func:`fnv1a32_segments`: the hash of each of many texts laid end to end (an Arrow
  string array's values).
- :class:`FnvStream`: one hash fed piece by piece (a file written in batches).
"""

from __future__ import annotations

import numpy as np

from tapesim.events.stable_json import FNV_OFFSET, FNV_PRIME
from tapesim.sim.compiled import kernel

__all__ = ["FnvStream", "code_units", "fnv1a32_segments", "hex_digests"]

_MASK = 0xFFFFFFFF


@kernel
def _run(units: np.ndarray, h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """Continue the hash ``h`` over ``units``."""
    prime, mask = np.uint64(FNV_PRIME), np.uint64(_MASK)
    for unit in units:
        h = ((h ^ np.uint64(unit)) * prime) & mask
    return h


@kernel
def _segments(units: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The hash of each segment ``units[offsets[i]:offsets[i + 1]]`` (uint32)."""
    out = np.empty(offsets.size - 1, dtype=np.uint32)
    prime, mask = np.uint64(FNV_PRIME), np.uint64(_MASK)
    for i in range(offsets.size - 1):
        h = np.uint64(FNV_OFFSET)
        for j in range(offsets[i], offsets[i + 1]):
            h = ((h ^ np.uint64(units[j])) * prime) & mask
        out[i] = h
    return out


def code_units(text: str) -> np.ndarray:
    """The UTF-16 code units of ``text`` (uint16; a character outside the BMP is two,
    a lone surrogate is kept, as JavaScript strings hold them)."""
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype="<u2")


def _is_ascii(data: np.ndarray) -> bool:
    return not data.size or int(data.max()) < 0x80


def fnv1a32_segments(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The FNV-1a 32-bit hash of each of many texts laid end to end.

    Args:
        data: the texts' UTF-8 bytes, concatenated (a uint8 array).
        offsets: byte offsets into ``data``, one more than there are texts; text ``i``
            is ``data[offsets[i]:offsets[i + 1]]`` (an Arrow string array's offsets).

    Returns:
        uint32 array, one hash per text, each over that text's UTF-16 code units.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    segments = _segments
    if _is_ascii(data[offsets[0]:offsets[-1]]):
        return segments(data, offsets)
    units = [code_units(bytes(data[a:b]).decode("utf-8"))
             for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
    bounds = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum([u.size for u in units], out=bounds[1:])
    return segments(np.concatenate(units) if units else np.zeros(0, np.uint16), bounds)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLES = np.arange(28, -1, -4, dtype=np.uint32)


def hex_digests(hashes: np.ndarray) -> bytes:
    """Each hash as eight lowercase hex digits, laid end to end (8 bytes per hash),
    the digits the contract writes after ``fnv1a32:``."""
    digits = (hashes.astype(np.uint32)[:, None] >> _NIBBLES) & np.uint32(0xF)
    return _HEX[digits].tobytes()


class FnvStream:
    """The FNV-1a 32-bit hash of a text fed in pieces (UTF-8 bytes, each piece whole
    characters): equal to the hash of the pieces' concatenation."""

    def __init__(self) -> None:
        self.state = FNV_OFFSET

    def update(self, data: bytes | memoryview | np.ndarray) -> None:
        """Hash ``data`` (UTF-8, whole characters) after everything fed so far."""
        raw = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
        units = raw if _is_ascii(raw) else code_units(bytes(raw).decode("utf-8"))
        self.state = int(_run(units, np.uint64(self.state)))

    def hexdigest(self) -> str:
        """The hash so far, as the contract writes it: ``fnv1a32:`` plus eight
        lowercase hex digits."""
        return f"fnv1a32:{self.state:08x}"
