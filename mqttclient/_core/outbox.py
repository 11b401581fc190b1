"""Outgoing QoS 1/2 messages: packet-id allocation, the send window, the queue and replay.

Owns: the mid counter shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE (MQTT §2.2.1: one id pool per
direction); the record of every packet id in use by this client; the QoS 1/2 message objects from
acceptance to completion; the in-flight window (the lower of the user's ``max_inflight`` and the
server's Receive Maximum, MQTT 5.0 §4.9); the queue of messages waiting for the window or a
connection; putting in-flight messages back in front of the queue when a connection is lost, and
re-sending them (PUBLISH with DUP=1 or PUBREL) before new messages on the next one; QoS 0
messages queued while offline (when the session asks for it); MQTT 5.0 Message Expiry while
queued; write-through of every change to a message's state into the session's ``Store``
(``store.py``), and rebuilding the queue from a store after a restart. Every PUBLISH it encodes
goes through the session's outgoing topic aliases (``aliases.py``) when ``aliases`` is set.

Must not: touch sockets, threads, the clock or user callbacks (time comes in as ``now``);
decide connection state (the session tells it when sending is allowed); commit the store (the
session decides when). It appends encoded packets to the session's ``out``
buffer and returns events; it never calls back.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Optional

from mqttclient import _spec
from mqttclient._core.aliases import OutgoingAliases
from mqttclient._core.codec import encode, encode_ack, encode_publish
from mqttclient._core.events import Event, PublishCompleted, PublishDropped
from mqttclient._core.limits import ServerLimits, publish_refusal
from mqttclient._core.packets import Props, Puback, Pubcomp, Pubrec, Pubrel, get_prop
from mqttclient._core.store import Store, StoredMessage
from mqttclient.errors import PayloadTooLargeError

__all__ = [
    "AWAIT_PUBACK",
    "AWAIT_PUBCOMP",
    "AWAIT_PUBREC",
    "QUEUED",
    "OutMessage",
    "Outbox",
    "too_large",
]

logger = logging.getLogger(__name__)

MAX_PACKET_ID = 65535

# Message states. In the queue, a state other than QUEUED marks a message to replay: PUBLISH with
# DUP=1 for AWAIT_PUBACK / AWAIT_PUBREC, PUBREL for AWAIT_PUBCOMP.
QUEUED = 0  # accepted, never sent
AWAIT_PUBACK = 1  # QoS 1 PUBLISH sent
AWAIT_PUBREC = 2  # QoS 2 PUBLISH sent
AWAIT_PUBCOMP = 3  # QoS 2 PUBREC received, PUBREL sent


class OutMessage:
    """One outgoing QoS 1/2 application message, from acceptance until its final ack.

    Created for every message ``publish()`` accepts and held until it completes, so it is kept
    small (memory per message queued offline, docs/performance.rst): a message with a Message
    Expiry Interval is an :class:`ExpiringMessage`, and ``dup`` is derived from ``packet_id``.
    """

    __slots__ = (
        "counted",
        "inflight",
        "mid",
        "packet_id",
        "payload",
        "properties",
        "qos",
        "retain",
        "seq",
        "state",
        "token",
        "topic",
    )

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Props,
        token: Any,
        mid: int,
        seq: int,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.token = token
        self.mid = mid  # user-visible id, fixed at acceptance
        self.seq = seq  # acceptance order, for replay ordering
        self.packet_id = 0  # wire id; 0 until first sent, then kept for every re-send
        self.state = QUEUED
        self.inflight = False  # sent on the current connection and awaiting an ack
        self.counted = False  # occupies a window slot on the current connection

    # MQTT 5.0 Message Expiry of a message not sent yet: monotonic and wall-clock deadlines;
    # 0.0 (none) here, set by ExpiringMessage. The wall-clock one is what a store keeps across
    # restarts.
    expires_at = 0.0
    expiry_wall = 0.0

    @property
    def dup(self) -> bool:
        """DUP flag for the next PUBLISH of this message: set once it was sent with a packet id
        (any later PUBLISH of it is a re-send [MQTT-3.3.1-1]; a packet id is never unset)."""
        return self.packet_id != 0

    def __repr__(self) -> str:
        return (
            f"OutMessage(seq={self.seq}, mid={self.mid}, packet_id={self.packet_id}, "
            f"qos={self.qos}, state={self.state}, topic={self.topic!r})"
        )


class ExpiringMessage(OutMessage):
    """An ``OutMessage`` with a Message Expiry Interval (MQTT 5.0 §3.3.2.3.3)."""

    __slots__ = ("expires_at", "expiry_wall")

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Props,
        token: Any,
        mid: int,
        seq: int,
        expires_at: float,
        expiry_wall: float,
    ) -> None:
        super().__init__(topic, payload, qos, retain, properties, token, mid, seq)
        self.expires_at = expires_at
        self.expiry_wall = expiry_wall


class Outbox:
    """The outgoing half of the session. The session holds the engine lock around every call."""

    __slots__ = (
        "_add",
        "_remove",
        "_store",
        "_update",
        "aliases",
        "held_bytes",
        "ids",
        "last_mid",
        "last_seq",
        "max_inflight",
        "pending",
        "q0_sent",
        "queue",
        "unfinished",
        "used",
        "version",
        "window",
    )

    def __init__(self, max_inflight: int, version: int, store: Store) -> None:
        self._store = store
        # Bound once: the write-through calls are on the hot path.
        self._add = store.add_message
        self._update = store.update_message
        self._remove = store.remove_message
        self.version = version
        self.max_inflight = max_inflight
        self.window = max_inflight if max_inflight > 0 else MAX_PACKET_ID
        self.used = 0  # window slots taken by QoS 1/2 PUBLISHes sent on this connection
        self.last_mid = 0
        # Packet id -> message, for every message holding a wire id: in flight, or waiting in
        # the queue to be replayed. Those ids are in use (MQTT §2.2.1) and never handed out.
        self.ids: dict[int, OutMessage] = {}
        # SUBSCRIBE / UNSUBSCRIBE awaiting SUBACK / UNSUBACK: packet id -> (packet type, the
        # Subscription values or topic filters, the packet's properties).
        self.pending: dict[int, tuple[int, tuple[Any, ...], Props]] = {}
        self.queue: deque[OutMessage] = deque()
        # Messages accepted and not yet completed or dropped (QoS 1/2, and QoS 0 queued while
        # offline), and the sum of their payload sizes (the offline bounds).
        self.unfinished = 0
        self.held_bytes = 0
        # QoS 0 PUBLISHes pump() appended to ``out``: (end offset in ``out``, token, mid). The
        # session takes them to report completion once the bytes are written.
        self.q0_sent: list[tuple[int, Any, int]] = []
        self.last_seq = 0  # the last stable sequence number handed out (OutMessage.seq)
        # (5.0) Outgoing topic aliases, set by the session while this connection may use them.
        self.aliases: Optional[OutgoingAliases] = None

    # --- ids ----------------------------------------------------------------------------------
    def next_mid(self) -> int:
        """Advance the shared counter (1..65535, wrapping to 1), skipping ids in use
        (v3 [MQTT-2.3.1-2] / v5 [MQTT-2.2.1-3]). If every id is in use the counter value is
        returned anyway: a mid for a queued message is only a label until it is sent."""
        mid = self.last_mid + 1
        if mid > MAX_PACKET_ID:
            mid = 1
        if mid in self.ids or mid in self.pending:
            mid = self._skip(mid) or mid
        self.last_mid = mid
        return mid

    def free_id(self) -> int:
        """Advance the counter to an id not in use and return it; 0 if all 65,535 are taken."""
        mid = self.last_mid + 1
        if mid > MAX_PACKET_ID:
            mid = 1
        if mid in self.ids or mid in self.pending:
            mid = self._skip(mid)
            if not mid:
                return 0
        self.last_mid = mid
        return mid

    def _skip(self, mid: int) -> int:
        ids = self.ids
        pending = self.pending
        for _ in range(MAX_PACKET_ID):
            if mid not in ids and mid not in pending:
                return mid
            mid = mid + 1 if mid < MAX_PACKET_ID else 1
        return 0

    # --- accepting and sending ----------------------------------------------------------------
    def accept(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Props,
        token: Any,
        out: Optional[bytearray],
        max_packet_size: Optional[int],
        expires_at: float = 0.0,
        expiry_wall: float = 0.0,
    ) -> int:
        """Accept a QoS 1/2 message and return its mid. It is appended to ``out`` at once when
        ``out`` is given (sending allowed), nothing waits ahead of it (order, [MQTT-4.6.0-1]),
        the window has room and its mid is free as a packet id; otherwise it is queued. A QoS 0
        message (queued while offline) is always queued and never given to the store.
        ``expires_at``/``expiry_wall``: the monotonic and wall-clock times its Message Expiry
        Interval ends (0.0: none).

        Raises:
            PayloadTooLargeError: larger than ``max_packet_size`` ([MQTT-3.2.2-15]); the message
                is not accepted and the mid is not consumed.
            StoreError: the store failed; the message is not accepted.
        """
        previous = self.last_mid
        mid = self.next_mid()
        send = (
            out is not None
            and not self.queue
            and self.used < self.window
            and mid not in self.ids
            and mid not in self.pending
        )
        data = b""
        alias = 0
        aliases = self.aliases
        if send or max_packet_size is not None:
            try:
                if send and aliases is not None:
                    wire_topic, wire_props, alias = aliases.wire(topic, properties)
                    data = encode_publish(
                        wire_topic, payload, qos, retain, False, mid, wire_props, self.version
                    )
                else:
                    data = encode_publish(
                        topic, payload, qos, retain, False, mid, properties, self.version
                    )
                if max_packet_size is not None and len(data) > max_packet_size:
                    raise too_large(len(data), max_packet_size)
            except Exception:
                self.last_mid = previous  # not accepted: the mid is not consumed
                raise
        seq = self.last_seq + 1
        msg = new_message(
            topic, payload, qos, retain, properties, token, mid, seq, expires_at, expiry_wall
        )
        if send:
            self._track(msg, mid)
        if qos:
            try:
                self._add(msg)  # write-through, already in its first state
            except Exception:
                if send:
                    del self.ids[mid]
                    self.used -= 1
                self.last_mid = previous
                raise
        self.last_seq = seq
        self.unfinished += 1
        self.held_bytes += len(payload)
        if send and out is not None:
            if alias and aliases is not None:
                aliases.established(topic, alias)
            out += data
        else:
            self.queue.append(msg)
        return mid

    def mark_sent(self, msg: OutMessage, packet_id: int) -> None:
        """``msg``'s PUBLISH carrying ``packet_id`` was appended to ``out``."""
        self._track(msg, packet_id)
        self._update(msg)

    def _track(self, msg: OutMessage, packet_id: int) -> None:
        msg.packet_id = packet_id
        msg.state = AWAIT_PUBACK if msg.qos == 1 else AWAIT_PUBREC
        msg.inflight = True
        msg.counted = True
        self.used += 1
        self.ids[packet_id] = msg

    def pump(self, out: bytearray, max_packet_size: Optional[int], now: float = 0.0) -> list[Event]:
        """Send from the front of the queue while the window allows: replays first (they are at
        the front), in order; a PUBREL replay takes no window slot (MQTT 5.0 §4.9: only PUBLISH
        consumes quota), nor does a queued QoS 0 message. Stops at the first PUBLISH that does
        not fit, so nothing overtakes it. Returns PublishDropped for messages larger than the
        server's Maximum Packet Size ([MQTT-3.2.2-15]: never send them) and for messages never
        sent whose Message Expiry Interval ran out while queued (their remaining interval is
        sent otherwise, rules §3.9). ``now``: monotonic seconds."""
        queue = self.queue
        events: list[Event] = []
        version = self.version
        aliases = self.aliases
        while queue:
            msg = queue[0]
            if msg.state == AWAIT_PUBCOMP:
                # [MQTT-4.3.3-6]/§4.4: past PUBREC only the PUBREL is ever re-sent.
                queue.popleft()
                out += encode_ack(_spec.PUBREL, msg.packet_id)
                msg.inflight = True
                continue
            if msg.expires_at and msg.state == QUEUED and not self._renew_expiry(msg, now):
                queue.popleft()
                self._forget(msg)
                events.append(PublishDropped(msg.token, msg.mid, "expired"))
                continue
            if msg.qos == 0:
                queue.popleft()
                self._send_qos0(msg, out, max_packet_size, events)
                continue
            if self.used >= self.window:
                break
            packet_id = msg.packet_id
            if not packet_id:
                packet_id = msg.mid
                if packet_id in self.ids or packet_id in self.pending:
                    # Only after the counter wrapped past a queued message: take a fresh id;
                    # the user-visible mid stays the original.
                    packet_id = self.free_id()
                    if not packet_id:
                        break
            topic, props, alias = msg.topic, msg.properties, 0
            if aliases is not None:
                # A replay too: the map is new on every connection, so it carries the topic.
                topic, props, alias = aliases.wire(topic, props)
            data = encode_publish(
                topic, msg.payload, msg.qos, msg.retain, msg.dup, packet_id, props, version
            )
            queue.popleft()
            if max_packet_size is not None and len(data) > max_packet_size:
                self._forget(msg)
                events.append(PublishDropped(msg.token, msg.mid, "packet too large"))
                continue
            if alias and aliases is not None:
                aliases.established(msg.topic, alias)
            out += data
            self.mark_sent(msg, packet_id)
        return events

    @staticmethod
    def _renew_expiry(msg: OutMessage, now: float) -> bool:
        """False if ``msg`` expired while queued; else put its remaining lifetime (whole
        seconds, rounded up, never above the original) into its Message Expiry Interval, as a
        server forwarding it would ([MQTT-3.3.2-6])."""
        remaining = msg.expires_at - now
        if remaining <= 0:
            return False
        interval = get_prop(msg.properties, _spec.MESSAGE_EXPIRY_INTERVAL)
        if interval is not None:
            left = min(int(interval), math.ceil(remaining))
            msg.properties = tuple(
                (ident, left if ident == _spec.MESSAGE_EXPIRY_INTERVAL else value)
                for ident, value in msg.properties
            )
        return True

    def _send_qos0(
        self,
        msg: OutMessage,
        out: bytearray,
        max_packet_size: Optional[int],
        events: list[Event],
    ) -> None:
        """Write a QoS 0 message that waited for a connection (no id, no window slot)."""
        topic, props, alias = msg.topic, msg.properties, 0
        aliases = self.aliases
        if aliases is not None:
            topic, props, alias = aliases.wire(topic, props)
        data = encode_publish(topic, msg.payload, 0, msg.retain, False, 0, props, self.version)
        self._forget(msg)
        if max_packet_size is not None and len(data) > max_packet_size:
            events.append(PublishDropped(msg.token, msg.mid, "packet too large"))
            return
        if alias and aliases is not None:
            aliases.established(msg.topic, alias)
        out += data
        self.q0_sent.append((len(out), msg.token, msg.mid))

    def _forget(self, msg: OutMessage) -> None:
        if msg.packet_id and self.ids.get(msg.packet_id) is msg:
            del self.ids[msg.packet_id]
        if msg.counted:
            msg.counted = False
            self.used -= 1
        msg.inflight = False
        self.unfinished -= 1
        self.held_bytes -= len(msg.payload)
        if msg.qos:
            self._remove(msg)

    # --- acknowledgements (MQTT §4.3.2, §4.3.3) -----------------------------------------------
    def _inflight(self, packet_id: int, state: int, what: str) -> Optional[OutMessage]:
        msg = self.ids.get(packet_id)
        if msg is None or not msg.inflight or msg.state != state:
            logger.warning("%s for packet id %d that is not awaiting it: ignored", what, packet_id)
            return None
        return msg

    def puback(self, packet: Puback) -> Optional[PublishCompleted]:
        """QoS 1 done (any reason code; >= 0x80 means failed, never re-sent [MQTT-4.4.0-2])."""
        msg = self._inflight(packet.packet_id, AWAIT_PUBACK, "PUBACK")
        if msg is None:
            return None
        self._forget(msg)
        return PublishCompleted(msg.token, msg.mid, 1, packet.reason_code, packet.properties)

    def pubrec(self, packet: Pubrec, out: Optional[bytearray]) -> Optional[PublishCompleted]:
        """QoS 2 first ack: < 0x80 → PUBREL, await PUBCOMP (the slot stays taken until PUBCOMP);
        >= 0x80 → failed and done, no PUBREL (MQTT 5.0 §4.3.3, §4.9). Unknown id → PUBREL
        (5.0: 0x92 Packet Identifier not found) so the server can finish its side. ``out`` is
        None when nothing may be sent any more: then only a failure PUBREC is acted on."""
        packet_id = packet.packet_id
        msg = self.ids.get(packet_id)
        if msg is not None and msg.inflight and msg.state == AWAIT_PUBREC:
            if packet.reason_code >= 0x80:
                self._forget(msg)
                return PublishCompleted(
                    msg.token, msg.mid, 2, packet.reason_code, packet.properties
                )
            if out is not None:
                msg.state = AWAIT_PUBCOMP
                self._update(msg)  # committed before the PUBREL is written
                out += encode_ack(_spec.PUBREL, packet_id)
            return None
        if out is None:
            return None
        if msg is not None and msg.inflight and msg.state == AWAIT_PUBCOMP:
            # A repeated PUBREC: answer it again; the PUBCOMP ends the flow once.
            out += encode_ack(_spec.PUBREL, packet_id)
            return None
        if msg is not None:
            logger.warning("PUBREC for packet id %d in state %d: ignored", packet_id, msg.state)
            return None
        logger.warning("PUBREC for unknown packet id %d: answering PUBREL", packet_id)
        out += encode(Pubrel(packet_id, 0x92), self.version)
        return None

    def pubcomp(self, packet: Pubcomp) -> Optional[PublishCompleted]:
        """QoS 2 done. A PUBCOMP answering a replayed PUBREL frees no window slot (the PUBREL
        took none)."""
        msg = self._inflight(packet.packet_id, AWAIT_PUBCOMP, "PUBCOMP")
        if msg is None:
            return None
        self._forget(msg)
        return PublishCompleted(msg.token, msg.mid, 2, packet.reason_code, packet.properties)

    # --- connections --------------------------------------------------------------------------
    def connection_opened(self, max_inflight: int, version: int) -> None:
        """A new connection: the quota starts afresh (MQTT 5.0 §4.9) until CONNACK tells the
        server's Receive Maximum."""
        self.version = version
        self.max_inflight = max_inflight
        self.set_receive_maximum(MAX_PACKET_ID)

    def set_receive_maximum(self, receive_maximum: int) -> None:
        """Window = min(max_inflight (0 = unlimited), server Receive Maximum) [MQTT-3.3.4-7]."""
        limit = self.max_inflight
        self.window = min(limit, receive_maximum) if limit > 0 else receive_maximum

    def connection_lost(self) -> None:
        """Put every message in flight back at the front of the queue, in acceptance order,
        keeping its packet id and state so the next connection replays it; forget pending
        SUBSCRIBE/UNSUBSCRIBE (their acks can no longer come)."""
        inflight = [msg for msg in self.ids.values() if msg.inflight]
        inflight.sort(key=_by_seq)
        for msg in inflight:
            msg.inflight = False
            msg.counted = False
        self.queue.extendleft(reversed(inflight))
        self.used = 0
        self.pending.clear()

    def drop_unsent(self) -> list[OutMessage]:
        """Remove and return the queued messages never sent; replays stay (the server may hold
        them)."""
        kept: deque[OutMessage] = deque()
        dropped: list[OutMessage] = []
        for msg in self.queue:
            (dropped if msg.state == QUEUED else kept).append(msg)
        self.queue = kept
        for msg in dropped:
            self._forget(msg)
        return dropped

    def drop_forbidden(self, limits: ServerLimits) -> list[Event]:
        """After a CONNACK: remove every queued message whose PUBLISH ``limits`` forbid
        (Maximum QoS [MQTT-3.2.2-11], Retain Available [MQTT-3.2.2-14]) — accepted while the
        limits were unknown, or a replay to a server that now allows less — and report each as
        completed with the code the server would have disconnected with (0x9B, 0x9A). A PUBREL
        replay is kept: it is not a PUBLISH."""
        events: list[Event] = []
        kept: deque[OutMessage] = deque()
        for msg in self.queue:
            refusal = publish_refusal(limits, msg.qos, msg.retain)
            if refusal is None or msg.state == AWAIT_PUBCOMP:
                kept.append(msg)
                continue
            logger.warning("message mid=%d to %r not sent: %s", msg.mid, msg.topic, refusal)
            self._forget(msg)
            events.append(PublishCompleted(msg.token, msg.mid, msg.qos, refusal.reason_code))
        self.queue = kept
        return events

    def oldest_unsent(self, room_needed: int, bytes_needed: int) -> Optional[list[OutMessage]]:
        """The oldest messages never sent whose removal frees ``room_needed`` messages and
        ``bytes_needed`` bytes of the offline bounds, oldest first; None if all unsent
        messages together do not free that much (messages already sent are never dropped: the
        server may hold them)."""
        chosen: list[OutMessage] = []
        for msg in self.queue:
            if room_needed <= 0 and bytes_needed <= 0:
                break
            if msg.state == QUEUED:
                chosen.append(msg)
                room_needed -= 1
                bytes_needed -= len(msg.payload)
        if room_needed > 0 or bytes_needed > 0:
            return None
        return chosen

    def drop(self, messages: Sequence[OutMessage]) -> None:
        """Remove queued, never sent ``messages`` (from ``oldest_unsent``: they are the first
        unsent ones, so only the front of the queue is walked)."""
        doomed = {id(msg) for msg in messages}
        queue = self.queue
        kept: list[OutMessage] = []
        while doomed and queue:
            msg = queue.popleft()
            if id(msg) in doomed:
                doomed.discard(id(msg))
                self._forget(msg)
            else:
                kept.append(msg)
        queue.extendleft(reversed(kept))

    # --- restart ------------------------------------------------------------------------------
    def stored_messages(self) -> list[OutMessage]:
        """The QoS 1/2 messages not completed (in flight, or queued), in ``seq`` order: what a
        store holds. ``MemoryStore`` reads them here instead of keeping an index of its own."""
        messages = [m for m in self.ids.values() if m.inflight]
        messages += [m for m in self.queue if m.qos]
        messages.sort(key=_by_seq)
        return messages

    def restore(self, messages: Sequence[StoredMessage], last_seq: int, wall_offset: float) -> None:
        """Rebuild the queue from a store's ``messages`` (in ``seq`` order) after a restart:
        messages sent before keep their packet id (in use until their flow ends) and are
        replayed first (PUBLISH with DUP=1, or PUBREL past PUBREC); the others are sent as
        new. ``wall_offset`` converts their wall-clock expiry to monotonic time. Their tokens
        are None. The mid counter resumes after the newest message's mid."""
        for stored in messages:
            wall = stored.expiry_wall
            msg = new_message(
                stored.topic, stored.payload, stored.qos, stored.retain, stored.properties,
                None, stored.mid, stored.seq, wall - wall_offset if wall else 0.0, wall,
            )  # fmt: skip
            msg.state = stored.state
            if stored.state != QUEUED and stored.packet_id:
                msg.packet_id = stored.packet_id  # and so DUP=1 on its replay
                self.ids[stored.packet_id] = msg
            else:
                msg.state = QUEUED
            self.queue.append(msg)
            self.unfinished += 1
            self.held_bytes += len(msg.payload)
            self.last_mid = stored.mid
        self.last_seq = max(self.last_seq, last_seq, messages[-1].seq if messages else 0)


def new_message(
    topic: str,
    payload: bytes,
    qos: int,
    retain: bool,
    properties: Props,
    token: Any,
    mid: int,
    seq: int,
    expires_at: float = 0.0,
    expiry_wall: float = 0.0,
) -> OutMessage:
    """An ``OutMessage``, or an ``ExpiringMessage`` when it has an expiry (``expires_at``)."""
    if expires_at:
        return ExpiringMessage(
            topic, payload, qos, retain, properties, token, mid, seq, expires_at, expiry_wall
        )
    return OutMessage(topic, payload, qos, retain, properties, token, mid, seq)


def _by_seq(msg: OutMessage) -> int:
    return msg.seq


def too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"PUBLISH of {size} bytes exceeds the server's Maximum Packet Size of {limit} bytes"
    )
