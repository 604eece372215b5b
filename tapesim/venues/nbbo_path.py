"""The stock's NBBO over a pass of latent steps, as one compiled loop.

:meth:`tapesim.venues.equity.EquityVenues.sync` consolidates the makers' best quotes
of every step since the last trader action with the books' best (held fixed through
the pass) and writes a SIP quote where the NBBO changed. As a Python loop over the
steps that cost a few microseconds a step; this loop does the same integer
comparisons in one call. It is LLVM IR (:class:`tapesim.sim.compiled.IrLoops`), over
buffers whose addresses are read once.
"""

from __future__ import annotations

import ctypes

import numpy as np

from tapesim.sim.compiled import Buffer, IrLoops, context_words
from tapesim.venues.book import NO_ASK, NO_BID

# The buffers come in a context of int64 words (a ctypes call costs about a quarter of
# a microsecond an argument): times, best, out, cap, nbb, nbo; best is (2, cap) and out
# (3, cap), int64. changes: over k < n, bid = max(best[0][k], book_bid), ask =
# min(best[1][k], book_ask); where (bid, ask) differs from (nbb, nbo), (nbb, nbo) =
# (bid, ask) and, both sides present, the row (times[a + k], bid, ask) goes to out's
# columns. Returns the rows written; (nbb, nbo) are left in the context.
_IR = f"""
define i64 @changes(ptr noalias nocapture %ctx, i64 %a, i64 %n, i64 %book_bid,
                    i64 %book_ask) nounwind {{
entry:{context_words({0: ("times", "ptr"), 1: ("best", "ptr"), 2: ("out", "ptr"),
                      3: ("cap", "i64")})}  %state = getelementptr inbounds i64, ptr %ctx, i64 4
  %nbb0 = load i64, ptr %state
  %sp1 = getelementptr inbounds i64, ptr %ctx, i64 5
  %nbo0 = load i64, ptr %sp1
  br label %head
head:
  %k = phi i64 [0, %entry], [%k1, %next]
  %c = phi i64 [0, %entry], [%c2, %next]
  %nbb = phi i64 [%nbb0, %entry], [%nbb2, %next]
  %nbo = phi i64 [%nbo0, %entry], [%nbo2, %next]
  %more = icmp slt i64 %k, %n
  br i1 %more, label %body, label %exit
body:
  %px = getelementptr inbounds i64, ptr %best, i64 %k
  %x = load i64, ptr %px
  %ky = add i64 %k, %cap
  %py = getelementptr inbounds i64, ptr %best, i64 %ky
  %y = load i64, ptr %py
  %gx = icmp sgt i64 %x, %book_bid
  %bid = select i1 %gx, i64 %x, i64 %book_bid
  %ly = icmp slt i64 %y, %book_ask
  %ask = select i1 %ly, i64 %y, i64 %book_ask
  %db = icmp ne i64 %bid, %nbb
  %da = icmp ne i64 %ask, %nbo
  %moved = or i1 %db, %da
  br i1 %moved, label %moved_l, label %next
moved_l:
  %hb = icmp ne i64 %bid, {NO_BID}
  %ha = icmp ne i64 %ask, {NO_ASK}
  %two = and i1 %hb, %ha
  br i1 %two, label %write, label %next
write:
  %ta = add i64 %a, %k
  %pt = getelementptr inbounds i64, ptr %times, i64 %ta
  %t = load i64, ptr %pt
  %po0 = getelementptr inbounds i64, ptr %out, i64 %c
  store i64 %t, ptr %po0
  %c1o = add i64 %c, %cap
  %po1 = getelementptr inbounds i64, ptr %out, i64 %c1o
  store i64 %bid, ptr %po1
  %c2o = add i64 %c1o, %cap
  %po2 = getelementptr inbounds i64, ptr %out, i64 %c2o
  store i64 %ask, ptr %po2
  %c1 = add i64 %c, 1
  br label %next
next:
  %c2 = phi i64 [%c, %body], [%c, %moved_l], [%c1, %write]
  %nbb2 = phi i64 [%nbb, %body], [%bid, %moved_l], [%bid, %write]
  %nbo2 = phi i64 [%nbo, %body], [%ask, %moved_l], [%ask, %write]
  %k1 = add i64 %k, 1
  br label %head
exit:
  store i64 %nbb, ptr %state
  store i64 %nbo, ptr %sp1
  ret i64 %c
}}
"""

_P, _I = ctypes.c_void_p, ctypes.c_int64
_LOOPS = IrLoops(_IR, {"changes": ctypes.PYFUNCTYPE(_I, _P, _I, _I, _I, _I)})


class NbboPass:
    """One stock's buffers for a pass of at most ``cap`` latent steps and its compiled
    NBBO loop, bound to ``times`` ((steps,) int64, each latent step's time in ns).

    :attr:`best` ((2, cap) int64) receives the makers' best bids and asks of the pass
    (:meth:`tapesim.agents.market_maker.MakerDesk.best_path`); :meth:`changes` turns
    them into NBBO changes in :attr:`out` ((3, cap) int64: times in ns, bids, asks in
    cents).

    Raises:
        ValueError: ``times`` not a C-contiguous int64 vector.
    """

    def __init__(self, times: np.ndarray, cap: int) -> None:
        if times.dtype != np.int64 or times.ndim != 1:
            raise ValueError("times must be an int64 vector")
        self._times = Buffer(times)
        self.best = Buffer(np.zeros((2, cap), dtype=np.int64))
        self.out = Buffer(np.zeros((3, cap), dtype=np.int64))
        self._ctx = (ctypes.c_int64 * 6)(self._times.address, self.best.address,
                                         self.out.address, cap, 0, 0)
        self._ctx_address = ctypes.addressof(self._ctx)
        self._cap = cap
        self._changes = _LOOPS.functions()["changes"]

    def changes(self, a: int, n: int, book_bid: int, book_ask: int, nbb: int, nbo: int
                ) -> tuple[int, int, int]:
        """The NBBO changes at steps a .. a + n - 1 of the makers' best quotes in
        :attr:`best` (int64 whole cents, NO_BID / NO_ASK where none), against the books'
        best ``book_bid`` / ``book_ask`` (NO_BID / NO_ASK when none), from the NBBO in
        force ``nbb`` / ``nbo``.

        At each step the NBBO is the better of the makers' and the books' price per
        side; where it differs from the one before it becomes the NBBO in force, and a
        quote is written unless a side is missing (a one-sided market is not a quote).
        Returns (how many quotes, now in ``out.array[:, :count]``, and the NBBO bid and
        ask in force after the last step).

        Raises:
            ValueError: ``n`` beyond the buffers or steps outside ``times``.
        """
        if not 0 <= n <= self._cap or a < 0 or a + n > self._times.array.shape[0]:
            raise ValueError(f"{n} steps from {a} do not fit the pass buffers")
        ctx = self._ctx
        ctx[4] = nbb
        ctx[5] = nbo
        c = self._changes(self._ctx_address, a, n, book_bid, book_ask)
        return c, ctx[4], ctx[5]
