"""Session: protocol violations by the server, server DISCONNECT, AUTH, and what follows them."""

from __future__ import annotations

import logging

import pytest

from mqttclient import _spec
from mqttclient._core.events import ProtocolViolation, ServerDisconnected, Subscribed
from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)
from mqttclient._core.session import SessionState
from mqttclient.errors import (
    MalformedPacketError,
    PacketTooLargeError,
    ProtocolError,
    TopicAliasInvalidError,
)

from ._session_harness import Harness


def violation(events: list) -> ProtocolError:  # type: ignore[type-arg]
    assert len(events) >= 1
    assert isinstance(events[-1], ProtocolViolation), events
    return events[-1].error


def test_malformed_bytes_v5_after_connack() -> None:
    h = Harness(5)
    h.connect()
    error = violation(h.feed_bytes(b"\x36\x00"))  # PUBLISH with QoS 3
    assert isinstance(error, MalformedPacketError)
    assert error.reason_code == 0x81
    assert h.take() == [Disconnect(0x81)]
    assert h.session.state == SessionState.CLOSING


def test_malformed_bytes_v3_just_closes() -> None:
    h = Harness(4)
    h.connect()
    error = violation(h.feed_bytes(b"\x00\x00"))
    assert error.reason_code == 0x81
    assert h.take() == []  # 3.x: no reason can be sent [MQTT-4.8.0-1]
    assert h.session.state == SessionState.CLOSING


def test_packet_larger_than_our_maximum_packet_size() -> None:
    h = Harness(5, connect_properties=((_spec.MAXIMUM_PACKET_SIZE, 64),))
    h.connect()
    h.feed(Publish("t", b"x" * 50, 0))  # fits
    error = violation(h.feed(Publish("t", b"x" * 100, 0)))
    assert isinstance(error, PacketTooLargeError)
    assert h.take() == [Disconnect(0x95)]


def test_receive_is_ignored_after_a_violation() -> None:
    h = Harness(5)
    h.connect()
    events = h.feed(Publish("", b"", 0), Publish("t", b"later", 0))
    assert len(events) == 1  # processing stopped at the bad packet
    violation(events)
    h.take()
    assert h.feed(Publish("t", b"x", 0)) == []
    assert h.take() == []


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize(
    "packet",
    [Publish("t", b"", 0), Puback(1), Suback(1, (0,)), Pingresp(), Unsuback(1, (0,))],
)
def test_packet_before_connack(version: int, packet: Packet) -> None:
    h = Harness(version)
    h.open()
    error = violation(h.feed(packet))
    assert error.reason_code == 0x82
    assert h.take() == []  # no DISCONNECT before CONNACK
    assert h.session.state == SessionState.CLOSING


def test_server_disconnect_before_connack_v5() -> None:
    h = Harness(5)
    h.open()
    assert violation(h.feed(Disconnect(0x87))).reason_code == 0x82  # [MQTT-3.14.0-1]


def test_second_connack() -> None:
    h = Harness(5)
    h.connect()
    error = violation(h.feed(Connack(False, 0)))
    assert error.reason_code == 0x82
    assert h.take() == [Disconnect(0x82)]


@pytest.mark.parametrize(
    "packet",
    [
        Connect("x", 5),
        Subscribe(1, (Subscription("a"),)),
        Unsubscribe(1, ("a",)),
        Pingreq(),
    ],
)
def test_client_only_packets_from_server(packet: Packet) -> None:
    h = Harness(5)
    h.connect()
    assert violation(h.feed(packet)).reason_code == 0x82
    assert h.take() == [Disconnect(0x82)]


@pytest.mark.parametrize("version", [4, 5])
def test_suback_count_mismatch(version: int) -> None:
    h = Harness(version)
    h.connect()
    mid = h.session.subscribe((Subscription("a"), Subscription("b")), (), 0.0)
    h.take()
    assert violation(h.feed(Suback(mid, (0,)))).reason_code == 0x82
    assert h.take() == ([Disconnect(0x82)] if version == 5 else [])


def test_suback_matching_count() -> None:
    h = Harness(4)
    h.connect()
    mid = h.session.subscribe((Subscription("a"), Subscription("b")), (), 0.0)
    assert h.feed(Suback(mid, (0, 0x80))) == [Subscribed(mid, (0, 0x80))]


def test_unsuback_count_mismatch_v5() -> None:
    h = Harness(5)
    h.connect()
    mid = h.session.unsubscribe(("a", "b"), (), 0.0)
    assert violation(h.feed(Unsuback(mid, (0, 0, 0)))).reason_code == 0x82


def test_suback_for_unsubscribe_id_is_unknown(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(4)
    h.connect()
    mid = h.session.unsubscribe(("a",), (), 0.0)
    with caplog.at_level(logging.WARNING):
        assert h.feed(Suback(mid, (0,))) == []
    assert "SUBACK" in caplog.text


def test_server_disconnect_v5() -> None:
    h = Harness(5)
    h.connect()
    props = ((_spec.REASON_STRING, "bye"), (_spec.SERVER_REFERENCE, "other:1883"))
    events = h.feed(Disconnect(0x9C, props), Publish("t", b"", 0))
    assert events == [ServerDisconnected(0x9C, props)]
    assert h.session.state == SessionState.CLOSING
    assert h.take() == []
    assert h.session.next_deadline() is None


def test_server_disconnect_v3_is_a_violation() -> None:
    h = Harness(4)
    h.connect()
    assert violation(h.feed(Disconnect(), version=5)).reason_code == 0x82


def test_auth_without_method_is_a_violation() -> None:
    h = Harness(5)
    h.connect()
    assert violation(h.feed(Auth(0x18, ((_spec.AUTHENTICATION_METHOD, "X"),)))).reason_code == 0x82
    h2 = Harness(5)
    h2.open()
    assert violation(h2.feed(Auth(0x18, ((_spec.AUTHENTICATION_METHOD, "X"),)))).reason_code == 0x82


def test_auth_challenge_without_authenticator_ends_the_exchange(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A method given as a raw CONNECT property (paho style) and no authenticator: a challenge
    # cannot be answered, so the client ends the exchange at once (DISCONNECT before CONNACK is
    # allowed with a method, [MQTT-3.1.2-30]) instead of waiting for the CONNACK timeout.
    # tests/unit/test_session_auth.py covers enhanced authentication itself.
    method = ((_spec.AUTHENTICATION_METHOD, "SCRAM-SHA-1"),)
    h = Harness(5, connect_properties=method)
    h.open()
    with caplog.at_level(logging.WARNING):
        assert violation(h.feed(Auth(0x18, method))).reason_code == 0x80
    assert "no authenticator" in caplog.text
    assert h.take() == [Disconnect(0x80)]
    assert h.session.state == SessionState.CLOSING


def test_violation_while_disconnecting_sends_no_second_disconnect() -> None:
    h = Harness(5)
    h.connect()
    h.session.disconnect(0, (), 0.0)
    violation(h.feed(Publish("", b"", 0)))
    assert h.take() == [Disconnect()]


def test_violation_errors_are_typed() -> None:
    h = Harness(5, connect_properties=((_spec.TOPIC_ALIAS_MAXIMUM, 1),))
    h.connect()
    error = violation(h.feed(Publish("t", b"", 0, properties=((_spec.TOPIC_ALIAS, 2),))))
    assert isinstance(error, TopicAliasInvalidError)
