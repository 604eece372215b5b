"""FNV-1a 32-bit over UTF-16 code units, compiled: the pipeline's stable hash
(CONTRACT.md §2: offset basis 0x811c9dc5, prime 0x01000193, one step per code unit)
at the speed of a file export.

The hash is sequential within a text, so numpy cannot vectorise it over one long text
(a fixture's events array is hundreds of megabytes). Its two loops are written here in
LLVM's IR and compiled by llvmlite's JIT on first use (about 0.1 CPU s): the same
machine code numba makes of the same loops, without numba's start (importing numba and
building its typing and target context on the first call, cache hit or not, costs
about 1.5 CPU s, more than the hashing of a 10-minute slice). No command but a fixture
export loads it. Texts arrive as UTF-8 bytes, what a file holds: when every byte is
ASCII, each byte is one UTF-16 code unit of the same value, so the bytes are hashed as
they are (8-bit units); otherwise the text is transcoded to UTF-16 first (16-bit
units). :mod:`tapesim.events.stable_json` keeps the plain Python hash for small
values, which needs no compiler; the tests hold the two equal.

- :func:`fnv1a32_segments`: the hash of each of many texts laid end to end (an Arrow
  string array's values).
- :class:`FnvStream`: one hash fed piece by piece (a file written in batches).
- :func:`hash_entries`: both at once in one pass over the bytes, for a file whose
  entries are hashed each on its own and the whole as well (a fixture's events).
"""

from __future__ import annotations

import ctypes
import string
from collections.abc import Callable
from typing import Any

import numpy as np

from tapesim.events.stable_json import FNV_OFFSET, FNV_PRIME
from tapesim.sim.compiled import IrLoops

__all__ = ["FnvStream", "code_units", "fnv1a32_segments", "hash_entries", "hex_digests"]

# The loops over units of type $unit (i8: ASCII bytes, i16: UTF-16 code units), unsigned.
# run: h continued over units[0:n]. entries: out[i] = the hash of
# units[offsets[i]:offsets[i + 1] - trim]; state[0] and state[1] (two hashes) continued
# over units[offsets[0]:offsets[n]], the last entry's ``trim`` units only when
# ``whole``: three independent chains in one loop, so the multiplies' latencies overlap.
_IR = string.Template("""
define i32 @run_$unit(ptr noalias nocapture readonly %units, i64 %n, i32 %h0) nounwind {
entry:
  %some = icmp sgt i64 %n, 0
  br i1 %some, label %loop, label %done
loop:
  %j = phi i64 [0, %entry], [%j1, %loop]
  %h = phi i32 [%h0, %entry], [%h1, %loop]
  %p = getelementptr inbounds $unit, ptr %units, i64 %j
  %v = load $unit, ptr %p
  %u = zext $unit %v to i32
  %x = xor i32 %h, %u
  %h1 = mul i32 %x, $prime
  %j1 = add nuw nsw i64 %j, 1
  %more = icmp slt i64 %j1, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi i32 [%h0, %entry], [%h1, %loop]
  ret i32 %r
}

define void @entries_$unit(ptr noalias nocapture readonly %units,
                       ptr noalias nocapture readonly %offsets, i64 %n, i64 %trim,
                       i1 %whole, ptr noalias nocapture %out,
                       ptr noalias nocapture %state) nounwind {
entry:
  %a0 = load i32, ptr %state
  %bp = getelementptr inbounds i32, ptr %state, i64 1
  %b0 = load i32, ptr %bp
  %some = icmp sgt i64 %n, 0
  br i1 %some, label %item, label %exit
item:
  %i = phi i64 [0, %entry], [%i1, %next]
  %a = phi i32 [%a0, %entry], [%an, %next]
  %b = phi i32 [%b0, %entry], [%bn, %next]
  %sp = getelementptr inbounds i64, ptr %offsets, i64 %i
  %start = load i64, ptr %sp
  %i1 = add nuw nsw i64 %i, 1
  %ep = getelementptr inbounds i64, ptr %offsets, i64 %i1
  %stop = load i64, ptr %ep
  %end = sub i64 %stop, %trim
  %has = icmp slt i64 %start, %end
  br i1 %has, label %body, label %tail
body:
  %j = phi i64 [%start, %item], [%j1, %body]
  %h = phi i32 [$offset, %item], [%h2, %body]
  %ba = phi i32 [%a, %item], [%a2, %body]
  %bb = phi i32 [%b, %item], [%b2, %body]
  %p = getelementptr inbounds $unit, ptr %units, i64 %j
  %v = load $unit, ptr %p
  %u = zext $unit %v to i32
  %hx = xor i32 %h, %u
  %h2 = mul i32 %hx, $prime
  %ax = xor i32 %ba, %u
  %a2 = mul i32 %ax, $prime
  %bx = xor i32 %bb, %u
  %b2 = mul i32 %bx, $prime
  %j1 = add nuw nsw i64 %j, 1
  %more = icmp slt i64 %j1, %end
  br i1 %more, label %body, label %tail
tail:
  %he = phi i32 [$offset, %item], [%h2, %body]
  %ae = phi i32 [%a, %item], [%a2, %body]
  %be = phi i32 [%b, %item], [%b2, %body]
  %op = getelementptr inbounds i32, ptr %out, i64 %i
  store i32 %he, ptr %op
  %inner = icmp slt i64 %i1, %n
  %sep = or i1 %inner, %whole
  %from = select i1 %sep, i64 %end, i64 %stop
  %hassep = icmp slt i64 %from, %stop
  br i1 %hassep, label %sepl, label %next
sepl:
  %k = phi i64 [%from, %tail], [%k1, %sepl]
  %sa = phi i32 [%ae, %tail], [%sa2, %sepl]
  %sb = phi i32 [%be, %tail], [%sb2, %sepl]
  %q = getelementptr inbounds $unit, ptr %units, i64 %k
  %w = load $unit, ptr %q
  %c = zext $unit %w to i32
  %sax = xor i32 %sa, %c
  %sa2 = mul i32 %sax, $prime
  %sbx = xor i32 %sb, %c
  %sb2 = mul i32 %sbx, $prime
  %k1 = add nuw nsw i64 %k, 1
  %smore = icmp slt i64 %k1, %stop
  br i1 %smore, label %sepl, label %next
next:
  %an = phi i32 [%ae, %tail], [%sa2, %sepl]
  %bn = phi i32 [%be, %tail], [%sb2, %sepl]
  br i1 %inner, label %item, label %exit
exit:
  %af = phi i32 [%a0, %entry], [%an, %next]
  %bf = phi i32 [%b0, %entry], [%bn, %next]
  store i32 %af, ptr %state
  store i32 %bf, ptr %bp
  ret void
}
""")

_UNIT_TYPES = {np.dtype(np.uint8): "i8", np.dtype("<u2"): "i16"}
_P = ctypes.c_void_p
_RUN = ctypes.CFUNCTYPE(ctypes.c_uint32, _P, ctypes.c_int64, ctypes.c_uint32)
_ENTRIES = ctypes.CFUNCTYPE(None, _P, _P, ctypes.c_int64, ctypes.c_int64, ctypes.c_bool, _P,
                            _P)


#: The loops by unit dtype, compiled on first use (:class:`~tapesim.sim.compiled.IrLoops`):
#: ``run_<t>`` and ``entries_<t>`` for each unit type t. They release the GIL (``CFUNCTYPE``):
#: a call hashes a whole batch, and the export's other threads may run meanwhile.
_LOOPS = IrLoops("".join(_IR.substitute(unit=t, prime=FNV_PRIME, offset=FNV_OFFSET)
                         for t in _UNIT_TYPES.values()),
                 {f"{name}_{t}": proto for t in _UNIT_TYPES.values()
                  for name, proto in (("run", _RUN), ("entries", _ENTRIES))})


def _loop(name: str, units: np.ndarray) -> Callable[..., Any]:
    """The compiled loop ``name`` (``run`` or ``entries``) for ``units``' dtype."""
    return _LOOPS.functions()[f"{name}_{_UNIT_TYPES[units.dtype]}"]


def code_units(text: str) -> np.ndarray:
    """The UTF-16 code units of ``text`` (uint16; a character outside the BMP is two,
    a lone surrogate is kept, as JavaScript strings hold them)."""
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype="<u2")


def _is_ascii(data: np.ndarray) -> bool:
    return not data.size or int(data.max()) < 0x80


def _utf16(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 texts laid end to end (``data[offsets[0]:offsets[-1]]``) as their UTF-16
    code units laid end to end (contiguous), with the offsets moved to match (int64):
    bytes as they are when all are ASCII (one unit each), else transcoded (a 4-byte
    character is two units)."""
    data = np.ascontiguousarray(data[offsets[0]:offsets[-1]])
    offsets = np.ascontiguousarray(offsets - offsets[0], dtype=np.int64)
    if _is_ascii(data):
        return data, offsets
    units = code_units(data.tobytes().decode("utf-8"))
    # each byte that starts a character counts one unit, a 4-byte lead (0xF0..) two
    width = ((data & 0xC0) != 0x80).astype(np.int64) + (data >= 0xF0)
    starts = np.zeros(data.size + 1, dtype=np.int64)
    np.cumsum(width, out=starts[1:])
    return units, starts[offsets]


def _entries(units: np.ndarray, offsets: np.ndarray, trim: int, whole: bool,
             state: np.ndarray) -> np.ndarray:
    """The compiled ``entries`` loop (see ``_IR``) over ``units`` (uint8 or uint16,
    contiguous) and ``offsets`` (int64, contiguous); ``state`` (two uint32) continued
    in place. Returns the entries' hashes (uint32)."""
    out = np.empty(offsets.size - 1, dtype=np.uint32)
    if out.size:
        _loop("entries", units)(units.ctypes.data, offsets.ctypes.data, out.size,
                                         trim, whole, out.ctypes.data, state.ctypes.data)
    return out


def fnv1a32_segments(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The FNV-1a 32-bit hash of each of many texts laid end to end.

    Args:
        data: the texts' UTF-8 bytes, concatenated (a uint8 array).
        offsets: byte offsets into ``data``, one more than there are texts; text ``i``
            is ``data[offsets[i]:offsets[i + 1]]`` (an Arrow string array's offsets).

    Returns:
        uint32 array, one hash per text, each over that text's UTF-16 code units.
    """
    units, bounds = _utf16(data, np.asarray(offsets, dtype=np.int64))
    return _entries(units, bounds, 0, True, np.zeros(2, dtype=np.uint32))


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
    state = np.array([streams[0].state, streams[1].state], dtype=np.uint32)
    hashes = _entries(units, bounds, trim, whole, state)
    streams[0].state, streams[1].state = int(state[0]), int(state[1])
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
        units = np.ascontiguousarray(units)
        if units.size:
            self.state = _loop("run", units)(units.ctypes.data, units.size,
                                                      self.state)

    def hexdigest(self) -> str:
        """The hash so far, as the contract writes it: ``fnv1a32:`` plus eight
        lowercase hex digits."""
        return f"fnv1a32:{self.state:08x}"
