"""The client against hostile or broken brokers (scripted fake broker), issue 8.

For every fault the client closes the connection (MQTT 5: DISCONNECT with the most specific
reason code, 0x81 / 0x82 / 0x94 / 0x95) or answers as the specification says, reports a typed
reason to ``on_disconnect``, logs the cause at WARNING, keeps its loop thread alive and
reconnects. Memory stays bounded: a 268 MB Remaining Length is never allocated and a flood of
PUBLISHes against a slow ``on_message`` is held back by TCP flow control.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import mqttclient.client as mqtt
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from mqttclient.reasoncodes import ReasonCode
from tests.fakebroker import (
    CONNECT,
    DISCONNECT,
    PUBCOMP,
    PUBREL,
    SUBSCRIBE,
    FakeBroker,
    RawPacket,
    connack,
)
from tests.fakebroker import frame as _frame
from tests.fakebroker import length_prefixed as _s
from tests.fakebroker import vbi as _vbi
from tests.integration import fakeclient
from tests.integration.fakeclient import WAIT_S, client_factory
from tests.integration.helpers import Recorder, wait_until

MAX_RL = 268_435_455  # the largest Remaining Length the encoding allows (0xFF 0xFF 0xFF 0x7F)


def publish(topic: str, payload: bytes, qos: int = 0, packet_id: int = 0) -> bytes:
    return encode(P.Publish(topic, payload, qos, False, False, packet_id), 5)


# --- client lifecycle ------------------------------------------------------------------------------


@pytest.fixture
def make_client(fake_broker: FakeBroker) -> Iterator[Callable[..., mqtt.Client]]:
    """``make_client(protocol=MQTTv5)``: V2 clients, all stopped after the test."""
    with client_factory(fake_broker) as make:
        yield lambda protocol=mqtt.MQTTv5: make(protocol=protocol)


def start(client: mqtt.Client, broker: FakeBroker, version: int = 5, **kw: Any) -> RawPacket:
    """:func:`fakeclient.start`, MQTT 5.0 by default in this module."""
    return fakeclient.start(client, broker, version=version, **kw)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("mqttclient")
    ]


def assert_closed_with(
    client: mqtt.Client,
    broker: FakeBroker,
    rec: Recorder,
    caplog: pytest.LogCaptureFixture,
    code: int,
    *,
    version: int = 5,
    disconnect_required: bool = True,
) -> None:
    """The client closed the connection (5.0: DISCONNECT ``code``), reported ``code`` to
    on_disconnect, logged a WARNING, kept its thread and reconnected."""
    thread = client._thread
    unread = broker.wait_closed(WAIT_S)
    disconnects = [p for p in unread if p.packet_type == DISCONNECT]
    if version == 5 and disconnect_required:
        assert len(disconnects) == 1, unread
    if version != 5:
        assert disconnects == []
    for packet in disconnects:
        assert packet.decoded.reason_code == code
    wait_until(lambda: rec.count("on_disconnect") >= 1, WAIT_S)
    _flags, reason, _props = rec.get("on_disconnect")[0]
    assert isinstance(reason, ReasonCode)
    if version == 5:
        assert reason == code, reason
    else:
        assert reason.is_failure
    assert warnings_of(caplog), "no WARNING with the cause"
    assert thread is not None and thread.is_alive()
    broker.expect(CONNECT, WAIT_S)  # reconnects
    broker.send(connack(False, 0, version))
    wait_until(client.is_connected, WAIT_S)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


# =================================================================================================
# CONNACK and packets before it
# =================================================================================================

BAD_CONNACK = {
    "reserved-flag-bits": bytes([0x20, 0x03, 0x02, 0x00, 0x00]),
    "reserved-type-flags": bytes([0x21, 0x03, 0x00, 0x00, 0x00]),
    "garbage": bytes([0x20, 0x03, 0xFF, 0xEE, 0xDD]),
    "truncated": bytes([0x20, 0x01, 0x00]),
}


@pytest.mark.parametrize("kind", list(BAD_CONNACK))
def test_bad_connack_v5(make_client, fake_broker, rec, log, kind):
    client = make_client()
    rec.attach(client, "on_disconnect", "on_connect")
    start(client, fake_broker, answer=False)
    fake_broker.send(BAD_CONNACK[kind])
    # Before CONNACK the client may close without DISCONNECT (5.0 §4.13).
    assert_closed_with(client, fake_broker, rec, log, 0x81, disconnect_required=False)


@pytest.mark.parametrize("kind", ["reserved-flag-bits", "reserved-type-flags", "garbage"])
def test_bad_connack_v311(make_client, fake_broker, rec, log, kind):
    client = make_client(mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_connect")
    start(client, fake_broker, version=4, answer=False)
    data = BAD_CONNACK[kind]
    fake_broker.send(bytes([data[0], 0x02]) + data[2:4])
    assert_closed_with(client, fake_broker, rec, log, 0x81, version=4)


BEFORE_CONNACK = {
    "publish": publish("a", b"x"),
    "suback": encode(P.Suback(1, (0,)), 5),
    "pingresp": bytes([0xD0, 0x00]),
}


@pytest.mark.parametrize("kind", list(BEFORE_CONNACK))
def test_packet_before_connack_v5(make_client, fake_broker, rec, log, kind):
    client = make_client()
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker, answer=False)
    fake_broker.send(BEFORE_CONNACK[kind])
    assert_closed_with(client, fake_broker, rec, log, 0x82, disconnect_required=False)
    assert rec.count("on_message") == 0


def test_packet_before_connack_v311(make_client, fake_broker, rec, log):
    client = make_client(mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker, version=4, answer=False)
    fake_broker.send(encode(P.Publish("a", b"x"), 4))
    assert_closed_with(client, fake_broker, rec, log, 0x82, version=4)
    assert rec.count("on_message") == 0


# =================================================================================================
# A 268 MB Remaining Length
# =================================================================================================


def _huge_header_then_data(broker: FakeBroker) -> None:
    broker.send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0x7F]) + _s("t"))
    try:  # the client must not buffer: it closes, so later writes may fail
        for _ in range(16):
            broker.send(b"\x00" * 65536)
    except OSError:
        pass


def test_huge_remaining_length_with_maximum_packet_size_v5(make_client, fake_broker, rec, log):
    client = make_client()
    rec.attach(client, "on_disconnect", "on_message")
    props = Properties(PacketTypes.CONNECT)
    props.MaximumPacketSize = 1 << 20
    tracemalloc.start()
    try:
        start(client, fake_broker, properties=props)
        _huge_header_then_data(fake_broker)
        assert_closed_with(client, fake_broker, rec, log, 0x95)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, peak
    assert rec.count("on_message") == 0


@pytest.mark.parametrize("version", [5, 4])
def test_huge_remaining_length_without_maximum_is_not_preallocated(
    make_client, fake_broker, rec, version
):
    """Without a Maximum Packet Size a 268 MB packet is legal (5.0 §3.1.2.11.4): the client
    buffers only what arrived (never the announced size) and recovers when the broker drops."""
    client = make_client(mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_message")
    tracemalloc.start()
    try:
        start(client, fake_broker, version=version)
        thread = client._thread
        _huge_header_then_data(fake_broker)  # 1 MiB of the announced 268 MB
        time.sleep(0.3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, peak
    fake_broker.close_client()
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    assert rec.get("on_disconnect")[0][1].is_failure
    assert rec.count("on_message") == 0
    assert thread is not None and thread.is_alive()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack(False, 0, version))
    wait_until(client.is_connected, WAIT_S)


# =================================================================================================
# Acknowledgements for unknown packet ids, PUBREL without PUBREC
# =================================================================================================


@pytest.mark.parametrize("version", [5, 4])
@pytest.mark.parametrize("first", [0x40, 0x70], ids=["puback", "pubcomp"])
def test_unknown_puback_pubcomp_ignored(make_client, fake_broker, rec, log, version, first):
    client = make_client(mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_publish")
    start(client, fake_broker, version=version)
    fake_broker.send(bytes([first, 0x02, 0x12, 0x34]))
    fake_broker.expect_nothing(0.3)
    assert client.is_connected()
    assert rec.count("on_disconnect") == 0 and rec.count("on_publish") == 0
    assert any("4660" in m or "0x1234" in m.lower() for m in warnings_of(log))
    # still usable
    info = client.publish("t", b"p", qos=0)
    assert info.rc == mqtt.MQTT_ERR_SUCCESS
    fake_broker.expect(0x30, WAIT_S)


@pytest.mark.parametrize("version", [5, 4])
def test_unknown_pubrec_answered_with_pubrel(make_client, fake_broker, rec, log, version):
    client = make_client(mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_publish")
    start(client, fake_broker, version=version)
    fake_broker.send(bytes([0x50, 0x02, 0x12, 0x34]))
    pubrel = fake_broker.expect(PUBREL, WAIT_S)
    assert pubrel.decoded.packet_id == 0x1234
    if version == 5:
        assert pubrel.decoded.reason_code == 0x92  # Packet Identifier not found
    else:
        assert bytes(pubrel) == bytes([0x62, 0x02, 0x12, 0x34])
    fake_broker.expect_nothing(0.2)
    assert client.is_connected() and rec.count("on_publish") == 0


@pytest.mark.parametrize("version", [5, 4])
def test_pubrel_without_pubrec_answered_with_pubcomp(make_client, fake_broker, rec, log, version):
    client = make_client(mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker, version=version)
    fake_broker.send(bytes([0x62, 0x02, 0x00, 0x07]))
    pubcomp = fake_broker.expect(PUBCOMP, WAIT_S)
    assert pubcomp.decoded.packet_id == 7
    if version == 5:
        assert pubcomp.decoded.reason_code == 0x92
    else:
        assert bytes(pubcomp) == bytes([0x70, 0x02, 0x00, 0x07])
    fake_broker.expect_nothing(0.2)
    assert client.is_connected() and rec.count("on_message") == 0


# =================================================================================================
# Malformed PUBLISH, topic aliases, SUBACK count
# =================================================================================================

MALFORMED_PUBLISH = {
    "qos3": bytes([0x36]) + _vbi(6) + _s("t") + b"\x00\x01" + b"\x00",
    "invalid-utf8-topic": _frame(0x30, _s(b"a\xff\xfeb") + b"\x00x"),
    "surrogate-topic": _frame(0x30, _s(b"a\xed\xa0\x80") + b"\x00x"),
    "nul-in-topic": _frame(0x30, _s(b"a\x00b") + b"\x00x"),
}


@pytest.mark.parametrize("kind", list(MALFORMED_PUBLISH))
def test_malformed_publish_v5(make_client, fake_broker, rec, log, kind):
    client = make_client()
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker)
    fake_broker.send(MALFORMED_PUBLISH[kind])
    assert_closed_with(client, fake_broker, rec, log, 0x81)
    assert rec.count("on_message") == 0


@pytest.mark.parametrize("kind", ["qos3", "invalid-utf8-topic"])
def test_malformed_publish_v311(make_client, fake_broker, rec, log, kind):
    client = make_client(mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker, version=4)
    data = MALFORMED_PUBLISH[kind]
    # 3.1.1 has no property length byte: drop it (the byte after the packet id / topic).
    body = data[2:]
    if kind == "qos3":
        fake_broker.send(bytes([0x36, 5]) + body[:5])
    else:
        fake_broker.send(_frame(0x30, body[: 2 + 4] + b"x"))
    assert_closed_with(client, fake_broker, rec, log, 0x81, version=4)
    assert rec.count("on_message") == 0


ALIAS_CASES = {
    "never-set": (P.Publish("", b"x", properties=((0x23, 1),)), 0x82),
    "empty-topic-no-alias": (P.Publish("", b"x"), 0x82),
    "alias-zero": (P.Publish("t", b"x", properties=((0x23, 0),)), 0x94),
    "alias-above-max": (P.Publish("t", b"x", properties=((0x23, 3),)), 0x94),
}


@pytest.mark.parametrize("kind", list(ALIAS_CASES))
def test_topic_alias_errors_v5(make_client, fake_broker, rec, log, kind):
    client = make_client()
    rec.attach(client, "on_disconnect", "on_message")
    props = Properties(PacketTypes.CONNECT)
    props.TopicAliasMaximum = 2
    start(client, fake_broker, properties=props)
    packet, code = ALIAS_CASES[kind]
    fake_broker.send(encode(packet, 5))
    assert_closed_with(client, fake_broker, rec, log, code)
    assert rec.count("on_message") == 0


def test_topic_alias_without_maximum_v5(make_client, fake_broker, rec, log):
    client = make_client()  # no TopicAliasMaximum: every alias is invalid
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker)
    fake_broker.send(encode(P.Publish("t", b"x", properties=((0x23, 1),)), 5))
    assert_closed_with(client, fake_broker, rec, log, 0x94)


@pytest.mark.parametrize("version", [5, 4])
@pytest.mark.parametrize("codes", [(0,), (0, 1, 2)], ids=["too-few", "too-many"])
def test_suback_wrong_count(make_client, fake_broker, rec, log, version, codes):
    client = make_client(mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    rec.attach(client, "on_disconnect", "on_subscribe")
    start(client, fake_broker, version=version)
    client.subscribe([("a", 0), ("b", 1)])
    sub = fake_broker.expect(SUBSCRIBE, WAIT_S)
    fake_broker.send(encode(P.Suback(sub.decoded.packet_id, codes), version))
    assert_closed_with(client, fake_broker, rec, log, 0x82, version=version)
    assert rec.count("on_subscribe") == 0


# =================================================================================================
# A flood of PUBLISHes against a slow on_message: TCP flow control, bounded memory
# =================================================================================================


def test_flood_with_slow_on_message_is_flow_controlled(make_client, fake_broker):
    client = make_client()
    delivered = [0]
    release = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        delivered[0] += 1
        release.wait(0.005)

    client.on_message = on_message
    start(client, fake_broker)
    conn = fake_broker.connection
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    one = publish("flood/topic", b"p" * 1000)
    batch = one * 64
    conn.sock.setblocking(False)
    sent = 0
    blocked = False
    tracemalloc.start()
    try:
        deadline = time.monotonic() + 3.0
        pending = b""
        while time.monotonic() < deadline and sent < 200_000:
            if not pending:
                pending = batch
            try:
                n = conn.sock.send(pending)
            except BlockingIOError:
                blocked = True
                break
            pending = pending[n:]
            if not pending:
                sent += 64
        # Give the client time to read whatever it is going to read.
        time.sleep(0.3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        conn.sock.setblocking(True)
    assert blocked, f"the broker sent {sent} messages without blocking"
    backlog = sent - delivered[0]
    # What the client holds decoded but undelivered is bounded by its read size (a few MB),
    # not by what the broker wants to send.
    assert peak < 64 * 1024 * 1024, peak
    assert sent < 20_000, (sent, delivered[0], backlog)
    release.set()
    assert client._thread is not None and client._thread.is_alive()
    client.disconnect()
    client.loop_stop()
    assert client._thread is None
