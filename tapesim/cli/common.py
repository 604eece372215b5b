"""What every command shares: the consoles, the exit-code contract and its errors.

Exit codes: 0 success; 2 bad input (unknown profile, bad flag or config field,
existing output, a run directory that fails verification, not enough disk space);
1 an internal error; 128 + the signal's number when a signal stops a command (130
Ctrl-C, SIGINT; 143 SIGTERM, as ``timeout`` and ``kill`` send; 129 SIGHUP, a closed
terminal). Errors are one line, ``error: ...``, naming the field or flag and the fix.

SIGTERM and SIGHUP are handled as Ctrl-C is: the command's handler raises
:class:`Stopped` (a ``KeyboardInterrupt``) in the main thread, so every writer's
cleanup runs (a run, an export or a load leaves nothing behind) before the exit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from tapesim.io.manifest import RunDirectoryError
from tapesim.io.space import NoSpaceError, is_no_space
from tapesim.sim.strict import ConfigError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class InputError(Exception):
    """Bad input found by the CLI itself (e.g. a path that is not a run directory)."""


#: The signals a command stops on as on Ctrl-C, besides SIGINT itself.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal (SIGTERM or SIGHUP) delivered to a running command.

    A ``KeyboardInterrupt``, so every ``except BaseException`` cleanup that handles
    Ctrl-C handles it too. ``signum`` is the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread (as SIGINT
    raises ``KeyboardInterrupt``); the previous handlers come back on leaving. Outside
    the main thread (where handlers cannot be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)




def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code`` (2: bad input)."""
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def guarded(fn: F) -> F:
    """Map a command's exceptions to the exit-code contract: bad input (config, flag,
    existing or missing path, damaged run directory, a full disk) exits 2 with its
    message, Ctrl-C 130 and SIGTERM or SIGHUP 128 + their number (the command runs
    under :func:`stop_signals`), anything else 1 as an internal error."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with stop_signals():
                return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (ConfigError, InputError, FileExistsError, FileNotFoundError,
                RunDirectoryError, NoSpaceError) as e:
            fail(str(e))
        except Stopped as e:
            fail(f"stopped by {signal.Signals(e.signum).name}; nothing was written",
                 128 + e.signum)
        except KeyboardInterrupt:
            fail("interrupted; nothing was written", 128 + signal.SIGINT)
        except OSError as e:
            if not is_no_space(e):
                fail(f"internal error: {type(e).__name__}: {e}", 1)
            where = f" writing {e.filename}" if e.filename else ""
            fail(f"no space left on the device{where}: free some space or choose another "
                 "--out (what the command wrote was removed)")
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
