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


class _Keys:
    """Codes of the keys (symbols or contract ids) prints carry: key ``keys[i]`` has
    code ``i`` and a null key code ``len(keys)``; a quote of another key is no print's
    quote in force, so the join drops it."""

    def __init__(self, keys: pa.Array) -> None:
        self.keys = pc.unique(pc.cast(keys, pa.string())).drop_null()
        self.null = len(self.keys)

    def codes(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Each row's code (int64), -1 for a key no print carries; the strings are
        looked up once per distinct value (dictionary-encoded columns)."""
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
        found = pc.index_in(pc.cast(encoded.dictionary, pa.string()), value_set=self.keys)
        lookup = np.append(found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64),
                           self.null)
        return lookup[encoded.indices.fill_null(len(lookup) - 1).to_numpy(
            zero_copy_only=False)]


def _num(t: pa.Table, name: str) -> np.ndarray:
    """A column as float64 with NaN for null."""
    return pc.fill_null(t.column(name).cast(pa.float64()), np.nan).to_numpy()


def _prints(run_dir: Path, kind: EventKind, key: str, columns: list[str]) -> pa.Table:
    """A print file's ``columns`` (``seq`` and ``key`` among them) in seq order (stable)."""
    t = streaming(run_dir / f"{kind.file_stem}.parquet").read(columns=columns)
    seq = t.column("seq").to_numpy()
    if len(seq) > 1 and not bool(np.all(seq[1:] >= seq[:-1])):
        t = t.take(pa.array(np.argsort(seq, kind="stable")))
    return t


def _in_force(path: Path, key: str, values: tuple[str, ...], keys: _Keys,
              print_seq: np.ndarray, print_code: np.ndarray) -> np.ndarray:
    """For each print (``print_seq`` ascending, its key's ``print_code``), the
    ``values`` of the last quote of the same key before it in seq order (a quote with
    the print's own seq counts as before it): float64 of shape (prints, values), NaN
    where none. The quote file is read a batch at a time, only ``seq``, ``key`` (as
    dictionary codes) and ``values``; quotes of keys no print carries are dropped."""
    out = np.full((len(print_seq), len(values)), np.nan)
    if not len(print_seq):
        return out
    last = np.full((keys.null + 1, len(values)), np.nan)  # per key, its last quote so far
    done = 0  # prints resolved so far
    pf = streaming(path, read_dictionary=[key])
    for batch in pf.iter_batches(batch_size=BATCH, columns=["seq", key, *values]):
        t = pa.Table.from_batches([batch])
        code = keys.codes(t.column(key))
        rows = np.flatnonzero(code >= 0)
        if rows.size == 0:
            continue
        seq, code = t.column("seq").to_numpy()[rows], code[rows]
        value = np.stack([_num(t, c)[rows] for c in values], 1)
        order = np.lexsort((seq, code))  # by key, then seq
        seq, code, value = seq[order], code[order], value[order]
        first = int(seq.min())
        # prints before every quote of this batch: the quotes in force so far
        start = int(np.searchsorted(print_seq, first, side="left"))
        out[done:start] = last[print_code[done:start]]
        done = max(done, start)
        stop = int(np.searchsorted(print_seq, int(seq.max()), side="right"))
        if stop > done:
            ps, pc_ = print_seq[done:stop], print_code[done:stop]
            base = min(first, int(ps[0]))
            span = max(int(seq.max()), int(ps[-1])) - base + 1
            at = np.searchsorted(code * span + (seq - base), pc_ * span + (ps - base),
                                 side="right") - 1
            mine = (at >= 0) & (code[np.maximum(at, 0)] == pc_)
            out[done:stop] = np.where(mine[:, None], value[np.maximum(at, 0)], last[pc_])
            done = stop
        ends = np.flatnonzero(np.append(code[1:] != code[:-1], True))
        last[code[ends]] = value[ends]
    out[done:] = last[print_code[done:]]
    return out


def _equity(run_dir: Path, caused: np.ndarray) -> Tally:
    w = _prints(run_dir, EQUITY_PRINT, "underlying_id",
                ["seq", "underlying_id", "price", "offExchangeFlag"])
    keys = _Keys(w.column("underlying_id"))
    seq = w.column("seq").to_numpy()
    force = _in_force(run_dir / f"{EQUITY_QUOTE.file_stem}.parquet", "underlying_id",
                      ("bid", "ask"), keys, seq, keys.codes(w.column("underlying_id")))
    price = _num(w, "price")
    lit = ~pc.fill_null(w.column("offExchangeFlag"), True).to_numpy(
        zero_copy_only=False) & ~np.isin(seq, caused)
    bid, ask = force[:, 0], force[:, 1]
    unquoted = lit & np.isnan(bid)
    outside = lit & ~unquoted & ((price < bid - TOLERANCE) | (price > ask + TOLERANCE))
    tally = Tally(checked=int(lit.sum()), unquoted=int(unquoted.sum()),
                  outside=int(outside.sum()))
    tally._note(seq, unquoted | outside)
    return tally


def _plain(conditions: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per print: no special condition among its conditions (null or empty: none)."""
    if isinstance(conditions, pa.ChunkedArray):
        conditions = (conditions.combine_chunks() if conditions.num_chunks
                      else pa.array([], conditions.type))
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


def _option_prints(run_dir: Path, key: str, recorded: tuple[str, ...],
                   quotes: EventKind, values: tuple[str, ...], caused: np.ndarray,
                   ) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """Option prints (seq order) with, per print, the quote in force of its ``key``
    among ``quotes`` (their ``values``), and which prints the rule binds: no special
    condition, not caused by an injected scenario. Returns (prints, seq, in force,
    bound)."""
    w = _prints(run_dir, OPTION_PRINT, key, ["seq", key, "price", "conditions", *recorded])
    keys = _Keys(w.column(key))
    seq = w.column("seq").to_numpy()
    force = _in_force(run_dir / f"{quotes.file_stem}.parquet", key, values, keys, seq,
                      keys.codes(w.column(key)))
    checked = _plain(w.column("conditions")) & ~np.isin(seq, caused)
    return w, seq, force, checked


def _options(run_dir: Path, caused: np.ndarray) -> Tally:
    w, seq, force, checked = _option_prints(run_dir, "option_contract_id", _EXECUTION,
                                            OPTION_NBBO, _NBBO, caused)
    price = _num(w, "price")
    quoted = checked & ~np.isnan(force[:, 0])
    outside = quoted & ((price < force[:, 0] - TOLERANCE) | (price > force[:, 1] + TOLERANCE))
    mismatched = checked & ~_agree(w, _EXECUTION, force)
    tally = Tally(checked=int(checked.sum()), outside=int(outside.sum()),
                  mismatched=int(mismatched.sum()))
    tally._note(seq, outside | mismatched)
    return tally


def _underlying(run_dir: Path, caused: np.ndarray) -> Tally:
    w, seq, force, checked = _option_prints(run_dir, "underlying_id", _UNDERLYING,
                                            EQUITY_QUOTE, ("bid", "ask", "ts"), caused)
    mismatched = checked & ~_agree(w, _UNDERLYING, force)
    tally = Tally(checked=int(checked.sum()), mismatched=int(mismatched.sum()))
    tally._note(seq, mismatched)
    return tally
