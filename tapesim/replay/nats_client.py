"""Connecting to a NATS server for a replay or a tail, and the contract's streams on it.

``connect`` opens a client that reconnects forever (the JetStream sink resends what a
drop left unconfirmed); ``ensure_streams`` creates the five streams of CONTRACT.md §3
under a subject prefix or checks existing ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from tapesim.replay.bus import STREAMS, stream_name
from tapesim.replay.plan import ReplayError

__all__ = ["check_reachable", "connect", "ensure_streams"]


async def check_reachable(url: str, timeout: float = 2.0) -> None:
    """Open and close a TCP connection to a ``nats://host:port`` URL.

    Raises:
        ReplayError: nothing listens there within ``timeout`` seconds (the message
            names the URL).
    """
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as err:
        raise ReplayError(f"cannot reach NATS at {url} ({err.__class__.__name__}): start a "
                          "server there or leave out --nats-url to use an embedded one"
                          ) from None
    writer.close()
    await writer.wait_closed()


async def _quiet(_: Exception) -> None:
    """Connection errors are handled by the caller, not printed by the client."""


async def connect(url: str, timeout: float = 5.0,
                  reconnected: Callable[[], Awaitable[None]] | None = None) -> Client:
    """A client connected to ``url`` that reconnects forever (every 0.25 s) on a drop,
    calling ``reconnected`` each time it is back.

    Raises:
        ReplayError: the server cannot be reached or does not answer.
    """
    await check_reachable(url)
    try:
        return await asyncio.wait_for(nats.connect(
            url, error_cb=_quiet, allow_reconnect=True, max_reconnect_attempts=-1,
            reconnect_time_wait=0.25, connect_timeout=2, reconnected_cb=reconnected), timeout)
    except (OSError, TimeoutError, nats.errors.Error) as err:
        raise ReplayError(f"cannot reach NATS at {url} ({err.__class__.__name__})") from None


async def ensure_streams(js: JetStreamContext, prefix: str) -> list[str]:
    """Create the five streams of CONTRACT.md §3 under ``prefix`` (file storage, one
    subject each), or check that existing ones hold those subjects.

    Returns:
        the stream names, in ``bus.STREAMS`` order.

    Raises:
        ReplayError: the server has no JetStream, or a stream of that name holds other
            subjects.
    """
    names = []
    for subject in STREAMS:
        name, full = stream_name(prefix, subject), prefix + subject
        try:
            await js.add_stream(name=name, subjects=[full])
        except nats.js.errors.BadRequestError:
            info = await js.stream_info(name)
            if full not in (info.config.subjects or []):
                raise ReplayError(f"stream {name} exists over {info.config.subjects}, not "
                                  f"{full}: delete it or choose another --subject-prefix"
                                  ) from None
        except (nats.js.errors.ServiceUnavailableError, nats.errors.NoRespondersError,
                nats.errors.TimeoutError):
            raise ReplayError("the NATS server has no JetStream: start it with -js") from None
        names.append(name)
    return names
