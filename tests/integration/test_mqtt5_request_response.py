"""Callbacks routed by subscription and ``Client.request()`` / ``respond()`` (docs/mqtt5.rst).

Against the session's mosquitto (2.0 supports Subscription Identifiers, Response Topic and
Correlation Data) and, for what mosquitto never sends (Subscription Identifiers Available = 0,
Response Information, one PUBLISH carrying several identifiers), the scripted fake broker.

Statements (shared/mqtt-client-rules.md, MQTT 5.0): a PUBLISH carries the Subscription
Identifiers of the subscriptions it matched ([MQTT-3.3.4-3], [MQTT-3.3.4-4], [MQTT-3.3.4-5],
§3.3.2.3.8); a client must not send a Subscription Identifier when the server's CONNACK says
Subscription Identifiers Available = 0 (§3.2.2.3.12); Response Topic and Correlation Data are
forwarded unchanged ([MQTT-3.3.2-15], [MQTT-3.3.2-16]) and a responder copies the Correlation
Data into its reply (§4.10.1); Response Information is the basis for response topics (§4.10.2).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import pytest

import mqttclient.client as mqtt
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from mqttclient._core.packets import get_prop
from mqttclient.errors import InvalidStateError, MQTTException, RequestTimeoutError
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from tests.brokers import Mosquitto
from tests.fakebroker import CONNECT, PUBLISH, SUBSCRIBE, FakeBroker
from tests.integration.helpers import V1, V2, Recorder, running, wait_until

SUBSCRIPTION_IDENTIFIER = 0x0B
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
WAIT_S = 10.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def v5_client(api: Any = V2, **kwargs: Any) -> mqtt.Client:
    return mqtt.Client(api, client_id=kwargs.pop("client_id", unique("rr")), protocol=mqtt.MQTTv5)


def topics(rec: Recorder, name: str) -> list[str]:
    return [args[0].topic for args in rec.get(name)]


def payloads(rec: Recorder, name: str) -> list[bytes]:
    return [args[0].payload for args in rec.get(name)]


def subscription_ids(rec: Recorder, name: str) -> list[list[int]]:
    return [args[0].properties.SubscriptionIdentifier for args in rec.get(name)]


def subscribe_and_wait(client: mqtt.Client, rec: Recorder, topic: str, **kwargs: Any) -> None:
    """Subscribe and wait for the SUBACK (``rec`` records ``on_subscribe``)."""
    before = rec.count("on_subscribe")
    rc, _ = client.subscribe(topic, qos=1, **kwargs)
    assert rc == mqtt.MQTT_ERR_SUCCESS
    wait_until(lambda: rec.count("on_subscribe") == before + 1, WAIT_S)


def publish_and_wait_for(client: mqtt.Client, rec: Recorder, name: str, topic: str) -> None:
    """Publish a sentinel to ``topic`` and wait until callback ``name`` has it: everything the
    broker sent this client before it has been dispatched (one connection, in order)."""
    marker = uuid.uuid4().hex.encode()
    client.publish(topic, marker, qos=1)
    wait_until(lambda: marker in payloads(rec, name), WAIT_S)


# =================================================================================================
# routing by Subscription Identifier, against mosquitto
# =================================================================================================


@pytest.mark.parametrize("api", [V1, V2], ids=["VERSION1", "VERSION2"])
def test_overlapping_subscriptions_with_callbacks_get_exactly_their_matches(
    mosquitto: Mosquitto, api: Any
) -> None:
    # [MQTT-3.3.4-3/-4/-5]: whatever copies the server sends, each carries the identifiers of
    # the subscriptions it stands for; each callback gets what its subscription matched, once.
    base = unique("routes")
    rec = Recorder()
    client = v5_client(api)
    rec.attach(client, "on_message", "on_subscribe")
    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/#", callback=rec.record("wide"))
        subscribe_and_wait(client, rec, f"{base}/b", callback=rec.record("narrow"))
        subscribe_and_wait(client, rec, f"{base}-plain")
        for topic in (f"{base}/b", f"{base}/c", f"{base}-plain"):
            client.publish(topic, topic.encode(), qos=1)
        publish_and_wait_for(client, rec, "on_message", f"{base}-plain")
    assert topics(rec, "wide") == [f"{base}/b", f"{base}/c"]
    assert topics(rec, "narrow") == [f"{base}/b"]
    assert payloads(rec, "on_message")[:1] == [f"{base}-plain".encode()]  # only unrouted ones
    assert rec.count("on_message") == 2
    wide_ids = {tuple(ids) for ids in subscription_ids(rec, "wide")}
    narrow_ids = {tuple(ids) for ids in subscription_ids(rec, "narrow")}
    assert len(wide_ids) == 1 and len(narrow_ids) == 1 and wide_ids != narrow_ids


def test_identifiers_the_user_assigns_route_until_removed(mosquitto: Mosquitto) -> None:
    base = unique("own-ids")
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_message", "on_subscribe")
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 4242
    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/t", properties=props)
        client.subscription_callback_add(4242, rec.record("mine"))
        publish_and_wait_for(client, rec, "mine", f"{base}/t")
        assert subscription_ids(rec, "mine") == [[4242]]
        assert client.subscription_callback_remove(4242) is True
        publish_and_wait_for(client, rec, "on_message", f"{base}/t")
    assert rec.count("mine") == 1
    assert rec.count("on_message") == 1


def test_a_callback_subscription_uses_the_identifier_in_its_properties_and_unsubscribe_ends_it(
    mosquitto: Mosquitto,
) -> None:
    base = unique("unsub")
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_message", "on_subscribe", "on_unsubscribe")
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 77
    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/#", properties=props, callback=rec.record("cb"))
        publish_and_wait_for(client, rec, "cb", f"{base}/x")
        assert subscription_ids(rec, "cb") == [[77]]
        client.unsubscribe(f"{base}/#")
        wait_until(lambda: rec.count("on_unsubscribe") == 1, WAIT_S)
        # The same identifier again, without a callback: its messages are no longer routed.
        subscribe_and_wait(client, rec, f"{base}/#", properties=props)
        publish_and_wait_for(client, rec, "on_message", f"{base}/x")
    assert subscription_ids(rec, "on_message") == [[77]]
    assert rec.count("cb") == 1


def test_message_callback_add_still_works_beside_routes(mosquitto: Mosquitto) -> None:
    base = unique("beside")
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_message", "on_subscribe")
    client.message_callback_add(f"{base}/filtered/#", rec.record("by_filter"))
    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/routed", callback=rec.record("routed"))
        subscribe_and_wait(client, rec, f"{base}/filtered/#")
        publish_and_wait_for(client, rec, "routed", f"{base}/routed")
        publish_and_wait_for(client, rec, "by_filter", f"{base}/filtered/a")
    assert rec.count("routed") == 1 and rec.count("by_filter") == 1
    assert rec.count("on_message") == 0


def test_mqtt311_routes_by_topic_filter(mosquitto: Mosquitto) -> None:
    # No identifiers in 3.1.1: the callback gets the messages its filter matches, including
    # through a $share/ subscription (matched by its inner filter).
    base = unique("v311")
    group = unique("g")
    rec = Recorder()
    client = mqtt.Client(V2, client_id=unique("v311"), protocol=mqtt.MQTTv311)
    rec.attach(client, "on_message", "on_subscribe", "on_unsubscribe")
    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/a/+", callback=rec.record("a"))
        subscribe_and_wait(client, rec, f"$share/{group}/{base}/s/#", callback=rec.record("s"))
        subscribe_and_wait(client, rec, f"{base}-plain")
        client.publish(f"{base}/a/x", b"1", qos=1)
        client.publish(f"{base}/s/y/z", b"2", qos=1)
        publish_and_wait_for(client, rec, "on_message", f"{base}-plain")
        assert topics(rec, "a") == [f"{base}/a/x"]
        assert topics(rec, "s") == [f"{base}/s/y/z"]
        # Unsubscribing ends the route: a message the old filter matches, arriving through
        # another subscription, goes to on_message.
        client.unsubscribe(f"{base}/a/+")
        wait_until(lambda: rec.count("on_unsubscribe") == 1, WAIT_S)
        subscribe_and_wait(client, rec, f"{base}/a/#")
        publish_and_wait_for(client, rec, "on_message", f"{base}/a/q")
    assert rec.count("a") == 1 and rec.count("s") == 1
    assert topics(rec, "on_message")[1:] == [f"{base}/a/q"]


# =================================================================================================
# routing, against the fake broker
# =================================================================================================


@contextmanager
def fake_session(
    fake_broker: FakeBroker, connack_props: P.Props = (), connect_props: Optional[Properties] = None
) -> Iterator[tuple[mqtt.Client, Recorder]]:
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_message")
    client.connect("127.0.0.1", fake_broker.port, properties=connect_props)
    client.loop_start()
    try:
        fake_broker.expect(CONNECT)
        fake_broker.send(encode(P.Connack(False, 0, connack_props), 5))
        wait_until(client.is_connected, WAIT_S)
        yield client, rec
    finally:
        client.disconnect()
        client.loop_stop()


def expect_subscribe(fake_broker: FakeBroker) -> Any:
    subscribe = fake_broker.expect(SUBSCRIBE).decoded
    fake_broker.send(encode(P.Suback(subscribe.packet_id, (1,)), 5))
    return subscribe


def test_one_publish_with_several_identifiers_reaches_each_callback_once(
    fake_broker: FakeBroker,
) -> None:
    # [MQTT-3.3.4-4]: a single copy carries every matching subscription's identifier; §3.3.2.3.8:
    # an identifier may repeat. Unknown identifiers (99) take no part.
    with fake_session(fake_broker) as (client, rec):
        client.subscribe("s/#", qos=1, callback=rec.record("wide"))
        wide = get_prop(expect_subscribe(fake_broker).properties, SUBSCRIPTION_IDENTIFIER)
        client.subscribe("s/b", qos=1, callback=rec.record("narrow"))
        narrow = get_prop(expect_subscribe(fake_broker).properties, SUBSCRIPTION_IDENTIFIER)
        assert wide and narrow and wide != narrow
        ids = ((SUBSCRIPTION_IDENTIFIER, narrow), (SUBSCRIPTION_IDENTIFIER, wide))
        fake_broker.send(encode(P.Publish("s/b", b"both", 0, properties=ids * 2), 5))
        only_99 = ((SUBSCRIPTION_IDENTIFIER, 99),)
        fake_broker.send(encode(P.Publish("s/b", b"none", 0, properties=only_99), 5))
        wait_until(lambda: rec.count("on_message") == 1, WAIT_S)
    assert payloads(rec, "wide") == [b"both"]
    assert payloads(rec, "narrow") == [b"both"]
    assert payloads(rec, "on_message") == [b"none"]


def test_without_identifier_support_subscribe_callback_routes_by_filter(
    fake_broker: FakeBroker,
) -> None:
    # §3.2.2.3.12: Subscription Identifiers Available = 0 -> the SUBSCRIBE carries none, and the
    # client routes by the subscription's filter instead.
    with fake_session(fake_broker, ((0x29, 0),)) as (client, rec):
        client.subscribe("f/a/#", qos=1, callback=rec.record("a"))
        subscribe = expect_subscribe(fake_broker)
        assert get_prop(subscribe.properties, SUBSCRIPTION_IDENTIFIER) is None
        fake_broker.send(encode(P.Publish("f/a/1", b"1", 0), 5))
        fake_broker.send(encode(P.Publish("f/other", b"2", 0), 5))
        wait_until(lambda: rec.count("on_message") == 1, WAIT_S)
    assert payloads(rec, "a") == [b"1"]
    assert payloads(rec, "on_message") == [b"2"]


# =================================================================================================
# request / respond
# =================================================================================================


def test_request_uses_response_information_and_waits_for_the_suback(
    fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    # §4.10.2: asked for in CONNECT (Request Response Information 1), the server's Response
    # Information is the basis of the response topic. The request goes out only after the SUBACK.
    caplog.set_level(logging.DEBUG, logger="mqttclient.client")
    connect = Properties(PacketTypes.CONNECT)
    connect.RequestResponseInformation = 1
    granted = ((0x1A, "replies/granted-to-me"),)
    result: dict[str, Any] = {}

    def ask(client: mqtt.Client) -> None:
        try:
            result["reply"] = client.request("svc/echo", b"hi", qos=0, timeout=WAIT_S)
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    with fake_session(fake_broker, granted, connect) as (client, rec):
        asker = threading.Thread(target=ask, args=(client,), daemon=True)
        asker.start()
        subscribe = fake_broker.expect(SUBSCRIBE).decoded
        response_topic = subscribe.subscriptions[0].topic_filter
        assert response_topic.startswith("replies/granted-to-me/")
        sid = get_prop(subscribe.properties, SUBSCRIPTION_IDENTIFIER)
        assert sid
        fake_broker.expect_nothing(0.2)  # no request before the SUBACK
        fake_broker.send(encode(P.Suback(subscribe.packet_id, (1,)), 5))
        request = fake_broker.expect(PUBLISH).decoded
        assert get_prop(request.properties, RESPONSE_TOPIC) == response_topic
        correlation = get_prop(request.properties, CORRELATION_DATA)
        assert correlation
        for data, payload in ((b"not-ours", b"stray"), (correlation, b"answer")):
            props = ((CORRELATION_DATA, data), (SUBSCRIPTION_IDENTIFIER, sid))
            fake_broker.send(encode(P.Publish(response_topic, payload, 0, properties=props), 5))
        asker.join(WAIT_S)
        assert not asker.is_alive()
    assert "error" not in result, result
    assert result["reply"].payload == b"answer"
    assert rec.count("on_message") == 0  # the stray reply was dropped, not given to on_message
    assert "unknown correlation data dropped" in caplog.text


def test_a_request_made_while_the_connack_is_awaited_waits_for_it(fake_broker: FakeBroker) -> None:
    # connect(); loop_start(); request(): CONNECT is out, the CONNACK not yet in.
    client = v5_client()
    result: dict[str, Any] = {}

    def ask() -> None:
        try:
            result["reply"] = client.request("svc/echo", b"hi", qos=0, timeout=WAIT_S)
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    asker = threading.Thread(target=ask, daemon=True)
    try:
        fake_broker.expect(CONNECT)
        asker.start()
        fake_broker.expect_nothing(0.2)  # the request waits; nothing goes out before CONNACK
        assert "error" not in result, result
        fake_broker.send(encode(P.Connack(False, 0), 5))
        subscribe = expect_subscribe(fake_broker)
        response_topic = subscribe.subscriptions[0].topic_filter
        assert response_topic.startswith(f"mqttclient/responses/{client._client_id}/")
        request = fake_broker.expect(PUBLISH).decoded
        props = (
            (CORRELATION_DATA, get_prop(request.properties, CORRELATION_DATA)),
            (SUBSCRIPTION_IDENTIFIER, get_prop(subscribe.properties, SUBSCRIPTION_IDENTIFIER)),
        )
        fake_broker.send(encode(P.Publish(response_topic, b"answer", 0, properties=props), 5))
        asker.join(WAIT_S)
        assert not asker.is_alive()
    finally:
        client.disconnect()
        client.loop_stop()
    assert "error" not in result, result
    assert result["reply"].payload == b"answer"


class Asker:
    """``client.request()`` on its own thread; ``result()`` joins it (bounded)."""

    def __init__(self, client: mqtt.Client, payload: bytes) -> None:
        self.outcome: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(client, payload), daemon=True)
        self._thread.start()

    def _run(self, client: mqtt.Client, payload: bytes) -> None:
        try:
            self.outcome["reply"] = client.request("svc/x", payload, qos=0, timeout=WAIT_S)
        except Exception as exc:  # reported by result()
            self.outcome["error"] = exc

    def result(self) -> mqtt.MQTTMessage:
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()
        assert "error" not in self.outcome, self.outcome
        return self.outcome["reply"]  # type: ignore[no-any-return]


def answer(fake_broker: FakeBroker, response_topic: str, sid: int, payload: bytes) -> None:
    """Read the next request and answer it on ``response_topic`` with identifier ``sid``."""
    request = fake_broker.expect(PUBLISH).decoded
    props = (
        (CORRELATION_DATA, get_prop(request.properties, CORRELATION_DATA)),
        (SUBSCRIPTION_IDENTIFIER, sid),
    )
    fake_broker.send(encode(P.Publish(response_topic, payload, 0, properties=props), 5))


def test_a_new_connection_subscribes_the_response_topic_again_with_the_same_identifier(
    fake_broker: FakeBroker,
) -> None:
    # The server may have no session after a reconnect: the response topic is subscribed again
    # (once), with the same Subscription Identifier, so replies to either SUBSCRIBE are known.
    with fake_session(fake_broker) as (client, rec):
        client.reconnect_delay_set(0.01, 0.05)
        asker = Asker(client, b"1")
        first = expect_subscribe(fake_broker)
        topic = first.subscriptions[0].topic_filter
        sid = get_prop(first.properties, SUBSCRIPTION_IDENTIFIER)
        answer(fake_broker, topic, sid, b"one")
        assert asker.result().payload == b"one"
        asker = Asker(client, b"2")  # same connection: no second SUBSCRIBE
        answer(fake_broker, topic, sid, b"two")
        assert asker.result().payload == b"two"
        fake_broker.close_client()
        fake_broker.expect(CONNECT)
        fake_broker.send(encode(P.Connack(False, 0), 5))
        wait_until(client.is_connected, WAIT_S)
        asker = Asker(client, b"3")
        again = expect_subscribe(fake_broker)
        assert again.subscriptions[0].topic_filter == topic
        assert get_prop(again.properties, SUBSCRIPTION_IDENTIFIER) == sid
        answer(fake_broker, topic, sid, b"three")
        assert asker.result().payload == b"three"
    assert rec.count("on_message") == 0


@pytest.fixture
def responder(mosquitto: Mosquitto) -> Iterator[tuple[mqtt.Client, str, list[mqtt.MQTTMessage]]]:
    """A client answering ``<base>/echo`` with ``re:<payload>`` and holding (not answering)
    requests on ``<base>/slow``."""
    base = unique("svc")
    held: list[mqtt.MQTTMessage] = []
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_subscribe")

    def echo(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        client.respond(msg, b"re:" + msg.payload, qos=1)

    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/echo", callback=echo)
        subscribe_and_wait(client, rec, f"{base}/slow", callback=lambda c, u, m: held.append(m))
        yield client, base, held


def subscribe_count(broker: Mosquitto, client_id: str) -> int:
    text = broker.log_path.read_text(errors="replace") if broker.log_path.exists() else ""
    return text.count(f"Received SUBSCRIBE from {client_id}")


def test_concurrent_requests_each_get_their_own_reply(mosquitto: Mosquitto, responder: Any) -> None:
    _, base, _ = responder
    rec = Recorder()
    client_id = unique("requester")
    client = v5_client(client_id=client_id)
    rec.attach(client, "on_message", "on_subscribe")
    count = 8
    replies: list[Optional[mqtt.MQTTMessage]] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def worker(n: int) -> None:
        try:
            start.wait(WAIT_S)
            replies[n] = client.request(f"{base}/echo", f"n{n}".encode(), timeout=WAIT_S)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with running(client, mosquitto.port()):
        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S * 2)
        assert not errors, errors
        again = client.request(f"{base}/echo", b"again", timeout=WAIT_S)
    assert [r.payload if r else None for r in replies] == [
        f"re:n{n}".encode() for n in range(count)
    ]
    assert again.payload == b"re:again"
    correlations = {r.properties.CorrelationData for r in replies if r and r.properties}
    assert len(correlations) == count
    # One SUBSCRIBE to the response topic for all of them, and it is the library's own: the
    # user's on_subscribe and on_message hear nothing.
    wait_until(lambda: subscribe_count(mosquitto, client_id) >= 1, WAIT_S)
    assert subscribe_count(mosquitto, client_id) == 1
    assert rec.count("on_subscribe") == 0 and rec.count("on_message") == 0


def test_request_times_out_and_a_late_reply_is_dropped(
    mosquitto: Mosquitto, responder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mqttclient.client")
    server, base, held = responder
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_message")
    with running(client, mosquitto.port()):
        with pytest.raises(RequestTimeoutError) as raised:
            client.request(f"{base}/slow", b"1", timeout=0.3)
        assert isinstance(raised.value, TimeoutError) and isinstance(raised.value, MQTTException)
        with pytest.raises(RequestTimeoutError):
            client.request(f"{base}/nobody-listens", b"2", timeout=0.3)
        wait_until(lambda: held, WAIT_S)
        server.respond(held[0], b"late", qos=1)
        # The echo's reply comes after the late one on the same topic: once it is back, the late
        # reply has been handled, and dropped.
        assert client.request(f"{base}/echo", b"x", timeout=WAIT_S).payload == b"re:x"
    assert rec.count("on_message") == 0
    assert "unknown correlation data dropped" in caplog.text


def test_request_inside_a_callback_raises(mosquitto: Mosquitto) -> None:
    base = unique("inside")
    rec = Recorder()
    client = v5_client()
    rec.attach(client, "on_subscribe")
    raised: list[BaseException] = []

    def on_trigger(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            client.request(f"{base}/svc", b"", timeout=WAIT_S)
        except InvalidStateError as exc:
            raised.append(exc)

    with running(client, mosquitto.port()):
        subscribe_and_wait(client, rec, f"{base}/trigger", callback=on_trigger)
        client.publish(f"{base}/trigger", b"go", qos=1)
        wait_until(lambda: raised, WAIT_S)
    assert "network-loop thread" in str(raised[0])


def test_request_needs_mqtt5_and_a_connection() -> None:
    v311 = mqtt.Client(V2, protocol=mqtt.MQTTv311)
    with pytest.raises(InvalidStateError, match=r"MQTT 5\.0"):
        v311.request("a", b"")
    offline = v5_client()
    with pytest.raises(InvalidStateError, match="not connected"):
        offline.request("a", b"", timeout=1)


def test_request_and_respond_check_their_properties(mosquitto: Mosquitto, responder: Any) -> None:
    _, base, _ = responder
    client = v5_client()
    with running(client, mosquitto.port()):
        own = Properties(PacketTypes.PUBLISH)
        own.CorrelationData = b"mine"
        with pytest.raises(ValueError, match="Correlation Data"):
            client.request(f"{base}/echo", b"", properties=own)
        extra = Properties(PacketTypes.PUBLISH)
        extra.UserProperty = ("k", "v")
        assert client.request(f"{base}/echo", b"p", properties=extra).payload == b"re:p"
        assert not hasattr(extra, "ResponseTopic")  # the caller's properties stay untouched
    plain = mqtt.MQTTMessage(topic=b"t")
    plain.properties = Properties(PacketTypes.PUBLISH)
    with pytest.raises(ValueError, match="no Response Topic"):
        client.respond(plain, b"")
