"""The pipeline's bus layout: subjects, JetStream streams, and which events go where.

CONTRACT.md §3: one JSON event per message on ``options.prints`` (stream
``OPTIONS_PRINTS``), ``options.prints.signal`` (``OPTIONS_SIGNAL_PRINTS``, only prints
whose ``signal_pass`` is true), ``options.nbbo`` (``OPTIONS_NBBO``),
``equities.prints`` (``EQUITY_PRINTS``) and ``equities.quotes`` (``EQUITY_QUOTES``).
A replay publishes under a subject prefix (default ``tapesim.<run_id>.``; ``""`` for
the canonical subjects) into streams named after the prefix, so runs and tests stay
apart from live data.
"""

from __future__ import annotations

import re

__all__ = ["KIND_SUBJECT", "SIGNAL_SUBJECT", "STREAMS", "SUBJECTS", "default_prefix",
           "normalise_prefix", "stream_name", "subjects_of"]

SIGNAL_SUBJECT = "options.prints.signal"
KIND_SUBJECT = {"equity_quote": "equities.quotes", "equity_print": "equities.prints",
                "option_nbbo": "options.nbbo", "option_print": "options.prints"}
STREAMS = {"equities.quotes": "EQUITY_QUOTES", "equities.prints": "EQUITY_PRINTS",
           "options.nbbo": "OPTIONS_NBBO", "options.prints": "OPTIONS_PRINTS",
           SIGNAL_SUBJECT: "OPTIONS_SIGNAL_PRINTS"}
SUBJECTS = tuple(STREAMS)
KIND_OF_SUBJECT = {subject: kind for kind, subject in KIND_SUBJECT.items()}
KIND_OF_SUBJECT[SIGNAL_SUBJECT] = "option_print"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def default_prefix(run_id: str) -> str:
    """The run-scoped prefix ``tapesim.<run_id>.``."""
    return f"tapesim.{run_id}."


def normalise_prefix(prefix: str) -> str:
    """A subject prefix ending in ``.`` (or ``""``), its tokens checked.

    Raises:
        ValueError: a token that is empty or holds characters other than letters,
            digits, ``_`` and ``-`` (wildcards and spaces are not subjects).
    """
    if prefix == "":
        return ""
    tokens = prefix.rstrip(".").split(".")
    if not all(_TOKEN.match(t) for t in tokens):
        raise ValueError(f"--subject-prefix {prefix!r}: use dot-separated tokens of letters, "
                         "digits, '_' and '-', e.g. tapesim.test.")
    return ".".join(tokens) + "."


def stream_name(prefix: str, subject: str) -> str:
    """The JetStream stream holding ``prefix + subject``: the contract's name, after the
    prefix's tokens upper-cased and joined with ``_`` (``tapesim.tsim-ab12.`` and
    ``options.nbbo`` give ``TAPESIM_TSIM-AB12_OPTIONS_NBBO``)."""
    base = STREAMS[subject]
    if not prefix:
        return base
    return "_".join(prefix.rstrip(".").upper().split(".")) + "_" + base


def subjects_of(kind: str, signal_pass: bool | None = None) -> tuple[str, ...]:
    """The canonical subjects an event is published on: its kind's, and for an option
    print whose ``signal_pass`` is true also ``options.prints.signal``."""
    subject = KIND_SUBJECT[kind]
    if signal_pass is True and kind == "option_print":
        return (subject, SIGNAL_SUBJECT)
    return (subject,)
