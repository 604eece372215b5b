"""The JetStream sink's ready HPUB frames are the bytes nats-py's publish sends."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest
from nats.aio.client import Client

from tapesim.replay.nats_frames import FrameWriter, all_framable, framable, hpub_frame, hpub_frames
from tapesim.replay.nats_sink import EXPECTED_LAST_MSG_ID, MSG_ID
from tapesim.replay.sinks import joined


def published_by_nats_py(subject: str, payload: bytes, headers: dict[str, str]) -> bytes:
    """The command nats-py's ``Client.publish`` puts in its outgoing buffer."""
    client = Client()
    sent: list[bytes] = []

    async def capture(cmd: bytes, priority: bool = False) -> None:
        sent.append(cmd)

    client._send_command = capture  # type: ignore[method-assign]
    asyncio.run(client._send_publish(subject, "", payload, len(payload), headers))
    assert len(sent) == 1
    return sent[0]


def control_and_body(command: bytes) -> tuple[list[bytes], bytes]:
    """A command's control line as tokens (nats-py puts two spaces where the reply
    subject is empty) and the bytes after it."""
    line, body = command.split(b"\r\n", 1)
    return line.split(), body


@pytest.mark.parametrize("expected", [None, "tsim-1:options.nbbo:41"])
@pytest.mark.parametrize("payload", [b'{"seq":42}', '{"underlying_id":"SPY","x":"é"}'.encode(),
                                     b""])
def test_a_frame_is_what_nats_py_publishes(expected: str | None, payload: bytes) -> None:
    subject, msg_id = "tapesim.tsim-1.options.nbbo", "tsim-1:options.nbbo:42"
    headers = {MSG_ID: msg_id} if expected is None else {MSG_ID: msg_id,
                                                          EXPECTED_LAST_MSG_ID: expected}
    writer = FrameWriter(Client())
    frame = hpub_frame(writer.head(subject), msg_id.encode(),
                       None if expected is None else expected.encode(), payload)
    assert control_and_body(frame) == control_and_body(
        published_by_nats_py(subject, payload, headers))


@pytest.mark.parametrize("value, ok", [
    ("tsim-1:equities.quotes:7", True), ("naïve:id", True), ("a b", True),
    ("a\r\nPUB x 1", False), ("a\nb", False), ("a\tb", False), (" a", False), ("a ", False),
])
def test_only_values_nats_py_would_send_unchanged_are_framed(value: str, ok: bool) -> None:
    assert framable(value) is ok


def test_a_client_without_the_buffer_gets_no_frame_writer() -> None:
    assert FrameWriter.of(Client()) is not None
    assert FrameWriter.of(object()) is None  # type: ignore[arg-type]


def test_frames_built_for_many_messages_at_once_are_the_single_frames() -> None:
    subjects = ["tapesim.t.options.nbbo", "tapesim.t.options.prints.signal", "equities.quotes"]
    ids = ["tsim-1:options.nbbo:1", "tsim-1:option-print:2", "tsim-é:q:3", "tsim-1:x:4"]
    expected = [None, "tsim-1:options.nbbo:1", None, "tsim-é:q:3"]
    payloads = ['{"seq":1}', '{"underlying_id":"SPY","x":"é"}', "", '{"a":[1,2]}']
    heads = [f"HPUB {subjects[i % 3]} " for i in range(4)]
    built = hpub_frames(pa.array(heads), pa.array(ids), pa.array(expected, pa.string()),
                        pa.array(payloads)).to_pylist()
    assert built == [hpub_frame(h.encode(), i.encode(), None if e is None else e.encode(),
                                p.encode()) for h, i, e, p in zip(heads, ids, expected,
                                                                   payloads, strict=True)]
    assert joined(pa.array(payloads).slice(1, 2)) == "".join(payloads[1:3]).encode()


@pytest.mark.parametrize("value", ["tsim-1:options.nbbo:42", "line\nbreak", "tab\there",
                                   " padded", "padded ", "é-ok", "bell\x07", "nul\x00"])
def test_many_values_are_framable_only_where_each_is(value: str) -> None:
    values = pa.array(["tsim-1:options.nbbo:1", value])
    assert all_framable(values) is framable(value)
