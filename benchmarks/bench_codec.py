"""Codec throughput: packets per second for encoding and decoding PUBLISH, ours and paho-mqtt's.

Run: ``python benchmarks/bench_codec.py [--quick]``. Numbers depend on the machine; compare
runs on the same one. paho-mqtt has no separate codec: its rows time ``Client._send_publish``
(packet building only, the queue replaced by a list append) and ``Client._packet_read`` over a
fake socket (reading, parsing and dispatching a message with no ``on_message`` set), which is the
closest equivalent of each operation.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

# Appended, not inserted: a copy of the package on PYTHONPATH (a prototype) takes precedence.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mqttclient._core.codec import Decoder, encode, encode_ack, encode_publish
from mqttclient._core.packets import Publish

TOPIC = "sensors/building-1/floor-2/temperature"
PAYLOAD = bytes(range(100))
PROPS = ((0x01, 1), (0x02, 3600), (0x26, ("unit", "celsius")))
STREAM_PACKETS = 10_000
CHUNK = 64 * 1024
MIN_TIME = 0.5  # seconds per figure (about); benchmarks/run.py lowers it for --quick


def rate(fn: Callable[[], Any], ops_per_call: int = 1, min_time: float = 0.0) -> float:
    """Best operations per second over 5 rounds of at least ``min_time`` / 5 seconds each
    (``MIN_TIME`` when 0)."""
    min_time = min_time or MIN_TIME
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start > min_time / 25:
            break
        calls *= 2
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = max(best, calls * ops_per_call / (time.perf_counter() - start))
    return best


def stream(qos: int, version: int, props: tuple[Any, ...] = ()) -> bytes:
    return b"".join(
        encode_publish(TOPIC, PAYLOAD, qos, False, False, i % 65535 + 1, props, version)
        for i in range(STREAM_PACKETS)
    )


def decode_stream(data: bytes, version: int) -> Callable[[], None]:
    def run() -> None:
        decoder = Decoder(version)
        count = 0
        for i in range(0, len(data), CHUNK):
            count += len(decoder.feed(data[i : i + CHUNK]))
        assert count == STREAM_PACKETS

    return run


def ours() -> dict[str, float]:
    pub = Publish(TOPIC, PAYLOAD, 1, packet_id=17)
    return {
        "encode_publish QoS 0, v3.1.1": rate(
            lambda: encode_publish(TOPIC, PAYLOAD, 0, False, False, 0, (), 4)
        ),
        "encode_publish QoS 1, v3.1.1": rate(
            lambda: encode_publish(TOPIC, PAYLOAD, 1, False, False, 17, (), 4)
        ),
        "encode_publish QoS 1, v5, no properties": rate(
            lambda: encode_publish(TOPIC, PAYLOAD, 1, False, False, 17, (), 5)
        ),
        "encode_publish QoS 1, v5, 3 properties": rate(
            lambda: encode_publish(TOPIC, PAYLOAD, 1, False, False, 17, PROPS, 5)
        ),
        "encode(Publish) QoS 1, v3.1.1": rate(lambda: encode(pub, 4)),
        "encode_ack PUBACK": rate(lambda: encode_ack(4, 17)),
        "Decoder.feed QoS 0, v3.1.1": rate(decode_stream(stream(0, 4), 4), STREAM_PACKETS),
        "Decoder.feed QoS 1, v3.1.1": rate(decode_stream(stream(1, 4), 4), STREAM_PACKETS),
        "Decoder.feed QoS 1, v5, no properties": rate(
            decode_stream(stream(1, 5), 5), STREAM_PACKETS
        ),
        "Decoder.feed QoS 1, v5, 3 properties": rate(
            decode_stream(stream(1, 5, PROPS), 5), STREAM_PACKETS
        ),
    }


class _FakeSocket:
    """Serves ``data`` to paho's reads, as a socket would in chunks of at most ``CHUNK``."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.pos = 0

    def recv(self, size: int) -> bytes:
        size = min(size, CHUNK)
        out = self.view[self.pos : self.pos + size].tobytes()
        self.pos += len(out)
        return out

    def close(self) -> None:
        pass


def paho() -> dict[str, float]:
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.properties import Properties
    except ImportError:
        return {}

    def client(version: int) -> Any:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=version)
        c._packet_queue = lambda *args, **kwargs: 0
        c._sock = _FakeSocket(b"")
        return c

    c4, c5 = client(4), client(5)
    props = Properties(3)
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 3600
    props.UserProperty = ("unit", "celsius")
    topic = TOPIC.encode()

    def read_stream(data: bytes, version: int) -> Callable[[], None]:
        def run() -> None:
            c = client(version)
            c._sock = _FakeSocket(data)
            read = c._packet_read
            for _ in range(STREAM_PACKETS):
                read()

        return run

    return {
        "encode_publish QoS 0, v3.1.1": rate(
            lambda: c4._send_publish(1, topic, PAYLOAD, 0, False, False)
        ),
        "encode_publish QoS 1, v3.1.1": rate(
            lambda: c4._send_publish(17, topic, PAYLOAD, 1, False, False)
        ),
        "encode_publish QoS 1, v5, no properties": rate(
            lambda: c5._send_publish(17, topic, PAYLOAD, 1, False, False)
        ),
        "encode_publish QoS 1, v5, 3 properties": rate(
            lambda: c5._send_publish(17, topic, PAYLOAD, 1, False, False, None, props)
        ),
        "encode_ack PUBACK": rate(lambda: c4._send_puback(17)),
        "Decoder.feed QoS 0, v3.1.1": rate(read_stream(stream(0, 4), 4), STREAM_PACKETS),
        "Decoder.feed QoS 1, v5, no properties": rate(read_stream(stream(1, 5), 5), STREAM_PACKETS),
    }


def main() -> None:
    global MIN_TIME
    if "--quick" in sys.argv[1:]:
        MIN_TIME = 0.1
    print(f"Python {sys.version.split()[0]}; payload {len(PAYLOAD)} B, topic {len(TOPIC)} B")
    mine = ours()
    theirs = paho()
    print(f"{'operation':42} {'mqttclient/s':>14} {'paho-mqtt/s':>14} {'ratio':>7}")
    for name, value in mine.items():
        other = theirs.get(name)
        paho_text = f"{other:14,.0f}" if other else f"{'-':>14}"
        ratio = f"{value / other:6.1f}x" if other else f"{'':>7}"
        print(f"{name:42} {value:14,.0f} {paho_text} {ratio}")


if __name__ == "__main__":
    main()
