"""Raw-socket MQTT 3.1.1 peers for the benchmarks: a counting subscriber and a pre-encoded feeder.

Each runs in its own process (``python benchmarks/peers.py sub|pub ...``) so that it never
competes with the client under test for the GIL. It talks to its parent through lines: it prints
``ready`` once connected (and subscribed), then answers commands read from stdin with one JSON
line each. Every loop is bounded by ``--deadline-s``; the process exits by itself at the deadline
or when stdin closes.

- ``sub``: subscribes to one topic. At QoS 0 it only counts bytes (every delivery has the same
  size, so ``bytes // size`` is the count: no per-packet Python work, so it keeps up with the
  broker's ceiling). At QoS 1/2 it parses each packet and acknowledges it (PUBACK, or
  PUBREC then PUBCOMP). Command ``wait K``: answer once K messages have arrived in total (or after T
  seconds for ``wait K T``, or at the deadline) with ``{"count", "t_last", "cpu_s"}``; ``t_last`` is the ``time.monotonic()``
  of the read that completed the K-th message (the clock is system-wide on Linux, so the parent
  can compare it with its own).
- ``pub``: publishes one pre-encoded PUBLISH over and over (QoS 1/2: one per packet id, in order,
  at most ``--window`` unacknowledged, as a client's in-flight limit would). Command ``send N``:
  send N more, answer when they are all written (QoS 0) or acknowledged (QoS 1: PUBACK, QoS 2:
  PUBCOMP; it answers PUBREC with PUBREL) with ``{"sent", "t_start", "t_done", "cpu_s"}``.

No code here is shared with mqttclient: it is a deliberately minimal, independent encoder so that
the ceiling it measures does not depend on the library under test.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import struct
import sys
import time
from typing import Optional

__all__ = ["connect_packet", "publish_packet", "publish_size"]

HOST = "127.0.0.1"
_READ = 1 << 20
_BATCH_S = 0.001


def _vbi(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value % 128
        value //= 128
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def connect_packet(client_id: str) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session, keepalive 0 (the broker never expects a ping)."""
    body = _string("MQTT") + bytes((4, 0x02)) + struct.pack(">H", 0) + _string(client_id)
    return b"\x10" + _vbi(len(body)) + body


def subscribe_packet(topic: str, qos: int) -> bytes:
    body = struct.pack(">H", 1) + _string(topic) + bytes((qos,))
    return b"\x82" + _vbi(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int = 0) -> bytes:
    body = _string(topic) + (struct.pack(">H", packet_id) if qos else b"") + payload
    return bytes((0x30 | qos << 1,)) + _vbi(len(body)) + body


def publish_size(topic: str, payload_size: int, qos: int) -> int:
    """Bytes of one PUBLISH of ``payload_size`` bytes on ``topic`` at ``qos``."""
    return len(publish_packet(topic, bytes(payload_size), qos, 1))


def _connect(port: int, client_id: str, deadline: float) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=max(0.1, deadline - time.monotonic()))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id))
    connack = _read_exactly(sock, 4)
    if connack[0] != 0x20 or connack[3] != 0:
        raise RuntimeError(f"connection refused: {connack!r}")
    return sock


def _quickack(sock: socket.socket) -> None:
    """Re-arm TCP_QUICKACK (Linux clears it): mosquitto does not set TCP_NODELAY, so without it
    the broker's last small packet of a burst waits ~40 ms for our delayed ACK."""
    option = getattr(socket, "TCP_QUICKACK", None)
    if option is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)
        except OSError:
            pass


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise RuntimeError("broker closed the connection")
        data += chunk
    return data


def _say(obj: object) -> None:
    sys.stdout.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    sys.stdout.flush()


def _command(deadline: float) -> Optional[list[str]]:
    """Wait for a command line on stdin (serving nothing else). None on EOF or deadline."""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sys.stdin], [], [], min(1.0, deadline - time.monotonic()))
        if readable:
            line = sys.stdin.readline()
            return line.split() if line else None
    return None


class Subscriber:
    def __init__(self, sock: socket.socket, topic: str, qos: int, payload_size: int) -> None:
        self.sock = sock
        self.qos = qos
        self.size = publish_size(topic, payload_size, qos)
        self.count = 0
        self.t_last = 0.0
        self._bytes = 0
        self._buf = bytearray()
        self._view = memoryview(bytearray(_READ))

    def read(self) -> bool:
        """One read; False when the connection closed."""
        n = self.sock.recv_into(self._view)
        if not n:
            return False
        if self.qos:
            _quickack(self.sock)
        if self.qos == 0:
            self._bytes += n
            count = self._bytes // self.size
        else:
            self._buf += self._view[:n]
            count = self.count + self._parse()
        if count != self.count:
            self.count = count
            self.t_last = time.monotonic()
        return True

    def _parse(self) -> int:
        """Acknowledge every complete packet in the buffer; return the PUBLISHes among them."""
        buf = self._buf
        pos = 0
        end = len(buf)
        acks = bytearray()
        found = 0
        while pos + 2 <= end:
            first = buf[pos]
            head = pos + 1
            length = shift = 0
            complete = False
            while head < end:
                byte = buf[head]
                head += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
            if not complete or head + length > end:
                break
            kind = first >> 4
            if kind == 3:
                qos = (first >> 1) & 3
                if qos:
                    topic_len = buf[head] << 8 | buf[head + 1]
                    pid = bytes(buf[head + 2 + topic_len : head + 4 + topic_len])
                    acks += (b"\x40\x02" if qos == 1 else b"\x50\x02") + pid
                found += 1
            elif kind == 6:  # PUBREL -> PUBCOMP
                acks += b"\x70\x02" + bytes(buf[head : head + 2])
            pos = head + length
        del buf[:pos]
        if acks:
            self.sock.sendall(acks)
        return found


def run_sub(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.deadline_s
    sock = _connect(args.port, f"bench-sub-{os.getpid()}", deadline)
    sock.sendall(subscribe_packet(args.topic, args.qos))
    suback = _read_exactly(sock, 5)
    if suback[0] != 0x90 or suback[4] > 2:
        raise RuntimeError(f"subscription refused: {suback!r}")
    sub = Subscriber(sock, args.topic, args.qos, args.payload_size)
    _say("ready")
    want: Optional[int] = None
    want_until = deadline
    stdin = sys.stdin
    while True:
        now = time.monotonic()
        if want is not None and (sub.count >= want or now >= want_until):
            _say({"count": sub.count, "t_last": sub.t_last, "cpu_s": time.process_time()})
            want = None
        if now >= deadline:
            return
        readable, _, _ = select.select([sock, stdin], [], [], min(1.0, deadline - now))
        if sock in readable:
            if not sub.read():
                _say({"count": sub.count, "t_last": sub.t_last, "cpu_s": time.process_time()})
                return
            if args.qos == 0:
                # Let deliveries accumulate in the socket buffer: a few large reads cost this
                # process far less CPU (which the client under test needs on a small machine);
                # t_last is late by at most this much.
                time.sleep(_BATCH_S)
        if stdin in readable:
            line = stdin.readline()
            if not line:
                return
            parts = line.split()
            if parts and parts[0] == "wait":
                want = int(parts[1])
                want_until = min(deadline, now + float(parts[2])) if len(parts) > 2 else deadline
            elif parts and parts[0] == "quit":
                return


class Feeder:
    def __init__(
        self, sock: socket.socket, topic: str, qos: int, payload_size: int, window: int
    ) -> None:
        self.sock = sock
        self.qos = qos
        self.window = window
        payload = bytes((i * 7) & 0xFF for i in range(payload_size))
        if qos == 0:
            self.size = len(publish_packet(topic, payload, 0))
            self.block = publish_packet(topic, payload, 0) * 512
        else:
            # One PUBLISH per packet id 1..65535, back to back: sending k packets is one slice.
            self.block = b"".join(publish_packet(topic, payload, qos, i) for i in range(1, 65536))
            self.size = len(self.block) // 65535
        self.next_index = 0  # packet id - 1 of the next PUBLISH (QoS 1/2)
        self.done = 0
        self._ack_rest = b""

    def send(self, count: int, deadline: float) -> int:
        """Send ``count`` messages; return how many completed before ``deadline``."""
        sock = self.sock
        out = bytearray()
        queued = 0
        target = self.done + count
        start_done = self.done
        while self.done < target and time.monotonic() < deadline:
            # Top up the out buffer within the window.
            room = count - queued
            if self.qos:
                room = min(room, self.window - (queued - (self.done - start_done)))
            if room > 0 and len(out) < (256 << 10):
                room = min(room, 512)
                if self.qos:
                    start = self.next_index
                    stop = start + room
                    if stop <= 65535:
                        out += self.block[start * self.size : stop * self.size]
                    else:
                        out += self.block[start * self.size :]
                        out += self.block[: (stop - 65535) * self.size]
                    self.next_index = stop % 65535
                else:
                    out += self.block[: room * self.size]
                queued += room
            wait_write = bool(out)
            readable, writable, _ = select.select(
                [sock], [sock] if wait_write else [], [], min(1.0, deadline - time.monotonic())
            )
            if writable:
                try:
                    sent = sock.send(out)
                except BlockingIOError:
                    sent = 0
                del out[:sent]
            if readable:
                data = sock.recv(_READ)
                if not data:
                    raise RuntimeError("broker closed the connection")
                _quickack(sock)
                out += self._acks(data)
            if self.qos == 0 and not out and queued == count:
                self.done = target
        return self.done - start_done

    def _acks(self, data: bytes) -> bytes:
        """Count completed messages; return the PUBRELs to send (QoS 2)."""
        data = self._ack_rest + data
        usable = len(data) - len(data) % 4
        self._ack_rest = data[usable:]
        if self.qos == 1:
            self.done += usable // 4  # PUBACK is always 4 bytes in 3.1.1
            return b""
        replies = bytearray()
        for pos in range(0, usable, 4):
            if data[pos] == 0x50:  # PUBREC -> PUBREL
                replies += b"\x62\x02" + data[pos + 2 : pos + 4]
            elif data[pos] == 0x70:  # PUBCOMP
                self.done += 1
        return bytes(replies)


def run_pub(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.deadline_s
    sock = _connect(args.port, f"bench-pub-{os.getpid()}", deadline)
    sock.setblocking(False)
    feeder = Feeder(sock, args.topic, args.qos, args.payload_size, args.window)
    _say("ready")
    while True:
        parts = _command(deadline)
        if not parts or parts[0] == "quit":
            return
        if parts[0] == "send":
            t_start = time.monotonic()
            sent = feeder.send(int(parts[1]), deadline)
            _say(
                {
                    "sent": sent,
                    "t_start": t_start,
                    "t_done": time.monotonic(),
                    "cpu_s": time.process_time(),
                }
            )


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["sub", "pub"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--qos", type=int, default=0, choices=[0, 1, 2])
    parser.add_argument("--payload-size", type=int, default=100)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--deadline-s", type=float, default=300.0)
    args = parser.parse_args(argv)
    try:
        (run_sub if args.role == "sub" else run_pub)(args)
    except (KeyboardInterrupt, BrokenPipeError):
        pass


if __name__ == "__main__":
    main()
