"""The exported events in trace-id key order, without holding their trace ids.

The fixture's ``provenance.json`` is an object keyed by trace id, so its members come
in key order (the UTF-16 code-unit order of the stable stringification,
:mod:`tapesim.events.stable_json`). A trace id is ``<run_id>:<stream>:<seq>``
(CONTRACT.md section 1; :meth:`tapesim.io.canonical.Canonicaliser.trace_ids`, also for
imported runs), and the slice's ids are checked to have exactly that form as they are
read (:func:`tapesim.export.slices.entry_batches`). With the run's prefix common to
all, key order is: by ``<stream>:``, then by the seq's decimal text. Within one stream
and one digit count that text order is ascending seq, and each stream's seqs come
ascending in replay order, so one stream's seqs of ``d`` digits are one contiguous,
sorted run of its replay-order spool; key order is a merge of those runs, a stream at
a time. Two seqs of ``d`` and ``e`` digits compare as texts as their values padded on
the right with zeros to a common width do, the shorter first when those are equal
(a prefix sorts first): :func:`text_keys`.

:class:`TraceIdSpool` keeps, per stream, the seqs (int64) and optionally a text per
event (its provenance member; LZ4 blocks of ``BLOCK_ROWS`` texts and their end
offsets) in flat files in the output's staging directory, written in replay order
during the events pass; :meth:`TraceIdSpool.key_order` reads
them back in chunks of ``slices.BATCH_ROWS`` rows in key order, and
:meth:`TraceIdSpool.exported` says which of some trace ids are in the slice (a
scenario's label refs). Memory: a chunk of seqs per run being merged and a chunk of
texts, whatever the slice's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from tapesim.events.models import KINDS
from tapesim.export import slices
from tapesim.io.event_json import utf16_sorted
from tapesim.io.manifest import RunDirectoryError

__all__ = ["MAX_DIGITS", "TraceIdSpool", "digit_counts", "text_keys"]

MAX_DIGITS = 17  # a key (seq padded to 17 digits, times 32, plus its digit count) fits int64
_POW10 = 10 ** np.arange(MAX_DIGITS + 1, dtype=np.int64)
_INT64 = np.dtype(np.int64).itemsize


def digit_counts(seqs: np.ndarray) -> np.ndarray:
    """The number of decimal digits of each seq (int64 array, every value 1 or more)."""
    return np.searchsorted(_POW10[1:], seqs, side="right") + 1


def text_keys(seqs: np.ndarray, digits: int, width: int) -> np.ndarray:
    """int64 keys of ``seqs`` (all of ``digits`` digits) whose numeric order is the order
    of the seqs' decimal texts among seqs of up to ``width`` digits: the seq padded on
    the right with zeros to ``width`` digits, times 32, plus its digit count (a text
    that is a prefix of another, equal when padded, sorts first)."""
    return seqs * (_POW10[width - digits] * 32) + digits


@dataclass
class _Stream:
    """One trace-id stream's spool files: seqs (int64) and, with texts, the texts'
    bytes end to end in LZ4 blocks of up to ``BLOCK_ROWS`` texts, and their cumulative
    end offsets in those bytes (int64). ``blocks``: per block, where its text bytes
    start, where it starts in the file and its compressed size."""

    seqs: IO[bytes]
    data: IO[bytes] | None
    ends: IO[bytes] | None
    rows: int = 0
    bytes: int = 0
    stored: int = 0
    digits: np.ndarray = field(default_factory=lambda: np.zeros(MAX_DIGITS + 2, np.int64))
    blocks: list[tuple[int, int, int]] = field(default_factory=list)
    firsts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


@dataclass
class _Run:
    """One digit count's seqs of a stream: spool rows ``[lo, hi)``, read up to ``next``;
    ``keys`` the buffered, unmerged ones, starting at row ``at``."""

    digits: int
    lo: int
    hi: int
    next: int
    at: int = 0
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


_RUN_ROWS = 32  # rows per contiguous run at which texts are sliced out, not taken
BLOCK_ROWS = 4096  # texts per LZ4 block (about 1.3 MB of provenance members)
CODEC = "lz4"  # the members compress about 40-fold, at GB/s


def _rows_bytes(texts: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The texts of ``rows`` (ascending) of a batch end to end, and their offsets in it
    (int64, one more than rows): each run of consecutive rows as one slice of the
    batch's string buffer (a kind's rows come in runs of hundreds), or taken when the
    runs are short."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    if rows.size < _RUN_ROWS * (breaks.size + 1):
        return slices.values_buffer(texts.take(pa.array(rows)))
    data, offsets = slices.values_buffer(texts)
    firsts = rows[np.concatenate([[0], breaks])]
    lasts = rows[np.concatenate([breaks - 1, [rows.size - 1]])]
    own = np.concatenate([data[a:b] for a, b in zip(offsets[firsts].tolist(),
                                                    offsets[lasts + 1].tolist(), strict=True)])
    lengths = offsets[rows + 1] - offsets[rows]
    return own, np.concatenate([[0], np.cumsum(lengths)])


_CACHED_BLOCKS = 8  # a block per digit run being merged (a chunk ends inside one)


def _ints(f: IO[bytes], start: int, count: int) -> np.ndarray:
    """``count`` int64 values of a flat file from value ``start``."""
    f.seek(start * _INT64)
    return np.frombuffer(f.read(count * _INT64), dtype=np.int64)


class TraceIdSpool:
    """The exported events' seqs per trace-id stream (and with ``texts``, a text per
    event), spooled in ``directory`` in replay order and read back in trace-id key
    order. A context manager: on exit its files are removed.

    Args:
        directory: where the spool files go (the output's staging directory).
        run_id: the run's id, every trace id's prefix.
        texts: whether :meth:`add` takes a text per event (read back by
            :meth:`key_order`).
    """

    def __init__(self, directory: Path, run_id: str, texts: bool) -> None:
        self.run_id = run_id
        self._paths: list[Path] = []
        # streams in the key order of "<stream>:" (the run id prefix is common to all)
        names = utf16_sorted([f"{k.stream}:" for k in KINDS])
        self._order = [n[:-1] for n in names]
        self._code_stream = {code: kind.stream for code, kind in enumerate(KINDS)}
        self._streams: dict[str, _Stream] = {}
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        try:
            for name in self._order:
                files = [self._open(directory / f".{name}.{part}.spool")
                         for part in (("seqs", "data", "ends") if texts else ("seqs",))]
                self._streams[name] = _Stream(*files) if texts else _Stream(files[0], None,
                                                                            None)
        except BaseException:
            self.close()
            raise

    def _open(self, path: Path) -> IO[bytes]:
        self._paths.append(path)
        return path.open("w+b")

    def __enter__(self) -> TraceIdSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close and remove the spool files."""
        for s in self._streams.values():
            for f in (s.seqs, s.data, s.ends):
                if f is not None:
                    f.close()
        for path in self._paths:
            with contextlib.suppress(OSError):
                path.unlink()

    def add(self, kinds: np.ndarray, seqs: np.ndarray, texts: pa.Array | None = None) -> None:
        """Spool one batch of events in replay order.

        Args:
            kinds: int8 codes (positions in ``KINDS``), one per event.
            seqs: their seqs, int64, ascending (replay order).
            texts: with ``texts``, one string per event (any length, UTF-8).

        Raises:
            RunDirectoryError: a seq below 1 or of more than ``MAX_DIGITS`` digits.
        """
        if seqs.size and (seqs[0] < 1 or seqs[-1] >= _POW10[MAX_DIGITS]):
            raise RunDirectoryError(f"an event's seq {int(seqs[0])}..{int(seqs[-1])} is out "
                                    "of range: run `tapesim verify` on the run")
        for code in np.unique(kinds).tolist():
            s = self._streams[self._code_stream[code]]
            rows = np.flatnonzero(kinds == code)
            mine = seqs[rows]
            s.seqs.write(mine.tobytes())
            s.digits += np.bincount(digit_counts(mine), minlength=s.digits.size)
            s.rows += mine.size
            if s.data is not None and s.ends is not None and texts is not None:
                own, at = _rows_bytes(texts, rows)
                s.ends.write((at[1:] + s.bytes).tobytes())
                for lo in range(0, rows.size, BLOCK_ROWS):
                    raw = own[at[lo]:at[min(lo + BLOCK_ROWS, rows.size)]]
                    packed = pa.compress(raw, codec=CODEC, asbytes=True)
                    s.blocks.append((s.bytes + int(at[lo]), s.stored, len(packed)))
                    s.data.write(packed)
                    s.stored += len(packed)
                s.bytes += int(at[-1])

    def exported(self, trace_ids: Iterable[str]) -> set[str]:
        """Those of ``trace_ids`` that are exported events' ids: of the form
        ``<run_id>:<stream>:<seq>`` with the seq's canonical decimal text and the seq
        among the stream's spooled seqs (read back a chunk at a time)."""
        wanted: dict[str, dict[int, str]] = {}
        prefix = f"{self.run_id}:"
        for tid in trace_ids:
            stream, _, digits = tid.removeprefix(prefix).rpartition(":")
            if (tid.startswith(prefix) and stream in self._streams and digits.isascii()
                    and digits.isdigit() and digits[0] != "0" and len(digits) <= MAX_DIGITS):
                wanted.setdefault(stream, {})[int(digits)] = tid
        found: set[str] = set()
        chunk = slices.BATCH_ROWS
        for stream, by_seq in wanted.items():
            s, want = self._streams[stream], np.array(sorted(by_seq), dtype=np.int64)
            for lo in range(0, s.rows, chunk):
                have = _ints(s.seqs, lo, min(chunk, s.rows - lo))
                hits = want[np.isin(want, have)]
                found.update(by_seq[int(q)] for q in hits)
        return found

    def key_order(self) -> Iterator[pa.Array]:
        """The spooled texts in key order, in chunks of at most ``slices.BATCH_ROWS``.

        Raises:
            ValueError: the spool was made without texts.
        """
        for name in self._order:
            s = self._streams[name]
            if s.data is None or s.ends is None:
                raise ValueError("this spool holds no texts")
            s.firsts = np.array([b[0] for b in s.blocks] + [s.bytes], dtype=np.int64)
            self._cache.clear()
            for start, count, order in self._merged(s):
                texts = self._texts(s, start, count)
                yield texts if order is None else texts.take(pa.array(order))

    def _texts(self, s: _Stream, starts: list[int], counts: list[int]) -> pa.Array:
        """Texts ``[start, start + count)`` of a stream's spool for each pair, end to end,
        as one string array (each block's part copied into its buffer)."""
        assert s.data is not None and s.ends is not None
        ends = [_ints(s.ends, a - 1, n + 1) if a else np.concatenate([[0], _ints(s.ends, 0, n)])
                for a, n in zip(starts, counts, strict=True) if n]
        data = np.empty(sum(int(e[-1] - e[0]) for e in ends), dtype=np.uint8)
        offsets = np.empty(sum(counts) + 1, dtype=np.int32)
        firsts = s.firsts
        at = row = 0
        for e in ends:
            lo, hi, n = int(e[0]), int(e[-1]), e.size - 1
            offsets[row:row + n + 1] = e - lo + at
            k = int(np.searchsorted(firsts, lo, side="right")) - 1
            while lo < hi:
                block, first = self._block(s, k), int(firsts[k])
                take = min(hi, int(firsts[k + 1])) - lo
                data[at:at + take] = block[lo - first:lo - first + take]
                at, lo, k = at + take, lo + take, k + 1
            row += n
        return pa.StringArray.from_buffers(row, pa.py_buffer(offsets), pa.py_buffer(data))

    def _block(self, s: _Stream, k: int) -> np.ndarray:
        """Block ``k`` of a stream's texts, decompressed; the last few used are kept (each
        digit run being merged reads its blocks in order, a chunk ending inside one)."""
        key = (id(s), k)
        block = self._cache.pop(key, None)
        if block is None:
            assert s.data is not None
            first, at, size = s.blocks[k]
            end = s.blocks[k + 1][0] if k + 1 < len(s.blocks) else s.bytes
            s.data.seek(at)
            block = np.frombuffer(pa.decompress(s.data.read(size), end - first, codec=CODEC),
                                  dtype=np.uint8)
            if len(self._cache) >= _CACHED_BLOCKS:
                self._cache.pop(next(iter(self._cache)))
        self._cache[key] = block
        return block

    def _merged(self, s: _Stream) -> Iterator[tuple[list[int], list[int], np.ndarray | None]]:
        """A stream's spool rows in key order, a chunk at a time: per chunk, each digit
        run's first row and row count taken (contiguous), and the order of the rows so
        concatenated (None when already in order)."""
        s.seqs.flush()
        if s.data is not None:
            s.data.flush()
        if s.ends is not None:
            s.ends.flush()
        width = int(np.flatnonzero(s.digits)[-1]) if s.rows else 0
        runs, lo = [], 0
        for d in np.flatnonzero(s.digits).tolist():
            n = int(s.digits[d])
            runs.append(_Run(d, lo, lo + n, lo))
            lo += n
        chunk = slices.BATCH_ROWS
        while True:
            for r in runs:
                if not r.keys.size and r.next < r.hi:
                    n = min(chunk, r.hi - r.next)
                    r.at, r.keys = r.next, text_keys(_ints(s.seqs, r.next, n), r.digits, width)
                    r.next += n
            live = [r for r in runs if r.keys.size]
            if not live:
                return
            # every buffered key up to the least last key of the runs with more to read
            unread = [int(r.keys[-1]) for r in live if r.next < r.hi]
            bound = min(unread) if unread else None
            takes = [r.keys.size if bound is None else
                     int(np.searchsorted(r.keys, bound, side="right")) for r in live]
            if sum(takes) > chunk:  # at most a chunk: the least `chunk` of those keys
                pool = np.concatenate([r.keys[:n] for r, n in zip(live, takes, strict=True)])
                cap = np.partition(pool, chunk - 1)[chunk - 1]
                takes = [int(np.searchsorted(r.keys, cap, side="right")) for r in live]
            starts = [r.at for r in live]
            taken = [r.keys[:n] for r, n in zip(live, takes, strict=True)]
            for r, n in zip(live, takes, strict=True):
                r.keys, r.at = r.keys[n:], r.at + n
            if sum(1 for n in takes if n) == 1:
                yield starts, takes, None
            else:
                yield starts, takes, np.argsort(np.concatenate(taken), kind="stable")
