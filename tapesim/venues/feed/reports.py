"""Reports on earlier prints: a venue's cancels and corrections of trades it printed.

:class:`TradeReports` prints the reports a venue sends after the fact. A cancel
repeats the original print (its ``refers`` column names the original's row) and
moves its contracts and premium back; a correction prints the corrected trade and
the ledger moves the difference. Both go through the venues' own print path, so the
makers book (and hedge) them like any fill. The conditions (CANCEL, CORRECTION, or
LATE on a late print, which is a plain cross) are the caller's.
"""

from __future__ import annotations

from tapesim.venues.options import OptionVenues, Printed


class TradeReports:
    """Reports on the prints of one chain's venues.

    Args:
        venues: the options venues whose prints are reported on.
    """

    def __init__(self, venues: OptionVenues) -> None:
        self.venues = venues

    def cancel(self, original: Printed, conditions: int) -> Printed:
        """Report ``original`` cancelled: a print repeating it, its contracts and premium
        moved back. Returns the report's print."""
        o = original
        return self.venues._print(o.contract, o.price, o.qty, o.venue, o.agent, o.maker,
                                  o.side, conditions, o.parent, refers=o.row, moved=-o.qty)

    def correct(self, original: Printed, qty: int, conditions: int) -> Printed:
        """Report ``original`` corrected to ``qty`` contracts: a print of the corrected
        trade; the ledger moves the difference. Returns the report's print."""
        o = original
        return self.venues._print(o.contract, o.price, qty, o.venue, o.agent, o.maker,
                                  o.side, conditions, o.parent, refers=o.row,
                                  moved=qty - o.qty)
