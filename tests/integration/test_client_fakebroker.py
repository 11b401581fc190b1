"""The client against the scripted fake broker: exact bytes on the wire.

CONNECT for every option in 3.1 / 3.1.1 / 5.0, CONNACK refusals, the 3.1.1 → 3.1 downgrade,
re-sending after a reconnect (DUP, order, packet ids, PUBREL, the in-flight window), incoming
QoS 1/2 flows and manual acknowledgement, keepalive, graceful disconnect, server DISCONNECT and
malformed packets from the broker.

Expected CONNECT bytes are built here by hand (not with the library's encoder), so a codec bug
cannot hide itself. Server packets are encoded with ``mqttclient._core.codec``.
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
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
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    FakeBroker,
    RawPacket,
    connack,
    split_packets,
)
from tests.fakebroker import frame as _frame
from tests.fakebroker import length_prefixed as _s
from tests.fakebroker import vbi as _vbi
from tests.integration.fakeclient import (
    WAIT_S,
    assert_no_new_connection,
    client_factory,
    first_connect,
    start,
)
from tests.integration.helpers import V1, V2, Recorder, wait_until

GENERATED_ID = re.compile(r"[0-9A-Za-z]{22}")

# --- byte builders (independent of the library's encoder) ----------------------------------------


def _props(body: bytes) -> bytes:
    return _vbi(len(body)) + body


def connect_bytes(
    client_id: str,
    *,
    level: int = 4,
    flags: int = 0x02,
    keepalive: int = 60,
    properties: bytes = b"",
    rest: bytes = b"",
    bridge: bool = False,
) -> bytes:
    """CONNECT: protocol name and level, flags, keepalive, (5.0) properties, client id, then
    ``rest`` (will fields, user name, password, already encoded)."""
    name = _s("MQIsdp") if level == 3 else _s("MQTT")
    header = name + bytes([level | (0x80 if bridge else 0), flags]) + keepalive.to_bytes(2, "big")
    if level == 5:
        header += _props(properties)
    return _frame(0x10, header + _s(client_id) + rest)


def server(packet: Any, version: int = 4) -> bytes:
    return encode(packet, version)


def publish_bytes(
    topic: str, payload: bytes, qos: int, packet_id: int = 0, dup: bool = False, version: int = 4
) -> bytes:
    return server(P.Publish(topic, payload, qos, False, dup, packet_id), version)


def puback(packet_id: int) -> bytes:
    return bytes([0x40, 0x02]) + packet_id.to_bytes(2, "big")


def pubrec(packet_id: int) -> bytes:
    return bytes([0x50, 0x02]) + packet_id.to_bytes(2, "big")


def pubrel(packet_id: int) -> bytes:
    return bytes([0x62, 0x02]) + packet_id.to_bytes(2, "big")


def pubcomp(packet_id: int) -> bytes:
    return bytes([0x70, 0x02]) + packet_id.to_bytes(2, "big")


def dup(packet: RawPacket) -> bool:
    return bool(packet.flags & 0x08)


def packet_id(packet: RawPacket) -> int:
    """The packet identifier of a PUBLISH (QoS > 0) or an ack, read from the raw bytes."""
    decoded = packet.decoded
    assert decoded is not None, f"cannot decode {packet!r}"
    return int(decoded.packet_id)


# --- client lifecycle --------------------------------------------------------------------------------


@pytest.fixture
def make_client(fake_broker: FakeBroker) -> Iterator[Callable[..., mqtt.Client]]:
    """``make_client(api=V2, protocol=MQTTv311, **Client kwargs)``; every client made is
    disconnected and its loop stopped after the test."""
    with client_factory(fake_broker) as make:
        yield make


# =================================================================================================
# CONNECT contents
# =================================================================================================


@pytest.mark.parametrize(
    ("protocol", "level"), [(mqtt.MQTTv31, 3), (mqtt.MQTTv311, 4), (mqtt.MQTTv5, 5)]
)
def test_connect_with_client_id(make_client, fake_broker, protocol, level):
    client = make_client(client_id="my-client", protocol=protocol)
    packet = first_connect(client, fake_broker)
    assert bytes(packet) == connect_bytes("my-client", level=level)
    assert packet.decoded.client_id == "my-client"


@pytest.mark.parametrize(("protocol", "level"), [(mqtt.MQTTv311, 4), (mqtt.MQTTv5, 5)])
def test_connect_empty_client_id_is_sent_empty(make_client, fake_broker, protocol, level):
    client = make_client(client_id="", protocol=protocol)
    packet = first_connect(client, fake_broker)
    assert bytes(packet) == connect_bytes("", level=level)


@pytest.mark.parametrize("client_id", ["", None])
def test_connect_v31_generates_a_22_character_id(make_client, fake_broker, client_id):
    client = make_client(client_id=client_id, protocol=mqtt.MQTTv31)
    packet = first_connect(client, fake_broker)
    generated = packet.decoded.client_id
    assert GENERATED_ID.fullmatch(generated), generated
    assert bytes(packet) == connect_bytes(generated, level=3)


@pytest.mark.parametrize(
    ("protocol", "level"), [(mqtt.MQTTv31, 3), (mqtt.MQTTv311, 4)], ids=["v31", "v311"]
)
@pytest.mark.parametrize(("clean", "flags"), [(True, 0x02), (False, 0x00)])
def test_connect_clean_session(make_client, fake_broker, protocol, level, clean, flags):
    client = make_client(protocol=protocol, clean_session=clean)
    packet = first_connect(client, fake_broker)
    assert bytes(packet) == connect_bytes("cid", level=level, flags=flags)


@pytest.mark.parametrize(
    ("clean_start", "flags"),
    [(True, 0x02), (False, 0x00), (mqtt.MQTT_CLEAN_START_FIRST_ONLY, 0x02)],
    ids=["true", "false", "first-only"],
)
def test_connect_clean_start_v5(make_client, fake_broker, clean_start, flags):
    client = make_client(protocol=mqtt.MQTTv5)
    packet = first_connect(client, fake_broker, clean_start=clean_start)
    assert bytes(packet) == connect_bytes("cid", level=5, flags=flags)


@pytest.mark.parametrize(
    ("clean_start", "reconnect_flags"),
    [(True, 0x02), (False, 0x00), (mqtt.MQTT_CLEAN_START_FIRST_ONLY, 0x00)],
    ids=["true", "false", "first-only"],
)
def test_clean_start_on_automatic_reconnect_v5(
    make_client, fake_broker, clean_start, reconnect_flags
):
    """FIRST_ONLY: clean on the first connect after connect(), not on automatic reconnects;
    a new connect() call makes the next CONNECT clean again."""
    client = make_client(protocol=mqtt.MQTTv5)
    first = start(client, fake_broker, version=5, clean_start=clean_start)
    assert first[9] == (0x00 if clean_start is False else 0x02)
    fake_broker.close_client()
    again = fake_broker.expect(CONNECT, WAIT_S)
    assert bytes(again) == connect_bytes("cid", level=5, flags=reconnect_flags)
    # Session Present only when the CONNECT was not clean ([MQTT-3.2.2-2], [MQTT-3.2.2-4]).
    fake_broker.send(connack(reconnect_flags == 0x00, 0, 5))
    wait_until(client.is_connected, WAIT_S)
    # A new connect() starts over.
    client.disconnect()
    fake_broker.expect(DISCONNECT, WAIT_S)
    fake_broker.close_client()
    client.loop_stop()
    client.connect("127.0.0.1", fake_broker.port, clean_start=clean_start)
    fresh = fake_broker.expect(CONNECT, WAIT_S)
    assert fresh[9] == (0x00 if clean_start is False else 0x02)


def test_clean_start_first_only_stays_clean_until_a_connack_succeeds(make_client, fake_broker):
    """A refused or unanswered first attempt does not count as "the first connect"."""
    client = make_client(protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    assert fake_broker.expect(CONNECT, WAIT_S)[9] == 0x02
    fake_broker.send(connack(False, 0x88, 5))  # Server unavailable
    assert fake_broker.expect(CONNECT, WAIT_S)[9] == 0x02
    fake_broker.send(connack(False, 0, 5))
    wait_until(client.is_connected, WAIT_S)
    fake_broker.close_client()
    assert fake_broker.expect(CONNECT, WAIT_S)[9] == 0x00


@pytest.mark.parametrize("keepalive", [0, 1, 300, 65535])
@pytest.mark.parametrize(("protocol", "level"), [(mqtt.MQTTv311, 4), (mqtt.MQTTv5, 5)])
def test_connect_keepalive(make_client, fake_broker, keepalive, protocol, level):
    client = make_client(protocol=protocol)
    packet = first_connect(client, fake_broker, keepalive=keepalive)
    assert bytes(packet) == connect_bytes("cid", level=level, keepalive=keepalive)


@pytest.mark.parametrize(
    ("protocol", "level"), [(mqtt.MQTTv31, 3), (mqtt.MQTTv311, 4), (mqtt.MQTTv5, 5)]
)
@pytest.mark.parametrize(
    ("username", "password", "flags", "rest"),
    [
        ("user", None, 0x82, _s("user")),
        ("user", "secret", 0xC2, _s("user") + _s("secret")),
        ("user", b"\x00\xffbin", 0xC2, _s("user") + _s(b"\x00\xffbin")),
        ("", "", 0xC2, _s("") + _s("")),
        ("üsér", "pässwörd", 0xC2, _s("üsér") + _s("pässwörd")),
    ],
    ids=["user-only", "user-password", "binary-password", "empty-strings", "non-ascii"],
)
def test_connect_credentials(
    make_client, fake_broker, protocol, level, username, password, flags, rest
):
    client = make_client(protocol=protocol)
    client.username_pw_set(username, password)
    packet = first_connect(client, fake_broker)
    assert bytes(packet) == connect_bytes("cid", level=level, flags=flags, rest=rest)


def test_connect_password_without_username_v5(make_client, fake_broker):
    """MQTT 5.0 §3.1.2.9 allows a password alone (flags: password 0x40 + clean 0x02)."""
    client = make_client(protocol=mqtt.MQTTv5)
    client.username_pw_set(None, "token")
    packet = first_connect(client, fake_broker)
    assert bytes(packet) == connect_bytes("cid", level=5, flags=0x42, rest=_s("token"))
    assert packet.decoded.username is None
    assert packet.decoded.password == b"token"


def test_connect_password_without_username_v311_is_not_sent(make_client, fake_broker):
    """3.1.1 forbids a password without a user name [MQTT-3.1.2-22]; paho drops it (it only
    sends the password together with a user name). connect() must not fail or wedge."""
    client = make_client()
    client.username_pw_set(None, "token")
    packet = first_connect(client, fake_broker)
    assert bytes(packet) == connect_bytes("cid", level=4, flags=0x02)


@pytest.mark.parametrize(
    ("payload", "wire"),
    [
        (b"bytes\x00\xff", b"bytes\x00\xff"),
        ("text ü", "text ü".encode()),
        (bytearray(b"ba"), b"ba"),
        (42, b"42"),
        (1.5, b"1.5"),
        (None, b""),
    ],
    ids=["bytes", "str", "bytearray", "int", "float", "none"],
)
def test_connect_will_payload_types(make_client, fake_broker, payload, wire):
    client = make_client()
    client.will_set("will/t", payload)
    packet = first_connect(client, fake_broker)
    rest = _s("will/t") + _s(wire)
    assert bytes(packet) == connect_bytes("cid", flags=0x06, rest=rest)


@pytest.mark.parametrize(
    ("protocol", "level"), [(mqtt.MQTTv31, 3), (mqtt.MQTTv311, 4), (mqtt.MQTTv5, 5)]
)
@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("retain", [False, True])
def test_connect_will_qos_retain(make_client, fake_broker, protocol, level, qos, retain):
    client = make_client(protocol=protocol)
    client.will_set("will/t", b"gone", qos=qos, retain=retain)
    client.username_pw_set("u", "p")
    packet = first_connect(client, fake_broker)
    flags = 0xC0 | (0x20 if retain else 0) | (qos << 3) | 0x04 | 0x02
    will_props = _props(b"") if level == 5 else b""
    rest = will_props + _s("will/t") + _s(b"gone") + _s("u") + _s("p")
    assert bytes(packet) == connect_bytes("cid", level=level, flags=flags, rest=rest)


def test_connect_will_properties_v5(make_client, fake_broker):
    client = make_client(protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.WILLMESSAGE)
    props.WillDelayInterval = 30
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 3600
    props.ContentType = "text/plain"
    props.ResponseTopic = "reply/here"
    props.CorrelationData = b"\x01\x02"
    props.UserProperty = ("k", "v")
    client.will_set("will/t", "bye", qos=1, retain=True, properties=props)
    packet = first_connect(client, fake_broker)
    will_props = (
        b"\x01\x01"
        + b"\x02"
        + (3600).to_bytes(4, "big")
        + b"\x03"
        + _s("text/plain")
        + b"\x08"
        + _s("reply/here")
        + b"\x09"
        + _s(b"\x01\x02")
        + b"\x18"
        + (30).to_bytes(4, "big")
        + b"\x26"
        + _s("k")
        + _s("v")
    )
    rest = _props(will_props) + _s("will/t") + _s(b"bye")
    assert bytes(packet) == connect_bytes("cid", level=5, flags=0x2E, rest=rest)
    will = packet.decoded.will
    assert will.properties == (
        (0x01, 1),
        (0x02, 3600),
        (0x03, "text/plain"),
        (0x08, "reply/here"),
        (0x09, b"\x01\x02"),
        (0x18, 30),
        (0x26, ("k", "v")),
    )


def test_connect_properties_v5(make_client, fake_broker):
    client = make_client(protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF
    props.ReceiveMaximum = 10
    props.MaximumPacketSize = 1024
    props.TopicAliasMaximum = 5
    props.RequestResponseInformation = 1
    props.RequestProblemInformation = 0
    props.UserProperty = [("a", "1"), ("a", "2")]
    packet = first_connect(client, fake_broker, properties=props)
    body = (
        b"\x11\xff\xff\xff\xff"
        + b"\x17\x00"
        + b"\x19\x01"
        + b"\x21\x00\x0a"
        + b"\x22\x00\x05"
        + b"\x26"
        + _s("a")
        + _s("1")
        + b"\x26"
        + _s("a")
        + _s("2")
        + b"\x27"
        + (1024).to_bytes(4, "big")
    )
    assert bytes(packet) == connect_bytes("cid", level=5, properties=body)


@pytest.mark.parametrize(
    ("protocol", "level"), [(mqtt.MQTTv31, 3), (mqtt.MQTTv311, 4), (mqtt.MQTTv5, 5)]
)
def test_connect_bridge_mode(make_client, fake_broker, protocol, level):
    client = make_client(protocol=protocol)
    client.enable_bridge_mode()
    packet = first_connect(client, fake_broker)
    assert packet[2 + 2 + (6 if level == 3 else 4)] == 0x80 | level
    assert bytes(packet) == connect_bytes("cid", level=level, bridge=True)


def test_connect_all_options_v311(make_client, fake_broker):
    client = make_client(client_id="full", clean_session=False)
    client.will_set("w", b"x", qos=2, retain=False)
    client.username_pw_set("u", "p")
    client.enable_bridge_mode()
    packet = first_connect(client, fake_broker, keepalive=17)
    rest = _s("w") + _s(b"x") + _s("u") + _s("p")
    expected = connect_bytes("full", flags=0xD4, keepalive=17, rest=rest, bridge=True)
    assert bytes(packet) == expected


_PAHO_SCENARIOS: dict[str, tuple[dict[str, Any], Callable[[Any], None], dict[str, Any]]] = {
    "v311-plain": ({}, lambda c: None, {}),
    "v311-persistent": ({"clean_session": False}, lambda c: None, {"keepalive": 5}),
    "v311-credentials": ({}, lambda c: c.username_pw_set("u", "p"), {}),
    "v311-will": ({}, lambda c: c.will_set("w/t", "bye", 1, True), {}),
    "v311-bridge": ({}, lambda c: c.enable_bridge_mode(), {}),
    "v5-plain": ({"protocol": mqtt.MQTTv5}, lambda c: None, {}),
    "v5-not-clean": ({"protocol": mqtt.MQTTv5}, lambda c: None, {"clean_start": False}),
    "v5-will": ({"protocol": mqtt.MQTTv5}, lambda c: c.will_set("w/t", b"\x00", 2), {}),
    "v5-credentials": ({"protocol": mqtt.MQTTv5}, lambda c: c.username_pw_set("u", "p"), {}),
}


@pytest.mark.parametrize("scenario", list(_PAHO_SCENARIOS))
def test_connect_bytes_match_paho(make_client, fake_broker, scenario):
    """The same configuration gives the same CONNECT as paho-mqtt 2.x."""
    paho = pytest.importorskip("paho.mqtt.client")
    kwargs, configure, connect_kwargs = _PAHO_SCENARIOS[scenario]
    ours = make_client(**kwargs)
    configure(ours)
    our_connect = first_connect(ours, fake_broker, **connect_kwargs)
    fake_broker.close_client()
    ours.disconnect()

    theirs = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="cid", **kwargs)
    try:
        configure(theirs)
        theirs.connect("127.0.0.1", fake_broker.port, **connect_kwargs)
        their_connect = fake_broker.expect(CONNECT, WAIT_S)
    finally:
        fake_broker.close_client()
        theirs.loop(0.5)  # reads EOF and closes its socket
        if theirs.socket() is not None:
            theirs.socket().close()
    assert bytes(our_connect) == bytes(their_connect)


# =================================================================================================
# CONNACK refusals
# =================================================================================================


def _refusal_client(make_client, api, protocol):
    rec = Recorder()
    client = make_client(api, protocol=protocol, reconnect_on_failure=False)
    rec.attach(client, "on_connect", "on_disconnect", "on_connect_fail")
    return client, rec


def _refuse(client, broker, code, version):
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    broker.expect(CONNECT, WAIT_S)
    broker.send(connack(False, code, version))


V3_REFUSALS = [1, 2, 3, 4, 5]
V5_REFUSALS = [0x80, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8A, 0x8C, 0x97, 0x9F]
V3_TO_V5 = {1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87}


@pytest.mark.parametrize("api", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("code", V3_REFUSALS)
def test_refused_v311(make_client, fake_broker, api, code):
    client, rec = _refusal_client(make_client, api, mqtt.MQTTv311)
    _refuse(client, fake_broker, code, 4)
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    fake_broker.wait_closed(WAIT_S)
    assert not client.is_connected()
    [connect_args] = rec.get("on_connect")
    [disconnect_args] = rec.get("on_disconnect")
    if api == V1:
        assert connect_args == ({"session present": 0}, code)
        assert disconnect_args == (mqtt.MQTT_ERR_CONN_REFUSED,)
    else:
        flags, reason, props = connect_args
        assert flags == mqtt.ConnectFlags(False)
        assert isinstance(reason, ReasonCode)
        assert reason == V3_TO_V5[code] and reason.packetType == PacketTypes.CONNACK
        assert reason.is_failure
        assert isinstance(props, Properties) and props.isEmpty()
        dflags, dreason, dprops = disconnect_args
        assert dflags == mqtt.DisconnectFlags(False)
        assert isinstance(dreason, ReasonCode) and dreason.is_failure
        assert dreason == mqtt.convert_disconnect_error_code_to_reason_code(
            mqtt.MQTT_ERR_CONN_REFUSED
        )
        assert isinstance(dprops, Properties)
    # reconnect_on_failure=False: nothing retries, not even the 3.1 downgrade.
    assert_no_new_connection(fake_broker)
    assert rec.count("on_connect") == 1 and rec.count("on_connect_fail") == 0
    assert not client.is_connected()


@pytest.mark.parametrize("api", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("code", V5_REFUSALS, ids=[f"0x{c:02x}" for c in V5_REFUSALS])
def test_refused_v5(make_client, fake_broker, api, code):
    client, rec = _refusal_client(make_client, api, mqtt.MQTTv5)
    _refuse(client, fake_broker, code, 5)
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    fake_broker.wait_closed(WAIT_S)
    assert not client.is_connected()
    [connect_args] = rec.get("on_connect")
    [disconnect_args] = rec.get("on_disconnect")
    flags, reason, props = connect_args
    if api == V1:
        assert flags == {"session present": 0}
    else:
        assert flags == mqtt.ConnectFlags(False)
    assert isinstance(reason, ReasonCode) and reason.packetType == PacketTypes.CONNACK
    assert reason == code and reason.is_failure
    assert isinstance(props, Properties)
    if api == V1:
        assert disconnect_args == (mqtt.MQTT_ERR_CONN_REFUSED, None)
    else:
        dflags, dreason, dprops = disconnect_args
        assert dflags == mqtt.DisconnectFlags(False)
        assert isinstance(dreason, ReasonCode) and dreason.is_failure
        assert isinstance(dprops, Properties)
    assert_no_new_connection(fake_broker)
    assert rec.count("on_connect") == 1


def test_refused_connack_with_reason_string_v5(make_client, fake_broker):
    client, rec = _refusal_client(make_client, V2, mqtt.MQTTv5)
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(server(P.Connack(False, 0x87, ((0x1F, "go away"),)), 5))
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    _, reason, props = rec.get("on_connect")[0]
    assert reason == 0x87 and str(reason) == "Not authorized"
    assert props.ReasonString == "go away"


@pytest.mark.parametrize(
    ("protocol", "code", "version"), [(mqtt.MQTTv311, 5, 4), (mqtt.MQTTv5, 0x87, 5)]
)
def test_refused_with_reconnect_on_failure_retries(
    make_client, fake_broker, protocol, code, version
):
    rec = Recorder()
    client = make_client(protocol=protocol)
    rec.attach(client, "on_connect", "on_disconnect")
    _refuse(client, fake_broker, code, version)
    second = fake_broker.expect(CONNECT, WAIT_S)  # after the backoff
    assert second.decoded.client_id == "cid"
    fake_broker.send(connack(False, 0, version))
    wait_until(client.is_connected, WAIT_S)
    assert rec.count("on_connect") == 2 and rec.count("on_disconnect") == 1


def test_refused_without_loop_thread(make_client, fake_broker):
    """loop() alone: on_connect gets the refusal, then on_disconnect; no retry."""
    rec = Recorder()
    client = make_client(V1)
    rec.attach(client, "on_connect", "on_disconnect")
    client.connect("127.0.0.1", fake_broker.port)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack(False, 4))
    deadline = time.monotonic() + WAIT_S
    while rec.count("on_disconnect") == 0 and time.monotonic() < deadline:
        client.loop(0.1)
    assert rec.get("on_connect") == [({"session present": 0}, 4)]
    assert rec.get("on_disconnect") == [(mqtt.MQTT_ERR_CONN_REFUSED,)]
    assert not client.is_connected()


# =================================================================================================
# 3.1.1 → 3.1 downgrade and rejected empty client id
# =================================================================================================


def test_downgrade_to_v31_on_protocol_refusal(make_client, fake_broker):
    client = make_client(client_id="dg")
    calls: list[str] = []
    client.on_connect = lambda *a: calls.append("connect")
    client.on_disconnect = lambda *a: calls.append("disconnect")
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    assert bytes(fake_broker.expect(CONNECT, WAIT_S)) == connect_bytes("dg", level=4)
    fake_broker.send(connack(False, 1))
    retry = fake_broker.expect(CONNECT, WAIT_S)
    assert bytes(retry) == connect_bytes("dg", level=3)
    fake_broker.send(connack(False, 0))
    wait_until(client.is_connected, WAIT_S)
    assert client.protocol == mqtt.MQTTv31
    # As paho: the refused attempt is retried silently; on_connect fires once, for the success.
    wait_until(lambda: calls == ["connect"], WAIT_S)


def _empty_id_refused_then_generated(
    client: mqtt.Client, broker: FakeBroker, code: int, retry_level: int
) -> None:
    """A 3.1.1 CONNECT with an empty client id, refused with CONNACK ``code``: the retry (at
    protocol level ``retry_level``) carries a generated id, and is accepted."""
    assert bytes(start(client, broker, answer=False)) == connect_bytes("", level=4)
    broker.send(connack(False, code))
    retry = broker.expect(CONNECT, WAIT_S)
    generated = retry.decoded.client_id
    assert GENERATED_ID.fullmatch(generated), generated
    assert bytes(retry) == connect_bytes(generated, level=retry_level)
    broker.send(connack(False, 0))
    wait_until(client.is_connected, WAIT_S)


def test_downgrade_to_v31_with_empty_client_id_generates_one(make_client, fake_broker):
    _empty_id_refused_then_generated(make_client(client_id=""), fake_broker, 1, retry_level=3)


def test_rejected_empty_client_id_retries_with_random_id(make_client, fake_broker):
    _empty_id_refused_then_generated(make_client(client_id=""), fake_broker, 2, retry_level=4)


# =================================================================================================
# Re-sending after a reconnect
# =================================================================================================


def test_qos1_resent_with_dup_in_order_after_reconnect(make_client, fake_broker):
    client = make_client()
    start(client, fake_broker)
    infos = [client.publish("r/1", f"m{i}", qos=1) for i in range(3)]
    first = [fake_broker.expect(PUBLISH, WAIT_S) for _ in infos]
    assert [packet_id(p) for p in first] == [info.mid for info in infos]
    assert not any(dup(p) for p in first)
    fake_broker.close_client()  # no PUBACK

    fake_broker.expect(CONNECT, WAIT_S)
    # Published while the new connection waits for CONNACK: queued behind the replay.
    late = [client.publish("r/1", f"late{i}", qos=1) for i in range(2)]
    fake_broker.expect_nothing(0.2)
    fake_broker.send(connack(True))
    replay = [fake_broker.expect(PUBLISH, WAIT_S) for _ in infos]
    assert [packet_id(p) for p in replay] == [info.mid for info in infos]
    assert all(dup(p) for p in replay)
    assert [p.decoded.payload for p in replay] == [b"m0", b"m1", b"m2"]
    # Apart from DUP the bytes are the same packet.
    assert [bytes([p[0] & ~0x08]) + p[1:] for p in replay] == [bytes(p) for p in first]
    new = [fake_broker.expect(PUBLISH, WAIT_S) for _ in late]
    assert [packet_id(p) for p in new] == [info.mid for info in late]
    assert not any(dup(p) for p in new)
    for p in replay + new:
        fake_broker.send(puback(packet_id(p)))
    wait_until(lambda: all(i.is_published() for i in infos + late), WAIT_S)


def test_qos2_resent_after_reconnect_publish_or_pubrel(make_client, fake_broker):
    rec = Recorder()
    client = make_client()
    rec.attach(client, "on_publish")
    start(client, fake_broker)
    a = client.publish("r/2", b"a", qos=2)
    b = client.publish("r/2", b"b", qos=2)
    pa = fake_broker.expect(PUBLISH, WAIT_S)
    pb = fake_broker.expect(PUBLISH, WAIT_S)
    assert (packet_id(pa), packet_id(pb)) == (a.mid, b.mid)
    fake_broker.send(pubrec(a.mid))
    rel = fake_broker.expect(PUBREL, WAIT_S)
    assert bytes(rel) == pubrel(a.mid)
    fake_broker.close_client()  # no PUBCOMP for a, no PUBREC for b

    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack(True))
    # a is past PUBREC: only its PUBREL is re-sent, never the PUBLISH [MQTT-4.3.3-6].
    assert bytes(fake_broker.expect(PUBREL, WAIT_S)) == pubrel(a.mid)
    again = fake_broker.expect(PUBLISH, WAIT_S)
    assert packet_id(again) == b.mid and dup(again) and again.decoded.payload == b"b"
    fake_broker.expect_nothing(0.2)
    fake_broker.send(pubcomp(a.mid))
    fake_broker.send(pubrec(b.mid))
    assert bytes(fake_broker.expect(PUBREL, WAIT_S)) == pubrel(b.mid)
    fake_broker.send(pubcomp(b.mid))
    wait_until(lambda: a.is_published() and b.is_published(), WAIT_S)
    assert sorted(args[0] for args in rec.get("on_publish")) == sorted([a.mid, b.mid])


def test_replay_respects_max_inflight(make_client, fake_broker):
    client = make_client()
    client.max_inflight_messages_set(2)
    start(client, fake_broker)
    infos = [client.publish("w", f"{i}", qos=1) for i in range(5)]
    mids = [info.mid for info in infos]
    first = [fake_broker.expect(PUBLISH, WAIT_S) for _ in range(2)]
    assert [packet_id(p) for p in first] == mids[:2]
    fake_broker.expect_nothing(0.3)
    fake_broker.close_client()

    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack(True))
    replay = [fake_broker.expect(PUBLISH, WAIT_S) for _ in range(2)]
    assert [packet_id(p) for p in replay] == mids[:2] and all(dup(p) for p in replay)
    fake_broker.expect_nothing(0.3)  # the window (2) is full with the replay
    outstanding = list(mids[:2])
    for expected in mids[2:]:
        fake_broker.send(puback(outstanding.pop(0)))
        nxt = fake_broker.expect(PUBLISH, WAIT_S)
        assert packet_id(nxt) == expected and not dup(nxt)
        outstanding.append(expected)
        assert len(outstanding) <= 2
        fake_broker.expect_nothing(0.1)
    for mid in outstanding:
        fake_broker.send(puback(mid))
    wait_until(lambda: all(i.is_published() for i in infos), WAIT_S)


def test_publish_while_offline_is_sent_after_connack(make_client, fake_broker):
    client = make_client()
    info = client.publish("off/line", b"x", qos=1)
    assert info.rc == mqtt.MQTT_ERR_NO_CONN
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    packet = fake_broker.expect(PUBLISH, WAIT_S)
    assert packet_id(packet) == info.mid and not dup(packet)
    fake_broker.send(puback(info.mid))
    info.wait_for_publish(WAIT_S)
    assert info.is_published()


# =================================================================================================
# Incoming QoS 1 / 2 and manual acknowledgement
# =================================================================================================


def test_incoming_qos1_puback_after_on_message_returns(make_client, fake_broker):
    client = make_client()
    inside = threading.Event()
    release = threading.Event()
    got: list[mqtt.MQTTMessage] = []

    def on_message(c, userdata, msg):
        got.append(msg)
        inside.set()
        release.wait(WAIT_S)

    client.on_message = on_message
    start(client, fake_broker)
    fake_broker.send(publish_bytes("in/1", b"p", 1, 7))
    assert inside.wait(WAIT_S)
    fake_broker.expect_nothing(0.3)  # no PUBACK while on_message runs
    release.set()
    assert bytes(fake_broker.expect(PUBACK, WAIT_S)) == puback(7)
    assert got[0].mid == 7 and got[0].qos == 1 and got[0].payload == b"p"


def test_incoming_qos2_pubrec_then_delivery_on_pubrel(make_client, fake_broker):
    rec = Recorder()
    client = make_client()
    rec.attach(client, "on_message")
    start(client, fake_broker)
    fake_broker.send(publish_bytes("in/2", b"q", 2, 9))
    assert bytes(fake_broker.expect(PUBREC, WAIT_S)) == pubrec(9)
    # A duplicate before PUBREL is answered again and never delivered twice.
    fake_broker.send(publish_bytes("in/2", b"q", 2, 9, dup=True))
    assert bytes(fake_broker.expect(PUBREC, WAIT_S)) == pubrec(9)
    fake_broker.expect_nothing(0.2)
    assert rec.count("on_message") == 0  # delivered on PUBREL (paho's order)
    fake_broker.send(pubrel(9))
    assert bytes(fake_broker.expect(PUBCOMP, WAIT_S)) == pubcomp(9)
    wait_until(lambda: rec.count("on_message") == 1, WAIT_S)
    msg = rec.get("on_message")[0][0]
    assert (msg.topic, msg.payload, msg.qos, msg.mid) == ("in/2", b"q", 2, 9)
    # A late duplicate PUBREL is still answered.
    fake_broker.send(pubrel(9))
    fake_broker.expect(PUBCOMP, WAIT_S)
    fake_broker.expect_nothing(0.2)
    assert rec.count("on_message") == 1


def test_incoming_qos2_pubcomp_after_on_message_returns(make_client, fake_broker):
    client = make_client()
    inside = threading.Event()
    release = threading.Event()

    def on_message(c, userdata, msg):
        inside.set()
        release.wait(WAIT_S)

    client.on_message = on_message
    start(client, fake_broker)
    fake_broker.send(publish_bytes("in/2", b"q", 2, 3))
    fake_broker.expect(PUBREC, WAIT_S)
    fake_broker.send(pubrel(3))
    assert inside.wait(WAIT_S)
    fake_broker.expect_nothing(0.3)
    release.set()
    assert bytes(fake_broker.expect(PUBCOMP, WAIT_S)) == pubcomp(3)


def test_incoming_acks_keep_arrival_order(make_client, fake_broker):
    client = make_client()
    start(client, fake_broker)
    fake_broker.send(b"".join(publish_bytes("o", b"", 1, i) for i in (5, 3, 9, 1)))
    acks = [packet_id(fake_broker.expect(PUBACK, WAIT_S)) for _ in range(4)]
    assert acks == [5, 3, 9, 1]


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
def test_manual_ack(make_client, fake_broker, protocol):
    version = 5 if protocol == mqtt.MQTTv5 else 4
    rec = Recorder()
    client = make_client(protocol=protocol, manual_ack=True)
    rec.attach(client, "on_message")
    start(client, fake_broker, version=version)

    fake_broker.send(publish_bytes("m/1", b"one", 1, 11, version=version))
    wait_until(lambda: rec.count("on_message") == 1, WAIT_S)
    fake_broker.expect_nothing(0.3)  # no PUBACK until ack()
    msg1 = rec.get("on_message")[0][0]
    assert client.ack(msg1.mid, msg1.qos) == mqtt.MQTT_ERR_SUCCESS
    assert bytes(fake_broker.expect(PUBACK, WAIT_S)) == puback(11)

    fake_broker.send(publish_bytes("m/2", b"two", 2, 12, version=version))
    assert bytes(fake_broker.expect(PUBREC, WAIT_S)) == pubrec(12)  # PUBREC stays automatic
    fake_broker.send(pubrel(12))
    wait_until(lambda: rec.count("on_message") == 2, WAIT_S)
    fake_broker.expect_nothing(0.3)  # no PUBCOMP until ack()
    msg2 = rec.get("on_message")[1][0]
    client.ack(msg2.mid, msg2.qos)
    assert bytes(fake_broker.expect(PUBCOMP, WAIT_S)) == pubcomp(12)
    fake_broker.expect_nothing(0.2)


def test_manual_ack_from_another_thread_in_order(make_client, fake_broker):
    client = make_client(manual_ack=True)
    received: list[mqtt.MQTTMessage] = []
    client.on_message = lambda c, u, m: received.append(m)
    start(client, fake_broker)
    fake_broker.send(b"".join(publish_bytes("m", b"", 1, i) for i in (1, 2, 3)))
    wait_until(lambda: len(received) == 3, WAIT_S)
    for msg in reversed(received):
        client.ack(msg.mid, msg.qos)
    assert [packet_id(fake_broker.expect(PUBACK, WAIT_S)) for _ in range(3)] == [3, 2, 1]


# =================================================================================================
# Keepalive
# =================================================================================================


def test_pingreq_when_idle(make_client, fake_broker):
    client = make_client()
    start(client, fake_broker, keepalive=1)
    begin = time.monotonic()
    assert bytes(fake_broker.expect(PINGREQ, WAIT_S)) == b"\xc0\x00"
    assert time.monotonic() - begin < 5.0
    fake_broker.send(b"\xd0\x00")
    assert bytes(fake_broker.expect(PINGREQ, WAIT_S)) == b"\xc0\x00"
    fake_broker.send(b"\xd0\x00")
    assert client.is_connected()


@pytest.mark.parametrize(
    ("api", "protocol"),
    [(V1, mqtt.MQTTv311), (V2, mqtt.MQTTv311), (V1, mqtt.MQTTv5), (V2, mqtt.MQTTv5)],
    ids=["v1-v311", "v2-v311", "v1-v5", "v2-v5"],
)
def test_unanswered_pingreq_closes_with_keepalive_error(make_client, fake_broker, api, protocol):
    version = 5 if protocol == mqtt.MQTTv5 else 4
    rec = Recorder()
    client = make_client(api, protocol=protocol)
    rec.attach(client, "on_disconnect")
    start(client, fake_broker, version=version, keepalive=1)
    connected_at = time.monotonic()
    fake_broker.expect(PINGREQ, WAIT_S)  # never answered
    fake_broker.wait_closed(WAIT_S)
    wait_until(lambda: rec.count("on_disconnect") >= 1, WAIT_S)
    assert time.monotonic() - connected_at < 5.0
    args = rec.get("on_disconnect")[0]
    if api == V1 and protocol == mqtt.MQTTv311:
        assert args == (mqtt.MQTT_ERR_KEEPALIVE,)
    elif api == V1:
        assert args == (mqtt.MQTT_ERR_KEEPALIVE, None)
    else:
        flags, reason, _ = args
        assert flags == mqtt.DisconnectFlags(False)
        assert reason == mqtt.convert_disconnect_error_code_to_reason_code(mqtt.MQTT_ERR_KEEPALIVE)
        assert reason == 0x8D
    # The loop thread reconnects.
    fake_broker.expect(CONNECT, WAIT_S)


def test_keepalive_zero_sends_no_pingreq(make_client, fake_broker):
    client = make_client()
    start(client, fake_broker, keepalive=0)
    fake_broker.expect_nothing(1.5)
    assert client.is_connected()


# =================================================================================================
# Graceful disconnect
# =================================================================================================


def _read_until_eof(sock: socket.socket, timeout_s: float) -> tuple[bytes, str]:
    """Read everything until the peer closes; return the bytes and "fin" or "reset"."""
    data = bytearray()
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(data), "timeout"
        readable, _, _ = select.select([sock], [], [], remaining)
        if not readable:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data), "reset"
        if not chunk:
            return bytes(data), "fin"
        data += chunk


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("loop", [True, False], ids=["loop-thread", "no-loop"])
def test_disconnect_delivers_everything_then_fin(make_client, fake_broker, qos, loop):
    count = 300
    client = make_client()
    client.max_inflight_messages_set(0)  # no window: every QoS 1 PUBLISH goes out at once
    client.connect("127.0.0.1", fake_broker.port)
    connection = fake_broker.accept(WAIT_S)
    result: dict[str, Any] = {}

    def broker_side() -> None:
        buffer = bytearray()
        # CONNECT first, then CONNACK, then read to the end.
        deadline = time.monotonic() + WAIT_S
        while not split_packets(bytearray(buffer)) and time.monotonic() < deadline:
            readable, _, _ = select.select([connection.sock], [], [], 0.1)
            if readable:
                buffer += connection.sock.recv(65536)
        connection.sock.sendall(connack())
        rest, how = _read_until_eof(connection.sock, WAIT_S * 2)
        result["data"] = bytes(buffer) + rest
        result["how"] = how
        connection.close()

    reader = threading.Thread(target=broker_side)
    reader.start()
    try:
        if loop:
            client.loop_start()
            wait_until(client.is_connected, WAIT_S)
        payload = b"x" * 1000

        def publisher() -> None:
            for i in range(count):
                client.publish("bulk", payload + str(i).encode(), qos=qos)
            client.disconnect()

        worker = threading.Thread(target=publisher)
        worker.start()
        worker.join(WAIT_S * 2)
        assert not worker.is_alive()
    finally:
        reader.join(WAIT_S * 3)
    assert result.get("how") == "fin", result.get("how")
    packets = [RawPacket(raw) for raw in split_packets(bytearray(result["data"]))]
    kinds = [p.packet_type for p in packets]
    assert kinds[0] == CONNECT
    assert kinds[-1] == DISCONNECT
    publishes = [p for p in packets if p.packet_type == PUBLISH]
    assert len(publishes) == count
    assert [p.decoded.payload for p in publishes] == [
        payload + str(i).encode() for i in range(count)
    ]
    assert kinds == [CONNECT] + [PUBLISH] * count + [DISCONNECT]
    assert bytes(packets[-1]) == b"\xe0\x00"


# =================================================================================================
# Server DISCONNECT (5.0) and malformed packets from the broker
# =================================================================================================


@pytest.mark.parametrize("api", [V1, V2], ids=["v1", "v2"])
def test_server_disconnect_v5(make_client, fake_broker, api):
    rec = Recorder()
    client = make_client(api, protocol=mqtt.MQTTv5)
    rec.attach(client, "on_disconnect")
    start(client, fake_broker, version=5)
    fake_broker.send(server(P.Disconnect(0x8B, ((0x1F, "shutting down"), (0x26, ("k", "v")))), 5))
    assert fake_broker.wait_closed(WAIT_S) == []  # the client sends nothing back
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    args = rec.get("on_disconnect")[0]
    if api == V1:
        reason, props = args
    else:
        flags, reason, props = args
        assert flags == mqtt.DisconnectFlags(True)
    assert isinstance(reason, ReasonCode)
    assert reason.packetType == PacketTypes.DISCONNECT
    assert reason == 0x8B and str(reason) == "Server shutting down"
    assert isinstance(props, Properties)
    assert props.ReasonString == "shutting down"
    assert props.UserProperty == [("k", "v")]
    assert not client.is_connected()
    fake_broker.expect(CONNECT, WAIT_S)  # the loop reconnects


MALFORMED = {
    "publish-qos3": bytes([0x36, 0x05]) + _s("t") + b"\x00\x01",
    "bad-remaining-length": bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    "puback-bad-flags": bytes([0x41, 0x02, 0x00, 0x01]),
}


@pytest.mark.parametrize("api", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_packet_v5_disconnect_0x81_and_reconnect(make_client, fake_broker, api, kind):
    rec = Recorder()
    client = make_client(api, protocol=mqtt.MQTTv5)
    rec.attach(client, "on_disconnect", "on_message")
    start(client, fake_broker, version=5)
    thread = client._thread
    fake_broker.send(MALFORMED[kind])
    disconnect = fake_broker.expect(DISCONNECT, WAIT_S)
    assert disconnect.decoded.reason_code == 0x81
    fake_broker.wait_closed(WAIT_S)
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    args = rec.get("on_disconnect")[0]
    if api == V1:
        assert args == (mqtt.MQTT_ERR_PROTOCOL, None)
    else:
        flags, reason, _ = args
        assert flags == mqtt.DisconnectFlags(False)
        assert reason == 0x81 and str(reason) == "Malformed packet"
    assert rec.count("on_message") == 0
    assert thread is not None and thread.is_alive()
    fake_broker.expect(CONNECT, WAIT_S)  # the loop thread survives and reconnects
    fake_broker.send(connack(False, 0, 5))
    wait_until(client.is_connected, WAIT_S)


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_packet_v311_closes_and_reconnects(make_client, fake_broker, kind):
    rec = Recorder()
    client = make_client(V1)
    rec.attach(client, "on_disconnect")
    start(client, fake_broker)
    fake_broker.send(MALFORMED[kind])
    assert fake_broker.wait_closed(WAIT_S) == []  # 3.x: close without DISCONNECT
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    assert rec.get("on_disconnect")[0] == (mqtt.MQTT_ERR_PROTOCOL,)
    fake_broker.expect(CONNECT, WAIT_S)


def test_server_disconnect_in_v311_is_a_protocol_error(make_client, fake_broker):
    rec = Recorder()
    client = make_client(V1)
    rec.attach(client, "on_disconnect")
    start(client, fake_broker)
    fake_broker.send(b"\xe0\x00")
    assert fake_broker.wait_closed(WAIT_S) == []
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    assert rec.get("on_disconnect")[0] == (mqtt.MQTT_ERR_PROTOCOL,)


def test_connection_lost_reports_conn_lost(make_client, fake_broker):
    rec = Recorder()
    client = make_client(V1)
    rec.attach(client, "on_disconnect")
    start(client, fake_broker)
    fake_broker.close_client()
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    assert rec.get("on_disconnect")[0] == (mqtt.MQTT_ERR_CONN_LOST,)
    fake_broker.expect(CONNECT, WAIT_S)


# =================================================================================================
# Other packets on the wire
# =================================================================================================


def test_publish_bytes_v311(make_client, fake_broker):
    client = make_client()
    start(client, fake_broker)
    client.publish("a/b", b"hi")
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == _frame(0x30, _s("a/b") + b"hi")
    client.publish("a/b", "", retain=True)
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == _frame(0x31, _s("a/b"))
    one = client.publish("a/b", 7, qos=1)
    expected = _frame(0x32, _s("a/b") + one.mid.to_bytes(2, "big") + b"7")
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == expected
    two = client.publish("a/b", bytearray(b"\x00"), qos=2, retain=True)
    expected = _frame(0x35, _s("a/b") + two.mid.to_bytes(2, "big") + b"\x00")
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == expected


def test_publish_bytes_v5_with_properties(make_client, fake_broker):
    client = make_client(protocol=mqtt.MQTTv5)
    start(client, fake_broker, version=5)
    client.publish("t", b"x")
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == _frame(0x30, _s("t") + b"\x00x")
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 10
    props.ResponseTopic = "r"
    props.UserProperty = ("k", "v")
    info = client.publish("t", b"x", qos=1, properties=props)
    body = b"\x02" + (10).to_bytes(4, "big") + b"\x08" + _s("r") + b"\x26" + _s("k") + _s("v")
    expected = _frame(0x32, _s("t") + info.mid.to_bytes(2, "big") + _props(body) + b"x")
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == expected


def test_subscribe_and_unsubscribe_bytes_v311(make_client, fake_broker):
    client = make_client()
    start(client, fake_broker)
    _, mid = client.subscribe([("a/+", 0), ("b/#", 2)])
    expected = _frame(0x82, mid.to_bytes(2, "big") + _s("a/+") + b"\x00" + _s("b/#") + b"\x02")
    assert bytes(fake_broker.expect(0x80, WAIT_S)) == expected
    _, mid = client.unsubscribe(["a/+", "b/#"])
    expected = _frame(0xA2, mid.to_bytes(2, "big") + _s("a/+") + _s("b/#"))
    assert bytes(fake_broker.expect(0xA0, WAIT_S)) == expected


def test_subscribe_options_bytes_v5(make_client, fake_broker):
    client = make_client(protocol=mqtt.MQTTv5)
    start(client, fake_broker, version=5)
    options = mqtt.SubscribeOptions(
        qos=1,
        noLocal=True,
        retainAsPublished=True,
        retainHandling=mqtt.SubscribeOptions.RETAIN_DO_NOT_SEND,
    )
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 300
    _, mid = client.subscribe("s/#", options=options, properties=props)
    body = mid.to_bytes(2, "big") + _props(b"\x0b" + _vbi(300)) + _s("s/#") + b"\x2d"
    assert bytes(fake_broker.expect(0x80, WAIT_S)) == _frame(0x82, body)


def test_pingreq_while_only_sending(make_client, fake_broker):
    """Keepalive counts received packets too: a client that only sends still pings."""
    client = make_client()
    start(client, fake_broker, keepalive=1)
    stop = threading.Event()

    def chatter() -> None:
        while not stop.wait(0.2):
            client.publish("chat", b".")

    talker = threading.Thread(target=chatter)
    talker.start()
    try:
        deadline = time.monotonic() + WAIT_S
        kinds = []
        while PINGREQ not in kinds and time.monotonic() < deadline:
            kinds.append(fake_broker.expect(None, WAIT_S).packet_type)
        assert PINGREQ in kinds
    finally:
        stop.set()
        talker.join(WAIT_S)


@pytest.mark.parametrize("present", [True, False], ids=["session-present", "session-lost"])
def test_incoming_qos2_state_across_reconnect(make_client, fake_broker, present):
    """PUBREC sent, then the link drops. With the session kept, the PUBREL on the new connection
    delivers the message once; with Session Present 0 the state is gone: PUBCOMP, no delivery."""
    rec = Recorder()
    client = make_client(clean_session=False)
    rec.attach(client, "on_message")
    start(client, fake_broker)
    fake_broker.send(publish_bytes("q2", b"kept", 2, 21))
    assert bytes(fake_broker.expect(PUBREC, WAIT_S)) == pubrec(21)
    fake_broker.close_client()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack(present))
    wait_until(client.is_connected, WAIT_S)
    fake_broker.send(pubrel(21))
    assert packet_id(fake_broker.expect(PUBCOMP, WAIT_S)) == 21
    fake_broker.expect_nothing(0.2)
    assert rec.count("on_message") == (1 if present else 0)


def test_connack_receive_maximum_limits_inflight_v5(make_client, fake_broker):
    client = make_client(protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(server(P.Connack(False, 0, ((0x21, 1),)), 5))
    wait_until(client.is_connected, WAIT_S)
    infos = [client.publish("rm", f"{i}", qos=1) for i in range(3)]
    for info in infos:
        packet = fake_broker.expect(PUBLISH, WAIT_S)
        assert packet_id(packet) == info.mid
        fake_broker.expect_nothing(0.2)  # one at a time
        fake_broker.send(puback(info.mid))
    wait_until(lambda: all(i.is_published() for i in infos), WAIT_S)


def test_inbound_topic_alias_v5(make_client, fake_broker):
    rec = Recorder()
    client = make_client(protocol=mqtt.MQTTv5)
    rec.attach(client, "on_message", "on_disconnect")
    props = Properties(PacketTypes.CONNECT)
    props.TopicAliasMaximum = 2
    start(client, fake_broker, version=5, properties=props)
    fake_broker.send(server(P.Publish("long/topic/name", b"1", 0, properties=((0x23, 1),)), 5))
    fake_broker.send(server(P.Publish("", b"2", 0, properties=((0x23, 1),)), 5))
    wait_until(lambda: rec.count("on_message") == 2, WAIT_S)
    assert [(a[0].topic, a[0].payload) for a in rec.get("on_message")] == [
        ("long/topic/name", b"1"),
        ("long/topic/name", b"2"),
    ]
    # An alias above our Topic Alias Maximum: DISCONNECT 0x94 Topic Alias invalid.
    fake_broker.send(server(P.Publish("x", b"3", 0, properties=((0x23, 3),)), 5))
    assert fake_broker.expect(DISCONNECT, WAIT_S).decoded.reason_code == 0x94
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    assert rec.count("on_message") == 2


def test_server_keep_alive_replaces_ours_v5(make_client, fake_broker):
    """[MQTT-3.2.2-21]: the CONNACK Server Keep Alive is the keepalive to use."""
    client = make_client(protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", fake_broker.port, keepalive=60)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(server(P.Connack(False, 0, ((0x13, 1),)), 5))
    wait_until(client.is_connected, WAIT_S)
    assert bytes(fake_broker.expect(PINGREQ, WAIT_S)) == b"\xc0\x00"


def test_disconnect_before_connack(make_client, fake_broker):
    rec = Recorder()
    client = make_client(V1)
    rec.attach(client, "on_connect", "on_disconnect")
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    client.disconnect()
    assert bytes(fake_broker.expect(DISCONNECT, WAIT_S)) == b"\xe0\x00"
    fake_broker.send(connack())  # too late: ignored
    fake_broker.close_client()
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    assert rec.get("on_disconnect") == [(mqtt.MQTT_ERR_SUCCESS,)]
    assert not client.is_connected()
    assert_no_new_connection(fake_broker)
