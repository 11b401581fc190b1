"""Transports: the byte pipes the network loop reads and writes.

Owns: the :class:`Transport` interface, the TCP/Unix and TLS transports, :class:`ConnectParams`
and :func:`open_transport`, which does DNS, TCP (or Unix), proxy, TLS and WebSocket handshakes
under one deadline and hands back a connected, non-blocking transport. The settings values it
takes live next to it and are re-exported here: :class:`TLSSettings`/:func:`build_tls_context`
(``tlsconfig``), :class:`ProxySettings`/:func:`discover_proxy` (``proxy``),
:class:`WebSocketSettings` (``websocket``).

Must not: know MQTT packets, call user callbacks (except a WebSocket headers callable during the
handshake), or log secrets (proxy passwords, header values).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional, Protocol, Union

from mqttclient._io.proxy import HTTP, SOCKS4, SOCKS5, ProxySettings, discover_proxy, require_socks
from mqttclient._io.tlsconfig import TLSSettings, build_tls_context, explain_tls_error
from mqttclient._io.websocket import WebSocketSettings, websocket_handshake
from mqttclient.errors import (
    ConnectionClosedError,
    ConnectionFailedError,
    ConnectTimeoutError,
    InvalidArgumentError,
    ProxyError,
    TLSError,
)

__all__ = [
    "HTTP",
    "SOCKS4",
    "SOCKS5",
    "ConnectParams",
    "ProxySettings",
    "SocketTransport",
    "TLSSettings",
    "TLSTransport",
    "Transport",
    "WebSocketSettings",
    "build_tls_context",
    "discover_proxy",
    "open_transport",
]

log = logging.getLogger(__name__)

_TRANSPORTS = ("tcp", "websockets", "unix")
_TLS_SEND_MAX = 256 * 1024

Buffer = Union[bytes, bytearray, memoryview]


class Transport(Protocol):
    """A connected, non-blocking byte stream.

    I/O errors surface as :class:`OSError` (including :class:`ssl.SSLError` and the
    :class:`~mqttclient.errors.ConnectionFailedError` family) or
    :class:`~mqttclient.errors.ConnectionClosedError`.

    Thread: only the thread that owns the connection calls it.
    """

    def fileno(self) -> int:
        """The descriptor to register with a selector."""
        ...

    def recv(self, max_bytes: int) -> Optional[bytes]:
        """Data; ``b""`` once the peer closed the stream; ``None`` if nothing is available now."""
        ...

    def send(self, data: Buffer) -> int:
        """Bytes accepted (0 if it would block).

        After a TLS transport returned 0, the next call must start with the same bytes.
        """
        ...

    def pending(self) -> bool:
        """Data is buffered inside the transport (TLS record, WebSocket frame) that select()
        will not report: call :meth:`recv` without waiting."""
        ...

    def wants_write(self) -> bool:
        """The transport holds unsent bytes of its own: select for writing and call send()."""
        ...

    def shutdown_write(self) -> None:
        """Graceful half-close for a clean disconnect; errors are ignored."""
        ...

    def close(self) -> None:
        """Release the connection; idempotent."""
        ...

    @property
    def socket(self) -> object:
        """What paho's ``client.socket()`` returns."""
        ...


# --- transports ---------------------------------------------------------------------------------


# Linux leaves "quick ACK" mode after a while and then delays ACKs by up to 40 ms; with Nagle
# on the broker's side (mosquitto does not set TCP_NODELAY) a request/response round trip then
# waits for that delayed ACK. Re-arming after every read keeps ACKs immediate: measured in
# benchmarks/run.py (request/response QoS 1 p50 44 ms → under 0.5 ms). One setsockopt per read.
_QUICKACK: Optional[int] = getattr(socket, "TCP_QUICKACK", None)


def _rearm_quickack(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)  # type: ignore[arg-type]
    except OSError:
        pass


class SocketTransport:
    """Plain TCP or Unix-domain stream."""

    def __init__(self, sock: socket.socket, peer: str = "") -> None:
        self._sock = sock
        self._peer = peer
        self._closed = False
        # Until the server's first byte: a reset then, or a first byte of 0x15/0x16 followed by
        # 0x03 (a TLS record; a server never sends CONNECT, 0x1X), means plain MQTT was spoken
        # to a TLS port.
        self._nothing_received = sock.family != getattr(socket, "AF_UNIX", None)
        self._quickack = _QUICKACK is not None and sock.family != getattr(socket, "AF_UNIX", None)

    def fileno(self) -> int:
        return self._sock.fileno()

    @property
    def socket(self) -> object:
        return self._sock

    def recv(self, max_bytes: int) -> Optional[bytes]:
        try:
            data = self._sock.recv(max_bytes)
        except (BlockingIOError, InterruptedError):
            return None
        except ConnectionResetError as exc:
            if self._nothing_received:
                raise ConnectionClosedError(
                    f"the server at {self._peer} reset the connection before answering; if it "
                    "is a TLS port, enable TLS with tls_set()"
                ) from exc
            raise
        if self._nothing_received and data:
            self._nothing_received = False
            if data[0] in (0x15, 0x16) and (len(data) == 1 or data[1] == 0x03):
                raise ConnectionFailedError(
                    f"the server at {self._peer} answered with TLS; is this a TLS port? "
                    "Enable TLS with tls_set()"
                )
        if data and self._quickack:
            _rearm_quickack(self._sock)
        return data

    def send(self, data: Buffer) -> int:
        try:
            return self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0

    def pending(self) -> bool:
        return False

    def wants_write(self) -> bool:
        return False

    def shutdown_write(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            log.debug("shutdown(SHUT_WR) failed", exc_info=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()


class TLSTransport:
    """TLS over TCP (or over a Unix socket) using an :class:`ssl.SSLSocket`."""

    def __init__(self, sock: ssl.SSLSocket, host: str = "", port: int = 0) -> None:
        self._sock = sock
        self._host = host
        self._port = port
        self._closed = False
        self._read_wants_write = False
        self._unwrapped = False
        # A TLS alert found after a failed write (see send()); the network loop learns that a
        # connection ended from its reads, so the next read reports it instead of a bare EOF.
        self._alert: Optional[ssl.SSLError] = None

    def fileno(self) -> int:
        return self._sock.fileno()

    @property
    def socket(self) -> object:
        return self._sock

    def selected_alpn_protocol(self) -> Optional[str]:
        """The protocol the server picked with ALPN, or ``None``."""
        return self._sock.selected_alpn_protocol()

    def recv(self, max_bytes: int) -> Optional[bytes]:
        if self._unwrapped:
            return b""
        if self._alert is not None:
            raise explain_tls_error(
                self._alert, host=self._host, port=self._port, during_handshake=False
            )
        self._read_wants_write = False
        try:
            data = self._sock.recv(max_bytes)
        except ssl.SSLWantReadError:
            return None
        except ssl.SSLWantWriteError:
            self._read_wants_write = True
            return None
        except (BlockingIOError, InterruptedError):
            return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""
        except ssl.SSLError as exc:
            # Under TLS 1.3 a refused client certificate arrives as an alert on the first read.
            raise explain_tls_error(
                exc, host=self._host, port=self._port, during_handshake=False
            ) from exc
        if data and _QUICKACK is not None:
            _rearm_quickack(self._sock)
        return data

    def send(self, data: Buffer) -> int:
        # OpenSSL reports a write only once all of it is written, so a huge buffer would read
        # as "0 accepted" for a long time: offer it in slices. A retry after 0 starts with the
        # same bytes, as SSL_write requires.
        view = memoryview(data)[:_TLS_SEND_MAX]
        try:
            return self._sock.send(view)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
            return 0
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
            # Under TLS 1.3 the server may refuse the client certificate and close before our
            # first write; the write then fails with a bare EOF while the alert that says why
            # is still waiting to be read.
            reason = self._pending_alert()
            if reason is not None:
                self._alert = reason
                raise explain_tls_error(
                    reason, host=self._host, port=self._port, during_handshake=False
                ) from exc
            raise
        finally:
            # The traceback of a failed send keeps the view alive in a reference cycle; an
            # export left on the caller's bytearray would make its next resize (clear() on
            # connection loss) raise BufferError in the loop thread.
            view.release()

    def _pending_alert(self) -> Optional[ssl.SSLError]:
        try:
            self._sock.recv(1)
        except ssl.SSLError as exc:
            if getattr(exc, "reason", None) and not isinstance(
                exc, (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLEOFError)
            ):
                return exc
        except OSError:
            pass
        return None

    def pending(self) -> bool:
        return not self._unwrapped and self._sock.pending() > 0

    def wants_write(self) -> bool:
        return self._read_wants_write

    def shutdown_write(self) -> None:
        # close_notify, then FIN. unwrap() on a non-blocking socket sends close_notify and then
        # raises SSLWantReadError while the peer's close_notify is outstanding; the TLS object
        # stays usable for reading. socket.socket.shutdown is called directly because
        # SSLSocket.shutdown() would drop the TLS layer and let raw records reach recv().
        try:
            self._sock.unwrap()
            self._unwrapped = True
        except (ssl.SSLError, OSError, ValueError):
            pass
        try:
            socket.socket.shutdown(self._sock, socket.SHUT_WR)
        except OSError:
            log.debug("shutdown(SHUT_WR) failed", exc_info=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()


# --- connecting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectParams:
    """Everything needed to open a connection; validated on construction.

    ``transport`` is ``"tcp"``, ``"websockets"`` or ``"unix"`` (then ``host`` is the socket
    path). ``proxy`` is used as given: fill it with :func:`discover_proxy` on every connect to get
    paho's environment and PySocks-default behaviour. Unix connections ignore ``proxy``.
    ``timeout_s`` bounds the whole connect: DNS, TCP, proxy, TLS and WebSocket handshakes.
    """

    host: str
    port: int = 1883
    transport: str = "tcp"
    bind_address: str = ""
    bind_port: int = 0
    tls: Optional[TLSSettings] = None
    proxy: Optional[ProxySettings] = None
    websocket: Optional[WebSocketSettings] = None
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.transport not in _TRANSPORTS:
            raise InvalidArgumentError(
                f"transport must be 'tcp', 'websockets' or 'unix', not {self.transport!r}"
            )
        if not isinstance(self.host, str) or not self.host:
            raise InvalidArgumentError("host must be a non-empty string")
        if self.transport != "unix" and not 0 < self.port < 65536:
            raise InvalidArgumentError(f"port out of range: {self.port!r}")
        if not 0 <= self.bind_port < 65536:
            raise InvalidArgumentError(f"bind_port out of range: {self.bind_port!r}")
        if not self.timeout_s > 0:
            raise InvalidArgumentError(f"timeout_s must be positive, not {self.timeout_s!r}")

    @property
    def label(self) -> str:
        """``host:port``, or the socket path for Unix sockets."""
        return self.host if self.transport == "unix" else f"{self.host}:{self.port}"


class _Deadline:
    """The monotonic deadline of one connect attempt."""

    def __init__(self, params: ConnectParams) -> None:
        self.timeout_s = params.timeout_s
        self.at = time.monotonic() + params.timeout_s
        self.label = params.label

    def remaining(self, step: str) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired(step)
        return left

    def expired(self, step: str) -> ConnectTimeoutError:
        return ConnectTimeoutError(
            f"connecting to {self.label} timed out after {self.timeout_s:g} s during the {step}"
        )


def open_transport(params: ConnectParams) -> Transport:
    """Connect as ``params`` says and return a connected, non-blocking transport.

    Blocks for at most ``params.timeout_s`` (DNS included).

    Raises:
        ConnectTimeoutError: the whole connect did not finish in ``timeout_s``.
        TLSError: the TLS handshake failed (message says why: unknown CA, expired or
            mismatching certificate, client certificate refused, not a TLS port, ...).
        ProxyError: the proxy could not be reached or refused.
        WebSocketHandshakeError: the WebSocket upgrade failed (``status``, ``body``).
        ConnectionFailedError: DNS failure, connection refused, and other OSErrors.
        InvalidArgumentError: a proxy is configured but PySocks is not installed.

    Thread: any; the returned transport then belongs to one thread.
    """
    deadline = _Deadline(params)
    sock = _open_stream(params, deadline)
    transport: Optional[Transport] = None
    try:
        if params.tls is not None:
            sock = _tls_handshake(sock, params, deadline)
        sock.setblocking(False)
        if isinstance(sock, ssl.SSLSocket):
            transport = TLSTransport(sock, params.host, params.port)
        else:
            transport = SocketTransport(sock, params.label)
        if params.transport == "websockets":
            return websocket_handshake(
                transport,
                host=params.host,
                port=params.port,
                tls=params.tls is not None,
                settings=params.websocket or WebSocketSettings(),
                deadline=deadline.at,
                timeout_s=params.timeout_s,
            )
        return transport
    except BaseException:
        if transport is not None:
            transport.close()
        else:
            sock.close()
        raise


def _open_stream(params: ConnectParams, deadline: _Deadline) -> socket.socket:
    """A connected blocking stream socket (Unix, direct TCP or through the proxy)."""
    if params.transport == "unix":
        return _connect_unix(params, deadline)
    if params.proxy is not None:
        sock = _connect_via_proxy(params, params.proxy, deadline)
    else:
        sock = _connect_tcp(params, deadline)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _connect_unix(params: ConnectParams, deadline: _Deadline) -> socket.socket:
    family = getattr(socket, "AF_UNIX", None)
    if family is None:
        raise InvalidArgumentError("Unix sockets are not available on this platform")
    timeout = deadline.remaining("Unix socket connect")
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(params.host)
    except socket.timeout as exc:
        sock.close()
        raise deadline.expired("Unix socket connect") from exc
    except OSError as exc:
        sock.close()
        raise _failed(f"cannot connect to the Unix socket {params.host}", exc) from exc
    except BaseException:
        sock.close()
        raise
    return sock


def _failed(message: str, exc: OSError) -> ConnectionFailedError:
    error = ConnectionFailedError(f"{message}: {exc.strerror or exc}")
    error.errno = exc.errno
    return error


AddrInfo = list[tuple[Any, ...]]


def _resolve(host: str, port: int, deadline: _Deadline, family: int = 0) -> AddrInfo:
    """getaddrinfo bounded by the deadline (the lookup itself cannot be interrupted)."""
    flags = 0
    try:
        ipaddress.ip_address(host)
        flags = socket.AI_NUMERICHOST
    except ValueError:
        pass
    if flags:
        return list(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, flags))
    outcome: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM))
        except Exception as exc:  # handed to the waiting thread below
            outcome.append(exc)
        finally:
            done.set()

    # A daemon thread per lookup: if DNS hangs past the deadline the caller moves on and the
    # thread ends whenever getaddrinfo returns.
    threading.Thread(target=lookup, name=f"mqttclient-dns-{host}", daemon=True).start()
    if not done.wait(deadline.remaining("DNS lookup")):
        raise deadline.expired(f"DNS lookup of {host!r}")
    result = outcome[0]
    if isinstance(result, OSError):
        raise _failed(f"cannot resolve the host name {host!r}", result) from result
    if isinstance(result, BaseException):
        raise result
    if not result:
        raise ConnectionFailedError(f"cannot resolve the host name {host!r}: no address")
    return list(result)


def _connect_tcp(params: ConnectParams, deadline: _Deadline) -> socket.socket:
    infos = _resolve(params.host, params.port, deadline)
    last: Optional[OSError] = None
    for family, kind, proto, _, address in infos:
        timeout = deadline.remaining("TCP connect")
        sock = socket.socket(family, kind, proto)
        try:
            if params.bind_address or params.bind_port:
                sock.bind((params.bind_address, params.bind_port))
            sock.settimeout(timeout)
            sock.connect(address)
            log.debug("TCP connected to %s (%s)", params.label, address[0])
            return sock
        except socket.timeout as exc:
            sock.close()
            raise deadline.expired("TCP connect") from exc
        except OSError as exc:
            sock.close()
            last = exc
        except BaseException:
            sock.close()
            raise
    assert last is not None
    hint = ""
    if isinstance(last, ConnectionRefusedError):
        hint = " (is the broker running and listening on that port?)"
    raise _failed(f"cannot connect to {params.label}{hint}", last) from last


def _connect_via_proxy(
    params: ConnectParams, proxy: ProxySettings, deadline: _Deadline
) -> socket.socket:
    socks = require_socks()
    # PySocks resolves names with blocking calls of its own; resolve here, under the deadline.
    # PySocks speaks IPv4 to the proxy.
    proxy_ip = _resolve(proxy.proxy_addr, proxy.port, deadline, socket.AF_INET)[0][4][0]
    target = params.host
    if not proxy.proxy_rdns:
        target = _resolve(params.host, params.port, deadline, socket.AF_INET)[0][4][0]
    timeout = deadline.remaining("proxy connect")
    sock = socks.socksocket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.set_proxy(
            proxy.proxy_type,
            proxy_ip,
            proxy.port,
            proxy.proxy_rdns,
            proxy.proxy_username,
            proxy.proxy_password,
        )
        if params.bind_address or params.bind_port:
            sock.bind((params.bind_address, params.bind_port))
        sock.settimeout(timeout)
        # PySocks makes several blocking reads, each allowed the whole timeout; a proxy that
        # answers byte by byte could stretch them past the deadline. The watchdog shuts the
        # socket down at the deadline, which ends any read in progress.
        watchdog = threading.Timer(timeout, _shutdown_quietly, (sock,))
        watchdog.daemon = True
        watchdog.start()
        try:
            sock.connect((target, params.port))
        finally:
            watchdog.cancel()
    except socks.ProxyError as exc:
        sock.close()
        cause = getattr(exc, "socket_err", None)
        if isinstance(cause, socket.timeout) or time.monotonic() >= deadline.at:
            raise deadline.expired(f"connect through the {proxy.describe()}") from exc
        reply = getattr(exc, "msg", None) or str(exc)
        if cause is not None:
            reply = f"{reply}: {cause}"
        raise ProxyError(
            f"cannot connect to {params.label} through the {proxy.describe()}: {reply}"
        ) from exc
    except socket.timeout as exc:
        sock.close()
        raise deadline.expired(f"connect through the {proxy.describe()}") from exc
    except BaseException:
        sock.close()
        raise
    log.debug("connected to %s through the %s", params.label, proxy.describe())
    # Hand on a plain socket: from here on the proxy is invisible.
    return socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())


def _shutdown_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _tls_handshake(
    sock: socket.socket, params: ConnectParams, deadline: _Deadline
) -> ssl.SSLSocket:
    assert params.tls is not None
    context = params.tls.context
    server_hostname = params.tls.server_hostname
    if server_hostname is None and params.transport != "unix":
        server_hostname = params.host
    try:
        tls_sock = context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False
        )
    except ValueError as exc:
        # e.g. check_hostname on and no server_hostname for a Unix socket
        raise InvalidArgumentError(f"cannot start TLS to {params.label}: {exc}") from exc
    try:
        timeout = deadline.remaining("TLS handshake")
    except BaseException:
        tls_sock.close()
        raise
    try:
        tls_sock.settimeout(timeout)
        tls_sock.do_handshake()
    except socket.timeout as exc:
        tls_sock.close()
        raise deadline.expired("TLS handshake") from exc
    except (ssl.SSLError, ConnectionError) as exc:
        tls_sock.close()
        peer = None
        if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_code in (9, 10, 62, 64):
            peer = _peer_certificate(params, deadline, server_hostname)
        raise explain_tls_error(
            exc, host=params.host, port=params.port, peer_certificate=peer
        ) from exc
    except BaseException:
        tls_sock.close()
        raise
    log.debug("TLS %s with %s", tls_sock.version(), params.label)
    return tls_sock


def _peer_certificate(
    params: ConnectParams, deadline: _Deadline, server_hostname: Optional[str]
) -> Optional[bytes]:
    """Fetch the server's certificate without verifying it, only to explain a failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        sock = _open_stream(params, deadline)
    except (OSError, InvalidArgumentError):
        return None
    try:
        with context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False
        ) as tls_sock:
            tls_sock.settimeout(deadline.remaining("TLS handshake"))
            tls_sock.do_handshake()
            return tls_sock.getpeercert(binary_form=True)
    except (OSError, ConnectTimeoutError, TLSError):
        return None
    finally:
        sock.close()
