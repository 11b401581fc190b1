"""MQTT over WebSocket (MQTT 3.1.1 §6, MQTT 5.0 §6) on top of any :class:`Transport`.

Owns: :class:`WebSocketSettings`, the client upgrade handshake (:func:`websocket_handshake`) and
:class:`WebSocketTransport`, which turns the byte stream of MQTT packets into binary frames and
back. Framing, masking and the HTTP upgrade are done by ``wsproto``; this module only moves bytes
and applies the MQTT rules: subprotocol ``mqtt`` must be selected [MQTT-6.0.0-4], data travels in
binary frames only [MQTT-6.0.0-1], and frame boundaries mean nothing [MQTT-6.0.0-2].

Must not: block outside the handshake, call user code other than a headers callable during the
handshake, or log header values (they may carry tokens).
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Union

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from mqttclient.errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    InvalidArgumentError,
    WebSocketHandshakeError,
)

if TYPE_CHECKING:
    from mqttclient._io.transport import Transport

__all__ = [
    "HeadersArg",
    "WebSocketSettings",
    "WebSocketTransport",
    "default_headers",
    "websocket_handshake",
]

log = logging.getLogger(__name__)

#: ``ws_set_options(headers=...)``: extra headers merged into the defaults, or a callable given
#: the default headers that returns the headers to send (called on every handshake).
HeadersArg = Union[Mapping[str, str], Callable[[dict[str, str]], Mapping[str, str]], None]

# Headers wsproto writes itself; values for them from the user are ignored.
_MANAGED = {
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
}
_SUBPROTOCOL = "mqtt"
_READ_SIZE = 65536
# Outgoing data is cut into frames of at most this size, which also bounds the bytes this
# transport buffers beyond what the socket accepted.
_MAX_FRAME = 65536
_BODY_BYTES = 200
_CLOSE_UNSUPPORTED_DATA = 1003
_CLOSE_NORMAL = 1000


@dataclass(frozen=True)
class WebSocketSettings:
    """Options of the WebSocket upgrade (paho's ``ws_set_options``).

    ``path`` is the request target; ``headers`` a mapping merged into the default headers or a
    callable ``f(default_headers) -> headers``, called on every handshake (so every reconnect can
    carry a fresh token).
    """

    path: str = "/mqtt"
    headers: HeadersArg = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise InvalidArgumentError(f"WebSocket path must start with '/', not {self.path!r}")
        if self.headers is not None and not (
            isinstance(self.headers, Mapping) or callable(self.headers)
        ):
            raise InvalidArgumentError("WebSocket headers must be a dict or a callable")


def default_headers(host: str, port: int, tls: bool) -> dict[str, str]:
    """The headers of an upgrade request before the user's headers are applied."""
    shown = f"[{host}]" if ":" in host else host
    host_port = shown if port == (443 if tls else 80) else f"{shown}:{port}"
    return {
        "Host": host_port,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Origin": f"{'https' if tls else 'http'}://{host_port}",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": _SUBPROTOCOL,
    }


def _request_headers(settings: WebSocketSettings, host: str, port: int, tls: bool) -> Request:
    headers = default_headers(host, port, tls)
    if callable(settings.headers):
        produced = settings.headers(dict(headers))
        if not isinstance(produced, Mapping):
            raise InvalidArgumentError("the WebSocket headers callable must return a dict")
        headers = dict(produced)
    elif settings.headers is not None:
        headers.update(settings.headers)
    host_header = headers.get("Host", "")
    extra: list[tuple[bytes, bytes]] = []
    for name, value in headers.items():
        lower = name.lower()
        if lower == "host":
            host_header = str(value)
        elif lower not in _MANAGED:
            extra.append((name.encode("latin-1"), str(value).encode("latin-1")))
    return Request(
        host=host_header,
        target=settings.path,
        extra_headers=extra,
        subprotocols=[_SUBPROTOCOL],
    )


def _wait(fileno: int, write: bool, deadline: float, step: str, timeout_s: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        with selectors.DefaultSelector() as selector:
            selector.register(fileno, selectors.EVENT_WRITE if write else selectors.EVENT_READ)
            if selector.select(remaining):
                return
    raise ConnectTimeoutError(f"connect timed out after {timeout_s:g} s during the {step}")


def websocket_handshake(
    inner: Transport,
    *,
    host: str,
    port: int,
    tls: bool,
    settings: WebSocketSettings,
    deadline: float,
    timeout_s: float,
) -> WebSocketTransport:
    """Upgrade the connected, non-blocking ``inner`` transport to WebSocket.

    Blocks until the server answered or ``deadline`` (a ``time.monotonic()`` value) passed.
    The caller closes ``inner`` if this raises.

    Raises:
        WebSocketHandshakeError: the server refused the upgrade (``status``, first bytes of the
            body), did not answer HTTP, or did not select the ``mqtt`` subprotocol.
        ConnectTimeoutError: no complete answer before ``deadline``.
        OSError: the connection failed.
    """
    url = f"{'wss' if tls else 'ws'}://{host}:{port}{settings.path}"
    step = f"WebSocket handshake with {url}"
    ws = WSConnection(ConnectionType.CLIENT)
    request = _request_headers(settings, host, port, tls)
    try:
        return _upgrade(inner, ws, request, url, deadline, step, timeout_s)
    except (ConnectionResetError, BrokenPipeError, ConnectionClosedError) as exc:
        raise WebSocketHandshakeError(
            f"WebSocket upgrade to {url} failed: the server reset the connection without an "
            "HTTP answer; is this a WebSocket listener? (for a TLS port, enable TLS)"
        ) from exc


def _upgrade(
    inner: Transport,
    ws: WSConnection,
    request: Request,
    url: str,
    deadline: float,
    step: str,
    timeout_s: float,
) -> WebSocketTransport:
    pending = memoryview(ws.send(request))
    while pending:
        sent = inner.send(pending)
        pending = pending[sent:]
        if pending:
            _wait(inner.fileno(), True, deadline, step, timeout_s)

    status: Optional[int] = None
    body = bytearray()
    leftover: list[Event] = []
    while True:
        data = inner.recv(_READ_SIZE)
        if data is None:
            if inner.pending():
                continue
            _wait(inner.fileno(), False, deadline, step, timeout_s)
            continue
        if not data:
            if status is not None:
                break
            raise WebSocketHandshakeError(
                f"WebSocket upgrade to {url} failed: the server closed the connection without "
                "an HTTP answer; is this a WebSocket listener?"
            )
        try:
            ws.receive_data(data)
            events = list(ws.events())
        except RemoteProtocolError as exc:
            raise WebSocketHandshakeError(
                f"WebSocket upgrade to {url} failed: the server's answer is not a valid "
                f"WebSocket upgrade ({exc}); first bytes: {bytes(data[:_BODY_BYTES])!r}",
                status,
                bytes(data[:_BODY_BYTES]),
            ) from exc
        accepted: Optional[AcceptConnection] = None
        done = False
        for index, event in enumerate(events):
            if isinstance(event, AcceptConnection):
                accepted = event
                leftover = events[index + 1 :]
                break
            if isinstance(event, RejectConnection):
                status = event.status_code
                done = not event.has_body
            elif isinstance(event, RejectData):
                body += event.data
                done = event.body_finished
        if accepted is not None:
            if accepted.subprotocol != _SUBPROTOCOL:
                raise WebSocketHandshakeError(
                    f"WebSocket upgrade to {url} failed: the server did not select the "
                    f"'{_SUBPROTOCOL}' subprotocol (it selected {accepted.subprotocol!r}) "
                    "[MQTT-6.0.0-4]; is this an MQTT WebSocket endpoint?",
                    101,
                )
            log.debug("WebSocket upgrade to %s accepted", url)
            transport = WebSocketTransport(inner, ws)
            transport._handle_events(leftover)
            return transport
        if done or len(body) >= _BODY_BYTES:
            break
    shown = bytes(body[:_BODY_BYTES])
    raise WebSocketHandshakeError(
        f"WebSocket upgrade to {url} refused: HTTP {status}; body: {shown!r}", status, shown
    )


class WebSocketTransport:
    """A :class:`Transport` carrying MQTT bytes in WebSocket binary frames over ``inner``.

    Non-blocking like ``inner``. Control frames are handled here: PING is answered with PONG,
    a CLOSE is answered and then reported as end of stream, a text frame closes the connection
    with 1003 and raises :class:`ConnectionClosedError`. Bytes this transport must still write
    (a frame the socket did not take whole, a PONG, a CLOSE) make :meth:`wants_write` true.

    Thread: only the thread that owns the connection calls it.
    """

    def __init__(self, inner: Transport, connection: WSConnection) -> None:
        self._inner = inner
        self._ws = connection
        self._in = bytearray()
        self._out = bytearray()
        self._eof = False
        self._error: Optional[BaseException] = None
        self._closed = False

    # --- Transport -------------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def socket(self) -> object:
        """What paho's ``client.socket()`` returns for WebSocket: this wrapper."""
        return self

    @property
    def inner(self) -> Transport:
        """The transport the frames travel on (TCP or TLS)."""
        return self._inner

    def recv(self, max_bytes: int) -> Optional[bytes]:
        if not self._in and not self._eof:
            self._fill()
        if self._in:
            chunk = bytes(self._in[:max_bytes])
            del self._in[:max_bytes]
            return chunk
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._eof:
            return b""
        return None

    def send(self, data: Union[bytes, bytearray, memoryview]) -> int:
        self._flush()
        if self._out or not data:
            return 0
        if self._ws.state is not ConnectionState.OPEN:
            raise ConnectionClosedError("the WebSocket connection is closing")
        count = min(len(data), _MAX_FRAME)
        frame = self._ws.send(BytesMessage(data=bytes(data[:count])))
        sent = self._inner.send(frame)
        if sent < len(frame):
            self._out += frame[sent:]
        return count

    def pending(self) -> bool:
        return bool(self._in) or self._error is not None or self._inner.pending()

    def wants_write(self) -> bool:
        return bool(self._out) or self._inner.wants_write()

    def shutdown_write(self) -> None:
        """Send a CLOSE frame (1000); the server answers with CLOSE and closes the TCP stream."""
        if self._ws.state is ConnectionState.OPEN:
            self._out += self._ws.send(CloseConnection(code=_CLOSE_NORMAL))
        try:
            self._flush()
        except OSError:
            log.debug("could not send the WebSocket close frame", exc_info=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._inner.close()

    # --- internals -------------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._out:
            sent = self._inner.send(self._out)
            del self._out[:sent]

    def _fill(self) -> None:
        # Several reads only while the inner transport holds decrypted data select() cannot see.
        for _ in range(64):
            data = self._inner.recv(_READ_SIZE)
            if data is None:
                return
            if not data:
                self._eof = True
                return
            self._ws.receive_data(data)
            self._handle_events(self._ws.events())
            if self._in or self._eof or not self._inner.pending():
                return

    def _handle_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, BytesMessage):
                self._in += event.data
            elif isinstance(event, Ping):
                if self._ws.state is ConnectionState.OPEN:
                    self._out += self._ws.send(event.response())
            elif isinstance(event, TextMessage):
                # MQTT-6.0.0-1: only binary frames; anything else closes the connection.
                self._close_with(_CLOSE_UNSUPPORTED_DATA)
                self._fail(
                    ConnectionClosedError(
                        "the server sent a WebSocket text frame; MQTT over WebSocket uses "
                        "binary frames only [MQTT-6.0.0-1]"
                    )
                )
                break
            elif isinstance(event, CloseConnection):
                state = self._ws.state
                if state is ConnectionState.REMOTE_CLOSING:
                    self._out += self._ws.send(event.response())
                    log.debug("WebSocket closed by the server: %s %s", event.code, event.reason)
                    self._eof = True
                elif state is ConnectionState.OPEN:
                    # wsproto reports a malformed frame as a CloseConnection it wants us to send.
                    self._close_with(event.code, event.reason)
                    self._fail(
                        ConnectionClosedError(
                            f"invalid WebSocket frame from the server: {event.reason}"
                        )
                    )
                else:
                    self._eof = True
                break
        self._flush()

    def _close_with(self, code: int, reason: Optional[str] = None) -> None:
        try:
            self._out += self._ws.send(CloseConnection(code=code, reason=reason))
        except LocalProtocolError:
            log.debug("WebSocket close not sent in state %s", self._ws.state)

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._eof = True
