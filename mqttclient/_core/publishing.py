"""Outgoing application messages: ``Session.publish``, the checks it makes, and the send pump.

Owns, for ``Session`` (which inherits :class:`PublishingMixin`): ``publish()`` — writing a QoS 0
PUBLISH at once (through the outgoing topic aliases when they are on) or dropping or queueing it
while offline, handing QoS 1/2 messages to the outbox (``outbox.py``) with their MQTT 5.0
Message Expiry, committing the store when it asks for it; the (5.0) local checks of a PUBLISH
against the server's CONNACK and the user's Topic Alias (``limits.py``, ``aliases.py``); the
offline bounds (``max_queued_messages``, ``max_queued_bytes``) and the policy that applies when
they are reached; sending what the queue and the window allow (``_pump``) and tracking QoS 0
PUBLISHes in ``out`` until written; ``reserve_mid`` and ``drop_unsent``.

Must not: touch sockets, threads, the clock or user callbacks; hold state of its own (every
attribute is the session's, declared in ``session.py``); change the connection state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from mqttclient import _spec
from mqttclient._core.aliases import OutgoingAliases
from mqttclient._core.codec import encode_publish
from mqttclient._core.config import DROP_OLDEST, OPEN_STATES, SessionConfig, SessionState
from mqttclient._core.events import Event, PublishDropped
from mqttclient._core.keepalive import Keepalive
from mqttclient._core.limits import ServerLimits, publish_refusal
from mqttclient._core.outbox import Outbox, OutMessage, too_large
from mqttclient._core.packets import Props, get_prop
from mqttclient._core.store import Store
from mqttclient.errors import FeatureNotAvailableError, InvalidArgumentError, QueueFullError

__all__ = ["PublishingMixin"]

CONNECTED = SessionState.CONNECTED
_OPEN = OPEN_STATES
_NO_MESSAGES: tuple[OutMessage, ...] = ()


class PublishingMixin:
    """``publish()`` for ``Session``; every method runs under the engine's lock."""

    if not TYPE_CHECKING:  # mypy would refuse the session's attributes in empty slots
        __slots__ = ()  # methods only: Session declares every slot

    # Provided by Session.
    config: SessionConfig
    out: bytearray
    seq: int
    dropped: list[Event]
    server_limits: ServerLimits
    wall_offset: float
    _alias_map: Optional[OutgoingAliases]
    _commit_on_publish: bool
    _ka: Keepalive
    _max_out: Optional[int]
    _out_base: int
    _outbox: Outbox
    _q0: deque[tuple[int, Any, int]]
    _restricted: bool
    _sending: tuple[int, ...]
    _state: int
    _store: Store
    _version: int

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Props,
        token: Any,
        now: float,
    ) -> int:
        """Accept an application message; return its mid. Arguments are already validated.

        Every call consumes a mid from the counter shared with SUBSCRIBE/UNSUBSCRIBE (QoS 0 too,
        as paho does). QoS 0 is written at once when a connection is open (CONNECTING or
        CONNECTED) and otherwise dropped (no event: the façade reports MQTT_ERR_NO_CONN), or
        queued for the next connection with ``config.queue_qos0_offline``. QoS 1/2 go out at
        once when CONNECTED or CONNECTING, nothing is queued ahead and the window has room;
        otherwise they wait in order (also while DISCONNECTING/CLOSING: for the next
        connection). A QoS 1/2 message is in the store when this returns, and committed when
        the store says ``commit_on_publish``. ``self.seq`` is then its stable sequence number.
        (5.0) A Message Expiry Interval in ``properties`` is honoured while the message waits.

        Raises:
            PayloadTooLargeError: the PUBLISH would exceed the server's Maximum Packet Size
                ([MQTT-3.2.2-15]); the message is not accepted and no mid is consumed.
            FeatureNotAvailableError: (5.0, CONNECTED) the CONNACK forbids it: QoS above
                Maximum QoS, RETAIN with Retain Available 0, a Topic Alias above the Topic
                Alias Maximum; not accepted, no mid consumed. (Messages accepted before the
                CONNACK are checked when it arrives: ``Outbox.drop_forbidden``.)
            InvalidArgumentError: (5.0) a Topic Alias of 0, one with an empty topic that was
                never given a topic, or one while automatic aliases are on.
            QueueFullError: the offline bounds (``max_queued_messages``/``max_queued_bytes``)
                are reached and the policy refuses, or nothing unsent can be dropped; the
                message is not accepted and no mid is consumed.
            StoreError: the store failed (see docs/durable-sessions.rst).
        """
        if self._restricted or properties:
            topic = self._admit(topic, qos, retain, properties)
        outbox = self._outbox
        state = self._state
        cfg = self.config
        if qos == 0:
            if state in self._sending:
                # One write sequence, with or without outgoing topic aliases (inline: the
                # QoS 0 path is the hottest one).
                aliases = outbox.aliases
                alias = 0
                if aliases is None:
                    data = encode_publish(
                        topic, payload, 0, retain, False, 0, properties, self._version
                    )
                else:
                    wire_topic, wire_props, alias = aliases.wire(topic, properties)
                    data = encode_publish(
                        wire_topic, payload, 0, retain, False, 0, wire_props, self._version
                    )
                limit = self._max_out
                if limit is not None and len(data) > limit:
                    raise too_large(len(data), limit)  # [MQTT-3.2.2-15]; no mid consumed
                mid = outbox.next_mid()
                if alias and aliases is not None:
                    aliases.established(topic, alias)
                out = self.out
                out += data
                # Completes once sent() sees its last byte written.
                self._q0.append((self._out_base + len(out), token, mid))
                self._ka.last_send = now
                self.seq = 0
                return mid
            if not cfg.queue_qos0_offline and state not in _OPEN:  # else: wait for CONNACK
                self.seq = 0
                return outbox.next_mid()
        victims: Sequence[OutMessage] = _NO_MESSAGES
        limit = cfg.max_queued_messages
        if (limit and outbox.unfinished >= limit) or cfg.max_queued_bytes:
            victims = self._room_for(len(payload))
        expires_at = expiry_wall = 0.0
        if properties and self._version == 5:
            interval = get_prop(properties, _spec.MESSAGE_EXPIRY_INTERVAL)
            if interval is not None:
                expires_at = now + interval
                expiry_wall = expires_at + self.wall_offset
        out = self.out
        queued = len(out)
        mid = outbox.accept(
            topic, payload, qos, retain, properties, token,
            out if qos and state in self._sending else None, self._max_out, expires_at, expiry_wall,
        )  # fmt: skip
        self.seq = outbox.last_seq
        if victims:
            outbox.drop(victims)
            for msg in victims:
                self.dropped.append(PublishDropped(msg.token, msg.mid, "queue full"))
        if qos and self._commit_on_publish:
            self._store.commit()
        if len(out) != queued:
            self._ka.last_send = now
        return mid

    def _pump(self, events: list[Event], now: float) -> None:
        """Send what the queue and the window allow (``Outbox.pump``); QoS 0 messages it
        writes complete once ``sent()`` sees their last byte written."""
        outbox = self._outbox
        events += outbox.pump(self.out, self._max_out, now)
        if outbox.q0_sent:
            base = self._out_base
            q0 = self._q0
            for end, token, mid in outbox.q0_sent:
                q0.append((base + end, token, mid))
            outbox.q0_sent.clear()

    def _admit(self, topic: str, qos: int, retain: bool, properties: Props) -> str:
        """(5.0) The local checks of a PUBLISH against the CONNACK (while CONNECTED: before it,
        the limits are unknown) and the user's Topic Alias; returns the topic the message
        stands for (an empty topic with a user alias resolved). Raises as ``publish()``."""
        if self._version != 5:
            return topic
        connected = self._state == CONNECTED
        limits = self.server_limits
        if connected and self._restricted:
            refusal = publish_refusal(limits, qos, retain)
            if refusal is not None:
                raise refusal
        alias = get_prop(properties, _spec.TOPIC_ALIAS) if properties else None
        if alias is None:
            return topic
        if self.config.topic_alias_auto:
            raise InvalidArgumentError(
                "automatic topic aliases are on (topic_alias_auto_set): the client chooses the "
                "aliases, so a PUBLISH must not carry its own Topic Alias"
            )
        if not alias:
            raise InvalidArgumentError("a Topic Alias of 0 is not allowed [MQTT-3.3.2-8]")
        maximum = limits.topic_alias_maximum
        if connected and alias > maximum:
            raise FeatureNotAvailableError(
                f"the server's CONNACK Topic Alias Maximum is {maximum}: Topic Alias {alias} is "
                "not allowed [MQTT-3.3.2-9]",
                "Topic Alias Maximum",
                0x94,
            )
        aliases = self._alias_map
        if aliases is None:
            aliases = self._alias_map = OutgoingAliases(0)
            if connected:
                aliases.connacked(maximum)
        topic = aliases.resolve(topic, alias)
        self._outbox.aliases = aliases  # from now on every PUBLISH has its alias checked
        return topic

    def _room_for(self, size: int) -> Sequence[OutMessage]:
        """Check the offline bounds for one more message with a payload of ``size`` bytes.
        Returns the messages to drop first (policy DROP_OLDEST: the oldest never sent), or
        raises QueueFullError."""
        cfg = self.config
        outbox = self._outbox
        limit_n = cfg.max_queued_messages
        limit_b = cfg.max_queued_bytes
        over_n = outbox.unfinished + 1 - limit_n if limit_n else 0
        over_b = outbox.held_bytes + size - limit_b if limit_b else 0
        if over_n <= 0 and over_b <= 0:
            return _NO_MESSAGES
        if limit_b and size > limit_b:
            raise QueueFullError(
                f"queue full: a message of {size} bytes exceeds max_queued_bytes ({limit_b})"
            )
        if cfg.queue_full_policy == DROP_OLDEST:
            victims = outbox.oldest_unsent(over_n, over_b)
            if victims is not None:
                return victims
            raise QueueFullError(
                "queue full: every message held was sent already (in flight) and cannot be "
                "dropped to make room"
            )
        raise QueueFullError(
            f"queue full: {outbox.unfinished} messages, {outbox.held_bytes} bytes held "
            f"(max_queued_messages {limit_n or 'unbounded'}, max_queued_bytes "
            f"{limit_b or 'unbounded'})"
        )

    def reserve_mid(self) -> int:
        """Consume a mid without sending anything (paho numbers refused publishes too, so the
        ids on the wire stay the same as paho's)."""
        return self._outbox.next_mid()

    def drop_unsent(self) -> list[tuple[str, bytes, int, bool, int]]:
        """Forget every QoS 1/2 message accepted but never sent (queued for the window or a
        connection); return them as ``(topic, payload, qos, retain, mid)`` in acceptance order.
        Messages already sent once stay: the server may hold them, so they are still replayed.
        No events are returned for the dropped messages. The store forgets them too (committed
        before this returns)."""
        dropped = self._outbox.drop_unsent()
        self._store.commit()
        return [(m.topic, m.payload, m.qos, m.retain, m.mid) for m in dropped]
