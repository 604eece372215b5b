"""Option prints' enrichment: every optional field of the contract, from the run's state.

At each print the shard recorded the raw state it traded in: the OPRA NBBO in
force and when it was published, the SIP quote in force and when, the implied
vol and the trade conditions. The derived fields follow
CONTRACT.md: ``notional`` = price x size x 100, ``execution_nbbo_*`` from the
NBBO (mid, spread, age), ``nbbo_side`` by the placement rule,
``execution_underlying_*`` from the SIP quote's mid (source ``equity_quote_mid``),
``execution_iv`` (source ``synthetic_pressure_model``: the vol that reprices the
print against that mid, calendar time to the expiry's close, zero rates), ``is_etf`` and the signal
filter in the run's mode. A value the run did not have stays null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tapesim.agents.pricing import MIN_T, implied_vol
from tapesim.events.enrichment import (
    SWEEP_OR_ISO,
    SignalMode,
    condition_lists,
    is_etf,
    nbbo_side,
    signal_filter,
)

MS_PER_YEAR = 365.0 * 86_400_000.0  # calendar time, as the makers price it
UNDERLYING_SOURCE = "equity_quote_mid"
IV_SOURCE = "synthetic_pressure_model"


@dataclass(frozen=True)
class ContractBook:
    """Every shard's listed contracts in one run-wide index (shard offset + local index)."""

    offsets: np.ndarray  # int64 per shard
    ids: pa.Array  # option_contract_id per global index
    id_bytes_table: np.ndarray  # the same, as S32
    calls: np.ndarray  # bool per global index
    strikes: np.ndarray  # float dollars per global index
    expiry_ms: np.ndarray  # int64 epoch ms of each contract's expiry (its session's close)

    @classmethod
    def of(cls, shards: list) -> ContractBook:
        """The run-wide book of ``shards`` (each a :class:`tapesim.events.contracts.ShardListing`),
        in shard order: shard ``i``'s local contract ``j`` gets index ``offsets[i] + j``.
        Contract ids are ASCII (at most 32 bytes in ``id_bytes_table``).
        """
        sizes = [len(s.contracts) for s in shards]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        ids = [c for s in shards for c in s.contracts]
        calls = np.array([c for s in shards for c in s.calls], dtype=bool)
        strikes = np.array([k for s in shards for k in s.strikes], dtype=float)
        expiry_ms = np.array([e for s in shards for e in s.expiry_ms], dtype=np.int64)
        return cls(offsets, pa.array(ids, pa.string()),
                   np.array([i.encode("ascii") for i in ids] or [b""], dtype="S32"), calls,
                   strikes, expiry_ms)

    def index(self, shard: np.ndarray, contract: np.ndarray) -> np.ndarray:
        """Run-wide contract index (int64 array) of each (shard, local contract) pair;
        ``shard`` and ``contract`` are integer arrays of the same length.
        """
        return self.offsets[shard] + contract.astype(np.int64)

    def ids_of(self, rows: pa.Table) -> pa.Array:
        """``option_contract_id`` of each spool row (its ``shard`` and ``contract`` columns)
        as a string array.
        """
        return self.ids.take(pa.array(self._global(rows)))

    def _global(self, rows: pa.Table) -> np.ndarray:
        return self.index(rows.column("shard").to_numpy(), rows.column("contract").to_numpy())


def print_iv(price, spot, strike, t_years, calls) -> np.ndarray:
    """Implied vol of each print's price against the underlying's mid, to 1e-4; NaN where
    the price is outside the no-arbitrage bounds or the contract has expired.

    Arrays broadcast together: ``price`` and ``spot`` in dollars per share, ``strike``
    in dollars, ``t_years`` calendar years to the expiry's close (floored at
    ``MIN_T``), ``calls`` bool. Black-Scholes with zero rates and carry, by bisection
    (:func:`tapesim.agents.pricing.implied_vol`); annualised vol as a decimal.
    """
    iv = implied_vol(price, spot, strike, np.maximum(t_years, MIN_T), calls)
    return np.round(iv, 4)


def _masked(values: np.ndarray, present: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=~present)


def option_print_columns(
    rows: pa.Table, book: ContractBook, symbols: pa.Array, venues: tuple[str, ...],
    mode: SignalMode,
) -> dict[str, pa.Array]:
    """Every OptionPrint column after the event meta fields, for spool rows of prints.

    ``rows`` are option-print rows of the option spool (integer cents, ms times, -1
    for "none"; see :mod:`tapesim.venues.option_tape`) plus ``shard``; ``symbols``
    holds each shard's symbol, ``venues`` the run's option venue codes and ``mode``
    the signal-filter mode. Returns Arrow arrays by column name, in the
    ``OptionPrint`` schema's order and types; the rules are CONTRACT.md §1
    (notional, placement rule, signal filter, underlying and IV sources).
    """
    col = {name: rows.column(name).to_numpy() for name in (
        "ts", "price", "size", "venue", "conditions", "nbbo_bid", "nbbo_ask", "nbbo_bid_size",
        "nbbo_ask_size", "nbbo_ts", "und_bid", "und_ask", "und_ts", "shard")}
    n = rows.num_rows
    ts, price_c, size = col["ts"], col["price"], col["size"]
    price = price_c / 100.0
    notional = (price_c * size).astype(float)  # cents x contracts x 100 / 100 = dollars
    index = book.index(col["shard"], rows.column("contract").to_numpy())
    calls = book.calls[index]
    roots = symbols.take(pa.array(col["shard"])).to_pylist()
    etf = np.array([is_etf(r) for r in roots], dtype=bool)

    has_q = col["nbbo_ts"] >= 0
    bid = np.where(has_q, col["nbbo_bid"] / 100.0, np.nan)
    ask = np.where(has_q, col["nbbo_ask"] / 100.0, np.nan)
    side = nbbo_side(price, bid, ask, ts, np.where(has_q, col["nbbo_ts"], 0))
    sides = pa.array(side.tolist(), pa.string())
    masks = col["conditions"]
    passed, reasons = signal_filter(notional, size, side, etf, (masks & SWEEP_OR_ISO) != 0, mode)

    has_u = col["und_ts"] >= 0
    u_bid, u_ask = col["und_bid"] / 100.0, col["und_ask"] / 100.0
    u_mid = (col["und_bid"] + col["und_ask"]) / 200.0
    iv = print_iv(price, u_mid, book.strikes[index], (book.expiry_ms[index] - ts) / MS_PER_YEAR,
                  calls)
    has_iv = has_u & np.isfinite(iv)
    f64, i64 = pa.float64(), pa.int64()
    return {
        "option_contract_id": book.ids_of(rows),
        "price": pa.array(price, f64),
        "size": pa.array(size, i64),
        "exchange": pa.array(venues, pa.string()).take(pa.array(col["venue"].astype(np.int32))),
        "conditions": pa.array(condition_lists(masks), pa.list_(pa.field("item", pa.string(),
                                                                         nullable=False))),
        "underlying_id": symbols.take(pa.array(col["shard"])),
        "option_type": pa.array(np.where(calls, "call", "put").tolist(), pa.string()),
        "notional": pa.array(notional, f64),
        "nbbo_side": sides,
        "execution_nbbo_side": sides,
        "execution_nbbo_bid": _masked(bid, has_q, f64),
        "execution_nbbo_ask": _masked(ask, has_q, f64),
        "execution_nbbo_mid": _masked((col["nbbo_bid"] + col["nbbo_ask"]) / 200.0, has_q, f64),
        "execution_nbbo_spread": _masked((col["nbbo_ask"] - col["nbbo_bid"]) / 100.0, has_q, f64),
        "execution_nbbo_bid_size": _masked(col["nbbo_bid_size"], has_q, i64),
        "execution_nbbo_ask_size": _masked(col["nbbo_ask_size"], has_q, i64),
        "execution_nbbo_ts": _masked(col["nbbo_ts"], has_q, i64),
        "execution_nbbo_age_ms": _masked(ts - col["nbbo_ts"], has_q, i64),
        "execution_underlying_spot": _masked(u_mid, has_u, f64),
        "execution_underlying_bid": _masked(u_bid, has_u, f64),
        "execution_underlying_ask": _masked(u_ask, has_u, f64),
        "execution_underlying_mid": _masked(u_mid, has_u, f64),
        "execution_underlying_spread": _masked((col["und_ask"] - col["und_bid"]) / 100.0,
                                               has_u, f64),
        "execution_underlying_ts": _masked(col["und_ts"], has_u, i64),
        "execution_underlying_age_ms": _masked(ts - col["und_ts"], has_u, i64),
        "execution_underlying_source": _masked(np.full(n, UNDERLYING_SOURCE), has_u, pa.string()),
        "execution_iv": _masked(np.where(has_iv, iv, 0.0), has_iv, f64),
        "execution_iv_source": _masked(np.full(n, IV_SOURCE), has_iv, pa.string()),
        "is_etf": pa.array(etf, pa.bool_()),
        "signal_pass": pa.array(passed, pa.bool_()),
        "signal_reasons": pa.array(reasons, pa.list_(pa.field("item", pa.string(),
                                                              nullable=False))),
        "signal_profile": pa.array(np.full(n, mode).tolist(), pa.string()),
    }

