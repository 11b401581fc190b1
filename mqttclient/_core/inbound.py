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

Must not: touch sockets, threads, the clock or user callbacks. Replies are appended to the
session's ``out`` buffer only while ``replies`` is set (CONNECTED: nothing may follow our
DISCONNECT, [MQTT-3.14.4-1]); rule breaks raise ``ProtocolError`` subclasses for the session.
"""

from __future__ import annotations

from dataclasses import replace

from mqttclient import _spec
from mqttclient._core.codec import encode, encode_ack
from mqttclient._core.events import Event, MessageReceived
from mqttclient._core.packets import Props, Pubcomp, Publish, get_prop
from mqttclient._core.store import Store
from mqttclient.errors import RemoteProtocolError, TopicAliasInvalidError

__all__ = ["Inbound"]

# Inbound unacked QoS > 0 limit when no Receive Maximum applies (3.x): never reached.
_UNLIMITED = 1 << 30


class Inbound:
    """The receiving half of the session; the session holds the engine lock around every call."""

    __slots__ = (
        "_store",
        "alias_max",
        "aliases",
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
        # Delivered on this connection, awaiting ack(): packet id -> QoS it arrived with.
        self.unacked: dict[int, int] = {}

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
        self.out += encode_ack(_spec.PUBACK if qos == 1 else _spec.PUBCOMP, packet_id)
        return True
