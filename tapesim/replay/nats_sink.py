"""Publishing a replay into NATS JetStream (CONTRACT.md §3).

The sink creates the five streams under the replay's subject prefix
(``tapesim.replay.bus``), then publishes each event with its trace id as the
``Nats-Msg-Id`` header, so the server drops a re-published event inside the
stream's duplicate window, and with the previous message's id of its stream as
``Nats-Expected-Last-Msg-Id``, so the server stores it only right after that one.
Messages go out without waiting, as ready ``HPUB`` frames
(``tapesim.replay.nats_frames``) handed to the client a checkpoint's worth at a time;
every ``check_every`` events the last message of each stream is published again with a
reply subject (a checkpoint) whose ack, by the chain, confirms every message before it
on that stream. At most ``window`` publishes are unconfirmed; confirmations are
taken oldest first, so :attr:`NatsSink.acked_seq` is always a prefix of the replay.
When a confirmation does not come (the connection dropped, the server restarted)
or reports a broken chain, the sink waits for the client to reconnect and publishes
everything unconfirmed again, oldest first: de-duplication and the chain make that
exactly-once and in order for a consumer. If the server stays away longer than
``reconnect_timeout`` the replay stops with the seq to resume from.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from tapesim.events.batches import ReplayPlan
from tapesim.replay.bus import STREAMS, stream_name
from tapesim.replay.nats_frames import FrameWriter, framable, hpub_frame
from tapesim.replay.plan import ReplayError

__all__ = ["DEFAULT_WINDOW", "EXPECTED_LAST_MSG_ID", "MSG_ID", "NatsSink", "ReplayStopped",
           "check_reachable", "connect"]

DEFAULT_WINDOW = 8192  # publishes in flight awaiting their acks
MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
WRONG_LAST_MSG_ID = 10070  # JetStream's error code for a failed Nats-Expected-Last-Msg-Id
ACK_POLL = 0.25  # seconds between checks for a reconnect while awaiting an ack
CHECK_EVERY = 256  # events between checkpoints (and turns for the client to flush)


class ReplayStopped(Exception):
    """The destination went away for longer than the sink waits; ``resume_seq`` is the
    ``--from-seq`` that continues the replay with nothing lost."""

    def __init__(self, message: str, resume_seq: int | None) -> None:
        super().__init__(message)
        self.resume_seq = resume_seq


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


@dataclass
class _Check:
    """The ack of a checkpoint: the last message of a stream published again with a
    reply subject (the server answers it as a duplicate once the original is stored)."""

    ack: asyncio.Future[Any]


@dataclass(slots=True)
class _Pending:
    """One publish awaiting confirmation (one is made per message: slots, no methods)."""

    key: int
    subject: str
    payload: bytes
    msg_id: str  # the trace id: Nats-Msg-Id
    expected: str | None  # Nats-Expected-Last-Msg-Id: the stream's previous id, if any
    frame: bytes | None  # the ready HPUB command (nats_frames), None: Client.publish it
    check: _Check | None = None  # the checkpoint that confirms it, once one is sent


@dataclass(slots=True)
class _Stream:
    """Per stream of a replay: its subject, frame head, and last message id sent."""

    full: str  # the prefixed subject
    head: bytes  # b"HPUB <subject> " (nats_frames)
    last_id: str | None = None  # the trace id of its last message
    last_raw: bytes | None = None  # the same UTF-8, None when not framable


def _headers(p: _Pending) -> dict[str, str]:
    """The publish's headers as nats-py's ``publish`` takes them."""
    if p.expected is None:
        return {MSG_ID: p.msg_id}
    return {MSG_ID: p.msg_id, EXPECTED_LAST_MSG_ID: p.expected}


class NatsSink:
    """Publishes events into JetStream streams under a subject prefix.

    Every message carries its trace id as ``Nats-Msg-Id`` and, after the first of its
    stream in this replay, the previous message's id as ``Nats-Expected-Last-Msg-Id``:
    the server stores a message only right after its predecessor, so a stream can
    have no gap and no reordering. Messages go out without a reply subject; every
    ``check_every`` events the last message of each stream is published again with
    one (a checkpoint). Its ack, a duplicate's, proves the message stored, and by the
    chain every message before it on that stream; an error ack (a broken chain) or
    no ack sends everything unconfirmed again, oldest first.

    Args:
        url: the server, ``nats://host:port``.
        prefix: subject prefix, ``""`` or ending in ``.`` (``bus.normalise_prefix``).
        window: publishes in flight awaiting confirmation, at most.
        ack_timeout: seconds an ack may take before the connection is presumed lost.
        reconnect_timeout: seconds to wait for the server to come back before stopping.
        check_every: events between checkpoints.
    """

    def __init__(self, url: str, prefix: str, window: int = DEFAULT_WINDOW,
                 ack_timeout: float = 5.0, reconnect_timeout: float = 30.0,
                 check_every: int = CHECK_EVERY) -> None:
        self.url = url
        self.prefix = prefix
        self.window = window
        self.ack_timeout = ack_timeout
        self.reconnect_timeout = reconnect_timeout
        self.check_every = check_every
        self.republished = 0  # publishes sent again after a lost connection
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._inflight: deque[_Pending] = deque()
        self._unchecked: dict[str, list[_Pending]] = {}  # per subject, since its checkpoint
        self._acked: int | None = None
        self._sent = 0
        self._reconnects = 0
        self._frames: FrameWriter | None = None
        self._outgoing: list[bytes] = []  # frames gathered until the next checkpoint
        self._streams: dict[str, _Stream] = {}  # by canonical subject

    @property
    def acked_seq(self) -> int | None:
        """The run seq up to which every event is acknowledged by the server."""
        return self._acked

    async def start(self, plan: ReplayPlan) -> None:
        """Connect and create (or reuse) the five streams under the prefix.

        Raises:
            ReplayError: the server is unreachable, has no JetStream, or holds a stream
                of the same name over other subjects.
        """
        self._nc = await connect(self.url, reconnected=self._on_reconnect)
        self._frames = FrameWriter.of(self._nc)
        self._js = self._nc.jetstream(publish_async_max_pending=1 << 20)
        await ensure_streams(self._js, self.prefix)

    def _stream(self, subject: str) -> _Stream:
        """The state of the stream of a canonical subject, made on its first message."""
        full = self.prefix + subject
        head = self._frames.head(full) if self._frames is not None else b""
        stream = self._streams[subject] = _Stream(full, head)
        return stream

    async def _on_reconnect(self) -> None:
        self._reconnects += 1

    async def send(self, kind: str, key: int, trace_id: str, payload: bytes,
                   subjects: tuple[str, ...]) -> None:
        """Publish the event on each subject; checkpoint every ``check_every`` events and
        wait for confirmations while ``window`` publishes are unconfirmed."""
        frames = self._frames
        raw = trace_id.encode() if frames is not None and framable(trace_id) else None
        for subject in subjects:
            stream = self._streams.get(subject) or self._stream(subject)
            full, expected, expected_raw = stream.full, stream.last_id, stream.last_raw
            stream.last_id, stream.last_raw = trace_id, raw
            frame = None
            if raw is not None and (expected is None or expected_raw is not None):
                frame = hpub_frame(stream.head, raw, expected_raw, payload)
            p = _Pending(key, full, payload, trace_id, expected, frame)
            self._inflight.append(p)
            self._unchecked.setdefault(full, []).append(p)
            if frame is not None:
                self._outgoing.append(frame)
                continue
            await self._write_out()  # what is framed before it goes first
            try:
                await self._publish(p)
            except (nats.errors.Error, OSError):
                await self._recover()
        self._sent += 1
        if self._sent % self.check_every == 0:
            await self._checkpoint()
            await asyncio.sleep(0)  # let the client flush and read acks
            self._pop_acked()
        if len(self._inflight) >= self.window:
            await self._settle(self.window // 2)

    async def _write_out(self) -> None:
        """Hand the frames gathered since the last write to the client in one piece (a
        lost connection sends everything unconfirmed again)."""
        if not self._outgoing:
            return
        frames, out = self._frames, self._outgoing
        self._outgoing = []
        if frames is None or not frames.ready:
            await self._recover()
            return
        try:
            await frames.write(b"".join(out))
        except (nats.errors.Error, OSError):
            await self._recover()

    async def _publish(self, p: _Pending) -> None:
        """Send one publish: its frame while the client is connected, else (or without a
        frame) through ``Client.publish``, which buffers it during a reconnect."""
        frames = self._frames
        if p.frame is not None and frames is not None and frames.ready:
            await frames.write(p.frame)
        else:
            assert self._nc is not None
            await self._nc.publish(p.subject, p.payload, headers=_headers(p))

    async def _checkpoint(self) -> None:
        """Write out the gathered frames, then publish the last unconfirmed message of
        each stream again, with a reply."""
        assert self._js is not None
        await self._write_out()
        unchecked, self._unchecked = self._unchecked, {}
        for subject, entries in unchecked.items():
            last = entries[-1]
            try:
                check = _Check(await self._js.publish_async(subject, last.payload,
                                                            headers=_headers(last)))
            except (nats.errors.Error, OSError):
                self._unchecked = unchecked
                await self._recover()
                return
            for p in entries:
                p.check = check

    def _pop_acked(self) -> None:
        """Drop the confirmed publishes at the head of the window."""
        inflight = self._inflight
        confirmed = None  # the checkpoint last seen acked (it covers many publishes)
        while inflight:
            check = inflight[0].check
            if check is None:
                return
            if check is not confirmed:
                ack = check.ack
                if not ack.done() or ack.cancelled() or ack.exception() is not None:
                    return
                confirmed = check
            p = inflight.popleft()
            if not inflight or inflight[0].key != p.key:
                self._acked = p.key

    async def _settle(self, target: int) -> None:
        """Wait for confirmations, oldest first, until at most ``target`` publishes are
        unconfirmed; publish again what was lost when an ack does not come, reports a
        broken chain, or the client reconnected meanwhile."""
        self._pop_acked()
        while len(self._inflight) > target:
            p = self._inflight[0]
            if p.check is None:
                await self._checkpoint()
                if p.check is None:  # the checkpoint itself triggered a resend
                    continue
            ack = p.check.ack
            reconnects, waited = self._reconnects, 0.0
            try:
                while not ack.done():
                    try:
                        await asyncio.wait_for(asyncio.shield(ack), ACK_POLL)
                    except TimeoutError:
                        waited += ACK_POLL
                        if (waited >= self.ack_timeout or self._reconnects != reconnects
                                or not self._nc_connected()):
                            raise
                ack.result()
            except nats.js.errors.APIError as err:
                if err.err_code != WRONG_LAST_MSG_ID:
                    raise ReplayError(f"JetStream refused {p.subject} ({err.description})"
                                      ) from None
                await self._recover()  # a message before it was lost: send again from there
            except (TimeoutError, nats.errors.Error, OSError, asyncio.CancelledError):
                await self._recover()
            self._pop_acked()

    def _nc_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def _recover(self) -> None:
        """Wait for the client to reconnect, then publish everything unconfirmed again,
        oldest first, and checkpoint it."""
        assert self._nc is not None
        deadline = time.monotonic() + self.reconnect_timeout
        while True:
            while not self._nc.is_connected:
                if time.monotonic() > deadline:
                    raise ReplayStopped(f"NATS at {self.url} went away for more than "
                                        f"{self.reconnect_timeout:g} s", _next(self._acked))
                await asyncio.sleep(0.05)
            self._unchecked = {}
            self._outgoing = []  # every gathered frame is in flight, sent again below
            for p in self._inflight:
                if p.check is not None:
                    p.check.ack.cancel()
                    p.check = None
            try:
                for p in self._inflight:
                    await self._publish(p)
                    self._unchecked.setdefault(p.subject, []).append(p)
                    self.republished += 1
                await self._checkpoint_now()
                await self._nc.flush(timeout=max(1, int(self.ack_timeout)))
                return
            except (nats.errors.Error, OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise ReplayStopped(f"NATS at {self.url} went away for more than "
                                        f"{self.reconnect_timeout:g} s",
                                        _next(self._acked)) from None
                await asyncio.sleep(0.1)

    async def _checkpoint_now(self) -> None:
        """:meth:`_checkpoint` that lets a failure propagate (inside a recovery)."""
        assert self._js is not None
        unchecked, self._unchecked = self._unchecked, {}
        for subject, entries in unchecked.items():
            last = entries[-1]
            check = _Check(await self._js.publish_async(subject, last.payload,
                                                        headers=_headers(last)))
            for p in entries:
                p.check = check

    async def drain(self) -> None:
        """Checkpoint and wait until every publish is confirmed."""
        await self._checkpoint()
        await self._settle(0)

    async def close(self) -> None:
        """Abandon what is unconfirmed and close the connection."""
        for p in self._inflight:
            if p.check is not None:
                p.check.ack.cancel()
        self._inflight.clear()
        self._outgoing = []
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()


def _next(seq: int | None) -> int | None:
    return None if seq is None else seq + 1


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
