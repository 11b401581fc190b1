"""A scripted fake MQTT broker for packet-exact tests.

The test drives it from its own thread; nothing runs in the background and every wait is
bounded. It works on raw bytes (packets are split by fixed header and Remaining Length only) and
decodes packets with ``mqttclient._core.codec`` when that module is importable.

    with FakeBroker() as broker:
        client.connect("127.0.0.1", broker.port)   # TCP completes in the listen backlog
        connect = broker.expect(CONNECT)             # accepts the connection, reads CONNECT
        broker.send(connack())
        publish = broker.expect(PUBLISH, timeout=2)
        assert publish.decoded.topic == "a/b"        # when the codec exists
        broker.close_client()                         # or: broker.wait_closed()

Packet types are given as paho's constants (``0x10`` CONNECT ... ``0xF0`` AUTH) or as the MQTT
type number (1..15).
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any, Optional

__all__ = [
    "AUTH",
    "CONNACK",
    "CONNECT",
    "DISCONNECT",
    "FakeBroker",
    "FakeConnection",
    "PINGREQ",
    "PINGRESP",
    "PUBACK",
    "PUBCOMP",
    "PUBLISH",
    "PUBREC",
    "PUBREL",
    "RawPacket",
    "SUBACK",
    "SUBSCRIBE",
    "UNSUBACK",
    "UNSUBSCRIBE",
    "connack",
    "frame",
    "length_prefixed",
    "split_packets",
    "vbi",
]

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
PUBREC, PUBREL, PUBCOMP, SUBSCRIBE = 0x50, 0x60, 0x70, 0x80
SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ = 0x90, 0xA0, 0xB0, 0xC0
PINGRESP, DISCONNECT, AUTH = 0xD0, 0xE0, 0xF0
_NAMES = {
    0x10: "CONNECT",
    0x20: "CONNACK",
    0x30: "PUBLISH",
    0x40: "PUBACK",
    0x50: "PUBREC",
    0x60: "PUBREL",
    0x70: "PUBCOMP",
    0x80: "SUBSCRIBE",
    0x90: "SUBACK",
    0xA0: "UNSUBSCRIBE",
    0xB0: "UNSUBACK",
    0xC0: "PINGREQ",
    0xD0: "PINGRESP",
    0xE0: "DISCONNECT",
    0xF0: "AUTH",
}
DEFAULT_TIMEOUT_S = 5.0


def _type_byte(packet_type: int) -> int:
    return packet_type << 4 if 0 < packet_type < 16 else packet_type & 0xF0


def type_name(packet_type: int) -> str:
    return _NAMES.get(_type_byte(packet_type), f"type 0x{packet_type:02x}")


def connack(session_present: bool = False, code: int = 0, version: int = 4) -> bytes:
    """CONNACK bytes: 3.x ``20 02 sp rc``; 5.0 adds an empty property length."""
    if version == 5:
        return bytes([0x20, 0x03, int(session_present), code, 0x00])
    return bytes([0x20, 0x02, int(session_present), code])


# --- byte builders (by hand, independent of the library's encoder) ------------------------------


def vbi(number: int) -> bytes:
    """A Variable Byte Integer (MQTT 5.0 §1.5.5, 3.1.1 §2.2.3): 7 bits a byte, low first."""
    out = bytearray()
    while True:
        byte, number = number % 128, number // 128
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def length_prefixed(value: str | bytes) -> bytes:
    """A UTF-8 string / Binary Data field: two-byte length, then the bytes."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return len(data).to_bytes(2, "big") + data


def frame(first: int, body: bytes) -> bytes:
    """A whole packet: first byte (type and flags), Remaining Length, ``body``."""
    return bytes([first]) + vbi(len(body)) + body


class RawPacket(bytes):
    """The bytes of one packet as received, with its type and (when possible) its decoded form."""

    version: int = 4

    @property
    def packet_type(self) -> int:
        """The type as paho's constant, e.g. ``0x30`` for PUBLISH."""
        return self[0] & 0xF0

    @property
    def flags(self) -> int:
        return self[0] & 0x0F

    @property
    def name(self) -> str:
        return type_name(self[0])

    @property
    def decoded(self) -> Any:
        """The packet decoded by ``mqttclient._core.codec``; ``None`` while the codec is missing
        or cannot decode it."""
        try:
            from mqttclient._core.codec import Decoder
        except ImportError:
            return None
        try:
            packets = Decoder(self.version).feed(bytes(self))
        except Exception:
            return None
        return packets[0] if len(packets) == 1 else None

    def __repr__(self) -> str:
        return f"<{self.name} {bytes(self).hex(' ')}>"


def split_packets(buffer: bytearray) -> list[bytes]:
    """Remove and return every complete MQTT packet at the start of ``buffer``."""
    packets = []
    while len(buffer) >= 2:
        length = 0
        multiplier = 1
        pos = 1
        while True:
            if pos >= len(buffer):
                return packets
            byte = buffer[pos]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            pos += 1
            if not byte & 0x80:
                break
            if pos > 4:
                raise AssertionError(f"malformed Remaining Length: {bytes(buffer[:5]).hex(' ')}")
        if len(buffer) < pos + length:
            return packets
        packets.append(bytes(buffer[: pos + length]))
        del buffer[: pos + length]
    return packets


class FakeConnection:
    """One accepted client connection, read and written by the test thread."""

    def __init__(self, sock: socket.socket, peer: Any) -> None:
        self.sock = sock
        self.peer = peer
        self.version = 4
        self._buffer = bytearray()
        self._packets: list[RawPacket] = []
        self._recorded: list[RawPacket] = []
        self.closed_by_client = False
        self._closed = False

    def _read(self, deadline: float) -> bool:
        """Read once (waiting until ``deadline``); False on timeout or EOF."""
        if self._closed or self.closed_by_client:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        readable, _, _ = select.select([self.sock], [], [], remaining)
        if not readable:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionError:
            data = b""
        if not data:
            self.closed_by_client = True
            return False
        self._buffer += data
        for raw in split_packets(self._buffer):
            packet = RawPacket(raw)
            if packet.packet_type == CONNECT:
                self.version = _protocol_level(raw)
            packet.version = self.version
            self._packets.append(packet)
            self._recorded.append(packet)
        return True

    def expect(
        self, packet_type: Optional[int] = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> RawPacket:
        """The next packet from the client; fails the test if it is not ``packet_type`` (when
        given), if none arrives within ``timeout`` s, or if the client closes."""
        deadline = time.monotonic() + timeout
        while not self._packets:
            if not self._read(deadline):
                state = (
                    "the client closed the connection"
                    if self.closed_by_client
                    else (f"nothing arrived within {timeout} s")
                )
                wanted = type_name(packet_type) if packet_type else "a packet"
                raise AssertionError(
                    f"expected {wanted} but {state}; pending bytes: "
                    f"{bytes(self._buffer).hex(' ') or 'none'}"
                )
        packet = self._packets.pop(0)
        if packet_type is not None and packet.packet_type != _type_byte(packet_type):
            raise AssertionError(f"expected {type_name(packet_type)}, got {packet!r}")
        return packet

    def expect_nothing(self, duration_s: float = 0.3) -> None:
        """Fail the test if the client sends a packet within ``duration_s``."""
        deadline = time.monotonic() + duration_s
        while not self._packets and self._read(deadline):
            pass
        if self._packets:
            raise AssertionError(f"expected silence, got {self._packets[0]!r}")

    def send(self, data: bytes) -> None:
        """Send raw bytes to the client (bounded: fails after the default timeout)."""
        self.sock.settimeout(DEFAULT_TIMEOUT_S)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(True)

    def recorded(self) -> list[RawPacket]:
        """Every packet received on this connection, in order (including ones not expected)."""
        return list(self._recorded)

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT_S) -> list[RawPacket]:
        """Wait until the client closes; return packets that arrived unread before that."""
        deadline = time.monotonic() + timeout
        while not self.closed_by_client:
            if not self._read(deadline) and not self.closed_by_client:
                raise AssertionError(f"the client did not close the connection within {timeout} s")
        unread, self._packets = self._packets, []
        return unread

    def close(self) -> None:
        """Close from the broker side (the client sees EOF)."""
        if not self._closed:
            self._closed = True
            self.sock.close()


def _protocol_level(connect: bytes) -> int:
    # CONNECT variable header: protocol name (2-byte length + text), then the level byte.
    pos = 1
    while connect[pos] & 0x80:
        pos += 1
    pos += 1
    name_length = int.from_bytes(connect[pos : pos + 2], "big")
    level_pos = pos + 2 + name_length
    return connect[level_pos] & 0x7F if level_pos < len(connect) else 4


class FakeBroker:
    """A listening socket on 127.0.0.1 that accepts client connections one after another.

    The broker-level :meth:`expect`, :meth:`send`, :meth:`wait_closed`, ... act on the current
    connection, accepting the next one first if there is none (or the last one was closed).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port), backlog=8)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self.connections: list[FakeConnection] = []

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def accept(self, timeout: float = DEFAULT_TIMEOUT_S) -> FakeConnection:
        """Accept the next client connection; fails the test after ``timeout`` s."""
        readable, _, _ = select.select([self._listener], [], [], timeout)
        if not readable:
            raise AssertionError(f"no client connected within {timeout} s")
        sock, peer = self._listener.accept()
        sock.setblocking(True)
        connection = FakeConnection(sock, peer)
        self.connections.append(connection)
        return connection

    @property
    def connection(self) -> FakeConnection:
        """The current connection (accepting one if needed)."""
        if not self.connections or self.connections[-1]._closed:
            return self.accept()
        return self.connections[-1]

    def expect(
        self, packet_type: Optional[int] = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> RawPacket:
        """The next packet on the current connection. If that connection is closed (by either
        side) with nothing unread, the next connection is accepted and read instead, so a
        reconnecting client can be followed with plain ``expect(CONNECT)`` calls."""
        deadline = time.monotonic() + timeout
        current = self.connections[-1] if self.connections else None
        if current is not None and not current._packets:
            current._read(min(deadline, time.monotonic() + 0.01))
        if (
            current is None
            or current._closed
            or (current.closed_by_client and not current._packets)
        ):
            current = self.accept(max(deadline - time.monotonic(), 0.0))
        return current.expect(packet_type, max(deadline - time.monotonic(), 0.0))

    def expect_nothing(self, duration_s: float = 0.3) -> None:
        self.connection.expect_nothing(duration_s)

    def send(self, data: bytes) -> None:
        self.connection.send(data)

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT_S) -> list[RawPacket]:
        return self.connection.wait_closed(timeout)

    def close_client(self) -> None:
        """Drop the current connection from the broker side."""
        if self.connections:
            self.connections[-1].close()

    def recorded(self) -> list[RawPacket]:
        """Every packet received on every connection, in order."""
        return [packet for conn in self.connections for packet in conn.recorded()]

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self._listener.close()

    def __enter__(self) -> FakeBroker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
