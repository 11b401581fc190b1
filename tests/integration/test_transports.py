"""Transports against real servers: mosquitto (TCP, Unix, TLS, mutual TLS, ws, wss), microsocks,
tinyproxy, and small in-test servers (WebSocket via wsproto, TLS with ALPN, HTTP 404, and
listeners that never answer) for what a real broker cannot be made to do.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from mqttclient._io.tlsconfig import TLSSettings, build_tls_context
from mqttclient._io.transport import (
    HTTP,
    SOCKS5,
    ConnectParams,
    ProxySettings,
    SocketTransport,
    TLSTransport,
    Transport,
    discover_proxy,
    open_transport,
)
from mqttclient._io.websocket import WebSocketSettings, WebSocketTransport
from mqttclient.errors import (
    ConnectionClosedError,
    ConnectionFailedError,
    ConnectTimeoutError,
    InvalidArgumentError,
    ProxyError,
    TLSError,
    WebSocketHandshakeError,
)
from tests import fakebroker as fb
from tests.brokers import Certs, Listener, Microsocks, Mosquitto, Tinyproxy, free_port
from tests.factories import closing_factory
from tests.fakebroker import FakeBroker, vbi
from tests.servers import OneShotServer, SilentServer, server_tls_context

# MQTT 3.1.1 CONNECT, clean session, keepalive 60, client id "t1"; and the CONNACK accepting it.
CONNECT = bytes.fromhex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 74 31")
CONNACK_OK = bytes.fromhex("20 02 00 00")
DISCONNECT = bytes.fromhex("e0 00")
IO_TIMEOUT_S = 5.0


# --- blocking helpers over the non-blocking Transport ---------------------------------------------


def _wait(transport: Transport, write: bool, deadline: float, read: bool = False) -> None:
    """Wait until the transport is readable (or writable, or either)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AssertionError("transport I/O did not complete in time")
    events = selectors.EVENT_WRITE if write else selectors.EVENT_READ
    if read:
        events |= selectors.EVENT_READ
    with selectors.DefaultSelector() as selector:
        selector.register(transport.fileno(), events)
        selector.select(remaining)


def send_all(transport: Transport, data: bytes, timeout: float = IO_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view:
        view = view[transport.send(view) :]
        if view:
            _wait(transport, True, deadline)
    while transport.wants_write():  # e.g. the rest of a WebSocket frame
        transport.send(b"")
        if transport.wants_write():
            _wait(transport, True, deadline)


def read_exactly(transport: Transport, count: int, timeout: float = IO_TIMEOUT_S) -> bytes:
    deadline = time.monotonic() + timeout
    buffer = bytearray()
    while len(buffer) < count:
        data = transport.recv(count - len(buffer))
        if data is None:
            if not transport.pending():
                _wait(transport, False, deadline)
            continue
        if not data:
            raise EOFError(f"EOF after {len(buffer)} of {count} bytes")
        buffer += data
    return bytes(buffer)


def read_until_eof(transport: Transport, timeout: float = IO_TIMEOUT_S) -> bytes:
    deadline = time.monotonic() + timeout
    buffer = bytearray()
    while True:
        data = transport.recv(65536)
        if data is None:
            if transport.wants_write():
                transport.send(b"")
            if not transport.pending():
                _wait(transport, False, deadline)
            continue
        if not data:
            return bytes(buffer)
        buffer += data


def mqtt_connect(transport: Transport) -> bytes:
    send_all(transport, CONNECT)
    return read_exactly(transport, 4)


@contextlib.contextmanager
def opened(params: ConnectParams) -> Iterator[Any]:
    transport = open_transport(params)
    try:
        yield transport
    finally:
        transport.close()


def publish(topic: bytes, payload: bytes) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + payload
    return b"\x30" + vbi(len(body)) + body


def subscribe(topic: bytes, packet_id: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + len(topic).to_bytes(2, "big") + topic + b"\x00"
    return b"\x82" + vbi(len(body)) + body


# --- servers ------------------------------------------------------------------------------------


@pytest.fixture
def broker(every_listener_broker: Mosquitto) -> Mosquitto:
    """One mosquitto with every kind of listener, shared by this module."""
    return every_listener_broker


@pytest.fixture
def ca_context(certs: Certs) -> ssl.SSLContext:
    return build_tls_context(ca_certs=certs.ca)


class WsPeer:
    """The server side of one accepted WebSocket connection, driven by the test thread."""

    def __init__(self, sock: socket.socket, ws: WSConnection, request: Request) -> None:
        self.sock = sock
        self.ws = ws
        self.request = request
        self.sock.settimeout(IO_TIMEOUT_S)

    def send(self, *events: Event) -> None:
        self.sock.sendall(b"".join(self.ws.send(event) for event in events))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive_until(self, kind: type, timeout: float = IO_TIMEOUT_S) -> list[Event]:
        """Events until (and including) the first of type ``kind``."""
        deadline = time.monotonic() + timeout
        seen: list[Event] = []
        while True:
            for event in self.ws.events():
                seen.append(event)
                if isinstance(event, kind):
                    return seen
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {seen}") from None
            self.ws.receive_data(data or None)
            if not data:
                seen.extend(self.ws.events())
                raise AssertionError(f"EOF before {kind.__name__}; saw {seen}")

    def close(self) -> None:
        self.sock.close()


class WsTestServer:
    """A WebSocket server (wsproto) in a thread: it only accepts and answers the upgrade; the
    accepted connections are handed to the test (:meth:`peer`), which drives them."""

    def __init__(
        self,
        subprotocol: Optional[str] = "mqtt",
        reject: Optional[tuple[int, bytes]] = None,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.subprotocol = subprotocol
        self.reject = reject
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.requests: list[Request] = []
        self._peers: queue.Queue[WsPeer] = queue.Queue()
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self._open.append(sock)
            with contextlib.suppress(OSError, ssl.SSLError):
                self._handshake(sock)

    def _handshake(self, sock: socket.socket) -> None:
        sock.settimeout(IO_TIMEOUT_S)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True)
            self._open.append(sock)
        ws = WSConnection(ConnectionType.SERVER)
        while True:
            data = sock.recv(65536)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if not isinstance(event, Request):
                    continue
                self.requests.append(event)
                if self.reject is not None:
                    status, body = self.reject
                    headers = [(b"content-length", str(len(body)).encode())]
                    sock.sendall(
                        ws.send(
                            RejectConnection(status_code=status, headers=headers, has_body=True)
                        )
                        + ws.send(RejectData(data=body))
                    )
                    return
                sock.sendall(ws.send(AcceptConnection(subprotocol=self.subprotocol)))
                self._peers.put(WsPeer(sock, ws, event))
                return

    def peer(self, timeout: float = IO_TIMEOUT_S) -> WsPeer:
        return self._peers.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(IO_TIMEOUT_S)
        self.sock.close()
        for sock in self._open:
            sock.close()


@pytest.fixture
def ws_server_factory() -> Iterator[Callable[..., WsTestServer]]:
    yield from closing_factory(WsTestServer)


@pytest.fixture
def ws_server(ws_server_factory: Callable[..., WsTestServer]) -> WsTestServer:
    return ws_server_factory()


def ws_params(port: int, **kwargs: Any) -> ConnectParams:
    return ConnectParams("127.0.0.1", port, transport="websockets", **kwargs)


# --- TCP and Unix -------------------------------------------------------------------------------


def test_tcp_connect_gets_connack(mosquitto: Mosquitto) -> None:
    with opened(ConnectParams("127.0.0.1", mosquitto.port())) as transport:
        assert isinstance(transport, SocketTransport)
        sock = transport.socket
        assert isinstance(sock, socket.socket)
        assert sock.getblocking() is False
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert transport.recv(100) is None  # nothing yet, and it does not block
        assert mqtt_connect(transport) == CONNACK_OK
        assert not transport.pending()
        assert not transport.wants_write()


def test_tcp_host_name_is_resolved(mosquitto: Mosquitto) -> None:
    with opened(ConnectParams("localhost", mosquitto.port())) as transport:
        assert mqtt_connect(transport) == CONNACK_OK


def test_tcp_bind_address_and_port(mosquitto: Mosquitto) -> None:
    port = free_port()
    params = ConnectParams("127.0.0.1", mosquitto.port(), bind_address="127.0.0.1", bind_port=port)
    with opened(params) as transport:
        assert transport.socket.getsockname() == ("127.0.0.1", port)
        assert mqtt_connect(transport) == CONNACK_OK


def test_tcp_shutdown_write_then_eof(mosquitto: Mosquitto) -> None:
    with opened(ConnectParams("127.0.0.1", mosquitto.port())) as transport:
        assert mqtt_connect(transport) == CONNACK_OK
        send_all(transport, DISCONNECT)
        transport.shutdown_write()
        assert read_until_eof(transport) == b""
        transport.close()
        transport.close()  # idempotent


def test_tcp_refused_names_the_address() -> None:
    port = free_port()
    with pytest.raises(ConnectionFailedError, match=f"127.0.0.1:{port}.*refused") as info:
        open_transport(ConnectParams("127.0.0.1", port))
    assert isinstance(info.value, OSError)
    assert info.value.errno is not None


def test_dns_failure_is_a_connection_failure() -> None:
    with pytest.raises(ConnectionFailedError, match=r"no-such-host\.invalid"):
        open_transport(ConnectParams("no-such-host.invalid", 1883, timeout_s=3))


def test_unix_socket(broker: Mosquitto) -> None:
    with opened(ConnectParams(broker.unix_path, transport="unix")) as transport:
        assert transport.socket.family == socket.AF_UNIX
        assert mqtt_connect(transport) == CONNACK_OK


def test_unix_socket_missing_names_the_path(tmp_path: Any) -> None:
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(ConnectionFailedError, match=r"nothing.sock"):
        open_transport(ConnectParams(path, transport="unix"))


# --- TLS ----------------------------------------------------------------------------------------


def test_tls_server_auth(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams("localhost", broker.port("tls"), tls=TLSSettings(ca_context))
    with opened(params) as transport:
        assert isinstance(transport, TLSTransport)
        assert isinstance(transport.socket, ssl.SSLSocket)
        assert transport.socket.version() in ("TLSv1.2", "TLSv1.3")
        assert transport.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert mqtt_connect(transport) == CONNACK_OK
        send_all(transport, DISCONNECT)
        transport.shutdown_write()
        assert read_until_eof(transport) == b""


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_large_packet_round_trip(broker: Mosquitto, ca_context: ssl.SSLContext, kind: str) -> None:
    # 1 MiB: several TLS send slices and many partial writes on a non-blocking socket
    tls = TLSSettings(ca_context) if kind == "tls" else None
    message = publish(b"huge/1", bytes(range(256)) * 4096)
    with opened(ConnectParams("localhost", broker.port(kind), tls=tls)) as transport:
        assert mqtt_connect(transport) == CONNACK_OK
        send_all(transport, subscribe(b"huge/1"))
        assert read_exactly(transport, 5) == bytes.fromhex("90 03 00 01 00")
        received = bytearray()
        view = memoryview(message)
        deadline = time.monotonic() + IO_TIMEOUT_S
        while len(received) < len(message):  # write and read at once: both buffers fill up
            if view:
                view = view[transport.send(view) :]
            data = transport.recv(65536)
            if data:
                received += data
            elif data is None and not transport.pending():
                _wait(transport, bool(view), deadline, read=True)
        assert bytes(received) == message


def test_tls_to_ip_address(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams("127.0.0.1", broker.port("tls"), tls=TLSSettings(ca_context))
    with opened(params) as transport:
        assert mqtt_connect(transport) == CONNACK_OK


def test_tls_user_context_is_used_as_is(broker: Mosquitto, certs: Certs) -> None:
    context = ssl.create_default_context(cafile=certs.ca)
    params = ConnectParams("localhost", broker.port("tls"), tls=TLSSettings(context))
    with opened(params) as transport:
        assert mqtt_connect(transport) == CONNACK_OK


def test_tls_default_trust_rejects_the_test_ca(broker: Mosquitto) -> None:
    params = ConnectParams("localhost", broker.port("tls"), tls=TLSSettings(build_tls_context()))
    with pytest.raises(TLSError, match=r"not trusted.*unknown CA.*ca_certs") as info:
        open_transport(params)
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


def test_tls_expired_certificate(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams("localhost", broker.port("expired"), tls=TLSSettings(ca_context))
    year = time.gmtime().tm_year - 1
    with pytest.raises(TLSError, match=f"expired on {year}-"):
        open_transport(params)


def test_tls_hostname_mismatch_lists_names(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams("localhost", broker.port("wrong_host"), tls=TLSSettings(ca_context))
    with pytest.raises(TLSError) as info:
        open_transport(params)
    message = str(info.value)
    assert "does not match the host name 'localhost'" in message
    assert "DNS:wrong.example" in message and "DNS:other.example" in message
    assert "tls_insecure_set" in message


def test_tls_insecure_skips_only_the_hostname_check(broker: Mosquitto, certs: Certs) -> None:
    context = build_tls_context(ca_certs=certs.ca, insecure=True)
    params = ConnectParams("localhost", broker.port("wrong_host"), tls=TLSSettings(context))
    with opened(params) as transport:
        assert mqtt_connect(transport) == CONNACK_OK
    # the chain is still verified
    params = ConnectParams(
        "localhost", broker.port("wrong_host"), tls=TLSSettings(build_tls_context(insecure=True))
    )
    with pytest.raises(TLSError, match="not trusted"):
        open_transport(params)


def test_tls_server_hostname_override(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    tls = TLSSettings(ca_context, server_hostname="wrong.example")
    with opened(ConnectParams("127.0.0.1", broker.port("wrong_host"), tls=tls)) as transport:
        assert mqtt_connect(transport) == CONNACK_OK


def test_tls_mutual(broker: Mosquitto, certs: Certs) -> None:
    context = build_tls_context(
        ca_certs=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key
    )
    with opened(ConnectParams("localhost", broker.port("mtls"), tls=TLSSettings(context))) as tr:
        assert mqtt_connect(tr) == CONNACK_OK
    # use_identity_as_username: the broker took the certificate's CN as the user name
    assert f"u'{Certs.CLIENT_CN}'" in broker.log() or Certs.CLIENT_CN in broker.log()


def test_tls_mutual_with_encrypted_key(broker: Mosquitto, certs: Certs) -> None:
    context = build_tls_context(
        ca_certs=certs.ca,
        certfile=certs.client_cert,
        keyfile=certs.client_key_encrypted,
        keyfile_password=Certs.KEY_PASSWORD,
    )
    with opened(ConnectParams("localhost", broker.port("mtls"), tls=TLSSettings(context))) as tr:
        assert mqtt_connect(tr) == CONNACK_OK


def _refused_by_server(params: ConnectParams) -> TLSError:
    """The server refuses the client certificate: during the handshake (TLS 1.2) or, under
    TLS 1.3, on the first read after the client finished its side of the handshake."""
    try:
        transport = open_transport(params)
    except TLSError as exc:
        return exc
    try:
        # the refusal may surface on the first write (server closed already) or the first read
        with pytest.raises(TLSError) as info:
            send_all(transport, CONNECT)
            read_exactly(transport, 4)
        return info.value
    finally:
        transport.close()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_without_client_certificate_is_refused(
    broker: Mosquitto, certs: Certs, version: str
) -> None:
    context = build_tls_context(ca_certs=certs.ca)
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    error = _refused_by_server(
        ConnectParams("localhost", broker.port("mtls"), tls=TLSSettings(context))
    )
    assert "client certificate" in str(error)


def test_tls_untrusted_client_certificate_is_refused(broker: Mosquitto, certs: Certs) -> None:
    context = build_tls_context(
        ca_certs=certs.ca, certfile=certs.rogue_client_cert, keyfile=certs.rogue_client_key
    )
    error = _refused_by_server(
        ConnectParams("localhost", broker.port("mtls"), tls=TLSSettings(context))
    )
    assert "refused the client certificate" in str(error)


def test_tls_version_mismatch(broker: Mosquitto, certs: Certs) -> None:
    # paho's pinned-version constant, mapped without instantiating a deprecated protocol
    context = build_tls_context(ca_certs=certs.ca, tls_version=ssl.PROTOCOL_TLSv1_2)
    assert context.maximum_version == ssl.TLSVersion.TLSv1_2
    params = ConnectParams("localhost", broker.port("tls13"), tls=TLSSettings(context))
    with pytest.raises(TLSError, match="no TLS version acceptable"):
        open_transport(params)


def test_tls_to_a_plain_port(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams("localhost", broker.port("tcp"), tls=TLSSettings(ca_context))
    with pytest.raises(TLSError, match="is this a plain MQTT port"):
        open_transport(params)


def test_plain_to_a_tls_port_is_named(broker: Mosquitto) -> None:
    # mosquitto resets the connection when it reads MQTT where TLS is expected
    with opened(ConnectParams("127.0.0.1", broker.port("tls"))) as transport:
        send_all(transport, CONNECT)
        with pytest.raises(ConnectionClosedError, match="if it is a TLS port, enable TLS"):
            read_exactly(transport, 4)


def test_plain_client_detects_a_tls_answer() -> None:
    # A server that answers with a TLS alert record (as some TLS stacks do).
    with socket.create_server(("127.0.0.1", 0)) as server:
        params = ConnectParams("127.0.0.1", server.getsockname()[1])
        with opened(params) as transport:
            peer, _ = server.accept()
            with peer:
                peer.sendall(bytes.fromhex("15 03 03 00 02 02 32"))
                with pytest.raises(ConnectionFailedError, match=r"answered with TLS.*tls_set"):
                    read_exactly(transport, 4)


def test_tls_alpn_is_negotiated(certs: Certs) -> None:
    done = threading.Event()

    def serve(tls: ssl.SSLSocket) -> None:
        tls.settimeout(IO_TIMEOUT_S)
        done.wait(IO_TIMEOUT_S)

    with OneShotServer(serve, tls=server_tls_context(certs, alpn=["mqtt"])) as server:
        context = build_tls_context(ca_certs=certs.ca, alpn_protocols=["x-other", "mqtt"])
        params = ConnectParams("localhost", server.port, tls=TLSSettings(context))
        try:
            with opened(params) as transport:
                assert transport.selected_alpn_protocol() == "mqtt"
                assert transport.socket.selected_alpn_protocol() == "mqtt"
        finally:
            done.set()


def test_tls_alpn_offered_to_mosquitto(broker: Mosquitto, certs: Certs) -> None:
    context = build_tls_context(ca_certs=certs.ca, alpn_protocols=["mqtt"])
    with opened(ConnectParams("localhost", broker.port("tls"), tls=TLSSettings(context))) as tr:
        assert mqtt_connect(tr) == CONNACK_OK


# --- WebSocket ----------------------------------------------------------------------------------


def test_ws_to_mosquitto(broker: Mosquitto) -> None:
    with opened(ws_params(broker.port("ws"))) as transport:
        assert isinstance(transport, WebSocketTransport)
        assert transport.socket is transport
        assert mqtt_connect(transport) == CONNACK_OK
        send_all(transport, DISCONNECT)
        transport.shutdown_write()
        assert read_until_eof(transport) == b""


def test_wss_to_mosquitto(broker: Mosquitto, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams(
        "localhost", broker.port("wss"), transport="websockets", tls=TLSSettings(ca_context)
    )
    with opened(params) as transport:
        assert isinstance(transport.inner, TLSTransport)
        assert mqtt_connect(transport) == CONNACK_OK


@pytest.mark.parametrize("kind", ["ws", "wss"])
def test_ws_large_packet_round_trip_through_mosquitto(
    broker: Mosquitto, ca_context: ssl.SSLContext, kind: str
) -> None:
    tls = TLSSettings(ca_context) if kind == "wss" else None
    params = ConnectParams("localhost", broker.port(kind), transport="websockets", tls=tls)
    # More than one client frame (64 KiB). mosquitto 2.0.11's WebSocket sender stalls on
    # messages above ~80 KB (paho sees the same), so this stays below that.
    # It sends about 4 KB per 100 ms over WebSocket (paho too): keep wss small.
    payload = bytes(range(256)) * (258 if kind == "ws" else 16)
    message = publish(b"big/1", payload)
    with opened(params) as transport:
        assert mqtt_connect(transport) == CONNACK_OK
        send_all(transport, subscribe(b"big/1"))
        assert read_exactly(transport, 5) == bytes.fromhex("90 03 00 01 00")
        send_all(transport, message)
        assert read_exactly(transport, len(message)) == message


def test_ws_request_headers_path_and_callable(ws_server: WsTestServer) -> None:
    calls: list[dict[str, str]] = []

    def headers(defaults: dict[str, str]) -> dict[str, str]:
        calls.append(dict(defaults))
        return {**defaults, "Authorization": f"Bearer token-{len(calls)}"}

    settings = WebSocketSettings(path="/custom/mqtt", headers=headers)
    for _ in range(2):
        with opened(ws_params(ws_server.port, websocket=settings)):
            ws_server.peer().close()
    assert len(calls) == 2  # called on every handshake
    assert calls[0]["Host"] == f"127.0.0.1:{ws_server.port}"
    assert calls[0]["Origin"] == f"http://127.0.0.1:{ws_server.port}"
    tokens = []
    for request in ws_server.requests:
        assert request.target == "/custom/mqtt"
        assert request.subprotocols == ["mqtt"]
        assert request.host == f"127.0.0.1:{ws_server.port}"
        extra = {name.lower(): value for name, value in request.extra_headers}
        assert extra[b"origin"] == f"http://127.0.0.1:{ws_server.port}".encode()
        tokens.append(extra[b"authorization"])
    assert tokens == [b"Bearer token-1", b"Bearer token-2"]


def test_ws_headers_dict_is_merged(ws_server: WsTestServer) -> None:
    settings = WebSocketSettings(headers={"X-Client": "mqttclient", "Origin": "https://app"})
    with opened(ws_params(ws_server.port, websocket=settings)):
        ws_server.peer().close()
    extra = {name.lower(): value for name, value in ws_server.requests[0].extra_headers}
    assert extra[b"x-client"] == b"mqttclient"
    assert extra[b"origin"] == b"https://app"


def test_ws_packets_split_across_frames_and_joined_in_one(ws_server: WsTestServer) -> None:
    suback = bytes.fromhex("90 03 00 01 00")
    message = publish(b"a/b", b"x" * 1000)
    with opened(ws_params(ws_server.port)) as transport:
        peer = ws_server.peer()
        # CONNACK + SUBACK + start of PUBLISH in one frame, the rest in 3-byte frames
        stream = CONNACK_OK + suback + message
        first, rest = stream[:20], stream[20:]
        peer.send(BytesMessage(data=first))
        for index in range(0, len(rest), 3):
            peer.send(BytesMessage(data=rest[index : index + 3]))
        assert read_exactly(transport, len(stream)) == stream
        # and what the client writes arrives intact, whatever the framing
        big = publish(b"up", b"y" * 200_000)
        send_all(transport, big)
        received = bytearray()
        frames = 0
        while len(received) < len(big):
            for event in peer.receive_until(BytesMessage):
                if isinstance(event, BytesMessage):
                    received += event.data
                    frames += 1
        assert bytes(received) == big
        assert frames > 1
        peer.close()


def test_ws_ping_is_answered(ws_server: WsTestServer) -> None:
    with opened(ws_params(ws_server.port)) as transport:
        peer = ws_server.peer()
        peer.send(Ping(payload=b"hello"), BytesMessage(data=CONNACK_OK))
        assert read_exactly(transport, 4) == CONNACK_OK
        events = peer.receive_until(Pong)
        assert events[-1] == Pong(payload=b"hello")
        peer.close()


def test_ws_control_frame_only_is_not_data(ws_server: WsTestServer) -> None:
    with opened(ws_params(ws_server.port)) as transport:
        peer = ws_server.peer()
        peer.send(Ping(payload=b"p"))
        _wait(transport, False, time.monotonic() + IO_TIMEOUT_S)
        assert transport.recv(100) is None  # a PING carries no MQTT bytes
        assert peer.receive_until(Pong)[-1] == Pong(payload=b"p")
        peer.close()


def test_ws_server_close_is_answered_then_eof(ws_server: WsTestServer) -> None:
    with opened(ws_params(ws_server.port)) as transport:
        peer = ws_server.peer()
        peer.send(BytesMessage(data=CONNACK_OK), CloseConnection(code=1001, reason="bye"))
        assert read_until_eof(transport) == CONNACK_OK
        assert transport.recv(10) == b""
        assert isinstance(peer.receive_until(CloseConnection)[-1], CloseConnection)
        peer.close()


def test_ws_text_frame_closes_the_connection(ws_server: WsTestServer) -> None:
    with opened(ws_params(ws_server.port)) as transport:
        peer = ws_server.peer()
        peer.send(TextMessage(data="not mqtt"))
        with pytest.raises(ConnectionClosedError, match="text frame"):
            read_until_eof(transport)
        close = peer.receive_until(CloseConnection)[-1]
        assert isinstance(close, CloseConnection) and close.code == 1003
        peer.close()


def test_ws_shutdown_write_sends_close(ws_server: WsTestServer) -> None:
    with opened(ws_params(ws_server.port)) as transport:
        peer = ws_server.peer()
        transport.shutdown_write()
        close = peer.receive_until(CloseConnection)[-1]
        assert isinstance(close, CloseConnection) and close.code == 1000
        peer.send(close.response())
        assert read_until_eof(transport) == b""
        with pytest.raises(ConnectionClosedError):
            transport.send(b"late")
        peer.close()


def test_ws_subprotocol_must_be_selected(ws_server_factory: Callable[..., WsTestServer]) -> None:
    server = ws_server_factory(subprotocol=None)
    with pytest.raises(WebSocketHandshakeError, match="did not select the 'mqtt'") as info:
        open_transport(ws_params(server.port))
    assert info.value.status == 101


def test_ws_upgrade_refused_reports_status_and_body(
    ws_server_factory: Callable[..., WsTestServer],
) -> None:
    server = ws_server_factory(reject=(404, b"no MQTT here" + b"." * 300))
    with pytest.raises(WebSocketHandshakeError, match=r"HTTP 404.*no MQTT here") as info:
        open_transport(ws_params(server.port))
    assert info.value.status == 404
    assert info.value.body.startswith(b"no MQTT here")
    assert len(info.value.body) <= 200


def test_ws_to_a_plain_mqtt_port(broker: Mosquitto) -> None:
    with pytest.raises(WebSocketHandshakeError, match="is this a WebSocket listener") as info:
        open_transport(ws_params(broker.port("tcp")))
    assert info.value.status is None


def test_wss_over_tls_test_server(certs: Certs, ws_server_factory: Callable[..., WsTestServer]):
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certs.server_cert, certs.server_key)
    server = ws_server_factory(tls=server_context)
    context = build_tls_context(ca_certs=certs.ca)
    params = ConnectParams(
        "localhost", server.port, transport="websockets", tls=TLSSettings(context)
    )
    with opened(params) as transport:
        peer = server.peer()
        assert peer.request.host == f"localhost:{server.port}"
        extra = dict(peer.request.extra_headers)
        assert extra[b"origin"] == f"https://localhost:{server.port}".encode()
        payload = b"z" * 100_000
        peer.send(BytesMessage(data=payload[:50_000]), BytesMessage(data=payload[50_000:]))
        assert read_exactly(transport, len(payload)) == payload
        peer.close()


# --- proxies ------------------------------------------------------------------------------------


def test_socks5_proxy(broker: Mosquitto, microsocks: Microsocks) -> None:
    proxy = ProxySettings(SOCKS5, "127.0.0.1", microsocks.port)
    with opened(ConnectParams("127.0.0.1", broker.port(), proxy=proxy)) as transport:
        assert transport.socket.getpeername() == ("127.0.0.1", microsocks.port)
        assert type(transport.socket) is socket.socket  # the proxy socket was handed on plain
        assert mqtt_connect(transport) == CONNACK_OK
    # proof that the traffic went through the proxy: without it the same settings fail
    microsocks.stop()
    with pytest.raises(ProxyError, match=f"SOCKS5 proxy 127.0.0.1:{microsocks.port}"):
        open_transport(ConnectParams("127.0.0.1", broker.port(), proxy=proxy))


def test_socks5_proxy_resolves_or_not(broker: Mosquitto, microsocks: Microsocks) -> None:
    for rdns in (True, False):
        proxy = ProxySettings(SOCKS5, "localhost", microsocks.port, proxy_rdns=rdns)
        with opened(ConnectParams("localhost", broker.port(), proxy=proxy)) as transport:
            assert mqtt_connect(transport) == CONNACK_OK


def test_socks5_proxy_with_authentication(
    broker: Mosquitto, microsocks_factory: Callable[..., Microsocks]
) -> None:
    proxy_server = microsocks_factory(username="alice", password="wonder")
    good = ProxySettings(SOCKS5, "127.0.0.1", proxy_server.port, True, "alice", "wonder")
    with opened(ConnectParams("127.0.0.1", broker.port(), proxy=good)) as transport:
        assert mqtt_connect(transport) == CONNACK_OK
    bad = ProxySettings(SOCKS5, "127.0.0.1", proxy_server.port, True, "alice", "wrong")
    with pytest.raises(ProxyError, match=r"SOCKS5 proxy.*authentication") as info:
        open_transport(ConnectParams("127.0.0.1", broker.port(), proxy=bad))
    assert "wrong" not in str(info.value)  # never the password
    assert "wonder" not in repr(good)


def test_socks5_proxy_cannot_reach_the_broker(microsocks: Microsocks) -> None:
    proxy = ProxySettings(SOCKS5, "127.0.0.1", microsocks.port)
    with pytest.raises(ProxyError, match="SOCKS5 proxy"):
        open_transport(ConnectParams("127.0.0.1", free_port(), proxy=proxy))


def test_http_connect_proxy(broker: Mosquitto, tinyproxy_factory: Callable[..., Tinyproxy]):
    proxy_server = tinyproxy_factory(connect_ports=[broker.port(), broker.port("ws")])
    proxy = ProxySettings(HTTP, "127.0.0.1", proxy_server.port)
    with opened(ConnectParams("127.0.0.1", broker.port(), proxy=proxy)) as transport:
        assert transport.socket.getpeername() == ("127.0.0.1", proxy_server.port)
        assert mqtt_connect(transport) == CONNACK_OK
    assert f"CONNECT 127.0.0.1:{broker.port()}" in proxy_server.log()
    # a port the proxy does not allow: its refusal is reported
    with pytest.raises(ProxyError, match=f"HTTP proxy 127.0.0.1:{proxy_server.port}.*403"):
        open_transport(ConnectParams("127.0.0.1", broker.port("tls"), proxy=proxy))


def test_tls_over_socks5(broker: Mosquitto, microsocks: Microsocks, ca_context: ssl.SSLContext):
    proxy = ProxySettings(SOCKS5, "127.0.0.1", microsocks.port)
    params = ConnectParams(
        "localhost", broker.port("tls"), tls=TLSSettings(ca_context), proxy=proxy
    )
    with opened(params) as transport:
        assert transport.socket.getpeername() == ("127.0.0.1", microsocks.port)
        assert mqtt_connect(transport) == CONNACK_OK


def test_ws_over_http_proxy(broker: Mosquitto, tinyproxy: Tinyproxy) -> None:
    proxy = ProxySettings(HTTP, "127.0.0.1", tinyproxy.port)
    with opened(ws_params(broker.port("ws"), proxy=proxy)) as transport:
        assert mqtt_connect(transport) == CONNACK_OK
    assert f"CONNECT 127.0.0.1:{broker.port('ws')}" in tinyproxy.log()


def test_wss_over_socks5(broker: Mosquitto, microsocks: Microsocks, ca_context: ssl.SSLContext):
    proxy = ProxySettings(SOCKS5, "127.0.0.1", microsocks.port)
    params = ConnectParams(
        "localhost",
        broker.port("wss"),
        transport="websockets",
        tls=TLSSettings(ca_context),
        proxy=proxy,
    )
    with opened(params) as transport:
        assert mqtt_connect(transport) == CONNACK_OK


def test_proxy_from_environment(
    broker: Mosquitto, microsocks: Microsocks, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("mqtt_proxy", "MQTT_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("mqtt_proxy", f"socks5://127.0.0.1:{microsocks.port}")
    proxy = discover_proxy("127.0.0.1")
    assert proxy == ProxySettings(SOCKS5, "127.0.0.1", microsocks.port)
    with opened(ConnectParams("127.0.0.1", broker.port(), proxy=proxy)) as transport:
        assert transport.socket.getpeername()[1] == microsocks.port
        assert mqtt_connect(transport) == CONNACK_OK
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert discover_proxy("127.0.0.1") is None


def test_proxy_without_pysocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "socks", None)  # makes `import socks` fail
    proxy = ProxySettings(SOCKS5, "127.0.0.1", 1080)
    with pytest.raises(InvalidArgumentError, match=r"pip install mqttclient\[proxy\]"):
        open_transport(ConnectParams("127.0.0.1", 1883, proxy=proxy))


# --- timeouts -----------------------------------------------------------------------------------
# A listener that never answers: the TCP connect succeeds (kernel backlog), then the handshake on
# top waits. Every step is bounded by timeout_s; durations are only checked as "did not hang".


def _times_out(params: ConnectParams, step: str) -> None:
    start = time.monotonic()
    with pytest.raises(ConnectTimeoutError, match=step):
        open_transport(params)
    assert time.monotonic() - start < params.timeout_s + 10


def test_timeout_tls_handshake(silent_server: SilentServer, ca_context: ssl.SSLContext) -> None:
    params = ConnectParams(
        "localhost", silent_server.port, tls=TLSSettings(ca_context), timeout_s=0.5
    )
    _times_out(params, "TLS handshake")


def test_timeout_websocket_handshake(silent_server: SilentServer) -> None:
    _times_out(ws_params(silent_server.port, timeout_s=0.5), "WebSocket handshake")


def test_timeout_wss_handshake_bounds_everything(
    silent_server: SilentServer, ca_context: ssl.SSLContext
) -> None:
    params = ConnectParams(
        "localhost",
        silent_server.port,
        transport="websockets",
        tls=TLSSettings(ca_context),
        timeout_s=0.5,
    )
    _times_out(params, "TLS handshake")


def test_timeout_proxy_that_never_answers(silent_server: SilentServer) -> None:
    proxy = ProxySettings(SOCKS5, "127.0.0.1", silent_server.port)
    _times_out(ConnectParams("127.0.0.1", 1883, proxy=proxy, timeout_s=0.5), "proxy")


def test_timeout_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = socket.getaddrinfo

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(IO_TIMEOUT_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    try:
        _times_out(ConnectParams("slow.example", 1883, timeout_s=0.3), "DNS lookup")
    finally:
        release.set()


# --- the scripted fake broker (shared test infrastructure) -----------------------------------


def test_fake_broker_script(fake_broker: FakeBroker) -> None:
    with opened(ConnectParams("127.0.0.1", fake_broker.port)) as transport:
        send_all(transport, CONNECT)
        connect = fake_broker.expect(fb.CONNECT)
        assert connect == CONNECT
        assert connect.name == "CONNECT" and connect.packet_type == 0x10
        decoded = connect.decoded
        if decoded is not None:  # once the codec is importable
            assert decoded.client_id == "t1"
        fake_broker.send(fb.connack())
        assert read_exactly(transport, 4) == CONNACK_OK
        # two packets in one write, then one packet split over writes
        first, second = publish(b"a", b"1"), publish(b"b", b"2" * 300)
        send_all(transport, first + second[:2])
        send_all(transport, second[2:])
        assert fake_broker.expect(3) == first  # type number 3 == PUBLISH
        assert fake_broker.expect() == second
        fake_broker.expect_nothing(0.05)
        send_all(transport, DISCONNECT)
        with pytest.raises(AssertionError, match="expected PUBLISH, got <DISCONNECT e0 00>"):
            fake_broker.expect(fb.PUBLISH)
        transport.shutdown_write()
        assert fake_broker.wait_closed() == []
    assert [p.name for p in fake_broker.recorded()] == [
        "CONNECT",
        "PUBLISH",
        "PUBLISH",
        "DISCONNECT",
    ]


def test_fake_broker_follows_a_reconnecting_client(fake_broker: FakeBroker) -> None:
    with opened(ConnectParams("127.0.0.1", fake_broker.port)) as transport:
        send_all(transport, CONNECT)
        fake_broker.expect(fb.CONNECT)
        fake_broker.close_client()
        assert read_until_eof(transport) == b""
    with opened(ConnectParams("127.0.0.1", fake_broker.port)) as transport:
        send_all(transport, CONNECT)
        fake_broker.expect(fb.CONNECT)  # accepted the new connection
        fake_broker.send(fb.connack(session_present=True))
        assert read_exactly(transport, 4) == bytes.fromhex("20 02 01 00")
        transport.close()
        with pytest.raises(AssertionError, match="the client closed the connection"):
            fake_broker.connection.expect(fb.PINGREQ, timeout=1)
    assert len(fake_broker.connections) == 2


def test_fake_broker_is_bounded_in_time(fake_broker: FakeBroker) -> None:
    with pytest.raises(AssertionError, match="no client connected"):
        fake_broker.accept(timeout=0.05)
    with opened(ConnectParams("127.0.0.1", fake_broker.port)):
        with pytest.raises(AssertionError, match="nothing arrived within"):
            fake_broker.expect(fb.CONNECT, timeout=0.05)
        with pytest.raises(AssertionError, match="did not close"):
            fake_broker.wait_closed(timeout=0.05)


def test_timeout_bounds_a_proxy_answering_byte_by_byte() -> None:
    # Each byte arrives within the per-read timeout, the whole answer far after the deadline.
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        conn.recv(3)  # SOCKS5 greeting
        for byte in b"\x05\x00":
            if stop.wait(0.4):
                return
            conn.sendall(bytes([byte]))
        conn.recv(100)  # CONNECT request
        for byte in b"\x05\x00\x00\x01\x7f\x00\x00\x01\x07\x5b":
            if stop.wait(0.4):
                return
            conn.sendall(bytes([byte]))

    with OneShotServer(drip) as server:
        proxy = ProxySettings(SOCKS5, "127.0.0.1", server.port)
        try:
            _times_out(ConnectParams("127.0.0.1", 1883, proxy=proxy, timeout_s=0.6), "proxy")
        finally:
            stop.set()


# --- broker helper features other tests rely on --------------------------------------------------


def connect_packet(
    client_id: bytes, clean: bool = True, username: bytes = b"", password: bytes = b""
) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x3c"
    for field in (client_id, username, password):
        if field or field is client_id:
            body += len(field).to_bytes(2, "big") + field
    return b"\x10" + vbi(len(body)) + body


def test_broker_restart_keeps_ports_and_persistent_sessions(
    mosquitto_factory: Callable[..., Mosquitto],
) -> None:
    broker = mosquitto_factory(persistence=True)
    port = broker.port()
    with opened(ConnectParams("127.0.0.1", port)) as transport:
        send_all(transport, connect_packet(b"keep-me", clean=False))
        assert read_exactly(transport, 4) == CONNACK_OK
        send_all(transport, subscribe(b"kept/topic") + DISCONNECT)
        assert read_exactly(transport, 5) == bytes.fromhex("90 03 00 01 00")
    broker.restart()
    assert broker.port() == port
    with opened(ConnectParams("127.0.0.1", port)) as transport:
        send_all(transport, connect_packet(b"keep-me", clean=False))
        assert read_exactly(transport, 4) == bytes.fromhex("20 02 01 00")  # session present


def test_broker_password_file(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory(
        [Listener("tcp", auth=True), Listener("tcp", name="open")], users={"ann": "pw1"}
    )
    for password, code in ((b"pw1", 0), (b"bad", 5)):
        with opened(ConnectParams("127.0.0.1", broker.port())) as transport:
            send_all(transport, connect_packet(b"c", username=b"ann", password=password))
            assert read_exactly(transport, 4) == bytes([0x20, 0x02, 0x00, code])
    with opened(ConnectParams("127.0.0.1", broker.port("open"))) as transport:
        assert mqtt_connect(transport) == CONNACK_OK  # per-listener settings
