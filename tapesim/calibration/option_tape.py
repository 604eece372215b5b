"""The option side of a run directory's tape for the scorecard: contracts and prints.

:class:`Contracts` parses every contract id a run names once (root, strike, right,
days to expiry, the expiry's close); :func:`load_prints` reads the window's option
prints in replay order as arrays indexed by those contracts. The NBBO side is
:mod:`tapesim.calibration.option_nbbo`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim.calibration import stats as st
from tapesim.calibration.tape import NEW_YORK, Session, read_sorted
from tapesim.events.contracts import parse_contract_id

__all__ = ["PRINT_COLUMNS", "Contracts", "OptionPrints", "distinct_ids", "float_column",
           "id_dataset", "load_prints"]

MULTI_LEG = ("COMPLEX", "SPREAD")
EXPIRY_CLOSE = dt.time(16, 0)
_ID = "option_contract_id"
PRINT_COLUMNS = ["ts", "seq", _ID, "size", "exchange"]
OPTIONAL_PRINT_COLUMNS = ["conditions", "execution_underlying_mid", "execution_iv"]


@dataclass(frozen=True)
class Contracts:
    """Every contract a run names, sorted by id; arrays are per contract."""

    ids: pa.Array
    root: np.ndarray  # str per contract
    strike: st.FloatArray
    put: np.ndarray
    dte: st.IntArray
    expiry_ms: st.IntArray  # 16:00 New York on the expiry date

    @classmethod
    def of(cls, ids: set[str], date: dt.date) -> Contracts:
        """The contracts named by ``ids`` (either contract-id form, CONTRACT.md §1), sorted
        by id, with days to expiry counted from the session ``date`` and each expiry's
        16:00 New York close in epoch ms. Raises ``ValueError`` on an id that does not
        parse (:func:`tapesim.events.contracts.parse_contract_id`).
        """
        names = sorted(ids)
        parsed = [parse_contract_id(i) for i in names]  # once per contract, not per row
        expiry = [dt.datetime.combine(c.expiry, EXPIRY_CLOSE, tzinfo=NEW_YORK) for c in parsed]
        return cls(
            pa.array(names, pa.string()),
            np.array([c.root for c in parsed], dtype=object),
            np.array([c.strike for c in parsed], dtype=np.float64),
            np.array([c.right == "P" for c in parsed], dtype=bool),
            np.array([(c.expiry - date).days for c in parsed], dtype=np.int64),
            np.array([int(e.timestamp() * 1000) for e in expiry], dtype=np.int64),
        )

    def codes(self, column: pa.ChunkedArray | pa.Array) -> st.IntArray:
        """Each row's contract index (-1 for an id not listed here)."""
        idx = pc.index_in(column, value_set=self.ids)
        return idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass(frozen=True)
class OptionPrints:
    """The run's option prints inside the window, in replay order."""

    ts: st.IntArray
    code: st.IntArray
    size: st.FloatArray
    venue: st.IntArray  # index into ``venues``
    venues: list[str]
    multi_leg: np.ndarray
    spot: st.FloatArray  # execution_underlying_mid, NaN when missing
    iv: st.FloatArray  # execution_iv, NaN when missing

    @classmethod
    def empty(cls) -> OptionPrints:
        """No prints: every array of length 0 (a symbol without option prints)."""
        i, f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(i, i, f, i, [], np.zeros(0, dtype=bool), f, f)

    def subset(self, mask: np.ndarray) -> OptionPrints:
        """The prints where the bool array ``mask`` (one entry per print) is true, in the
        same order; the venue list is shared.
        """
        return OptionPrints(self.ts[mask], self.code[mask], self.size[mask], self.venue[mask],
                            self.venues, self.multi_leg[mask], self.spot[mask], self.iv[mask])


def id_dataset(path: Path, columns: list[str]) -> ds.Dataset | None:
    """The Parquet dataset at ``path`` if it exists and has ``columns`` (None otherwise),
    its ``option_contract_id`` read dictionary-encoded."""
    if not path.exists():
        return None
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=[_ID]))
    dataset = ds.dataset(path, format=fmt)
    return dataset if set(columns) <= set(dataset.schema.names) else None


def distinct_ids(dataset: ds.Dataset | None) -> set[str]:
    """Every ``option_contract_id`` in ``dataset`` (empty for None)."""
    out: set[str] = set()
    for batch in [] if dataset is None else dataset.to_batches(columns=[_ID]):
        col = batch.column(0)
        out.update((col.dictionary if pa.types.is_dictionary(col.type) else pc.unique(col))
                   .to_pylist())
    return out


def float_column(table: pa.Table, name: str) -> st.FloatArray:
    """Column ``name`` of ``table`` as float64 numpy, nulls as NaN."""
    col = table.column(name).cast(pa.float64())
    return col.fill_null(math.nan).to_numpy(zero_copy_only=False).astype(np.float64)


def load_prints(dataset: ds.Dataset, c: Contracts, session: Session) -> OptionPrints:
    """The option prints with ``start_ts <= ts < end_ts`` (epoch ms UTC) from an
    ``option_prints`` dataset, in replay (``seq``) order.

    Each print gets its contract's index in ``c`` (-1 for an id ``c`` does not list),
    its size in contracts (float64), its exchange as an index into the venue codes in
    order of first appearance, whether any of its conditions is COMPLEX or SPREAD
    (multi-leg), and its ``execution_underlying_mid`` (dollars) and ``execution_iv``;
    those two and ``conditions`` are optional in the contract, and a column the file
    lacks reads as null (NaN, no conditions).

    Raises:
        pyarrow.ArrowInvalid: a column of ``PRINT_COLUMNS`` is missing (callers open the
            dataset with :func:`id_dataset`, which checks them).
    """
    flt = (pc.field("ts") >= session.start_ts) & (pc.field("ts") < session.end_ts)
    present = [n for n in OPTIONAL_PRINT_COLUMNS if n in dataset.schema.names]
    t = read_sorted(dataset, PRINT_COLUMNS + present, flt)
    missing = {"conditions": pa.list_(pa.string()), "execution_underlying_mid": pa.float64(),
               "execution_iv": pa.float64()}
    for name, type_ in missing.items():  # optional in the contract: absent means null
        if name not in present:
            t = t.append_column(name, pa.nulls(t.num_rows, type_))
    venue = pc.dictionary_encode(t.column("exchange").cast(pa.string()).combine_chunks())
    cond = t.column("conditions").combine_chunks()
    tagged = pc.is_in(pc.list_flatten(cond), value_set=pa.array(MULTI_LEG)).to_numpy(
        zero_copy_only=False)
    parents = pc.list_parent_indices(cond).to_numpy(zero_copy_only=False)
    multi = np.bincount(parents[tagged], minlength=t.num_rows)[: t.num_rows] > 0
    return OptionPrints(
        t.column("ts").to_numpy(),
        c.codes(t.column(_ID)),
        float_column(t, "size"),
        venue.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        venue.dictionary.to_pylist(),
        multi,
        float_column(t, "execution_underlying_mid"),
        float_column(t, "execution_iv"),
    )
