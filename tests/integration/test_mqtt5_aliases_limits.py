"""MQTT 5 outgoing topic aliases and the local CONNACK checks, through the paho API.

Against real mosquitto (2.0 announces Topic Alias Maximum 10): automatic aliases with more
topics than the bound, so aliases are reused and reassigned, and every message reaches the
subscriber on its own topic; ``max_qos 1`` and ``retain_available false`` for Maximum QoS
[MQTT-3.2.2-11] and Retain Available [MQTT-3.2.2-14]. Against the scripted fake broker: the
exact bytes of aliased PUBLISHes (§3.3.2.3.4), their reset on reconnect and the replay carrying
the topic [MQTT-3.3.2-7], and the availability flags mosquitto cannot turn off (Wildcard,
Subscription Identifiers, Shared Subscription Available, §3.2.2.3.11-13).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import mqttclient.client as mqtt
from mqttclient import _spec
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from tests.brokers import Listener
from tests.fakebroker import CONNECT, PUBLISH, SUBSCRIBE, FakeBroker
from tests.integration.helpers import V2, Recorder, running, wait_until

WAIT_S = 10.0

MakeClient = Callable[..., mqtt.Client]


@pytest.fixture
def make_client(fake_broker: FakeBroker) -> Iterator[MakeClient]:
    """MQTT 5 clients (VERSION2 callbacks), each stopped after the test; the fake broker's
    connections are closed in between so no reconnecting client outlives the test."""
    made: list[mqtt.Client] = []

    def make(**kwargs: Any) -> mqtt.Client:
        kwargs.setdefault("client_id", f"aliases-{uuid.uuid4().hex[:8]}")
        client = mqtt.Client(V2, protocol=mqtt.MQTTv5, **kwargs)
        client.reconnect_delay_set(0.05, 0.1)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            client.disconnect()
        for connection in fake_broker.connections:
            connection.close()
        for client in made:
            client.loop_stop()


def connack5(*props: tuple[int, Any], session_present: bool = False) -> bytes:
    return encode(P.Connack(session_present, 0, tuple(props)), 5)


def start(client: mqtt.Client, broker: FakeBroker, *props: tuple[int, Any]) -> None:
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    broker.expect(CONNECT, WAIT_S)
    broker.send(connack5(*props))
    wait_until(client.is_connected, WAIT_S)


def sent_topics(log_lines: list[str]) -> list[str]:
    """The topic of every PUBLISH the client logged as sent (paho-style trace lines)."""
    return [line.split("'")[1] for line in log_lines if line.startswith("Sending PUBLISH")]


# =================================================================================================
# real mosquitto
# =================================================================================================


def test_auto_aliases_deliver_every_message_on_its_topic_mosquitto(mosquitto: Any) -> None:
    """12 topics through automatic aliases bounded by mosquitto's Topic Alias Maximum of 10
    (the option asks for 20) [MQTT-3.3.2-9]: each topic is published twice in a row (the second
    PUBLISH is an empty topic + alias), twice over, so the 11th and 12th topics reassign the
    least recently used aliases; then in reverse order, where the 10 most recent topics still
    hold an alias and the 2 oldest do not, taking those of the 2 least recently used. Every
    message reaches the subscriber on its topic."""
    prefix = f"aliases/{uuid.uuid4().hex[:8]}"
    topics = [f"{prefix}/sensor/{i:02d}/temperature" for i in range(12)]
    order = [topic for _ in range(2) for topic in topics for _ in range(2)] + topics[::-1]
    order.append(topics[11])  # least recently used (not least recently set): lost its alias
    expected = [(topic, f"m{n}".encode()) for n, topic in enumerate(order)]
    # What goes on the wire: "" when the topic holds an alias, the topic name otherwise.
    pairs = [topic if n % 2 == 0 else "" for n, topic in enumerate(order[:48])]
    expected_wire = [*pairs, *[""] * 10, topics[1], topics[0], topics[11]]
    received: list[tuple[str, bytes]] = []
    subscribed: list[Any] = []
    sub = mqtt.Client(V2, client_id=f"sub-{prefix[-8:]}", protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, msg: received.append((msg.topic, msg.payload))
    sub.on_subscribe = lambda c, u, mid, codes, props: subscribed.append(codes)
    pub = mqtt.Client(V2, client_id=f"pub-{prefix[-8:]}", protocol=mqtt.MQTTv5)
    assert pub.topic_alias_auto_set(20) is pub
    lines: list[str] = []
    pub.on_log = lambda c, u, level, buf: lines.append(buf)
    connack: list[Any] = []
    pub.on_connect = lambda c, u, flags, rc, props: connack.append(props)
    disconnects: list[Any] = []
    pub.on_disconnect = lambda c, u, flags, rc, props: disconnects.append(rc)
    with running(sub, mosquitto.port()), running(pub, mosquitto.port()):
        assert connack[0].TopicAliasMaximum == 10
        result, _ = sub.subscribe(f"{prefix}/#", qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        wait_until(lambda: subscribed, WAIT_S)
        infos = [pub.publish(topic, payload, qos=1) for topic, payload in expected]
        for info in infos:
            info.wait_for_publish(WAIT_S)
        wait_until(lambda: len(received) >= len(expected), WAIT_S)
        assert disconnects == []
    assert received == expected
    assert sent_topics(lines) == expected_wire


@pytest.fixture
def restricted_broker(mosquitto_factory: Any) -> Any:
    """mosquitto with Maximum QoS 1 (per listener) and Retain Available 0 (global)."""
    return mosquitto_factory(
        listeners=[Listener("tcp", extra=["max_qos 1"])],
        extra_config=["retain_available false"],
    )


def test_maximum_qos_and_retain_available_fail_locally_mosquitto(
    restricted_broker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """[MQTT-3.2.2-11], [MQTT-3.2.2-14]: refused with MQTT_ERR_NOT_SUPPORTED and a warning
    naming the CONNACK property, and the broker never disconnects the client; subscribing at
    QoS 2 stays allowed [MQTT-3.2.2-10]."""
    rec = Recorder()
    client = mqtt.Client(V2, client_id=f"limits-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    rec.attach(client, "on_connect", "on_disconnect", "on_message", "on_subscribe")
    caplog.set_level(logging.WARNING, logger="mqttclient.client")
    with running(client, restricted_broker.port()):
        props = rec.get("on_connect")[0][2]
        assert (props.MaximumQoS, props.RetainAvailable) == (1, 0)  # the config took effect
        result, _ = client.subscribe("limits/#", qos=2)
        assert result == mqtt.MQTT_ERR_SUCCESS
        wait_until(lambda: rec.count("on_subscribe") == 1, WAIT_S)
        assert [int(c.value) for c in rec.get("on_subscribe")[0][1]] == [1]  # granted less

        info = client.publish("limits/a", b"q2", qos=2)
        assert info.rc == mqtt.MQTT_ERR_NOT_SUPPORTED
        assert "Maximum QoS" in caplog.text
        info = client.publish("limits/a", b"kept", qos=0, retain=True)
        assert info.rc == mqtt.MQTT_ERR_NOT_SUPPORTED
        assert "Retain Available" in caplog.text
        assert all(r.levelno == logging.WARNING for r in caplog.records)

        ok = client.publish("limits/a", b"fine", qos=1)
        ok.wait_for_publish(WAIT_S)
        wait_until(lambda: rec.count("on_message") == 1, WAIT_S)
        assert rec.get("on_message")[0][0].payload == b"fine"
        assert client.is_connected()
        assert rec.count("on_disconnect") == 0


def test_messages_queued_offline_are_dropped_at_connack_mosquitto(restricted_broker: Any) -> None:
    """Accepted before the limits were known: reported through on_publish with 0x9B QoS not
    supported / 0x9A Retain not supported, never sent (the broker would disconnect)."""
    rec = Recorder()
    client = mqtt.Client(V2, client_id=f"offline-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    rec.attach(client, "on_publish", "on_disconnect")
    q2 = client.publish("limits/b", b"q2", qos=2)
    retained = client.publish("limits/b", b"kept", qos=1, retain=True)
    fine = client.publish("limits/b", b"fine", qos=1)
    assert (q2.rc, retained.rc, fine.rc) == (mqtt.MQTT_ERR_NO_CONN,) * 3
    with running(client, restricted_broker.port()):
        fine.wait_for_publish(WAIT_S)
        wait_until(lambda: rec.count("on_publish") == 3, WAIT_S)
        codes = {mid: int(code.value) for mid, code, _ in rec.get("on_publish")}
        assert codes[fine.mid] < 0x80  # 0x00, or 0x10 No matching subscribers
        assert codes == {q2.mid: 0x9B, retained.mid: 0x9A, fine.mid: codes[fine.mid]}
        assert (q2.rc, retained.rc, fine.rc) == (
            mqtt.MQTT_ERR_NOT_SUPPORTED,
            mqtt.MQTT_ERR_NOT_SUPPORTED,
            mqtt.MQTT_ERR_SUCCESS,
        )
        for info in (q2, retained):  # waiting ends, with paho's error for a failed publish
            with pytest.raises(RuntimeError, match="not supported"):
                info.wait_for_publish(WAIT_S)
        assert client.is_connected()
        assert rec.count("on_disconnect") == 0


# =================================================================================================
# fake broker: exact bytes and the flags mosquitto cannot turn off
# =================================================================================================


def test_auto_alias_bytes_lru_reset_and_replay(
    make_client: MakeClient, fake_broker: FakeBroker
) -> None:
    """Bound min(5, server 2) [MQTT-3.3.2-9]; establish, reuse with an empty topic, reassign
    the least recently used alias; after a reconnect the map is empty [MQTT-3.3.2-7], so the
    DUP replay carries its topic."""
    client = make_client()
    client.topic_alias_auto_set(5)
    start(client, fake_broker, (_spec.TOPIC_ALIAS_MAXIMUM, 2))
    for topic in ("a", "b", "a", "c", "b"):
        client.publish(topic, b"p")
    expected = [
        "30 08 0001 61 03 230001 70",  # a + alias 1
        "30 08 0001 62 03 230002 70",  # b + alias 2
        "30 07 0000 03 230001 70",  # a: alias 1 alone
        "30 08 0001 63 03 230002 70",  # c takes alias 2 (b was least recently used)
        "30 08 0001 62 03 230001 70",  # b takes alias 1 (a was)
    ]
    for hexed in expected:
        assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex(hexed)
    info = client.publish("d", b"p", qos=1)  # mid 6; c (alias 2) is least recently used
    assert info.mid == 6
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex(
        "32 0a 0001 64 0006 03 230002 70"
    )
    fake_broker.close_client()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(connack5((_spec.TOPIC_ALIAS_MAXIMUM, 2), session_present=True))
    # DUP replay: topic + alias again on the new connection.
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex(
        "3a 0a 0001 64 0006 03 230001 70"
    )
    wait_until(client.is_connected, WAIT_S)
    client.publish("a", b"p")  # a's old alias died with the connection
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex("30 08 0001 61 03 230002 70")


def test_auto_aliases_off_by_default(make_client: MakeClient, fake_broker: FakeBroker) -> None:
    client = make_client()
    start(client, fake_broker, (_spec.TOPIC_ALIAS_MAXIMUM, 10))
    client.publish("a", b"p")
    client.publish("a", b"p")
    for _ in range(2):
        assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex("30 05 0001 61 00 70")


def test_manual_alias_checked_and_mixing_refused(
    make_client: MakeClient, fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """A paho-style TopicAlias within the maximum goes out as given; above it the publish
    fails locally [MQTT-3.3.2-9]; with automatic aliases on it is refused (ValueError)."""
    client = make_client()
    caplog.set_level(logging.WARNING, logger="mqttclient.client")
    start(client, fake_broker, (_spec.TOPIC_ALIAS_MAXIMUM, 2))
    props = Properties(PacketTypes.PUBLISH)
    props.TopicAlias = 2
    client.publish("a", b"p", properties=props)
    client.publish("", b"p", properties=props)
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex("30 08 0001 61 03 230002 70")
    assert bytes(fake_broker.expect(PUBLISH, WAIT_S)) == bytes.fromhex("30 07 0000 03 230002 70")
    props.TopicAlias = 3
    info = client.publish("a", b"p", properties=props)
    assert info.rc == mqtt.MQTT_ERR_NOT_SUPPORTED
    assert "Topic Alias Maximum" in caplog.text
    fake_broker.expect_nothing(0.3)
    assert client.is_connected()

    auto = make_client()
    auto.topic_alias_auto_set(3)
    with pytest.raises(ValueError, match="automatic topic aliases"):
        auto.publish("a", b"p", properties=props)


def test_topic_alias_auto_set_arguments(make_client: MakeClient) -> None:
    client = make_client()
    for bad in (-1, 65536, 1.5, True):
        with pytest.raises(ValueError):
            client.topic_alias_auto_set(bad)  # type: ignore[arg-type]
    v3 = mqtt.Client(V2, protocol=mqtt.MQTTv311)
    with pytest.raises(ValueError, match="MQTT 5"):
        v3.topic_alias_auto_set(5)
    v3.topic_alias_auto_set(0)


@pytest.mark.parametrize(
    ("flag", "subscribe_args", "name"),
    [
        (_spec.WILDCARD_SUBSCRIPTION_AVAILABLE, ("a/+",), "Wildcard Subscription Available"),
        (_spec.WILDCARD_SUBSCRIPTION_AVAILABLE, ("a/#",), "Wildcard Subscription Available"),
        (_spec.SHARED_SUBSCRIPTION_AVAILABLE, ("$share/g/a",), "Shared Subscription Available"),
        (_spec.SUBSCRIPTION_IDENTIFIER_AVAILABLE, ("a", "sid"), "Subscription Identifiers"),
    ],
)
def test_unavailable_subscription_features_fail_locally(
    make_client: MakeClient,
    fake_broker: FakeBroker,
    caplog: pytest.LogCaptureFixture,
    flag: int,
    subscribe_args: tuple[str, ...],
    name: str,
) -> None:
    """§3.2.2.3.11-13: the broker would disconnect (0xA2, 0x9E, 0xA1); the client refuses
    locally with (MQTT_ERR_NOT_SUPPORTED, None) and a warning naming the property."""
    client = make_client()
    caplog.set_level(logging.WARNING, logger="mqttclient.client")
    start(client, fake_broker, (flag, 0))
    properties = None
    if subscribe_args[1:] == ("sid",):
        properties = Properties(PacketTypes.SUBSCRIBE)
        properties.SubscriptionIdentifier = 5
    assert client.subscribe(subscribe_args[0], 1, properties=properties) == (
        mqtt.MQTT_ERR_NOT_SUPPORTED,
        None,
    )
    assert name in caplog.text
    assert [r.levelname for r in caplog.records if name in r.getMessage()] == ["WARNING"]
    fake_broker.expect_nothing(0.3)
    result, mid = client.subscribe("plain/topic", 1)
    assert result == mqtt.MQTT_ERR_SUCCESS
    subscribe = fake_broker.expect(SUBSCRIBE, WAIT_S).decoded
    assert subscribe.packet_id == mid
    assert [s.topic_filter for s in subscribe.subscriptions] == ["plain/topic"]
