"""Equity stylized facts of a run directory, each compared with its target band.

:func:`equity_facts` reads a run directory one symbol at a time (through
:mod:`tapesim.calibration.tape`: only the columns it
needs, filtered on ``underlying_id``), computes the statistics of the "Equities
(stylized facts)" table of ``realism-targets.md`` and returns one :class:`FactRow` per
statistic and symbol (:mod:`tapesim.calibration.rows`, whose ``facts_table`` renders
them). The statistics themselves are the pure helpers of :mod:`tapesim.calibration.stats`.

Conventions: returns are log returns of the NBBO mid (forward-filled, last two-sided
quote at or before a time) over 1-minute bars of the simulated window
``[start_ts, end_ts)``; prints are those inside the window; volume is shares.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tapesim.calibration import microstructure as ms
from tapesim.calibration import sampling as sa
from tapesim.calibration import stats as st
from tapesim.calibration.rows import FactRow, fact_row
from tapesim.calibration.tape import (
    TICK,
    Prints,
    Quotes,
    Session,
    load_parents,
    load_prints,
    load_quotes,
    read_manifest,
    source_lacks,
)
from tapesim.calibration.targets import EQUITY_BANDS, EQUITY_TITLES

MINUTE_MS = 60_000
BIN_MS = 30 * MINUTE_MS
AGG_SCALES = (1, 5, 15, 30)
ACF_LAGS = tuple(range(6, 21))  # "abs <= 0.05 beyond lag 5", to lag 20
ABS_LAG, ABS_HALF_WIDTH = 30, 5  # |return| ACF at lag 30, averaged over lags 25-35
SIZE_MODES = (100, 200, 500)
MIN_PARENTS = 20
MIDDAY = (dt.time(11, 30), dt.time(14, 30))
BPS_FROM = 50.0  # dollars: spreads of names at or above it are scored in basis points
# dollars: the basis-point band is for names up to here (docs/realism-targets.md,
# "$50-$500"); above it a one-cent spread is well under 1 bp and no band is set
BPS_TO = 500.0
OPEN_MS = 5 * MINUTE_MS  # the opening window of the spread spike

_QUOTED = ("return_kurtosis_1m", "return_tail_index_1m", "return_acf1_1m", "return_acf_max_6_20",
           "absret_acf1_1m", "absret_acf30_1m", "aggregational_gaussianity",
           "volume_volatility_corr", "spread_median_ticks", "spread_median_bps",
           "spread_open5_ratio", "spread_open_decay_min", "spread_close_ratio", "sign_acf1",
           "sign_acf10", "quote_trade_ratio", "quote_change_seconds_share", "impact_exponent")
_PRINTED = ("volume_volatility_corr", "ushape_first_bin", "ushape_midday", "ushape_last_bin",
            "ushape_bin_noise", "odd_lot_share", "round_lot_share", "size_modes_100_200_500",
            "size_modes_small", "size_tail_exponent", "size_largest", "off_exchange_share",
            "duration_cv", "duration_weibull_shape", "duration_same_ms_share", "sign_acf1",
            "sign_acf10", "quote_trade_ratio", "same_price_prints_share", "impact_exponent")
# What each fact needs that an imported source may lack (manifest ``source.lacks``).
NEEDS: dict[str, tuple[str, ...]] = {
    fact: tuple(need for need, facts in (("quotes", _QUOTED), ("prints", _PRINTED),
                                         ("off-exchange prints", ("off_exchange_share",)),
                                         ("parent orders", ("impact_exponent",)))
                if fact in facts)
    for fact in dict.fromkeys((*_QUOTED, *_PRINTED))
}


def _row(symbol: str, fact: str, value: float | None, note: str = "", na: bool = False) -> FactRow:
    """An equity :class:`FactRow` (:func:`~tapesim.calibration.rows.fact_row`)."""
    return fact_row(symbol, fact, value, EQUITY_BANDS, EQUITY_TITLES, note, na)


def minute_returns(q: Quotes, p: Prints, session: Session) -> tuple[st.FloatArray,
                                                                     st.FloatArray]:
    """One-minute log returns of the mid over the window and the volume (shares) of each
    minute, from the first minute with a quote on (NaN where a minute has no quote)."""
    r = st.grid_log_returns(q.mid_ts, q.mid, session.start_ts, session.end_ts, MINUTE_MS)
    vol = st.bar_sums(p.ts, p.size, session.start_ts, MINUTE_MS, r.size)
    ok = np.isfinite(r)
    first = int(np.argmax(ok)) if ok.any() else r.size  # bars before the first quote
    return r[first:], vol[first:]


def heavy_tail_rows(sym: str, r: st.FloatArray, note: str = "") -> list[FactRow]:
    """Excess kurtosis and the Hill tail index (top 5%) of one-minute returns ``r``."""
    n = r.size
    return [
        _row(sym, "return_kurtosis_1m", st.excess_kurtosis(r), f"n = {n} bars{note}"),
        _row(sym, "return_tail_index_1m", st.hill_tail_index(r, 0.05),
             f"k = {int(0.05 * n)} of n = {n} bars{note}"),
    ]


def memory_rows(sym: str, segments: list[st.FloatArray], note: str = "") -> list[FactRow]:
    """The return-memory rows judged against their sampling error (see
    :mod:`tapesim.calibration.sampling`), from one-minute returns, one array per run:
    the largest |ACF| at lags 6-20 as a simultaneous 95% lower bound (Lo-MacKinlay
    standard errors, Bonferroni over the lags); the ACF of |returns| at lag 30 as the
    mean over lags 25-35; the largest kurtosis rise across 1/5/15/30-minute scales as
    a 95% lower bound (delta-method standard errors)."""
    n = sum(int(np.isfinite(s).sum()) for s in segments)
    bound, largest, z = sa.acf_excess_bound(segments, ACF_LAGS)
    absret = sa.window_acf([np.abs(s) for s in segments], ABS_LAG, ABS_HALF_WIDTH)
    rise, per_scale = sa.kurtosis_rise_bound(segments, AGG_SCALES)
    scales = " / ".join(f"{m}m {k:.3g}+-{se:.2g} (n={c})" for m, k, se, c in per_scale)
    return [
        _row(sym, "return_acf_max_6_20", bound,
             f"largest |r_k| {largest:.3f} less {z:.2f} robust se; n = {n} bars{note}"),
        _row(sym, "absret_acf30_1m", absret,
             f"mean of lags {ABS_LAG - ABS_HALF_WIDTH}-{ABS_LAG + ABS_HALF_WIDTH}; "
             f"n = {n} bars{note}"),
        _row(sym, "aggregational_gaussianity", rise,
             f"excess kurtosis {scales}; rise less its 95% allowance{note}"),
    ]


def _return_facts(sym: str, q: Quotes, p: Prints, session: Session) -> list[FactRow]:
    """Heavy tails, autocorrelations, aggregational Gaussianity, volume-volatility."""
    r, vol = minute_returns(q, p, session)
    n = r.size
    floor = f"noise floor 2/sqrt(n) = {2 / math.sqrt(n):.3f}, n = {n} bars" if n else ""
    a = st.acf(r, [1])
    abs_a = st.acf(np.abs(r), [1])
    one_run = "; one run: the target is pooled over runs"
    acf_max, absret30, rise = memory_rows(sym, [r], one_run)
    return [
        *heavy_tail_rows(sym, r, one_run),
        _row(sym, "return_acf1_1m", a[0], floor),
        acf_max,
        _row(sym, "absret_acf1_1m", abs_a[0], floor),
        absret30,
        rise,
        _row(sym, "volume_volatility_corr", st.pearson(np.abs(r), vol), f"n = {n} bars"),
    ]


def _ushape_facts(sym: str, p: Prints, session: Session) -> list[FactRow]:
    """Volume per 30-min bin over the mean bin: first, midday, last."""
    facts = ("ushape_first_bin", "ushape_midday", "ushape_last_bin", "ushape_bin_noise")
    if not session.covers_session:
        note = "window does not cover the whole session (open to close)"
        return [_row(sym, f, None, note) for f in facts]
    o, c = session.open_ts, session.close_ts
    ratios = st.volume_bin_ratios(p.ts, p.size, o, c, BIN_MS)
    starts = o + BIN_MS * np.arange(ratios.size, dtype=np.int64)
    centres = (starts + np.minimum(starts + BIN_MS, c)) // 2
    lo, hi = (session.ny_ms(t) for t in MIDDAY)
    midday = (centres >= lo) & (centres <= hi)
    mid_value = float(ratios[midday].mean()) if midday.any() else math.nan
    note = f"{ratios.size} bins; midday = {int(midday.sum())} bins centred 11:30-14:30 NY"
    return [
        _row(sym, facts[0], float(ratios[0]), note),
        _row(sym, facts[1], mid_value, note),
        _row(sym, facts[2], float(ratios[-1]), note),
        _row(sym, facts[3], ms.bin_noise(ratios), f"{ratios.size - 1} bin-to-bin changes"),
    ]


def _spread_facts(sym: str, q: Quotes, session: Session) -> list[FactRow]:
    """The time-weighted median spread (ticks under $50, basis points above) and its
    intraday profile: the first 5 minutes, the decay, the last 30 minutes, each
    against midday (11:30-14:30 New York)."""
    s, e, o, c = session.start_ts, session.end_ts, session.open_ts, session.close_ts
    spread = q.spread_ticks[q.valid]
    dur = st.clipped_durations(q.ts, s, e)[q.valid]
    median = st.weighted_median(np.round(spread, 6), dur)
    price = st.weighted_median(q.mid, st.clipped_durations(q.mid_ts, s, e))
    median_bps = st.weighted_median(1e4 * spread * TICK / q.mid, dur)  # q.mid: the valid rows
    high = math.isfinite(price) and price >= BPS_FROM
    where = f"median mid ${price:,.2f}" if math.isfinite(price) else "no two-sided quote"
    rows = [
        _row(sym, "spread_median_ticks", median, f"weighted by time in force; {where}",
             na=high),
        _row(sym, "spread_median_bps", median_bps,
             f"weighted by time in force; {where}"
             + ("; no band above $500" if high and price > BPS_TO else ""),
             na=not high or price > BPS_TO),
    ]
    ticks = np.where(q.valid, q.spread_ticks, np.nan)
    lo, hi = session.ny_ms(MIDDAY[0]), session.ny_ms(MIDDAY[1])
    midday = ms.window_spread(q.ts, ticks, lo, hi) if s <= lo and e >= hi else math.nan
    if not math.isfinite(midday):
        note = "window must cover midday (11:30-14:30 NY)"
        return [*rows, *(_row(sym, f, None, note) for f in
                         ("spread_open5_ratio", "spread_open_decay_min", "spread_close_ratio"))]
    pinned = math.isfinite(median) and median <= 1.0
    if s <= o:
        first = ms.window_spread(q.ts, ticks, o, o + OPEN_MS)
        note = f"time-weighted {first:.3g} vs midday {midday:.3g} ticks"
        rows.append(_row(sym, "spread_open5_ratio", first / midday,
                         note + ("; pinned at one tick: not scored" if pinned else ""),
                         na=pinned))
        decay = ms.open_decay_minutes(q.ts, ticks, o, midday)
        rows.append(_row(sym, "spread_open_decay_min", decay,
                         "first minute whose spread is within 1.25x midday",
                         na=pinned))
    else:
        note = "window must start at the open"
        rows += [_row(sym, f, None, note) for f in ("spread_open5_ratio",
                                                    "spread_open_decay_min")]
    last = ms.window_spread(q.ts, ticks, c - BIN_MS, c) if e >= c else math.nan
    rows.append(_row(sym, "spread_close_ratio", last / midday if math.isfinite(last) else None,
                     f"last 30 min {last:.3g} vs midday {midday:.3g} ticks"
                     if math.isfinite(last) else "window must reach the close"))
    return rows


def _size_facts(sym: str, p: Prints, full_day: bool) -> list[FactRow]:
    """Odd lots, round lots, modes at 100/200/500 and at 1/5/10/25/50, the size tail,
    the largest print (of a whole session), off-exchange share."""
    s, n = p.size, p.size.size
    if n == 0:
        facts = ("odd_lot_share", "round_lot_share", "size_modes_100_200_500",
                 "size_modes_small", "size_tail_exponent", "size_largest",
                 "off_exchange_share")
        return [_row(sym, f, None, "no prints") for f in facts]
    peaks = [(m, *st.mode_peak_ratio(s, m)) for m in SIZE_MODES]
    ratio = min(c / max(nb, 1) for _m, c, nb in peaks)
    tail = st.hill_tail_index(s, 0.05)
    tail_note = f"k = {int(0.05 * n)} of n = {n}" + (
        "; undefined: the top sizes all tie at the threshold" if math.isnan(tail) else ""
    )
    mode_note = "; ".join(f"{m}: {c} vs max neighbour {nb}" for m, c, nb in peaks)
    small, small_peaks = ms.small_mode_ratio(s)
    small_note = "; ".join(f"{m}: {c} vs {nb}" for m, c, nb in small_peaks)
    return [
        _row(sym, "odd_lot_share", float(np.mean(s < 100)), f"n = {n} prints"),
        _row(
            sym,
            "round_lot_share",
            float(np.mean((s > 0) & (s % 100 == 0))),
            "reported only; the target is the mode check",
        ),
        _row(sym, "size_modes_100_200_500", ratio, f"{mode_note} (neighbours = +-1..10 sh)"),
        _row(sym, "size_modes_small", small,
             f"{small_note} (neighbours = +-1..2 sh, other modes excluded)"),
        _row(sym, "size_tail_exponent", tail, tail_note),
        _row(sym, "size_largest", float(s.max()),
             "" if full_day else "the window is not the whole session: not scored",
             na=not full_day),
        _row(sym, "off_exchange_share", float(np.mean(p.off_exchange)), f"n = {n} prints"),
    ]


def _flow_facts(
    sym: str, q: Quotes, p: Prints, signs: np.ndarray, session: Session
) -> list[FactRow]:
    """Inter-arrival times, trade-sign memory and the quote/trade ratio."""
    dur = np.diff(p.ts).astype(np.float64)
    n_zero = int(np.sum(dur == 0))
    nz = signs[signs != 0]
    a = st.acf(nz.astype(np.float64), [1, 10])
    inside = (q.mid_ts >= session.start_ts) & (q.mid_ts < session.end_ts)
    changed = ms.price_change_mask(q.mid[inside], q.spread_ticks[q.valid][inside])
    n_quotes = int(changed.sum())
    qtr = n_quotes / p.ts.size if p.ts.size else math.nan
    seconds = ms.change_seconds_share(q.mid_ts[inside][changed], session.start_ts,
                                      session.end_ts)
    sign_note = f"{nz.size} signed prints ({p.ts.size - nz.size} unsigned dropped)"
    return [
        _row(sym, "duration_cv", st.coefficient_of_variation(dur), f"{dur.size} durations"),
        _row(
            sym,
            "duration_weibull_shape",
            st.weibull_shape(dur),
            f"{dur.size - n_zero} positive durations ({n_zero} same-ms excluded)",
        ),
        _row(sym, "duration_same_ms_share", ms.same_ms_share(p.ts),
             f"{n_zero} of {dur.size} consecutive pairs"),
        _row(sym, "sign_acf1", a[0], sign_note),
        _row(sym, "sign_acf10", a[1], sign_note),
        _row(sym, "quote_trade_ratio", qtr,
             f"{n_quotes} NBBO price changes / {p.ts.size} prints"),
        _row(sym, "quote_change_seconds_share", seconds,
             "seconds of the window with an NBBO price change"),
        _row(sym, "same_price_prints_share", ms.same_price_share(p.price),
             f"{max(p.ts.size - 1, 0)} consecutive pairs"),
    ]


def _impact_fact(
    sym: str,
    q: Quotes,
    p: Prints,
    signs: np.ndarray,
    mid_before: st.FloatArray,
    parents: pa.Table | None,
) -> FactRow:
    """Square-root law exponent from the parent orders' child prints (provenance)."""
    fact = "impact_exponent"
    if parents is None or p.trace_id is None:
        return _row(sym, fact, None, "no provenance.parquet with parent_order_id")
    pos = pc.index_in(p.trace_id, value_set=parents.column("trace_id").combine_chunks())
    ids = pc.dictionary_encode(pc.take(parents.column("parent_order_id"), pos).combine_chunks())
    codes = ids.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    child = np.flatnonzero(codes >= 0)
    n_par = len(ids.dictionary)
    if n_par == 0:
        return _row(sym, fact, None, "no parent-order prints", na=True)
    c = codes[child]
    qty = np.bincount(c, weights=p.size[child], minlength=n_par)
    first = np.full(n_par, p.ts.size, dtype=np.int64)
    last = np.full(n_par, -1, dtype=np.int64)
    np.minimum.at(first, c, child)
    np.maximum.at(last, c, child)
    side = np.sign(np.bincount(c, weights=signs[child].astype(np.float64), minlength=n_par))
    m0 = mid_before[first]
    m1 = st.value_at(q.mid_ts, q.mid, p.ts[last])
    with np.errstate(invalid="ignore", divide="ignore"):
        impact = side * (m1 - m0) / m0
    keep = (side != 0) & np.isfinite(impact)
    used = int(keep.sum())
    volume = float(p.size.sum())
    n_bins = min(10, max(3, used // 5))
    delta, bins = st.impact_exponent(qty[keep] / volume, impact[keep], n_bins)
    low, high, undefined = st.impact_exponent_interval(qty[keep] / volume, impact[keep],
                                                       n_bins)
    note = (
        f"{used} signed parents of {n_par}; {bins} of {n_bins} Q/V quantile bins with "
        f"positive mean sign-adjusted impact; 95% bootstrap CI [{low:.2g}, {high:.2g}]"
        f" ({undefined:.0%} of resamples without a fit)"
    )
    if used < MIN_PARENTS:
        return _row(sym, fact, delta, f"only {used} parents (< {MIN_PARENTS}); {note}", na=True)
    return _row(sym, fact, delta, note)


def unsupported(rows: list[FactRow], lacks: tuple[str, ...]) -> list[FactRow]:
    """``rows`` with every fact whose source lacks what it needs (:data:`NEEDS`) turned
    into n/a, noted "n/a: the source has no X", rather than a misleading number."""
    out = []
    for r in rows:
        missing = next((x for x in NEEDS.get(r.fact, ()) if x in lacks), None)
        if missing is None:
            out.append(r)
        else:
            out.append(FactRow(r.symbol, r.fact, r.title, None, r.band, "n/a",
                               f"n/a: the source has no {missing}"))
    return out


def symbol_facts(
    symbol: str, quotes: Quotes, prints: Prints, session: Session, parents: pa.Table | None
) -> list[FactRow]:
    """All equity fact rows of one symbol from its loaded quotes and prints.

    Trade signs are Lee-Ready against the mid in force before each print (replay
    order); ``parents`` holds the provenance rows of parent-order prints (``trace_id``,
    ``parent_order_id``), ``None`` when the run has no provenance.
    """
    qi = st.quote_index_before(prints.ts, prints.seq, quotes.mid_ts, quotes.mid_seq)
    mid_before = st.take_or_nan(quotes.mid, qi)
    signs = st.lee_ready_signs(prints.price, mid_before)
    return [
        *_return_facts(symbol, quotes, prints, session),
        *_ushape_facts(symbol, prints, session),
        *_spread_facts(symbol, quotes, session),
        *_size_facts(symbol, prints, session.covers_session),
        *_flow_facts(symbol, quotes, prints, signs, session),
        _impact_fact(symbol, quotes, prints, signs, mid_before, parents),
    ]


def equity_facts(run_dir: Path, symbols: list[str] | None = None,
                 returns: dict[str, list[st.FloatArray]] | None = None,
                 window: tuple[int, int] | None = None) -> list[FactRow]:
    """Every equity stylized fact of every symbol (manifest order when ``symbols`` is None).

    Reads ``equity_quotes.parquet`` and ``equity_prints.parquet`` (and provenance for
    the impact fact, when present) one symbol at a time. Given ``returns``, appends each
    symbol's one-minute returns to ``returns[symbol]`` (for pooling over runs). Given
    ``window`` (epoch ms ``start_ts, end_ts``), the facts are those of that part of the
    run's window instead of the whole. For a run imported from a real tape, a fact the
    source cannot support is n/a (:func:`unsupported`). Raises ``ValueError`` for a
    symbol the manifest does not list, or as :func:`read_manifest` does.
    """
    run_dir = Path(run_dir)
    session, listed = read_manifest(run_dir)
    if window is not None:
        session = dataclasses.replace(session, start_ts=window[0], end_ts=window[1])
    quotes_ds = ds.dataset(run_dir / "equity_quotes.parquet", format="parquet")
    prints_ds = ds.dataset(run_dir / "equity_prints.parquet", format="parquet")
    parents = load_parents(run_dir)
    unknown = sorted(set(symbols or ()) - set(listed))
    if unknown:
        raise ValueError(f"symbols {unknown} are not in manifest.json symbols {listed}")
    rows: list[FactRow] = []
    for symbol in listed if symbols is None else symbols:
        quotes = load_quotes(quotes_ds, symbol, session)
        prints = load_prints(prints_ds, symbol, session, with_ids=parents is not None)
        rows.extend(symbol_facts(symbol, quotes, prints, session, parents))
        if returns is not None:
            returns.setdefault(symbol, []).append(minute_returns(quotes, prints, session)[0])
    return unsupported(rows, source_lacks(run_dir))
