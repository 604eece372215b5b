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
- :func:`hash_entries`: both at once in one pass over the bytes, for a file whose
  entries are hashed each on its own and the whole as well (a fixture's events).
"""

from __future__ import annotations

import numpy as np

from tapesim.events.stable_json import FNV_OFFSET, FNV_PRIME
from tapesim.sim.compiled import kernel

__all__ = ["FnvStream", "code_units", "fnv1a32_segments", "hash_entries", "hex_digests"]

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


@kernel
def _entries(units: np.ndarray, offsets: np.ndarray, trim: int, whole: bool, a: np.uint64,
             b: np.uint64) -> tuple[np.ndarray, np.uint64, np.uint64]:  # pragma: no cover
    """The hash of each segment ``units[offsets[i]:offsets[i + 1] - trim]`` (uint32),
    and the two hashes ``a`` and ``b`` continued over ``units[:offsets[-1]]`` (with
    ``whole``) or over ``units[:offsets[-1] - trim]``: three independent chains in one
    loop, so the multiplies' latencies overlap."""
    out = np.empty(offsets.size - 1, dtype=np.uint32)
    prime, mask = np.uint64(FNV_PRIME), np.uint64(_MASK)
    n = offsets.size - 1
    for i in range(n):
        h = np.uint64(FNV_OFFSET)
        end = offsets[i + 1] - trim
        for j in range(offsets[i], end):
            u = np.uint64(units[j])
            h = ((h ^ u) * prime) & mask
            a = ((a ^ u) * prime) & mask
            b = ((b ^ u) * prime) & mask
        out[i] = h
        if whole or i < n - 1:  # the separator after the segment, part of the whole
            for j in range(end, offsets[i + 1]):
                u = np.uint64(units[j])
                a = ((a ^ u) * prime) & mask
                b = ((b ^ u) * prime) & mask
    return out, a, b


def code_units(text: str) -> np.ndarray:
    """The UTF-16 code units of ``text`` (uint16; a character outside the BMP is two,
    a lone surrogate is kept, as JavaScript strings hold them)."""
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype="<u2")


def _is_ascii(data: np.ndarray) -> bool:
    return not data.size or int(data.max()) < 0x80


def _utf16(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 texts laid end to end (``data[offsets[0]:offsets[-1]]``) as their UTF-16
    code units laid end to end, with the offsets moved to match: bytes as they are when
    all are ASCII (one unit each), else transcoded (a 4-byte character is two units)."""
    data = data[offsets[0]:offsets[-1]]
    offsets = offsets - offsets[0]
    if _is_ascii(data):
        return data, offsets
    units = code_units(data.tobytes().decode("utf-8"))
    # each byte that starts a character counts one unit, a 4-byte lead (0xF0..) two
    width = ((data & 0xC0) != 0x80).astype(np.int64) + (data >= 0xF0)
    starts = np.zeros(data.size + 1, dtype=np.int64)
    np.cumsum(width, out=starts[1:])
    return units, starts[offsets]


def fnv1a32_segments(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The FNV-1a 32-bit hash of each of many texts laid end to end.

    Args:
        data: the texts' UTF-8 bytes, concatenated (a uint8 array).
        offsets: byte offsets into ``data``, one more than there are texts; text ``i``
            is ``data[offsets[i]:offsets[i + 1]]`` (an Arrow string array's offsets).

    Returns:
        uint32 array, one hash per text, each over that text's UTF-16 code units.
    """
    return _segments(*_utf16(data, np.asarray(offsets, dtype=np.int64)))


def hash_entries(data: np.ndarray, offsets: np.ndarray, trim: int,
                 streams: tuple[FnvStream, FnvStream], whole: bool = False) -> np.ndarray:
    """The hash of each of many entries laid end to end, each followed by ``trim``
    bytes of separator, and ``streams`` fed all of it, the last separator only with
    ``whole`` (the entries of a JSON array, ``a,b,c``, fed a batch at a time), in one
    pass.

    Args:
        data: the entries' UTF-8 bytes with their separators, concatenated (uint8).
        offsets: byte offsets into ``data``, one more than there are entries; entry
            ``i`` and its separator are ``data[offsets[i]:offsets[i + 1]]``.
        trim: the separator's length in bytes (ASCII: its length in code units).
        streams: two hashes continued over ``data[offsets[0]:offsets[-1]]``, without
            its last ``trim`` bytes unless ``whole``.

    Returns:
        uint32 array, one hash per entry (without its separator), each over the
        entry's UTF-16 code units; equal to :func:`fnv1a32_segments` of the entries.
    """
    units, bounds = _utf16(data, np.asarray(offsets, dtype=np.int64))
    hashes, a, b = _entries(units, bounds, trim, whole, np.uint64(streams[0].state),
                            np.uint64(streams[1].state))
    streams[0].state, streams[1].state = int(a), int(b)
    return hashes


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
