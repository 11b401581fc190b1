"""MQTT 5 server redirects, session-takeover backoff and payload-format validation, end to end.

* Redirects (MQTT 5.0 §4.11, §3.2.2.3.16, §3.14.2.2.5): two scripted fake brokers; a CONNACK or
  DISCONNECT with 0x9C/0x9D and a Server Reference sends the client to the other one when
  ``server_redirect_set(follow=True)`` is on, and is only logged otherwise.
* Session takeover (DISCONNECT 0x8E, [MQTT-3.1.4-3]): the wait before the next CONNECT, exact
  bytes against the fake broker; two clients sharing an id against a real mosquitto, which
  (2.0.11) closes the older MQTT 5 connection without sending 0x8E, so those tests opt in to
  counting closes (``closes_in_a_row``).
* Payload Format Indicator 1 with a payload that is not UTF-8 (§3.3.2.3.2, [MQTT-3.3.2-4]):
  PUBACK/PUBREC 0x99 on the wire, in arrival order ([MQTT-4.6.0-2]), never delivered.

No test asserts a time: waits are checked through the delay the client chose
(``Engine.last_backoff_s``) or as counts bounded by the delays.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import mqttclient.client as mqtt
from mqttclient import _spec
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from tests.brokers import Mosquitto
from tests.fakebroker import (
    CONNECT,
    PUBACK,
    PUBCOMP,
    PUBREC,
    FakeBroker,
    connack,
)
from tests.integration.helpers import V2, Recorder, wait_until

WAIT_S = 5.0
V5 = mqtt.MQTTv5
SERVER_REFERENCE = _spec.SERVER_REFERENCE
UTF8 = ((_spec.PAYLOAD_FORMAT_INDICATOR, 1),)
NOT_UTF8 = b"\xff\xfe caf\xc3"

ClientFactory = Callable[..., mqtt.Client]


# --- byte builders (by hand, independent of the library's encoder) ----------------------------


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def connect_v5(client_id: str, clean_start: bool, keepalive: int = 60) -> bytes:
    """CONNECT 5.0 without will, credentials or properties (§3.1)."""
    body = _string("MQTT") + bytes([5, 0x02 if clean_start else 0x00])
    body += keepalive.to_bytes(2, "big") + b"\x00" + _string(client_id)
    assert len(body) < 128
    return bytes([0x10, len(body)]) + body


def disconnect_v5(code: int) -> bytes:
    """DISCONNECT 5.0 with a reason code and no properties (§3.14.2.2.1 short form)."""
    return bytes([0xE0, 0x01, code])


def ack(first: int, packet_id: int, code: int = 0) -> bytes:
    """PUBACK/PUBREC/PUBCOMP: the 2-byte form for 0, else with the reason code (§3.4.2.2.1)."""
    tail = b"" if code == 0 else bytes([code])
    return bytes([first, 2 + len(tail)]) + packet_id.to_bytes(2, "big") + tail


def redirect(code: int, reference: str, *, connack_refusal: bool) -> bytes:
    props = ((SERVER_REFERENCE, reference),)
    if connack_refusal:
        return encode(P.Connack(False, code, props), 5)
    return encode(P.Disconnect(code, props), 5)


def publish(topic: str, payload: bytes, qos: int, packet_id: int = 0, utf8: bool = True) -> bytes:
    return encode(P.Publish(topic, payload, qos, False, False, packet_id, UTF8 if utf8 else ()), 5)


# --- fixtures -----------------------------------------------------------------------------------


def _close_all(broker: FakeBroker) -> None:
    for connection in broker.connections:
        connection.close()
    for _ in range(16):  # connections still in the listen backlog
        try:
            broker.accept(timeout=0.0).close()
        except (AssertionError, OSError):
            return


@pytest.fixture
def other_broker() -> Iterator[FakeBroker]:
    """A second scripted broker on 127.0.0.1, the target of redirects."""
    with FakeBroker() as broker:
        yield broker


@pytest.fixture
def make_client(fake_broker: FakeBroker, other_broker: FakeBroker) -> Iterator[ClientFactory]:
    """Clients (MQTT 5 and ``client_id`` "cid" unless given, reconnect delay 0.05-0.1 s); each
    is disconnected and its loop stopped after the test."""
    made: list[mqtt.Client] = []

    def make(**kwargs: Any) -> mqtt.Client:
        kwargs.setdefault("client_id", "cid")
        kwargs.setdefault("protocol", V5)
        client = mqtt.Client(V2, **kwargs)
        client.reconnect_delay_set(0.05, 0.1)
        made.append(client)
        return client

    yield make
    for client in made:
        client.disconnect()
    for broker in (fake_broker, other_broker):
        _close_all(broker)
    for client in made:
        client.disconnect()
        client.loop_stop()


def start(client: mqtt.Client, broker: FakeBroker) -> bytes:
    """connect() + loop_start(); answer the CONNECT with CONNACK 0; wait until connected."""
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    connect = broker.expect(CONNECT, WAIT_S)
    broker.send(connack(False, 0, 5))
    wait_until(client.is_connected, WAIT_S)
    return bytes(connect)


def assert_no_new_connection(broker: FakeBroker, duration_s: float = 0.5) -> None:
    with pytest.raises(AssertionError, match="no client connected"):
        broker.accept(timeout=duration_s)


def warnings_from(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == level)


# =================================================================================================
# Server redirects (§4.11)
# =================================================================================================


def test_connack_server_moved_is_followed_at_once_when_opted_in(
    make_client: ClientFactory,
    fake_broker: FakeBroker,
    other_broker: FakeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    client = make_client()
    rec.attach(client, "on_connect", "on_disconnect")
    client.server_redirect_set(follow=True, max_redirects=3)
    client.reconnect_delay_set(30, 60)  # the redirect must not wait for any backoff
    reference = f"127.0.0.1:{other_broker.port}"
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    assert bytes(fake_broker.expect(CONNECT, WAIT_S)) == connect_v5("cid", True)
    fake_broker.send(redirect(0x9D, reference, connack_refusal=True))
    # Same CONNECT on the referenced server (still Clean Start: nothing succeeded yet).
    assert bytes(other_broker.expect(CONNECT, WAIT_S)) == connect_v5("cid", True)
    other_broker.send(connack(False, 0, 5))
    wait_until(client.is_connected, WAIT_S)
    assert (client.host, client.port) == ("127.0.0.1", other_broker.port)  # permanent
    # The refusal still reached on_connect and on_disconnect with its properties.
    (_, refused, props), (_, accepted, _) = rec.get("on_connect")
    assert refused == 0x9D and props.ServerReference == reference
    assert accepted == 0
    assert rec.count("on_disconnect") == 1
    text = warnings_from(caplog)
    assert "CONNACK 0x9D Server moved" in text and repr(reference) in text
    assert "following it" in text
    assert_no_new_connection(fake_broker)


def test_connack_redirect_not_followed_by_default_but_logged(
    make_client: ClientFactory,
    fake_broker: FakeBroker,
    other_broker: FakeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    reference = f"127.0.0.1:{other_broker.port}"
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(redirect(0x9D, reference, connack_refusal=True))
    fake_broker.wait_closed(WAIT_S)
    # paho parity: the usual reconnect to the same server, after the backoff.
    assert bytes(fake_broker.expect(CONNECT, WAIT_S)) == connect_v5("cid", True)
    assert_no_new_connection(other_broker)
    assert client.port == fake_broker.port
    text = warnings_from(caplog)
    assert "CONNACK 0x9D Server moved" in text and repr(reference) in text
    assert "not followed" in text


def test_disconnect_use_another_server_while_connected_is_temporary(
    make_client: ClientFactory,
    fake_broker: FakeBroker,
    other_broker: FakeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    client = make_client()
    rec.attach(client, "on_disconnect")
    client.server_redirect_set(follow=True)
    start(client, fake_broker)
    # A list: the first entry has no usable form, the second is taken (§4.11 leaves it open).
    reference = f"mqtt://elsewhere:1 127.0.0.1:{other_broker.port}"
    fake_broker.send(redirect(0x9C, reference, connack_refusal=False))
    # Clean Start 0 now: the automatic reconnect resumes the session (FIRST_ONLY).
    assert bytes(other_broker.expect(CONNECT, WAIT_S)) == connect_v5("cid", False)
    other_broker.send(connack(False, 0, 5))
    wait_until(client.is_connected, WAIT_S)
    [(flags, reason, props)] = rec.get("on_disconnect")
    assert flags.is_disconnect_packet_from_server
    assert reason == 0x9C and props.ServerReference == reference
    # 0x9C is temporary: client.port is unchanged and the next reconnect goes back there.
    assert client.port == fake_broker.port
    other_broker.close_client()
    assert bytes(fake_broker.expect(CONNECT, WAIT_S)) == connect_v5("cid", False)
    text = warnings_from(caplog)
    assert "DISCONNECT 0x9C Use another server" in text and repr(reference) in text


def test_redirect_loop_ends_after_max_redirects(
    make_client: ClientFactory,
    fake_broker: FakeBroker,
    other_broker: FakeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two servers that send the client to each other: at most ``max_redirects`` are followed,
    then the client falls back to its backoff (30 s here) instead of spinning."""
    client = make_client()
    client.server_redirect_set(follow=True, max_redirects=3)
    client.reconnect_delay_set(30, 60)
    to_other = f"127.0.0.1:{other_broker.port}"
    to_first = f"127.0.0.1:{fake_broker.port}"
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    for broker, reference in [
        (fake_broker, to_other),
        (other_broker, to_first),
        (fake_broker, to_other),
        (other_broker, to_first),
    ]:
        broker.expect(CONNECT, WAIT_S)
        broker.send(redirect(0x9D, reference, connack_refusal=True))
    # The fourth redirect is not followed; nothing connects before the 30 s backoff.
    other_broker.wait_closed(WAIT_S)
    assert_no_new_connection(fake_broker)
    assert_no_new_connection(other_broker)
    assert [len(b.connections) for b in (fake_broker, other_broker)] == [2, 2]
    assert client.port == other_broker.port  # where the last followed redirect went
    errors = warnings_from(caplog, logging.ERROR)
    assert "3 redirects in a row (max_redirects=3)" in errors and "redirect loop" in errors


# =================================================================================================
# Session takeover (DISCONNECT 0x8E)
# =================================================================================================


def test_takeover_waits_doubling_before_the_next_connect(
    make_client: ClientFactory, fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """After DISCONNECT 0x8E the reconnect waits the takeover delay (0.2 s, doubling), not the
    reconnect backoff (0.05 s); another close reason falls back to the reconnect backoff."""
    client = make_client(client_id="twin")
    client.takeover_backoff_set(min_delay=0.2, max_delay=5)
    engine = client._engine
    assert start(client, fake_broker) == connect_v5("twin", True)
    waits = []
    for code in (0x8E, 0x8E, 0x8B, 0x8E):
        fake_broker.send(disconnect_v5(code))
        fake_broker.wait_closed(WAIT_S)
        assert bytes(fake_broker.expect(CONNECT, WAIT_S)) == connect_v5("twin", False)
        waits.append(engine.last_backoff_s)
        fake_broker.send(connack(True, 0, 5))
        wait_until(client.is_connected, WAIT_S)
    # Three takeovers in a row (the connections were short), one server shutdown between.
    assert waits == [0.2, 0.4, 0.05, 0.8]
    text = warnings_from(caplog)
    assert "another client connected with the same client id 'twin'" in text
    assert "DISCONNECT 0x8E Session taken over (3 in a row)" in text


def test_takeover_holds_the_connect_back_until_the_wait_ends(
    make_client: ClientFactory, fake_broker: FakeBroker
) -> None:
    client = make_client()
    client.takeover_backoff_set(min_delay=30)
    start(client, fake_broker)
    fake_broker.send(disconnect_v5(0x8E))
    fake_broker.wait_closed(WAIT_S)
    assert_no_new_connection(fake_broker)  # waiting 30 s; disconnect() below ends the wait
    client.disconnect()
    client.loop_stop()
    assert_no_new_connection(fake_broker, 0.2)


def test_takeover_backoff_off_reconnects_with_the_usual_backoff(
    make_client: ClientFactory, fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    client.takeover_backoff_set(min_delay=0)
    start(client, fake_broker)
    fake_broker.send(disconnect_v5(0x8E))
    fake_broker.wait_closed(WAIT_S)
    assert bytes(fake_broker.expect(CONNECT, WAIT_S)) == connect_v5("cid", False)
    assert client._engine.last_backoff_s == 0.05
    assert "Session taken over" in warnings_from(caplog)


def test_server_closes_count_as_takeover_only_when_opted_in(
    make_client: ClientFactory, fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """[MQTT-3.1.4-3] under 3.1.1: the server closes the older connection without a word. By
    default that is an ordinary loss (paho parity); with ``closes_in_a_row=2`` the second close
    in a row of a connection that did not last counts as a takeover."""
    waits: dict[int, list[float]] = {}
    for closes_in_a_row in (0, 2):
        client = make_client(protocol=mqtt.MQTTv311, client_id=f"twin{closes_in_a_row}")
        client.takeover_backoff_set(0.2, 5, closes_in_a_row=closes_in_a_row)
        client.connect("127.0.0.1", fake_broker.port)
        client.loop_start()
        waits[closes_in_a_row] = []
        for attempt in range(4):
            fake_broker.expect(CONNECT, WAIT_S)
            if attempt:
                waits[closes_in_a_row].append(client._engine.last_backoff_s)
            fake_broker.send(connack(False, 0, 4))
            wait_until(client.is_connected, WAIT_S)
            fake_broker.close_client()
            wait_until(lambda c=client: not c.is_connected(), WAIT_S)
        client.disconnect()
        client.loop_stop()
        _close_all(fake_broker)
    assert waits == {0: [0.05, 0.05, 0.05], 2: [0.05, 0.2, 0.4]}
    text = warnings_from(caplog)
    assert "soon after accepting it, 3 times in a row" in text
    assert "probably another client connected with the same client id 'twin2'" in text
    assert "'twin0'" not in text


def _twins(
    mosquitto: Mosquitto, min_delay: float, client_id: str
) -> tuple[list[mqtt.Client], Recorder]:
    rec = Recorder()
    clients = []
    for name in ("first", "second"):
        client = mqtt.Client(V2, client_id=client_id, protocol=V5)
        client.reconnect_delay_set(0.05, 0.1)
        # mosquitto 2.0.11 closes the older connection without DISCONNECT 0x8E, even under
        # MQTT 5: count its closes (the first close is free, the second counts).
        client.takeover_backoff_set(min_delay=min_delay, max_delay=4, closes_in_a_row=2)
        client.on_connect = rec.record(name)
        clients.append(client)
    for client in clients:
        client.connect("127.0.0.1", mosquitto.port())
        client.loop_start()
    return clients, rec


def _stop(clients: list[mqtt.Client]) -> None:
    for client in clients:
        client.disconnect()
        client.loop_stop()


def test_two_clients_with_one_id_back_off_against_mosquitto(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    """After its first close, each takeover makes the kicked client wait 0.5 s, 1 s, 2 s ...
    before reconnecting, so in a window of W s each client reconnects at most 1 + n times with
    0.5 * (2**n - 1) <= W: for W = 3, n = 2 and at most 2 * (1 + 1 + 2) = 8 connections in all,
    however fast the machine."""
    window_s, min_delay = 3.0, 0.5
    n = 0
    while min_delay * (2 ** (n + 1) - 1) <= window_s:
        n += 1
    bound = 2 * (1 + 1 + n)
    clients, rec = _twins(mosquitto, min_delay, f"twin-{uuid.uuid4().hex[:8]}")
    try:
        time.sleep(window_s)
        connects = rec.count("first") + rec.count("second")
    finally:
        _stop(clients)
    assert 2 < connects <= bound, (connects, bound)  # they did fight, and backed off
    assert "another client connected with the same client id" in warnings_from(caplog)


def test_two_clients_with_one_id_without_backoff_exceed_that_bound(mosquitto: Mosquitto) -> None:
    """The same pair with the takeover backoff off: the reconnect backoff (0.05 s, reset by
    every CONNACK) lets them kick each other off far more often than the bound above."""
    clients, rec = _twins(mosquitto, 0, f"twin-{uuid.uuid4().hex[:8]}")
    try:
        wait_until(lambda: rec.count("first") + rec.count("second") > 8, timeout=10)
    finally:
        _stop(clients)


# =================================================================================================
# Payload Format Indicator validation (§3.3.2.3.2)
# =================================================================================================


def test_invalid_utf8_refused_with_0x99_in_order_and_not_delivered(
    make_client: ClientFactory, fake_broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    client = make_client()
    rec.attach(client, "on_message")
    client.payload_format_validation_set(True)
    start(client, fake_broker)
    # One write: valid, invalid, valid (QoS 1). PUBACKs in arrival order [MQTT-4.6.0-2].
    fake_broker.send(
        publish("in/1", "grüße".encode(), 1, 1)
        + publish("in/2", NOT_UTF8, 1, 2)
        + publish("in/3", b"ok", 1, 3)
    )
    got = [bytes(fake_broker.expect(PUBACK, WAIT_S)) for _ in range(3)]
    assert got == [ack(0x40, 1), ack(0x40, 2, 0x99), ack(0x40, 3)]
    # QoS 2: PUBREC 0x99 ends the flow; the PUBREL that a broken server might still send
    # finds no message (PUBCOMP 0x92). QoS 0: dropped.
    fake_broker.send(publish("in/4", NOT_UTF8, 2, 4))
    assert bytes(fake_broker.expect(PUBREC, WAIT_S)) == ack(0x50, 4, 0x99)
    fake_broker.send(bytes([0x62, 0x02, 0x00, 0x04]))
    assert bytes(fake_broker.expect(PUBCOMP, WAIT_S)) == ack(0x70, 4, 0x92)
    fake_broker.send(publish("in/5", NOT_UTF8, 0) + publish("in/6", b"last", 1, 6))
    assert bytes(fake_broker.expect(PUBACK, WAIT_S)) == ack(0x40, 6)
    wait_until(lambda: rec.count("on_message") == 3, WAIT_S)
    assert [args[0].topic for args in rec.get("on_message")] == ["in/1", "in/3", "in/6"]
    text = warnings_from(caplog)
    for topic in ("in/2", "in/4", "in/5"):
        assert repr(topic) in text


def test_invalid_utf8_delivered_unchanged_by_default(
    make_client: ClientFactory, fake_broker: FakeBroker
) -> None:
    rec = Recorder()
    client = make_client()
    rec.attach(client, "on_message")
    start(client, fake_broker)
    fake_broker.send(publish("in/x", NOT_UTF8, 1, 7))
    assert bytes(fake_broker.expect(PUBACK, WAIT_S)) == ack(0x40, 7)
    wait_until(lambda: rec.count("on_message") == 1, WAIT_S)
    assert rec.get("on_message")[0][0].payload == NOT_UTF8
