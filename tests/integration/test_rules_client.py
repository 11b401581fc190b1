"""Client rules of MQTT 3.1.1 and 5.0 guarded at the public ``Client`` API and on the wire.

API-edge checks need no server; the wire tests drive the client against the scripted fake
broker (``tests/fakebroker.py``) and look at the exact packets. Every docstring cites the
statement ids it guards; ``tests/spec_coverage.py`` maps those ids here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mqttclient.client as mqtt
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from mqttclient.subscribeoptions import SubscribeOptions
from tests.fakebroker import CONNECT, PUBACK, PUBCOMP, PUBREC, FakeBroker, connack
from tests.integration.helpers import V2, wait_until

WAIT_S = 5.0


@pytest.fixture
def offline_client() -> Iterator[mqtt.Client]:
    """A 5.0 client that never connects."""
    client = mqtt.Client(V2, "rules", protocol=mqtt.MQTTv5)
    yield client
    client.loop_stop()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_topic_with_wildcards_is_refused(offline_client: mqtt.Client, qos: int) -> None:
    """[MQTT-3.3.2-2], v3 [MQTT-4.7.1-1] / v5 [MQTT-4.7.0-1]: a Topic Name never contains
    ``+`` or ``#``; ``publish`` refuses it (ValueError) instead of queueing it."""
    for topic in ("a/+", "a/#", "+", "#", "a/b+"):
        with pytest.raises(ValueError):
            offline_client.publish(topic, b"x", qos=qos)
    assert offline_client._session.unfinished_count() == 0


def test_publish_with_a_subscription_identifier_is_refused(offline_client: mqtt.Client) -> None:
    """v5 [MQTT-3.3.4-6]: a PUBLISH from the client never carries a Subscription Identifier
    (only the server's do): ``publish`` refuses the property with ValueError."""
    props = Properties(PacketTypes.PUBLISH)
    props.SubscriptionIdentifier = 7
    with pytest.raises(ValueError, match="Subscription Identifier"):
        offline_client.publish("a", b"x", qos=1, properties=props)
    assert offline_client._session.unfinished_count() == 0


@pytest.mark.parametrize("response_topic", ["a/#", "a/+/b", "+"])
def test_publish_with_a_wildcard_response_topic_is_refused(
    offline_client: mqtt.Client, response_topic: str
) -> None:
    """v5 [MQTT-3.3.2-14]: the Response Topic is a Topic Name, so it has no wildcards;
    ``publish`` refuses one that has (ValueError). A plain one is accepted."""
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response_topic
    with pytest.raises(ValueError, match="Response Topic"):
        offline_client.publish("a", b"x", qos=1, properties=props)
    props.ResponseTopic = "replies/a"
    assert offline_client.publish("a", b"x", qos=1, properties=props).rc == mqtt.MQTT_ERR_NO_CONN


@pytest.mark.parametrize("qos", [1, 2])
def test_publish_topic_that_is_not_utf8_is_refused_offline(
    offline_client: mqtt.Client, qos: int
) -> None:
    """v3 [MQTT-1.5.3-1] / v5 [MQTT-1.5.4-1]: a UTF-8 string never holds a lone surrogate (it has
    no UTF-8 form). ``publish`` must refuse such a topic at once, as it does while connected,
    also for a QoS 1/2 message accepted offline: otherwise the message is queued and only fails
    to encode when the CONNACK releases it."""
    with pytest.raises(ValueError):
        offline_client.publish("a\ud800", b"x", qos=qos)
    assert offline_client._session.unfinished_count() == 0


def test_no_local_on_a_shared_subscription_is_refused(offline_client: mqtt.Client) -> None:
    """v5 [MQTT-3.8.3-4]: setting No Local on a Shared Subscription is a Protocol Error, so the
    client must never send it: ``subscribe`` refuses it with ValueError."""
    with pytest.raises(ValueError):
        offline_client.subscribe("$share/group/a", options=SubscribeOptions(qos=1, noLocal=True))
    # The same options on a plain filter are fine (refused only for want of a connection).
    rc, _ = offline_client.subscribe("a", options=SubscribeOptions(qos=1, noLocal=True))
    assert rc == mqtt.MQTT_ERR_NO_CONN


def test_unsubscribe_needs_at_least_one_filter(offline_client: mqtt.Client) -> None:
    """v3/v5 [MQTT-3.10.3-2]: an UNSUBSCRIBE carries at least one topic filter."""
    with pytest.raises(ValueError):
        offline_client.unsubscribe([])


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
def test_every_publish_is_acknowledged_without_a_subscriber(
    fake_broker: FakeBroker, protocol: mqtt.MQTTProtocolVersion
) -> None:
    """[MQTT-4.5.0-2]: the client acknowledges every PUBLISH it receives according to its QoS,
    even when the application takes no interest in it (no subscription, no ``on_message``):
    PUBACK for QoS 1, PUBREC then PUBCOMP for QoS 2, each with the message's id."""
    v5 = protocol == mqtt.MQTTv5
    client = mqtt.Client(V2, "acks", protocol=protocol)
    client.connect("127.0.0.1", fake_broker.port, keepalive=0)
    client.loop_start()
    try:
        fake_broker.expect(CONNECT)
        fake_broker.send(connack(version=5 if v5 else 4))
        wait_until(client.is_connected, WAIT_S)
        empty_props = b"\x00" if v5 else b""
        # QoS 1, id 0x0107, topic "x/y" then QoS 2, id 0x0208.
        fake_broker.send(b"\x32" + bytes([9 + len(empty_props)]) + b"\x00\x03x/y\x01\x07"
                         + empty_props + b"m1")  # fmt: skip
        fake_broker.send(b"\x34" + bytes([9 + len(empty_props)]) + b"\x00\x03x/y\x02\x08"
                         + empty_props + b"m2")  # fmt: skip
        # PUBACK and PUBREC are ordered only among their own kind [MQTT-4.6.0-2/3].
        acks = {p.packet_type: bytes(p[2:4]) for p in (fake_broker.expect(), fake_broker.expect())}
        assert acks == {PUBACK: b"\x01\x07", PUBREC: b"\x02\x08"}
        fake_broker.send(b"\x62\x02\x02\x08")  # PUBREL
        assert fake_broker.expect(PUBCOMP, WAIT_S)[2:4] == b"\x02\x08"
    finally:
        client.disconnect()
        client.loop_stop()
