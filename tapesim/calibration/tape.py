"""Reading a run directory's tape for the scorecard: session, NBBO and prints per symbol.

Only the columns a statistic needs are read, filtered on ``underlying_id``, and put
in replay (``seq``) order; prices become float dollars, spreads ticks of
``TICK`` dollars. Used by :mod:`tapesim.calibration.facts` and
:mod:`tapesim.calibration.options_facts`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim.calibration import stats as st

TICK = 0.01  # dollars: the stocks' quoting increment
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Session:
    """The trading session of a run (``manifest.json`` ``"session"``), epoch ms UTC."""

    date: dt.date
    open_ts: int
    close_ts: int
    start_ts: int
    end_ts: int

    @property
    def covers_session(self) -> bool:
        """Whether the simulated window spans the whole open-to-close session."""
        return self.start_ts <= self.open_ts and self.end_ts >= self.close_ts

    def ny_ms(self, clock: dt.time) -> int:
        """Epoch ms of a New York wall-clock time on the session date."""
        return int(dt.datetime.combine(self.date, clock, tzinfo=NEW_YORK).timestamp() * 1000)


@dataclass(frozen=True)
class Quotes:
    """A symbol's NBBO changes in replay order, and the two-sided ones with their mid."""

    ts: st.IntArray
    seq: st.IntArray
    spread_ticks: st.FloatArray
    valid: np.ndarray
    mid_ts: st.IntArray
    mid_seq: st.IntArray
    mid: st.FloatArray


@dataclass(frozen=True)
class Prints:
    """A symbol's prints inside the simulated window, in replay order."""

    ts: st.IntArray
    seq: st.IntArray
    price: st.FloatArray
    size: st.IntArray
    off_exchange: np.ndarray
    trace_id: pa.Array | None


def read_manifest(run_dir: Path) -> tuple[Session, list[str]]:
    """The session and symbol list of a run directory's ``manifest.json``.

    Raises ``FileNotFoundError`` when there is no manifest, ``json.JSONDecodeError``
    when it is not JSON, and ``ValueError`` when its ``session`` or ``symbols`` field
    is missing or malformed (see docs/DATA.md for the keys).
    """
    path = Path(run_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    try:
        s = manifest["session"]
        session = Session(
            dt.date.fromisoformat(s["date"]),
            *(int(s[k]) for k in ("open_ts", "close_ts", "start_ts", "end_ts")),
        )
        symbols = [str(x) for x in manifest["symbols"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad or missing session/symbols field ({exc!r})") from exc
    return session, symbols


def source_lacks(run_dir: Path) -> tuple[str, ...]:
    """What an imported run's source does not carry (``manifest.json`` ``source.lacks``,
    in words such as ``parent orders``); empty for a simulated run."""
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    source = manifest.get("source") or {}
    return tuple(str(x) for x in source.get("lacks", ()))


def read_sorted(dataset: ds.Dataset, columns: list[str], flt: pc.Expression) -> pa.Table:
    """Selected columns of the filtered rows, in replay (``seq``) order."""
    table = dataset.to_table(columns=columns, filter=flt)
    seq = table.column("seq").to_numpy()
    if seq.size > 1 and not bool(np.all(np.diff(seq) > 0)):
        table = table.sort_by("seq")
    return table


def load_quotes(dataset: ds.Dataset, symbol: str, session: Session) -> Quotes:
    """A symbol's NBBO changes before the window's end from an ``equity_quotes`` dataset."""
    flt = (pc.field("underlying_id") == symbol) & (pc.field("ts") < session.end_ts)
    t = read_sorted(dataset, ["ts", "seq", "bid", "ask"], flt)
    ts, seq = t.column("ts").to_numpy(), t.column("seq").to_numpy()
    bid = t.column("bid").to_numpy(zero_copy_only=False).astype(np.float64)
    ask = t.column("ask").to_numpy(zero_copy_only=False).astype(np.float64)
    valid = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0)
    return Quotes(
        ts, seq, (ask - bid) / TICK, valid, ts[valid], seq[valid], 0.5 * (bid + ask)[valid]
    )


def load_prints(dataset: ds.Dataset, symbol: str, session: Session, with_ids: bool) -> Prints:
    """A symbol's prints inside the window from an ``equity_prints`` dataset; with
    ``with_ids`` their trace ids too (to join provenance)."""
    flt = (
        (pc.field("underlying_id") == symbol)
        & (pc.field("ts") >= session.start_ts)
        & (pc.field("ts") < session.end_ts)
    )
    cols = ["ts", "seq", "price", "size", "offExchangeFlag"] + (["trace_id"] if with_ids else [])
    t = read_sorted(dataset, cols, flt)
    return Prints(
        t.column("ts").to_numpy(),
        t.column("seq").to_numpy(),
        t.column("price").to_numpy(zero_copy_only=False).astype(np.float64),
        t.column("size").to_numpy(zero_copy_only=False).astype(np.int64),
        t.column("offExchangeFlag").to_numpy(zero_copy_only=False).astype(bool),
        t.column("trace_id").combine_chunks() if with_ids else None,
    )


def load_parents(run_dir: Path) -> pa.Table | None:
    """Provenance rows that belong to a parent order: ``trace_id``, ``parent_order_id``."""
    path = Path(run_dir) / "provenance.parquet"
    if not path.exists():
        return None
    dataset = ds.dataset(path, format="parquet")
    if not {"trace_id", "parent_order_id"} <= set(dataset.schema.names):
        return None
    return dataset.to_table(
        columns=["trace_id", "parent_order_id"], filter=pc.field("parent_order_id").is_valid()
    )
