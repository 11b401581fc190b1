"""Security defaults (issue 8): no password, token or payload in logs above DEBUG or in the
``repr()`` of the client and its public objects; payloads never logged at all; TLS verification
on by default."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import mqttclient.client as mqtt
from mqttclient._core import packets as P
from mqttclient._core.codec import encode
from mqttclient._io.proxy import SOCKS5, ProxySettings
from mqttclient.errors import TLSError
from tests.brokers import Certs, Listener
from tests.fakebroker import CONNECT, PUBACK, PUBLISH, FakeBroker, connack
from tests.integration.fakeclient import WAIT_S, close_all, start
from tests.integration.helpers import V2, wait_until

PASSWORD = "s3cret-pw"
TOKEN = "tok-SECRET-9f8e7d"
PROXY_PASSWORD = "proxy-pw-SECRET"
PAYLOAD = b"TOPSECRET"
IN_PAYLOAD = b"INSECRET"
SECRETS = (PASSWORD, TOKEN, PROXY_PASSWORD)
PAYLOADS = ("TOPSECRET", "INSECRET", PAYLOAD.hex(), IN_PAYLOAD.hex())


class Capture:
    """Everything the client logs: caplog records at DEBUG and ``on_log`` calls."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.on_log: list[tuple[int, str]] = []

    def callback(self, _client: Any, _userdata: Any, level: int, buf: str) -> None:
        self.on_log.append((level, buf))

    def lines(self) -> list[tuple[int, str]]:
        records = [(r.levelno, r.getMessage()) for r in self.caplog.records]
        return records + [(mqtt.LOGGING_LEVEL.get(lv, logging.DEBUG), m) for lv, m in self.on_log]

    def check(self, *extra_texts: str) -> int:
        lines = self.lines()
        assert lines, "nothing was logged"
        for level, message in lines:
            for payload in PAYLOADS:
                assert payload not in message, (level, message)
            if level > logging.DEBUG:
                for secret in SECRETS:
                    assert secret not in message, (level, message)
        for text in extra_texts:
            for secret in SECRETS + PAYLOADS:
                assert secret not in text, text
        return len(lines)


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture) -> Iterator[Capture]:
    caplog.set_level(logging.DEBUG)
    yield Capture(caplog)


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
def test_no_secrets_in_logs_or_reprs(fake_broker: FakeBroker, capture: Capture, protocol) -> None:
    version = 5 if protocol == mqtt.MQTTv5 else 4
    client = mqtt.Client(V2, client_id="cid", protocol=protocol)
    client.reconnect_delay_set(0.05, 0.1)
    client.enable_logger()
    client.on_log = capture.callback
    client.username_pw_set("u", PASSWORD)
    messages: list[mqtt.MQTTMessage] = []
    client.on_message = lambda _c, _u, msg: messages.append(msg)
    reprs: list[str] = []
    try:
        connect = start(client, fake_broker, version=version)
        assert PASSWORD.encode() in connect  # sanity: the secret did travel

        info = client.publish("t/out", PAYLOAD, qos=1)
        sent = fake_broker.expect(PUBLISH, WAIT_S)
        assert PAYLOAD in sent
        fake_broker.send(encode(P.Puback(sent.decoded.packet_id), version))
        info.wait_for_publish(WAIT_S)
        fake_broker.send(encode(P.Publish("t/in", IN_PAYLOAD, 1, False, False, 5), version))
        assert fake_broker.expect(PUBACK, WAIT_S).decoded.packet_id == 5
        wait_until(lambda: len(messages) == 1, WAIT_S)
        reprs += [repr(client), str(client), repr(info), str(info)]
        reprs += [repr(messages[0]), str(messages[0])]

        # A reconnect with a token from a credentials provider.
        credentials = mqtt.Credentials("u", TOKEN)
        reprs += [repr(credentials), str(credentials)]
        client.credentials_provider_set(lambda: credentials)
        fake_broker.close_client()
        connect = fake_broker.expect(CONNECT, WAIT_S)
        assert TOKEN.encode() in connect
        fake_broker.send(connack(False, 0, version))
        wait_until(client.is_connected, WAIT_S)
        reprs.append(repr(client))

        # A refused reconnect (bad credentials) logs at WARNING or above.
        fake_broker.close_client()
        fake_broker.expect(CONNECT, WAIT_S)
        fake_broker.send(connack(False, 0x86 if version == 5 else 4, version))
        fake_broker.expect(CONNECT, WAIT_S)
        fake_broker.send(connack(False, 0, version))
        wait_until(client.is_connected, WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()
        close_all(fake_broker)
    assert any(level >= logging.INFO for level, _ in capture.lines())
    capture.check(*reprs)


def test_no_proxy_password_in_logs_or_reprs(capture: Capture) -> None:
    client = mqtt.Client(V2, client_id="cid")
    client.enable_logger()
    client.on_log = capture.callback
    client.proxy_set(
        proxy_type=SOCKS5,
        proxy_addr="127.0.0.1",
        proxy_port=9,  # discard port: nothing listens, the connection fails
        proxy_username="pu",
        proxy_password=PROXY_PASSWORD,
    )
    settings = ProxySettings(SOCKS5, "127.0.0.1", 9, True, "pu", PROXY_PASSWORD)
    texts = [repr(client), str(client), repr(settings), repr(client._proxy)]
    try:
        with pytest.raises(OSError):
            client.connect("127.0.0.1", 1883)
    finally:
        client.loop_stop()
    capture.check(*texts)


def test_tls_verification_is_on_by_default(mosquitto_factory, certs: Certs) -> None:
    broker = mosquitto_factory(listeners=[Listener("tls")])
    client = mqtt.Client(V2, client_id="cid")
    client.tls_set()  # default trust: the test CA is unknown, the broker must be refused
    with pytest.raises(TLSError, match="unknown CA"):
        client.connect("localhost", broker.port("tls"))
    assert not client.is_connected()
    verified = mqtt.Client(V2, client_id="cid2")
    verified.tls_set(ca_certs=certs.ca)  # the right CA: the same broker is accepted
    verified.connect("localhost", broker.port("tls"))
    try:
        verified.loop_start()
        wait_until(verified.is_connected, WAIT_S)
    finally:
        verified.disconnect()
        verified.loop_stop()
