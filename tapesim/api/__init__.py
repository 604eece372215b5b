"""The Python API: simulate a run, open a run directory, the schemas of the domain types.

``import tapesim`` exposes ``simulate``, ``open_run``, ``SyntheticRun`` and
``load_profile`` lazily from here (``tapesim.api.simulate``, ``tapesim.api.run``);
this package's own ``__init__`` imports nothing, so ``tapesim.api.schemas`` stays
cheap for the command line.
"""
