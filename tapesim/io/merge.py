"""Streaming k-way merge of ordered Arrow sources, one window at a time.

Each source yields tables whose ``key`` column never decreases. The merge keeps a
small buffer per source and repeatedly emits every buffered row whose key is below
the smallest "last key seen" among sources that still have more to give: no later
row can sort before those. Each emitted window is sorted stably (:func:`order`), so
the whole stream comes out in total order while memory holds only a few batches per
source, and rows that tie on every sort key keep the sources' order, then their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Composite keys stay below this, so no sum of offsets overflows int64.
_KEY_LIMIT = 1 << 62


def order(table: pa.Table, sort_keys: list[tuple[str, str]]) -> np.ndarray:
    """The stable sort permutation of ``table`` by ``sort_keys``, as int64 row indices.

    The same permutation as ``pyarrow.compute.sort_indices`` (also stable), faster for
    the usual case: ascending integer keys without nulls are folded into one int64
    composite key (each key's offset from its minimum times the product of the later
    keys' ranges) sorted by numpy's stable sort; where the ranges' product would not
    fit, ``numpy.lexsort``. Any other key (descending, non-integer, nullable) leaves it
    to Arrow.
    """
    columns = []
    for name, direction in sort_keys:
        column = table.column(name)
        if (direction != "ascending" or not pa.types.is_integer(column.type)
                or column.null_count):
            return pc.sort_indices(table, sort_keys=sort_keys).to_numpy()
        columns.append(column.to_numpy().astype(np.int64, copy=False))
    if not columns or table.num_rows < 2:
        return np.arange(table.num_rows, dtype=np.int64)
    lows = [int(c.min()) for c in columns]
    spans = [int(c.max()) - low + 1 for c, low in zip(columns, lows, strict=True)]
    if int(np.prod([float(s) for s in spans])) >= _KEY_LIMIT:
        return np.lexsort(columns[::-1]).astype(np.int64, copy=False)
    key = np.zeros(table.num_rows, dtype=np.int64)
    for column, low, span in zip(columns, lows, spans, strict=True):
        key *= span
        key += column - low
    return np.argsort(key, kind="stable")


def _count_below(keys: pa.ChunkedArray, cutoff: int) -> int:
    """How many of the ascending integer ``keys`` (no nulls) are below ``cutoff``: a
    binary search in each chunk up to the first holding a key at or above it, rather
    than a comparison of every buffered key."""
    count = 0
    for chunk in keys.chunks:
        values = chunk.to_numpy()
        below = int(np.searchsorted(values, cutoff, side="left"))
        count += below
        if below < len(values):
            break
    return count


class _Cursor:
    def __init__(self, source: Iterable[pa.Table], key: str) -> None:
        self._it = iter(source)
        self._key = key
        self.buffer: pa.Table | None = None
        self.exhausted = False

    def fill(self) -> None:
        """Append the next non-empty table from the source, if any."""
        for table in self._it:
            if table.num_rows:
                buffered = self.buffer
                self.buffer = table if buffered is None else pa.concat_tables([buffered, table])
                return
        self.exhausted = True

    @property
    def last_key(self) -> int:
        assert self.buffer is not None
        return self.buffer.column(self._key)[-1].as_py()

    def take_below(self, cutoff: int | None) -> pa.Table | None:
        if self.buffer is None or self.buffer.num_rows == 0:
            return None
        if cutoff is None:
            out, self.buffer = self.buffer, None
            return out
        split = _count_below(self.buffer.column(self._key), cutoff)
        if split == 0:
            return None
        out = self.buffer.slice(0, split)
        self.buffer = self.buffer.slice(split)
        return out


@dataclass(frozen=True)
class Window:
    """One merged window: ``rows`` holds its rows in sort order with every column but the
    deferred ones; ``deferred`` holds those (at least ``local``) still in the order the
    sources gave them, and ``permutation`` (int64) maps each sorted position to its row
    there. A consumer that reads the deferred columns only for a few rows gets them with
    :meth:`at` instead of the merge reordering them for every row.
    """

    rows: pa.Table
    deferred: pa.Table
    permutation: np.ndarray

    @classmethod
    def of(cls, rows: pa.Table) -> Window:
        """A window of rows already in sort order, with nothing deferred but ``local``
        (which ``rows`` keeps too)."""
        return cls(rows, rows.select(["local"]), np.arange(rows.num_rows, dtype=np.int64))

    @property
    def num_rows(self) -> int:
        return self.rows.num_rows

    def at(self, positions: np.ndarray) -> pa.Table:
        """Every column of the rows at sorted ``positions`` (int64, ascending): the sorted
        columns, then the deferred ones not among them."""
        table = take_rows(self.rows, positions)
        later = [name for name in self.deferred.column_names if name not in table.column_names]
        if later:
            deferred = take_rows(self.deferred.select(later), self.permutation[positions])
            for name in later:
                table = table.append_column(name, deferred.column(name))
        return table


def take_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """``table.take(rows)`` (``rows`` int64 row indices, any order), taken from each
    record batch that holds some of them: a take on a chunked column first concatenates
    all its chunks, a copy of every row to take a few."""
    batches = table.to_batches()
    if len(batches) <= 1 or rows.size == 0:
        return table.take(pa.array(rows, pa.int64()))
    starts = np.cumsum([0] + [b.num_rows for b in batches])
    which = np.searchsorted(starts, rows, side="right") - 1
    order = np.argsort(which, kind="stable")
    grouped, groups = rows[order], which[order]
    edges = np.flatnonzero(np.diff(groups)) + 1
    parts = [batches[int(g[0])].take(pa.array(r - starts[g[0]]))
             for r, g in zip(np.split(grouped, edges), np.split(groups, edges), strict=True)]
    taken = pa.Table.from_batches(parts, schema=table.schema)
    if np.all(order[1:] > order[:-1]):
        return taken
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return taken.take(pa.array(inverse))


def windowed_merge(
    sources: list[Iterable[pa.Table]], key: str, sort_keys: list[tuple[str, str]],
    min_rows: int = 0, deferred: Collection[str] = (),
) -> Iterator[Window]:
    """Merge sources ordered by ``key`` into windows sorted by ``sort_keys``.

    Each source yields tables whose integer ``key`` column (e.g. ``ts`` in ms) never
    decreases and an int64 ``local`` column; ``sort_keys`` are Arrow sort keys such as
    ``[("ts", "ascending"), ...]``. Windows come out in total order: every row of a window
    sorts before every row of the next; rows equal on every sort key come in source
    order, each source's in its own order. Columns missing from a source read null in
    its rows.

    ``min_rows`` gathers consecutive windows until they hold at least that many rows
    (the last one may hold fewer): the same rows in the same order, since every row of a
    window has a smaller ``key`` than every row of the next, so rows equal on every sort
    key always share a window. Fewer, larger windows spare every step after the merge its
    fixed cost per window. The ``deferred`` columns (and ``local``) are left in the
    sources' order (:class:`Window`).
    """
    cursors = [_Cursor(s, key) for s in sources]
    later = {"local", *deferred}
    gathered: list[Window] = []
    rows = 0
    while True:
        for c in cursors:
            if (c.buffer is None or c.buffer.num_rows == 0) and not c.exhausted:
                c.fill()
        live = [c for c in cursors if c.buffer is not None and c.buffer.num_rows]
        if not live:
            break
        pending = [c for c in live if not c.exhausted]
        cutoff = min(c.last_key for c in pending) if pending else None
        parts = [t for c in live if (t := c.take_below(cutoff)) is not None]
        if not parts:
            # Every buffered row sits at the cutoff: read further in the sources that set it.
            for c in pending:
                if c.last_key == cutoff:
                    c.fill()
            continue
        gathered.append(_sorted(parts, sort_keys, later))
        rows += gathered[-1].num_rows
        if rows >= min_rows:
            yield _joined(gathered)
            gathered, rows = [], 0
    if gathered:
        yield _joined(gathered)


def _sorted(parts: list[pa.Table], sort_keys: list[tuple[str, str]],
            later: set[str]) -> Window:
    """``parts`` (the rows below a cutoff, in source order) as one window in sort order,
    the columns ``later`` left in source order."""
    # Sources may differ in columns (stock and option spools): missing ones read null.
    table = pa.concat_tables(parts, promote_options="default") if len(parts) > 1 else (
        parts[0])
    permutation = order(table, sort_keys)
    now = table.select([name for name in table.column_names if name not in later])
    if not np.all(permutation[1:] > permutation[:-1]):
        now = now.take(permutation)
    return Window(now, table.select([name for name in table.column_names if name in later]),
                  permutation)


def _joined(windows: list[Window]) -> Window:
    """Consecutive windows as one."""
    if len(windows) == 1:
        return windows[0]
    starts = np.cumsum([0] + [w.num_rows for w in windows[:-1]])
    # The rows are read whole by the canonicaliser (numpy views, filters): one chunk per
    # column spares each reader its own concatenation of them.
    rows = pa.concat_tables([w.rows for w in windows], promote_options="default")
    return Window(rows.combine_chunks(),
                  pa.concat_tables([w.deferred for w in windows], promote_options="default"),
                  np.concatenate([w.permutation + start
                                  for w, start in zip(windows, starts, strict=True)]))
