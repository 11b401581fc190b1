"""MQTT 5 enhanced authentication through ``Client`` against the scripted fake broker acting as
a SCRAM-SHA-256 server (MQTT 5.0 §4.12; RFC 5802, RFC 7677). mosquitto has no SCRAM without a
plugin, so the server side of the exchange is written here, independently of the client's
code: it checks the client proof and sends its server signature in the CONNACK (or in AUTH
0x00 after a re-authentication).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator
from typing import Any, Optional

import pytest

import mqttclient.client as mqtt
from mqttclient import _spec
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from mqttclient.auth import ScramSha256Authenticator
from mqttclient.errors import AuthenticationError
from tests.fakebroker import AUTH, CONNECT, DISCONNECT, PUBLISH, SUBSCRIBE, FakeBroker, RawPacket
from tests.integration.helpers import V1, V2, Recorder, wait_until

WAIT_S = 5.0
METHOD = "SCRAM-SHA-256"
USER = "alice"
PASSWORD = "correct-horse-SECRET"


class ScramServer:
    """The server side of SCRAM-SHA-256 for one user (stores only StoredKey and ServerKey)."""

    def __init__(self, user: str, password: str, iterations: int = 4096) -> None:
        self.user = user
        self.salt = secrets.token_bytes(16)
        self.iterations = iterations
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, iterations)
        self.stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
        self.server_key = _hmac(salted, b"Server Key")
        self.secrets: list[bytes] = []  # every message of every exchange (must never be logged)
        self._first_bare = ""
        self._server_first = ""
        self._nonce = ""

    def server_first(self, client_first: bytes) -> bytes:
        self.secrets.append(client_first)
        text = client_first.decode()
        assert text.startswith("n,,"), text  # no channel binding, no authzid
        fields = dict(part.split("=", 1) for part in text[3:].split(","))
        assert fields["n"] == self.user
        self._first_bare = text[3:]
        self._nonce = fields["r"] + secrets.token_urlsafe(12)
        salt = base64.b64encode(self.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={self.iterations}"
        self.secrets.append(self._server_first.encode())
        return self._server_first.encode()

    def server_final(self, client_final: bytes, forge: bool = False) -> Optional[bytes]:
        """``v=<server signature>`` if the proof is right (a wrong one if ``forge``), else None."""
        self.secrets.append(client_final)
        text = client_final.decode()
        without_proof, _, proof_b64 = text.rpartition(",p=")
        assert without_proof == f"c=biws,r={self._nonce}", without_proof
        auth_message = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(self.stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof_b64), signature))
        if hashlib.sha256(client_key).digest() != self.stored_key:
            return None
        server_signature = _hmac(self.server_key, auth_message)
        if forge:
            server_signature = bytes(b ^ 0xFF for b in server_signature)
        final = b"v=" + base64.b64encode(server_signature)
        self.secrets.append(final)
        return final


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def auth_props(data: Optional[bytes]) -> P.Props:
    props: P.Props = ((_spec.AUTHENTICATION_METHOD, METHOD),)
    return props + (((_spec.AUTHENTICATION_DATA, data),) if data is not None else ())


def data_of(packet: RawPacket) -> Optional[bytes]:
    decoded = packet.decoded
    assert decoded is not None, packet
    assert P.get_prop(decoded.properties, _spec.AUTHENTICATION_METHOD) == METHOD
    data: Optional[bytes] = P.get_prop(decoded.properties, _spec.AUTHENTICATION_DATA)
    return data


def serve_exchange(broker: FakeBroker, server: ScramServer, forge: bool = False) -> bool:
    """Run the broker's side of a connect: CONNECT, AUTH 0x18 both ways, CONNACK. Returns
    whether the proof was right (CONNACK 0x00 with server-final) or not (CONNACK 0x87)."""
    connect = broker.expect(CONNECT, WAIT_S)
    broker.send(encode(P.Auth(0x18, auth_props(server.server_first(data_of(connect) or b""))), 5))
    answer = broker.expect(AUTH, WAIT_S)  # [MQTT-3.1.2-30]: nothing else before CONNACK
    assert answer.decoded.reason_code == 0x18
    final = server.server_final(data_of(answer) or b"", forge)
    if final is None:
        broker.send(encode(P.Connack(False, 0x87, ((_spec.REASON_STRING, "bad proof"),)), 5))
        return False
    broker.send(encode(P.Connack(False, 0, auth_props(final)), 5))
    return True


@pytest.fixture
def server() -> ScramServer:
    return ScramServer(USER, PASSWORD)


@pytest.fixture
def stop_all(fake_broker: FakeBroker) -> Iterator[list[mqtt.Client]]:
    clients: list[mqtt.Client] = []
    yield clients
    for client in clients:
        client.disconnect()
    for connection in fake_broker.connections:
        connection.close()  # the client's drain after DISCONNECT ends at once
    for client in clients:
        client.loop_stop()


def scram_client(
    clients: list[mqtt.Client],
    api: mqtt.CallbackAPIVersion = V2,
    password: str = PASSWORD,
    **kw: Any,
) -> tuple[mqtt.Client, ScramSha256Authenticator]:
    client = mqtt.Client(api, client_id="auth-test", protocol=mqtt.MQTTv5, **kw)
    client.reconnect_delay_set(0.05, 0.1)
    authenticator = ScramSha256Authenticator(USER, password)
    client.enhanced_auth_set(authenticator)
    clients.append(client)
    return client, authenticator


@pytest.mark.parametrize("api", [V1, V2], ids=["v1", "v2"])
def test_scram_connect(
    fake_broker: FakeBroker, server: ScramServer, stop_all: list[mqtt.Client], api: Any
) -> None:
    client, _ = scram_client(stop_all, api)
    rec = Recorder()
    rec.attach(client, "on_connect", "on_disconnect")
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    connect = fake_broker.expect(CONNECT, WAIT_S)
    assert connect.decoded.properties[-2:] == auth_props(data_of(connect))
    # Made before the CONNACK: they must wait for it [MQTT-3.1.2-30].
    client.subscribe("cmd/#", 1)
    client.publish("early", b"x", qos=1)
    server_first = server.server_first(data_of(connect) or b"")
    fake_broker.send(encode(P.Auth(0x18, auth_props(server_first)), 5))
    answer = fake_broker.expect(AUTH, WAIT_S)
    final = server.server_final(data_of(answer) or b"")
    assert final is not None  # the client proved it knows the password
    fake_broker.send(encode(P.Connack(False, 0, auth_props(final)), 5))
    wait_until(client.is_connected, WAIT_S)
    assert fake_broker.expect(SUBSCRIBE, WAIT_S).decoded.subscriptions[0].topic_filter == "cmd/#"
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.topic == "early"
    wait_until(lambda: rec.count("on_connect") == 1, WAIT_S)
    flags, reason, _props = rec.get("on_connect")[0]
    assert reason == 0 and not flags["session present" if api == V1 else 0]
    assert rec.count("on_disconnect") == 0


def test_wrong_password_is_refused(
    fake_broker: FakeBroker, server: ScramServer, stop_all: list[mqtt.Client]
) -> None:
    client, _ = scram_client(stop_all, password="wrong-password", reconnect_on_failure=False)
    rec = Recorder()
    rec.attach(client, "on_connect", "on_disconnect")
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    assert serve_exchange(fake_broker, server) is False
    wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    ((_flags, reason, props),) = rec.get("on_connect")
    assert reason == 0x87 and props.ReasonString == "bad proof"
    assert not client.is_connected()


def test_bad_server_signature_makes_the_client_disconnect(
    fake_broker: FakeBroker,
    server: ScramServer,
    stop_all: list[mqtt.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = scram_client(stop_all)
    rec = Recorder()
    rec.attach(client, "on_connect", "on_disconnect")
    with caplog.at_level(logging.WARNING):
        client.connect("127.0.0.1", fake_broker.port)
        client.loop_start()
        assert serve_exchange(fake_broker, server, forge=True) is True
        # A server that does not know the password: the client refuses it with DISCONNECT 0x80
        # (0x87/0x8C are server-only codes, MQTT 5.0 §3.14.2.1) and closes.
        assert fake_broker.expect(DISCONNECT, WAIT_S).decoded.reason_code == 0x80
        fake_broker.wait_closed(WAIT_S)
        wait_until(lambda: rec.count("on_disconnect") == 1, WAIT_S)
    _flags, reason, _props = rec.get("on_disconnect")[0]
    assert reason == 0x80
    assert rec.count("on_connect") == 0  # never connected
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("server signature is wrong" in w for w in warnings), warnings
    # The network thread survived: it reconnects, and an honest server is accepted.
    assert serve_exchange(fake_broker, server) is True
    wait_until(client.is_connected, WAIT_S)
    wait_until(lambda: rec.count("on_connect") == 1, WAIT_S)


class Recording(ScramSha256Authenticator):
    """Counts the exchanges that ended with a verified server."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.verified = 0

    def finish(self, data: Optional[bytes]) -> None:
        super().finish(data)
        self.verified += 1


def test_reauthentication_on_a_live_connection(
    fake_broker: FakeBroker, server: ScramServer, stop_all: list[mqtt.Client]
) -> None:
    client = mqtt.Client(V2, client_id="reauth", protocol=mqtt.MQTTv5)
    stop_all.append(client)
    authenticator = Recording(USER, PASSWORD)
    client.enhanced_auth_set(authenticator)
    assert client.reauthenticate() == mqtt.MQTT_ERR_NO_CONN
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    assert serve_exchange(fake_broker, server)
    wait_until(client.is_connected, WAIT_S)
    wait_until(lambda: authenticator.verified == 1, WAIT_S)

    assert client.reauthenticate() == mqtt.MQTT_ERR_SUCCESS
    start = fake_broker.expect(AUTH, WAIT_S)
    assert start.decoded.reason_code == 0x19  # [MQTT-4.12.1-1], same method
    assert client.reauthenticate() == mqtt.MQTT_ERR_AGAIN  # one exchange at a time
    client.publish("during", b"x", qos=0)  # other traffic goes on meanwhile (§4.12.1)
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.topic == "during"
    server_first = server.server_first(data_of(start) or b"")
    fake_broker.send(encode(P.Auth(0x18, auth_props(server_first)), 5))
    answer = fake_broker.expect(AUTH, WAIT_S)
    assert answer.decoded.reason_code == 0x18
    final = server.server_final(data_of(answer) or b"")
    assert final is not None
    fake_broker.send(encode(P.Auth(0x00, auth_props(final)), 5))
    wait_until(lambda: authenticator.verified == 2, WAIT_S)
    assert client.is_connected()
    assert client.reauthenticate() == mqtt.MQTT_ERR_SUCCESS  # free again
    assert fake_broker.expect(AUTH, WAIT_S).decoded.reason_code == 0x19


def test_authentication_data_is_never_logged(
    fake_broker: FakeBroker,
    server: ScramServer,
    stop_all: list[mqtt.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client, authenticator = scram_client(stop_all)
    on_log: list[str] = []
    client.enable_logger()
    client.on_log = lambda _c, _u, _level, buf: on_log.append(buf)
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    assert serve_exchange(fake_broker, server)
    wait_until(client.is_connected, WAIT_S)
    client.reauthenticate()
    start = fake_broker.expect(AUTH, WAIT_S)
    fake_broker.send(
        encode(P.Auth(0x18, auth_props(server.server_first(data_of(start) or b""))), 5)
    )
    final = server.server_final(data_of(fake_broker.expect(AUTH, WAIT_S)) or b"", forge=True)
    fake_broker.send(encode(P.Auth(0x00, auth_props(final)), 5))  # rejected by the client
    assert fake_broker.expect(DISCONNECT, WAIT_S).decoded.reason_code == 0x80
    wait_until(lambda: not client.is_connected(), WAIT_S)
    lines = [r.getMessage() for r in caplog.records] + on_log
    assert any("AUTH" in line for line in lines)  # the packets were logged, without data
    texts = [*lines, repr(client), repr(authenticator), str(authenticator)]
    secrets_seen = [s.decode() for s in server.secrets]
    # Every message of both exchanges, the nonces and proofs they contain, and the password.
    pieces = [PASSWORD] + [p for s in secrets_seen for p in s.split(",") if len(p) > 8]
    assert len(secrets_seen) == 8
    for text in texts:
        for piece in pieces:
            assert piece not in text, (piece, text)


def test_enhanced_auth_needs_mqtt5() -> None:
    client = mqtt.Client(V2, protocol=mqtt.MQTTv311)
    with pytest.raises(ValueError, match=r"MQTT 5\.0"):
        client.enhanced_auth_set(ScramSha256Authenticator(USER, PASSWORD))
    assert client.reauthenticate() == mqtt.MQTT_ERR_NO_CONN
    v5 = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    with pytest.raises(TypeError):
        v5.enhanced_auth_set(object())  # type: ignore[arg-type]
    v5.enhanced_auth_set(None)  # turning it off is always fine


def test_reauthenticate_without_authenticator(
    fake_broker: FakeBroker, stop_all: list[mqtt.Client]
) -> None:
    client = mqtt.Client(V2, client_id="plain", protocol=mqtt.MQTTv5)
    stop_all.append(client)
    client.connect("127.0.0.1", fake_broker.port)
    client.loop_start()
    fake_broker.expect(CONNECT, WAIT_S)
    fake_broker.send(encode(P.Connack(False, 0), 5))
    wait_until(client.is_connected, WAIT_S)
    assert client.reauthenticate() == mqtt.MQTT_ERR_NOT_SUPPORTED
    fake_broker.expect_nothing(0.2)


def test_failing_authenticator_start_is_a_failed_connect(fake_broker: FakeBroker) -> None:
    class Broken(ScramSha256Authenticator):
        def start(self) -> bytes:
            raise AuthenticationError("no credentials yet")

    client = mqtt.Client(V2, client_id="broken", protocol=mqtt.MQTTv5)
    client.enhanced_auth_set(Broken(USER, PASSWORD))
    with pytest.raises(ConnectionError, match="could not start"):
        client.connect("127.0.0.1", fake_broker.port)
    assert not client.is_connected()
