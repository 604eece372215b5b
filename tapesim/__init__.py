"""tapesim: agent-based market microsimulation of US equity and options tape data.

The Python API::

    import tapesim
    run = tapesim.simulate("options-smoke", seed=3, end="09:42", out="runs/s3")
    run.table("option_prints")           # a pyarrow.Table
    run = tapesim.open_run("runs/s3")    # cheap checks; run.verify() for the full one

``simulate``, ``open_run``, ``SyntheticRun``, ``load_profile`` and
``RunDirectoryError`` are loaded on first use (PEP 562), so importing a submodule
such as ``tapesim.sim.rng`` (as every worker process does) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tapesim._version import __version__

if TYPE_CHECKING:
    from tapesim.api.run import SyntheticRun, open_run
    from tapesim.api.simulate import simulate
    from tapesim.config.run import load_profile
    from tapesim.io.manifest import RunDirectoryError

_LAZY = {
    "simulate": "tapesim.api.simulate",
    "open_run": "tapesim.api.run",
    "SyntheticRun": "tapesim.api.run",
    "load_profile": "tapesim.config.run",
    "RunDirectoryError": "tapesim.io.manifest",
}

__all__ = ["RunDirectoryError", "SyntheticRun", "__version__", "load_profile", "open_run",
           "simulate"]


def __getattr__(name: str) -> Any:
    """The API's names, imported from their modules on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tapesim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
