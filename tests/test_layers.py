"""The layers of docs/ARCHITECTURE.md are a checked contract (``[tool.importlinter]``).

The contract passes on the package as it is, and fails when a lower layer imports a
higher one: the kernel importing the CLI, in a copy of the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(LINT, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_layers_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_a_kernel_module_importing_the_cli_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "tapesim", tmp_path / "tapesim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    rng = tmp_path / "tapesim" / "sim" / "rng.py"
    rng.write_text(rng.read_text() + "\nimport tapesim.cli.main  # noqa: E402,F401\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "tapesim.sim is not allowed to import tapesim.cli" in result.stdout
