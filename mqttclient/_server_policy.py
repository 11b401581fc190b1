"""How the client answers what an MQTT 5 server says about the connection itself.

Owns, for ``Client`` (which inherits :class:`ServerPolicyMixin`):

* **Server redirects** (MQTT 5.0 §4.11): a CONNACK refusal or a server DISCONNECT with 0x9C
  "Use another server" or 0x9D "Server moved" is always logged as a WARNING with its Server
  Reference. With ``server_redirect_set(follow=True)`` the next connection goes to the first
  usable entry of the reference (``mqttclient._io.redirect``) at once, without backoff, with the
  same transport settings. 0x9D is permanent: ``client.host``/``client.port`` change. 0x9C is
  temporary: only the next connection attempt goes there, later reconnects go back to
  ``client.host``. At most ``max_redirects`` redirects are followed in a row; the count starts
  again after a connection that ends without a redirect, one that lasted
  ``REDIRECT_STABLE_S``, or a ``connect()``.
* **Session takeover** (DISCONNECT 0x8E, [MQTT-3.1.4-3], or a pattern of closes): a
  WARNING that says another client connected with the same client id; the engine applies the
  wait (``mqttclient._io.takeover``), set with ``takeover_backoff_set()``.
* The setter of **payload format validation** (``mqttclient._core.inbound``).

Must not: open connections or touch the session without the engine lock. The hooks run on the
loop thread, without the lock, while the engine dispatches events.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from mqttclient import _spec
from mqttclient._callbacks import CallbackMixin
from mqttclient._core import events as ev
from mqttclient._core.packets import Props, get_prop
from mqttclient._core.session import Session
from mqttclient._io import loop as engine_events
from mqttclient._io.loop import Engine
from mqttclient._io.redirect import (
    SERVER_MOVED,
    USE_ANOTHER_SERVER,
    RedirectPolicy,
    ServerAddress,
    first_usable,
)
from mqttclient._io.takeover import DISCONNECT, TakeoverPolicy
from mqttclient.enums import LogLevel, MQTTProtocolVersion

__all__ = ["REDIRECT_STABLE_S", "ServerPolicyMixin"]

log = logging.getLogger("mqttclient.client")

#: A connection that lasted this long before a redirect is not part of a redirect loop.
REDIRECT_STABLE_S = 60.0

_REDIRECT_CODES = (USE_ANOTHER_SERVER, SERVER_MOVED)
_REDIRECT_NAMES = {USE_ANOTHER_SERVER: "Use another server", SERVER_MOVED: "Server moved"}


class ServerPolicyMixin(CallbackMixin):
    """Server redirects, session-takeover warnings and their setters (module docstring)."""

    # Provided by Client.
    _engine: Engine
    _session: Session
    _host: str
    _port: int
    _transport: str

    def _init_callbacks(self) -> None:
        super()._init_callbacks()
        self._redirect_policy = RedirectPolicy()
        self._redirects = 0  # redirects followed in a row
        self._redirect_once: Optional[tuple[str, int]] = None  # 0x9C: the next attempt only
        self._redirect_now = False  # the next reconnect skips the backoff

    # --- public API ---------------------------------------------------------------------------
    def server_redirect_set(self, follow: bool = True, max_redirects: int = 5) -> None:
        """Follow Server References (MQTT 5.0 §4.11) from a CONNACK or DISCONNECT with reason
        0x9C "Use another server" or 0x9D "Server moved". Off by default, as in paho: the
        redirect is then only logged.

        When on, the next connection goes to the first usable entry of the reference (forms
        ``host``, ``host:port``, ``[ipv6]``, ``[ipv6]:port``; no port keeps the current one), at
        once and with the same transport, TLS, proxy and WebSocket settings. 0x9D also changes
        ``client.host``/``client.port``; 0x9C applies to the next attempt only. More than
        ``max_redirects`` redirects in a row (a redirect loop) are not followed: the client
        logs an error and reconnects to its current server with the usual backoff.

        Raises ``ValueError`` for ``max_redirects`` < 1. Thread: any."""
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int):
            raise ValueError("max_redirects must be an int")
        if max_redirects < 1:
            raise ValueError("max_redirects must be at least 1")
        self._redirect_policy = RedirectPolicy(bool(follow), max_redirects)

    def takeover_backoff_set(
        self,
        min_delay: float = 4.0,
        max_delay: Optional[float] = None,
        closes_in_a_row: int = 3,
    ) -> None:
        """The wait before reconnecting after a session takeover (another client connected
        with the same client id): ``min_delay`` seconds, doubling with every takeover in a
        row, at most ``max_delay`` (None: the ``max_delay`` of ``reconnect_delay_set()``). The
        count starts again after a connection that lasted twice that maximum. On by default
        (4 s) for MQTT 5 DISCONNECT 0x8E "Session taken over"; ``min_delay=0`` turns it off,
        leaving the ordinary reconnect backoff. An addition to paho.

        ``closes_in_a_row`` (default 3; 0 turns it off) also treats that many closes in a row by
        the broker (end of stream, no DISCONNECT) of connections shorter than 10 s as a
        takeover: MQTT 3.1.1 brokers close the older connection without a word, and so does
        mosquitto 2.0 under MQTT 5. Other causes look the same (a broker that drops a client
        right after accepting it, for a refused publish say); backing off is right for them
        too, and the warning says "probably". A reset connection never counts.

        Raises ``ValueError`` for a negative ``min_delay`` or ``closes_in_a_row``, or a
        ``max_delay`` below ``min_delay``. Thread: any."""
        if min_delay < 0 or (max_delay is not None and max_delay < min_delay):
            raise ValueError("invalid takeover backoff")
        if isinstance(closes_in_a_row, bool) or not isinstance(closes_in_a_row, int):
            raise ValueError("closes_in_a_row must be an int")
        if closes_in_a_row < 0:
            raise ValueError("closes_in_a_row must be 0 (off) or more")
        upper = None if max_delay is None else float(max_delay)
        policy = TakeoverPolicy(float(min_delay), upper, closes_in_a_row)
        self._engine.takeover.policy = policy

    def payload_format_validation_set(self, on: bool = True) -> None:
        """MQTT 5: refuse incoming messages whose Payload Format Indicator is 1 (UTF-8) but
        whose payload is not valid UTF-8 (MQTT 5.0 §3.3.2.3.2): they do not reach
        ``on_message``; QoS 1 is answered PUBACK 0x99 "Payload format invalid", QoS 2 PUBREC
        0x99, QoS 0 is dropped; each is logged as a warning naming the topic. Off by default
        (paho passes payloads through unchanged). Takes effect from the next connection.
        Thread: any."""
        with self._engine.lock:
            self._session.config.validate_payload_format = bool(on)

    # --- hooks (loop thread, no lock held) ----------------------------------------------------
    def _connack(self, event: Any) -> None:
        if (
            type(event) is ev.ConnectionRefused
            and event.reason_code in _REDIRECT_CODES
            and self._protocol == MQTTProtocolVersion.MQTTv5
        ):
            self._server_redirect(event.reason_code, event.connack.properties, "CONNACK")
        super()._connack(event)

    def _closed(self, event: engine_events.ConnectionClosed) -> None:
        uptime = self._engine.last_uptime_s
        code = event.reason_code if event.from_server else None
        redirect = code in _REDIRECT_CODES
        if uptime is not None and (not redirect or uptime >= REDIRECT_STABLE_S):
            self._redirects = 0  # a connection that worked: not part of a redirect loop
        if code is not None and redirect:
            self._server_redirect(code, event.properties, "DISCONNECT")
        elif self._engine.takeover.cause is not None:
            self._taken_over()
        super()._closed(event)

    # --- redirects ----------------------------------------------------------------------------
    def _connect_target(self) -> tuple[str, int]:
        """Where the connection being opened goes: a pending 0x9C target (once), else
        ``client.host``/``client.port``. Called for every attempt."""
        target, self._redirect_once = self._redirect_once, None
        self._redirect_now = False
        return target if target is not None else (self._host, self._port)

    def _skip_backoff(self) -> bool:
        """True (once) when the next reconnect follows a redirect: no backoff (§4.11)."""
        now, self._redirect_now = self._redirect_now, False
        return now

    def _redirect_reset(self) -> None:
        """``connect()``/``connect_async()`` chose the server: forget pending redirects."""
        self._redirects = 0
        self._redirect_once = None
        self._redirect_now = False

    def _server_redirect(self, code: int, props: Props, where: str) -> None:
        """Log a 0x9C/0x9D and, when following is on, aim the next connection elsewhere."""
        head = f"the broker answered {where} 0x{code:02X} {_REDIRECT_NAMES[code]}"
        reference = get_prop(props, _spec.SERVER_REFERENCE)
        if reference is None:
            self._warn("%s without a Server Reference: nothing to follow", head)
            return
        head = f"{head} with Server Reference {reference!r}"
        policy = self._redirect_policy
        if not policy.follow:
            self._warn("%s: not followed (server_redirect_set(follow=True) follows it)", head)
            return
        if self._transport == "unix":
            self._warn("%s: not followed, the client connects through a Unix socket", head)
            return
        params = self._engine.params
        port = params.port if params is not None else self._port
        target = first_usable(reference, port)
        if target is None:
            self._warn("%s: not followed, no entry of the form host[:port] or [ipv6][:port]", head)
            return
        shown = ServerAddress(*target).display(port)
        if self._redirects >= policy.max_redirects:
            self._error(
                "%s: not followed, %d redirects in a row (max_redirects=%d) look like a redirect "
                "loop; reconnecting to %s with the usual backoff",
                head,
                self._redirects,
                policy.max_redirects,
                ServerAddress(self._host).display(self._port),
            )
            return
        self._redirects += 1
        if code == SERVER_MOVED:
            # Permanent: every later connection goes there too. Set directly: the setters
            # refuse while the (closing) connection is still registered.
            self._host, self._port = target
            self._redirect_once = None
            scope = "client.host and client.port now name it"
        else:
            self._redirect_once = target  # temporary: the next attempt only
            scope = "this once; later reconnects go to client.host again"
        self._redirect_now = True
        self._warn(
            "%s: following it, the next connection goes to %s at once (%s; redirect %d of at "
            "most %d in a row)",
            head,
            shown,
            scope,
            self._redirects,
            policy.max_redirects,
        )

    def _error(self, fmt: str, *args: Any) -> None:
        """An error for the user, through on_log / enable_logger when set, else the log."""
        if self.on_log is None and self._logger is None:
            log.error(fmt, *args)
        else:
            self._easy_log(LogLevel.MQTT_LOG_ERR, fmt, *args)

    # --- session takeover ---------------------------------------------------------------------
    def _taken_over(self) -> None:
        takeover = self._engine.takeover
        wait = takeover.pending_s
        if wait:
            then = f"The next automatic reconnect waits at least {wait:g} s (doubling while "
            then += "this repeats)."
        else:
            then = "No extra reconnect wait (takeover_backoff_set(min_delay=0))."
        if takeover.cause == DISCONNECT:
            what = "another client connected with the same client id %r: the broker ended this "
            what += "connection with DISCONNECT 0x8E Session taken over (%d in a row)."
            args: tuple[Any, ...] = (self._session.client_id, takeover.count)
        else:
            what = "the broker closed the connection soon after accepting it, %d times in a "
            what += "row: probably another client connected with the same client id %r."
            args = (takeover.closes, self._session.client_id)
        self._warn(
            "%s Two clients sharing a client id disconnect each other in turn; give each its "
            "own id. %s",
            what % args,
            then,
        )
