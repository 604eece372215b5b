"""Feed models: faults wrapped around the options feed, and attribution of caused events.

The venues and tapes hold no scenario state. A scenario that needs a fault installs a
small model around one seam, only while it lasts, so a run without one pays nothing:

* the OPRA feed adapter (:class:`tapesim.venues.option_tape.OptionTape`), which the
  venues reach as ``OptionVenues.tape`` through the :class:`~.base.OptionFeed`
  protocol: :class:`~.freeze.FrozenFeed` holds back NBBO changes;
* consolidation (``OptionVenues.quote_fault``, the :class:`~.base.QuoteFault`
  protocol): :class:`~.stuck.StuckQuote` holds one venue's bid at a bad price;
* the venues' prints: :class:`~.reports.TradeReports` reports on earlier prints
  (late, cancelled, corrected);
* both tapes, for the duration of one action: :func:`~.attribution.caused_by` marks
  every event written meanwhile with the scenario that caused it.

One model per module, like a latency model: a fault is swapped by installing another
object that speaks the same protocol.
"""
