"""Client rules of MQTT 3.1.1 and 5.0 that no other test guarded, shown on the sans-I/O session.

Each test plays the server with the scripted harness (``_session_harness.Harness``): packets and
times in, the bytes the session queued out. Every docstring cites the statement ids it guards;
``tests/spec_coverage.py`` maps those ids here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mqttclient import _spec
from mqttclient._core.events import Event, MessageReceived, ProtocolViolation, PublishCompleted
from mqttclient._core.packets import (
    Connack,
    Disconnect,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Subscribe,
    Subscription,
    Unsubscribe,
)
from mqttclient._core.session import SessionState
from mqttclient.errors import MalformedPacketError

from ._session_harness import Harness


def _violation(events: Sequence[Event]) -> ProtocolViolation:
    violations = [e for e in events if isinstance(e, ProtocolViolation)]
    assert violations, events
    return violations[-1]


def _delivered(events: Sequence[Event]) -> list[Publish]:
    return [e.publish for e in events if isinstance(e, MessageReceived)]


# --- fixed header (v3 §2.2.2, v5 §2.1.3) -----------------------------------------------------------

# First bytes with wrong reserved flags, each followed by a body that would be valid otherwise.
_BAD_FLAGS = [
    pytest.param(b"\x60\x02\x00\x01", id="pubrel-0000"),
    pytest.param(b"\x63\x02\x00\x01", id="pubrel-0011"),
    pytest.param(b"\x42\x02\x00\x01", id="puback-0010"),
    pytest.param(b"\x51\x02\x00\x01", id="pubrec-0001"),
    pytest.param(b"\x78\x02\x00\x01", id="pubcomp-1000"),
    pytest.param(b"\x92\x03\x00\x01\x00", id="suback-0010"),
    pytest.param(b"\xd2\x00", id="pingresp-0010"),
]


@pytest.mark.parametrize("data", _BAD_FLAGS)
def test_wrong_fixed_header_flags_close_without_a_packet_v3(data: bytes) -> None:
    """v3 [MQTT-2.2.2-2], [MQTT-3.6.1-1], [MQTT-4.8.0-1]: a packet whose reserved flags are not
    the listed values is a protocol violation; the client closes the connection and, having no
    way to give a reason in 3.1.1, sends nothing."""
    h = Harness(4)
    h.connect()
    error = _violation(h.feed_bytes(data)).error
    assert isinstance(error, MalformedPacketError)
    assert h.session.state == SessionState.CLOSING
    assert h.take() == []


@pytest.mark.parametrize(
    "data",
    [
        *_BAD_FLAGS,
        pytest.param(b"\xe1\x00", id="disconnect-0001"),
        pytest.param(b"\xf4\x00", id="auth-0100"),
    ],
)
def test_wrong_fixed_header_flags_disconnect_0x81_v5(data: bytes) -> None:
    """v5 [MQTT-2.1.3-1], [MQTT-3.6.1-1], [MQTT-3.14.1-1], [MQTT-3.15.1-1] (§4.13): wrong reserved
    flags make a Malformed Packet; the client sends DISCONNECT 0x81 and closes."""
    h = Harness(5)
    h.connect()
    assert _violation(h.feed_bytes(data)).error.reason_code == 0x81
    assert h.take() == [Disconnect(0x81)]
    assert h.session.state == SessionState.CLOSING


def test_publish_with_qos_3_closes_v3() -> None:
    """v3 [MQTT-3.3.1-4]: a PUBLISH with both QoS bits set is malformed: close, send nothing."""
    h = Harness(4)
    h.connect()
    events = h.feed_bytes(b"\x36\x05\x00\x01t\x00\x01")
    assert _violation(events).error.reason_code == 0x81
    assert _delivered(events) == []
    assert h.take() == []
    assert h.session.state == SessionState.CLOSING


# --- QoS 0 (v3 §4.3.1, v5 §4.3.1, §3.3.1.1) -------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "wire"), [(4, "30 04 00 01 74 70"), (5, "30 05 00 01 74 00 70")]
)
def test_qos0_publish_has_dup_0_and_no_packet_identifier(version: int, wire: str) -> None:
    """[MQTT-3.3.1-2], [MQTT-4.3.1-1], v3 [MQTT-2.3.1-5] / v5 [MQTT-2.2.1-2]: a QoS 0 PUBLISH is
    sent with DUP 0 and carries no Packet Identifier, also when it was queued offline and goes out
    on a later connection."""
    h = Harness(version, queue_qos0_offline=True)
    h.connect()
    h.take()
    h.publish("t", b"p", qos=0)
    assert bytes(h.session.out) == bytes.fromhex(wire)
    h.take()
    h.lose()
    h.publish("t", b"p", qos=0)  # queued while offline
    h.open()
    h.feed(Connack(True, 0))
    assert bytes(h.session.out) == bytes.fromhex(wire)


# --- session present / clean session (v3 §3.1.2.4, §3.2.2.2; v5 §3.2.2.1.1) -----------------------


def test_session_present_1_after_clean_start_closes_v5() -> None:
    """v5 [MQTT-3.2.2-4]: a client that has no session state (it connected with Clean Start 1,
    which discards it) and gets Session Present 1 must close the network connection; it must
    not go on as connected."""
    h = Harness(5, clean_start=True)
    h.open()
    events = h.feed(Connack(True, 0))
    assert h.session.state == SessionState.CLOSING, events
    _violation(events)  # reported to the application as the server's protocol violation


def test_clean_session_drops_incoming_qos2_state_v3() -> None:
    """v3 [MQTT-3.1.2-6] (and [MQTT-3.2.2-5] in 5.0): with Clean Session 1 the client discards its
    previous session, here a QoS 2 message whose PUBREC it sent: a PUBREL for it on the new
    session delivers nothing and is answered with PUBCOMP."""
    h = Harness(4, clean_start=True)
    h.connect()
    h.feed(Publish("a", b"x", 2, packet_id=9))
    assert h.take() == [Pubrec(9)]
    h.lose()
    h.connect(session_present=False)
    assert _delivered(h.feed(Pubrel(9))) == []
    assert h.take() == [Pubcomp(9)]


# --- QoS 1 / QoS 2 receiver (v3 §4.3.2-3, v5 §4.3.2-3) --------------------------------------------


@pytest.mark.parametrize("version", [4, 5])
def test_qos1_same_packet_id_after_puback_is_a_new_message(version: int) -> None:
    """v3 [MQTT-4.3.2-2] / v5 [MQTT-4.3.2-4], [MQTT-4.3.2-5]: the client answers a QoS 1 PUBLISH
    with a PUBACK carrying its id; once that PUBACK is sent, a PUBLISH with the same id is a new
    message, whatever its DUP flag, and is delivered and acknowledged again."""
    h = Harness(version)
    h.connect()
    first = Publish("a", b"1", 1, packet_id=5)
    assert _delivered(h.feed(first)) == [first]
    h.session.ack(5, 1, 0.0)
    assert h.take() == [Puback(5)]
    again = Publish("a", b"2", 1, dup=True, packet_id=5)
    assert _delivered(h.feed(again)) == [again]
    h.session.ack(5, 1, 0.0)
    assert h.take() == [Puback(5)]


def test_pubrecs_go_out_in_the_order_the_publishes_arrived() -> None:
    """[MQTT-4.6.0-3]: PUBREC packets are sent in the order the QoS 2 PUBLISHes were received."""
    h = Harness(5)
    h.connect()
    h.feed(*(Publish("a", b"", 2, packet_id=i) for i in (3, 1, 2)))
    assert h.take() == [Pubrec(3), Pubrec(1), Pubrec(2)]


def test_pubrels_go_out_in_the_order_the_pubrecs_arrived() -> None:
    """[MQTT-4.6.0-4]: PUBREL packets are sent in the order the PUBRECs were received."""
    h = Harness(4)
    h.connect()
    a, b, c = (h.publish(topic, qos=2) for topic in "abc")
    h.take()
    h.feed(Pubrec(c), Pubrec(a), Pubrec(b))
    assert h.take() == [Pubrel(c), Pubrel(a), Pubrel(b)]


def test_expired_incoming_qos2_message_still_completes() -> None:
    """v5 [MQTT-4.3.3-13]: the receiver finishes the QoS 2 exchange even when the message's
    Message Expiry Interval has passed: the PUBREL long after expiry still delivers it once and
    gets its PUBCOMP."""
    h = Harness(5)
    h.at(0.0).connect()
    message = Publish("a", b"x", 2, packet_id=4, properties=((_spec.MESSAGE_EXPIRY_INTERVAL, 1),))
    h.feed(message)
    assert h.take() == [Pubrec(4)]
    h.at(500.0)
    h.feed(Pingresp())  # the link stays alive meanwhile
    assert _delivered(h.feed(Pubrel(4))) == [message]
    h.session.ack(4, 2, 500.0)
    assert h.take() == [Pubcomp(4)]


# --- QoS 2 sender and expiry (v5 §4.3.3) ------------------------------------------------------


def test_sent_qos2_message_is_never_expired() -> None:
    """v5 [MQTT-4.3.3-7]: once a QoS 2 PUBLISH has been sent, the client must not discard it
    because its Message Expiry Interval ran out: after a reconnect long past the expiry it is
    re-sent (DUP 1, same id) and its exchange completes."""
    h = Harness(5, clean_start=False)
    h.at(0.0).connect()
    expiry = ((_spec.MESSAGE_EXPIRY_INTERVAL, 2),)
    mid = h.publish("t", b"x", qos=2, properties=expiry, token="q2")
    [sent] = h.take()
    assert isinstance(sent, Publish) and sent.packet_id == mid and not sent.dup
    h.at(1.0).lose()
    h.at(100.0).open()
    h.feed(Connack(True, 0))
    [replayed] = h.take()
    assert isinstance(replayed, Publish)
    assert (replayed.packet_id, replayed.dup, replayed.qos) == (mid, True, 2)
    h.feed(Pubrec(mid))
    assert h.take() == [Pubrel(mid)]
    assert h.feed(Pubcomp(mid)) == [PublishCompleted("q2", mid, 2)]


# --- retransmission and session state while connected (v5 §4.4, §4.1) ----------------------------


def test_no_retransmission_while_connected_v5() -> None:
    """v5 [MQTT-4.4.0-1]: PUBLISH and PUBREL are re-sent only when the client reconnects with a
    session, never on a timer while the connection is up; and [MQTT-4.1.0-1]: the session state
    is kept for as long as the connection lasts, so the acks that finally arrive complete it."""
    h = Harness(5, keepalive_s=10)
    h.at(0.0).connect()
    m1 = h.publish("a", qos=1, token="m1")
    m2 = h.publish("b", qos=2, token="m2")
    h.take()
    h.feed(Pubrec(m2))
    assert h.take() == [Pubrel(m2)]
    for step in range(1, 31):  # 30 keepalive periods with the server answering every ping
        now = step * 10.0
        h.at(now)
        h.session.tick(now)
        assert h.take() == [Pingreq()]
        h.feed(Pingresp())
    assert h.session.state == SessionState.CONNECTED
    assert h.feed(Puback(m1), Pubcomp(m2)) == [
        PublishCompleted("m1", m1, 1),
        PublishCompleted("m2", m2, 2),
    ]


# --- flow control (v5 §4.9, §3.3.4) ------------------------------------------------------------


def test_other_packets_keep_flowing_when_the_send_quota_is_0() -> None:
    """v5 [MQTT-4.9.0-3], [MQTT-3.3.4-8]: with the server's Receive Maximum used up, only QoS > 0
    PUBLISHes wait; SUBSCRIBE, UNSUBSCRIBE, PUBACK, PUBREC, PUBCOMP and PINGREQ still go out at
    once."""
    h = Harness(5, keepalive_s=10, max_inflight=0)
    h.at(0.0).connect(properties=((_spec.RECEIVE_MAXIMUM, 1),))
    first = h.publish("a", qos=1)
    waiting = h.publish("b", qos=1)
    assert [type(p) for p in h.take()] == [Publish]  # quota 0 now
    sub = h.session.subscribe((Subscription("x"),), (), 0.0)
    unsub = h.session.unsubscribe(("y",), (), 0.0)
    h.feed(Publish("in", b"", 1, packet_id=7), Publish("in", b"", 2, packet_id=8))
    h.session.ack(7, 1, 0.0)
    h.feed(Pubrel(8))
    h.session.ack(8, 2, 0.0)
    h.at(10.0)
    h.session.tick(10.0)
    assert h.take() == [
        Subscribe(sub, (Subscription("x"),)),
        Unsubscribe(unsub, ("y",)),
        Pubrec(8),
        Puback(7),
        Pubcomp(8),
        Pingreq(),
    ]
    h.feed(Puback(first))
    assert [(type(p), getattr(p, "packet_id", 0)) for p in h.take()] == [(Publish, waiting)]


# --- v5 problem information and DISCONNECT size (v5 §3.1.2.11.7, §3.14.2.2) -----------------------


def test_reason_string_on_puback_after_request_problem_information_0() -> None:
    """v5 [MQTT-3.1.2-29]: with Request Problem Information 0 in CONNECT the server may put a
    Reason String or User Property only on PUBLISH, CONNACK and DISCONNECT; a PUBACK carrying a
    Reason String is a Protocol Error, answered with DISCONNECT 0x82."""
    h = Harness(5, connect_properties=((_spec.REQUEST_PROBLEM_INFORMATION, 0),))
    h.connect()
    mid = h.publish(qos=1)
    h.take()
    events = h.feed(Puback(mid, 0, ((_spec.REASON_STRING, "why"),)))
    assert _violation(events).error.reason_code == 0x82
    assert h.take() == [Disconnect(0x82)]


def test_disconnect_drops_reason_string_and_user_property_over_maximum_packet_size() -> None:
    """v5 [MQTT-3.14.2-3], [MQTT-3.14.2-4]: a Reason String or User Property that would make the
    DISCONNECT larger than the server's Maximum Packet Size is left out; the reason code stays."""
    h = Harness(5)
    h.connect(properties=((_spec.MAXIMUM_PACKET_SIZE, 20),))
    h.take()
    props = ((_spec.REASON_STRING, "r" * 40), (_spec.USER_PROPERTY, ("k", "v" * 40)))
    h.session.disconnect(0x04, props, 0.0)
    data = bytes(h.session.out)
    assert len(data) <= 20, data.hex(" ")
    [packet] = h.take()
    assert isinstance(packet, Disconnect) and packet.reason_code == 0x04


def test_unsubscribe_filter_must_be_utf8() -> None:
    """[MQTT-3.10.3-1]: UNSUBSCRIBE topic filters are UTF-8 strings: a filter with U+0000 or a
    lone surrogate is refused and nothing is queued."""
    h = Harness(5)
    h.connect()
    h.take()
    for bad in ("a\x00b", "a\ud800"):
        with pytest.raises(ValueError):
            h.session.unsubscribe((bad,), (), 0.0)
    assert h.take() == []
