"""Pre-encoded JetStream publishes: the sink's messages as ready ``HPUB`` frames.

nats-py's ``Client.publish`` takes headers as a dict and, for every message, strips,
checks (a regular expression per key), cleans and encodes each key and value before
building the ``HPUB`` command: measured on a replay, about two thirds of the replay
process's CPU time went there, capping a replay into JetStream near 65,000 events per
CPU second whatever the source and encoding cost. The JetStream sink's headers are
always the same two keys (``Nats-Msg-Id`` and ``Nats-Expected-Last-Msg-Id``) with
values that are trace ids, so :func:`hpub_frame` builds the frame once from bytes and
:class:`FrameWriter` hands it to the client's own outgoing buffer, where nats-py puts
the command it builds, flushed by the client's flusher task as any publish is. The
connection, reconnection, buffering while disconnected, pings and every read stay the
client's.

The frame is the NATS client protocol's ``HPUB <subject> <#header bytes> <#total
bytes>␍␊<headers><payload>␍␊``, its header block ``NATS/1.0␍␊`` then ``Key: value␍␊``
lines and an empty line (docs.nats.io, "Client Protocol": HPUB), the bytes nats-py's
``publish`` sends for the same subject, payload and headers (a test compares them).
A value the client would have to clean (a line break, a tab, surrounding spaces) is
not framed (:func:`framable`): the sink publishes that message through
``Client.publish``.

The writer relies on three members of nats-py's ``Client`` that are not public API
(``_send_command``, ``_flush_queue`` and ``_flush_pending``, as nats-py 2.16 has them):
:meth:`FrameWriter.of` returns None when a client lacks them, and the sink then
publishes every message through ``Client.publish``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nats.aio.client import Client

from tapesim.replay.sinks import joined

__all__ = ["FrameWriter", "all_framable", "framable", "hpub_frame", "hpub_frames"]

_HEADER_START = b"NATS/1.0\r\nNats-Msg-Id: "
_EXPECTED = b"\r\nNats-Expected-Last-Msg-Id: "
_HEADER_END = b"\r\n\r\n"
_CLIENT_MEMBERS = ("_send_command", "_flush_queue", "_flush_pending")


def framable(value: str) -> bool:
    """Whether a header value goes into a frame as it is: printable (no line break or
    tab, which nats-py would remove) and without surrounding spaces (which it would
    strip)."""
    return value.isprintable() and value == value.strip()


def hpub_frame(head: bytes, msg_id: bytes, expected: bytes | None, payload: bytes) -> bytes:
    """The ``HPUB`` command publishing ``payload`` with ``Nats-Msg-Id: msg_id`` and, when
    ``expected`` is given, ``Nats-Expected-Last-Msg-Id: expected``.

    Args:
        head: ``b"HPUB <subject> "`` (:meth:`FrameWriter.head`).
        msg_id: the message id, UTF-8 (checked by :func:`framable` as text).
        expected: the id the stream's last message must have, UTF-8, or None.
        payload: the message body.
    """
    if expected is None:
        header = _HEADER_START + msg_id + _HEADER_END
    else:
        header = _HEADER_START + msg_id + _EXPECTED + expected + _HEADER_END
    size = len(header)
    return b"%b%d %d\r\n%b%b\r\n" % (head, size, size + len(payload), header, payload)


def all_framable(values: pa.Array) -> bool:
    """Whether every value of a string array goes into a frame as it is (as
    :func:`framable`): at once when every byte is printable ASCII other than a space
    (trace ids are), else value by value with Arrow's kernels, conservatively (no
    control byte at all, printable by ``utf8_is_printable``, no surrounding
    whitespace). A False sends the values' messages through ``Client.publish``, which
    cleans them as it must."""
    if values.null_count or len(values) == 0:
        return len(values) == 0
    data = np.frombuffer(joined(values), dtype=np.uint8)
    if ((data > 0x20) & (data < 0x7F)).all():
        return True
    if ((data < 0x20) | (data == 0x7F)).any():
        return False
    return bool(pc.all(pc.utf8_is_printable(values)).as_py()) and bool(
        pc.all(pc.equal(values, pc.utf8_trim_whitespace(values))).as_py())


def hpub_frames(heads: pa.Array, msg_ids: pa.Array, expected: pa.Array,
                payloads: pa.Array) -> pa.Array:
    """:func:`hpub_frame` of every row, built with Arrow string kernels (no Python per
    message): the same bytes, row for row.

    Args:
        heads: string, ``HPUB <subject> `` per message.
        msg_ids: string, the ``Nats-Msg-Id`` values (checked by :func:`all_framable`).
        expected: string, the ``Nats-Expected-Last-Msg-Id`` values; null: no such header.
        payloads: string (or binary), the message bodies.

    Returns:
        a binary array of the ``HPUB`` commands, one per row.
    """
    expected_line = pc.fill_null(pc.binary_join_element_wise(
        _EXPECTED.decode(), expected, ""), "")
    header = pc.binary_join_element_wise(_HEADER_START.decode(), msg_ids, expected_line,
                                         _HEADER_END.decode(), "")
    header_size = pc.binary_length(header)
    total = pc.add(header_size, pc.binary_length(payloads))
    frames = pc.binary_join_element_wise(
        heads, pc.cast(header_size, pa.string()), " ", pc.cast(total, pa.string()), "\r\n",
        header, pc.cast(payloads, pa.string()), "\r\n", "")
    return pc.cast(frames, pa.binary())


class FrameWriter:
    """Puts ready ``HPUB`` frames into a connected nats-py client's outgoing buffer, as
    ``Client.publish`` does with the command it builds.

    Args:
        client: a nats-py client with the members the writer uses (:meth:`of`).
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._heads: dict[str, bytes] = {}

    @classmethod
    def of(cls, client: Client) -> FrameWriter | None:
        """A writer for ``client``, or None when this nats-py has no such buffer."""
        if all(hasattr(client, name) for name in _CLIENT_MEMBERS):
            return cls(client)
        return None

    def head(self, subject: str) -> bytes:
        """``b"HPUB <subject> "``, encoded once per subject."""
        head = self._heads.get(subject)
        if head is None:
            head = self._heads[subject] = b"HPUB " + subject.encode() + b" "
        return head

    @property
    def ready(self) -> bool:
        """The client is connected (a frame written while it is not would bypass the
        client's limit on what it buffers during a reconnect)."""
        return self.client.is_connected

    async def write(self, frame: bytes) -> None:
        """Append a frame to the client's buffer and wake its flusher, as
        ``Client.publish`` does (the buffer is flushed at once when over the client's
        pending size)."""
        client = self.client
        await client._send_command(frame)
        queue = client._flush_queue
        if queue is not None and queue.empty():
            await client._flush_pending()
