"""Incoming application messages: topic aliases, QoS 1/2 receiver flows and our receive limit.

Owns: (5.0) the inbound topic-alias map of a connection and our Topic Alias Maximum; the QoS 2
messages stored between PUBLISH and PUBREL (session state, kept across connections while the
server keeps the session); the server packet ids delivered and awaiting our PUBACK/PUBCOMP on the
current connection; our Receive Maximum (MQTT 5.0 §3.3.4). QoS 2 uses "Method A" (v3 §4.3.3,
Figure 4.3): store on PUBLISH, deliver on PUBREL, as paho does. Every QoS 2 message is written
through to the session's ``Store`` from its PUBLISH until its PUBCOMP is queued (or its
connection is gone), so a crash between delivery and PUBCOMP delivers it again after a restart
(at least once to the application, never lost); the store is committed before the PUBREC or
PUBCOMP is written (``store.py``).

(5.0, opt-in with ``check_payload_format``) A PUBLISH whose Payload Format Indicator is 1 but
whose payload is not well-formed UTF-8 (§3.3.2.3.2, [MQTT-3.3.2-4]) is refused: not delivered,
QoS 1 answered PUBACK 0x99, QoS 2 PUBREC 0x99 (which ends its flow, [MQTT-4.3.3-9]), QoS 0
dropped. A refused QoS 1 message waits in ``unacked`` like a delivered one, so its PUBACK goes
out in arrival order after the PUBACKs of the messages delivered before it ([MQTT-4.6.0-2]).

Must not: touch sockets, threads, the clock or user callbacks. Replies are appended to the
session's ``out`` buffer only while ``replies`` is set (CONNECTED: nothing may follow our
DISCONNECT, [MQTT-3.14.4-1]); rule breaks raise ``ProtocolError`` subclasses for the session.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from mqttclient import _spec
from mqttclient._core.codec import encode, encode_ack
from mqttclient._core.events import Event, MessageReceived
from mqttclient._core.packets import Props, Puback, Pubcomp, Publish, Pubrec, get_prop
from mqttclient._core.store import Store
from mqttclient.errors import RemoteProtocolError, TopicAliasInvalidError

__all__ = ["Inbound"]

# Inbound unacked QoS > 0 limit when no Receive Maximum applies (3.x): never reached.
_UNLIMITED = 1 << 30
# ``Inbound.unacked`` value of a QoS 1 message refused for its payload format: its PUBACK 0x99
# waits for the acks of the messages that arrived before it.
_REFUSED = -1
# Reason code 0x99 Payload format invalid (MQTT 5.0 §3.4.2.1, §3.5.2.1).
_PAYLOAD_FORMAT_INVALID = 0x99

logger = logging.getLogger(__name__)


class Inbound:
    """The receiving half of the session; the session holds the engine lock around every call."""

    __slots__ = (
        "_store",
        "alias_max",
        "aliases",
        "check_payload_format",
        "held",
        "out",
        "receive_max",
        "replies",
        "stored",
        "unacked",
        "v5",
    )

    def __init__(self, out: bytearray, store: Store) -> None:
        self._store = store
        self.out = out  # the session's outgoing buffer (the same object for its whole life)
        self.replies = False  # PUBREC/PUBACK/PUBCOMP may be queued (state CONNECTED)
        self.v5 = False
        self.aliases: dict[int, str] = {}
        self.alias_max = 0  # our Topic Alias Maximum (CONNECT property; absent = 0)
        self.receive_max = _UNLIMITED  # our Receive Maximum (5.0; absent = 65,535)
        # QoS 2 messages whose PUBREC was sent, awaiting PUBREL: packet id -> PUBLISH.
        self.stored: dict[int, Publish] = {}
        # Delivered on this connection, awaiting ack(): packet id -> QoS it arrived with
        # (_REFUSED: a refused QoS 1 message whose PUBACK 0x99 waits its turn).
        self.unacked: dict[int, int] = {}
        # (5.0) Refuse PUBLISHes whose Payload Format Indicator 1 covers a payload that is not
        # UTF-8; the session sets it from its config on every connection. ``held``: how many
        # _REFUSED entries ``unacked`` holds (0 keeps ack() on its plain path).
        self.check_payload_format = False
        self.held = 0

    def connection_opened(self, version: int, connect_properties: Props) -> None:
        """A new connection: aliases and pending acks belong to the old one [MQTT-3.3.2-7]."""
        self.v5 = version == 5
        self.replies = False
        self.aliases.clear()
        # QoS 2 messages delivered on the old connection but never acknowledged: the server
        # re-sends their PUBREL and gets a PUBCOMP; they must not be delivered a second time.
        for packet_id, qos in self.unacked.items():
            if qos == 2:
                self._store.remove_incoming(packet_id)
        self.unacked.clear()
        self.held = 0
        if self.v5:
            self.alias_max = get_prop(connect_properties, _spec.TOPIC_ALIAS_MAXIMUM, 0)
            self.receive_max = get_prop(connect_properties, _spec.RECEIVE_MAXIMUM, 65535)
        else:
            self.alias_max = 0
            self.receive_max = _UNLIMITED

    def session_lost(self) -> None:
        """CONNACK Session Present 0: the server forgot the session, so no PUBREL will come for
        stored QoS 2 messages (v5 [MQTT-3.2.2-5])."""
        self.stored.clear()
        self._store.clear_incoming()

    def publish(self, packet: Publish, events: list[Event]) -> None:
        """An incoming PUBLISH (after CONNACK)."""
        if not packet.topic or (packet.properties and self.v5):
            packet = self._resolve_topic(packet)
            # Only a PUBLISH with properties can carry a Payload Format Indicator: the check
            # costs nothing for the others, and one flag test when it is off.
            if self.check_payload_format and not _payload_format_valid(packet):
                self._refuse(packet)
                return
        qos = packet.qos
        if qos == 0:
            events.append(MessageReceived(packet))
            return
        packet_id = packet.packet_id
        stored = self.stored
        if qos == 2 and packet_id in stored:
            # A repeat while stored is answered again and never delivered twice
            # (v3 [MQTT-4.3.3-2] / v5 [MQTT-4.3.3-10]). The repeat replaces the stored copy, so
            # the message delivered on PUBREL says DUP=1 (as paho's does).
            stored[packet_id] = packet
            self._store.add_incoming(packet)
            if self.replies:
                self.out += encode_ack(_spec.PUBREC, packet_id)
            return
        unacked = self.unacked
        if len(unacked) + len(stored) >= self.receive_max and packet_id not in unacked:
            # [MQTT-3.3.4-9]: the server exceeded our Receive Maximum.
            raise RemoteProtocolError("protocol error: Receive Maximum exceeded", 0x93)
        if qos == 1:
            unacked[packet_id] = 1
            events.append(MessageReceived(packet))
            return
        stored[packet_id] = packet
        self._store.add_incoming(packet)  # committed before the PUBREC is written
        if self.replies:
            self.out += encode_ack(_spec.PUBREC, packet_id)

    def _refuse(self, packet: Publish) -> None:
        """Refuse a PUBLISH whose payload breaks its Payload Format Indicator (§3.3.2.3.2):
        never delivered; QoS 0 dropped, QoS 1 PUBACK 0x99 (in arrival order), QoS 2 PUBREC 0x99
        at once (PUBRECs are sent on arrival, so that is their order too, [MQTT-4.6.0-3])."""
        qos = packet.qos
        packet_id = packet.packet_id
        logger.warning(
            "refused a PUBLISH to %r (QoS %d, packet id %d): Payload Format Indicator 1 but the "
            "payload (%d bytes) is not valid UTF-8; %s",
            packet.topic,
            qos,
            packet_id,
            len(packet.payload),
            "dropped" if qos == 0 else f"answered {'PUBACK' if qos == 1 else 'PUBREC'} 0x99",
        )
        if qos == 0:
            return
        stored = self.stored
        unacked = self.unacked
        if qos == 2 and packet_id in stored:
            # A repeat of a message accepted before (a server changing the payload of a
            # repeat is broken): the first answer stands [MQTT-4.3.3-10].
            if self.replies:
                self.out += encode_ack(_spec.PUBREC, packet_id)
            return
        if packet_id in unacked:
            return  # already answered or waiting for its answer on this connection
        if len(unacked) + len(stored) >= self.receive_max:
            # [MQTT-3.3.4-9]: the server exceeded our Receive Maximum, refused or not.
            raise RemoteProtocolError("protocol error: Receive Maximum exceeded", 0x93)
        if qos == 2:
            # PUBREC >= 0x80 ends the flow: the next PUBLISH with this id is new
            # [MQTT-4.3.3-9], and a PUBREL for it gets PUBCOMP 0x92.
            if self.replies:
                self.out += encode(Pubrec(packet_id, _PAYLOAD_FORMAT_INVALID), 5)
            return
        unacked[packet_id] = _REFUSED
        self.held += 1
        self._release_refused()

    def _release_refused(self) -> None:
        """Send PUBACK 0x99 for the refused QoS 1 messages at the front of ``unacked``: every
        message that arrived before them is acknowledged ([MQTT-4.6.0-2])."""
        unacked = self.unacked
        while unacked:
            packet_id = next(iter(unacked))
            if unacked[packet_id] != _REFUSED:
                return
            del unacked[packet_id]
            self.held -= 1
            if self.replies:
                self.out += encode(Puback(packet_id, _PAYLOAD_FORMAT_INVALID), 5)

    def _resolve_topic(self, packet: Publish) -> Publish:
        """Inbound Topic Alias (MQTT 5.0 §3.3.2.3.4, §3.3.4); empty topic rules (§3.3.2.1)."""
        alias = get_prop(packet.properties, _spec.TOPIC_ALIAS) if self.v5 else None
        if alias is None:
            if not packet.topic:
                raise RemoteProtocolError("protocol error: PUBLISH with an empty topic, no alias")
            return packet
        if alias == 0 or alias > self.alias_max:
            raise TopicAliasInvalidError(
                f"topic alias invalid: {alias} is outside 1..{self.alias_max}"
            )
        if packet.topic:
            self.aliases[alias] = packet.topic  # establish or remap
            return packet
        topic = self.aliases.get(alias)
        if topic is None:
            raise RemoteProtocolError(f"protocol error: empty topic with unknown alias {alias}")
        return replace(packet, topic=topic)

    def pubrel(self, packet_id: int, events: list[Event]) -> None:
        """PUBREL: deliver the stored message; ack() sends the PUBCOMP once the user's callback
        returned. Unknown id: PUBCOMP at once [MQTT-4.3.3-11] (5.0: 0x92 Packet Identifier not
        found). Already delivered and awaiting ack(): that PUBCOMP answers this repeat too."""
        message = self.stored.pop(packet_id, None)
        if message is not None:
            self.unacked[packet_id] = 2
            events.append(MessageReceived(message))
        elif packet_id not in self.unacked and self.replies:
            self.out += encode(Pubcomp(packet_id, 0x92), 5 if self.v5 else 4)

    def ack(self, packet_id: int) -> bool:
        """Queue PUBACK or PUBCOMP (by the QoS the message arrived with) for a message delivered
        on this connection; acks go out in call order ([MQTT-4.6.0-2]). Returns True if one was
        queued. Unknown ids are ignored: their connection is gone and the server re-sends the
        PUBLISH or PUBREL on the next one."""
        qos = self.unacked.pop(packet_id, None)
        if qos == 2:
            self._store.remove_incoming(packet_id)  # committed before the PUBCOMP is written
        if qos is None or not self.replies:
            return False
        if self.held:
            return self._ack_before_refused(packet_id, qos)
        self.out += encode_ack(_spec.PUBACK if qos == 1 else _spec.PUBCOMP, packet_id)
        return True

    def _ack_before_refused(self, packet_id: int, qos: int) -> bool:
        """ack() while refused QoS 1 messages wait: this ack, then every PUBACK 0x99 it
        unblocks. An ack() for a refused message itself sends its PUBACK 0x99."""
        if qos == _REFUSED:
            self.held -= 1
            self.out += encode(Puback(packet_id, _PAYLOAD_FORMAT_INVALID), 5)
        else:
            self.out += encode_ack(_spec.PUBACK if qos == 1 else _spec.PUBCOMP, packet_id)
        self._release_refused()
        return True


def _payload_format_valid(packet: Publish) -> bool:
    """False when the Payload Format Indicator is 1 (UTF-8 Encoded Character Data,
    §3.3.2.3.2) and the payload is not well-formed UTF-8 (RFC 3629: no overlong forms, no
    surrogates; Python's strict decoder checks exactly that)."""
    if get_prop(packet.properties, _spec.PAYLOAD_FORMAT_INDICATOR) != 1:
        return True
    try:
        packet.payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
