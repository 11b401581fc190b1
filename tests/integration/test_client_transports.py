"""The Client over every transport, against real servers on 127.0.0.1.

Each test drives ``mqttclient.client.Client`` (not the raw transports, which
``test_transports.py`` covers): TLS (server auth, mutual TLS, ALPN, user contexts), WebSocket
(ws, wss, path and headers), Unix sockets, SOCKS5 and HTTP CONNECT proxies (explicit and from the
environment), connect timeouts, and the credentials provider. Every "it worked" is a message
published and received back through the connection under test; every "it went through X" is
proven (the proxy's peer address, the proxy's log, the bytes a recording relay saw, or the
failure once X is gone). Error tests check the key words of the message a user sees.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import queue
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from cryptography import x509

import mqttclient.client as mqtt
from mqttclient._io.proxy import HTTP, SOCKS5  # equal to HTTP / SOCKS5
from mqttclient._io.tlsconfig import build_tls_context
from mqttclient._io.transport import ConnectParams, TLSSettings, open_transport
from mqttclient.errors import (
    ConnectionFailedError,
    ConnectTimeoutError,
    InvalidArgumentError,
    ProxyError,
    TLSError,
)
from tests.brokers import Certs, Listener, Microsocks, Mosquitto, Tinyproxy
from tests.faultproxy import RecordingRelay
from tests.integration.helpers import V2, Recorder, wait_until
from tests.servers import OneShotServer, SilentServer, server_tls_context

IO_TIMEOUT_S = 5.0
requires_pysocks = pytest.mark.skipif(
    importlib.util.find_spec("socks") is None, reason="PySocks is not installed (mqttclient[proxy])"
)
# Generous bound for "did not hang": the timeout plus scheduling slack, never a speed claim.
SLACK_S = 3.0


# --- servers ------------------------------------------------------------------------------------


@pytest.fixture
def broker(every_listener_broker: Mosquitto) -> Mosquitto:
    """One mosquitto with every kind of listener, shared by this module (do not stop it)."""
    return every_listener_broker


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without proxy variables (the machine's own must not leak in)."""
    for name in ("mqtt_proxy", "MQTT_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- client helpers -----------------------------------------------------------------------------


def new_client(**kwargs: Any) -> mqtt.Client:
    kwargs.setdefault("client_id", f"ct-{uuid.uuid4().hex[:10]}")
    return mqtt.Client(V2, **kwargs)


@contextlib.contextmanager
def connected(client: mqtt.Client, host: str, port: int = 1883) -> Iterator[mqtt.Client]:
    """``connect()`` (blocking, raises on failure), ``loop_start()``, wait for CONNACK; on exit
    disconnect and stop the loop."""
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        wait_until(client.is_connected, IO_TIMEOUT_S)
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def roundtrip(client: mqtt.Client, payload: bytes = b"hello") -> None:
    """Subscribe, publish at QoS 1 and receive the message back over the client's connection."""
    topic = f"client-transports/{uuid.uuid4().hex}"
    got: queue.Queue[bytes] = queue.Queue()
    subscribed = threading.Event()
    client.message_callback_add(topic, lambda c, u, msg: got.put(msg.payload))
    client.on_subscribe = lambda *args: subscribed.set()
    try:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(IO_TIMEOUT_S), "no SUBACK"
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(IO_TIMEOUT_S)
        assert got.get(timeout=IO_TIMEOUT_S) == payload
    finally:
        client.message_callback_remove(topic)
        client.on_subscribe = None


def loop_until_lost(client: mqtt.Client, timeout: float = IO_TIMEOUT_S) -> mqtt.MQTTErrorCode:
    """Run ``loop()`` in this thread until the connection ends; return its code."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rc = client.loop(0.2)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            return rc
    raise AssertionError("the connection did not end")


def warnings_from(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# --- TLS ----------------------------------------------------------------------------------------


def test_tls_server_auth(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    with connected(client, "localhost", broker.port("tls")):
        sock = client.socket()
        assert isinstance(sock, ssl.SSLSocket)
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        assert sock.server_hostname == "localhost"  # SNI sent
        roundtrip(client)


def test_tls_to_an_ip_address_checks_the_ip_san(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    with connected(client, "127.0.0.1", broker.port("tls")):
        roundtrip(client)


def test_tls_default_trust_rejects_the_test_ca(broker: Mosquitto) -> None:
    client = new_client()
    client.tls_set()  # certifi's bundle: a private CA is unknown
    with pytest.raises(TLSError) as info:
        client.connect("localhost", broker.port("tls"))
    message = str(info.value)
    assert "unknown CA" in message
    assert "ca_certs" in message  # what to do about it
    assert not client.is_connected()


def test_tls_set_context_default_rejects_the_test_ca(broker: Mosquitto) -> None:
    client = new_client()
    client.tls_set_context()
    with pytest.raises(TLSError, match="unknown CA"):
        client.connect("localhost", broker.port("tls"))


def test_tls_wrong_host_refused_with_the_certificate_names(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    with pytest.raises(TLSError) as info:
        client.connect("localhost", broker.port("wrong_host"))
    message = str(info.value)
    assert "does not match" in message and "'localhost'" in message
    assert "wrong.example" in message and "other.example" in message
    assert "tls_insecure_set" in message


def test_tls_insecure_accepts_the_wrong_host(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    client.tls_insecure_set(True)
    with connected(client, "localhost", broker.port("wrong_host")):
        roundtrip(client)


def test_tls_insecure_still_verifies_the_chain(broker: Mosquitto) -> None:
    client = new_client()
    client.tls_set()
    client.tls_insecure_set(True)  # only the host name check is off
    with pytest.raises(TLSError, match="unknown CA"):
        client.connect("localhost", broker.port("wrong_host"))


def test_tls_insecure_set_back_to_secure(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    client.tls_insecure_set(True)
    client.tls_insecure_set(False)
    with pytest.raises(TLSError, match="does not match"):
        client.connect("localhost", broker.port("wrong_host"))


def test_tls_expired_certificate(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    with pytest.raises(TLSError) as info:
        client.connect("localhost", broker.port("expired"))
    message = str(info.value)
    assert "expired" in message
    cert = x509.load_pem_x509_certificate(Path(certs.expired_cert).read_bytes())
    assert cert.not_valid_after_utc.strftime("%Y-%m-%d") in message  # when it expired


def test_mutual_tls(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key)
    with connected(client, "localhost", broker.port("mtls")):
        roundtrip(client)
    # use_identity_as_username: the broker saw the certificate's CN as the user name
    wait_until(lambda: f"u'{Certs.CLIENT_CN}'" in broker.log(), IO_TIMEOUT_S)


def test_mutual_tls_with_an_encrypted_key(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(
        ca_certs=certs.ca,
        certfile=certs.client_cert,
        keyfile=certs.client_key_encrypted,
        keyfile_password=Certs.KEY_PASSWORD,
    )
    with connected(client, "localhost", broker.port("mtls")):
        roundtrip(client)


def test_encrypted_key_without_or_with_a_wrong_password(certs: Certs) -> None:
    with pytest.raises(ValueError, match=r"encrypted.*keyfile_password"):
        new_client().tls_set(
            ca_certs=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key_encrypted
        )
    with pytest.raises(ValueError, match="keyfile_password") as info:
        new_client().tls_set(
            ca_certs=certs.ca,
            certfile=certs.client_cert,
            keyfile=certs.client_key_encrypted,
            keyfile_password="not-the-password",
        )
    assert "not-the-password" not in str(info.value)
    assert certs.client_key_encrypted in str(info.value)  # names the file


def test_missing_client_certificate_refused_in_the_handshake(
    broker: Mosquitto, certs: Certs
) -> None:
    # TLS 1.2: the broker's refusal is part of the handshake, so connect() raises it.
    client = new_client()
    client.tls_set(ca_certs=certs.ca, tls_version=ssl.PROTOCOL_TLSv1_2)
    with pytest.raises(TLSError) as info:
        client.connect("localhost", broker.port("mtls"))
    message = str(info.value)
    assert "client certificate" in message
    assert "certfile" in message  # what to do


def test_missing_client_certificate_refused_after_the_handshake(
    broker: Mosquitto, certs: Certs, caplog: pytest.LogCaptureFixture
) -> None:
    # TLS 1.3: the client finishes its handshake first; the refusal arrives as an alert on the
    # first read or write and ends the connection with the same explanation. Which of the two
    # meets the alert is a race: try a few times.
    caplog.set_level(logging.WARNING)
    for _ in range(4):
        caplog.clear()
        client = new_client()
        client.tls_set(ca_certs=certs.ca)
        recorder = Recorder()
        recorder.attach(client, "on_connect", "on_disconnect")
        try:
            client.connect("localhost", broker.port("mtls"))
        except TLSError as exc:  # the alert may already be there when CONNECT is written
            message = str(exc)
        else:
            assert loop_until_lost(client) == mqtt.MQTT_ERR_CONN_LOST
            assert recorder.count("on_disconnect") == 1
            message = warnings_from(caplog)
        assert recorder.count("on_connect") == 0
        assert "refused the client certificate" in message
        assert "certfile" in message


def test_untrusted_client_certificate_is_refused(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(
        ca_certs=certs.ca,
        certfile=certs.rogue_client_cert,
        keyfile=certs.rogue_client_key,
        tls_version=ssl.PROTOCOL_TLSv1_2,
    )
    with pytest.raises(TLSError, match="client certificate"):
        client.connect("localhost", broker.port("mtls"))


def test_tls_refusal_in_the_loop_thread_does_not_kill_it(broker: Mosquitto, certs: Certs) -> None:
    # Regression: a TLS write failing under loop_start() left a buffer export on the session's
    # outgoing bytearray; clearing it on connection loss raised BufferError in the loop thread.
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    client.reconnect_delay_set(0.05, 0.1)
    recorder = Recorder()
    recorder.attach(client, "on_disconnect", "on_connect_fail")
    client.connect_async("localhost", broker.port("mtls"))
    client.loop_start()
    try:
        wait_until(
            lambda: recorder.count("on_disconnect") + recorder.count("on_connect_fail") >= 6,
            IO_TIMEOUT_S,
        )
        loop_thread = f"paho-mqtt-client-{client.client_id}"
        assert any(t.name == loop_thread for t in threading.enumerate())  # still running
    finally:
        client.loop_stop()
    assert not client.is_connected()


def test_tls_send_failure_releases_the_callers_buffer(certs: Certs) -> None:
    # The transport-level cause of the regression above, made deterministic: a server that
    # completes the handshake and resets the connection; the failed send must not keep a view
    # of the caller's bytearray alive while the exception is held.
    def reset(tls: socket.socket) -> None:
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        tls.close()  # RST

    with OneShotServer(reset, tls=server_tls_context(certs)) as server:
        context = build_tls_context(ca_certs=certs.ca)
        port = server.port
        transport = open_transport(ConnectParams("localhost", port, tls=TLSSettings(context)))
        try:
            server.join()
            buf = bytearray(b"\x10\x0c" + b"\0" * 12)
            with pytest.raises(OSError) as info:  # holds the exception (and its traceback)
                end = time.monotonic() + IO_TIMEOUT_S
                while time.monotonic() < end:
                    transport.send(buf)
                    time.sleep(0.02)
            assert info.value is not None
            buf.clear()  # BufferError if a view of buf is still exported
        finally:
            transport.close()


def test_alpn_is_offered(certs: Certs) -> None:
    # mosquitto 2.0.11 does not negotiate ALPN: a small TLS MQTT server records what it saw.
    selected: queue.Queue[Optional[str]] = queue.Queue()

    def serve(tls: ssl.SSLSocket) -> None:
        tls.settimeout(IO_TIMEOUT_S)
        selected.put(tls.selected_alpn_protocol())
        tls.recv(1024)  # CONNECT
        tls.sendall(bytes.fromhex("20 02 00 00"))  # CONNACK accepted
        while tls.recv(1024):  # until the client's DISCONNECT and close
            pass

    context = server_tls_context(certs, alpn=["x-amzn-mqtt-ca"])
    with OneShotServer(serve, tls=context) as server:
        client = new_client()
        client.tls_set(ca_certs=certs.ca, alpn_protocols=["x-amzn-mqtt-ca"])
        with connected(client, "localhost", server.port):
            assert client.socket().selected_alpn_protocol() == "x-amzn-mqtt-ca"
            assert selected.get(timeout=IO_TIMEOUT_S) == "x-amzn-mqtt-ca"


def test_alpn_offered_to_a_broker_without_alpn(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca, alpn_protocols=["x-amzn-mqtt-ca"])
    with connected(client, "localhost", broker.port("tls")):
        assert client.socket().selected_alpn_protocol() is None
        roundtrip(client)


def test_tls_set_context(broker: Mosquitto, certs: Certs) -> None:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certs.ca)
    client = new_client()
    client.tls_set_context(context)
    with connected(client, "localhost", broker.port("tls")):
        assert client.socket().context is context  # used as given
        roundtrip(client)
    with pytest.raises(ValueError, match="already"):
        client.tls_set(ca_certs=certs.ca)


def test_tls_set_context_with_a_client_certificate(broker: Mosquitto, certs: Certs) -> None:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certs.ca)
    context.load_cert_chain(certs.client_cert, certs.client_key)
    client = new_client()
    client.tls_set_context(context)
    with connected(client, "localhost", broker.port("mtls")):
        roundtrip(client)


def test_tls_to_a_plain_port(broker: Mosquitto, certs: Certs) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    with pytest.raises(TLSError) as info:
        client.connect("localhost", broker.port("tcp"))
    message = str(info.value)
    assert "did not answer TLS" in message or "without answering TLS" in message
    assert "plain MQTT port" in message


def test_plain_to_a_tls_port(broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    client = new_client()
    recorder = Recorder()
    recorder.attach(client, "on_connect", "on_disconnect")
    caplog.set_level(logging.WARNING)
    client.connect("localhost", broker.port("tls"))  # TCP works; TLS expected the first bytes
    assert loop_until_lost(client) == mqtt.MQTT_ERR_CONN_LOST
    assert recorder.count("on_connect") == 0
    assert recorder.count("on_disconnect") == 1
    message = warnings_from(caplog)
    assert "TLS port" in message and "tls_set" in message


def test_loop_thread_connect_failure_reaches_on_log(broker: Mosquitto) -> None:
    client = new_client()
    client.tls_set()  # the test CA is unknown to certifi's bundle
    client.reconnect_delay_set(0.05, 0.1)
    logs: list[str] = []
    client.on_log = lambda c, u, level, buf: logs.append(buf)
    failed = threading.Event()
    client.on_connect_fail = lambda c, u: failed.set()
    client.connect_async("localhost", broker.port("tls"))
    client.loop_start()
    try:
        assert failed.wait(IO_TIMEOUT_S)
        wait_until(lambda: any("unknown CA" in line for line in logs), 1.0)
    finally:
        client.loop_stop()


def test_loop_thread_connection_lost_reason_reaches_on_log(broker: Mosquitto) -> None:
    client = new_client()
    logs: list[str] = []
    client.on_log = lambda c, u, level, buf: logs.append(buf)
    client.connect("localhost", broker.port("tls"))  # plain MQTT to a TLS port
    assert loop_until_lost(client) == mqtt.MQTT_ERR_CONN_LOST
    assert any("tls_set" in line for line in logs)


# --- WebSocket ----------------------------------------------------------------------------------


def test_websockets(broker: Mosquitto) -> None:
    client = new_client(transport="websockets")
    with connected(client, "127.0.0.1", broker.port("ws")):
        roundtrip(client)
        # (Large messages are slow through mosquitto 2.0.11's WebSocket listener, about 40 KB/s
        # for paho too; frame splitting is covered by test_transports.py.)
        roundtrip(client, b"x" * 10_000)


def test_websockets_path_and_headers_callable_on_every_connect(
    broker: Mosquitto, relay_factory: Callable[[int], RecordingRelay]
) -> None:
    relay = relay_factory(broker.port("ws"))
    calls: list[dict[str, str]] = []

    def headers(defaults: dict[str, str]) -> dict[str, str]:
        calls.append(dict(defaults))
        return {**defaults, "X-Token": f"token-{len(calls)}"}

    client = new_client(transport="websockets")
    client.ws_set_options(path="/mqtt/device-7", headers=headers)
    client.reconnect_delay_set(0.05, 0.2)
    recorder = Recorder()
    recorder.attach(client, "on_connect")
    with connected(client, "127.0.0.1", relay.port):
        roundtrip(client)
        assert b"GET /mqtt/device-7 HTTP/1.1\r\n" in relay.seen()
        assert b"X-Token: token-1\r\n" in relay.seen()
        assert len(calls) == 1
        assert calls[0]["Sec-WebSocket-Protocol"] == "mqtt"  # the defaults are handed in
        relay.cut()  # the client reconnects: a new handshake, a new call
        wait_until(lambda: recorder.count("on_connect") == 2, IO_TIMEOUT_S)
        wait_until(client.is_connected, IO_TIMEOUT_S)
        roundtrip(client)
    assert len(calls) == 2
    assert b"X-Token: token-2\r\n" in relay.seen()


def test_websockets_headers_dict_is_merged(
    broker: Mosquitto, relay_factory: Callable[[int], RecordingRelay]
) -> None:
    relay = relay_factory(broker.port("ws"))
    client = new_client(transport="websockets")
    client.ws_set_options(headers={"Authorization": "Bearer abc"})
    with connected(client, "127.0.0.1", relay.port):
        roundtrip(client)
    sent = relay.seen()
    assert b"GET /mqtt HTTP/1.1\r\n" in sent  # the default path
    assert b"Authorization: Bearer abc\r\n" in sent
    assert b"Sec-WebSocket-Protocol: mqtt\r\n" in sent


def test_websockets_to_a_plain_mqtt_port(broker: Mosquitto) -> None:
    client = new_client(transport="websockets")
    with pytest.raises(ConnectionFailedError, match="WebSocket"):
        client.connect("127.0.0.1", broker.port("tcp"))


def test_secure_websockets(broker: Mosquitto, certs: Certs) -> None:
    client = new_client(transport="websockets")
    client.tls_set(ca_certs=certs.ca)
    client.ws_set_options(path="/mqtt")
    with connected(client, "localhost", broker.port("wss")):
        assert isinstance(client.socket().inner.socket, ssl.SSLSocket)
        roundtrip(client)


def test_secure_websockets_checks_the_certificate(broker: Mosquitto) -> None:
    client = new_client(transport="websockets")
    client.tls_set()
    with pytest.raises(TLSError, match="unknown CA"):
        client.connect("localhost", broker.port("wss"))


# --- Unix sockets -------------------------------------------------------------------------------


def test_unix_socket(broker: Mosquitto) -> None:
    client = new_client(transport="unix")
    with connected(client, broker.unix_path):
        assert client.socket().family == socket.AF_UNIX
        roundtrip(client)


def test_unix_socket_missing(tmp_path: Any) -> None:
    path = str(tmp_path / "absent.sock")
    client = new_client(transport="unix")
    with pytest.raises(ConnectionFailedError, match="Unix socket") as info:
        client.connect(path)
    assert path in str(info.value)


# --- proxies ------------------------------------------------------------------------------------


def _socket_peer(client: mqtt.Client) -> tuple[str, int]:
    sock = client.socket()
    inner = getattr(sock, "inner", None)  # WebSocket: the stream below the frames
    if inner is not None:
        sock = inner.socket
    return tuple(sock.getpeername())  # type: ignore[return-value]


@requires_pysocks
def test_socks5_proxy(broker: Mosquitto, microsocks: Microsocks, no_proxy_env: Any) -> None:
    client = new_client()
    client.proxy_set(proxy_type=SOCKS5, proxy_addr="127.0.0.1", proxy_port=microsocks.port)
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client) == ("127.0.0.1", microsocks.port)
        roundtrip(client)
    # proof that the traffic went through the proxy: without it the same client fails
    microsocks.stop()
    with pytest.raises(ProxyError) as info:
        client.connect("127.0.0.1", broker.port("tcp"))
    assert f"SOCKS5 proxy 127.0.0.1:{microsocks.port}" in str(info.value)


@requires_pysocks
def test_socks5_proxy_with_authentication(
    broker: Mosquitto, microsocks_factory: Callable[..., Microsocks], no_proxy_env: Any
) -> None:
    proxy = microsocks_factory(username="alice", password="wonderland")
    client = new_client()
    client.proxy_set(
        proxy_type=SOCKS5,
        proxy_addr="127.0.0.1",
        proxy_port=proxy.port,
        proxy_username="alice",
        proxy_password="wonderland",
    )
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client) == ("127.0.0.1", proxy.port)
        roundtrip(client)

    wrong = new_client()
    wrong.proxy_set(
        proxy_type=SOCKS5,
        proxy_addr="127.0.0.1",
        proxy_port=proxy.port,
        proxy_username="alice",
        proxy_password="not-it",
    )
    with pytest.raises(ProxyError) as info:
        wrong.connect("127.0.0.1", broker.port("tcp"))
    message = str(info.value)
    assert "SOCKS5 proxy" in message and "authentication" in message.lower()
    assert "not-it" not in message  # never the password


@requires_pysocks
def test_http_connect_proxy(
    broker: Mosquitto, tinyproxy_factory: Callable[..., Tinyproxy], no_proxy_env: Any
) -> None:
    proxy = tinyproxy_factory(connect_ports=[broker.port("tcp")])
    client = new_client()
    client.proxy_set(proxy_type=HTTP, proxy_addr="127.0.0.1", proxy_port=proxy.port)
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client) == ("127.0.0.1", proxy.port)
        roundtrip(client)
    wait_until(lambda: f"CONNECT 127.0.0.1:{broker.port('tcp')}" in proxy.log(), IO_TIMEOUT_S)
    # a port the proxy does not allow: its refusal reaches the user
    with pytest.raises(ProxyError, match=f"HTTP proxy 127.0.0.1:{proxy.port}.*403"):
        client.connect("127.0.0.1", broker.port("ws"))


@requires_pysocks
def test_tls_over_socks5(
    broker: Mosquitto, certs: Certs, microsocks: Microsocks, no_proxy_env: Any
) -> None:
    client = new_client()
    client.tls_set(ca_certs=certs.ca)
    client.proxy_set(proxy_type=SOCKS5, proxy_addr="127.0.0.1", proxy_port=microsocks.port)
    with connected(client, "localhost", broker.port("tls")):
        assert isinstance(client.socket(), ssl.SSLSocket)
        assert _socket_peer(client) == ("127.0.0.1", microsocks.port)
        roundtrip(client)
    microsocks.stop()
    with pytest.raises(ProxyError):
        client.connect("localhost", broker.port("tls"))


@requires_pysocks
def test_websockets_over_http_proxy(
    broker: Mosquitto, tinyproxy: Tinyproxy, no_proxy_env: Any
) -> None:
    client = new_client(transport="websockets")
    client.proxy_set(proxy_type=HTTP, proxy_addr="127.0.0.1", proxy_port=tinyproxy.port)
    with connected(client, "127.0.0.1", broker.port("ws")):
        assert _socket_peer(client) == ("127.0.0.1", tinyproxy.port)
        roundtrip(client)
    wait_until(lambda: f"CONNECT 127.0.0.1:{broker.port('ws')}" in tinyproxy.log(), IO_TIMEOUT_S)


@requires_pysocks
def test_secure_websockets_over_socks5(
    broker: Mosquitto, certs: Certs, microsocks: Microsocks, no_proxy_env: Any
) -> None:
    client = new_client(transport="websockets")
    client.tls_set(ca_certs=certs.ca)
    client.proxy_set(proxy_type=SOCKS5, proxy_addr="127.0.0.1", proxy_port=microsocks.port)
    with connected(client, "localhost", broker.port("wss")):
        assert _socket_peer(client) == ("127.0.0.1", microsocks.port)
        roundtrip(client)
    microsocks.stop()
    with pytest.raises(ProxyError):
        client.connect("localhost", broker.port("wss"))


@requires_pysocks
def test_mqtt_proxy_environment_variable(
    broker: Mosquitto, microsocks: Microsocks, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("mqtt_proxy", f"socks5://127.0.0.1:{microsocks.port}")
    client = new_client()
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client) == ("127.0.0.1", microsocks.port)
        roundtrip(client)
    # no_proxy is honoured (read again on this connect)
    no_proxy_env.setenv("no_proxy", "127.0.0.1,localhost")
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client) == ("127.0.0.1", broker.port("tcp"))
    # and the variable is read on every connect: the proxy gone, the next one fails
    no_proxy_env.delenv("no_proxy")
    microsocks.stop()
    with pytest.raises(ProxyError, match="SOCKS5 proxy"):
        client.connect("127.0.0.1", broker.port("tcp"))


@requires_pysocks
def test_mqtt_proxy_environment_read_on_reconnect(
    broker: Mosquitto,
    microsocks: Microsocks,
    relay_factory: Callable[[int], RecordingRelay],
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    relay = relay_factory(broker.port("tcp"))
    client = new_client()
    client.reconnect_delay_set(0.05, 0.2)
    recorder = Recorder()
    recorder.attach(client, "on_connect")
    with connected(client, "127.0.0.1", relay.port):
        assert _socket_peer(client)[1] == relay.port  # direct
        no_proxy_env.setenv("mqtt_proxy", f"socks5://127.0.0.1:{microsocks.port}")
        relay.cut()  # an automatic reconnect from the loop thread
        wait_until(lambda: recorder.count("on_connect") == 2, IO_TIMEOUT_S)
        wait_until(client.is_connected, IO_TIMEOUT_S)
        assert _socket_peer(client)[1] == microsocks.port
        roundtrip(client)


@requires_pysocks
def test_mqtt_proxy_http_url(
    broker: Mosquitto, tinyproxy: Tinyproxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("mqtt_proxy", f"http://127.0.0.1:{tinyproxy.port}")
    client = new_client()
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client) == ("127.0.0.1", tinyproxy.port)
        roundtrip(client)


def test_proxy_set_without_pysocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt, "socks", None)
    monkeypatch.setitem(sys.modules, "socks", None)  # `import socks` fails from here on
    client = new_client()
    with pytest.raises(ValueError, match=r"PySocks.*pip install mqttclient\[proxy\]"):
        client.proxy_set(proxy_type=2, proxy_addr="127.0.0.1", proxy_port=1080)


@requires_pysocks
def test_proxy_lost_pysocks_at_connect(
    broker: Mosquitto, microsocks: Microsocks, monkeypatch: pytest.MonkeyPatch, no_proxy_env: Any
) -> None:
    client = new_client()
    client.proxy_set(proxy_type=SOCKS5, proxy_addr="127.0.0.1", proxy_port=microsocks.port)
    monkeypatch.setitem(sys.modules, "socks", None)
    with pytest.raises(InvalidArgumentError, match=r"pip install mqttclient\[proxy\]"):
        client.connect("127.0.0.1", broker.port("tcp"))


def test_mqtt_proxy_ignored_without_pysocks(
    broker: Mosquitto, no_proxy_env: pytest.MonkeyPatch
) -> None:
    # as paho: without PySocks the environment is not consulted (the connection is direct)
    no_proxy_env.setenv("mqtt_proxy", "socks5://127.0.0.1:9")
    no_proxy_env.setitem(sys.modules, "socks", None)
    client = new_client()
    with connected(client, "127.0.0.1", broker.port("tcp")):
        assert _socket_peer(client)[1] == broker.port("tcp")


# --- connecting never hangs ---------------------------------------------------------------------


def test_connect_timeout_property() -> None:
    client = new_client()
    assert client.connect_timeout == 5.0
    client.connect_timeout = 0.5
    assert client.connect_timeout == 0.5
    with pytest.raises(ValueError):
        client.connect_timeout = 0


@pytest.mark.parametrize(
    ("transport", "tls", "step"),
    [
        ("tcp", True, "TLS handshake"),
        ("websockets", False, "WebSocket handshake"),
        ("websockets", True, "TLS handshake"),
    ],
)
def test_connect_raises_connect_timeout(
    silent_server: SilentServer, certs: Certs, transport: str, tls: bool, step: str
) -> None:
    client = new_client(transport=transport)
    if tls:
        client.tls_set(ca_certs=certs.ca)
    client.connect_timeout = 0.5
    start = time.monotonic()
    with pytest.raises(ConnectTimeoutError) as info:
        client.connect("localhost", silent_server.port)
    assert time.monotonic() - start < client.connect_timeout + SLACK_S
    message = str(info.value)
    assert "timed out" in message and step in message
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, OSError)


@pytest.mark.parametrize(("transport", "tls"), [("tcp", True), ("websockets", False)])
def test_connect_async_and_loop_start_never_block(
    silent_server: SilentServer, certs: Certs, transport: str, tls: bool
) -> None:
    client = new_client(transport=transport)
    if tls:
        client.tls_set(ca_certs=certs.ca)
    timeout = 1.0
    client.connect_timeout = timeout
    client.reconnect_delay_set(0.05, 0.1)
    failed = threading.Event()
    client.on_connect_fail = lambda c, u: failed.set()
    start = time.monotonic()
    client.connect_async("localhost", silent_server.port)
    client.loop_start()
    returned = time.monotonic() - start
    try:
        # The caller got control back long before the handshake could time out.
        assert returned < timeout / 2
        assert not client.is_connected()
        # The attempt ends by itself within the timeout and is reported.
        assert failed.wait(timeout + SLACK_S)
        assert not client.is_connected()
    finally:
        start = time.monotonic()
        client.loop_stop()  # may wait for an attempt in progress, never longer than its timeout
        assert time.monotonic() - start < timeout + SLACK_S


# --- credentials provider -----------------------------------------------------------------------


@pytest.fixture
def auth_broker(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory(listeners=[Listener("tcp", auth=True)], users={"device-1": "token-1"})


def test_credentials_provider_is_used_on_connect(auth_broker: Mosquitto) -> None:
    calls: list[int] = []

    def provider() -> mqtt.Credentials:
        calls.append(1)
        return mqtt.Credentials("device-1", "token-1")

    client = new_client()
    client.username_pw_set("device-1", "stale")  # the provider wins
    client.credentials_provider_set(provider)
    with connected(client, "127.0.0.1", auth_broker.port()):
        roundtrip(client)
    assert len(calls) == 1
    assert client.username == "device-1" and client.password == "token-1"


def test_credentials_provider_fresh_value_on_every_reconnect(auth_broker: Mosquitto) -> None:
    # The first token is already stale (the broker refuses it); the reconnect asks again and
    # the fresh token is accepted. Then the broker rotates to a new token and restarts: the
    # automatic reconnect fetches it too.
    tokens = ["expired-token", "token-1"]
    current = {"token": "token-1"}
    returned: list[str] = []
    order: list[str] = []

    def provider() -> tuple[str, str]:
        token = tokens.pop(0) if tokens else current["token"]
        returned.append(token)
        order.append("provider")
        return ("device-1", token)

    client = new_client()
    client.credentials_provider_set(provider)
    client.on_pre_connect = lambda c, u: order.append("on_pre_connect")
    client.reconnect_delay_set(0.05, 0.2)
    recorder = Recorder()
    recorder.attach(client, "on_connect")
    client.connect_async("127.0.0.1", auth_broker.port())
    client.loop_start()
    try:
        wait_until(client.is_connected, IO_TIMEOUT_S)
        reasons = [args[1] for args in recorder.get("on_connect")]
        assert [r.is_failure for r in reasons] == [True, False]
        assert "Bad user name or password" in str(reasons[0]) or "authori" in str(reasons[0])
        assert returned[:2] == ["expired-token", "token-1"]
        roundtrip(client)

        current["token"] = "token-2"
        auth_broker.users = {"device-1": "token-2"}
        auth_broker.restart()
        wait_until(
            lambda: recorder.count("on_connect") >= 3 and client.is_connected(), IO_TIMEOUT_S * 2
        )
        assert returned[-1] == "token-2"
        assert not recorder.get("on_connect")[-1][1].is_failure
        roundtrip(client)
    finally:
        client.disconnect()
        client.loop_stop()
    # on_pre_connect runs first, then the provider, on every attempt
    assert order[:4] == ["on_pre_connect", "provider", "on_pre_connect", "provider"]
    assert order.count("on_pre_connect") == order.count("provider")
    # a client that still had the first token would now be refused: the fresh one was used
    stale = new_client()
    stale.username_pw_set("device-1", "token-1")
    stale_rec = Recorder()
    stale_rec.attach(stale, "on_connect")
    stale.connect("127.0.0.1", auth_broker.port())
    assert loop_until_lost(stale) == mqtt.MQTT_ERR_CONN_REFUSED
    assert stale_rec.get("on_connect")[0][1].is_failure


def test_credentials_provider_exception_fails_the_attempt_and_retries(
    auth_broker: Mosquitto,
) -> None:
    attempts: list[int] = []

    def provider() -> mqtt.Credentials:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("token service unavailable")
        return mqtt.Credentials(username="device-1", password=b"token-1")

    client = new_client()
    client.credentials_provider_set(provider)
    client.reconnect_delay_set(0.05, 0.2)
    recorder = Recorder()
    recorder.attach(client, "on_connect", "on_connect_fail")
    client.connect_async("127.0.0.1", auth_broker.port())
    client.loop_start()
    try:
        wait_until(client.is_connected, IO_TIMEOUT_S)
        assert recorder.count("on_connect_fail") == 1
        assert recorder.count("on_connect") == 1
        assert len(attempts) == 2
        roundtrip(client)
    finally:
        client.disconnect()
        client.loop_stop()


def test_credentials_provider_bad_value_fails_only_that_attempt(auth_broker: Mosquitto) -> None:
    values: list[Any] = ["device-1:token-1", ("device-1", "token-1")]

    def provider() -> Any:
        return values.pop(0) if len(values) > 1 else values[0]

    client = new_client()
    client.credentials_provider_set(provider)
    client.reconnect_delay_set(0.05, 0.1)
    recorder = Recorder()
    recorder.attach(client, "on_connect_fail")
    client.on_connect = lambda c, *args: c.disconnect()
    client.connect_async("127.0.0.1", auth_broker.port())
    safety = threading.Timer(IO_TIMEOUT_S, client.disconnect)
    safety.start()
    try:
        client.loop_forever(retry_first_connection=True)
    finally:
        safety.cancel()
    assert recorder.count("on_connect_fail") == 1


def test_credentials_provider_exception_raised_by_connect(auth_broker: Mosquitto) -> None:
    def provider() -> mqtt.Credentials:
        raise RuntimeError("token service unavailable")

    client = new_client()
    client.credentials_provider_set(provider)
    with pytest.raises(ConnectionFailedError) as info:
        client.connect("127.0.0.1", auth_broker.port())
    assert "credentials provider" in str(info.value)
    assert "token service unavailable" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not client.is_connected()


def test_credentials_provider_websocket_headers(
    broker: Mosquitto, relay_factory: Callable[[int], RecordingRelay]
) -> None:
    relay = relay_factory(broker.port("ws"))
    count = [0]

    def provider() -> mqtt.Credentials:
        count[0] += 1
        return mqtt.Credentials(
            "device-1", "unused", websocket_headers={"Authorization": f"Bearer jwt-{count[0]}"}
        )

    client = new_client(transport="websockets")
    client.credentials_provider_set(provider)
    client.reconnect_delay_set(0.05, 0.2)
    recorder = Recorder()
    recorder.attach(client, "on_connect")
    with connected(client, "127.0.0.1", relay.port):
        assert b"Authorization: Bearer jwt-1\r\n" in relay.seen()
        relay.cut()
        wait_until(lambda: recorder.count("on_connect") == 2, IO_TIMEOUT_S)
        wait_until(client.is_connected, IO_TIMEOUT_S)
        roundtrip(client)
    assert b"Authorization: Bearer jwt-2\r\n" in relay.seen()


def test_credentials_provider_removed(auth_broker: Mosquitto) -> None:
    client = new_client()
    client.credentials_provider_set(lambda: ("device-1", "token-1"))
    client.credentials_provider_set(None)
    client.username_pw_set("device-1", "token-1")
    with connected(client, "127.0.0.1", auth_broker.port()):
        roundtrip(client)
    with pytest.raises(ValueError):
        client.credentials_provider_set("not callable")  # type: ignore[arg-type]


def test_tls_set_system_trust_store_also_rejects_the_test_ca(broker: Mosquitto) -> None:
    """``trust_store="system"`` uses the OS store instead of certifi; the private test CA is in
    neither, so the handshake is refused with the unknown-CA explanation."""
    client = new_client()
    client.tls_set(trust_store="system")
    with pytest.raises(TLSError) as info:
        client.connect("localhost", broker.port("tls"))
    assert "certificate" in str(info.value).lower()
