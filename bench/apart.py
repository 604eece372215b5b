"""A run simulated for a bench in a process of its own.

A bench that reports its own peak RSS (or a child's: on Linux a child's peak RSS starts
from its parent's at the fork) must not simulate in its own process, or the
simulation's memory is counted as the measured command's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def simulate_apart(profile: str, seed: int, out: Path, end: str | None = None) -> bool:
    """``tapesim run --profile PROFILE --seed SEED --out OUT [--end END] --quiet`` in a
    fresh interpreter; True when it wrote ``out`` (its errors went to stderr)."""
    cmd = [sys.executable, "-c", "from tapesim.cli import app; app()", "run",
           "--profile", profile, "--seed", str(seed), "--out", str(out), "--quiet",
           *(["--end", end] if end else [])]
    return subprocess.run(cmd).returncode == 0
