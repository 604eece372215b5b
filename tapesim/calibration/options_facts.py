"""Options facts of a run directory, each compared with its target band.

:func:`option_facts` returns one :class:`~tapesim.calibration.facts.FactRow` per
statistic of the "Options" table of ``realism-targets.md`` and underlying.
``option_prints.parquet`` is read once (the prints are few), and so is
``option_nbbo.parquet``, for every underlying together
(:func:`tapesim.calibration.option_nbbo.read_option_nbbo`: only the columns needed,
the front contracts' rows kept, grouped by root). A run without options (files absent
or empty) gives no rows.

Conventions:

- window: prints with ``start_ts <= ts < end_ts``; NBBO changes before ``end_ts``, as
  for the equity facts. Volume is contracts. DTE is calendar days from the session
  date to the expiry in the contract id.
- moneyness is the strike's distance from spot, ``|K / S - 1|``: ATM within 2.5%,
  far beyond 10%; OTM means on the out-of-the-money side (calls above spot, puts
  below). Spot at a print is its ``execution_underlying_mid``; spot at an NBBO change
  is the last two-sided equity NBBO mid at or before it (``equity_quotes.parquet``).
- front: expiries 1-31 calendar days out. 0DTE is left out: its premium runs to zero
  by the close, so its spread as a share of premium does too.
- quoted spreads are weighted by time in force: an NBBO change of a contract lasts
  until that contract's next change (the last until ``end_ts``), clipped to the
  window; one-sided quotes (no bid) have no spread / mid and are left out.
- index-like roots (:data:`INDEX_LIKE`) and single names get separate fact ids where
  their targets differ.
- chain sparsity counts the contracts that appear in ``option_nbbo.parquet`` (the
  quoted set) and have no print in the window.
- volume / open interest needs ``open_interest.parquet`` (``option_contract_id``,
  ``start_oi``): the median of volume / start OI over front contracts within 2.5% of
  the spot at the window start with start OI > 0 (volume 0 included); n/a without it.
- put skew: from cross-sections of the quoted front NBBO every 30 minutes
  (:mod:`tapesim.calibration.skew`): the 25-delta put's mid IV minus the ATM mid IV
  at the same instant, the median over snapshots and expiries, in vol points.
  Prints are not used: they arrive at different times of day, and the short-dated
  vol level moves with the intraday regime.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from tapesim.calibration import option_stats as ost
from tapesim.calibration import stats as st
from tapesim.calibration.option_nbbo import (
    NBBO_COLUMNS,
    RootQuotes,
    expiring_within,
    read_option_nbbo,
)
from tapesim.calibration.option_tape import (
    PRINT_COLUMNS,
    Contracts,
    OptionPrints,
    distinct_ids,
    float_column,
    id_dataset,
    load_prints,
)
from tapesim.calibration.rows import FactRow, fact_row
from tapesim.calibration.skew import quoted_skew, snapshot_times
from tapesim.calibration.tape import (
    Quotes,
    Session,
    load_quotes,
    read_manifest,
)
from tapesim.calibration.targets import OPTION_BANDS, OPTION_TITLES
from tapesim.venues.chains import DAILY_EXPIRY_ROOTS, INDEX_LIKE

ATM_DIST = 0.025  # |K / S - 1| at or below: at the money
FAR_DIST = 0.10  # |K / S - 1| above: far from the money
FRONT_DTE = (1, 31)  # calendar days to expiry of a front contract, inclusive
WEEK_DTE = 7
LONG_DTE = 60  # days to expiry beyond which volume counts as long-dated
SMALL_LOTS, BLOCK_LOTS = 10, 500
ZERO_BID_MAX_ASK = 0.05 + 1e-9  # a "0 x 0.05" (or 0 x 0.01) quote
_ID = "option_contract_id"
# The NBBO changes of one underlying's front contracts: ts (epoch ms), contract index,
# bid and ask (dollars), in replay order.
Front = tuple[st.IntArray, st.IntArray, st.FloatArray, st.FloatArray]


def _row(symbol: str, fact: str, value: float | None, note: str = "") -> FactRow:
    """An options :class:`FactRow` (:func:`~tapesim.calibration.rows.fact_row`)."""
    return fact_row(symbol, fact, value, OPTION_BANDS, OPTION_TITLES, note)


def _cls(index_like: bool) -> str:
    return "index" if index_like else "single"


def _print_rows(sym: str, index_like: bool, c: Contracts, p: OptionPrints) -> list[FactRow]:
    """Expiry and moneyness concentration, put/call, sizes, complex share, venues."""
    n, size, k = p.size.size, p.size, p.code
    dte, put = c.dte[k], c.put[k]
    has_spot = np.isfinite(p.spot) & (p.spot > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.abs(c.strike[k] / p.spot - 1.0)
    spot_note = f"{int(has_spot.sum())} of {n} prints with an underlying mid"
    vol_note = f"{size.sum():.0f} contracts in {n} prints"
    counts = np.bincount(p.venue, minlength=len(p.venues))
    top = int(np.argmax(counts)) if n else 0
    cls = _cls(index_like)
    return [
        _row(sym, f"opt_dte_0_7_share_{cls}", ost.share(dte <= WEEK_DTE, size), vol_note),
        _row(sym, f"opt_0dte_share_{cls}", ost.share(dte == 0, size), vol_note)
        if sym in DAILY_EXPIRY_ROOTS or not index_like else
        _row(sym, f"opt_0dte_share_{cls}", None, f"{sym} lists no daily expiries"),
        _row(sym, "opt_atm_volume_share",
             ost.share(dist[has_spot] <= ATM_DIST, size[has_spot]), spot_note),
        _row(sym, "opt_far_volume_share",
             ost.share(dist[has_spot] > FAR_DIST, size[has_spot]), spot_note),
        _row(sym, f"opt_put_call_ratio_{cls}",
             ost.ratio(float(size[put].sum()), float(size[~put].sum())),
             f"{size[put].sum():.0f} put / {size[~put].sum():.0f} call contracts"),
        _row(sym, "opt_small_print_share", ost.share(size <= SMALL_LOTS), f"n = {n} prints"),
        _row(sym, "opt_block_print_share", ost.share(size >= BLOCK_LOTS),
             f"{int(np.sum(size >= BLOCK_LOTS))} of {n} prints; should be rare"),
        _row(sym, "opt_complex_volume_share", ost.share(p.multi_leg, size), vol_note),
        _row(sym, "opt_venue_max_share", ost.ratio(float(counts.max(initial=0)), n),
             f"{p.venues[top]}: {counts[top]} of {n} prints" if n else "no prints"),
    ]


def _breadth_rows(sym: str, c: Contracts, quoted: np.ndarray, p: OptionPrints) -> list[FactRow]:
    """How far out the chain lists and how much of it trades: volume beyond 60 DTE, the
    longest quoted expiry, contracts quoted and contracts printed."""
    traded = np.unique(p.code).size
    dte = c.dte[quoted]
    return [
        _row(sym, "opt_dte_60_plus_share", ost.share(c.dte[p.code] > LONG_DTE, p.size),
             f"{p.size.sum():.0f} contracts in {p.size.size} prints"),
        _row(sym, "opt_longest_expiry_days", float(dte.max()) if dte.size else None,
             f"{np.unique(dte).size} expiries quoted"),
        _row(sym, "opt_contracts_listed", float(quoted.sum()), "contracts quoted"),
        _row(sym, "opt_contracts_traded", float(traded),
             "contracts with a print (profiles may cap option volume for speed)"),
    ]


def _skew_row(sym: str, index_like: bool, c: Contracts, front: Front, q: Quotes | None,
              session: Session) -> FactRow:
    """25-delta put IV minus ATM IV (vol points) of the quoted front expiries, from
    cross-sections of the NBBO every 30 minutes (:mod:`tapesim.calibration.skew`)."""
    fact = f"opt_skew_25d_{_cls(index_like)}"
    if q is None or q.mid.size == 0:
        return _row(sym, fact, None, "no equity quotes for the underlying")
    ts, k, bid, ask = front
    times = snapshot_times(session.start_ts, session.end_ts)
    value, used = quoted_skew(ts, k, bid, ask, c.strike, c.put, c.expiry_ms, q.mid_ts, q.mid,
                              times)
    note = (f"median of {used} (snapshot, front expiry) cross-sections of the quoted mids, "
            f"{times.size} snapshots 30 min apart; 25-delta put vs the strike nearest spot")
    return _row(sym, fact, 100.0 * value, note)


def front_nbbo(
    c: Contracts, nbbo: pa.Table
) -> tuple[st.IntArray, st.IntArray, st.FloatArray, st.FloatArray]:
    """``ts``, contract, bid and ask of the NBBO changes of front contracts (whole contracts
    are kept or dropped, so each keeps its sequence of changes)."""
    k = c.codes(nbbo.column(_ID))
    keep = (c.dte[k] >= FRONT_DTE[0]) & (c.dte[k] <= FRONT_DTE[1])
    return (nbbo.column("ts").to_numpy()[keep], k[keep], float_column(nbbo, "bid")[keep],
            float_column(nbbo, "ask")[keep])


def _spread_rows(
    sym: str, c: Contracts, front: Front, q: Quotes | None, session: Session
) -> list[FactRow]:
    """Quoted spreads / mid of ATM and OTM front contracts, far-OTM zero bids."""
    facts = ("opt_spread_atm_front", "opt_spread_otm_front", "opt_far_otm_zero_bid_share")
    if q is None or q.mid.size == 0:
        return [_row(sym, f, None, "no equity quotes for the underlying") for f in facts]
    ts, k, bid, ask = front
    dur = ost.contract_durations(ts, k, session.start_ts, session.end_ts)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = c.strike[k] / st.value_at(q.mid_ts, q.mid, ts) - 1.0
        pct = (ask - bid) / (0.5 * (ask + bid))
    dist = np.abs(rel)  # NaN before the first equity quote: in no group
    otm_side = np.where(c.put[k], rel < 0, rel > 0)
    two_sided = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask >= bid)
    atm = dist <= ATM_DIST
    otm = otm_side & (dist > ATM_DIST) & (dist <= FAR_DIST)
    far = otm_side & (dist > FAR_DIST) & (ask > 0)
    zero_bid = (bid <= 0) & (ask <= ZERO_BID_MAX_ASK)
    rows = []
    for name, m in zip(facts[:2], (atm, otm), strict=True):
        sel = m & two_sided
        note = (f"time-weighted over {dur[sel].sum() / 1000:.0f} quote-s of "
                f"{len(np.unique(k[sel]))} contracts ({int(np.sum(m & ~two_sided))} one-sided "
                "changes left out)")
        rows.append(_row(sym, name, st.weighted_median(pct[sel], dur[sel]), note))
    note = (f"time-weighted over {dur[far].sum() / 1000:.0f} quote-s of "
            f"{len(np.unique(k[far]))} contracts beyond 10% OTM; report only")
    rows.append(_row(sym, facts[2], ost.share(zero_bid[far], dur[far]), note))
    return rows


def _oi_row(
    sym: str, c: Contracts, oi: pa.Table | None, p: OptionPrints, spot0: float
) -> FactRow:
    """Median volume / start OI over front near-ATM contracts (spot at window start)."""
    fact = "opt_volume_oi_median"
    if oi is None:
        return _row(sym, fact, None, "no open_interest.parquet")
    k = c.codes(oi.column(_ID))
    start_oi = float_column(oi, "start_oi")
    volume = np.bincount(p.code, weights=p.size, minlength=len(c.ids))
    keep = (k >= 0) & (start_oi > 0)
    k, start_oi = k[keep], start_oi[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.abs(c.strike[k] / spot0 - 1.0)
    m = (c.root[k] == sym) & (c.dte[k] >= FRONT_DTE[0]) & (c.dte[k] <= FRONT_DTE[1])
    m &= dist <= ATM_DIST
    value = float(np.median(volume[k[m]] / start_oi[m])) if m.any() else math.nan
    return _row(sym, fact, value, f"{int(m.sum())} contracts with start OI > 0, spot "
                f"{spot0:.2f} at the window start")


def _underlying_rows(
    sym: str, c: Contracts, quoted: np.ndarray, p: OptionPrints, nbbo: RootQuotes,
    eq_ds: ds.Dataset | None, oi: pa.Table | None, session: Session,
) -> list[FactRow]:
    """Every options fact of one underlying; ``quoted`` flags its contracts in the NBBO,
    ``nbbo`` holds its front contracts' NBBO changes, their codes already ``c``'s."""
    index_like = sym in INDEX_LIKE
    front = (nbbo.ts, nbbo.code, nbbo.bid, nbbo.ask)
    spot0 = math.nan
    q = load_quotes(eq_ds, sym, session) if eq_ds is not None else None
    if q is not None and q.mid.size:
        first = float(st.value_at(q.mid_ts, q.mid, [session.start_ts])[0])
        spot0 = first if math.isfinite(first) else float(q.mid[0])
    n_quotes = nbbo.in_window
    n_prints = p.size.size
    idle = quoted & (np.bincount(p.code, minlength=quoted.size) == 0)
    sparsity = ost.ratio(float(idle.sum()), float(quoted.sum()))
    by_fact = {r.fact: r for r in (
        *_print_rows(sym, index_like, c, p),
        _row(sym, "opt_quote_trade_ratio", ost.ratio(n_quotes, n_prints),
             f"{n_quotes} NBBO changes / {n_prints} prints"),
        *_spread_rows(sym, c, front, q, session),
        _row(sym, "opt_chain_sparsity", sparsity,
             f"{int(idle.sum())} of {int(quoted.sum())} quoted contracts never printed"),
        *_breadth_rows(sym, c, quoted, p),
        _oi_row(sym, c, oi, p, spot0),
        _skew_row(sym, index_like, c, front, q, session),
    )}
    return [by_fact[f] for f in OPTION_TITLES if f in by_fact]


def option_facts(run_dir: Path, symbols: list[str] | None = None) -> list[FactRow]:
    """Every options fact of every underlying with options in the run, in manifest order
    (only ``symbols`` when given); no rows when the run has no options.

    Raises ``ValueError`` as :func:`tapesim.calibration.tape.read_manifest` does, or
    on a contract id that does not parse.
    """
    run_dir = Path(run_dir)
    session, listed = read_manifest(run_dir)
    nbbo_path = run_dir / "option_nbbo.parquet"
    nbbo = None if id_dataset(nbbo_path, NBBO_COLUMNS) is None else read_option_nbbo(
        nbbo_path, session.start_ts, session.end_ts, expiring_within(session.date, FRONT_DTE),
        None if symbols is None else set(symbols))
    prints_ds = id_dataset(run_dir / "option_prints.parquet", PRINT_COLUMNS)
    oi_ds = id_dataset(run_dir / "open_interest.parquet", [_ID, "start_oi"])
    oi = None if oi_ds is None else oi_ds.to_table(columns=[_ID, "start_oi"])
    quoted_ids = set() if nbbo is None else set(nbbo.ids.to_pylist())
    printed_ids = distinct_ids(prints_ds)
    if not quoted_ids | printed_ids:
        return []
    c = Contracts.of(quoted_ids | printed_ids | distinct_ids(oi_ds), session.date)
    quoted = np.zeros(len(c.ids), dtype=bool)
    quoted[c.codes(pa.array(sorted(quoted_ids), pa.string()))] = True
    printed = np.zeros(len(c.ids), dtype=bool)
    printed[c.codes(pa.array(sorted(printed_ids), pa.string()))] = True
    roots = set(c.root[quoted | printed])
    order = [s for s in listed if s in roots] + sorted(roots - set(listed))
    p_all = load_prints(prints_ds, c, session) if prints_ds is not None else OptionPrints.empty()
    p_root = c.root[p_all.code]
    eq_path = run_dir / "equity_quotes.parquet"
    eq_ds = ds.dataset(eq_path, format="parquet") if eq_path.exists() else None
    codes = np.zeros(0, dtype=np.int64) if nbbo is None else c.codes(nbbo.ids)
    wanted = order if symbols is None else [s for s in order if s in symbols]
    rows: dict[str, list[FactRow]] = {}
    # the underlying with the most NBBO rows last: by then the others' rows are freed
    for sym in sorted(wanted, key=lambda s: 0 if nbbo is None else nbbo.kept_rows(s)):
        mine = quoted & (c.root == sym)
        sym_nbbo = RootQuotes.empty() if nbbo is None else nbbo.take(sym)
        sym_nbbo = replace(sym_nbbo, code=codes[sym_nbbo.code])
        rows[sym] = _underlying_rows(sym, c, mine, p_all.subset(p_root == sym), sym_nbbo, eq_ds,
                                     oi, session)
    return [row for sym in wanted for row in rows[sym]]
