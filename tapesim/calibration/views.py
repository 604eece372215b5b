"""The arrays behind the comparison figures and the tape-anatomy notebook.

Each view is what a practitioner looks at first on one symbol of a run (simulated or
imported): a few minutes of the NBBO with the prints on it, one-minute returns, trade
durations, the intraday volume and spread per minute, print sizes; for an options
run, option volume by days to expiry and by moneyness. The statistics are the
scorecard's own (:mod:`tapesim.calibration.stats`, :mod:`~tapesim.calibration.microstructure`,
:func:`~tapesim.calibration.facts.minute_returns`); this module only slices and bins.
Times are epoch ms UTC, prices dollars, sizes shares (contracts for options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

from tapesim.calibration import microstructure as ms
from tapesim.calibration import stats as st
from tapesim.calibration.facts import MINUTE_MS, minute_returns
from tapesim.calibration.option_tape import (
    PRINT_COLUMNS,
    Contracts,
    OptionPrints,
    distinct_ids,
    id_dataset,
)
from tapesim.calibration.option_tape import (
    load_prints as load_option_prints,
)
from tapesim.calibration.options_facts import (
    ATM_DIST,
    FAR_DIST,
    LONG_DTE,
    WEEK_DTE,
    front_nbbo,
)
from tapesim.calibration.skew import smile
from tapesim.calibration.tape import (
    TICK,
    Prints,
    Quotes,
    Session,
    load_prints,
    load_quotes,
    read_manifest,
    read_sorted,
)

#: Days-to-expiry buckets of the option volume view: (label, lowest, highest) inclusive.
DTE_BUCKETS = (("0", 0, 0), ("1-7", 1, WEEK_DTE), ("8-30", WEEK_DTE + 1, 30),
               ("31-60", 31, LONG_DTE), (">60", LONG_DTE + 1, 1 << 30))
#: Moneyness (K / S - 1) bucket edges and labels of the option volume view.
MONEYNESS_EDGES = (-np.inf, -FAR_DIST, -ATM_DIST, ATM_DIST, FAR_DIST, np.inf)
MONEYNESS_LABELS = ("< -10%", "-10..-2.5%", "ATM", "2.5..10%", "> 10%")


@dataclass(frozen=True)
class SymbolTape:
    """One symbol's NBBO and prints of a run directory, as the scorecard loads them."""

    symbol: str
    session: Session
    quotes: Quotes
    prints: Prints

    @classmethod
    def load(cls, run_dir: Path, symbol: str) -> SymbolTape:
        """Read ``symbol`` from ``run_dir``'s ``equity_quotes`` and ``equity_prints``.

        Raises ``ValueError`` for a symbol the manifest does not list, or as
        :func:`~tapesim.calibration.tape.read_manifest` does.
        """
        run_dir = Path(run_dir)
        session, listed = read_manifest(run_dir)
        if symbol not in listed:
            raise ValueError(f"{symbol} is not in {run_dir}: choose from {', '.join(listed)}")
        quotes = load_quotes(ds.dataset(run_dir / "equity_quotes.parquet"), symbol, session)
        prints = load_prints(ds.dataset(run_dir / "equity_prints.parquet"), symbol, session,
                             with_ids=False)
        return cls(symbol, session, quotes, prints)


@dataclass(frozen=True)
class Zoom:
    """A few minutes of the tape: the two-sided NBBO (ts, bid, ask) and the prints
    (ts, price, off-exchange flag) with ``lo <= ts < hi``."""

    lo: int
    hi: int
    quote_ts: st.IntArray
    bid: st.FloatArray
    ask: st.FloatArray
    print_ts: st.IntArray
    price: st.FloatArray
    off_exchange: np.ndarray

    @property
    def price_changes(self) -> int:
        """NBBO price changes in the zoom (:func:`microstructure.price_change_mask`)."""
        return int(ms.price_change_mask(0.5 * (self.bid + self.ask),
                                        self.ask - self.bid).sum())


def zoom(tape: SymbolTape, minutes: int = 5, offset_minutes: int = 3) -> Zoom:
    """``minutes`` of the tape from ``offset_minutes`` after the window's start (from the
    start itself when the window is too short for the offset)."""
    s = tape.session
    lo = s.start_ts + offset_minutes * MINUTE_MS
    if lo + minutes * MINUTE_MS > s.end_ts:
        lo = s.start_ts
    hi = lo + minutes * MINUTE_MS
    q, p = tape.quotes, tape.prints
    valid_ts = q.ts[q.valid]
    half = 0.5 * q.spread_ticks[q.valid] * TICK
    qz = (valid_ts >= lo) & (valid_ts < hi)
    pz = (p.ts >= lo) & (p.ts < hi)
    return Zoom(lo, hi, valid_ts[qz], (q.mid - half)[qz], (q.mid + half)[qz], p.ts[pz],
                p.price[pz], p.off_exchange[pz])


def returns_1m(tape: SymbolTape) -> st.FloatArray:
    """The one-minute log returns of the mid the return facts use (finite ones only)."""
    r, _volume = minute_returns(tape.quotes, tape.prints, tape.session)
    return r[np.isfinite(r)]


def positive_durations(tape: SymbolTape) -> st.FloatArray:
    """Milliseconds between consecutive prints, the positive ones (same-ms pairs are
    the ``duration_same_ms_share`` fact)."""
    gaps = np.diff(tape.prints.ts).astype(np.float64)
    return gaps[gaps > 0]


def minute_profile(tape: SymbolTape) -> tuple[st.FloatArray, st.FloatArray]:
    """Volume (shares) and time-weighted spread (ticks) of each minute of the window.

    Spreads are those of two-sided quotes in force
    (:func:`~tapesim.calibration.microstructure.window_spread`); a minute with no quote
    in force has NaN.
    """
    s, q, p = tape.session, tape.quotes, tape.prints
    n = max(0, (s.end_ts - s.start_ts) // MINUTE_MS)
    volume = st.bar_sums(p.ts, p.size, s.start_ts, MINUTE_MS, n)
    ticks = np.where(q.valid, q.spread_ticks, np.nan)
    starts = s.start_ts + MINUTE_MS * np.arange(n, dtype=np.int64)
    spread = np.array([ms.window_spread(q.ts, ticks, int(lo), int(lo) + MINUTE_MS)
                       for lo in starts])
    return volume, spread


@dataclass(frozen=True)
class OptionVolume:
    """Option contracts traded by days-to-expiry bucket (:data:`DTE_BUCKETS`) and by
    moneyness bucket (:data:`MONEYNESS_LABELS`; prints without an underlying mid left
    out)."""

    by_dte: st.FloatArray
    by_moneyness: st.FloatArray


def option_volume(run_dir: Path, symbol: str) -> OptionVolume | None:
    """One underlying's option volume by DTE and moneyness; None when the run has no
    option prints of it. DTE and moneyness as the options facts count them."""
    run_dir = Path(run_dir)
    path = run_dir / "option_prints.parquet"
    if not path.exists():
        return None
    dataset = ds.dataset(path, format="parquet")
    if not set(PRINT_COLUMNS) <= set(dataset.schema.names):
        return None
    session, _listed = read_manifest(run_dir)
    ids = set(dataset.to_table(columns=["option_contract_id"]).column(0).unique().to_pylist())
    c = Contracts.of(ids, session.date)
    p: OptionPrints = load_option_prints(dataset, c, session)
    p = p.subset(c.root[p.code] == symbol)
    if p.size.size == 0:
        return None
    dte = c.dte[p.code]
    by_dte = np.array([p.size[(dte >= lo) & (dte <= hi)].sum() for _n, lo, hi in DTE_BUCKETS])
    has_spot = np.isfinite(p.spot) & (p.spot > 0)
    money = c.strike[p.code][has_spot] / p.spot[has_spot] - 1.0
    by_money = np.histogram(money, bins=np.array(MONEYNESS_EDGES),
                            weights=p.size[has_spot])[0]
    return OptionVolume(by_dte.astype(np.float64), by_money.astype(np.float64))


#: Where in the window the smiles are taken: a sixth in, the middle, a sixth before
#: the end (10:35, 12:45 and 14:55 New York over a whole session).
SMILE_FRACTIONS = (1 / 6, 1 / 2, 5 / 6)


def option_smiles(run_dir: Path, symbol: str) -> list[tuple[int, st.FloatArray,
                                                          st.FloatArray]]:
    """The quoted smile of ``symbol``'s nearest front expiry at three times of the
    window (:data:`SMILE_FRACTIONS`): ``(epoch ms, K / S - 1, mid IV)`` each, from the
    option NBBO in force and the stock's mid then
    (:func:`tapesim.calibration.skew.smile`); empty when the run quotes no front
    contract of it."""
    run_dir = Path(run_dir)
    columns = ["ts", "seq", "option_contract_id", "bid", "ask"]
    nbbo_ds = id_dataset(run_dir / "option_nbbo.parquet", columns)
    eq_path = run_dir / "equity_quotes.parquet"
    if nbbo_ds is None or not eq_path.exists():
        return []
    session, _listed = read_manifest(run_dir)
    c = Contracts.of(distinct_ids(nbbo_ds), session.date)
    ids = c.ids.filter(np.asarray(c.root == symbol))
    if len(ids) == 0:
        return []
    flt = ds.field("option_contract_id").isin(ids) & (ds.field("ts") < session.end_ts)
    ts, k, bid, ask = front_nbbo(c, read_sorted(nbbo_ds, columns, flt))
    q = load_quotes(ds.dataset(eq_path), symbol, session)
    span = session.end_ts - session.start_ts
    out = []
    for f in SMILE_FRACTIONS:
        at = session.start_ts + int(f * span)
        money, iv = smile(ts, k, bid, ask, c.strike, c.put, c.expiry_ms, q.mid_ts, q.mid, at)
        out.append((at, money, iv))
    return out
