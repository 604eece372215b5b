"""Runs cached by their parameter snapshot hash, so a test suite simulates each once.

A cached run lives in ``<cache>/<key>``, the key being the first 16 hex digits of the
run's parameter snapshot hash and 12 of a fingerprint of the code that simulates it
(tapesim's version and source files, and the library versions pinned in a manifest):
a run made by other code, or with other libraries, is never served. A cached
directory that fails the cheap checks of ``open_run`` is simulated again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import tapesim
from tapesim._version import __version__
from tapesim.api.run import SyntheticRun, open_run
from tapesim.api.simulate import Scenario, resolve, simulate
from tapesim.config.run import RunConfig
from tapesim.config.snapshot import ParameterSnapshot
from tapesim.io.manifest import RunDirectoryError
from tapesim.runs import library_versions


@cache
def code_fingerprint() -> str:
    """Hex sha256 over tapesim's version, every source and profile file of the installed
    package (path and bytes, in path order) and the pinned library versions."""
    root = Path(tapesim.__file__).parent
    h = hashlib.sha256(f"{__version__}\n{sorted(library_versions().items())}\n".encode())
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".toml") and p.is_file())
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


class RunCache:
    """Simulates a run the first time it is asked for, reopens it after that.

    Args:
        root: the cache directory (pytest's ``.pytest_cache/d/tapesim-runs`` under the
            plugin); created if missing.

    Cached runs are shared between tests and sessions: treat them as read-only
    (copy a run before damaging it).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.simulated: list[Path] = []  # directories simulated by this cache, in order
        self._open: dict[Path, SyntheticRun] = {}

    def key(self, config: RunConfig) -> str:
        """The cache key of ``config``: snapshot hash and code fingerprint, abbreviated."""
        snapshot = ParameterSnapshot.of(config).sha256.removeprefix("sha256:")
        return f"{snapshot[:16]}-{code_fingerprint()[:12]}"

    def __call__(
        self, profile_or_config: str | os.PathLike[str] | RunConfig, *,
        seed: int | None = None, scenarios: Sequence[Scenario] | None = None,
        start: str | None = None, end: str | None = None, date: str | None = None,
        symbols: str | Sequence[str] | None = None, workers: int = 1, **overrides: Any,
    ) -> SyntheticRun:
        """The run of these settings (the keywords of ``tapesim.simulate``, without
        ``out``), from the cache when it holds a sound copy.

        Raises:
            ConfigError: as ``tapesim.simulate``.
        """
        config = resolve(profile_or_config, seed=seed, scenarios=scenarios, start=start,
                         end=end, date=date, symbols=symbols, **overrides)
        path = self.root / self.key(config)
        if path in self._open:
            return self._open[path]
        run = self._reopen(path, ParameterSnapshot.of(config).sha256)
        if run is None:
            self.root.mkdir(parents=True, exist_ok=True)
            run = simulate(config, out=path, workers=workers, force=True)
            self.simulated.append(path)
        self._open[path] = run
        return run

    def _reopen(self, path: Path, snapshot_hash: str) -> SyntheticRun | None:
        if not path.exists():
            return None
        try:
            run = open_run(path)
            if run.manifest.parameter_snapshot_hash == snapshot_hash:
                return run
        except RunDirectoryError:
            pass
        shutil.rmtree(path, ignore_errors=True)
        return None
