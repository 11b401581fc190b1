"""How ``Client`` opens its next connection (it inherits :class:`ConnectionSettingsMixin`):
TLS and WebSocket settings, the credentials provider and the clear-text credentials policy, and
the ``ConnectParams`` the engine opens a transport with.

Owns: checking those settings at the API edge (``tls_set``, ``ws_set_options``,
``credentials_provider_set`` ...), the :class:`Credentials` value, and building the
``ConnectParams`` for each attempt (``_connect_params``, called by ``_prepare_connect`` in
``_client_connect`` on the thread that connects). ``proxy_set`` stays in ``mqttclient.client``:
it reads that module's ``socks``.

Must not: open connections, touch the session, or import ``mqttclient.client``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Union

from mqttclient._client_constants import WebSocketHeaders, _force_bytes
from mqttclient._io.tlsconfig import TLSSettings, build_tls_context
from mqttclient._io.transport import ConnectParams, ProxySettings, discover_proxy
from mqttclient._io.websocket import WebSocketSettings
from mqttclient.errors import ConnectionFailedError

if TYPE_CHECKING:
    import ssl as _ssl_module

try:
    import ssl
except ImportError:  # pragma: no cover - CPython always has ssl here
    ssl = None  # type: ignore[assignment]

__all__ = ["ConnectionSettingsMixin", "Credentials"]


@dataclass(frozen=True)
class Credentials:
    """What a credentials provider returns (see ``Client.credentials_provider_set``):
    ``username``, ``password`` (``str`` or ``bytes``) and optionally WebSocket headers for the
    next handshake (e.g. an ``Authorization`` header)."""

    username: Optional[str] = None
    password: Union[str, bytes, None] = field(default=None, repr=False)
    websocket_headers: Optional[dict[str, str]] = None


class ConnectionSettingsMixin:
    """TLS, WebSocket, proxy and credentials settings for ``Client`` (module docstring)."""

    # Provided by Client (set in Client.__init__).
    _host: str
    _transport: str
    _bind_address: str
    _bind_port: int
    _connect_timeout: float
    _username: Optional[str]
    _password: Optional[bytes]
    _tls: Optional[TLSSettings]
    _tls_insecure: bool
    _proxy: Optional[ProxySettings]
    _websocket: WebSocketSettings
    _credentials_provider: Optional[Callable[[], Credentials]]
    _provider_headers: Optional[dict[str, str]]
    _strict_credentials: bool

    if TYPE_CHECKING:
        # Provided by ServerPolicyMixin and CallbackMixin.
        def _connect_target(self) -> tuple[str, int]: ...

        def _warn(self, fmt: str, *args: Any) -> None: ...

    # --- transports ---------------------------------------------------------------------------
    def tls_set(
        self,
        ca_certs: Optional[str] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        cert_reqs: Optional[_ssl_module.VerifyMode] = None,
        tls_version: Optional[int] = None,
        ciphers: Optional[str] = None,
        keyfile_password: Optional[str] = None,
        alpn_protocols: Optional[list[str]] = None,
        *,
        trust_store: Literal["certifi", "system"] = "certifi",
    ) -> None:
        """Enable TLS. Certificates and host names are verified; without ``ca_certs`` the CA
        bundle of ``certifi`` is trusted, or the operating system's store with
        ``trust_store="system"`` (an addition to paho's signature). TLS 1.2 is the minimum
        unless ``tls_version`` says otherwise. Bad files raise ``ValueError`` naming the file."""
        if self._tls is not None:
            raise ValueError("SSL/TLS has already been configured.")
        context = build_tls_context(
            ca_certs=ca_certs,
            certfile=certfile,
            keyfile=keyfile,
            cert_reqs=cert_reqs,
            tls_version=tls_version,
            ciphers=ciphers,
            keyfile_password=keyfile_password,
            alpn_protocols=alpn_protocols,
            trust_store=trust_store,
        )
        self._tls = TLSSettings(context)
        if ssl is not None and cert_reqs == ssl.CERT_NONE:
            self.tls_insecure_set(True)

    def tls_set_context(self, context: Optional[_ssl_module.SSLContext] = None) -> None:
        """Enable TLS with ``context`` (default: a verifying context with certifi's bundle)."""
        if self._tls is not None:
            raise ValueError("SSL/TLS has already been configured.")
        if context is None:
            context = build_tls_context()
        self._tls = TLSSettings(context)
        if not context.check_hostname:
            self._tls_insecure = True

    def tls_insecure_set(self, value: bool) -> None:
        """Turn hostname verification off (``True``) or on. Certificates are still verified
        unless the context says otherwise."""
        if self._tls is None:
            raise ValueError("Must configure SSL context before using tls_insecure_set.")
        self._tls_insecure = bool(value)
        context = self._tls.context
        if value:
            context.check_hostname = False
        elif context.verify_mode != (ssl.CERT_NONE if ssl else 0):
            context.check_hostname = True

    def ws_set_options(
        self, path: str = "/mqtt", headers: Optional[WebSocketHeaders] = None
    ) -> None:
        """WebSocket path and extra headers (a dict, or a callable given the default headers and
        called on every handshake)."""
        if headers is not None and not (isinstance(headers, dict) or callable(headers)):
            raise ValueError(
                "'headers' option to ws_set_options has to be either a dictionary or callable"
            )
        self._websocket = WebSocketSettings(path=path, headers=headers)

    def _websocket_settings(self) -> WebSocketSettings:
        """The user's WebSocket options with the credentials provider's headers on top."""
        extra = self._provider_headers
        if not extra:
            return self._websocket
        base = self._websocket.headers

        def headers(defaults: dict[str, str]) -> dict[str, str]:
            merged = dict(defaults)
            if callable(base):
                merged = dict(base(merged))
            elif base:
                merged.update(base)
            merged.update(extra)
            return merged

        return WebSocketSettings(path=self._websocket.path, headers=headers)

    def _connect_params(self) -> ConnectParams:
        host, port = self._connect_target()  # client.host, or a server it was redirected to
        proxy = None if self._transport == "unix" else discover_proxy(host, self._proxy)
        return ConnectParams(
            host=host,
            port=port,
            transport=self._transport,
            bind_address=self._bind_address,
            bind_port=self._bind_port,
            tls=self._tls,
            proxy=proxy,
            websocket=self._websocket_settings() if self._transport == "websockets" else None,
            timeout_s=self._connect_timeout,
        )

    # --- credentials -------------------------------------------------------------------------
    def require_tls_for_credentials(self, on: bool = True) -> None:
        """Strict mode: refuse to send a user name or password over a connection without TLS
        (a Unix socket counts as local and is allowed). Off by default: the client then only
        warns (once per connect) when it sends credentials in clear text to a host that is not
        the local machine. Thread: any."""
        self._strict_credentials = bool(on)

    def _check_plaintext_credentials(self) -> None:
        if self._username is None and self._password is None:
            return
        if self._tls is not None or self._transport == "unix":
            return
        if self._strict_credentials:
            raise ConnectionFailedError(
                "refusing to send credentials without TLS (require_tls_for_credentials is on): "
                "configure tls_set() or use a Unix socket"
            )
        if self._host not in ("localhost", "127.0.0.1", "::1"):
            self._warn(
                "sending the user name/password to %s without TLS: anyone on the path can read "
                "them (tls_set() encrypts; require_tls_for_credentials() refuses)",
                self._host,
            )

    def credentials_provider_set(self, provider: Optional[Callable[[], Credentials]]) -> None:
        """Fetch fresh credentials before every connect and reconnect.

        ``provider()`` runs on the thread that connects (the loop thread for automatic
        reconnects), after ``on_pre_connect``, and returns a :class:`Credentials` (or a
        ``(username, password)`` tuple). Use it for tokens that expire: Azure IoT Hub SAS tokens,
        JWTs, AWS custom-authorizer tokens. An exception it raises fails that connection attempt
        like a network error would (``on_connect_fail``, then the reconnect backoff).
        ``None`` removes the provider. Thread: any.
        """
        if provider is not None and not callable(provider):
            raise ValueError("provider must be callable")
        self._credentials_provider = provider

    def _apply_credentials(self, creds: Any) -> None:
        if isinstance(creds, tuple):
            creds = Credentials(*creds)
        if not isinstance(creds, Credentials):
            raise TypeError(
                "a credentials provider must return Credentials or (username, password)"
            )
        self._username = creds.username
        self._password = None if creds.password is None else bytes(_force_bytes(creds.password))
        headers = creds.websocket_headers
        self._provider_headers = None if headers is None else dict(headers)
