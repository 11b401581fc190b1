"""Every ``on_*`` callback with its documented arguments (callback API VERSION1 and VERSION2,
MQTT 3.1.1 and 5.0 where the shapes differ), the decorator forms, ``message_callback_add``
routing, re-entrancy (callbacks calling back into the client: nothing deadlocks) and exceptions
raised in callbacks.

The scripted fake broker is used where exact control is needed, the real mosquitto for round
trips. Every wait is bounded; every client is disconnected and its loop stopped.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import mqttclient.client as mqtt
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from mqttclient.errors import InvalidStateError
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from mqttclient.reasoncodes import ReasonCode
from tests.fakebroker import (
    CONNECT,
    DISCONNECT,
    PUBACK,
    PUBLISH,
    PUBREL,
    SUBSCRIBE,
    UNSUBSCRIBE,
    FakeBroker,
    connack,
)
from tests.integration.fakeclient import (
    WAIT_S,
    assert_no_new_connection,
    client_factory,
    start,
)
from tests.integration.helpers import V1, V2, private_logger, run_threads, wait_until

APIS = [V1, V2]
API_IDS = ["v1", "v2"]
PROTOCOLS = [mqtt.MQTTv311, mqtt.MQTTv5]
PROTOCOL_IDS = ["v311", "v5"]


# --- helpers -----------------------------------------------------------------------------------------


class Calls:
    """Records every callback call with all its arguments (client and userdata included)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def record(self, name: str) -> Callable[..., None]:
        def callback(*args: Any) -> None:
            with self.lock:
                self.calls.append((name, args))

        return callback

    def attach(self, client: mqtt.Client, *names: str) -> None:
        for name in names:
            setattr(client, name, self.record(name))

    def get(self, name: str) -> list[tuple[Any, ...]]:
        """Arguments after (client, userdata) of every call of ``name``."""
        with self.lock:
            return [args[2:] for n, args in self.calls if n == name]

    def full(self, name: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [args for n, args in self.calls if n == name]

    def count(self, name: str) -> int:
        return len(self.get(name))

    def names(self) -> list[str]:
        with self.lock:
            return [n for n, _ in self.calls]


def version_of(protocol: mqtt.MQTTProtocolVersion) -> int:
    return 5 if protocol == mqtt.MQTTv5 else 4


def server(packet: Any, version: int = 4) -> bytes:
    return encode(packet, version)


def publish_bytes(
    topic: str, payload: bytes = b"", qos: int = 0, packet_id: int = 0, version: int = 4
) -> bytes:
    return server(P.Publish(topic, payload, qos, False, False, packet_id), version)


def ack(first: int, packet_id: int) -> bytes:
    return bytes([first, 0x02]) + packet_id.to_bytes(2, "big")


def topic(name: str = "t") -> str:
    return f"cbtest/{uuid.uuid4().hex[:8]}/{name}"


def closed_port() -> int:
    """A local port on which nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def make_client(fake_broker: FakeBroker) -> Iterator[Callable[..., mqtt.Client]]:
    """Clients for the fake broker; all stopped after the test."""
    with client_factory(fake_broker) as make:
        yield make


@pytest.fixture
def real_client() -> Iterator[Callable[..., mqtt.Client]]:
    """Clients for mosquitto (unique ids); all stopped after the test."""
    with client_factory(
        client_id=lambda: f"cb-{uuid.uuid4().hex[:10]}", reconnect_delay=(0.05, 0.2)
    ) as make:
        yield make


# =================================================================================================
# Argument shapes
# =================================================================================================


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_connect_arguments(make_client, fake_broker, api, protocol):
    version = version_of(protocol)
    calls = Calls()
    userdata = {"who": "me"}
    if protocol == mqtt.MQTTv5:
        client = make_client(api, protocol=protocol, userdata=userdata)
        connect_kwargs: dict[str, Any] = {"clean_start": False}
        ack_bytes = server(
            P.Connack(True, 0, ((0x12, "assigned-id"), (0x21, 7), (0x26, ("k", "v")))), 5
        )
    else:
        client = make_client(api, protocol=protocol, userdata=userdata, clean_session=False)
        connect_kwargs = {}
        ack_bytes = connack(True, 0, 4)
    calls.attach(client, "on_connect")
    start(client, fake_broker, version=version, connack_bytes=ack_bytes, **connect_kwargs)
    wait_until(lambda: calls.count("on_connect") == 1, WAIT_S)
    [full] = calls.full("on_connect")
    assert full[0] is client and full[1] is userdata
    args = full[2:]
    if api == V1 and protocol == mqtt.MQTTv311:
        assert args == ({"session present": 1}, 0)
        assert type(args[0]["session present"]) is int
        return
    flags, reason, props = args
    if api == V1:
        assert flags == {"session present": 1}
    else:
        assert flags == mqtt.ConnectFlags(True) and flags.session_present is True
    assert isinstance(reason, ReasonCode)
    assert reason.packetType == PacketTypes.CONNACK
    assert reason == 0 and str(reason) == "Success" and not reason.is_failure
    assert isinstance(props, Properties)
    if protocol == mqtt.MQTTv5:
        assert props.AssignedClientIdentifier == "assigned-id"
        assert props.ReceiveMaximum == 7
        assert props.UserProperty == [("k", "v")]
    else:
        assert props.isEmpty()


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_disconnect_after_own_disconnect(make_client, fake_broker, api, protocol):
    calls = Calls()
    client = make_client(api, protocol=protocol)
    calls.attach(client, "on_disconnect")
    start(client, fake_broker, version=version_of(protocol))
    assert client.disconnect() == mqtt.MQTT_ERR_SUCCESS
    fake_broker.expect(DISCONNECT, WAIT_S)
    fake_broker.close_client()
    wait_until(lambda: calls.count("on_disconnect") == 1, WAIT_S)
    args = calls.get("on_disconnect")[0]
    if api == V1 and protocol == mqtt.MQTTv311:
        assert args == (mqtt.MQTT_ERR_SUCCESS,)
    elif api == V1:
        assert args == (mqtt.MQTT_ERR_SUCCESS, None)
    else:
        flags, reason, props = args
        assert flags == mqtt.DisconnectFlags(False)
        assert isinstance(reason, ReasonCode) and reason.packetType == PacketTypes.DISCONNECT
        assert reason == 0 and str(reason) == "Normal disconnection"
        assert isinstance(props, Properties) and props.isEmpty()
    assert not client.is_connected()
    assert client.disconnect() == mqtt.MQTT_ERR_NO_CONN


def test_disconnect_reason_and_properties_on_the_wire_v5(make_client, fake_broker):
    client = make_client(protocol=mqtt.MQTTv5)
    start(client, fake_broker, version=5)
    props = Properties(PacketTypes.DISCONNECT)
    props.SessionExpiryInterval = 60
    client.disconnect(ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"), props)
    packet = fake_broker.expect(DISCONNECT, WAIT_S)
    assert bytes(packet) == b"\xe0\x07\x04\x05\x11\x00\x00\x00\x3c"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_message_arguments(make_client, fake_broker, api, protocol):
    version = version_of(protocol)
    calls = Calls()
    client = make_client(api, protocol=protocol, userdata="ud")
    calls.attach(client, "on_message")
    start(client, fake_broker, version=version)
    props: tuple[Any, ...] = ()
    if version == 5:
        props = ((0x03, "text/plain"), (0x26, ("a", "1")), (0x26, ("a", "2")))
    fake_broker.send(server(P.Publish("m/t", b"\x00payload", 1, True, True, 5, props), version))
    wait_until(lambda: calls.count("on_message") == 1, WAIT_S)
    [full] = calls.full("on_message")
    assert full[0] is client and full[1] == "ud" and len(full) == 3
    msg = full[2]
    assert isinstance(msg, mqtt.MQTTMessage)
    assert msg.topic == "m/t" and isinstance(msg.topic, str)
    assert msg.payload == b"\x00payload"
    assert msg.qos == 1 and msg.mid == 5
    assert msg.retain is True and msg.dup is True
    assert isinstance(msg.timestamp, float)
    if version == 5:
        assert isinstance(msg.properties, Properties)
        assert msg.properties.ContentType == "text/plain"
        assert msg.properties.UserProperty == [("a", "1"), ("a", "2")]
    else:
        assert msg.properties is None
    fake_broker.expect(PUBACK, WAIT_S)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_publish_per_qos_once_per_mid(make_client, fake_broker, api, protocol):
    version = version_of(protocol)
    calls = Calls()
    client = make_client(api, protocol=protocol)
    seen_published: list[bool] = []
    infos: dict[int, mqtt.MQTTMessageInfo] = {}

    def on_publish(c, userdata, mid, *rest):
        calls.record("on_publish")(c, userdata, mid, *rest)
        info = infos.get(mid)
        if info is not None:
            seen_published.append(info.is_published())

    client.on_publish = on_publish
    start(client, fake_broker, version=version)

    # QoS 0: once the PUBLISH is written.
    info0 = client.publish("p/0", b"0", qos=0)
    fake_broker.expect(PUBLISH, WAIT_S)
    wait_until(lambda: calls.count("on_publish") == 1, WAIT_S)
    info0.wait_for_publish(WAIT_S)
    assert info0.is_published()

    # QoS 1: on PUBACK, once even if the PUBACK is repeated.
    info1 = client.publish("p/1", b"1", qos=1)
    infos[info1.mid] = info1
    fake_broker.expect(PUBLISH, WAIT_S)
    fake_broker.expect_nothing(0.2)
    assert calls.count("on_publish") == 1
    fake_broker.send(ack(0x40, info1.mid))
    fake_broker.send(ack(0x40, info1.mid))
    wait_until(lambda: calls.count("on_publish") == 2, WAIT_S)

    # QoS 2: not on PUBREC; on PUBCOMP, once.
    info2 = client.publish("p/2", b"2", qos=2)
    infos[info2.mid] = info2
    fake_broker.expect(PUBLISH, WAIT_S)
    fake_broker.send(ack(0x50, info2.mid))
    fake_broker.expect(PUBREL, WAIT_S)
    fake_broker.expect_nothing(0.2)
    assert calls.count("on_publish") == 2
    fake_broker.send(ack(0x70, info2.mid))
    fake_broker.send(ack(0x70, info2.mid))
    wait_until(lambda: calls.count("on_publish") == 3, WAIT_S)
    fake_broker.expect_nothing(0.2)
    assert calls.count("on_publish") == 3

    published = calls.get("on_publish")
    assert [args[0] for args in published] == [info0.mid, info1.mid, info2.mid]
    for args in published:
        if api == V1:
            assert len(args) == 1
        else:
            _, reason, props = args
            assert isinstance(reason, ReasonCode) and reason == 0 and not reason.is_failure
            assert isinstance(props, Properties)
    # paho: for QoS > 0, on_publish runs before the info is marked published.
    assert seen_published == [False, False]
    assert info1.is_published() and info2.is_published()


def test_on_publish_v5_reason_code_and_properties(make_client, fake_broker):
    calls = Calls()
    client = make_client(V2, protocol=mqtt.MQTTv5)
    calls.attach(client, "on_publish")
    start(client, fake_broker, version=5)
    ok = client.publish("p", b"", qos=1)
    fake_broker.expect(PUBLISH, WAIT_S)
    fake_broker.send(server(P.Puback(ok.mid, 0x10, ((0x1F, "nobody"),)), 5))
    wait_until(lambda: calls.count("on_publish") == 1, WAIT_S)
    mid, reason, props = calls.get("on_publish")[0]
    assert mid == ok.mid and reason == 0x10 and str(reason) == "No matching subscribers"
    assert props.ReasonString == "nobody"
    ok.wait_for_publish(WAIT_S)
    assert ok.is_published()

    failed = client.publish("p", b"", qos=1)
    fake_broker.expect(PUBLISH, WAIT_S)
    fake_broker.send(server(P.Puback(failed.mid, 0x87), 5))
    wait_until(lambda: calls.count("on_publish") == 2, WAIT_S)
    assert calls.get("on_publish")[1][1] == 0x87


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_subscribe_arguments(make_client, fake_broker, api, protocol):
    version = version_of(protocol)
    calls = Calls()
    client = make_client(api, protocol=protocol)
    calls.attach(client, "on_subscribe")
    start(client, fake_broker, version=version)
    rc, mid = client.subscribe([("s/a", 1), ("s/b", 2)])
    assert rc == mqtt.MQTT_ERR_SUCCESS and isinstance(mid, int)
    assert fake_broker.expect(SUBSCRIBE, WAIT_S).decoded.packet_id == mid
    props = ((0x1F, "partly"),) if version == 5 else ()
    fake_broker.send(server(P.Suback(mid, (1, 0x80), props), version))
    wait_until(lambda: calls.count("on_subscribe") == 1, WAIT_S)
    args = calls.get("on_subscribe")[0]
    if api == V1 and protocol == mqtt.MQTTv311:
        assert args == (mid, (1, 0x80))
        return
    got_mid, codes, got_props = args
    assert got_mid == mid
    assert isinstance(codes, list) and all(isinstance(c, ReasonCode) for c in codes)
    assert [c.value for c in codes] == [1, 0x80]
    assert all(c.packetType == PacketTypes.SUBACK for c in codes)
    assert str(codes[0]) == "Granted QoS 1" and codes[1].is_failure
    assert isinstance(got_props, Properties)
    if version == 5:
        assert got_props.ReasonString == "partly"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize("filters", [["u/a"], ["u/a", "u/b"]], ids=["one", "two"])
def test_on_unsubscribe_arguments(make_client, fake_broker, api, protocol, filters):
    version = version_of(protocol)
    calls = Calls()
    client = make_client(api, protocol=protocol)
    calls.attach(client, "on_unsubscribe")
    start(client, fake_broker, version=version)
    rc, mid = client.unsubscribe(filters if len(filters) > 1 else filters[0])
    assert rc == mqtt.MQTT_ERR_SUCCESS
    assert fake_broker.expect(UNSUBSCRIBE, WAIT_S).decoded.topic_filters == tuple(filters)
    codes = (0x00, 0x11)[: len(filters)]
    fake_broker.send(server(P.Unsuback(mid, codes), version))
    wait_until(lambda: calls.count("on_unsubscribe") == 1, WAIT_S)
    args = calls.get("on_unsubscribe")[0]
    if api == V1 and protocol == mqtt.MQTTv311:
        assert args == (mid,)
    elif api == V1:
        got_mid, props, reasons = args
        assert got_mid == mid and isinstance(props, Properties)
        if len(filters) == 1:
            assert isinstance(reasons, ReasonCode) and reasons == 0
        else:
            assert [r.value for r in reasons] == [0x00, 0x11]
    else:
        got_mid, reasons, props = args
        assert got_mid == mid and isinstance(props, Properties)
        assert isinstance(reasons, list)
        if protocol == mqtt.MQTTv311:
            assert reasons == []
        else:
            assert [r.value for r in reasons] == list(codes)
            assert all(r.packetType == PacketTypes.UNSUBACK for r in reasons)


def test_subscribe_and_unsubscribe_when_not_connected(make_client):
    client = make_client()
    assert client.subscribe("a") == (mqtt.MQTT_ERR_NO_CONN, None)
    assert client.unsubscribe("a") == (mqtt.MQTT_ERR_NO_CONN, None)


# --- on_connect_fail ----------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_connect_fail_with_loop_start(make_client, api):
    calls = Calls()
    client = make_client(api, userdata="ud")
    calls.attach(client, "on_connect_fail", "on_connect", "on_disconnect")
    client.connect_async("127.0.0.1", closed_port())
    client.loop_start()
    wait_until(lambda: calls.count("on_connect_fail") >= 2, WAIT_S)  # it keeps retrying
    client.loop_stop()
    for full in calls.full("on_connect_fail"):
        assert full == (client, "ud")
    assert calls.count("on_connect") == 0


def test_on_connect_fail_with_loop_forever_raises(make_client):
    calls = Calls()
    client = make_client()
    calls.attach(client, "on_connect_fail")
    client.connect_async("127.0.0.1", closed_port())
    with pytest.raises(OSError):
        client.loop_forever()
    assert calls.count("on_connect_fail") == 1


def test_connect_raises_without_on_connect_fail(make_client):
    calls = Calls()
    client = make_client()
    calls.attach(client, "on_connect_fail")
    with pytest.raises(OSError):
        client.connect("127.0.0.1", closed_port())
    assert calls.count("on_connect_fail") == 0


def test_exceptions_in_on_connect_fail_are_swallowed(make_client):
    count = []

    def on_connect_fail(client, userdata):
        count.append(1)
        raise RuntimeError("boom")

    client = make_client()
    client.on_connect_fail = on_connect_fail
    client.connect_async("127.0.0.1", closed_port())
    client.loop_start()
    thread = client._thread
    wait_until(lambda: len(count) >= 3, WAIT_S)
    assert thread is not None and thread.is_alive()


# --- on_log and enable_logger -------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_on_log_receives_packet_traffic(make_client, fake_broker, api):
    """paho logs every packet at MQTT_LOG_DEBUG ("Sending CONNECT ...", "Received CONNACK
    ...", "Sending PUBLISH ...", ...); programs use on_log to see the traffic."""
    calls = Calls()
    client = make_client(api, userdata="ud")
    calls.attach(client, "on_log")
    start(client, fake_broker)
    client.publish("l", b"x", qos=1)
    fake_broker.expect(PUBLISH, WAIT_S)
    # The log line is dispatched right after the write, so the broker may see the bytes first.
    wait_until(lambda: "Sending PUBLISH" in "\n".join(f[3] for f in calls.full("on_log")), WAIT_S)
    logs = calls.full("on_log")
    assert logs, "on_log was never called"
    for full in logs:
        assert full[0] is client and full[1] == "ud"
        assert full[2] in set(mqtt.LogLevel) and isinstance(full[3], str)
    text = "\n".join(full[3] for full in logs)
    assert "CONNECT" in text and "CONNACK" in text and "PUBLISH" in text


def test_enable_logger_receives_packet_traffic(make_client, fake_broker):
    with private_logger("cbtest") as (logger, records):
        client = make_client()
        client.enable_logger(logger)
        assert client.logger is logger
        start(client, fake_broker)
        messages = "\n".join(r.getMessage() for r in records)
        assert "CONNACK" in messages
        assert all(r.levelno == logging.DEBUG for r in records if "CONNACK" in r.getMessage())


def test_on_log_gets_callback_exceptions(make_client, fake_broker):
    calls = Calls()
    client = make_client()
    client.suppress_exceptions = True
    calls.attach(client, "on_log")

    def on_message(c, u, m):
        raise ValueError("bad message")

    client.on_message = on_message
    start(client, fake_broker)
    fake_broker.send(publish_bytes("x", b"", 0))
    wait_until(
        lambda: any(
            a[0] == mqtt.MQTT_LOG_ERR and "on_message" in a[1] for a in calls.get("on_log")
        ),
        WAIT_S,
    )
    assert client.is_connected()


def test_enable_logger_and_on_log_both_receive(make_client):
    with private_logger("cbtest") as (logger, records):
        calls = Calls()
        client = make_client()
        calls.attach(client, "on_log")
        client.enable_logger(logger)
        client.on_connect_fail = lambda c, u: None
        client.connect_async("127.0.0.1", closed_port())
        client.loop_start()
        wait_until(lambda: calls.count("on_log") >= 1 and len(records) >= 1, WAIT_S)
        client.loop_stop()
        client.disable_logger()
        assert client.logger is None


# --- on_pre_connect -----------------------------------------------------------------------------------


def test_on_pre_connect_before_every_connect_refreshes_credentials(make_client, fake_broker):
    client = make_client(V1, userdata="ud")
    count: list[int] = []

    def on_pre_connect(c, userdata):
        assert c is client and userdata == "ud"
        count.append(1)
        c.username_pw_set("user", f"token-{len(count)}")

    client.on_pre_connect = on_pre_connect
    client.connect("127.0.0.1", fake_broker.port)
    assert len(count) == 1
    client.loop_start()
    for attempt in (1, 2, 3):
        packet = fake_broker.expect(CONNECT, WAIT_S)
        assert packet.decoded.username == "user"
        assert packet.decoded.password == f"token-{attempt}".encode()
        fake_broker.send(connack())
        wait_until(client.is_connected, WAIT_S)
        fake_broker.close_client()
        wait_until(lambda: not client.is_connected(), WAIT_S)
    fake_broker.expect(CONNECT, WAIT_S)
    assert len(count) == 4


# --- socket callbacks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_socket_open_and_close(make_client, fake_broker, api):
    calls = Calls()
    client = make_client(api, userdata="ud")
    calls.attach(client, "on_socket_open", "on_socket_close")
    start(client, fake_broker)
    [opened] = calls.full("on_socket_open")
    sock = client.socket()
    assert opened[0] is client and opened[1] == "ud" and opened[2] is sock
    assert calls.count("on_socket_close") == 0
    client.disconnect()
    fake_broker.expect(DISCONNECT, WAIT_S)
    fake_broker.close_client()
    wait_until(lambda: calls.count("on_socket_close") == 1, WAIT_S)
    [closed] = calls.full("on_socket_close")
    assert closed[0] is client and closed[1] == "ud" and closed[2] is sock


def test_socket_register_and_unregister_write(make_client, fake_broker):
    """A write that does not complete at once registers the socket for writing; once the
    buffer is empty it is unregistered (paho's external-event-loop hooks)."""
    calls = Calls()
    client = make_client(userdata="ud")
    calls.attach(client, "on_socket_register_write", "on_socket_unregister_write")
    start(client, fake_broker)
    sock = client.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)  # make the write partial
    client.publish("big", b"x" * (1024 * 1024), qos=0)
    wait_until(lambda: calls.count("on_socket_register_write") >= 1, WAIT_S)
    big = fake_broker.expect(PUBLISH, WAIT_S * 2)  # the broker reads: the write completes
    assert len(big) > 1024 * 1024
    wait_until(lambda: calls.count("on_socket_unregister_write") >= 1, WAIT_S)
    for full in calls.full("on_socket_register_write") + calls.full("on_socket_unregister_write"):
        assert full == (client, "ud", sock)
    names = [
        n for n in calls.names() if n in ("on_socket_register_write", "on_socket_unregister_write")
    ]
    assert names[0] == "on_socket_register_write"
    assert names[-1] == "on_socket_unregister_write"


def test_external_event_loop_with_socket_callbacks(make_client, fake_broker):
    """paho's external loop style: the program selects on the socket and calls loop_read /
    loop_write / loop_misc; callbacks tell it when to watch for writability."""
    client = make_client()
    want_write = threading.Event()
    opened: list[Any] = []
    client.on_socket_open = lambda c, u, s: opened.append(s)
    client.on_socket_register_write = lambda c, u, s: want_write.set()
    client.on_socket_unregister_write = lambda c, u, s: want_write.clear()
    received: list[bytes] = []
    client.on_message = lambda c, u, m: received.append(m.payload)
    client.connect("127.0.0.1", fake_broker.port)
    assert opened and opened[0] is client.socket()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    fake_broker.send(publish_bytes("e", b"hello", 1, 4))
    deadline = time.monotonic() + WAIT_S
    import select

    while not received and time.monotonic() < deadline:
        sock = client.socket()
        readable, writable, _ = select.select(
            [sock], [sock] if want_write.is_set() else [], [], 0.1
        )
        if readable:
            client.loop_read()
        if writable:
            client.loop_write()
        client.loop_misc()
    assert received == [b"hello"]
    assert client.is_connected()
    assert fake_broker.expect(PUBACK, WAIT_S) == bytes([0x40, 2, 0, 4])


# --- decorators -----------------------------------------------------------------------------------------

DECORATORS = {
    "log_callback": "on_log",
    "pre_connect_callback": "on_pre_connect",
    "connect_callback": "on_connect",
    "connect_fail_callback": "on_connect_fail",
    "subscribe_callback": "on_subscribe",
    "message_callback": "on_message",
    "publish_callback": "on_publish",
    "unsubscribe_callback": "on_unsubscribe",
    "disconnect_callback": "on_disconnect",
    "socket_open_callback": "on_socket_open",
    "socket_close_callback": "on_socket_close",
    "socket_register_write_callback": "on_socket_register_write",
    "socket_unregister_write_callback": "on_socket_unregister_write",
}


@pytest.mark.parametrize("decorator", list(DECORATORS))
def test_decorator_sets_the_callback(make_client, decorator):
    client = make_client()

    def func(*args: Any) -> None:
        pass

    assert getattr(client, decorator)()(func) is func
    assert getattr(client, DECORATORS[decorator]) is func


def test_decorators_fire(make_client, fake_broker):
    client = make_client(V2)
    got: list[str] = []

    @client.connect_callback()
    def on_connect(c, userdata, flags, reason, props):
        got.append("connect")

    @client.message_callback()
    def on_message(c, userdata, msg):
        got.append(f"message {msg.topic}")

    @client.topic_callback("a/#")
    def on_a(c, userdata, msg):
        got.append(f"topic {msg.topic}")

    @client.disconnect_callback()
    def on_disconnect(c, userdata, flags, reason, props):
        got.append("disconnect")

    assert on_a.__name__ == "on_a"  # the decorator returns the function itself
    start(client, fake_broker)
    fake_broker.send(publish_bytes("a/1") + publish_bytes("b/1"))
    wait_until(lambda: len(got) == 3, WAIT_S)
    client.disconnect()
    fake_broker.expect(DISCONNECT, WAIT_S)
    fake_broker.close_client()
    wait_until(lambda: len(got) == 4, WAIT_S)
    assert got == ["connect", "topic a/1", "message b/1", "disconnect"]


# --- message_callback_add routing -----------------------------------------------------------------------


def test_message_callback_add_matching_rules(make_client, fake_broker):
    client = make_client()
    got: list[tuple[str, str]] = []

    def cb(name: str) -> Callable[..., None]:
        return lambda c, u, msg: got.append((name, msg.topic))

    client.on_message = cb("on_message")
    client.message_callback_add("a/b/c", cb("exact"))
    client.message_callback_add("a/+/c", cb("plus"))
    client.message_callback_add("a/#", cb("hash"))
    client.message_callback_add("+/+/+", cb("three"))
    start(client, fake_broker)

    def deliver(*topics: str) -> list[tuple[str, str]]:
        got.clear()
        fake_broker.send(b"".join(publish_bytes(t, b"x") for t in topics))
        fake_broker.send(publish_bytes("end/marker"))
        wait_until(lambda: ("on_message", "end/marker") in got, WAIT_S)
        return [g for g in got if g[1] != "end/marker"]

    # Every matching filter is called; on_message only when none matched.
    assert deliver("a/b/c") == [
        ("exact", "a/b/c"),
        ("plus", "a/b/c"),
        ("hash", "a/b/c"),
        ("three", "a/b/c"),
    ]
    assert deliver("a") == [("hash", "a")]  # "a/#" also matches the parent level
    assert deliver("a/x/y/z") == [("hash", "a/x/y/z")]
    assert deliver("x/y") == [("on_message", "x/y")]
    assert deliver("x/y/z") == [("three", "x/y/z")]
    assert deliver("$SYS/b/c") == [("on_message", "$SYS/b/c")]  # wildcards skip "$" topics

    # Re-adding a filter replaces its callback.
    client.message_callback_add("a/#", cb("hash2"))
    assert deliver("a/q") == [("hash2", "a/q")]
    # Removing falls back to on_message; removing an unknown filter is not an error.
    client.message_callback_remove("a/#")
    client.message_callback_remove("never/added")
    assert deliver("a/q") == [("on_message", "a/q")]
    for sub in ("a/b/c", "a/+/c", "+/+/+"):
        client.message_callback_remove(sub)
    assert deliver("a/b/c") == [("on_message", "a/b/c")]


def test_message_callback_add_rejects_none(make_client):
    client = make_client()
    with pytest.raises(ValueError):
        client.message_callback_add("a", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.message_callback_add(None, lambda *a: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.message_callback_remove(None)  # type: ignore[arg-type]


# =================================================================================================
# Re-entrancy: callbacks calling back into the client
# =================================================================================================


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_reentrant_chain_against_mosquitto(mosquitto, real_client, api, protocol):
    """on_connect subscribes; on_subscribe publishes QoS 0/1/2; on_message unsubscribes after
    the third; on_unsubscribe publishes again; that message's on_publish disconnects."""
    t = topic()
    client = real_client(api, protocol=protocol)
    state: dict[str, Any] = {"messages": [], "final_mid": None}
    done = threading.Event()

    def on_connect(c, userdata, *args):
        assert c.subscribe(t, 2)[0] == mqtt.MQTT_ERR_SUCCESS

    def on_subscribe(c, userdata, *args):
        for qos in (0, 1, 2):
            c.publish(t, f"q{qos}", qos=qos)

    def on_message(c, userdata, msg):
        state["messages"].append((msg.payload, msg.qos))
        if len(state["messages"]) == 3:
            c.unsubscribe(t)

    def on_unsubscribe(c, userdata, *args):
        state["final_mid"] = c.publish(t, b"after", qos=1).mid

    def on_publish(c, userdata, mid, *args):
        if mid == state["final_mid"]:
            c.disconnect()

    def on_disconnect(c, userdata, *args):
        done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_unsubscribe = on_unsubscribe
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    client.connect("127.0.0.1", mosquitto.port())
    client.loop_start()
    assert done.wait(WAIT_S)
    client.loop_stop()
    assert sorted(state["messages"]) == [(b"q0", 0), (b"q1", 1), (b"q2", 2)]


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_reentrant_chain_with_loop_forever(mosquitto, real_client, api):
    """The same chain driven by loop_forever() in this thread: it returns after disconnect()."""
    t = topic()
    client = real_client(api)
    got: list[bytes] = []
    client.on_connect = lambda c, u, *a: c.subscribe(t, 1)
    client.on_subscribe = lambda c, u, *a: c.publish(t, b"one", qos=1)

    def on_message(c, userdata, msg):
        got.append(msg.payload)
        if len(got) < 5:
            c.publish(t, f"more{len(got)}", qos=len(got) % 3)
        else:
            c.disconnect()

    client.on_message = on_message
    client.connect("127.0.0.1", mosquitto.port())
    watchdog = threading.Timer(WAIT_S * 2, client.disconnect)
    watchdog.start()
    try:
        # paho returns the code of the last loop pass: NO_CONN once the socket is closed.
        assert client.loop_forever() == mqtt.MQTT_ERR_NO_CONN
    finally:
        watchdog.cancel()
    assert got == [b"one", b"more1", b"more2", b"more3", b"more4"]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_subscribe_unsubscribe_from_on_message(make_client, fake_broker, qos):
    client = make_client()
    results: list[Any] = []

    def on_message(c, userdata, msg):
        results.append(c.publish("reply", msg.payload, qos=qos))
        results.append(c.subscribe("more/#", 1))
        results.append(c.unsubscribe("old"))

    client.on_message = on_message
    start(client, fake_broker)
    fake_broker.send(publish_bytes("in", b"ping", 1, 3))
    kinds = [fake_broker.expect(None, WAIT_S) for _ in range(4)]
    types = sorted(k.packet_type for k in kinds)
    assert types == sorted([PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PUBACK])
    reply = next(k for k in kinds if k.packet_type == PUBLISH)
    assert reply.decoded.payload == b"ping" and reply.decoded.qos == qos
    info, (src, smid), (urc, umid) = results
    assert info.rc == mqtt.MQTT_ERR_SUCCESS
    assert src == mqtt.MQTT_ERR_SUCCESS and urc == mqtt.MQTT_ERR_SUCCESS
    assert len({info.mid, smid, umid}) == 3


def test_disconnect_from_on_message_ends_loop_start_thread(make_client, fake_broker):
    calls = Calls()
    client = make_client(V1)
    calls.attach(client, "on_disconnect")
    client.on_message = lambda c, u, m: c.disconnect()
    start(client, fake_broker)
    thread = client._thread
    fake_broker.send(publish_bytes("bye"))
    fake_broker.expect(DISCONNECT, WAIT_S)
    fake_broker.close_client()
    wait_until(lambda: calls.count("on_disconnect") == 1, WAIT_S)
    assert calls.get("on_disconnect") == [(mqtt.MQTT_ERR_SUCCESS,)]
    assert thread is not None
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert_no_new_connection(fake_broker)


def test_disconnect_from_on_connect_with_loop_forever(make_client, fake_broker):
    client = make_client()
    client.on_connect = lambda c, *a: c.disconnect()
    client.connect("127.0.0.1", fake_broker.port)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    result: list[Any] = []

    def broker_side() -> None:
        fake_broker.expect(DISCONNECT, WAIT_S)
        fake_broker.close_client()

    helper = threading.Thread(target=broker_side)
    helper.start()
    watchdog = threading.Timer(WAIT_S * 2, client.loop_stop)
    watchdog.start()
    try:
        result.append(client.loop_forever())
    finally:
        watchdog.cancel()
        helper.join(WAIT_S)
    assert result == [mqtt.MQTT_ERR_NO_CONN]  # as paho-mqtt 2.x returns here


def test_reconnect_from_on_message(make_client, fake_broker):
    calls = Calls()
    client = make_client()
    calls.attach(client, "on_connect")
    done: list[Any] = []

    def on_message(c, userdata, msg):
        done.append(c.reconnect())

    client.on_message = on_message
    start(client, fake_broker)
    fake_broker.send(publish_bytes("again"))
    fake_broker.wait_closed(WAIT_S)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    wait_until(lambda: calls.count("on_connect") == 2, WAIT_S)
    assert done == [mqtt.MQTT_ERR_SUCCESS]
    assert client.is_connected()
    # The loop keeps serving the new connection.
    info = client.publish("after", b"", qos=1)
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.packet_id == info.mid
    fake_broker.send(ack(0x40, info.mid))
    info.wait_for_publish(WAIT_S)
    assert info.is_published()


def test_loop_stop_from_inside_a_callback(make_client, fake_broker):
    client = make_client()
    result: list[Any] = []

    def on_message(c, userdata, msg):
        begin = time.monotonic()
        result.append(c.loop_stop())
        result.append(time.monotonic() - begin)

    client.on_message = on_message
    start(client, fake_broker)
    thread = client._thread
    assert thread is not None
    fake_broker.send(publish_bytes("stop"))
    wait_until(lambda: len(result) == 2, WAIT_S)
    assert result[0] == mqtt.MQTT_ERR_SUCCESS
    assert result[1] < 1.0  # returned at once, not joining itself
    thread.join(WAIT_S)
    assert not thread.is_alive()
    # The connection stays open (loop_stop does not disconnect); the loop can start again.
    assert client.loop_start() == mqtt.MQTT_ERR_SUCCESS
    info = client.publish("again", b"", qos=1)
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.packet_id == info.mid


def test_loop_stop_from_callback_then_loop_start_runs_one_loop_thread(make_client, fake_broker):
    """While the stopping thread is still finishing, loop_start() must not end up with two
    threads driving the same connection."""
    client = make_client()
    stopped = threading.Event()
    finish = threading.Event()

    def on_message(c, userdata, msg):
        c.loop_stop()
        stopped.set()
        finish.wait(WAIT_S)  # the old thread is still inside the callback

    client.on_message = on_message
    start(client, fake_broker)
    old = client._thread
    assert old is not None
    fake_broker.send(publish_bytes("stop"))
    assert stopped.wait(WAIT_S)
    client.loop_start()
    finish.set()
    time.sleep(0.3)
    loop_threads = [t for t in threading.enumerate() if t.name == old.name and t.is_alive()]
    assert len(loop_threads) <= 1, loop_threads
    client.on_message = None
    info = client.publish("x", b"", qos=1)
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.packet_id == info.mid


def test_message_callback_add_remove_from_callbacks(make_client, fake_broker):
    client = make_client()
    got: list[tuple[str, str]] = []

    def on_y(c, userdata, msg):
        got.append(("y", msg.topic))
        c.message_callback_remove("y/#")
        c.message_callback_add("z", on_z)

    def on_z(c, userdata, msg):
        got.append(("z", msg.topic))
        c.message_callback_remove("z")

    def on_message(c, userdata, msg):
        got.append(("on_message", msg.topic))
        c.message_callback_add("y/#", on_y)

    client.on_message = on_message
    start(client, fake_broker)
    for t in ("x", "y/1", "y/2", "z", "z"):
        fake_broker.send(publish_bytes(t))
    wait_until(lambda: len(got) == 5, WAIT_S)
    assert got == [
        ("on_message", "x"),
        ("y", "y/1"),
        ("on_message", "y/2"),
        ("z", "z"),
        ("on_message", "z"),
    ]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_wait_for_publish_on_loop_thread_raises_at_once(make_client, fake_broker, qos):
    client = make_client()
    outcome: list[Any] = []

    def on_message(c, userdata, msg):
        info = c.publish("w", b"", qos=qos)
        begin = time.monotonic()
        try:
            info.wait_for_publish(2.0)
            outcome.append(("returned", info.is_published()))
        except RuntimeError as exc:
            outcome.append(("raised", exc))
        outcome.append(time.monotonic() - begin)

    client.on_message = on_message
    start(client, fake_broker)
    fake_broker.send(publish_bytes("go"))
    wait_until(lambda: len(outcome) == 2, WAIT_S)
    kind, exc = outcome[0]
    assert kind == "raised" and isinstance(exc, InvalidStateError)
    assert isinstance(exc, RuntimeError)
    assert outcome[1] < 1.0


@pytest.mark.parametrize("driver", ["loop_forever", "loop"])
def test_wait_for_publish_in_callback_of_a_loop_run_by_this_thread(
    make_client, fake_broker, driver
):
    """The same when the test thread itself runs the loop (loop_forever or loop())."""
    client = make_client()
    outcome: list[Any] = []

    def on_message(c, userdata, msg):
        info = c.publish("w", b"", qos=1)
        begin = time.monotonic()
        try:
            info.wait_for_publish(2.0)
            outcome.append("returned")
        except RuntimeError as exc:
            outcome.append(exc)
        outcome.append(time.monotonic() - begin)
        c.disconnect()

    client.on_message = on_message
    client.connect("127.0.0.1", fake_broker.port)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack() + publish_bytes("go"))

    def broker_side() -> None:
        try:
            while fake_broker.expect(None, WAIT_S).packet_type != DISCONNECT:
                pass
        except AssertionError:
            pass
        fake_broker.close_client()

    closer = threading.Thread(target=broker_side)
    closer.start()
    if driver == "loop_forever":
        watchdog = threading.Timer(WAIT_S * 2, client.disconnect)
        watchdog.start()
        try:
            client.loop_forever()
        finally:
            watchdog.cancel()
    else:
        deadline = time.monotonic() + WAIT_S
        while len(outcome) < 2 and time.monotonic() < deadline:
            client.loop(0.1)
    closer.join(WAIT_S)
    assert len(outcome) == 2
    assert isinstance(outcome[0], InvalidStateError), outcome
    assert outcome[1] < 1.0


def test_wait_for_publish_on_loop_thread_for_message_published_before_loop_start(
    make_client, fake_broker
):
    """The message was published before the loop thread existed; waiting for it from a
    callback must still raise at once rather than block the thread that would complete it."""
    client = make_client()
    info = client.publish("early", b"", qos=1)
    outcome: list[Any] = []

    def on_connect(c, userdata, *args):
        begin = time.monotonic()
        try:
            info.wait_for_publish(2.0)
            outcome.append("returned")
        except RuntimeError as exc:
            outcome.append(exc)
        outcome.append(time.monotonic() - begin)

    client.on_connect = on_connect
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    wait_until(lambda: len(outcome) == 2, WAIT_S)
    assert isinstance(outcome[0], InvalidStateError), outcome
    assert outcome[1] < 1.0


def test_wait_for_publish_from_other_threads_while_loop_runs(mosquitto, real_client):
    t = topic()
    client = real_client()
    client.connect("127.0.0.1", mosquitto.port())
    client.loop_start()
    wait_until(client.is_connected, WAIT_S)
    errors: list[BaseException] = []
    published: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(50):
                info = client.publish(t, f"{n}-{i}", qos=(i % 2) + 1)
                info.wait_for_publish(WAIT_S)
                assert info.is_published()
                with lock:
                    published.append(info.mid)
        except BaseException as exc:
            errors.append(exc)

    workers = run_threads(worker, 4, WAIT_S * 3)
    assert not any(w.is_alive() for w in workers)
    assert errors == []
    assert len(published) == 200


def test_publishes_from_many_threads_all_reach_the_broker(make_client, fake_broker):
    """QoS 0 from several threads while the loop thread sleeps: every publish must get written.
    The broker sends nothing, so no incoming packet can wake the loop thread instead."""
    client = make_client()
    start(client, fake_broker)  # keepalive 60: no timer fires during the test
    threads, per_thread = 8, 250

    def worker(n: int) -> None:
        for i in range(per_thread):
            client.publish("many", f"{n}-{i}".encode())

    run_threads(worker, threads, WAIT_S)
    payloads = {
        fake_broker.expect(PUBLISH, WAIT_S).decoded.payload for _ in range(threads * per_thread)
    }
    assert len(payloads) == threads * per_thread


class _RacingWakeSocket:
    """Wraps the engine's wake-up socket: the loop thread's first ``recv`` lets another thread
    publish right then (between clearing the "wake pending" flag and reading the socket)."""

    def __init__(
        self, real: socket.socket, loop_thread: threading.Thread, race: Callable[[], None]
    ):
        self._real = real
        self._loop_thread = loop_thread
        self._race = race
        self.raced = False

    def fileno(self) -> int:
        return self._real.fileno()

    def recv(self, size: int) -> bytes:
        if not self.raced and threading.current_thread() is self._loop_thread:
            self.raced = True
            racer = threading.Thread(target=self._race)
            racer.start()
            racer.join(0.5)  # bounded: a fix may make the racer wait for the engine lock
        return self._real.recv(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _through_the_loop_thread(engine: Any) -> None:
    """Make the next publish wake the loop thread: one that waits idle lets a lone publish be
    written by the caller's thread (``Engine.kick``), which would not exercise the wake-up."""
    with engine.lock:
        engine._loop_idle = False


def test_publish_racing_the_loop_wakeup_is_not_stranded(make_client, fake_broker):
    """Deterministic form of the lost wake-up: a publish that lands while the loop thread drains
    its wake-up socket must not leave later publishes unsent."""
    client = make_client()
    start(client, fake_broker)
    engine = client._engine
    loop_thread = client._thread
    assert loop_thread is not None
    proxy = _RacingWakeSocket(engine._wake_r, loop_thread, lambda: client.publish("race", b"racer"))
    engine._wake_r = proxy
    _through_the_loop_thread(engine)
    client.publish("race", b"first")  # wakes the loop thread, which then drains via the proxy
    got = {fake_broker.expect(PUBLISH, WAIT_S).decoded.payload for _ in range(2)}
    assert got == {b"first", b"racer"} and proxy.raced
    time.sleep(0.2)  # let the loop thread go back to sleep in select()
    _through_the_loop_thread(engine)
    client.publish("race", b"after")  # must wake the loop thread again
    assert fake_broker.expect(PUBLISH, 2.0).decoded.payload == b"after"


def test_wait_for_publish_in_thread_started_by_callback(mosquitto, real_client):
    t = topic()
    client = real_client()
    outcome: list[bool] = []
    helpers: list[threading.Thread] = []

    def on_connect(c, userdata, *args):
        info = c.publish(t, b"x", qos=2)

        def waiter() -> None:
            info.wait_for_publish(WAIT_S)
            outcome.append(info.is_published())

        th = threading.Thread(target=waiter)
        helpers.append(th)
        th.start()

    client.on_connect = on_connect
    client.connect("127.0.0.1", mosquitto.port())
    client.loop_start()
    wait_until(lambda: outcome == [True], WAIT_S)
    for th in helpers:
        th.join(WAIT_S)


def test_publish_chain_from_on_publish(mosquitto, real_client):
    t = topic()
    client = real_client(V1)
    done = threading.Event()
    mids: list[int] = []

    def on_publish(c, userdata, mid):
        mids.append(mid)
        if len(mids) < 30:
            c.publish(t, b"next", qos=len(mids) % 3)
        else:
            done.set()

    client.on_publish = on_publish
    client.on_connect = lambda c, u, f, rc: c.publish(t, b"first", qos=1)
    client.connect("127.0.0.1", mosquitto.port())
    client.loop_start()
    assert done.wait(WAIT_S)
    assert len(mids) == len(set(mids)) == 30


def test_publish_from_on_disconnect_is_sent_after_reconnect(make_client, fake_broker):
    client = make_client()
    infos: list[mqtt.MQTTMessageInfo] = []

    def on_disconnect(c, userdata, *args):
        if not infos:
            infos.append(c.publish("later", b"kept", qos=1))

    client.on_disconnect = on_disconnect
    start(client, fake_broker)
    fake_broker.close_client()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    packet = fake_broker.expect(PUBLISH, WAIT_S)
    assert packet.decoded.payload == b"kept" and packet.decoded.packet_id == infos[0].mid
    fake_broker.send(ack(0x40, infos[0].mid))
    infos[0].wait_for_publish(WAIT_S)
    assert infos[0].is_published()


def test_loop_stop_from_on_disconnect_prevents_reconnect(make_client, fake_broker):
    client = make_client()
    stopped: list[Any] = []
    client.on_disconnect = lambda c, *a: stopped.append(c.loop_stop())
    start(client, fake_broker)
    thread = client._thread
    assert thread is not None
    fake_broker.close_client()
    wait_until(lambda: stopped == [mqtt.MQTT_ERR_SUCCESS], WAIT_S)
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert_no_new_connection(fake_broker)


def test_client_calls_from_socket_and_pre_connect_callbacks(make_client, fake_broker):
    """on_socket_close (connection lost) and on_pre_connect may publish; the messages go out on
    the next connection."""
    client = make_client()
    infos: list[mqtt.MQTTMessageInfo] = []
    closes: list[Any] = []
    pre: list[int] = []

    def on_socket_close(c, userdata, sock):
        closes.append(sock)
        infos.append(c.publish("from/close", b"c", qos=1))

    def on_pre_connect(c, userdata):
        pre.append(1)
        if len(pre) == 2:
            infos.append(c.publish("from/pre", b"p", qos=1))

    client.on_socket_close = on_socket_close
    client.on_pre_connect = on_pre_connect
    start(client, fake_broker)
    fake_broker.close_client()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    got = [fake_broker.expect(PUBLISH, WAIT_S).decoded for _ in range(2)]
    assert [p.topic for p in got] == ["from/close", "from/pre"]
    for p in got:
        fake_broker.send(ack(0x40, p.packet_id))
    wait_until(lambda: all(i.is_published() for i in infos), WAIT_S)
    assert len(closes) == 1


def test_concurrent_publishers_and_reentrant_callbacks(mosquitto, real_client):
    """Threads publishing while callbacks publish, subscribe and unsubscribe: no deadlock,
    every message completes."""
    base = topic()
    client = real_client(protocol=mqtt.MQTTv5)
    echoes: list[bytes] = []
    lock = threading.Lock()

    def on_message(c, userdata, msg):
        if msg.topic.endswith("/in"):
            c.publish(base + "/echo", msg.payload, qos=1)
            c.subscribe(base + "/extra", 0)
            c.unsubscribe(base + "/extra")
        else:
            with lock:
                echoes.append(msg.payload)

    client.on_message = on_message
    client.connect("127.0.0.1", mosquitto.port())
    client.loop_start()
    wait_until(client.is_connected, WAIT_S)
    client.subscribe([(base + "/in", 1), (base + "/echo", 1)])
    time.sleep(0.2)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            infos = [client.publish(base + "/in", f"{n}-{i}", qos=i % 3) for i in range(100)]
            for info in infos:
                info.wait_for_publish(WAIT_S)
                assert info.is_published()
        except BaseException as exc:
            errors.append(exc)

    workers = run_threads(worker, 4, WAIT_S * 3)
    assert errors == [] and not any(w.is_alive() for w in workers)
    wait_until(lambda: len(echoes) == 400, WAIT_S * 2)


# =================================================================================================
# Exceptions raised in callbacks
# =================================================================================================


class Boom(Exception):
    pass


def test_exception_in_on_message_is_reraised_by_loop_forever(make_client, fake_broker):
    client = make_client()

    def on_message(c, userdata, msg):
        raise Boom("from on_message")

    client.on_message = on_message
    client.connect("127.0.0.1", fake_broker.port)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack() + publish_bytes("x", b"", 1, 1))
    watchdog = threading.Timer(WAIT_S * 2, client.loop_stop)
    watchdog.start()
    try:
        with pytest.raises(Boom):
            client.loop_forever()
    finally:
        watchdog.cancel()
    fake_broker.expect_nothing(0.2)  # no PUBACK: the callback did not complete


def test_exception_in_on_connect_is_reraised_by_loop_forever(make_client, fake_broker):
    client = make_client()

    def on_connect(c, *args):
        raise Boom("from on_connect")

    client.on_connect = on_connect
    client.connect("127.0.0.1", fake_broker.port)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack())
    watchdog = threading.Timer(WAIT_S * 2, client.loop_stop)
    watchdog.start()
    try:
        with pytest.raises(Boom):
            client.loop_forever()
    finally:
        watchdog.cancel()


def test_exception_in_topic_callback_is_reraised_by_loop(make_client, fake_broker):
    client = make_client()

    def on_a(c, userdata, msg):
        raise Boom("from a topic callback")

    client.message_callback_add("a/#", on_a)
    client.connect("127.0.0.1", fake_broker.port)
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack() + publish_bytes("a/1"))
    with pytest.raises(Boom):
        for _ in range(50):
            client.loop(0.1)


def test_exception_kills_the_loop_start_thread(make_client, fake_broker, monkeypatch):
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    client = make_client()

    def on_message(c, userdata, msg):
        raise Boom("kill the loop")

    client.on_message = on_message
    start(client, fake_broker)
    thread = client._thread
    assert thread is not None
    fake_broker.send(publish_bytes("x"))
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert len(seen) == 1 and isinstance(seen[0], Boom)


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_suppress_exceptions_logs_and_continues(make_client, fake_broker, api):
    calls = Calls()
    client = make_client(api)
    client.suppress_exceptions = True
    calls.attach(client, "on_log")
    got: list[bytes] = []

    def on_message(c, userdata, msg):
        got.append(msg.payload)
        if msg.payload == b"bad":
            raise Boom("suppressed")

    def on_publish(c, userdata, mid, *args):
        raise Boom("also suppressed")

    client.on_message = on_message
    client.on_publish = on_publish
    start(client, fake_broker)
    thread = client._thread
    fake_broker.send(publish_bytes("x", b"bad", 1, 1))
    # paho: the exception is caught around on_message, so the PUBACK still goes out.
    assert fake_broker.expect(PUBACK, WAIT_S) == bytes([0x40, 2, 0, 1])
    fake_broker.send(publish_bytes("x", b"good", 1, 2))
    assert fake_broker.expect(PUBACK, WAIT_S) == bytes([0x40, 2, 0, 2])
    assert got == [b"bad", b"good"]
    info = client.publish("p", b"", qos=1)
    fake_broker.expect(PUBLISH, WAIT_S)
    fake_broker.send(ack(0x40, info.mid))
    info.wait_for_publish(WAIT_S)
    assert info.is_published()  # marked published although on_publish raised
    assert thread is not None and thread.is_alive() and client.is_connected()
    errors = [a for a in calls.get("on_log") if a[0] == mqtt.MQTT_LOG_ERR]
    assert any("on_message" in a[1] and "suppressed" in a[1] for a in errors)
    assert any("on_publish" in a[1] for a in errors)
