"""The equity makers' best quotes over a pass of latent steps, and every maker's quotes
at one step, as compiled loops.

:meth:`tapesim.agents.market_maker.MakerDesk.quotes` states the rule: every maker's
quotes are its held quotes plus its shift (``held + shifts``, float64 whole cents,
-inf for a side not shown). Over a pass the best bid and ask are their maxima over
makers, the pass stops short of the first step where a maker picks off a book order,
and an ask at or below the best bid slides by
:func:`tapesim.agents.market_maker.slide_bounds`. Written as numpy passes and Python
lists, a pass of a few tens of steps cost tens of microseconds of per-call overhead;
these loops do it in one call each, with the same float operations (an int32 held
quote converted to float64 plus a float64 shift, compared with the book's integer
prices converted to float64), so every value is the one the numpy form gives. They
are LLVM IR (:class:`tapesim.sim.compiled.IrLoops`), over addresses taken once.
"""

from __future__ import annotations

import ctypes

import numpy as np

from tapesim.sim.compiled import Buffer, IrLoops, context_words
from tapesim.venues.book import NO_ASK, NO_BID

# The arrays come in a context of int64 words (a ctypes call costs about a quarter of a
# microsecond an argument): held, shifts, m, steps, out, cap, col. held is (m, 2,
# steps) int32 and shifts (m, 2) float64, both C order; out (2, cap) int64; col (2, m)
# float64. best_quotes: the best bid and ask at steps a..b-1 into out[0] / out[1],
# stopping before a pick-off; returns how many steps it wrote. column: col[0][i] =
# held[i, 0, j] + shifts[i, 0], col[1][i] = held[i, 1, j] + shifts[i, 1].
_CONTEXT = context_words({0: ("held", "ptr"), 1: ("shifts", "ptr"), 2: ("m", "i64"),
                          3: ("steps", "i64")})


def _maker_quotes(step: str) -> str:
    """IR: maker %i's bid %v and minus ask %w at step ``%step`` (held plus shift)."""
    return f"""
  %row = shl i64 %i, 1
  %rowb = mul i64 %row, %steps
  %ib = add i64 %rowb, %{step}
  %pb = getelementptr inbounds i32, ptr %held, i64 %ib
  %hb = load i32, ptr %pb
  %ia = add i64 %ib, %steps
  %pa = getelementptr inbounds i32, ptr %held, i64 %ia
  %ha = load i32, ptr %pa
  %psb = getelementptr inbounds double, ptr %shifts, i64 %row
  %sb = load double, ptr %psb
  %row1 = or i64 %row, 1
  %psa = getelementptr inbounds double, ptr %shifts, i64 %row1
  %sa = load double, ptr %psa
  %fb = sitofp i32 %hb to double
  %v = fadd double %fb, %sb
  %fa = sitofp i32 %ha to double
  %w = fadd double %fa, %sa"""


_IR = f"""
define i64 @best_quotes(ptr noalias nocapture readonly %ctx, i64 %a, i64 %b,
                        i64 %book_bid, i64 %book_ask) nounwind {{
entry:{_CONTEXT}
{context_words({4: ("out", "ptr"), 5: ("cap", "i64")})}  %bbf = sitofp i64 %book_bid to double
  %baf = sitofp i64 %book_ask to double
  %capi = sub i64 %book_ask, 1
  %capf = sitofp i64 %capi to double
  br label %step
step:
  %k = phi i64 [%a, %entry], [%k1, %emit]
  %n = phi i64 [0, %entry], [%n1, %emit]
  %more = icmp slt i64 %k, %b
  br i1 %more, label %mhead, label %done
mhead:
  %i = phi i64 [0, %step], [%i1, %mbody]
  %x = phi double [0xFFF0000000000000, %step], [%x1, %mbody]
  %z = phi double [0xFFF0000000000000, %step], [%z1, %mbody]
  %mm = icmp slt i64 %i, %m
  br i1 %mm, label %mbody, label %check
mbody:{_maker_quotes("k")}
  %gv = fcmp ogt double %v, %x
  %x1 = select i1 %gv, double %v, double %x
  %gw = fcmp ogt double %w, %z
  %z1 = select i1 %gw, double %w, double %z
  %i1 = add i64 %i, 1
  br label %mhead
check:
  %y = fneg double %z
  %c1 = fcmp oge double %x, %baf
  %c2 = fcmp ole double %y, %bbf
  %stop = or i1 %c1, %c2
  br i1 %stop, label %done, label %slideq
slideq:
  %sl = fcmp ole double %y, %x
  br i1 %sl, label %slide, label %emit
slide:
  %lt = fcmp olt double %x, %capf
  %lo = select i1 %lt, double %x, double %capf
  %gt = fcmp ogt double %lo, %bbf
  %lo2 = select i1 %gt, double %lo, double %bbf
  %floor = fadd double %lo2, 1.0
  %fy = fcmp ogt double %floor, %y
  %ys = select i1 %fy, double %floor, double %y
  br label %emit
emit:
  %yy = phi double [%y, %slideq], [%ys, %slide]
  %xn = fcmp oeq double %x, 0xFFF0000000000000
  %xi = fptosi double %x to i64
  %bo = select i1 %xn, i64 {NO_BID}, i64 %xi
  %yn = fcmp oeq double %yy, 0x7FF0000000000000
  %yi = fptosi double %yy to i64
  %ao = select i1 %yn, i64 {NO_ASK}, i64 %yi
  %pob = getelementptr inbounds i64, ptr %out, i64 %n
  store i64 %bo, ptr %pob
  %na = add i64 %n, %cap
  %poa = getelementptr inbounds i64, ptr %out, i64 %na
  store i64 %ao, ptr %poa
  %n1 = add i64 %n, 1
  %k1 = add i64 %k, 1
  br label %step
done:
  %nf = phi i64 [%n, %step], [%n, %check]
  ret i64 %nf
}}

define void @column(ptr noalias nocapture readonly %ctx, i64 %j) nounwind {{
entry:{_CONTEXT}
{context_words({6: ("out", "ptr")})}  br label %head
head:
  %i = phi i64 [0, %entry], [%i1, %body]
  %c = icmp slt i64 %i, %m
  br i1 %c, label %body, label %exit
body:{_maker_quotes("j")}
  %pob = getelementptr inbounds double, ptr %out, i64 %i
  store double %v, ptr %pob
  %im = add i64 %i, %m
  %poa = getelementptr inbounds double, ptr %out, i64 %im
  store double %w, ptr %poa
  %i1 = add i64 %i, 1
  br label %head
exit:
  ret void
}}
"""

_P, _I = ctypes.c_void_p, ctypes.c_int64
_LOOPS = IrLoops(_IR, {
    "best_quotes": ctypes.PYFUNCTYPE(_I, _P, _I, _I, _I, _I),
    "column": ctypes.PYFUNCTYPE(None, _P, _I),
})


class MakerLoops:
    """The makers' compiled loops bound to one desk's arrays, their addresses read once.

    ``held``: (makers, 2, steps) int32, each maker's bid and minus ask before its
    adjustment; ``shifts``: (makers, 2, 1) float64, A_m and -A_m on a side shown, -inf
    on a side not shown. Both are read at every call, so they must be changed in place,
    never replaced. :attr:`col` is :meth:`column`'s (2, makers) float64 output.

    Raises:
        ValueError: an array of the wrong dtype, shape or layout.
    """

    def __init__(self, held: np.ndarray, shifts: np.ndarray) -> None:
        m = held.shape[0]
        if held.dtype != np.int32 or held.ndim != 3 or held.shape[1] != 2:
            raise ValueError("held must be (makers, 2, steps) int32")
        if shifts.dtype != np.float64 or shifts.shape != (m, 2, 1):
            raise ValueError("shifts must be (makers, 2, 1) float64")
        self._held, self._shifts = Buffer(held), Buffer(shifts)
        self._steps = held.shape[2]
        self.col = Buffer(np.zeros((2, m)))
        self._out: Buffer | None = None  # best's last output, its address in the context
        self._ctx = (ctypes.c_int64 * 7)(self._held.address, self._shifts.address, m,
                                         self._steps, 0, 0, self.col.address)
        self._ctx_address = ctypes.addressof(self._ctx)
        fns = _LOOPS.functions()
        self._best, self._column = fns["best_quotes"], fns["column"]

    def best(self, a: int, b: int, book_bid: int, book_ask: int, out: Buffer) -> int:
        """The best maker bid and ask at steps a .. b - 1 (0 <= a <= b <= steps), stopping
        before the first step where the best bid >= ``book_ask`` or the best ask <=
        ``book_bid`` (a pick-off); ``book_bid`` / ``book_ask`` are the best book prices
        in cents (NO_BID / NO_ASK when none).

        Writes the best bids and asks, int64 whole cents (NO_BID / NO_ASK where no maker
        shows that side), into ``out.array[0]`` / ``[1]`` (int64, (2, at least b - a))
        and returns how many steps it wrote: b - a, or the steps before the pick-off. An
        ask at or below the best bid shows at max(ask, max(min(bid, book_ask - 1),
        book_bid) + 1).

        Raises:
            ValueError: steps outside the arrays or ``out`` too small.
        """
        cap = out.array.shape[1]
        if not 0 <= a <= b <= self._steps or b - a > cap or out.array.dtype != np.int64:
            raise ValueError(f"steps {a}..{b} do not fit {self._steps} steps and {cap} "
                             "columns of int64")
        if out is not self._out:
            self._out = out
            self._ctx[4], self._ctx[5] = out.address, cap
        return self._best(self._ctx_address, a, b, book_bid, book_ask)

    def column(self, j: int) -> list[list[float]]:
        """Every maker's quotes at step j as [bids, minus asks] lists of floats, the
        values of ``held[:, :, j] + shifts[:, :, 0]`` transposed (also left in
        :attr:`col`).

        Raises:
            ValueError: ``j`` outside the steps.
        """
        if not 0 <= j < self._steps:
            raise ValueError(f"step {j} outside 0..{self._steps - 1}")
        self._column(self._ctx_address, j)
        return self.col.array.tolist()
