"""Packets the server sends on an established connection, and protocol violations.

Owns, for ``Session`` (which inherits :class:`ReceivingMixin`): the handlers of PUBACK, PUBREC,
PUBCOMP (the outbox's QoS 1/2 flows), PUBREL (the inbound QoS 2 flow), PINGRESP and the MQTT 5.0
server DISCONNECT; refusing packets that travel client → server only; the check that a server
sends no Reason String or User Property after Request Problem Information 0 [MQTT-3.1.2-29];
and answering a protocol violation (§4.13: DISCONNECT with the reason code under 5.0, then
close). ``Session.receive`` decodes and dispatches to these handlers through its ``_HANDLERS``
table; the handshake (``handshake.py``) and subscriptions (``subscribing.py``) have theirs.

Must not: touch sockets, threads, the clock or user callbacks; hold state of its own (every
attribute is the session's, declared in ``session.py``). Handlers append events to the list
they are given and raise ``ProtocolError`` for a violation; they never call back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mqttclient import _spec
from mqttclient._core.codec import encode
from mqttclient._core.config import SessionState
from mqttclient._core.events import Event, ProtocolViolation, ServerDisconnected
from mqttclient._core.inbound import Inbound
from mqttclient._core.outbox import Outbox
from mqttclient._core.packets import (
    Auth,
    Connack,
    Disconnect,
    Packet,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
)
from mqttclient.errors import AuthenticationError, ProtocolError, RemoteProtocolError

__all__ = ["DIAGNOSTICS", "ReceivingMixin", "check_problem_information", "describe", "packet_name"]

# The session's logger, not __name__: these warnings have always been logged under its name.
logger = logging.getLogger("mqttclient._core.session")

CONNECTED = SessionState.CONNECTED
DISCONNECTING = SessionState.DISCONNECTING


class ReceivingMixin:
    """Incoming-packet handlers for ``Session``; every method runs under the engine's lock."""

    if not TYPE_CHECKING:  # mypy would refuse the session's attributes in empty slots
        __slots__ = ()  # methods only: Session declares every slot

    # Provided by Session.
    out: bytearray
    _connacked: bool
    _inbound: Inbound
    _outbox: Outbox
    _state: int
    _version: int

    if TYPE_CHECKING:

        def _close(self) -> None: ...

    def _on_pubrel(self, packet: Pubrel, events: list[Event], now: float) -> None:
        self._inbound.pubrel(packet.packet_id, events)

    def _on_puback(self, packet: Puback, events: list[Event], now: float) -> None:
        done = self._outbox.puback(packet)
        if done is not None:
            events.append(done)

    def _on_pubrec(self, packet: Pubrec, events: list[Event], now: float) -> None:
        # After our DISCONNECT no PUBREL may be sent [MQTT-3.14.4-1]; the flow then resumes on
        # the next connection (the message is replayed as PUBLISH with DUP=1).
        done = self._outbox.pubrec(packet, self.out if self._state == CONNECTED else None)
        if done is not None:
            events.append(done)

    def _on_pubcomp(self, packet: Pubcomp, events: list[Event], now: float) -> None:
        done = self._outbox.pubcomp(packet)
        if done is not None:
            events.append(done)

    def _on_pingresp(self, packet: Pingresp, events: list[Event], now: float) -> None:
        pass  # receive() already cleared the outstanding ping: any packet answers it

    def _on_disconnect(self, packet: Disconnect, events: list[Event], now: float) -> None:
        if self._version != 5:
            # v3 [MQTT-4.8.0-1]: DISCONNECT is client-to-server only.
            raise RemoteProtocolError("protocol error: DISCONNECT from the server under MQTT 3.x")
        self._close()
        events.append(ServerDisconnected(packet.reason_code, packet.properties))

    def _unexpected(self, packet: Packet, events: list[Event], now: float) -> None:
        # CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ travel client → server only (rules §1.1).
        raise RemoteProtocolError(f"protocol error: {packet_name(packet)} sent by the server")

    # --- errors -------------------------------------------------------------------------------
    def _violation(self, error: ProtocolError, events: list[Event]) -> None:
        """MQTT 5.0 §4.13: DISCONNECT with the most specific reason code, then close; 3.x
        [MQTT-4.8.0-1]: just close. Before CONNACK nothing is sent, except when enhanced
        authentication failed: DISCONNECT may then go out before CONNACK [MQTT-3.1.2-30]."""
        auth_failed = isinstance(error, AuthenticationError)
        if auth_failed:
            logger.warning(
                "enhanced authentication failed: %s (DISCONNECT 0x%02X)", error, error.reason_code
            )
        else:
            logger.warning(
                "protocol violation by the server: %s (0x%02X)", error, error.reason_code
            )
        if self._version == 5 and (self._connacked or auth_failed) and self._state != DISCONNECTING:
            self.out += encode(Disconnect(error.reason_code), 5)
        self._close()
        events.append(ProtocolViolation(error))


DIAGNOSTICS = (_spec.REASON_STRING, _spec.USER_PROPERTY)


def check_problem_information(packet: Packet) -> None:
    """v5 [MQTT-3.1.2-29]: after Request Problem Information 0 the server may send a Reason
    String or User Property only on PUBLISH, CONNACK and DISCONNECT."""
    if type(packet) is Disconnect:
        return
    for ident, _ in getattr(packet, "properties", ()):
        if ident in DIAGNOSTICS:
            raise RemoteProtocolError(
                f"protocol error: {packet_name(packet)} with a Reason String or User Property after "
                "Request Problem Information 0"
            )


def describe(packet: Packet) -> str:
    """A DEBUG line for ``packet``: no payloads, no authentication data."""
    if type(packet) is Publish:
        assert isinstance(packet, Publish)
        return (
            f"PUBLISH topic={packet.topic!r} qos={packet.qos} retain={packet.retain} "
            f"dup={packet.dup} id={packet.packet_id} ({len(packet.payload)} bytes)"
        )
    if isinstance(packet, (Connack, Auth)):
        return f"{packet_name(packet)} code=0x{packet.reason_code:02X}"
    return repr(packet)


def packet_name(packet: Packet) -> str:
    """The packet type as the spec writes it (``PUBACK``), for messages and logs."""
    return type(packet).__name__.upper()
