"""Session: incoming messages — QoS 0/1/2 receiver flows, acks, topic aliases, Receive Maximum."""

from __future__ import annotations

import pytest

from mqttclient import _spec
from mqttclient._core.events import MessageReceived, ProtocolViolation
from mqttclient._core.packets import Connack, Disconnect, Puback, Pubcomp, Publish, Pubrec, Pubrel
from mqttclient._core.session import SessionState

from ._session_harness import Harness


def delivered(events: list) -> list[Publish]:  # type: ignore[type-arg]
    return [e.publish for e in events if isinstance(e, MessageReceived)]


def test_qos0_delivered() -> None:
    h = Harness(4)
    h.connect()
    p = Publish("a/b", b"hello", 0, True)
    assert h.feed(p) == [MessageReceived(p)]
    assert h.take() == []


def test_qos1_delivered_then_acked_in_call_order() -> None:
    h = Harness(4)
    h.connect()
    p1 = Publish("a", b"1", 1, packet_id=10)
    p2 = Publish("a", b"2", 1, packet_id=11)
    assert h.feed(p1, p2) == [MessageReceived(p1), MessageReceived(p2)]
    assert h.take() == []  # PUBACK only after the user callback: ack()
    h.session.ack(10, 1, 0.0)
    h.session.ack(11, 1, 0.0)
    assert h.take() == [Puback(10), Puback(11)]
    h.session.ack(10, 1, 0.0)  # twice: nothing more
    assert h.take() == []


def test_manual_ack_order_is_call_order() -> None:
    h = Harness(4)
    h.connect()
    h.feed(Publish("a", b"1", 1, packet_id=1), Publish("a", b"2", 1, packet_id=2))
    h.session.ack(2, 1, 0.0)
    h.session.ack(1, 1, 0.0)
    assert h.take() == [Puback(2), Puback(1)]


def test_qos2_exactly_once_with_duplicates() -> None:
    h = Harness(5)
    h.connect()
    p = Publish("a", b"x", 2, packet_id=7)
    assert h.feed(p) == []  # stored, not delivered yet (Method A)
    assert h.take() == [Pubrec(7)]
    dup = Publish("a", b"x", 2, dup=True, packet_id=7)
    assert h.feed(dup) == []  # repeat: PUBREC again, not stored twice
    assert h.take() == [Pubrec(7)]
    # Delivered once; the repeat replaced the stored copy, so it says DUP=1 (as paho's does).
    assert h.feed(Pubrel(7)) == [MessageReceived(dup)]
    assert h.take() == []  # PUBCOMP after the user callback
    assert h.feed(Pubrel(7)) == []  # a repeat before ack(): the coming PUBCOMP answers it
    assert h.take() == []
    h.session.ack(7, 2, 0.0)
    assert h.take() == [Pubcomp(7)]
    assert h.feed(Pubrel(7)) == []  # now unknown
    assert h.take() == [Pubcomp(7, 0x92)]
    again = Publish("a", b"y", 2, packet_id=7)  # after PUBCOMP the id is new
    h.feed(again)
    assert delivered(h.feed(Pubrel(7))) == [again]


def test_ack_uses_the_qos_the_message_arrived_with() -> None:
    h = Harness(4)
    h.connect()
    h.feed(Publish("a", b"", 2, packet_id=3), Pubrel(3))
    h.take()
    h.session.ack(3, 1, 0.0)
    assert h.take() == [Pubcomp(3)]


@pytest.mark.parametrize(("version", "code"), [(4, 0), (5, 0x92)])
def test_pubrel_unknown_gets_pubcomp(version: int, code: int) -> None:
    h = Harness(version)
    h.connect()
    assert h.feed(Pubrel(42)) == []
    assert h.take() == [Pubcomp(42, code)]


def test_session_present_0_drops_incoming_qos2_state() -> None:
    h = Harness(5, clean_start=False)
    h.connect()
    h.feed(Publish("a", b"x", 2, packet_id=9))
    h.take()
    h.lose()
    h.connect(session_present=False)
    assert h.feed(Pubrel(9)) == []  # nothing stored any more
    assert h.take() == [Pubcomp(9, 0x92)]


def test_session_present_1_keeps_incoming_qos2_state() -> None:
    h = Harness(5, clean_start=False)
    h.connect()
    p = Publish("a", b"x", 2, packet_id=9)
    h.feed(p)
    h.take()
    h.lose()
    h.connect(session_present=True)
    dup = Publish("a", b"x", 2, dup=True, packet_id=9)
    assert h.feed(dup) == []  # the server re-sends: still not delivered twice
    assert h.take() == [Pubrec(9)]
    assert h.feed(Pubrel(9)) == [MessageReceived(dup)]  # once, as the re-sent copy (paho)


def test_ack_after_connection_loss_is_ignored() -> None:
    h = Harness(4)
    h.connect()
    h.feed(Publish("a", b"", 1, packet_id=5))
    h.lose()
    h.session.ack(5, 1, 0.0)  # the callback returned after the link died
    h.connect(session_present=True)
    h.session.ack(5, 1, 0.0)  # and not on the next connection either
    assert h.take() == []


def test_no_acks_after_disconnect() -> None:
    h = Harness(4)
    h.connect()
    h.feed(Publish("a", b"", 1, packet_id=5))
    h.session.disconnect(0, (), 0.0)
    h.session.ack(5, 1, 0.0)
    events = h.feed(Publish("b", b"", 2, packet_id=6))
    assert events == []
    assert h.take() == [Disconnect()]  # no PUBACK, no PUBREC after DISCONNECT


# --- topic aliases ---------------------------------------------------------------------------------


def alias(n: int) -> tuple[tuple[int, int], ...]:
    return ((_spec.TOPIC_ALIAS, n),)


def test_topic_alias_establish_use_remap() -> None:
    h = Harness(5, connect_properties=((_spec.TOPIC_ALIAS_MAXIMUM, 3),))
    h.connect()
    first = Publish("x/1", b"a", 0, properties=alias(2))
    assert delivered(h.feed(first)) == [first]
    got = delivered(h.feed(Publish("", b"b", 0, properties=alias(2))))
    assert [(m.topic, m.payload) for m in got] == [("x/1", b"b")]
    h.feed(Publish("x/2", b"c", 0, properties=alias(2)))  # remap
    got = delivered(h.feed(Publish("", b"d", 1, packet_id=1, properties=alias(2))))
    assert [(m.topic, m.payload) for m in got] == [("x/2", b"d")]


def test_topic_aliases_die_with_the_connection() -> None:
    h = Harness(5, connect_properties=((_spec.TOPIC_ALIAS_MAXIMUM, 3),))
    h.connect()
    h.feed(Publish("x/1", b"a", 0, properties=alias(1)))
    h.lose()
    h.connect()
    events = h.feed(Publish("", b"b", 0, properties=alias(1)))
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x82  # unknown alias with an empty topic
    assert h.take() == [Disconnect(0x82)]


@pytest.mark.parametrize(("maximum", "value"), [(3, 0), (3, 4), (None, 1)])
def test_topic_alias_out_of_range(maximum: int | None, value: int) -> None:
    props = () if maximum is None else ((_spec.TOPIC_ALIAS_MAXIMUM, maximum),)
    h = Harness(5, connect_properties=props)
    h.connect()
    # The codec refuses to encode alias 0, so write that PUBLISH by hand.
    data = bytes([0x30, 8, 0, 1, ord("t"), 3, _spec.TOPIC_ALIAS, value >> 8, value & 0xFF, 0x21])
    events = h.feed_bytes(data)
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x94
    assert h.take() == [Disconnect(0x94)]
    assert h.session.state == SessionState.CLOSING


@pytest.mark.parametrize("version", [4, 5])
def test_empty_topic_without_alias(version: int) -> None:
    h = Harness(version)
    h.connect()
    events = h.feed(Publish("", b"x", 0))
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x82
    assert h.take() == ([Disconnect(0x82)] if version == 5 else [])


# --- our Receive Maximum ---------------------------------------------------------------------------


def test_receive_maximum_exceeded() -> None:
    h = Harness(5, connect_properties=((_spec.RECEIVE_MAXIMUM, 2),))
    h.connect()
    h.feed(Publish("a", b"", 1, packet_id=1), Publish("a", b"", 2, packet_id=2))
    h.take()
    h.feed(Publish("a", b"", 2, dup=True, packet_id=2))  # a repeat is not a new one
    h.feed(Publish("a", b"", 0))  # QoS 0 is not counted
    h.session.ack(1, 1, 0.0)
    h.feed(Publish("a", b"", 1, packet_id=3))  # a slot was freed by the PUBACK
    events = h.feed(Publish("a", b"", 1, packet_id=4))
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x93
    assert h.take()[-1] == Disconnect(0x93)


def test_receive_maximum_counts_qos2_until_pubcomp() -> None:
    h = Harness(5, connect_properties=((_spec.RECEIVE_MAXIMUM, 1),))
    h.connect()
    h.feed(Publish("a", b"", 2, packet_id=1), Pubrel(1))
    events = h.feed(Publish("a", b"", 1, packet_id=2))  # PUBCOMP not sent yet
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x93


def test_receive_maximum_not_enforced_under_v3() -> None:
    h = Harness(4)
    h.connect()
    events = h.feed(*(Publish("a", b"", 1, packet_id=i) for i in range(1, 2001)))
    assert len(delivered(events)) == 2000


def test_connack_then_publish_in_one_read() -> None:
    h = Harness(4)
    h.open()
    p = Publish("a", b"x", 0)
    events = h.feed(Connack(False, 0), p)
    assert events[1:] == [MessageReceived(p)]
