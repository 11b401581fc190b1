"""Session: MQTT 5 enhanced authentication (MQTT 5.0 §4.12, §3.15), packets in and out, no
sockets. The SCRAM arithmetic itself is in test_auth_scram.py."""

from __future__ import annotations

import logging
from typing import Optional

import pytest

from mqttclient import _spec
from mqttclient._core.events import (
    ConnectionAccepted,
    ConnectionRefused,
    Event,
    ProtocolViolation,
    ServerDisconnected,
    Subscribed,
)
from mqttclient._core.packets import (
    Auth,
    Connack,
    Disconnect,
    Props,
    Publish,
    Suback,
    Subscribe,
    Subscription,
    Unsubscribe,
)
from mqttclient._core.session import SessionState
from mqttclient.auth import Authenticator, ScramSha256Authenticator
from mqttclient.errors import (
    AuthenticationError,
    ConnectionFailedError,
    InvalidStateError,
    ProtocolError,
    RemoteProtocolError,
)

from ._session_harness import Harness

METHOD = "TEST-METHOD"
SECRET = b"SECRET-auth-data"


class Scripted(Authenticator):
    """Answers each challenge with ``reply-<n>``; records every call; fails on request."""

    method = METHOD

    def __init__(self) -> None:
        self.calls: list[tuple[str, Optional[bytes]]] = []
        self.starts = 0
        self.fail_on: Optional[str] = None
        self.failure: Exception = AuthenticationError("the server is not who it claims")

    def _maybe_fail(self, step: str) -> None:
        if self.fail_on == step:
            raise self.failure

    def start(self) -> Optional[bytes]:
        self._maybe_fail("start")
        self.starts += 1
        self.calls.append(("start", None))
        return SECRET + b"-%d" % self.starts

    def challenge(self, data: Optional[bytes]) -> Optional[bytes]:
        self.calls.append(("challenge", data))
        self._maybe_fail("challenge")
        return b"reply-%d" % len(self.calls)

    def finish(self, data: Optional[bytes]) -> None:
        self.calls.append(("finish", data))
        self._maybe_fail("finish")


def auth_props(data: Optional[bytes] = None, method: Optional[str] = METHOD) -> Props:
    props: Props = ()
    if method is not None:
        props += ((_spec.AUTHENTICATION_METHOD, method),)
    if data is not None:
        props += ((_spec.AUTHENTICATION_DATA, data),)
    return props


def harness(**config: object) -> tuple[Harness, Scripted]:
    auth = Scripted()
    return Harness(5, authenticator=auth, **config), auth


def connected() -> tuple[Harness, Scripted]:
    h, auth = harness()
    h.open()
    h.feed(Auth(0x18, auth_props(b"challenge-1")))
    h.take()
    events = h.feed(Connack(False, 0, auth_props(b"server-final")))
    assert isinstance(events[0], ConnectionAccepted)
    auth.calls.clear()
    return h, auth


def the_violation(events: list[Event]) -> ProtocolError:
    assert events and isinstance(events[-1], ProtocolViolation), events
    return events[-1].error


# --- CONNECT --------------------------------------------------------------------------------------


def test_connect_carries_method_and_initial_data() -> None:
    # §4.12: CONNECT with Authentication Method and the initial Authentication Data.
    other = ((_spec.SESSION_EXPIRY_INTERVAL, 60),)
    raw = auth_props(b"raw", "RAW")  # the authenticator replaces a raw method/data
    h, auth = harness(connect_properties=other + raw)
    connect = h.open()
    assert connect.properties == other + auth_props(SECRET + b"-1")
    assert auth.calls == [("start", None)]


def test_connect_without_initial_data() -> None:
    class NoData(Scripted):
        def start(self) -> Optional[bytes]:
            return None

    h = Harness(5, authenticator=NoData())
    assert h.open().properties == auth_props()


def test_raw_method_without_authenticator_is_sent_as_given() -> None:
    # paho style: the method and data as CONNECT properties; a server that answers with a
    # CONNACK at once needs nothing more.
    raw = auth_props(b"token")
    h = Harness(5, connect_properties=raw)
    assert h.open().properties == raw
    assert isinstance(h.feed(Connack(False, 0, auth_props()))[0], ConnectionAccepted)


def test_v3_ignores_the_authenticator() -> None:
    h = Harness(4, authenticator=Scripted())
    assert h.open().properties == ()


def test_failing_start_fails_the_connection_attempt() -> None:
    h, auth = harness()
    auth.fail_on = "start"
    auth.failure = ValueError("no token")
    with pytest.raises(ConnectionFailedError, match="could not start: ValueError: no token"):
        h.session.connection_opened(0.0)
    assert h.session.state == SessionState.DISCONNECTED
    assert not h.session.out
    auth.fail_on = None
    assert h.open().properties == auth_props(SECRET + b"-1")  # the next attempt works


# --- the exchange before CONNACK ------------------------------------------------------------------


def test_challenges_are_answered_until_connack() -> None:
    h, auth = harness()
    h.open()
    for n in (1, 2):
        # [MQTT-4.12.0-2], [MQTT-4.12.0-3]: AUTH 0x18 answered with AUTH 0x18, same method.
        assert h.feed(Auth(0x18, auth_props(b"challenge-%d" % n))) == []
        assert h.take() == [Auth(0x18, auth_props(b"reply-%d" % (n + 1)))]
    events = h.feed(Connack(False, 0, auth_props(b"server-final")))
    assert isinstance(events[0], ConnectionAccepted)
    assert auth.calls == [
        ("start", None),
        ("challenge", b"challenge-1"),
        ("challenge", b"challenge-2"),
        ("finish", b"server-final"),
    ]
    assert h.session.state == SessionState.CONNECTED


def test_challenge_without_data() -> None:
    h, auth = harness()
    h.open()
    h.feed(Auth(0x18, auth_props()))
    assert auth.calls[-1] == ("challenge", None)


def test_nothing_but_auth_before_connack() -> None:
    # [MQTT-3.1.2-30]: with an Authentication Method in CONNECT, only AUTH or DISCONNECT until
    # CONNACK. Messages and requests made meanwhile wait for it, then go out in order.
    h, _ = harness()
    h.open()
    h.publish("q0", b"0", qos=0)
    h.publish("q1", b"1", qos=1)
    sub_mid = h.session.subscribe((Subscription("s/#", 1),), (), h.now)
    unsub_mid = h.session.unsubscribe(("u",), (), h.now)
    assert h.take() == []
    h.feed(Auth(0x18, auth_props(b"challenge")))
    assert [type(p) for p in h.take()] == [Auth]
    h.feed(Connack(False, 0, auth_props()))
    sent = h.take()
    assert [type(p) for p in sent] == [Subscribe, Unsubscribe, Publish, Publish]
    assert [sent[0].packet_id, sent[1].packet_id] == [sub_mid, unsub_mid]
    assert [(p.topic, p.qos) for p in sent[2:]] == [("q0", 0), ("q1", 1)]
    assert h.feed(Suback(sub_mid, (1,)))[0] == Subscribed(sub_mid, (1,), ())


def test_without_a_method_packets_may_precede_connack() -> None:
    # Unchanged paho parity when no enhanced authentication is involved (v5 §3.1.4).
    h = Harness(5)
    h.open()
    h.publish("q1", b"1", qos=1)
    h.session.subscribe((Subscription("s", 0),), (), h.now)
    assert [type(p) for p in h.take()] == [Publish, Subscribe]


def test_held_requests_are_dropped_with_the_connection() -> None:
    h, _ = harness()
    h.open()
    h.session.subscribe((Subscription("s", 0),), (), h.now)
    h.lose()
    h.open()
    h.feed(Connack(False, 0, auth_props()))
    assert h.take() == []


def test_auth_method_mismatch_is_a_protocol_error() -> None:
    # [MQTT-4.12.0-5]: every AUTH carries the method of the CONNECT.
    h, auth = harness()
    h.open()
    error = the_violation(h.feed(Auth(0x18, auth_props(b"x", "OTHER"))))
    assert isinstance(error, RemoteProtocolError) and error.reason_code == 0x82
    assert auth.calls == [("start", None)]  # the authenticator never saw it
    assert h.take() == []  # before CONNACK a protocol error closes without DISCONNECT
    assert h.session.state == SessionState.CLOSING


def test_auth_without_method_is_a_protocol_error() -> None:
    # §3.15.2.2.2: an AUTH without Authentication Method.
    h, _ = harness()
    h.open()
    assert the_violation(h.feed(Auth(0x18, auth_props(b"x", None)))).reason_code == 0x82


@pytest.mark.parametrize("connacked", [False, True])
def test_auth_when_connect_had_no_method(connacked: bool) -> None:
    # [MQTT-4.12.0-6]: no method in CONNECT, so an AUTH from the server is a Protocol Error.
    h = Harness(5)
    h.open()
    if connacked:
        h.feed(Connack(False, 0))
    assert the_violation(h.feed(Auth(0x18, auth_props(b"x")))).reason_code == 0x82
    assert h.take() == ([Disconnect(0x82)] if connacked else [])


@pytest.mark.parametrize("code", [0x00, 0x19, 0x87])
def test_wrong_auth_code_before_connack(code: int) -> None:
    # CONNACK, not AUTH 0x00, ends the first exchange; 0x19 is the client's (§3.15.2.1).
    h, _ = harness()
    h.open()
    assert the_violation(h.feed(Auth(code, auth_props(b"x")))).reason_code == 0x82


def test_connack_with_another_method_is_a_protocol_error() -> None:
    h, auth = harness()
    h.open()
    events = h.feed(Connack(False, 0, auth_props(b"final", "OTHER")))
    assert the_violation(events).reason_code == 0x82
    assert not any(isinstance(e, ConnectionAccepted) for e in events)
    assert ("finish", b"final") not in auth.calls


def test_refused_connack_does_not_ask_the_authenticator() -> None:
    h, auth = harness()
    h.open()
    events = h.feed(Connack(False, 0x87))
    assert isinstance(events[0], ConnectionRefused) and events[0].reason_code == 0x87
    assert [c[0] for c in auth.calls] == ["start"]


# --- the authenticator says no ---------------------------------------------------------------------


def test_rejected_server_final_ends_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    # The authenticator rejects the successful CONNACK (e.g. a wrong SCRAM server signature):
    # DISCONNECT 0x80 (0x87/0x8C are server-only codes, §3.14.2.1), no ConnectionAccepted.
    h, auth = harness()
    h.open()
    auth.fail_on = "finish"
    with caplog.at_level(logging.DEBUG):
        events = h.feed(Connack(False, 0, auth_props(SECRET)))
    error = the_violation(events)
    assert isinstance(error, AuthenticationError) and error.reason_code == 0x80
    assert not any(isinstance(e, ConnectionAccepted) for e in events)
    assert h.take() == [Disconnect(0x80)]
    assert h.session.state == SessionState.CLOSING
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("enhanced authentication failed" in w and "not who it claims" in w for w in warnings)
    assert SECRET.decode() not in caplog.text  # authentication data is never logged


@pytest.mark.parametrize(
    ("failure", "match"),
    [
        (AuthenticationError("unexpected challenge"), "unexpected challenge"),
        (ValueError("bug"), "authenticator failed: ValueError: bug"),
    ],
)
def test_rejected_challenge_disconnects_before_connack(failure: Exception, match: str) -> None:
    # With a method, DISCONNECT may be sent before CONNACK [MQTT-3.1.2-30].
    h, auth = harness()
    h.open()
    auth.fail_on = "challenge"
    auth.failure = failure
    error = the_violation(h.feed(Auth(0x18, auth_props(b"x"))))
    assert isinstance(error, AuthenticationError)
    assert match in str(error)
    assert h.take() == [Disconnect(0x80)]


def test_authenticator_returning_no_bytes_is_a_failure() -> None:
    class Wrong(Scripted):
        def challenge(self, data: Optional[bytes]) -> Optional[bytes]:
            return "text"  # type: ignore[return-value]

    h = Harness(5, authenticator=Wrong())
    h.open()
    error = the_violation(h.feed(Auth(0x18, auth_props(b"x"))))
    assert isinstance(error, AuthenticationError) and "not bytes" in str(error)


# --- re-authentication (§4.12.1) -------------------------------------------------------------------


def test_reauthentication_exchange() -> None:
    h, auth = connected()
    assert h.session.reauthenticate(h.now) is True
    # [MQTT-4.12.1-1]: AUTH 0x19 with the same method and new initial data.
    assert h.take() == [Auth(0x19, auth_props(SECRET + b"-2"))]
    h.publish("during", qos=1)  # other traffic goes on meanwhile
    assert [type(p) for p in h.take()] == [Publish]
    assert h.feed(Auth(0x18, auth_props(b"challenge"))) == []
    assert h.take() == [Auth(0x18, auth_props(b"reply-2"))]
    assert h.feed(Auth(0x00, auth_props(b"done"))) == []
    assert auth.calls == [("start", None), ("challenge", b"challenge"), ("finish", b"done")]
    assert h.session.state == SessionState.CONNECTED
    assert h.session.reauthenticate(h.now) is True  # and again
    assert h.take() == [Auth(0x19, auth_props(SECRET + b"-3"))]


def test_reauthentication_refused_by_the_server() -> None:
    # [MQTT-4.12.1-2]: the server ends a failed re-authentication with DISCONNECT.
    h, _ = connected()
    h.session.reauthenticate(h.now)
    events = h.feed(Disconnect(0x87))
    assert events == [ServerDisconnected(0x87, ())]


def test_reauthentication_rejected_by_the_client() -> None:
    h, auth = connected()
    h.session.reauthenticate(h.now)
    h.take()
    auth.fail_on = "finish"
    error = the_violation(h.feed(Auth(0x00, auth_props(b"bad"))))
    assert isinstance(error, AuthenticationError)
    assert h.take() == [Disconnect(0x80)]


def test_reauthenticate_while_in_progress_sends_nothing() -> None:
    h, _ = connected()
    assert h.session.reauthenticate(h.now) is True
    h.take()
    assert h.session.reauthenticate(h.now) is False
    assert h.take() == []


def test_reauthenticate_needs_a_connected_authenticated_session() -> None:
    h, _ = harness()
    with pytest.raises(InvalidStateError, match="not connected"):
        h.session.reauthenticate(0.0)
    h.open()
    with pytest.raises(InvalidStateError, match="not connected"):
        h.session.reauthenticate(0.0)  # before CONNACK
    for plain in (Harness(5), Harness(5, connect_properties=auth_props(b"raw"))):
        plain.connect(properties=auth_props() if plain.config.connect_properties else ())
        with pytest.raises(InvalidStateError, match="not made with an authenticator"):
            plain.session.reauthenticate(0.0)
        assert plain.take() == []


def test_failing_start_on_reauthentication_sends_nothing() -> None:
    h, auth = connected()
    auth.fail_on = "start"
    with pytest.raises(AuthenticationError):
        h.session.reauthenticate(h.now)
    assert h.take() == []
    assert h.session.state == SessionState.CONNECTED
    auth.fail_on = None
    assert h.session.reauthenticate(h.now) is True


@pytest.mark.parametrize("code", [0x18, 0x00])
def test_unsolicited_auth_after_connack_is_a_protocol_error(code: int) -> None:
    # Only the client starts a re-authentication (§4.12.1).
    h, auth = connected()
    assert the_violation(h.feed(Auth(code, auth_props(b"x")))).reason_code == 0x82
    assert h.take() == [Disconnect(0x82)]
    assert auth.calls == []


def test_connection_lost_during_reauthentication() -> None:
    h, auth = connected()
    h.session.reauthenticate(h.now)
    h.lose()
    connect = h.open()  # a new connection starts a new exchange
    assert connect.properties == auth_props(SECRET + b"-3")
    h.feed(Connack(False, 0, auth_props(b"final")))
    assert auth.calls[-1] == ("finish", b"final")


# --- SCRAM-SHA-256 through the session (RFC 7677 §3 exchange) --------------------------------------


def test_scram_exchange_through_the_session() -> None:
    scram = ScramSha256Authenticator("user", "pencil", nonce_factory=lambda: "rOprNGfwEbeRWgbNEkqO")
    h = Harness(5, authenticator=scram)
    method = "SCRAM-SHA-256"
    assert h.open().properties == auth_props(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", method)
    server_first = (
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    h.feed(Auth(0x18, auth_props(server_first, method)))
    client_final = (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert h.take() == [Auth(0x18, auth_props(client_final, method))]
    server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    events = h.feed(Connack(False, 0, auth_props(server_final, method)))
    assert isinstance(events[0], ConnectionAccepted)
