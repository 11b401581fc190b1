"""WebSocketTransport over an in-memory inner transport, against a wsproto server. No sockets."""

from __future__ import annotations

from typing import Optional, Union

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from mqttclient._io.websocket import WebSocketTransport
from mqttclient.errors import ConnectionClosedError


class MemoryTransport:
    """Inner transport: ``incoming`` chunks are returned by recv; send accepts up to
    ``capacity`` bytes per call into ``written``."""

    def __init__(self) -> None:
        self.incoming: list[bytes] = []
        self.written = bytearray()
        self.capacity = 1 << 30
        self.closed = False

    def fileno(self) -> int:
        return -1

    def recv(self, max_bytes: int) -> Optional[bytes]:
        if not self.incoming:
            return None
        chunk = self.incoming.pop(0)
        if len(chunk) > max_bytes:
            self.incoming.insert(0, chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        return chunk

    def send(self, data: Union[bytes, bytearray, memoryview]) -> int:
        count = min(len(data), self.capacity)
        self.written += bytes(data[:count])
        return count

    def pending(self) -> bool:
        return False

    def wants_write(self) -> bool:
        return False

    def shutdown_write(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    @property
    def socket(self) -> object:
        return self


class Pair:
    def __init__(self) -> None:
        self.inner = MemoryTransport()
        self.server = WSConnection(ConnectionType.SERVER)
        client = WSConnection(ConnectionType.CLIENT)
        self.server.receive_data(client.send(Request(host="h", target="/", subprotocols=["mqtt"])))
        assert any(isinstance(e, Request) for e in self.server.events())
        client.receive_data(self.server.send(AcceptConnection(subprotocol="mqtt")))
        assert any(isinstance(e, AcceptConnection) for e in client.events())
        self.transport = WebSocketTransport(self.inner, client)

    def server_sends(self, *events: Event) -> None:
        self.inner.incoming.append(b"".join(self.server.send(e) for e in events))

    def server_receives(self) -> list[Event]:
        self.server.receive_data(bytes(self.inner.written))
        self.inner.written.clear()
        return list(self.server.events())

    def read_all(self) -> bytes:
        out = bytearray()
        for _ in range(10_000):
            data = self.transport.recv(7)
            if not data:
                break
            out += data
        return bytes(out)


@pytest.fixture
def pair() -> Pair:
    return Pair()


def test_stream_is_reassembled_from_any_framing(pair: Pair) -> None:
    stream = bytes(range(256)) * 10
    pair.server_sends(BytesMessage(data=stream[:1]), BytesMessage(data=stream[1:1000]))
    raw = b"".join(
        pair.server.send(BytesMessage(data=stream[i : i + 300]))
        for i in range(1000, len(stream), 300)
    )
    pair.inner.incoming.extend(raw[i : i + 5] for i in range(0, len(raw), 5))  # split frames
    assert pair.read_all() == stream
    assert pair.transport.recv(10) is None  # nothing more for now, not EOF


def test_send_frames_binary_and_bounds_frame_size(pair: Pair) -> None:
    data = b"m" * 150_000
    sent = 0
    for _ in range(10):
        sent += pair.transport.send(memoryview(data)[sent:])
        if sent == len(data):
            break
    events = pair.server_receives()
    assert all(isinstance(e, BytesMessage) for e in events)
    assert len(events) == 3  # 64 KiB frames
    assert b"".join(e.data for e in events) == data


def test_partial_write_is_kept_and_blocks_new_frames(pair: Pair) -> None:
    pair.inner.capacity = 3
    assert pair.transport.send(b"hello") == 5  # framed; most of the frame waits inside
    assert pair.transport.wants_write()
    assert pair.transport.send(b"next") == 0  # ordering: no new frame before the old one
    pair.inner.capacity = 1 << 30
    assert pair.transport.send(b"next") == 4
    assert not pair.transport.wants_write()
    assert [e.data for e in pair.server_receives()] == [b"hello", b"next"]


def test_ping_is_answered_even_when_the_socket_is_full(pair: Pair) -> None:
    pair.inner.capacity = 0
    pair.server_sends(Ping(payload=b"x"), BytesMessage(data=b"data"))
    assert pair.transport.recv(100) == b"data"
    assert pair.transport.wants_write()
    pair.inner.capacity = 1 << 30
    assert pair.transport.send(b"") == 0  # flushes its own bytes
    assert not pair.transport.wants_write()
    assert pair.server_receives() == [Pong(payload=b"x")]


def test_close_from_server_is_answered_then_eof(pair: Pair) -> None:
    pair.server_sends(BytesMessage(data=b"last"), CloseConnection(code=1000))
    assert pair.transport.recv(100) == b"last"
    assert pair.transport.recv(100) == b""
    assert pair.transport.recv(100) == b""
    events = pair.server_receives()
    assert isinstance(events[0], CloseConnection) and events[0].code == 1000
    with pytest.raises(ConnectionClosedError):
        pair.transport.send(b"x")


def test_text_frame_closes_with_1003(pair: Pair) -> None:
    pair.server_sends(BytesMessage(data=b"ok"), TextMessage(data="nope"))
    assert pair.transport.recv(100) == b"ok"
    assert pair.transport.pending()  # the error is waiting to be reported
    with pytest.raises(ConnectionClosedError, match=r"MQTT-6\.0\.0-1"):
        pair.transport.recv(100)
    assert pair.transport.recv(100) == b""
    close = pair.server_receives()[0]
    assert isinstance(close, CloseConnection) and close.code == 1003


def test_invalid_frame_closes(pair: Pair) -> None:
    pair.inner.incoming.append(b"\x8f\x00")  # FIN + reserved opcode 0xF
    with pytest.raises(ConnectionClosedError, match="invalid WebSocket frame"):
        pair.transport.recv(100)
    assert isinstance(pair.server_receives()[0], CloseConnection)


def test_eof_of_inner_transport(pair: Pair) -> None:
    pair.inner.incoming.append(b"")
    assert pair.transport.recv(10) == b""


def test_shutdown_write_sends_close_and_close_is_idempotent(pair: Pair) -> None:
    pair.transport.shutdown_write()
    close = pair.server_receives()[0]
    assert isinstance(close, CloseConnection) and close.code == 1000
    pair.server_sends(close.response())
    assert pair.transport.recv(10) == b""
    pair.transport.close()
    pair.transport.close()
    assert pair.inner.closed
    assert pair.transport.socket is pair.transport
