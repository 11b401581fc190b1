"""The connection handshake: the CONNECT we send, the AUTH exchange, and the CONNACK.

Owns, for ``Session`` (which inherits :class:`HandshakeMixin`): building the CONNECT of each
connection (Clean Start, with paho's FIRST_ONLY; the properties, with an authenticator's method
and data from ``authexchange.py``); resetting outgoing topic aliases for a new connection; the
rule that the server's first packet is CONNACK, or AUTH during an enhanced-authentication
exchange (MQTT 5.0 §4.12); and the CONNACK: refusal (``limits.py``), the limits it sets (Receive
Maximum, Maximum Packet Size, Topic Alias Maximum, Server Keep Alive, an Assigned Client
Identifier) and what it starts — keepalive, resubscribing, releasing packets held during the
exchange, replaying in-flight messages. Also re-authentication (§4.12.1), which reuses the
exchange.

Must not: touch sockets, threads, the clock or user callbacks; hold state of its own (every
attribute is the session's, declared in ``session.py``); drive the lifecycle
(``Session.connection_opened`` resets the connection's state, then calls ``_open_aliases`` and
``_connect_packet`` here; ``Session.receive`` calls ``_before_connack`` until the CONNACK).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from mqttclient import _spec
from mqttclient._core.aliases import OutgoingAliases
from mqttclient._core.authexchange import AuthExchange
from mqttclient._core.codec import encode
from mqttclient._core.config import FIRST_ONLY, OPEN_STATES, SessionConfig, SessionState
from mqttclient._core.events import ConnectionAccepted, ConnectionRefused, Event
from mqttclient._core.inbound import Inbound
from mqttclient._core.keepalive import Keepalive
from mqttclient._core.limits import (
    ServerLimits,
    connack_refusal,
    restricts_publish,
    server_limits,
)
from mqttclient._core.outbox import Outbox
from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Packet,
    Props,
    Subscription,
    get_prop,
)
from mqttclient._core.receiving import packet_name
from mqttclient.errors import InvalidStateError, RemoteProtocolError

__all__ = ["HandshakeMixin"]

CONNECTING = SessionState.CONNECTING
CONNECTED = SessionState.CONNECTED
_OPEN = OPEN_STATES


class HandshakeMixin:
    """CONNECT, AUTH and CONNACK for ``Session``; every method runs under the engine's lock."""

    if not TYPE_CHECKING:  # mypy would refuse the session's attributes in empty slots
        __slots__ = ()  # methods only: Session declares every slot

    # Provided by Session.
    config: SessionConfig
    out: bytearray
    server_limits: ServerLimits
    _alias_map: Optional[OutgoingAliases]
    _auth: AuthExchange
    _auth_method: Optional[str]
    _clean: bool
    _connacked: bool
    _first_done: bool
    _held: bytearray
    _inbound: Inbound
    _ka: Keepalive
    _max_out: Optional[int]
    _outbox: Outbox
    _quiet: bool
    _restricted: bool
    _state: int
    _subs: dict[str, tuple[Subscription, Props]]
    _version: int

    if TYPE_CHECKING:

        def _close(self) -> None: ...
        def _pump(self, events: list[Event], now: float) -> None: ...
        def _record_session(self) -> None: ...
        def _resubscribe(self) -> None: ...

    def reset_first_connect(self) -> None:
        """The user called ``connect()``: with clean start FIRST_ONLY the next CONNECT is clean
        again, until a CONNACK 0 arrives."""
        self._first_done = False

    def _connect_packet(self, props: Props) -> Connect:
        """The CONNECT for the connection ``connection_opened`` opens, with ``props`` (the
        authenticator's method and data included). Notes the Clean Start and Request Problem
        Information it carries, which the CONNACK and later packets are checked against."""
        cfg = self.config
        version = self._version
        clean = cfg.clean_start
        if clean == FIRST_ONLY and version == 5:
            clean = not self._first_done
        self._clean = bool(clean)
        # Request Problem Information 0: Reason Strings / User Properties only where allowed.
        self._quiet = get_prop(props, _spec.REQUEST_PROBLEM_INFORMATION) == 0
        return Connect(
            cfg.client_id,
            version,
            bool(clean),
            cfg.keepalive_s,
            cfg.username,
            cfg.password,
            cfg.will,
            props,
            cfg.bridge,
        )

    def _open_aliases(self, auto: int) -> None:
        """A new connection: outgoing aliases start empty [MQTT-3.3.2-7] and none is used
        before the CONNACK tells the server's maximum [MQTT-3.2.2-18]."""
        aliases = self._alias_map
        if aliases is None and auto:
            aliases = self._alias_map = OutgoingAliases(auto)
        if aliases is not None:
            aliases.connection_opened(auto)
            self._outbox.aliases = aliases if aliases.active else None

    def _before_connack(self, packet: Packet, events: list[Event], now: float) -> None:
        cls = type(packet)
        if cls is Connack:
            assert isinstance(packet, Connack)
            self._on_connack(packet, events, now)
        elif cls is Auth and self._auth_method is not None:
            assert isinstance(packet, Auth)
            self._on_auth(packet, events, now)
        else:
            # v3 [MQTT-3.2.0-1] / v5 [MQTT-3.2.0-1]: the server's first packet is CONNACK.
            raise RemoteProtocolError(f"protocol error: {packet_name(packet)} before CONNACK")

    def _on_connack(self, packet: Connack, events: list[Event], now: float) -> None:
        if self._connacked:
            raise RemoteProtocolError("protocol error: second CONNACK [MQTT-3.2.0-2]")
        refusal = connack_refusal(packet, self._version)
        if refusal:
            self._close()
            events.append(ConnectionRefused(packet, refusal))
            return
        self._connacked = True  # from here a violation is answered with DISCONNECT (5.0)
        if packet.session_present and self._clean and self._version == 5:
            # v5 [MQTT-3.2.2-4]: we hold no session state for it to be present.
            raise RemoteProtocolError("protocol error: Session Present 1 after Clean Start 1")
        cfg = self.config
        interval = cfg.keepalive_s
        if self._version == 5:
            limits = self.server_limits = server_limits(packet.properties, self._auth_method)
            self._auth.on_connack(packet.properties)  # the authenticator checks the server
            self._max_out = limits.maximum_packet_size
            self._restricted = restricts_publish(limits)
            aliases = self._alias_map
            if aliases is not None:
                aliases.connacked(limits.topic_alias_maximum)  # [MQTT-3.2.2-17]
                self._outbox.aliases = aliases if aliases.active else None
            self._outbox.set_receive_maximum(limits.receive_maximum)  # [MQTT-3.3.4-7], §4.9
            if limits.server_keep_alive is not None:
                interval = limits.server_keep_alive  # [MQTT-3.2.2-21]: it replaces ours
            assigned = get_prop(packet.properties, _spec.ASSIGNED_CLIENT_IDENTIFIER)
            if assigned is not None:
                cfg.client_id = assigned  # [MQTT-3.2.2-16]: reuse it on reconnect
                self._record_session()  # ... also after a restart
        self._first_done = True
        if not packet.session_present:
            self._inbound.session_lost()
        self._ka.connected(now, interval)
        events.append(ConnectionAccepted(packet))
        if self._state == CONNECTING:  # not if disconnect() was called meanwhile
            self._state = CONNECTED
            self._inbound.replies = True
            if not packet.session_present and cfg.resubscribe and self._subs:
                self._resubscribe()
            if self._held:  # SUBSCRIBE/UNSUBSCRIBE held during the AUTH exchange
                self.out += self._held
                self._held.clear()
            if self._restricted:
                # Accepted while the limits were unknown: never sent if they forbid them.
                events += self._outbox.drop_forbidden(self.server_limits)
            # Replay (in order, within the window) before new messages, whatever Session
            # Present says (paho parity, module docstring); [MQTT-4.4.0-1], [MQTT-4.6.0-1].
            self._pump(events, now)

    def _on_auth(self, packet: Auth, events: list[Event], now: float) -> None:
        """Enhanced authentication (MQTT 5.0 §4.12): ``AuthExchange.on_auth`` checks the AUTH
        ([MQTT-4.12.0-5], [MQTT-4.12.0-6]) and the authenticator answers AUTH 0x18 with AUTH
        0x18 [MQTT-4.12.0-3]. What it raises (RemoteProtocolError 0x82, AuthenticationError
        0x80) ends the connection through ``_violation``."""
        reply = self._auth.on_auth(packet)
        if reply is not None and self._state in _OPEN:  # nothing after our DISCONNECT
            self.out += encode(reply, 5)

    def _on_auth_packet(self, packet: Auth, events: list[Event], now: float) -> None:
        self._on_auth(packet, events, now)  # re-authentication (5.0 §4.12.1), same hook

    def reauthenticate(self, now: float) -> bool:
        """(5.0) Queue AUTH 0x19 Re-authenticate with the connection's Authentication Method
        and the authenticator's new initial data [MQTT-4.12.1-1]; the server answers AUTH 0x18
        (handled like the first exchange) and AUTH 0x00 on success, or DISCONNECT. Other
        traffic goes on meanwhile (§4.12.1). Returns False (nothing sent) while an exchange is
        already in progress.

        Raises:
            InvalidStateError: not CONNECTED, or the connection was not made with an
                authenticator (``SessionConfig.authenticator``).
            AuthenticationError: the authenticator's ``start()`` failed; nothing was sent.
        """
        if self._state != CONNECTED:
            raise InvalidStateError("cannot re-authenticate: not connected")
        packet = self._auth.reauthenticate()
        if packet is None:
            return False
        self.out += encode(packet, 5)
        self._ka.last_send = now
        return True
