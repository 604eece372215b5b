"""Disk space a run needs, checked before it starts, and the error for a full disk.

The estimate is a model, not a measurement of this run:

    events = duration_s x sum over symbols of
             (EQUITY_EVENTS_PER_S x activity + OPTION_EVENTS_PER_S if the symbol has options)
    bytes  = events x (SPOOL_BYTES + PARQUET_BYTES [+ JSONL_BYTES with --jsonl]) x MARGIN

Rates are events per simulated second, measured on the shipped profiles from the open,
the busiest part of the intraday U-shape, so a whole day is overestimated rather than
under: ``market-day`` 09:30-09:35 wrote 833,972 events (43 equity events/s per unit of
activity; 520 option events/s per symbol with options, nearly all OPRA NBBO changes),
``options-smoke`` 09:30-09:45 503 option events/s for SPY, ``equities-smoke`` 35 equity
events/s per unit of activity. Bytes per event: the shards' Arrow IPC spools are
LZ4-compressed (17 bytes a row for stocks, 11 for options; uncompressed they took 61 and
150) and stay in the run's scratch folder until the merge has written the Parquet files
beside them, so the peak is the sum of both (measured: a ``market-day`` run to 11:00
peaked at 144 MB of scratch beside its 174 MB run directory); the Parquet files took
13-21 bytes an event while ``seq`` and ``trace_id`` were dictionary-encoded, and about
10.5 since (``market-day`` 09:30-10:00: 44 MB for 4.2M events), and ``--jsonl``'s
lines 190-230. ``MARGIN`` covers what the model
leaves out (busier symbols, wider chains).
"""

from __future__ import annotations

import errno
import shutil
from dataclasses import dataclass
from pathlib import Path

from tapesim.config.run import RunConfig

__all__ = ["NoSpaceError", "SpaceEstimate", "estimate", "is_no_space", "require_space"]

EQUITY_EVENTS_PER_S = 43.0  # per unit of a symbol's ``activity``
OPTION_EVENTS_PER_S = 520.0  # per symbol with options = true
SPOOL_BYTES = 20  # per event, the widest compressed spool row (stocks) with framing
PARQUET_BYTES = 25  # per event, every Parquet file of the run directory
JSONL_BYTES = 250  # per event, ``--jsonl``'s lines
MARGIN = 1.25
FIXED_BYTES = 1 << 20  # manifest, snapshot, open interest, labels


@dataclass(frozen=True)
class SpaceEstimate:
    """A run's estimated peak disk use (see the module docstring).

    Attributes:
        events: estimated events in the run.
        bytes: estimated peak bytes on the output's file system (spools and output).
    """

    events: int
    bytes: int

    def describe(self) -> str:
        """``about 1.2 GB (3,400,000 events estimated)``."""
        return f"about {human_bytes(self.bytes)} ({self.events:,} events estimated)"


def estimate(config: RunConfig, jsonl: bool = False) -> SpaceEstimate:
    """The peak disk space a run of ``config`` needs, by the module docstring's model."""
    session = config.session.session()
    seconds = max(session.end_ms - session.start_ms, 0) / 1000.0
    rate = sum(EQUITY_EVENTS_PER_S * s.activity + (OPTION_EVENTS_PER_S if s.options else 0.0)
               for s in config.symbols)
    events = int(seconds * rate)
    per_event = SPOOL_BYTES + PARQUET_BYTES + (JSONL_BYTES if jsonl else 0)
    return SpaceEstimate(events, int(events * per_event * MARGIN) + FIXED_BYTES)


def human_bytes(n: float) -> str:
    """``n`` bytes in B, KB, MB, GB or TB (powers of 1,000), one decimal above bytes."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


class NoSpaceError(OSError):
    """Not enough disk space for an output; the message names the space needed, what is
    free and the fix. An ``OSError`` with ``errno.ENOSPC``."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(out: Path) -> int:
    """Bytes free to this user on the file system ``out`` would be written to (its
    nearest existing ancestor's)."""
    return shutil.disk_usage(_existing(out)).free


def require_space(out: Path, need: SpaceEstimate) -> None:
    """Refuse a run that will not fit before anything is written.

    Raises:
        NoSpaceError: the file system of ``out`` has less free space than ``need``.
    """
    free = free_bytes(out)
    if free < need.bytes:
        raise NoSpaceError(f"not enough disk space for --out {out}: the run needs "
                           f"{need.describe()}, {human_bytes(free)} is free; free some "
                           "space, shorten the run or choose another --out")


def no_space_during(out: Path, need: SpaceEstimate) -> NoSpaceError:
    """The error for a disk that filled up while a run was being written (everything
    written was removed)."""
    return NoSpaceError(f"the disk of --out {out} filled up while the run was written "
                        f"(nothing was left): the run needs {need.describe()}, "
                        f"{human_bytes(free_bytes(out))} is free now; free some space, "
                        "shorten the run or choose another --out")


def is_no_space(err: BaseException) -> bool:
    """True for a full disk: ``ENOSPC`` from Python, or pyarrow's message for it (its
    ``OSError`` carries no errno)."""
    return isinstance(err, OSError) and (err.errno == errno.ENOSPC
                                         or "No space left on device" in str(err))
