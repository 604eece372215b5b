"""Databento DBN files (trades, mbp-1, tbbo; raw or zstd) to an imported tape.

A DBN file is ``DBN``, a version byte, the metadata's length (u32, little-endian), the
metadata (dataset, schema, symbols, symbol mappings), then fixed-size records of one
schema (Databento's "DBN encoding" specification). The metadata is decoded with the
``databento-dbn`` package (the ``tapesim[dbn]`` extra); the records are read as one
NumPy structured array with the package's own record dtypes, so a day is decoded in
one pass. Prices are fixed-point, 1e-9 dollars (``FIXED_PRICE_SCALE``); ``UNDEF_PRICE``
marks an empty side. ``ts_event`` (epoch ns UTC, the venue's stamp) is the event time.

- ``trades``: every record is a print; ``side`` is the aggressor (``B`` buy, ``A``
  sell, ``N`` unknown).
- ``mbp-1``: a record with action ``T`` is a print; every record carries the best bid
  and offer after it, a quote when it differs from the instrument's previous one.
- ``tbbo``: every record is a print with the best bid and offer just before it, a
  quote (written before the print at equal times) when it changed.

Datasets of one venue map to that venue's exchange code (:data:`VENUES`), and their
quotes are that venue's BBO; other datasets are refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import mmap
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pyarrow as pa

from tapesim.calibration.importers.tape import (
    ImportedTape,
    SourceError,
    SourceSpec,
    check_times,
    new_quotes,
)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
VENUES = {"XNAS.ITCH": "NASDAQ", "XNYS.PILLAR": "NYSE", "ARCX.PILLAR": "ARCA",
          "BATS.PITCH": "BATS", "IEXG.TOPS": "IEX", "XBOS.ITCH": "BX", "XPSX.ITCH": "PSX",
          "EDGX.PITCH": "EDGX", "EDGA.PITCH": "EDGA", "BATY.PITCH": "BYX"}
SCHEMAS = {"trades": dbn.TradeMsg, "mbp-1": dbn.MBP1Msg, "tbbo": dbn.MBP1Msg}
AGGRESSOR = {b"B": 0, b"A": 1}  # index into ("buy", "sell", None)


def _raw(path: Path, data: bytes | mmap.mmap) -> bytes | mmap.mmap:
    """The DBN bytes of the file's bytes ``data``: decompressed when zstd."""
    if data[:4] == ZSTD_MAGIC:
        try:
            data = pa.input_stream(str(path), compression="zstd").read()
        except (OSError, pa.ArrowException) as err:
            raise SourceError(f"{path}: the zstd stream cannot be read ({err}): the file is "
                              "truncated or damaged") from None
    return data


def _metadata(path: Path, data: bytes | mmap.mmap) -> tuple[dbn.Metadata, int]:
    """The decoded metadata and the offset of the first record."""
    if data[:3] != b"DBN" or len(data) < 8:
        raise SourceError(f"{path}: not a DBN file (it does not start with 'DBN')")
    (length,) = struct.unpack_from("<I", data, 4)
    if len(data) < 8 + length:
        raise SourceError(f"{path}: the metadata is cut short: the file is truncated")
    try:
        return dbn.Metadata.decode(data[:8 + length]), 8 + length
    except (ValueError, dbn.DBNError) as err:
        raise SourceError(f"{path}: the DBN metadata cannot be decoded ({err})") from None


def _instruments(metadata: dbn.Metadata, day: dt.date) -> dict[int, str]:
    """Instrument id -> ticker from the metadata's symbol mappings in force on ``day``;
    without mappings, a file of one symbol maps every record (id -1) to it."""
    mappings = [(int(interval["symbol"]), str(raw_symbol).upper(),
                 interval["start_date"] <= day < interval["end_date"])
                for raw_symbol, intervals in (metadata.mappings or {}).items()
                for interval in intervals]
    # None in force on the day: the times' own check names the date that does not match.
    in_force = any(on_day for _i, _s, on_day in mappings)
    out = {i: s for i, s, on_day in mappings if on_day or not in_force}
    if not out and len(metadata.symbols) == 1:
        return {-1: str(metadata.symbols[0]).upper()}
    return out


def _instrument_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the distinct instrument ids ascending, the first record of each, each record's
    index into them) of an int64 array of ids; a file of one instrument (the common
    case) is told by one comparison instead of a sort."""
    if ids.size and (ids == ids[0]).all():
        return ids[:1].copy(), np.zeros(1, np.int64), np.zeros(ids.size, np.int64)
    uniq, first, code = np.unique(ids, return_index=True, return_inverse=True)
    return uniq, first, code.astype(np.int64)


def _map(path: Path) -> bytes | mmap.mmap:
    """The file's bytes, mapped read-only rather than copied (empty bytes for an empty
    file, which cannot be mapped). Every array the decoder returns is a copy, so the
    mapping goes when the last view of it is dropped."""
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _sha256(data: bytes | mmap.mmap) -> str:
    return hashlib.sha256(data).hexdigest()


def read_dbn(path: Path, day: dt.date, symbol: str | None) -> ImportedTape:
    """The prints and quotes of a DBN file of ``day``; ``symbol`` keeps one ticker.

    Raises :class:`SourceError` naming the file and what is wrong: not DBN, a damaged
    or truncated file (a partial last record), a schema other than trades, mbp-1 or
    tbbo, a dataset of no known single venue, records of another size, an instrument
    without a symbol, times off ``day`` or going back.
    """
    if not path.is_file():
        raise SourceError(f"{path}: no such file: pass a DBN file (.dbn or .dbn.zst)")
    file_bytes = _map(path)
    # The file's sha256 on a helper thread (hashing releases the GIL) while it is decoded.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbn-hash") as pool:
        digest = pool.submit(_sha256, file_bytes)
        tape = _decode(path, _raw(path, file_bytes), day, symbol)
    return dataclasses.replace(tape, spec=dataclasses.replace(tape.spec,
                                                              sha256=(digest.result(),)))


def _decode(path: Path, data: bytes | mmap.mmap, day: dt.date,
            symbol: str | None) -> ImportedTape:
    """The tape of the DBN bytes ``data`` of ``path`` (:func:`read_dbn`)."""
    metadata, offset = _metadata(path, data)
    schema = str(metadata.schema)
    if schema not in SCHEMAS:
        raise SourceError(f"{path}: schema {schema} is not imported: export trades, mbp-1 "
                          "or tbbo")
    venue = VENUES.get(metadata.dataset)
    if venue is None:
        raise SourceError(f"{path}: dataset {metadata.dataset} is not a single venue tapesim "
                          f"knows: one of {', '.join(sorted(VENUES))}")
    dtype = np.dtype(SCHEMAS[schema]._dtypes)
    body = memoryview(data)[offset:]
    whole, rest = divmod(len(body), dtype.itemsize)
    if rest:
        raise SourceError(f"{path}: {rest} bytes after record {whole}, less than a "
                          f"{dtype.itemsize}-byte {schema} record: the file is truncated")
    rec = np.frombuffer(body, dtype=dtype, count=whole)
    odd = np.flatnonzero(rec["length"] != dtype.itemsize // 4)  # in 4-byte words
    if odd.size:
        raise SourceError(f"{path}: record {odd[0] + 1} is {int(rec['length'][odd[0]]) * 4} "
                          f"bytes, not a {schema} record: the file mixes schemas or is damaged")
    names = _instruments(metadata, day)
    ids = np.full(whole, -1, np.int64) if -1 in names else rec["instrument_id"].astype(np.int64)
    line = np.arange(1, whole + 1, dtype=np.int64)  # 1-based record number
    uniq, first, code = _instrument_codes(ids)
    unknown = np.setdiff1d(uniq, np.array(sorted(names), dtype=np.int64))
    if unknown.size:
        raise SourceError(f"{path}: instrument {unknown[0]} has no symbol in the metadata's "
                          "mappings: export with symbology (stype_out instrument_id)")
    if symbol is not None:
        wanted = np.isin(uniq, [i for i, s in names.items() if s == symbol.upper()])
        if not wanted.any():
            raise SourceError(f"{path}: no record of --symbol {symbol.upper()}")
        if not wanted.all():
            keep = wanted[code]
            # Whole records as opaque items: numpy copies them at once, not field by field.
            rec = rec.view(np.dtype((np.void, dtype.itemsize)))[keep].view(dtype)
            ids, line = ids[keep], line[keep]
            uniq, first, code = _instrument_codes(ids)
    tickers = pa.array([names[int(i)] for i in uniq], pa.string())
    symbols = tuple(dict.fromkeys(tickers[int(k)].as_py() for k in np.argsort(first)))
    ts = rec["ts_event"].astype(np.int64)
    check_times(path, ts, day, line, what="ts_event of record",
                group=code if uniq.size > 1 else None)
    prints = _prints(rec, schema, ts, tickers, code, line, venue)
    quotes = _quotes(rec, schema, ts, tickers, code, line)
    spec = SourceSpec("dbn", "venue_bbo" if schema != "trades" else "none", (path,),
                      (int(whole),), (venue,), venue=venue,
                      lacks=(*(("quotes",) if schema == "trades" else ()),
                             "off-exchange prints", "parent orders"),
                      quote_event="bbo_change",
                      options={"dataset": metadata.dataset, "schema": schema})
    return ImportedTape(day, symbols, quotes, prints, spec)


def _prints(rec: np.ndarray, schema: str, ts: np.ndarray, tickers: pa.Array, code: np.ndarray,
            line: np.ndarray, venue: str) -> pa.Table:
    rows = np.flatnonzero(rec["action"] == b"T") if schema == "mbp-1" else \
        np.arange(rec.size)
    side = np.full(rows.size, 2, dtype=np.int64)
    for letter, index in AGGRESSOR.items():
        side[rec["side"][rows] == letter] = index
    n = rows.size
    return pa.table({
        "ts_ns": ts[rows],
        "underlying_id": tickers.take(pa.array(code[rows])),
        "price": rec["price"][rows] / dbn.FIXED_PRICE_SCALE,
        "size": rec["size"][rows].astype(np.int64),
        "exchange": pa.repeat(pa.scalar(venue), n),
        "offExchangeFlag": np.zeros(n, dtype=bool),
        "line": line[rows],
        "source_event": pa.repeat(pa.scalar("trade"), n),
        "order_id": pa.nulls(n, pa.int64()),
        "aggressor": pa.array(["buy", "sell", None], pa.string()).take(pa.array(side)),
    })


def _quotes(rec: np.ndarray, schema: str, ts: np.ndarray, tickers: pa.Array, code: np.ndarray,
            line: np.ndarray) -> pa.Table:
    if schema == "trades":
        rows = np.zeros(0, dtype=np.int64)
        bid = ask = np.zeros(0, dtype=np.int64)
    else:
        # Each field once out of the 80-byte records: the checks below read them often.
        bid, ask = np.ascontiguousarray(rec["bid_px_00"]), np.ascontiguousarray(rec["ask_px_00"])
        two = (bid != dbn.UNDEF_PRICE) & (ask != dbn.UNDEF_PRICE) & (bid > 0) & (ask > 0)
        rows = np.flatnonzero(new_quotes(code, bid, ask, two))
        bid, ask = bid[rows], ask[rows]
    return pa.table({
        "ts_ns": ts[rows],
        "underlying_id": tickers.take(pa.array(code[rows])),
        "bid": bid / dbn.FIXED_PRICE_SCALE,
        "ask": ask / dbn.FIXED_PRICE_SCALE,
        "line": line[rows],
    })
