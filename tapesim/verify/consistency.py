"""Tape consistency: every print against the quote in force just before it in replay order.

A consumer that as-of joins prints to quotes in ``seq`` order (the pipeline's own
join, CONTRACT.md §1 ordering) must find the quote the trade met:

* a lit ``EquityPrint`` (``offExchangeFlag`` false) is at or inside the last
  ``EquityQuote`` of its symbol before it (bid <= price <= ask, dollars);
* an ``OptionPrint`` without a special condition is at or inside the last
  ``OptionNBBO`` of its contract before it, and its ``execution_nbbo_bid``,
  ``_ask``, ``_bid_size``, ``_ask_size`` and ``_ts`` equal that NBBO's ``bid``,
  ``ask``, ``bidSize``, ``askSize`` and ``ts`` (a print before any NBBO of its
  contract records none);
* its ``execution_underlying_bid``, ``_ask`` and ``_ts`` equal the last
  ``EquityQuote`` of its underlying before it.

Special conditions are the ones under which a real print may stand away from the
NBBO in force (OPRA's trade conditions): complex and spread legs, ISO sweeps,
auctions and crosses, late reports, cancels and corrections (``SPECIAL``). Off-
exchange equity prints (TRF) are not bound by the NBBO either, nor are prints an
injected scenario caused (provenance's ``scenario_id``): a feed fault such as a
frozen NBBO makes them trade against a quote the tape does not show, on purpose.

The check streams a quote kind and a print kind merged by ``seq`` (memory holds a few
Parquet batches and the last quote per symbol or contract), so it runs over a
whole day. :func:`tape_consistency` returns the counts; ``tapesim verify`` reports
each kind's violations as one problem line (:meth:`TapeConsistency.problems`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim.events.models import (
    EQUITY_PRINT,
    EQUITY_QUOTE,
    OPTION_NBBO,
    OPTION_PRINT,
    EventKind,
)
from tapesim.io.manifest import PROVENANCE
from tapesim.io.merge import windowed_merge
from tapesim.io.parquet import streaming

BATCH = 1 << 16
TOLERANCE = 1e-9  # dollars: prices are whole cents / 100, compared as floats
SPECIAL = frozenset({"COMPLEX", "SPREAD", "ISO", "AUCTION", "CROSS", "LATE", "CANCEL",
                     "CORRECTION"})
EXAMPLES = 5  # offending seqs kept per tally


@dataclass
class Tally:
    """The prints of one family checked against their quotes in force.

    ``checked`` prints were bound by the quote; ``outside`` of them printed beyond it
    (below the bid or above the ask); ``unquoted`` (lit equity prints) had no quote of
    their symbol before them; ``mismatched`` (option prints) carry execution NBBO
    values other than the NBBO in force (or one where none was). ``examples`` holds
    the first few offending seqs, ascending.
    """

    checked: int = 0
    outside: int = 0
    unquoted: int = 0
    mismatched: int = 0
    examples: list[int] = field(default_factory=list)

    @property
    def violations(self) -> int:
        """Prints that break the rule in any way (each counted once per way)."""
        return self.outside + self.unquoted + self.mismatched

    def _note(self, seq: np.ndarray, bad: np.ndarray) -> None:
        room = EXAMPLES - len(self.examples)
        if room > 0:
            self.examples += seq[bad][:room].tolist()


@dataclass
class TapeConsistency:
    """The tallies of one run directory (see the module docstring): lit equity prints
    against the SIP quote, option prints against the OPRA NBBO, and option prints'
    recorded underlying quote against the SIP quote."""

    equity: Tally
    options: Tally
    underlying: Tally

    def problems(self) -> list[str]:
        """One line per family that breaks the rule, naming counts and first seqs;
        empty when the tape is consistent."""
        out = []
        e, o = self.equity, self.options
        if e.outside or e.unquoted:
            out.append(f"{EQUITY_PRINT.file_stem}.parquet: {e.outside} of {e.checked} lit "
                       f"prints lie outside the last equity quote before them in seq order"
                       f" and {e.unquoted} have none (first at seqs {e.examples})")
        if o.violations:
            out.append(f"{OPTION_PRINT.file_stem}.parquet: of {o.checked} option prints "
                       f"without a special condition {o.outside} lie outside the last NBBO "
                       f"of their contract before them in seq order and {o.mismatched} "
                       f"carry an execution NBBO other than it (first at seqs {o.examples})")
        u = self.underlying
        if u.violations:
            out.append(f"{OPTION_PRINT.file_stem}.parquet: of {u.checked} option prints "
                       f"without a special condition {u.mismatched} carry an execution "
                       f"underlying quote other than the last equity quote of their "
                       f"underlying before them in seq order (first at seqs {u.examples})")
        return out


def tape_consistency(run_dir: Path) -> TapeConsistency:
    """Check a run directory's prints against the quotes in force (module docstring).

    Raises ``OSError`` / ``pyarrow.ArrowException`` when an event file cannot be read
    (``tapesim verify`` reports damaged files before it gets here).
    """
    options = caused_seqs(run_dir, OPTION_PRINT)
    return TapeConsistency(_equity(run_dir, caused_seqs(run_dir, EQUITY_PRINT)),
                           _options(run_dir, options), _underlying(run_dir, options))


FAMILIES = ("equity", "options", "underlying")


def family_consistency(run_dir: Path, family: str) -> TapeConsistency:
    """One family of :func:`tape_consistency` alone (``"equity"``, ``"options"`` or
    ``"underlying"``, :data:`FAMILIES`), the other tallies empty: the three joins read
    different files, so they can run apart (``tapesim verify --workers``).

    Raises ``ValueError`` for another family, else as :func:`tape_consistency`.
    """
    if family == "equity":
        return TapeConsistency(_equity(run_dir, caused_seqs(run_dir, EQUITY_PRINT)), Tally(),
                               Tally())
    if family not in FAMILIES:
        raise ValueError(f"unknown tape-consistency family {family!r}: one of {FAMILIES}")
    caused = caused_seqs(run_dir, OPTION_PRINT)
    if family == "options":
        return TapeConsistency(Tally(), _options(run_dir, caused), Tally())
    return TapeConsistency(Tally(), Tally(), _underlying(run_dir, caused))


def caused_seqs(run_dir: Path, kind: EventKind) -> np.ndarray:
    """Seqs (int64, provenance order) of the events of ``kind`` an injected scenario
    caused, by provenance's ``scenario_id``; empty when provenance cannot be read
    (``tapesim verify`` reports that on its own)."""
    try:
        prov = ds.dataset(run_dir / PROVENANCE).to_table(
            columns=["trace_id"], filter=pc.is_valid(pc.field("scenario_id"))
            & (pc.field("event_kind") == kind.name))
    except (OSError, pa.ArrowException):
        return np.zeros(0, dtype=np.int64)
    return np.array([int(t.rsplit(":", 1)[1]) for t in prov.column("trace_id").to_pylist()],
                    dtype=np.int64)


def _batches(path: Path, columns: list[str], key: str, only: pa.Array | None,
             ) -> Iterator[pa.Table]:
    """The file's batches; with ``only``, just the rows whose ``key`` is one of its
    values (the key read dictionary-encoded, so each batch's keys are looked up once)."""
    pf = streaming(path, read_dictionary=[] if only is None else [key])
    for batch in pf.iter_batches(batch_size=BATCH, columns=columns):
        t = pa.Table.from_batches([batch])
        if only is not None:
            keys = t.column(key).combine_chunks()
            wanted = pc.is_in(keys.dictionary, value_set=only).to_numpy(zero_copy_only=False)
            rows = np.flatnonzero(wanted[keys.indices.to_numpy(zero_copy_only=False)])
            t = t.take(pa.array(rows))
            t = t.set_column(t.column_names.index(key), key, t.column(key).cast(pa.string()))
        yield t


def _tagged(path: Path, columns: list[str], key: str, quote: bool,
            only: pa.Array | None = None) -> Iterator[pa.Table]:
    """A kind's batches with its symbol or contract as ``key`` and a ``quote`` flag;
    with ``only``, the rows of those keys alone."""
    for t in _batches(path, columns, key, only):
        t = t.rename_columns(["key" if c == key else c for c in t.column_names])
        yield t.append_column("quote", pa.array(np.full(t.num_rows, quote)))


def _printed(run_dir: Path) -> pa.Array:
    """Every contract with an option print: only their NBBO changes can be the quote
    in force before a print, so the join reads no other (a fifth of a day's rows)."""
    table = streaming(run_dir / f"{OPTION_PRINT.file_stem}.parquet").read(
        columns=["option_contract_id"])
    return pc.unique(table.column(0).combine_chunks()).drop_null()


class _InForce:
    """The last quote per key across windows of rows in seq order.

    ``width`` is the number of values a quote carries (e.g. bid and ask). Keys get
    codes in the order first seen (a null key has its own), and the last quote of each
    is a row of ``last`` (NaN until the key's first quote), so a window is looked up and
    carried forward with numpy alone.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self._known = pa.array([], pa.string())
        self.last = np.full((1, width), np.nan)  # row 0: the null key

    def _codes(self, keys: pa.ChunkedArray) -> np.ndarray:
        """Each row's key code (0 for a null key)."""
        column = keys.combine_chunks()
        encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
        dictionary = pc.cast(encoded.dictionary, pa.string())
        found = pc.index_in(dictionary, value_set=self._known)
        if found.null_count:
            new = pc.filter(dictionary, pc.is_null(found))
            self._known = pa.concat_arrays([self._known, new])
            self.last = np.concatenate([self.last, np.full((len(new), self.width), np.nan)])
            found = pc.index_in(dictionary, value_set=self._known)
        lookup = np.append(found.to_numpy(zero_copy_only=False).astype(np.int64) + 1, 0)
        return lookup[encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)]

    def at(self, keys: pa.ChunkedArray, quote: np.ndarray, values: np.ndarray) -> np.ndarray:
        """For each row of a window (rows in seq order; ``values`` float64 of shape
        (rows, width), meaningful on quote rows), the values of the last quote with the
        row's key strictly before it: shape (rows, width), NaN where there is none."""
        n = len(quote)
        codes = self._codes(keys)
        order = np.argsort(codes, kind="stable")
        s_codes = codes[order]
        pos = np.arange(n)
        start = np.ones(n, dtype=bool)
        start[1:] = s_codes[1:] != s_codes[:-1]
        group_start = np.maximum.accumulate(np.where(start, pos, 0))
        s_quote = quote[order]
        # the last quote at or before each sorted row, then strictly before it
        through = np.maximum.accumulate(np.where(s_quote, pos, -1))
        before = np.empty(n, dtype=np.int64)
        before[0] = -1
        before[1:] = through[:-1]
        inside = before >= group_start
        s_values = values[order]
        s_out = np.where(inside[:, None], s_values[np.maximum(before, 0)], self.last[s_codes])
        end = np.ones(n, dtype=bool)
        end[:-1] = start[1:]
        quoted = np.flatnonzero(end & (through >= group_start))
        self.last[s_codes[quoted]] = s_values[through[quoted]]
        out = np.empty_like(s_out)
        out[order] = s_out
        return out


def _num(t: pa.Table, name: str) -> np.ndarray:
    """A column as float64 with NaN for null; all NaN when the window lacks it (a window
    of one kind only has that kind's columns)."""
    if name not in t.column_names:
        return np.full(t.num_rows, np.nan)
    return pc.fill_null(t.column(name).cast(pa.float64()), np.nan).to_numpy()


def _joined(quotes: Iterator[pa.Table], prints: Iterator[pa.Table],
            values: tuple[str, ...]) -> Iterator[tuple[pa.Table, np.ndarray, np.ndarray]]:
    """Quote and print batches (from :func:`_tagged`) merged by seq: each window holding
    a print, with its quote mask and, per row, the ``values`` columns of the quote of
    its key in force before it (see :meth:`_InForce.at`)."""
    in_force = _InForce(len(values))
    for w in windowed_merge([quotes, prints], "seq", [("seq", "ascending")]):
        quote = w.column("quote").to_numpy()
        force = in_force.at(w.column("key"), quote, np.stack([_num(w, c) for c in values], 1))
        if not quote.all():
            yield w, quote, force


def _equity(run_dir: Path, caused: np.ndarray) -> Tally:
    quotes = _tagged(run_dir / f"{EQUITY_QUOTE.file_stem}.parquet",
                     ["seq", "underlying_id", "bid", "ask"], "underlying_id", True)
    prints = _tagged(run_dir / f"{EQUITY_PRINT.file_stem}.parquet",
                     ["seq", "underlying_id", "price", "offExchangeFlag"], "underlying_id",
                     False)
    tally = Tally()
    for w, quote, force in _joined(quotes, prints, ("bid", "ask")):
        price, seq = _num(w, "price"), w.column("seq").to_numpy()
        lit = ~quote & ~pc.fill_null(w.column("offExchangeFlag"), True).to_numpy(
            zero_copy_only=False) & ~np.isin(seq, caused)
        bid, ask = force[:, 0], force[:, 1]
        unquoted = lit & np.isnan(bid)
        outside = lit & ~unquoted & ((price < bid - TOLERANCE) | (price > ask + TOLERANCE))
        tally.checked += int(lit.sum())
        tally.unquoted += int(unquoted.sum())
        tally.outside += int(outside.sum())
        tally._note(seq, unquoted | outside)
    return tally


def _plain(conditions: pa.ChunkedArray) -> np.ndarray:
    """Per print: no special condition among its conditions (null or empty: none)."""
    flat = pc.list_flatten(conditions)
    special = pc.is_in(flat, value_set=pa.array(sorted(SPECIAL)))
    parent = pc.list_parent_indices(conditions).to_numpy()
    plain = np.ones(len(conditions), dtype=bool)
    plain[parent[special.to_numpy(zero_copy_only=False)]] = False
    return plain


def _agree(w: pa.Table, recorded: tuple[str, ...], force: np.ndarray) -> np.ndarray:
    """Per row: the ``recorded`` columns equal the quote in force (NaN on both sides, no
    quote yet and none recorded, agrees)."""
    values = np.stack([_num(w, c) for c in recorded], axis=1)
    return np.all((np.abs(values - force) <= TOLERANCE)
                  | (np.isnan(values) & np.isnan(force)), axis=1)


_EXECUTION = ("execution_nbbo_bid", "execution_nbbo_ask", "execution_nbbo_bid_size",
              "execution_nbbo_ask_size", "execution_nbbo_ts")
_NBBO = ("bid", "ask", "bidSize", "askSize", "ts")
_UNDERLYING = ("execution_underlying_bid", "execution_underlying_ask",
               "execution_underlying_ts")


def _option_prints(run_dir: Path, key: str, recorded: tuple[str, ...]) -> Iterator[pa.Table]:
    return _tagged(run_dir / f"{OPTION_PRINT.file_stem}.parquet",
                   ["seq", key, "price", "conditions", *recorded], key, False)


def _checked(w: pa.Table, quote: np.ndarray, caused: np.ndarray) -> np.ndarray:
    """The option prints of a window bound by the quote: no special condition, not
    caused by an injected scenario."""
    seq = w.column("seq").to_numpy()
    return ~quote & _plain(w.column("conditions").combine_chunks()) & ~np.isin(seq, caused)


def _options(run_dir: Path, caused: np.ndarray) -> Tally:
    nbbo = _tagged(run_dir / f"{OPTION_NBBO.file_stem}.parquet",
                   ["seq", "option_contract_id", *_NBBO], "option_contract_id", True,
                   _printed(run_dir))
    prints = _option_prints(run_dir, "option_contract_id", _EXECUTION)
    tally = Tally()
    for w, quote, force in _joined(nbbo, prints, _NBBO):
        checked = _checked(w, quote, caused)
        price, seq = _num(w, "price"), w.column("seq").to_numpy()
        quoted = checked & ~np.isnan(force[:, 0])
        outside = quoted & ((price < force[:, 0] - TOLERANCE) | (price > force[:, 1] + TOLERANCE))
        mismatched = checked & ~_agree(w, _EXECUTION, force)
        tally.checked += int(checked.sum())
        tally.outside += int(outside.sum())
        tally.mismatched += int(mismatched.sum())
        tally._note(seq, outside | mismatched)
    return tally


def _underlying(run_dir: Path, caused: np.ndarray) -> Tally:
    quotes = _tagged(run_dir / f"{EQUITY_QUOTE.file_stem}.parquet",
                     ["seq", "underlying_id", "bid", "ask", "ts"], "underlying_id", True)
    prints = _option_prints(run_dir, "underlying_id", _UNDERLYING)
    tally = Tally()
    for w, quote, force in _joined(quotes, prints, ("bid", "ask", "ts")):
        checked = _checked(w, quote, caused)
        mismatched = checked & ~_agree(w, _UNDERLYING, force)
        tally.checked += int(checked.sum())
        tally.mismatched += int(mismatched.sum())
        tally._note(w.column("seq").to_numpy(), mismatched)
    return tally
