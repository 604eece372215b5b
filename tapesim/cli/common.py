"""What every command shares: the consoles, the exit-code contract and its errors.

Exit codes: 0 success; 2 bad input (unknown profile, bad flag or config field,
existing output, a run directory that fails verification); 1 an internal error.
Errors are one line, ``error: ...``, naming the field or flag and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from tapesim.io.manifest import RunDirectoryError
from tapesim.sim.strict import ConfigError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class InputError(Exception):
    """Bad input found by the CLI itself (e.g. a path that is not a run directory)."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code`` (2: bad input)."""
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def guarded(fn: F) -> F:
    """Map a command's exceptions to the exit-code contract: bad input (config, flag,
    existing or missing path, damaged run directory) exits 2 with its message, an
    interrupt 130, anything else 1 as an internal error."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (ConfigError, InputError, FileExistsError, FileNotFoundError,
                RunDirectoryError) as e:
            fail(str(e))
        except KeyboardInterrupt:
            fail("interrupted; nothing was written", 130)
        except Exception as e:
            fail(f"internal error: {type(e).__name__}: {e}", 1)

    return wrapper  # type: ignore[return-value]


def require_dir(path: Path) -> Path:
    """``path`` when it is a directory.

    Raises:
        InputError: it is not.
    """
    if not path.is_dir():
        raise InputError(f"{path} is not a directory: pass a run directory")
    return path


def symbol_list(symbols: str | None) -> list[str] | None:
    """``--symbols SPY,aapl`` as ``["SPY", "AAPL"]``; None when the flag is not given."""
    if symbols is None:
        return None
    return [s.strip().upper() for s in symbols.split(",") if s.strip()]
