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

from nats.aio.client import Client

__all__ = ["FrameWriter", "framable", "hpub_frame"]

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
