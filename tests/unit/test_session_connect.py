"""Session: CONNECT contents, CONNACK handling, server limits, keepalive and CONNACK timers."""

from __future__ import annotations

import pytest

from mqttclient import _spec
from mqttclient._core.events import (
    ConnectionAccepted,
    ConnectionRefused,
    KeepaliveTimeout,
    ProtocolViolation,
)
from mqttclient._core.limits import ServerLimits
from mqttclient._core.packets import (
    Connack,
    Connect,
    Disconnect,
    Pingreq,
    Pingresp,
    Puback,
    Will,
)
from mqttclient._core.session import FIRST_ONLY, SessionState
from mqttclient.errors import InvalidStateError

from ._session_harness import Harness

# --- CONNECT ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [3, 4, 5])
def test_connect_carries_config(version: int) -> None:
    will = Will(
        "will/t", b"bye", 1, True, ((_spec.WILL_DELAY_INTERVAL, 5),) if version == 5 else ()
    )
    h = Harness(
        version,
        client_id="abc",
        keepalive_s=17,
        username="u",
        password=b"pw",
        will=will,
        clean_start=False,
    )
    connect = h.open()
    assert connect == Connect("abc", version, False, 17, "u", b"pw", will, (), False)
    assert h.session.state == SessionState.CONNECTING


def test_connect_v5_properties_and_bridge() -> None:
    props = ((_spec.SESSION_EXPIRY_INTERVAL, 3600), (_spec.RECEIVE_MAXIMUM, 10))
    h = Harness(5, connect_properties=props, bridge=True)
    connect = h.open()
    assert connect.properties == props
    assert connect.bridge is True


def test_connect_v3_ignores_properties() -> None:
    h = Harness(4, connect_properties=((_spec.SESSION_EXPIRY_INTERVAL, 10),))
    assert h.open().properties == ()


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("clean", [True, False])
def test_connect_v3_clean_session_every_time(version: int, clean: bool) -> None:
    h = Harness(version, clean_start=clean)
    for _ in range(2):
        assert h.open().clean_start is clean
        h.feed(Connack(False, 0))
        h.lose()


def test_clean_start_first_only() -> None:
    h = Harness(5, clean_start=FIRST_ONLY)
    assert h.open().clean_start is True
    h.feed(Connack(False, 0x88))  # refused: not a successful connect
    h.lose()
    assert h.open().clean_start is True
    h.feed(Connack(False, 0))
    h.lose()
    assert h.open().clean_start is False  # automatic reconnects resume the session
    h.lose()
    h.session.reset_first_connect()  # the user called connect() again
    assert h.open().clean_start is True


@pytest.mark.parametrize("clean", [True, False])
def test_clean_start_fixed_v5(clean: bool) -> None:
    h = Harness(5, clean_start=clean)
    for _ in range(2):
        assert h.open().clean_start is clean
        h.feed(Connack(False, 0))
        h.lose()


def test_connection_opened_twice_is_refused() -> None:
    h = Harness()
    h.open()
    with pytest.raises(InvalidStateError):
        h.session.connection_opened(0.0)


def test_connection_lost_twice_is_harmless() -> None:
    h = Harness()
    h.connect()
    h.lose()
    assert h.lose() == []
    assert h.session.state == SessionState.DISCONNECTED


# --- CONNACK ---------------------------------------------------------------------------------------


def test_connack_accepted() -> None:
    h = Harness()
    events = h.connect(session_present=True)
    assert events == [ConnectionAccepted(Connack(True, 0))]
    assert h.session.state == SessionState.CONNECTED


@pytest.mark.parametrize(
    ("code", "reason"), [(1, 0x84), (2, 0x85), (3, 0x88), (4, 0x86), (5, 0x87), (6, 0x80)]
)
def test_connack_v3_refusal_mapped(code: int, reason: int) -> None:
    h = Harness(4)
    events = h.connect(code=code)
    assert events == [ConnectionRefused(Connack(False, code), reason)]
    assert h.session.state == SessionState.CLOSING
    assert h.session.next_deadline() is None
    assert h.take() == []


@pytest.mark.parametrize("code", [0x84, 0x86, 0x87, 0x9C])
def test_connack_v5_refusal(code: int) -> None:
    h = Harness(5)
    events = h.connect(code=code)
    assert events == [ConnectionRefused(Connack(False, code), code)]
    assert h.session.state == SessionState.CLOSING
    assert h.take() == []  # no DISCONNECT: there was no successful CONNACK


def test_connack_v3_shaped_in_v5_mode() -> None:
    h = Harness(5)
    h.open()
    events = h.feed(Connack(False, 1), version=4)  # a 3.1.1-only server refusing level 5
    assert len(events) == 1
    assert isinstance(events[0], ConnectionRefused)
    assert events[0].reason_code == 0x84
    assert events[0].connack.v3_shaped


def test_connack_v3_shaped_success_in_v5_mode_is_malformed() -> None:
    h = Harness(5)
    h.open()
    events = h.feed(Connack(False, 0), version=4)
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x81
    assert h.take() == []


def test_session_present_without_state_is_fine() -> None:
    # mosquitto legitimately answers 1 under 3.1.1 after a clean_session=False connect.
    h = Harness(4, clean_start=False)
    assert h.connect(session_present=True) == [ConnectionAccepted(Connack(True, 0))]
    assert h.session.state == SessionState.CONNECTED


def test_server_limits_stored() -> None:
    h = Harness(5, max_inflight=0)
    assert h.session.server_limits == ServerLimits()
    props = (
        (_spec.RECEIVE_MAXIMUM, 7),
        (_spec.MAXIMUM_PACKET_SIZE, 1000),
        (_spec.TOPIC_ALIAS_MAXIMUM, 5),
        (_spec.MAXIMUM_QOS, 1),
        (_spec.RETAIN_AVAILABLE, 0),
        (_spec.WILDCARD_SUBSCRIPTION_AVAILABLE, 0),
        (_spec.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 0),
        (_spec.SHARED_SUBSCRIPTION_AVAILABLE, 0),
        (_spec.SESSION_EXPIRY_INTERVAL, 99),
    )
    h.connect(properties=props)
    assert h.session.server_limits == ServerLimits(
        receive_maximum=7,
        maximum_packet_size=1000,
        topic_alias_maximum=5,
        maximum_qos=1,
        retain_available=False,
        wildcard_subscription_available=False,
        subscription_identifiers_available=False,
        shared_subscription_available=False,
        server_keep_alive=None,
        session_expiry_interval=99,
    )
    assert h.session.window == 7
    h.lose()
    h.open()  # limits belong to a connection
    assert h.session.server_limits == ServerLimits()


def test_connack_authentication_method_not_requested() -> None:
    # [MQTT-4.12.0-6]: no Method in CONNECT, so none may come back.
    h = Harness(5)
    events = h.connect(properties=((_spec.AUTHENTICATION_METHOD, "SCRAM"),))
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)
    assert events[0].error.reason_code == 0x82
    assert h.take() == [Disconnect(0x82)]
    assert h.session.state == SessionState.CLOSING


def test_connack_maximum_qos_2_is_refused() -> None:
    # Only 0 or 1 may be sent (v5 §3.2.2.3.4); the codec will not even encode it.
    h = Harness(5)
    h.open()
    events = h.feed_bytes(bytes([0x20, 5, 0, 0, 2, _spec.MAXIMUM_QOS, 2]))
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)
    assert h.session.state == SessionState.CLOSING


def test_connack_after_disconnect_requested() -> None:
    h = Harness(5)
    h.open()
    h.publish(qos=1)  # sent before CONNACK
    h.take()
    h.session.disconnect(0, (), 0.0)
    assert h.take() == [Disconnect()]
    events = h.feed(Connack(False, 0))
    assert events == [ConnectionAccepted(Connack(False, 0))]
    assert h.session.state == SessionState.DISCONNECTING
    h.publish(qos=1)
    assert h.take() == []  # nothing may follow DISCONNECT


def test_assigned_client_identifier_is_reused() -> None:
    h = Harness(5, client_id="")
    h.open()
    h.feed(Connack(False, 0, ((_spec.ASSIGNED_CLIENT_IDENTIFIER, "auto-123"),)))
    assert h.session.client_id == "auto-123"
    assert h.config.client_id == "auto-123"
    h.lose()
    assert h.open().client_id == "auto-123"


# --- keepalive -------------------------------------------------------------------------------------


def test_keepalive_pingreq_and_timeout() -> None:
    h = Harness(4, keepalive_s=10)
    h.at(100.0).connect()
    s = h.session
    assert s.next_deadline() == 110.0
    assert s.tick(109.9) == []
    assert h.take() == []
    h.at(110.0)
    assert s.tick(110.0) == []
    assert h.take() == [Pingreq()]
    assert s.next_deadline() == 115.0  # the PINGREQ must be answered within keepalive / 2
    assert s.tick(114.0) == []
    events = s.tick(115.0)
    assert events == [KeepaliveTimeout(15.0)]  # 1.5 x keepalive after the last packet received
    assert s.state == SessionState.CLOSING
    assert s.next_deadline() is None


def test_keepalive_ping_answered() -> None:
    h = Harness(4, keepalive_s=10)
    h.at(0.0).connect()
    h.session.tick(10.0)
    assert h.take() == [Pingreq()]
    h.at(11.0).feed(Pingresp())
    assert h.session.next_deadline() == 20.0  # last send (the PINGREQ) at 10 + 10
    h.session.tick(20.0)
    assert h.take() == [Pingreq()]


def test_keepalive_any_packet_answers_the_ping() -> None:
    h = Harness(4, keepalive_s=10)
    h.at(0.0).connect()
    h.session.tick(10.0)
    h.take()
    h.at(12.0).feed(Puback(999))  # unknown id, ignored, but it proves the link is alive
    assert h.session.next_deadline() == 20.0
    assert h.session.tick(15.0) == []


def test_keepalive_sending_alone_does_not_defer_ping_when_nothing_received() -> None:
    # Outgoing traffic keeps the server happy, but silence from the server must still be
    # probed: a dead link is noticed within 1.5 x keepalive of the last packet received.
    h = Harness(4, keepalive_s=10)
    h.at(0.0).connect()
    for t in range(1, 10):
        h.at(float(t)).publish(qos=0)
    assert h.session.next_deadline() == 10.0
    h.session.tick(10.0)
    assert h.take()[-1] == Pingreq()
    assert h.session.tick(15.0) == [KeepaliveTimeout(15.0)]


def test_keepalive_receiving_alone_does_not_defer_ping_when_nothing_sent() -> None:
    h = Harness(4, keepalive_s=10)
    h.at(0.0).connect()
    h.at(8.0).feed(Puback(5))
    assert h.session.next_deadline() == 10.0  # nothing sent since CONNECT at 0


def test_keepalive_deadline_follows_latest_activity() -> None:
    h = Harness(4, keepalive_s=10)
    h.at(0.0).connect()
    h.at(6.0).publish(qos=0)
    h.at(7.0).feed(Puback(5))
    assert h.session.next_deadline() == 16.0


def test_keepalive_zero_means_no_timers() -> None:
    h = Harness(4, keepalive_s=0)
    h.open()
    assert h.session.next_deadline() == 30.0  # the CONNACK timeout still runs
    h.feed(Connack(False, 0))
    assert h.session.next_deadline() is None
    assert h.session.tick(1e9) == []
    assert h.take() == []


def test_no_deadline_while_disconnected() -> None:
    h = Harness(4, keepalive_s=10)
    assert h.session.next_deadline() is None
    h.connect()
    h.lose()
    assert h.session.next_deadline() is None


def test_server_keep_alive_replaces_ours() -> None:
    h = Harness(5, keepalive_s=60)
    h.at(0.0).connect(properties=((_spec.SERVER_KEEP_ALIVE, 5),))
    assert h.session.keepalive_s == 5
    assert h.session.server_limits.server_keep_alive == 5
    assert h.session.next_deadline() == 5.0
    h.session.tick(5.0)
    assert h.take() == [Pingreq()]
    assert h.session.tick(7.5) == [KeepaliveTimeout(7.5)]


def test_server_keep_alive_zero_turns_pings_off() -> None:
    h = Harness(5, keepalive_s=60)
    h.connect(properties=((_spec.SERVER_KEEP_ALIVE, 0),))
    assert h.session.keepalive_s == 0
    assert h.session.next_deadline() is None


def test_keepalive_before_connack_is_the_configured_one() -> None:
    h = Harness(5, keepalive_s=42)
    assert h.session.keepalive_s == 42
    h.open()
    assert h.session.keepalive_s == 42


def test_connack_timeout() -> None:
    h = Harness(4, keepalive_s=10, connack_timeout_s=5.0)
    h.at(50.0).open()
    s = h.session
    assert s.next_deadline() == 55.0
    assert s.tick(54.0) == []
    assert h.take() == []  # no PINGREQ before CONNACK
    assert s.tick(55.0) == [KeepaliveTimeout(5.0, "connack")]
    assert s.state == SessionState.CLOSING
    assert s.next_deadline() is None


def test_connack_timeout_stops_on_connack() -> None:
    h = Harness(4, keepalive_s=0, connack_timeout_s=5.0)
    h.at(0.0).open()
    h.at(1.0).feed(Connack(False, 0))
    assert h.session.next_deadline() is None


def test_no_pings_after_disconnect_but_outstanding_ping_still_times_out() -> None:
    h = Harness(4, keepalive_s=10)
    h.at(0.0).connect()
    h.session.disconnect(0, (), 1.0)
    assert h.take() == [Disconnect()]
    assert h.session.next_deadline() is None
    h2 = Harness(4, keepalive_s=10)
    h2.at(0.0).connect()
    h2.session.tick(10.0)
    h2.session.disconnect(0, (), 11.0)
    assert h2.session.next_deadline() == 15.0
    assert h2.session.tick(15.0) == [KeepaliveTimeout(15.0)]
