"""The floor of a round trip: a raw MQTT 3.1.1 connection with no library, for ``worker.py``.

A ``RawLink`` subscribes to a topic and publishes to it with ``peers.py``'s minimal encoder; it
parses only what it needs (packet boundaries, incoming PUBLISHes, their packet ids) and
acknowledges incoming QoS 1 messages. Two ways to wait for the message to come back, the two
shapes a client can have:

- ``RawLink.answered`` in **one thread**: the thread that published reads the socket (what a
  client driven by ``loop()`` does);
- ``ThreadedReader`` in **two threads**: the publishing thread writes and waits on a
  ``threading.Event``; a reader thread, blocked in ``select()``, reads the message and sets the
  Event (what a ``loop_start()`` client does at best: three wake-ups per round trip, the
  broker's, the reader's and the waiting thread's).

A client with ``loop_start()`` cannot beat the two-thread figure through the same broker on the
same machine; a client that also hands its writes to the loop thread pays one more wake-up.
For request/response, a second link answers from its reader thread (``answer``).
Both re-arm ``TCP_QUICKACK`` after every read, as mqttclient and the other peers do.
"""

from __future__ import annotations

import select
import socket
import threading
import time
import uuid
from typing import Callable, Optional

from broker import HOST
from peers import connect_packet, publish_packet, subscribe_packet

__all__ = ["RawLink", "ThreadedReader"]

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class RawLink:
    """A connected raw connection subscribed to ``topic`` at ``qos`` (0 or 1); it publishes to
    ``publish_topic`` (default: ``topic``)."""

    def __init__(
        self,
        port: int,
        topic: str,
        qos: int,
        payload: bytes,
        timeout_s: float,
        publish_topic: str = "",
    ) -> None:
        self.topic = publish_topic or topic
        self.qos = qos
        self.payload = payload
        self.sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_lock = threading.Lock()
        self.buffer = bytearray()
        self.next_id = 0
        try:
            self.sock.sendall(connect_packet(f"bench-raw-{uuid.uuid4().hex[:8]}"))
            if self._read_packet()[0] >> 4 != 2:
                raise RuntimeError("no CONNACK")
            self.sock.sendall(subscribe_packet(topic, qos))
            if self._read_packet()[0] >> 4 != 9:
                raise RuntimeError("no SUBACK")
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)

    def _read_packet(self) -> bytes:
        while True:
            packet = self._take()
            if packet is not None:
                return packet
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("the broker closed the connection")
            self.buffer += data

    def _take(self) -> Optional[bytes]:
        """The next complete packet in the buffer, removed from it; None if incomplete."""
        buf = self.buffer
        length = shift = 0
        pos = 1
        while True:
            if pos >= len(buf):
                return None
            byte = buf[pos]
            length |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                break
            shift += 7
        end = pos + length
        if end > len(buf):
            return None
        packet = bytes(buf[:end])
        del buf[:end]
        return packet

    def publish(self) -> None:
        packet_id = 0
        if self.qos:
            self.next_id = self.next_id % 65535 + 1
            packet_id = self.next_id
        data = publish_packet(self.topic, self.payload, self.qos, packet_id)
        with self.send_lock:
            self.sock.sendall(data)

    def read(self) -> int:
        """One ``recv`` (blocking); returns how many PUBLISHes it completed. Incoming QoS 1
        PUBLISHes are acknowledged; PUBACKs for ours are consumed."""
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the broker closed the connection")
        if _QUICKACK is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        self.buffer += data
        count = 0
        acks = b""
        while True:
            packet = self._take()
            if packet is None:
                break
            if packet[0] >> 4 != 3:
                continue  # a PUBACK for our message
            count += 1
            if packet[0] & 0x06:
                pos = 2 if packet[1] < 0x80 else 3 if packet[2] < 0x80 else 4
                topic_len = packet[pos] << 8 | packet[pos + 1]
                pid = packet[pos + 2 + topic_len : pos + 4 + topic_len]
                acks += b"\x40\x02" + pid
        if acks:
            with self.send_lock:
                self.sock.sendall(acks)
        return count

    # --- one thread: the publisher reads --------------------------------------------------------
    def clear(self) -> None:
        """(``threading.Event`` interface for ``worker._latencies``.)"""

    def wait(self, timeout: float) -> bool:
        """Read until the message published last has come back, at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            readable, _, _ = select.select([self.sock], [], [], deadline - time.monotonic())
            if not readable:
                return False
            if self.read():
                return True
            if time.monotonic() >= deadline:
                return False

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class ThreadedReader:
    """A reader thread that reads ``link`` and sets ``back`` for every message that arrives
    (or, given ``answer``, calls it once per message: a responder). ``close()`` stops it
    (bounded) and closes the link."""

    def __init__(self, link: RawLink, answer: Optional[Callable[[], None]] = None) -> None:
        self.link = link
        self.answer = answer
        self.back = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="raw-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock = self.link.sock
        while not self.stopping:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if not readable:
                continue
            try:
                count = self.link.read()
                if count and self.answer is not None:
                    for _ in range(count):
                        self.answer()
                elif count:
                    self.back.set()
            except (OSError, RuntimeError):
                return

    def close(self) -> None:
        self.stopping = True
        self.thread.join(2.0)
        self.link.close()
