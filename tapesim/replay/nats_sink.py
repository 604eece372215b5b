"""Publishing a replay into NATS JetStream (CONTRACT.md §3).

The sink creates the five streams under the replay's subject prefix
(``tapesim.replay.bus``), then publishes each event with its trace id as the
``Nats-Msg-Id`` header, so the server drops a re-published event inside the
stream's duplicate window, and with the previous message's id of its stream as
``Nats-Expected-Last-Msg-Id``, so the server stores it only right after that one.
Messages go out without waiting, as ready ``HPUB`` frames built for a whole slice of
events with Arrow string kernels (``tapesim.replay.nats_frames``) and handed to the
client a chunk of ``check_every`` events at a time; after each chunk the last message
of each stream in it is published again with a reply subject (a checkpoint) whose
ack, by the chain, confirms every message before it on that stream. At most
``window`` publishes are unconfirmed; chunks are confirmed oldest first, so
:attr:`NatsSink.acked_seq` is always a prefix of the replay. When a confirmation does
not come (the connection dropped, the server restarted) or reports a broken chain,
the sink waits for the client to reconnect and publishes everything unconfirmed
again, oldest first: de-duplication and the chain make that exactly-once and in order
for a consumer. If the server stays away longer than ``reconnect_timeout`` the replay
stops with the seq to resume from.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nats.aio.client import Client
from nats.js import JetStreamContext

from tapesim.events.batches import ReplayPlan
from tapesim.replay.bus import KIND_SUBJECT, SIGNAL_SUBJECT, SUBJECTS
from tapesim.replay.nats_client import check_reachable, connect, ensure_streams
from tapesim.replay.nats_frames import FrameWriter, all_framable, hpub_frames
from tapesim.replay.plan import ReplayError
from tapesim.replay.sinks import KIND_NAMES, EventGroup, joined

__all__ = ["DEFAULT_WINDOW", "EXPECTED_LAST_MSG_ID", "MSG_ID", "NatsSink", "ReplayStopped",
           "check_reachable", "connect", "message_layout"]

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


@dataclass(slots=True)
class _Tail:
    """The last message of a stream in a chunk: what the chunk's checkpoint publishes
    again, with a reply."""

    subject: str  # the prefixed subject
    msg_id: str
    expected: str | None
    payload: bytes


@dataclass(slots=True)
class _Part:
    """Consecutive messages of one :class:`EventGroup` slice, written out together."""

    frames: bytes | None  # the HPUB commands joined (nats_frames); None: Client.publish each
    subjects: np.ndarray  # int8, index into bus.SUBJECTS per message
    ids: pa.Array  # string: Nats-Msg-Id
    expected: pa.Array  # string: Nats-Expected-Last-Msg-Id, null for a stream's first
    payloads: pa.Array  # string


@dataclass(slots=True)
class _Chunk:
    """Consecutive events (at most ``check_every``) confirmed together by one checkpoint
    per stream they touch."""

    parts: list[_Part] = field(default_factory=list)
    tails: dict[int, _Tail] = field(default_factory=dict)  # by subject index
    events: int = 0
    messages: int = 0
    key: int = 0  # run seq of its last event
    checks: list[asyncio.Future[Any]] | None = None  # the checkpoints' acks, once sent


def _headers(msg_id: str, expected: str | None) -> dict[str, str]:
    """A publish's headers as nats-py's ``publish`` takes them."""
    if expected is None:
        return {MSG_ID: msg_id}
    return {MSG_ID: msg_id, EXPECTED_LAST_MSG_ID: expected}


_SUBJECT_OF_KIND = np.array([SUBJECTS.index(KIND_SUBJECT[k]) for k in KIND_NAMES], np.int8)
_SIGNAL = SUBJECTS.index(SIGNAL_SUBJECT)


def message_layout(events: EventGroup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a group's events go as messages, in publish order: (each message's subject
    as an index into ``bus.SUBJECTS``, int8; each message's event, int64; each event's
    end in the messages, int64). An option print whose ``signal_pass`` is true is two
    messages, its kind's subject and then ``options.prints.signal``."""
    copies = 1 + events.signal.astype(np.int64)
    ends = np.cumsum(copies)
    source = np.repeat(np.arange(len(events)), copies)
    subjects = _SUBJECT_OF_KIND[events.kinds][source]
    subjects[ends[events.signal] - 1] = _SIGNAL
    return subjects, source, ends


class NatsSink:
    """Publishes events into JetStream streams under a subject prefix.

    Every message carries its trace id as ``Nats-Msg-Id`` and, after the first of its
    stream in this replay, the previous message's id as ``Nats-Expected-Last-Msg-Id``:
    the server stores a message only right after its predecessor, so a stream can
    have no gap and no reordering. Messages go out without a reply subject, framed for
    a whole slice of events at once; every ``check_every`` events (a chunk) the last
    message of each stream in the chunk is published again with one (a checkpoint).
    Its ack, a duplicate's, proves the message stored, and by the chain every message
    before it on that stream; an error ack (a broken chain) or no ack sends everything
    unconfirmed again, oldest first.

    Args:
        url: the server, ``nats://host:port``.
        prefix: subject prefix, ``""`` or ending in ``.`` (``bus.normalise_prefix``).
        window: publishes in flight awaiting confirmation, at most (give or take a
            chunk).
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
        self.sent = 0  # events handed to the client
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._inflight: deque[_Chunk] = deque()  # sent, oldest first; the last may be open
        self._unconfirmed = 0  # messages in them
        self._open: _Chunk | None = None  # the chunk taking events, not yet checkpointed
        self._acked: int | None = None
        self._reconnects = 0
        self._frames: FrameWriter | None = None
        self._full = [prefix + subject for subject in SUBJECTS]
        self._heads = pa.array([f"HPUB {s} " for s in self._full], pa.string())
        self._last: list[str | None] = [None] * len(SUBJECTS)  # last id sent per stream

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

    async def _on_reconnect(self) -> None:
        self._reconnects += 1

    async def send_group(self, events: EventGroup) -> None:
        """Publish the events on their subjects, a chunk's worth of frames at a time;
        checkpoint each full chunk and wait for confirmations while ``window``
        publishes are unconfirmed."""
        subjects, ids, expected, payloads, ends = self._messages(events)
        frames = None
        if self._frames is not None and all_framable(ids) and all_framable(
                pc.drop_null(expected)):
            frames = hpub_frames(self._heads.take(pa.array(subjects)), ids, expected, payloads)
        lo = 0
        while lo < len(events):
            chunk = self._open
            if chunk is None:
                chunk = self._open = _Chunk()
                self._inflight.append(chunk)
            hi = min(len(events), lo + self.check_every - chunk.events)
            m0, m1 = int(ends[lo - 1]) if lo else 0, int(ends[hi - 1])
            part = _Part(None if frames is None else joined(frames.slice(m0, m1 - m0)),
                         subjects[m0:m1], ids.slice(m0, m1 - m0),
                         expected.slice(m0, m1 - m0), payloads.slice(m0, m1 - m0))
            chunk.parts.append(part)
            chunk.events += hi - lo
            chunk.messages += m1 - m0
            chunk.key = int(events.keys[hi - 1])
            self._unconfirmed += m1 - m0
            self._tails(chunk, part)
            self.sent += hi - lo
            lo = hi
            if not await self._write(part):
                continue  # the recovery sent and checkpointed everything in flight
            if chunk.events >= self.check_every:
                await self._checkpoint()
                await asyncio.sleep(0)  # let the client flush and read acks
                self._pop_acked()
            if self._unconfirmed >= self.window:
                await self._settle(self.window // 2)

    def _messages(self, events: EventGroup) -> tuple[np.ndarray, pa.Array, pa.Array, pa.Array,
                                                     np.ndarray]:
        """The group's messages in publish order: (subject index, message id, expected
        last id, payload) columns, and each event's end in them (a signal print is two
        messages, its kind's subject then the signal subject). The expected id is the
        previous message's of the same stream, across groups."""
        subjects, source, ends = message_layout(events)
        count = len(source)
        before = np.empty(count, dtype=np.int64)  # index of the stream's previous message
        lasts = []
        for code in range(len(SUBJECTS)):
            at = np.flatnonzero(subjects == code)
            if at.size:
                before[at[1:]] = at[:-1]
                before[at[0]] = count + code  # the carried id from earlier groups
                lasts.append((code, int(at[-1])))
        take = pa.array(source)
        ids = events.trace_ids.take(take)
        expected = pa.concat_arrays([ids, pa.array(self._last, pa.string())]).take(
            pa.array(before))
        for code, at in lasts:
            self._last[code] = ids[at].as_py()
        return subjects, ids, expected, events.payloads.take(take), ends

    def _tails(self, chunk: _Chunk, part: _Part) -> None:
        """Note the last message of each stream in ``part`` as its chunk's checkpoint."""
        for code in np.unique(part.subjects).tolist():
            i = int(np.flatnonzero(part.subjects == code)[-1])
            chunk.tails[code] = _Tail(self._full[code], part.ids[i].as_py(),
                                      part.expected[i].as_py(),
                                      part.payloads[i].as_py().encode("utf-8"))

    async def _write(self, part: _Part) -> bool:
        """Send a part's messages; False when the connection was lost and the recovery
        sent everything in flight again (this part included)."""
        try:
            await self._publish(part)
            return True
        except (nats.errors.Error, OSError):
            await self._recover()
            return False

    async def _publish(self, part: _Part) -> None:
        """Send a part: its frames while the client is connected, else (or without frames)
        each message through ``Client.publish``, which buffers during a reconnect."""
        frames = self._frames
        if part.frames is not None and frames is not None and frames.ready:
            await frames.write(part.frames)
            return
        assert self._nc is not None
        for code, msg_id, expected, payload in zip(
                part.subjects.tolist(), part.ids.to_pylist(), part.expected.to_pylist(),
                part.payloads.to_pylist(), strict=True):
            await self._nc.publish(self._full[code], payload.encode("utf-8"),
                                   headers=_headers(msg_id, expected))

    async def _checkpoint(self) -> None:
        """Close the open chunk: publish the last message of each of its streams again,
        with a reply."""
        chunk, self._open = self._open, None
        if chunk is None:
            return
        try:
            await self._check(chunk)
        except (nats.errors.Error, OSError):
            await self._recover()

    async def _check(self, chunk: _Chunk) -> None:
        """Publish a chunk's checkpoints (a failure propagates)."""
        assert self._js is not None
        chunk.checks = [await self._js.publish_async(t.subject, t.payload,
                                                     headers=_headers(t.msg_id, t.expected))
                        for t in chunk.tails.values()]

    def _pop_acked(self) -> None:
        """Drop the confirmed chunks at the head of the window."""
        inflight = self._inflight
        while inflight:
            checks = inflight[0].checks
            if checks is None or not all(a.done() and not a.cancelled()
                                         and a.exception() is None for a in checks):
                return
            chunk = inflight.popleft()
            self._unconfirmed -= chunk.messages
            self._acked = chunk.key

    async def _settle(self, target: int) -> None:
        """Wait for confirmations, oldest first, until at most ``target`` publishes are
        unconfirmed; publish again what was lost when an ack does not come, reports a
        broken chain, or the client reconnected meanwhile."""
        self._pop_acked()
        while self._unconfirmed > target and self._inflight:
            chunk = self._inflight[0]
            if chunk.checks is None:  # the open chunk; any other lost its checkpoints
                await (self._checkpoint() if chunk is self._open else self._recover())
                continue
            try:
                for ack in chunk.checks:
                    await self._ack(ack)
            except nats.js.errors.APIError as err:
                if err.err_code != WRONG_LAST_MSG_ID:
                    raise ReplayError(f"JetStream refused a message under {self.prefix!r} "
                                      f"({err.description})") from None
                await self._recover()  # a message before it was lost: send again from there
            except (TimeoutError, nats.errors.Error, OSError, asyncio.CancelledError):
                await self._recover()
            self._pop_acked()

    async def _ack(self, ack: asyncio.Future[Any]) -> None:
        """Wait for one checkpoint's ack; TimeoutError when it takes ``ack_timeout`` or
        the client reconnected or lost its connection meanwhile."""
        reconnects, waited = self._reconnects, 0.0
        while not ack.done():
            try:
                await asyncio.wait_for(asyncio.shield(ack), ACK_POLL)
            except TimeoutError:
                waited += ACK_POLL
                if (waited >= self.ack_timeout or self._reconnects != reconnects
                        or not self._nc_connected()):
                    raise
        ack.result()

    def _nc_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def _recover(self) -> None:
        """Wait for the client to reconnect, then publish everything unconfirmed again,
        oldest first, and checkpoint it (the open chunk too: it is closed)."""
        assert self._nc is not None
        deadline = time.monotonic() + self.reconnect_timeout
        self._open = None
        while True:
            while not self._nc.is_connected:
                if time.monotonic() > deadline:
                    raise ReplayStopped(f"NATS at {self.url} went away for more than "
                                        f"{self.reconnect_timeout:g} s", _next(self._acked))
                await asyncio.sleep(0.05)
            for chunk in self._inflight:
                for ack in chunk.checks or ():
                    ack.cancel()
                chunk.checks = None
            try:
                for chunk in self._inflight:
                    for part in chunk.parts:
                        await self._publish(part)
                    self.republished += chunk.messages
                    await self._check(chunk)
                await self._nc.flush(timeout=max(1, int(self.ack_timeout)))
                return
            except (nats.errors.Error, OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise ReplayStopped(f"NATS at {self.url} went away for more than "
                                        f"{self.reconnect_timeout:g} s",
                                        _next(self._acked)) from None
                await asyncio.sleep(0.1)

    async def drain(self) -> None:
        """Checkpoint and wait until every publish is confirmed."""
        await self._checkpoint()
        await self._settle(0)

    async def close(self) -> None:
        """Abandon what is unconfirmed and close the connection."""
        for chunk in self._inflight:
            for ack in chunk.checks or ():
                ack.cancel()
        self._inflight.clear()
        self._open = None
        self._unconfirmed = 0
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()


def _next(seq: int | None) -> int | None:
    return None if seq is None else seq + 1
