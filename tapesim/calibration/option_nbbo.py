"""``option_nbbo.parquet`` read once for every underlying, as the options facts need it.

A full ``market-day`` run holds about 40 million option NBBO changes. The options
facts need, per underlying, how many changes fall in the window, which contracts are
quoted at all, and the changes of its front contracts (``ts``, contract, bid, ask).
:func:`read_option_nbbo` reads the file once, a row group at a time, only the
columns ``ts``, ``seq``, ``option_contract_id`` (dictionary-encoded, so each row
group's contracts are looked up once, not each row), ``bid`` and ``ask``; it keeps
the rows of the contracts ``keep`` accepts and groups them by the contract's root.
Rows stay in file order, which is replay (``seq``) order in a run directory; a file
out of seq order is refused rather than read in a wrong order. Memory: one row group
plus about 16 bytes per kept row (:class:`_Parts`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.calibration import stats as st
from tapesim.events.contracts import OptionContract, parse_contract_id
from tapesim.io.manifest import RunDirectoryError
from tapesim.io.parquet import streaming

__all__ = ["NBBO_COLUMNS", "OptionNbbo", "RootQuotes", "expiring_within", "read_option_nbbo"]

_ID = "option_contract_id"
NBBO_COLUMNS = ["ts", "seq", _ID, "bid", "ask"]
BATCH_ROWS = 1 << 17  # a row group of a run directory's files


@dataclass(frozen=True)
class RootQuotes:
    """One root's kept NBBO changes before the window's end, in replay order, and how
    many changes of all its contracts fall inside the window.

    ``ts`` epoch ms (int64); ``code`` each row's contract as an index into
    :attr:`OptionNbbo.ids` (int32); ``bid``, ``ask`` dollars (float64, NaN where null).
    """

    ts: st.IntArray
    code: np.ndarray
    bid: st.FloatArray
    ask: st.FloatArray
    in_window: int

    @classmethod
    def empty(cls) -> RootQuotes:
        """A root without NBBO changes."""
        f = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), f, f, 0)


_INT32 = np.iinfo(np.int32)
FIRST_ROWS = 1 << 23  # a column's first buffer: 32 MiB of int32, so always mapped pages


def _small_ints(values: np.ndarray) -> np.ndarray | None:
    """``values`` (int64) as int32 when they all fit, else None."""
    if values.size and (values.min() < _INT32.min or values.max() > _INT32.max):
        return None
    return values.astype(np.int32)


def _cents(dollars: np.ndarray) -> np.ndarray | None:
    """``dollars`` (float64) as int32 cents when every value is exactly a cent amount
    that ``cents / 100`` gives back bit for bit, else None (NaN, sub-penny, huge)."""
    with np.errstate(invalid="ignore", over="ignore"):
        cents = np.rint(dollars * 100.0)
        if bool(np.all(np.abs(cents) <= _INT32.max)) and bool(np.all(cents / 100.0 == dollars)):
            return cents.astype(np.int32)
    return None


def _dollars(cents: np.ndarray) -> np.ndarray:
    """int32 cents back as float64 dollars, the values :func:`_cents` was given."""
    return cents / 100.0


class _Column:
    """An append-only column, stored narrow (int32, ``narrow`` of each piece) until a
    piece does not fit, then wide (``widen`` of what is stored, and the pieces as they
    come). Its buffer doubles as it fills, from :data:`FIRST_ROWS` rows: allocations that
    large are pages the OS takes back when freed, where many row-group-sized pieces
    would stay behind in the heap and raise the peak of what follows."""

    def __init__(self, narrow: Callable[[np.ndarray], np.ndarray | None],
                 widen: Callable[[np.ndarray], np.ndarray]) -> None:
        self.narrow, self.widen = narrow, widen
        self.buf = np.zeros(0, dtype=np.int32)
        self.size = 0
        self.wide = False

    def extend(self, values: np.ndarray) -> None:
        piece = None if self.wide else self.narrow(values)
        if piece is None:
            if not self.wide:
                self.buf, self.wide = self.widen(self.buf), True
            piece = values
        end = self.size + piece.size
        if end > self.buf.size:
            grown = np.empty(max(end, 2 * self.buf.size, FIRST_ROWS), dtype=self.buf.dtype)
            grown[:self.size] = self.buf[:self.size]
            self.buf = grown
        self.buf[self.size:end] = piece
        self.size = end

    def values(self) -> np.ndarray:
        """The values appended, wide."""
        kept = self.buf[:self.size]
        return kept.copy() if self.wide else self.widen(kept)


class _Parts:
    """The kept rows of one root, stored small (:class:`_Column`): ``ts`` as an offset
    from the window's end, bid and ask as cents, codes int32. About 16 bytes a row."""

    def __init__(self, end_ts: int) -> None:
        self.end_ts = end_ts
        self.ts = _Column(_small_ints, lambda a: a.astype(np.int64))
        self.code = _Column(lambda a: a, lambda a: a)
        self.bid = _Column(_cents, _dollars)
        self.ask = _Column(_cents, _dollars)
        self.in_window = 0

    def add(self, ts: np.ndarray, code: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        self.ts.extend(ts - self.end_ts)
        self.code.extend(code)
        self.bid.extend(bid)
        self.ask.extend(ask)

    def quotes(self) -> RootQuotes:
        if not self.ts.size:
            return replace(RootQuotes.empty(), in_window=self.in_window)
        ts = self.ts.values()
        ts += self.end_ts
        return RootQuotes(ts, self.code.values(), self.bid.values(), self.ask.values(),
                          self.in_window)


class OptionNbbo:
    """What one pass over ``option_nbbo.parquet`` found: every contract id in the file
    (:attr:`ids`, in order of first appearance; ``RootQuotes.code`` indexes it) and,
    per root, its :class:`RootQuotes`, handed out once each (:meth:`take`) so that the
    rows of a root already used are freed."""

    def __init__(self, ids: pa.Array, parts: dict[str, _Parts]) -> None:
        self.ids = ids
        self._parts = parts

    def kept_rows(self, root: str) -> int:
        """How many rows of ``root`` are stored (0 once taken)."""
        parts = self._parts.get(root)
        return 0 if parts is None else parts.ts.size

    def take(self, root: str) -> RootQuotes:
        """The root's quotes (none when the file quotes no contract of it), built from
        the stored rows, which are dropped: a second take of a root finds none."""
        parts = self._parts.pop(root, None)
        return RootQuotes.empty() if parts is None else parts.quotes()


class _Contracts:
    """Contract ids met so far, each with its root's index and whether it is kept."""

    def __init__(self, keep: Callable[[OptionContract], bool]) -> None:
        self.keep = keep
        self.ids = pa.array([], pa.string())
        self.root_names: list[str] = []
        self.root = np.zeros(0, dtype=np.int32)
        self.kept = np.zeros(0, dtype=bool)

    def codes(self, dictionary: pa.Array) -> np.ndarray:
        """The code of each value of a row group's id dictionary, new ids added.

        Raises ``ValueError`` on an id that does not parse.
        """
        found = pc.index_in(dictionary, value_set=self.ids)
        new = dictionary.filter(pc.is_null(found))
        if len(new):
            parsed = [parse_contract_id(i) for i in new.to_pylist()]
            for c in parsed:
                if c.root not in self.root_names:
                    self.root_names.append(c.root)
            self.root = np.concatenate([self.root, np.array(
                [self.root_names.index(c.root) for c in parsed], dtype=np.int32)])
            self.kept = np.concatenate([self.kept, np.array([self.keep(c) for c in parsed],
                                                            dtype=bool)])
            self.ids = pa.concat_arrays([self.ids, new.cast(pa.string())])
            found = pc.index_in(dictionary, value_set=self.ids)
        return found.to_numpy(zero_copy_only=False).astype(np.int32)


def _batches(path: Path) -> Iterator[pa.RecordBatch]:
    pf = streaming(path, read_dictionary=[_ID])
    yield from pf.iter_batches(batch_size=BATCH_ROWS, columns=NBBO_COLUMNS)


def _floats(column: pa.Array) -> np.ndarray:
    return column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)


def read_option_nbbo(path: Path, start_ts: int, end_ts: int,
                     keep: Callable[[OptionContract], bool],
                     roots: set[str] | None = None) -> OptionNbbo:
    """Read ``option_nbbo.parquet`` once (the module docstring).

    Args:
        path: the file; it must have the columns of :data:`NBBO_COLUMNS`.
        start_ts, end_ts: the window, epoch ms: rows at or after ``end_ts`` are not
            kept, ``in_window`` counts rows with ``start_ts <= ts < end_ts``.
        keep: which contracts' rows to keep (called once per contract).
        roots: only these roots' rows are kept and counted (all when None); every
            contract id is listed in ``ids`` whatever its root.

    Raises:
        RunDirectoryError: the rows are not in ascending ``seq`` order.
        ValueError: a contract id does not parse.
        OSError, pyarrow.ArrowException: the file cannot be read.
    """
    contracts = _Contracts(keep)
    parts: dict[int, _Parts] = {}
    last_seq = None
    for batch in _batches(path):
        seq = batch.column("seq").to_numpy()
        if seq.size and ((last_seq is not None and seq[0] <= last_seq)
                         or not bool(np.all(seq[1:] > seq[:-1]))):
            raise RunDirectoryError(f"{path}: rows are not in seq order: run `tapesim "
                                    f"verify {path.parent}`")
        last_seq = int(seq[-1]) if seq.size else last_seq
        ids = batch.column(_ID)
        if not pa.types.is_dictionary(ids.type):
            ids = pc.dictionary_encode(ids)
        local = contracts.codes(ids.dictionary)
        code = local[ids.indices.to_numpy(zero_copy_only=False)]
        ts = batch.column("ts").to_numpy()
        before_end = ts < end_ts
        root = contracts.root[code]
        wanted = np.array([roots is None or name in roots for name in contracts.root_names])
        counted = np.bincount(root[before_end & (ts >= start_ts)],
                              minlength=len(contracts.root_names))
        kept = np.flatnonzero(before_end & contracts.kept[code] & wanted[root])
        bid, ask = _floats(batch.column("bid")), _floats(batch.column("ask"))
        for r in np.flatnonzero(wanted):
            p = parts.setdefault(int(r), _Parts(end_ts))
            p.in_window += int(counted[r])
            rows = kept[root[kept] == r]
            if rows.size:
                p.add(ts[rows], code[rows], bid[rows], ask[rows])
    pa.default_memory_pool().release_unused()  # the decoded row groups' pages, kept cached
    return OptionNbbo(contracts.ids, {contracts.root_names[r]: p for r, p in parts.items()})


def expiring_within(date: dt.date, dte: tuple[int, int]) -> Callable[[OptionContract], bool]:
    """A ``keep`` for :func:`read_option_nbbo`: contracts ``dte[0]`` to ``dte[1]``
    calendar days (inclusive) from the session ``date`` to expiry."""
    return lambda c: dte[0] <= (c.expiry - date).days <= dte[1]
