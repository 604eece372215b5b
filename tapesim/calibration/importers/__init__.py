"""Real tapes in: importers from vendor formats to canonical run directories.

One module per format reads its files into an
:class:`~tapesim.calibration.importers.tape.ImportedTape` (:mod:`.lobster`, :mod:`.csvmap`);
:mod:`.writer` is the one path from there to a run directory, so every importer gets the
same replay order, seq, trace ids, digest and manifest (``source.kind: real``).
"""
