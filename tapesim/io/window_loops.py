"""A merged window's trace ids and core digest records, each made in one compiled pass.

:meth:`tapesim.io.canonical.Canonicaliser.window` gives every row its trace id
``<run_id>:<stream>:<seq>`` (CONTRACT.md §1), for the event tables and provenance
alike. As Arrow kernels that is a string per row for the prefix (a dictionary cast), a
decimal cast of seq and a join of the two, about 75 ns a row; :func:`trace_ids` writes
each id's bytes once, the prefix of its kind and then the digits of its seq, straight
into the string array's buffers.

It also hands the stream digest one
:data:`~tapesim.io.digest.RECORD` per event (114 packed bytes: seq, the three times,
kind, underlying, contract, price, ask, sizes, exchange, off-exchange flag). As numpy
expressions that is a dozen strided field writes and as many temporaries per row
block, about a tenth of a microsecond an event, a few percent of a run's writing; the
loop below writes each record once, straight from the spool columns. It is LLVM IR
(:class:`tapesim.sim.compiled.IrLoops`, about 0.1 CPU s to compile on first use) and
releases the GIL, so the merge and the Parquet encoders run meanwhile.

The records are those of :func:`tapesim.io.digest.pack_records` on the canonical
tables (the same division of integer cents by 100.0, one IEEE operation), the trace
ids those of Arrow's decimal cast and join; ``tests/test_window_loops.py`` compares
each loop with its rule as numpy or Arrow expressions.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pyarrow as pa

from tapesim.events.models import EQUITY_PRINT, EQUITY_QUOTE, OPTION_NBBO, OPTION_PRINT
from tapesim.io.digest import RECORD
from tapesim.sim.compiled import IrLoops, context_words

_OFFSET = {name: RECORD.fields[name][1] for name in RECORD.names}

# Context words (int64): the output, the first seq, the spool columns (ts, ingest_ts:
# int64; kind: int8; shard: int32; venue: int16; price, ask, size: int64; contract:
# int32, ask_size: int64, any value on stock rows), each shard's first run-wide contract
# index (int64), the three text tables (S8 underlyings, S32 contracts, S8 exchanges, each
# ending in the empty value), the empty entries' indices, the first option venue's index
# in the exchange table and the number of lit venues.
_WORDS = {0: ("out", "ptr"), 1: ("seq0", "i64"), 2: ("ts", "ptr"), 3: ("ingest", "ptr"),
          4: ("kind", "ptr"), 5: ("shard", "ptr"), 6: ("venue", "ptr"), 7: ("price", "ptr"),
          8: ("ask", "ptr"), 9: ("size", "ptr"), 10: ("contract", "ptr"),
          11: ("asksize", "ptr"), 12: ("offsets", "ptr"), 13: ("unds", "ptr"),
          14: ("cons", "ptr"), 15: ("exchs", "ptr"), 16: ("no_und", "i64"),
          17: ("no_con", "i64"), 18: ("opt_venue0", "i64"), 19: ("no_exch", "i64"),
          20: ("n_lit", "i64")}


def _field(name: str, register: str, type_: str) -> str:
    """IR storing ``register`` (of ``type_``) at record field ``name`` of ``%rec``."""
    return (f"  %{name}.p = getelementptr inbounds i8, ptr %rec, i64 {_OFFSET[name]}\n"
            f"  store {type_} {register}, ptr %{name}.p, align 1\n")


def _text(name: str, table: str, index: str, words: int) -> str:
    """IR copying entry ``index`` of the text table ``table`` (``words`` 8-byte words an
    entry) to record field ``name``."""
    lines = [f"  %{name}.e = mul i64 {index}, {8 * words}",
             f"  %{name}.s = getelementptr inbounds i8, ptr %{table}, i64 %{name}.e"]
    for w in range(words):
        lines += [f"  %{name}.s{w} = getelementptr inbounds i8, ptr %{name}.s, i64 {8 * w}",
                  f"  %{name}.v{w} = load i64, ptr %{name}.s{w}, align 1",
                  f"  %{name}.d{w} = getelementptr inbounds i8, ptr %rec, "
                  f"i64 {_OFFSET[name] + 8 * w}",
                  f"  store i64 %{name}.v{w}, ptr %{name}.d{w}, align 1"]
    return "\n".join(lines) + "\n"


def _load(name: str, column: str, type_: str, extend: str = "") -> str:
    """IR loading row ``%i`` of ``column`` (of ``type_``) as ``%name`` (i64 through
    ``extend``, e.g. ``sext``, when narrower)."""
    raw = f"%{name}.r" if extend else f"%{name}"
    out = (f"  %{name}.p = getelementptr inbounds {type_}, ptr %{column}, i64 %i\n"
           f"  {raw} = load {type_}, ptr %{name}.p\n")
    if extend:
        out += f"  %{name} = {extend} {type_} {raw} to i64\n"
    return out


_IR = f"""
define void @records(ptr noalias nocapture %ctx, i64 %lo, i64 %hi) nounwind {{
entry:{context_words(_WORDS)}  br label %head
head:
  %i = phi i64 [%lo, %entry], [%i1, %body]
  %more = icmp slt i64 %i, %hi
  br i1 %more, label %body, label %exit
body:
  %at = mul i64 %i, {RECORD.itemsize}
  %rec = getelementptr inbounds i8, ptr %out, i64 %at
  %seq = add i64 %seq0, %i
{_field("seq", "%seq", "i64")}{_load("t", "ts", "i64")}{_field("ts", "%t", "i64")}\
{_field("source_ts", "%t", "i64")}{_load("g", "ingest", "i64")}{_field("ingest_ts", "%g", "i64")}\
{_load("k", "kind", "i8")}{_field("kind", "%k", "i8")}\
{_load("s", "shard", "i32", "sext")}{_load("v", "venue", "i16", "sext")}\
  %quote = icmp eq i8 %k, {EQUITY_QUOTE.code}
  %nbbo = icmp eq i8 %k, {OPTION_NBBO.code}
  %eprint = icmp eq i8 %k, {EQUITY_PRINT.code}
  %oprint = icmp eq i8 %k, {OPTION_PRINT.code}
  %option = or i1 %nbbo, %oprint
  %print = or i1 %eprint, %oprint
  %und = select i1 %nbbo, i64 %no_und, i64 %s
{_text("underlying_id", "unds", "%und", 1)}{_load("c", "contract", "i32", "sext")}\
  %first.p = getelementptr inbounds i64, ptr %offsets, i64 %s
  %first = load i64, ptr %first.p
  %global = add i64 %first, %c
  %con = select i1 %option, i64 %global, i64 %no_con
{_text("contract", "cons", "%con", 4)}{_load("pc", "price", "i64")}\
  %pf = sitofp i64 %pc to double
  %pd = fdiv double %pf, 100.0
{_field("price", "%pd", "double")}{_load("ac", "ask", "i64")}\
  %af = sitofp i64 %ac to double
  %ad = fdiv double %af, 100.0
  %askv = select i1 %print, double 0.0, double %ad
{_field("ask", "%askv", "double")}{_load("z", "size", "i64")}\
  %sizev = select i1 %quote, i64 0, i64 %z
{_field("size", "%sizev", "i64")}{_load("az", "asksize", "i64")}\
  %asksizev = select i1 %nbbo, i64 %az, i64 0
{_field("ask_size", "%asksizev", "i64")}\
  %ov = add i64 %opt_venue0, %v
  %oex = select i1 %oprint, i64 %ov, i64 %no_exch
  %ex = select i1 %eprint, i64 %v, i64 %oex
{_text("exchange", "exchs", "%ex", 1)}\
  %off.trf = icmp sge i64 %v, %n_lit
  %off.b = and i1 %eprint, %off.trf
  %off = zext i1 %off.b to i8
{_field("off_exchange", "%off", "i8")}\
  %i1 = add i64 %i, 1
  br label %head
exit:
  ret void
}}
"""

# traces(ctx, n): row i (of n) gets the bytes of prefix kind[i] (prefixes: a table of
# rows of _PREFIX_ROOM bytes, lengths: their int64 lengths) and then the decimal digits of
# seq0 + i (positive), written to data from offset 0, its end to offsets[i + 1] (int32;
# offsets[0] is 0). Returns the bytes written.
_PREFIX_ROOM = 64
_TRACE_IR = """
declare void @llvm.memcpy.p0.p0.i64(ptr noalias nocapture writeonly, ptr noalias nocapture
                                    readonly, i64, i1)

define i64 @traces(ptr noalias nocapture %ctx, i64 %n) nounwind {
entry:""" + context_words({0: ("data", "ptr"), 1: ("offsets", "ptr"), 2: ("kinds", "ptr"),
                           3: ("first", "i64"), 4: ("prefixes", "ptr"),
                           5: ("lengths", "ptr")}) + f"""  store i32 0, ptr %offsets
  br label %row
row:
  %i = phi i64 [0, %entry], [%i1, %digits_done]
  %pos = phi i64 [0, %entry], [%end, %digits_done]
  %more = icmp slt i64 %i, %n
  br i1 %more, label %prefix, label %exit
prefix:
  %kp = getelementptr inbounds i8, ptr %kinds, i64 %i
  %k8 = load i8, ptr %kp
  %k = sext i8 %k8 to i64
  %lp = getelementptr inbounds i64, ptr %lengths, i64 %k
  %len = load i64, ptr %lp
  %src.o = mul i64 %k, {_PREFIX_ROOM}
  %src = getelementptr inbounds i8, ptr %prefixes, i64 %src.o
  %dst = getelementptr inbounds i8, ptr %data, i64 %pos
  call void @llvm.memcpy.p0.p0.i64(ptr %dst, ptr %src, i64 %len, i1 false)
  %seq = add i64 %first, %i
  br label %count
count:
  %c.v = phi i64 [%seq, %prefix], [%c.q, %count]
  %c.d = phi i64 [0, %prefix], [%c.d1, %count]
  %c.q = udiv i64 %c.v, 10
  %c.d1 = add i64 %c.d, 1
  %c.more = icmp ne i64 %c.q, 0
  br i1 %c.more, label %count, label %counted
counted:
  %start = add i64 %pos, %len
  %end = add i64 %start, %c.d1
  br label %digit
digit:
  %d.v = phi i64 [%seq, %counted], [%d.q, %digit]
  %d.at = phi i64 [%end, %counted], [%d.at1, %digit]
  %d.q = udiv i64 %d.v, 10
  %d.t = mul i64 %d.q, 10
  %d.r = sub i64 %d.v, %d.t
  %d.r8 = trunc i64 %d.r to i8
  %d.c = add i8 %d.r8, 48
  %d.at1 = sub i64 %d.at, 1
  %d.p = getelementptr inbounds i8, ptr %data, i64 %d.at1
  store i8 %d.c, ptr %d.p
  %d.more = icmp ne i64 %d.q, 0
  br i1 %d.more, label %digit, label %digits_done
digits_done:
  %i1 = add i64 %i, 1
  %op = getelementptr inbounds i32, ptr %offsets, i64 %i1
  %end32 = trunc i64 %end to i32
  store i32 %end32, ptr %op
  br label %row
exit:
  ret i64 %pos
}}
"""

_P, _I = ctypes.c_void_p, ctypes.c_int64
#: ``CFUNCTYPE``: a call covers a whole window and releases the GIL meanwhile.
_LOOPS = IrLoops(_IR + _TRACE_IR, {"records": ctypes.CFUNCTYPE(None, _P, _I, _I),
                                   "traces": ctypes.CFUNCTYPE(_I, _P, _I)})
#: The most digits of a positive int64.
_DIGITS = 19
_COLUMNS = {"ts": np.int64, "ingest_ts": np.int64, "kind": np.int8, "shard": np.int32,
            "venue": np.int16, "price": np.int64, "ask": np.int64, "size": np.int64,
            "contract": np.int32, "ask_size": np.int64}


def pack_window(columns: dict[str, np.ndarray], seq0: int, offsets: np.ndarray,
                underlyings: np.ndarray, contracts: np.ndarray, exchanges: np.ndarray,
                option_venue0: int, n_lit: int) -> np.ndarray:
    """The :data:`~tapesim.io.digest.RECORD` of every row of a replay-ordered window.

    Args:
        columns: the window's spool columns by name, each of its n rows: ``ts`` and
            ``ingest_ts`` (int64 epoch ms), ``kind`` (int8 event-kind code), ``shard``
            (int32), ``venue`` (int16: an equity print's index among the lit then TRF
            venues, an option print's among the option venues), ``price``, ``ask`` (int64
            cents: bid and ask of a quote, price of a print), ``size`` (int64),
            ``contract`` (int32 local contract index) and ``ask_size`` (int64), the last
            two read only on option rows. Other integer dtypes are converted.
        seq0: the seq of the first row; row i gets ``seq0 + i``.
        offsets: int64, each shard's first run-wide contract index.
        underlyings: ``S8``, each shard's symbol, then the empty value (option NBBOs).
        contracts: ``S32``, every run-wide contract id, then the empty value.
        exchanges: ``S8``, the equity venue codes, the option venue codes from index
            ``option_venue0``, then the empty value (quotes).
        option_venue0: the first option venue's index in ``exchanges``.
        n_lit: equity venues below this index are lit; a print at another is off-exchange.

    Returns:
        A ``RECORD`` array of n records: prices and asks in dollars (cents / 100.0),
        ask 0 on prints, size 0 on equity quotes, ask_size only on option NBBOs, the
        contract only on option rows, the exchange only on prints.

    Raises:
        ValueError: a column of the wrong length or a text table of the wrong width.
    """
    n = len(columns["kind"])
    arrays = {name: np.ascontiguousarray(columns[name], dtype=dtype)
              for name, dtype in _COLUMNS.items()}
    if any(a.shape != (n,) for a in arrays.values()):
        raise ValueError("every column of a window must have one value per row")
    tables = [np.ascontiguousarray(t) for t in (underlyings, contracts, exchanges)]
    if [t.dtype for t in tables] != [np.dtype("S8"), np.dtype("S32"), np.dtype("S8")]:
        raise ValueError("the text tables must be S8, S32 and S8")
    firsts = np.ascontiguousarray(offsets, dtype=np.int64)
    out = np.empty(n, dtype=RECORD)  # every field of every record is written
    if n == 0:
        return out
    a = arrays
    context = (ctypes.c_int64 * len(_WORDS))(
        out.ctypes.data, seq0, a["ts"].ctypes.data, a["ingest_ts"].ctypes.data,
        a["kind"].ctypes.data, a["shard"].ctypes.data, a["venue"].ctypes.data,
        a["price"].ctypes.data, a["ask"].ctypes.data, a["size"].ctypes.data,
        a["contract"].ctypes.data, a["ask_size"].ctypes.data, firsts.ctypes.data,
        tables[0].ctypes.data, tables[1].ctypes.data, tables[2].ctypes.data,
        len(tables[0]) - 1, len(tables[1]) - 1, option_venue0, len(tables[2]) - 1, n_lit)
    _LOOPS.functions()["records"](ctypes.addressof(context), 0, n)
    return out


def trace_ids(prefixes: list[str], kind: np.ndarray, seq0: int) -> pa.Array:
    """Row i's trace id: ``prefixes[kind[i]]`` followed by the decimal digits of
    ``seq0 + i``, as a string array of ``len(kind)`` rows without nulls.

    Args:
        prefixes: the trace-id prefix of each kind code, ``<run_id>:<stream>:``.
        kind: int8 (or any integer) kind code of each row, each an index of ``prefixes``.
        seq0: the first row's seq, at least 1.

    Raises:
        ValueError: a prefix longer than 64 UTF-8 bytes, a kind code outside
            ``prefixes``, a seq below 1 or past int64, or a window of 2 GiB of ids.
    """
    encoded = [p.encode("utf-8") for p in prefixes]
    if any(len(p) > _PREFIX_ROOM for p in encoded):
        raise ValueError(f"a trace-id prefix longer than {_PREFIX_ROOM} bytes")
    n = len(kind)
    codes = np.ascontiguousarray(kind, dtype=np.int8)
    if n and (int(codes.min()) < 0 or int(codes.max()) >= len(encoded)):
        raise ValueError("a kind code without a trace-id prefix")
    if seq0 < 1 or seq0 + n - 1 >= 1 << 63:
        raise ValueError(f"seqs {seq0} to {seq0 + n - 1} are not positive int64s")
    room = max((len(p) for p in encoded), default=0) + _DIGITS
    if n * room >= 1 << 31:
        raise ValueError("a window's trace ids must stay under 2 GiB")
    table = np.zeros((max(len(encoded), 1), _PREFIX_ROOM), dtype=np.uint8)
    for code, prefix in enumerate(encoded):
        table[code, :len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    lengths = np.array([len(p) for p in encoded] or [0], dtype=np.int64)
    data = np.empty(n * room, dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int32)
    context = (ctypes.c_int64 * 6)(data.ctypes.data, offsets.ctypes.data, codes.ctypes.data,
                                   seq0, table.ctypes.data, lengths.ctypes.data)
    used = _LOOPS.functions()["traces"](ctypes.addressof(context), n)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets),
                                       pa.py_buffer(data[:used]))
