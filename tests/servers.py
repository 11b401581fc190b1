"""Small in-test servers on 127.0.0.1 for what a real broker cannot be made to do: a listener that
never answers, and a listener that serves exactly one connection (plain or TLS) with a function
the test gives.

    with OneShotServer(handle, tls=server_tls_context(certs, alpn=["mqtt"])) as server:
        client.connect("localhost", server.port)

Every wait is bounded (``IO_TIMEOUT_S``); leaving the ``with`` block joins the serving thread
(bounded) and closes the listener.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Sequence
from typing import Any, Callable, Optional

from tests.brokers import Certs

IO_TIMEOUT_S = 5.0

__all__ = ["IO_TIMEOUT_S", "OneShotServer", "SilentServer", "server_tls_context"]


class SilentServer:
    """Accepts TCP connections (in the kernel backlog) and never says a word: for connect,
    handshake and CONNACK timeouts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


def server_tls_context(certs: Certs, alpn: Optional[Sequence[str]] = None) -> ssl.SSLContext:
    """A server-side TLS context with the test server certificate (for ``localhost``), offering
    the ``alpn`` protocols when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    if alpn is not None:
        context.set_alpn_protocols(list(alpn))
    return context


class OneShotServer:
    """Listens on 127.0.0.1 (``port``); a thread accepts one connection (waiting at most
    ``IO_TIMEOUT_S``), wraps it in ``tls`` when given (the handshake happens there), and calls
    ``handle(connection)`` (a ``socket.socket``, or an ``ssl.SSLSocket`` with ``tls``). ``OSError`` from the peer going away ends the thread quietly. The
    connection is closed when ``handle`` returns, unless ``handle`` closed it itself."""

    def __init__(
        self, handle: Callable[[Any], object], tls: Optional[ssl.SSLContext] = None
    ) -> None:
        self._handle = handle
        self._tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(IO_TIMEOUT_S)
        self.port: int = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            with conn:
                self._handle(conn)

    def join(self, timeout: float = IO_TIMEOUT_S) -> None:
        """Wait (bounded) until the connection has been served."""
        self._thread.join(timeout)

    def close(self) -> None:
        self.join()
        self.listener.close()

    def __enter__(self) -> OneShotServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
