"""Session: outgoing messages — mids, QoS 0/1/2 flows, the window, replay, size limits."""

from __future__ import annotations

import logging

import pytest

from mqttclient import _spec
from mqttclient._core.events import PublishCompleted, PublishDropped, Subscribed, Unsubscribed
from mqttclient._core.packets import (
    Connack,
    Disconnect,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)
from mqttclient._core.session import SessionState
from mqttclient.errors import InvalidStateError, PayloadTooLargeError

from ._session_harness import Harness


def ids(packets: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    """(type name, packet id) of each packet, for compact order assertions."""
    return [(type(p).__name__, getattr(p, "packet_id", 0)) for p in packets]


# --- mids ------------------------------------------------------------------------------------------


def test_mids_shared_by_every_qos_and_subscribe() -> None:
    h = Harness(4)
    h.connect()
    s = h.session
    assert h.publish(qos=0) == 1
    assert h.publish(qos=1) == 2
    assert s.subscribe((Subscription("a"),), (), 0.0) == 3
    assert s.unsubscribe(("a",), (), 0.0) == 4
    assert h.publish(qos=2) == 5
    assert ids(h.take()) == [
        ("Publish", 0),
        ("Publish", 2),
        ("Subscribe", 3),
        ("Unsubscribe", 4),
        ("Publish", 5),
    ]


def test_qos0_offline_consumes_a_mid_and_is_dropped() -> None:
    h = Harness(4)
    assert h.publish(qos=0) == 1
    assert h.publish(qos=0) == 2
    h.connect()
    assert h.take() == []
    assert h.sent_events == []


def test_mid_wraps_to_one() -> None:
    h = Harness(4)
    for expected in range(1, 65536):
        assert h.publish(qos=0) == expected  # offline: only the counter moves
    assert h.publish(qos=0) == 1


def test_mid_skips_ids_in_flight() -> None:
    h = Harness(4, max_inflight=0)
    h.connect()
    assert h.publish(qos=1) == 1  # stays in flight
    assert h.session.subscribe((Subscription("x"),), (), 0.0) == 2  # awaiting SUBACK
    h.take()
    for _ in range(65533):
        h.session.publish("t", b"", 0, False, (), None, 0.0)
    h.take()
    assert h.publish(qos=0) == 3  # 65536 -> 1 and 2 are in use
    h.feed(Puback(1))
    h.feed(Suback(2, (0,)))
    for _ in range(65532):  # 4..65535
        h.session.publish("t", b"", 0, False, (), None, 0.0)
    h.take()
    assert h.publish(qos=0) == 1  # free again


def test_queued_message_with_colliding_mid_gets_fresh_packet_id() -> None:
    h = Harness(4, max_inflight=2)
    h.connect()
    assert h.publish(qos=1, token="A") == 1  # in flight
    assert h.publish(qos=1, token="B") == 2  # in flight
    assert h.publish(qos=1, token="C") == 3  # queued: its mid is not in use on the wire
    h.take()
    for _ in range(65532):  # QoS 0 traffic (4..65535) brings the counter round
        h.session.publish("t", b"", 0, False, (), None, 0.0)
    h.take()
    assert h.publish(qos=1, token="D") == 3  # 1 and 2 skipped; 3 reused (only queued)
    h.feed(Puback(1))
    assert ids(h.take()) == [("Publish", 3)]  # C goes out with its mid
    h.feed(Puback(2))
    sent = h.take()
    assert len(sent) == 1
    fresh = sent[0].packet_id
    assert fresh not in (0, 2, 3)  # D's mid 3 is on the wire (C): a fresh packet id
    assert h.feed(Puback(fresh)) == [PublishCompleted("D", 3, 1)]  # reported with its mid
    assert h.feed(Puback(3)) == [PublishCompleted("C", 3, 1)]


# --- QoS 0 -----------------------------------------------------------------------------------------


def test_qos0_completed_when_written() -> None:
    h = Harness(4)
    h.connect()
    s = h.session
    s.sent(len(s.out), 0.0)
    h.publish("a", b"12345", qos=0, token="A")  # 2 + 1 + 2 + 5 = 10 bytes
    h.publish("b", b"12345", qos=0, token="B")
    assert len(s.out) == 20
    assert s.sent(9, 0.0) == []
    assert s.sent(1, 0.0) == [PublishCompleted("A", 1, 0)]
    assert s.sent(5, 0.0) == []
    h.publish("c", b"", qos=0, token="C")
    assert s.sent(100, 0.0) == [PublishCompleted("B", 2, 0), PublishCompleted("C", 3, 0)]
    assert s.out == bytearray()


def test_qos0_sent_while_connecting() -> None:
    h = Harness(4)
    h.open()
    h.publish(qos=0, token="x")
    assert ids(h.take()) == [("Publish", 0)]
    assert h.sent_events == [PublishCompleted("x", 1, 0)]


def test_connection_lost_drops_unwritten_qos0() -> None:
    h = Harness(4)
    h.connect()
    h.take()
    h.publish("a", b"12345", qos=0, token="A")
    h.publish("b", b"12345", qos=0, token="B")
    h.publish("c", b"12345", qos=1, token="C")
    assert h.session.sent(15, 0.0) == [PublishCompleted("A", 1, 0)]  # B half written
    assert h.lose() == [PublishDropped("B", 2, "connection lost")]
    assert h.session.out == bytearray()
    assert h.session.has_unfinished()  # QoS 1 is kept for the next connection


def test_qos0_dropped_after_disconnect() -> None:
    h = Harness(4)
    h.connect()
    h.session.disconnect(0, (), 0.0)
    h.publish(qos=0)
    assert ids(h.take()) == [("Disconnect", 0)]


# --- QoS 1 / 2 -------------------------------------------------------------------------------------


def test_qos1_flow() -> None:
    h = Harness(4)
    h.connect()
    mid = h.publish("t", b"x", qos=1, retain=True, token="tok")
    assert h.take() == [Publish("t", b"x", 1, True, False, mid)]
    assert h.session.inflight_count == 1
    assert h.feed(Puback(mid)) == [PublishCompleted("tok", mid, 1)]
    assert h.session.inflight_count == 0
    assert not h.session.has_unfinished()


def test_qos2_flow() -> None:
    h = Harness(4)
    h.connect()
    mid = h.publish("t", b"x", qos=2, token="tok")
    assert h.take() == [Publish("t", b"x", 2, False, False, mid)]
    assert h.feed(Pubrec(mid)) == []
    assert h.take() == [Pubrel(mid)]
    assert h.session.inflight_count == 1  # the slot is held until PUBCOMP
    assert h.feed(Pubrec(mid)) == []  # a repeated PUBREC is answered again
    assert h.take() == [Pubrel(mid)]
    assert h.feed(Pubcomp(mid)) == [PublishCompleted("tok", mid, 2)]
    assert h.session.inflight_count == 0
    assert h.feed(Pubcomp(mid)) == []  # a late duplicate is ignored


def test_v5_failure_reason_codes_end_the_flow() -> None:
    h = Harness(5)
    h.connect()
    m1 = h.publish(qos=1, token=1)
    m2 = h.publish(qos=2, token=2)
    h.take()
    props = ((_spec.REASON_STRING, "no"),)
    assert h.feed(Puback(m1, 0x87, props)) == [PublishCompleted(1, m1, 1, 0x87, props)]
    assert h.feed(Pubrec(m2, 0x97)) == [PublishCompleted(2, m2, 2, 0x97)]
    assert h.take() == []  # no PUBREL after a failed PUBREC
    assert h.session.inflight_count == 0
    h.lose()
    h.connect(session_present=True)
    assert h.take() == []  # never re-sent [MQTT-4.4.0-2]


def test_v5_success_reason_code_0x10_is_success() -> None:
    h = Harness(5)
    h.connect()
    m = h.publish(qos=2, token="t")
    h.take()
    h.feed(Pubrec(m, 0x10))  # No matching subscribers: still a success
    assert h.take() == [Pubrel(m)]
    assert h.feed(Pubcomp(m)) == [PublishCompleted("t", m, 2)]


def test_unknown_acks(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(5)
    h.connect()
    m = h.publish(qos=1)
    h.take()
    with caplog.at_level(logging.WARNING):
        assert h.feed(Puback(77), Pubcomp(78), Suback(79, (0,)), Unsuback(80, (0,))) == []
        assert h.feed(Pubcomp(m)) == []  # wrong ack type for a QoS 1 message
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 5
    assert h.take() == []
    assert h.feed(Pubrec(81)) == []
    assert h.take() == [Pubrel(81, 0x92)]  # let the server finish its side
    assert h.session.state == SessionState.CONNECTED
    assert h.session.inflight_count == 1


def test_unknown_pubrec_v3_gets_plain_pubrel() -> None:
    h = Harness(4)
    h.connect()
    h.feed(Pubrec(5))
    assert h.take() == [Pubrel(5)]


def test_sent_before_connack_paho_style() -> None:
    h = Harness(4)
    h.open()
    mid = h.publish(qos=1)
    assert ids(h.take()) == [("Publish", mid)]
    h.feed(Connack(False, 0))
    assert h.take() == []  # not sent twice
    assert h.feed(Puback(mid))[0].mid == mid  # type: ignore[union-attr]


# --- subscribe / unsubscribe -----------------------------------------------------------------------


def test_subscribe_and_unsubscribe() -> None:
    h = Harness(5)
    h.connect()
    subs = (Subscription("a/#", 1), Subscription("b", 2, no_local=True))
    props = ((_spec.SUBSCRIPTION_IDENTIFIER, 4),)
    mid = h.session.subscribe(subs, props, 0.0)
    assert h.take() == [Subscribe(mid, subs, props)]
    assert h.feed(Suback(mid, (1, 0x80))) == [Subscribed(mid, (1, 0x80))]
    mid2 = h.session.unsubscribe(("a/#", "b"), (), 0.0)
    assert h.take() == [Unsubscribe(mid2, ("a/#", "b"))]
    assert h.feed(Unsuback(mid2, (0, 0x11))) == [Unsubscribed(mid2, (0, 0x11))]


def test_unsuback_v3_has_no_codes() -> None:
    h = Harness(4)
    h.connect()
    mid = h.session.unsubscribe(("a", "b"), (), 0.0)
    assert h.feed(Unsuback(mid)) == [Unsubscribed(mid, ())]


def test_subscribe_requires_a_connection() -> None:
    h = Harness(4)
    with pytest.raises(InvalidStateError):
        h.session.subscribe((Subscription("a"),), (), 0.0)
    with pytest.raises(InvalidStateError):
        h.session.unsubscribe(("a",), (), 0.0)


def test_pending_subscribe_forgotten_on_connection_loss() -> None:
    h = Harness(4)
    h.connect()
    mid = h.session.subscribe((Subscription("a"),), (), 0.0)
    h.lose()
    h.connect(session_present=True)
    assert h.take() == []  # not re-sent
    assert h.feed(Suback(mid, (0,))) == []  # and its late SUBACK is unknown


# --- the window ------------------------------------------------------------------------------------


def test_max_inflight_window_releases_in_order() -> None:
    h = Harness(4, max_inflight=2)
    h.connect()
    mids = [h.publish(qos=1, token=i) for i in range(5)]
    assert ids(h.take()) == [("Publish", mids[0]), ("Publish", mids[1])]
    assert h.session.inflight_count == 2
    assert h.session.unfinished_count() == 5
    h.feed(Puback(mids[1]))
    assert ids(h.take()) == [("Publish", mids[2])]
    h.feed(Puback(mids[0]), Puback(mids[2]))
    assert ids(h.take()) == [("Publish", mids[3]), ("Publish", mids[4])]
    assert h.session.inflight_count == 2


def test_qos2_holds_a_slot_until_pubcomp() -> None:
    h = Harness(4, max_inflight=1)
    h.connect()
    m1 = h.publish(qos=2)
    m2 = h.publish(qos=1)
    h.take()
    h.feed(Pubrec(m1))
    assert h.take() == [Pubrel(m1)]  # m2 still waits
    h.feed(Pubcomp(m1))
    assert ids(h.take()) == [("Publish", m2)]


def test_receive_maximum_limits_the_window() -> None:
    h = Harness(5, max_inflight=10)
    h.connect(properties=((_spec.RECEIVE_MAXIMUM, 3),))
    assert h.session.window == 3
    mids = [h.publish(qos=1) for _ in range(5)]
    assert len(h.take()) == 3
    h.feed(Puback(mids[0]))
    assert ids(h.take()) == [("Publish", mids[3])]


def test_max_inflight_limits_below_receive_maximum() -> None:
    h = Harness(5, max_inflight=2)
    h.connect(properties=((_spec.RECEIVE_MAXIMUM, 100),))
    assert h.session.window == 2


def test_unlimited_max_inflight_uses_receive_maximum() -> None:
    h = Harness(5, max_inflight=0)
    h.connect()
    assert h.session.window == 65535
    for _ in range(1000):
        h.publish(qos=1)
    assert len(h.take()) == 1000


def test_qos0_ignores_the_window() -> None:
    h = Harness(4, max_inflight=1)
    h.connect()
    h.publish(qos=1)
    h.publish(qos=1)
    h.publish(qos=0)
    assert [p.qos for p in h.take()] == [1, 0]  # type: ignore[union-attr]


# --- replay after reconnect ------------------------------------------------------------------------


def test_replay_dup_and_pubrel_in_order() -> None:
    h = Harness(4, max_inflight=10, clean_start=False)
    h.connect()
    a = h.publish("a", qos=1)
    b = h.publish("b", qos=2)
    c = h.publish("c", qos=2)
    d = h.publish("d", qos=1)
    h.take()
    h.feed(Pubrec(b))  # b is past PUBREC
    h.feed(Puback(d))  # d is done
    h.take()
    h.lose()
    assert h.session.inflight_count == 0
    assert h.session.unfinished_count() == 3
    e = h.publish("e", qos=1)  # accepted offline
    h.open()
    assert h.take() == []  # nothing before CONNACK while replays wait
    f = h.publish("f", qos=1)  # CONNECTING with replays pending: queued behind them
    assert h.take() == []
    h.feed(Connack(True, 0))
    assert h.take() == [
        Publish("a", b"p", 1, False, True, a),
        Pubrel(b),
        Publish("c", b"p", 2, False, True, c),
        Publish("e", b"p", 1, False, False, e),
        Publish("f", b"p", 1, False, False, f),
    ]
    assert h.session.inflight_count == 4  # the PUBREL takes no slot


def test_replay_happens_without_session_present_too() -> None:
    # paho parity: the broker then treats them as new messages (at-least-once).
    h = Harness(4)
    h.connect()
    a = h.publish(qos=1)
    h.take()
    h.lose()
    h.connect(session_present=False)
    assert h.take() == [Publish("t", b"p", 1, False, True, a)]


def test_replay_respects_the_new_window_no_reconnect_storm() -> None:
    h = Harness(5, max_inflight=0)
    h.connect()
    mids = [h.publish(qos=1, token=i) for i in range(6)]
    q2 = h.publish(qos=2, token="q2")
    h.take()
    h.feed(Pubrec(q2))
    h.take()
    h.lose()
    h.connect(session_present=True, properties=((_spec.RECEIVE_MAXIMUM, 2),))
    assert h.take() == [
        Publish("t", b"p", 1, False, True, mids[0]),
        Publish("t", b"p", 1, False, True, mids[1]),
    ]
    h.feed(Puback(mids[0]))
    assert ids(h.take()) == [("Publish", mids[2])]
    h.feed(Puback(mids[1]), Puback(mids[2]))
    assert ids(h.take()) == [("Publish", mids[3]), ("Publish", mids[4])]
    h.feed(Puback(mids[3]))
    # The PUBREL replay is next in order; it takes no slot, so the last PUBLISH follows.
    assert ids(h.take()) == [("Publish", mids[5]), ("Pubrel", q2)]
    assert h.feed(Pubcomp(q2)) == [PublishCompleted("q2", q2, 2)]
    assert h.session.inflight_count == 2


def test_replay_twice_keeps_ids_and_order() -> None:
    h = Harness(4, max_inflight=1)
    h.connect()
    a = h.publish("a")
    b = h.publish("b")
    h.take()
    h.lose()
    h.connect(session_present=True)
    assert h.take() == [Publish("a", b"p", 1, False, True, a)]
    h.lose()
    h.connect(session_present=True)
    assert h.take() == [Publish("a", b"p", 1, False, True, a)]
    h.feed(Puback(a))
    assert h.take() == [Publish("b", b"p", 1, False, False, b)]  # never sent before: DUP 0


def test_queued_messages_wait_for_connack_when_connected_later() -> None:
    h = Harness(4)
    m = h.publish(qos=1)  # offline
    h.open()
    assert h.take() == []
    h.feed(Connack(False, 0))
    assert ids(h.take()) == [("Publish", m)]


def test_disconnect_keeps_qos_messages_for_next_connection() -> None:
    h = Harness(5, max_inflight=1)
    h.connect()
    a = h.publish(qos=1)
    b = h.publish(qos=1)
    h.take()
    h.session.disconnect(0x04, (), 0.0)
    c = h.publish(qos=1)
    assert h.take() == [Disconnect(0x04)]
    assert h.session.state == SessionState.DISCONNECTING
    h.feed(Puback(a))
    assert h.take() == []  # nothing more after DISCONNECT
    h.lose()
    h.connect()
    assert ids(h.take()) == [("Publish", b)]
    h.feed(Puback(b))
    assert ids(h.take()) == [("Publish", c)]


def test_disconnect_v3_has_no_reason() -> None:
    h = Harness(4)
    h.connect()
    h.session.disconnect(0x04, ((_spec.REASON_STRING, "x"),), 0.0)
    assert h.take() == [Disconnect()]


def test_disconnect_when_not_connected_does_nothing() -> None:
    h = Harness(4)
    h.session.disconnect(0, (), 0.0)
    assert h.session.state == SessionState.DISCONNECTED
    assert h.session.out == bytearray()


# --- server Maximum Packet Size --------------------------------------------------------------------


def test_publish_larger_than_server_maximum_packet_size() -> None:
    h = Harness(5)
    h.connect(properties=((_spec.MAXIMUM_PACKET_SIZE, 20),))
    # PUBLISH QoS 1, topic "t": 1 + 1 + (2 + 1 + 2 + 1 + payload) bytes.
    assert h.publish("t", b"x" * 12, qos=1) == 1  # 20 bytes: fits
    with pytest.raises(PayloadTooLargeError):
        h.publish("t", b"x" * 13, qos=1)
    with pytest.raises(PayloadTooLargeError):
        h.publish("t", b"x" * 30, qos=0)
    assert h.session.unfinished_count() == 1
    assert h.publish("t", b"", qos=0) == 2  # no mid was consumed by the refusals
    assert ids(h.take()) == [("Publish", 1), ("Publish", 0)]


def test_queued_message_too_large_for_new_server_is_dropped() -> None:
    h = Harness(5)
    m1 = h.publish("t", b"x" * 100, qos=1, token="big")  # offline: limit unknown
    m2 = h.publish("t", b"x", qos=1, token="small")
    h.connect(properties=((_spec.MAXIMUM_PACKET_SIZE, 50),))
    assert h.session.inflight_count == 1
    assert ids(h.take()) == [("Publish", m2)]
    assert h.session.unfinished_count() == 1
    assert m1 == 1


def test_queued_message_too_large_reported() -> None:
    h = Harness(5)
    h.publish("t", b"x" * 100, qos=1, token="big")
    h.open()
    events = h.feed(Connack(False, 0, ((_spec.MAXIMUM_PACKET_SIZE, 50),)))
    assert events[1:] == [PublishDropped("big", 1, "packet too large")]


# --- drop_unsent -----------------------------------------------------------------------------------


def test_drop_unsent_keeps_messages_already_sent() -> None:
    h = Harness(4, max_inflight=1)
    h.connect()
    a = h.publish("a", b"1", qos=1)  # sent
    h.publish("b", b"2", qos=2, retain=True)  # queued
    h.take()
    h.lose()
    c = h.publish("c", b"3", qos=1)  # queued offline
    assert h.session.drop_unsent() == [("b", b"2", 2, True, 2), ("c", b"3", 1, False, c)]
    assert h.session.unfinished_count() == 1
    h.connect(session_present=True)
    assert h.take() == [Publish("a", b"1", 1, False, True, a)]  # the replay stays
    h.feed(Puback(a))
    assert h.take() == []
    assert not h.session.has_unfinished()
