"""Row checks of the option kinds: OPRA NBBO changes and enriched option prints.

Each function checks one batch at once (numpy over every row) and returns its
problems, one line each naming the file and, after ``AT_SEQ``, the first offending
seq. Contract ids are parsed once per distinct id (:class:`ContractIds` keeps them
across batches). Option prints are checked for self-consistency: every enrichment
field must be what the contract's rules give from the print's own fields
(notional, execution NBBO mid/spread/age, placement, signal filter, contract type
and root).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tapesim.config.options import PennyClass
from tapesim.events.contracts import parse_contract_id
from tapesim.events.enrichment import CONDITIONS, is_etf, nbbo_side, signal_filter
from tapesim.events.models import OPTION_NBBO, OPTION_PRINT
from tapesim.venues.chains import mpv_of, off_mpv_grid

TOLERANCE = 1e-6
AT_SEQ = " (first at seq "
NBBO_FILE = f"{OPTION_NBBO.file_stem}.parquet"
PRINT_FILE = f"{OPTION_PRINT.file_stem}.parquet"
SIGNAL_MODES = ("smart-flow", "balanced", "all")
IV_SOURCES = ("provider", "synthetic_pressure_model")
UNDERLYING_SOURCE = "equity_quote_mid"
MPV_RULE = ("the root's penny-interval class: $0.01 on QQQ, SPY, IWM; $0.01 below $3, "
            "$0.05 at or above on penny classes; $0.05 / $0.10 on non-penny classes")
# Enrichment fields tapesim fills on every option print.
ALWAYS_FILLED = ("conditions", "underlying_id", "option_type", "notional", "nbbo_side",
                 "execution_nbbo_side", "is_etf", "signal_pass", "signal_reasons",
                 "signal_profile")
EXECUTION_NBBO = tuple(f"execution_nbbo_{s}" for s in (
    "bid", "ask", "mid", "spread", "bid_size", "ask_size", "ts", "age_ms"))
EXECUTION_UNDERLYING = tuple(f"execution_underlying_{s}" for s in (
    "spot", "bid", "ask", "mid", "spread", "ts", "age_ms"))
_OTHER_CONDITION = re.compile(r"TEST|EVENT_\d+D")


@dataclass(frozen=True)
class Contracts:
    """Per row of a batch: what its option_contract_id says. The roots and types (Python
    strings, slow to gather) are looked up when first asked for: only prints need them."""

    parsed: np.ndarray  # bool: the id parses
    below: np.ndarray  # int64: the MPV in cents below $3 (1 where the id does not parse)
    above: np.ndarray  # int64: the MPV in cents at or above $3 (1 where it does not parse)
    foreign: np.ndarray  # bool: the id parses but its root is not a symbol of the run
    code: np.ndarray  # int64: each row's contract code (:class:`ContractIds`)
    names: tuple[np.ndarray, np.ndarray]  # object per code: its root and its type

    @property
    def roots(self) -> np.ndarray:
        """object: the root, None where the id does not parse."""
        return self.names[0][self.code]

    @property
    def types(self) -> np.ndarray:
        """object: "call" | "put", None where the id does not parse."""
        return self.names[1][self.code]


@dataclass
class ContractIds:
    """Contract ids of a run, each parsed once and given a code: what an id says is held
    in arrays indexed by code (code 0 stands for null), so a batch's rows are looked up
    with numpy, and a batch whose dictionary is the previous batch's (batches of one
    Parquet row group read dictionary-encoded) maps no id again.

    ``classes`` is the run config's ``options.penny_classes`` (root -> penny-interval
    class), the overrides of each root's default MPV class.
    """

    symbols: frozenset[str]
    classes: Mapping[str, PennyClass] = field(default_factory=dict)
    _codes: dict[str, int] = field(default_factory=dict)
    _said: list[tuple[bool, str | None, str | None, int, int, bool]] = field(
        default_factory=lambda: [(False, None, None, 1, 1, False)])
    _arrays: tuple[np.ndarray, ...] = ()
    _last: tuple[pa.Array, np.ndarray] | None = None
    _known: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))

    def _code(self, text: str) -> int:
        code = self._codes.get(text)
        if code is None:
            try:
                contract = parse_contract_id(text)
            except ValueError:
                said: tuple[bool, str | None, str | None, int, int, bool] = (
                    False, None, None, 1, 1, False)
            else:
                mpv = mpv_of(contract.root, self.classes)
                said = (True, contract.root, contract.option_type, mpv.below_cents,
                        mpv.above_cents, contract.root not in self.symbols)
            code = self._codes[text] = len(self._said)
            self._said.append(said)
        return code

    def codes(self, dictionary: pa.Array) -> np.ndarray:
        """The code of each value of ``dictionary`` (distinct strings, no nulls), int64;
        ids not seen before are parsed (one Python pass over the new ones only)."""
        dictionary = pc.cast(dictionary, pa.string())
        found = pc.index_in(dictionary, value_set=self._known)
        if found.null_count:
            new = pc.filter(dictionary, pc.is_null(found)).to_pylist()
            for text in new:
                self._code(text)
            self._known = pa.concat_arrays([self._known, pa.array(new, pa.string())])
            found = pc.index_in(dictionary, value_set=self._known)
        return found.to_numpy(zero_copy_only=False).astype(np.int64) + 1  # code 0: null

    def rows(self, column: pa.ChunkedArray | pa.Array) -> Contracts:
        """What each row's ``option_contract_id`` in ``column`` (strings, plain or
        dictionary-encoded) says, parsing only ids not seen before
        (:func:`tapesim.events.contracts.parse_contract_id`, either id form of
        CONTRACT.md §1). An id that does not parse, or a null, is unparsed: no root or
        type, not foreign, and only the penny grid is certain."""
        combined = _combined(column)
        encoded = (combined if pa.types.is_dictionary(combined.type)
                   else pc.dictionary_encode(combined))
        dictionary = encoded.dictionary
        if self._last is None or not dictionary.equals(self._last[0]):
            self._last = (dictionary, np.append(self.codes(dictionary), 0))
        if len(self._arrays) == 0 or len(self._arrays[0]) != len(self._said):
            columns = list(zip(*self._said, strict=True))
            self._arrays = (np.array(columns[0], dtype=bool),
                            np.array(columns[1], dtype=object),
                            np.array(columns[2], dtype=object),
                            np.array(columns[3], dtype=np.int64),
                            np.array(columns[4], dtype=np.int64),
                            np.array(columns[5], dtype=bool))
        index = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        g = self._last[1][index]
        parsed, roots, types, below, above, foreign = self._arrays
        return Contracts(parsed=parsed[g], below=below[g], above=above[g], foreign=foreign[g],
                         code=g, names=(roots, types))


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return column


def _strings(t: pa.Table, name: str) -> pa.Array:
    """A list-of-strings column with nullable items (the list kernels need them)."""
    return pc.cast(_combined(t.column(name)), pa.list_(pa.string()))


def _num(t: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64, nulls as NaN."""
    return pc.cast(t.column(name), pa.float64()).to_numpy(zero_copy_only=False)


def _objects(t: pa.Table, name: str) -> np.ndarray:
    return np.asarray(t.column(name).to_numpy(zero_copy_only=False), dtype=object)


def off_grid(prices: np.ndarray, c: Contracts) -> np.ndarray:
    """True where a price (dollars, NaN for none) is off its contract's minimum price
    variation grid: not a whole cent, or not a multiple of the root's MPV at its level
    (:func:`tapesim.venues.chains.off_mpv_grid`)."""
    cents = prices * 100.0
    whole = np.round(cents)
    return (np.abs(cents - whole) > TOLERANCE) | off_mpv_grid(whole, c.below, c.above)


class _Report(list[str]):
    def __init__(self, file: str, seq: np.ndarray) -> None:
        super().__init__()
        self.file = file
        self.seq = seq

    def flag(self, mask: np.ndarray, text: str) -> None:
        if mask.any():
            self.append(f"{self.file}: {text}{AT_SEQ}{int(self.seq[np.argmax(mask)])})")

    def contracts(self, t: pa.Table, ids: ContractIds) -> Contracts:
        column = t.column("option_contract_id")
        c = ids.rows(column)
        for mask, what in ((~c.parsed, "is neither ROOT-YYYY-MM-DD-STRIKE-C|P nor the OCC form"),
                           (c.foreign, "has a root outside the manifest's symbols")):
            if mask.any():
                self.flag(mask, f"option_contract_id {column[int(np.argmax(mask))].as_py()!r} "
                          f"{what}")
        return c


def option_nbbo_problems(t: pa.Table, ids: ContractIds,
                         faults: np.ndarray | None = None) -> list[str]:
    """Problems of one batch of OptionNBBO rows. ``faults`` are the seqs of quotes an
    injected feed fault caused: only those may be locked or crossed."""
    report = _Report(NBBO_FILE, t.column("seq").to_numpy())
    if t.num_rows == 0:
        return report
    c = report.contracts(t, ids)
    bid, ask = _num(t, "bid"), _num(t, "ask")
    bid_size, ask_size = t.column("bidSize").to_numpy(), t.column("askSize").to_numpy()
    excused = np.isin(report.seq, faults) if faults is not None and faults.size else False
    report.flag(bid < 0, "a quote with bid < 0")
    report.flag((bid >= ask) & ~excused, "a quote with bid >= ask (locked or crossed NBBO) "
                "that no injected feed fault caused")
    report.flag((bid_size < 0) | (ask_size < 0), "bidSize or askSize < 0")
    report.flag((bid > 0) != (bid_size > 0), "a zero bid with a bidSize or a bid with bidSize 0")
    report.flag(ask_size == 0, "an ask with askSize 0")
    report.flag(off_grid(bid, c), f"bid off the option MPV grid ({MPV_RULE})")
    report.flag(off_grid(ask, c), f"ask off the option MPV grid ({MPV_RULE})")
    return report


def option_print_problems(t: pa.Table, ids: ContractIds, venues: frozenset[str]) -> list[str]:
    """Problems of one batch of OptionPrint rows, enrichment included."""
    report = _Report(PRINT_FILE, t.column("seq").to_numpy())
    if t.num_rows == 0:
        return report
    flag = report.flag
    c = report.contracts(t, ids)
    ts, price, size = t.column("ts").to_numpy(), _num(t, "price"), t.column("size").to_numpy()
    flag(price <= 0, "a print with price <= 0")
    flag(size <= 0, "a print with size <= 0")
    flag(off_grid(price, c), f"price off the option MPV grid ({MPV_RULE})")
    unknown = set(t.column("exchange").unique().to_pylist()) - venues
    if unknown:
        report.append(f"{PRINT_FILE}: exchange {sorted(unknown)[0]!r} is not an options venue "
                      "of this run (manifest venues.options)")
    for name in ALWAYS_FILLED:
        flag(t.column(name).is_null().to_numpy(zero_copy_only=False),
             f"{name} is null (tapesim fills it on every print)")
    flag(c.parsed & (_objects(t, "option_type") != c.types),
         "option_type is not the call/put of option_contract_id")
    flag(c.parsed & (_objects(t, "underlying_id") != c.roots),
         "underlying_id is not the root of option_contract_id")
    etf = np.array([is_etf(r) if r else False for r in c.roots.tolist()], dtype=bool)
    flag(c.parsed & (_objects(t, "is_etf") != etf), "is_etf is not the ETF rule for the root")
    notional = _num(t, "notional")
    flag(~np.isnan(notional) & (np.round(notional * 100) != np.round(price * size * 10_000)),
         "notional is not price x size x 100 to the cent")
    sides = _check_execution(t, report, ts, price)
    _check_signal(t, report, size, notional, sides)
    return report


def _all_or_none(t: pa.Table, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rows where every field is present, rows where the fields disagree on presence)."""
    present = [t.column(n).is_valid().to_numpy(zero_copy_only=False) for n in names]
    every, partial = present[0].copy(), np.zeros(t.num_rows, dtype=bool)
    for p in present[1:]:
        every &= p
        partial |= p != present[0]
    return every, partial


def _check_execution(t: pa.Table, report: _Report, ts: np.ndarray,
                     price: np.ndarray) -> np.ndarray:
    """Execution NBBO, placement, underlying and IV fields; returns the recorded sides."""
    flag = report.flag
    have, partial = _all_or_none(t, EXECUTION_NBBO)
    flag(partial, "execution_nbbo_* fields are neither all present nor all null")
    q = {n.removeprefix("execution_nbbo_"): _num(t, n) for n in EXECUTION_NBBO}
    with np.errstate(invalid="ignore"):
        flag(have & (np.abs(q["mid"] - (q["bid"] + q["ask"]) / 2) > TOLERANCE),
             "execution_nbbo_mid is not the mid of execution_nbbo_bid and _ask")
        flag(have & (np.abs(q["spread"] - (q["ask"] - q["bid"])) > TOLERANCE),
             "execution_nbbo_spread is not execution_nbbo_ask - _bid")
        flag(have & (q["age_ms"] != ts - q["ts"]), "execution_nbbo_age_ms is not ts - "
             "execution_nbbo_ts")
    placed = nbbo_side(price, np.where(have, q["bid"], np.nan), np.where(have, q["ask"], np.nan),
                       ts, np.where(have, q["ts"], 0))
    sides = _objects(t, "nbbo_side")
    flag(sides != placed, "nbbo_side is not the placement rule applied to the execution NBBO")
    flag(_objects(t, "execution_nbbo_side") != sides, "execution_nbbo_side differs from nbbo_side")

    have_u, partial_u = _all_or_none(t, (*EXECUTION_UNDERLYING, "execution_underlying_source"))
    flag(partial_u, "execution_underlying_* fields are neither all present nor all null")
    u = {n.removeprefix("execution_underlying_"): _num(t, n) for n in EXECUTION_UNDERLYING}
    with np.errstate(invalid="ignore"):
        wrong = ((np.abs(u["mid"] - (u["bid"] + u["ask"]) / 2) > TOLERANCE)
                 | (np.abs(u["spot"] - u["mid"]) > TOLERANCE)
                 | (np.abs(u["spread"] - (u["ask"] - u["bid"])) > TOLERANCE)
                 | (u["age_ms"] != ts - u["ts"])
                 | (_objects(t, "execution_underlying_source") != UNDERLYING_SOURCE))
    flag(have_u & wrong, "execution_underlying_* are not the quote's mid, spot = mid, "
         "ask - bid, ts - quote ts and source equity_quote_mid")

    have_iv, partial_iv = _all_or_none(t, ("execution_iv", "execution_iv_source"))
    flag(partial_iv, "execution_iv and execution_iv_source are not both present or both null")
    with np.errstate(invalid="ignore"):
        flag(_num(t, "execution_iv") < 0, "execution_iv < 0")
    known = pc.is_in(t.column("execution_iv_source"), value_set=pa.array(IV_SOURCES))
    flag(have_iv & ~known.to_numpy(zero_copy_only=False),
         f"execution_iv_source is not one of {IV_SOURCES}")
    return sides


def _check_signal(t: pa.Table, report: _Report, size: np.ndarray, notional: np.ndarray,
                  sides: np.ndarray) -> None:
    """Conditions, and signal_pass/signal_reasons against the filter of signal_profile."""
    conditions = _strings(t, "conditions")
    flat = pc.list_flatten(conditions)
    odd = [x for x in pc.unique(flat).to_pylist()
           if x not in CONDITIONS and not _OTHER_CONDITION.fullmatch(x)]
    if odd:
        report.append(f"{PRINT_FILE}: condition {odd[0]!r} is not a trade condition of the "
                      "contract")
    sweep = np.zeros(t.num_rows, dtype=bool)
    hit = pc.is_in(flat, value_set=pa.array(["SWEEP", "ISO"])).to_numpy(zero_copy_only=False)
    sweep[pc.list_parent_indices(conditions).to_numpy()[hit]] = True
    etf = t.column("is_etf").fill_null(False).to_numpy(zero_copy_only=False)
    passed_col = _objects(t, "signal_pass")
    reasons_col = np.asarray(pc.binary_join(_strings(t, "signal_reasons"), "|")
                             .to_numpy(zero_copy_only=False), dtype=object)
    profiles = _objects(t, "signal_profile")
    bad_pass = np.zeros(t.num_rows, dtype=bool)
    bad_reasons = np.zeros(t.num_rows, dtype=bool)
    for mode in t.column("signal_profile").drop_null().unique().to_pylist():
        rows = profiles == mode
        if mode not in SIGNAL_MODES:
            report.flag(rows, f"signal_profile {mode!r} is not one of {SIGNAL_MODES}")
            continue
        passed, reasons = signal_filter(notional[rows], size[rows], sides[rows], etf[rows],
                                        sweep[rows], mode)
        bad_pass[rows] = passed_col[rows] != passed
        joined = np.array(["|".join(r) for r in reasons], dtype=object)
        bad_reasons[rows] = reasons_col[rows] != joined
    report.flag(bad_pass, "signal_pass is not what the signal filter of signal_profile gives")
    report.flag(bad_reasons, "signal_reasons are not what the signal filter of signal_profile "
                "gives")
