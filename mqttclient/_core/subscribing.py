"""Subscriptions: SUBSCRIBE and UNSUBSCRIBE out, their acknowledgements in, and resubscribing.

Owns, for ``Session`` (which inherits :class:`SubscribingMixin`): ``subscribe()`` and
``unsubscribe()`` (a free packet id each, held back during an MQTT 5.0 enhanced-authentication
exchange [MQTT-3.1.2-30], the (5.0) local checks against the CONNACK in ``limits.py``); matching
SUBACK and UNSUBACK to their request (one reason code per filter, [MQTT-3.9.3-1],
[MQTT-3.11.3-1]); the record of granted subscriptions and its write-through to the store; and
subscribing again to all of them after a CONNACK with Session Present 0 (``resubscribe``).

Must not: touch sockets, threads, the clock or user callbacks; hold state of its own (every
attribute is the session's, declared in ``session.py``); change the connection state.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

from mqttclient import _spec
from mqttclient._core.codec import encode
from mqttclient._core.config import OPEN_STATES, SessionState
from mqttclient._core.events import Event, Subscribed, Unsubscribed
from mqttclient._core.keepalive import Keepalive
from mqttclient._core.limits import ServerLimits, subscribe_refusal
from mqttclient._core.outbox import Outbox
from mqttclient._core.packets import (
    Props,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)
from mqttclient._core.store import Store
from mqttclient.errors import InvalidStateError, QueueFullError, RemoteProtocolError

__all__ = ["SubscribingMixin"]

# The session's logger, not __name__: these warnings have always been logged under its name.
logger = logging.getLogger("mqttclient._core.session")

CONNECTED = SessionState.CONNECTED
_OPEN = OPEN_STATES


class SubscribingMixin:
    """Subscriptions for ``Session``; every method runs under the engine's lock."""

    if not TYPE_CHECKING:  # mypy would refuse the session's attributes in empty slots
        __slots__ = ()  # methods only: Session declares every slot

    # Provided by Session.
    out: bytearray
    server_limits: ServerLimits
    _held: bytearray
    _ka: Keepalive
    _outbox: Outbox
    _sending: tuple[int, ...]
    _state: int
    _store: Store
    _subs: dict[str, tuple[Subscription, Props]]
    _version: int

    @property
    def subscriptions(self) -> tuple[tuple[Subscription, Props], ...]:
        """The subscriptions granted and not unsubscribed, oldest first (what ``resubscribe``
        restores), with the properties of their SUBSCRIBE."""
        return tuple(self._subs.values())

    def subscribe(
        self, subscriptions: tuple[Subscription, ...], properties: Props, now: float
    ) -> int:
        """Queue SUBSCRIBE; return its mid (also its packet id).

        Raises:
            InvalidStateError: not CONNECTING or CONNECTED (the façade reports NO_CONN).
            QueueFullError: all 65,535 packet ids are in use.
            FeatureNotAvailableError: (5.0, CONNECTED) the CONNACK forbids it: a ``+``/``#``
                filter with Wildcard Subscription Available 0, a ``$share/`` filter with Shared
                Subscription Available 0, a Subscription Identifier with Subscription
                Identifiers Available 0. Nothing is sent and no mid is consumed.
        """
        if self._version == 5 and self._state == CONNECTED:
            refusal = subscribe_refusal(self.server_limits, subscriptions, properties)
            if refusal is not None:
                raise refusal
        mid = self._request_id("subscribe")
        buffer = self.out if self._state in self._sending else self._held  # [MQTT-3.1.2-30]
        buffer += encode(Subscribe(mid, subscriptions, properties), self._version)
        self._outbox.pending[mid] = (_spec.SUBSCRIBE, subscriptions, properties)
        self._ka.last_send = now
        return mid

    def unsubscribe(self, topic_filters: tuple[str, ...], properties: Props, now: float) -> int:
        """Queue UNSUBSCRIBE; return its mid. The filters are forgotten for ``resubscribe`` at
        once. Raises as ``subscribe``."""
        mid = self._request_id("unsubscribe")
        buffer = self.out if self._state in self._sending else self._held  # [MQTT-3.1.2-30]
        buffer += encode(Unsubscribe(mid, topic_filters, properties), self._version)
        self._outbox.pending[mid] = (_spec.UNSUBSCRIBE, topic_filters, properties)
        subs = self._subs
        for topic_filter in topic_filters:
            if subs.pop(topic_filter, None) is not None:
                self._store.remove_subscription(topic_filter)
        self._ka.last_send = now
        return mid

    def _request_id(self, what: str) -> int:
        if self._state not in _OPEN:
            raise InvalidStateError(f"cannot {what}: not connected")
        mid = self._outbox.free_id()
        if not mid:
            raise QueueFullError(f"cannot {what}: all 65535 packet identifiers are in use")
        return mid

    def _on_suback(self, packet: Suback, events: list[Event], now: float) -> None:
        entry = self._pending_request(packet.packet_id, _spec.SUBSCRIBE, "SUBACK")
        if entry is None:
            return
        subscriptions, props = entry
        count = len(subscriptions)
        if len(packet.reason_codes) != count:
            # [MQTT-3.9.3-1]: one code per filter, in order.
            raise RemoteProtocolError(
                f"protocol error: SUBACK has {len(packet.reason_codes)} codes for {count} filters"
            )
        subs = self._subs
        for sub, code in zip(subscriptions, packet.reason_codes):
            if code < 0x80:  # granted (3.x 0..2, 5.0 < 0x80); kept for resubscribe
                subs.pop(sub.topic_filter, None)
                subs[sub.topic_filter] = (sub, props)
                self._store.put_subscription(sub, props)
        events.append(Subscribed(packet.packet_id, packet.reason_codes, packet.properties))

    def _on_unsuback(self, packet: Unsuback, events: list[Event], now: float) -> None:
        entry = self._pending_request(packet.packet_id, _spec.UNSUBSCRIBE, "UNSUBACK")
        if entry is None:
            return
        count = len(entry[0])
        if self._version == 5 and len(packet.reason_codes) != count:
            # [MQTT-3.11.3-1]: one code per filter, in order (5.0 only; 3.x has none).
            raise RemoteProtocolError(
                f"protocol error: UNSUBACK has {len(packet.reason_codes)} codes for {count} filters"
            )
        events.append(Unsubscribed(packet.packet_id, packet.reason_codes, packet.properties))

    def _pending_request(
        self, packet_id: int, kind: int, what: str
    ) -> Optional[tuple[tuple[Any, ...], Props]]:
        """The (subscriptions or filters, properties) of the request ``packet_id`` answers."""
        entry = self._outbox.pending.get(packet_id)
        if entry is None or entry[0] != kind:
            logger.warning("%s for unknown packet id %d: ignored", what, packet_id)
            return None
        del self._outbox.pending[packet_id]
        return entry[1], entry[2]

    def _resubscribe(self) -> None:
        """The server has no session: subscribe again to everything granted before (one
        SUBSCRIBE per distinct set of SUBSCRIBE properties). Their SUBACKs come back as
        ``Subscribed`` events with mids the user never saw."""
        groups: dict[Props, list[Subscription]] = {}
        limits = self.server_limits
        for sub, props in self._subs.values():
            refusal = subscribe_refusal(limits, (sub,), props) if self._version == 5 else None
            if refusal is not None:
                logger.warning("not resubscribing to %r: %s", sub.topic_filter, refusal)
                continue
            groups.setdefault(props if self._version == 5 else (), []).append(sub)
        for props, subs in groups.items():
            mid = self._outbox.free_id()
            if not mid:
                logger.warning("cannot resubscribe: all 65535 packet identifiers are in use")
                return
            items = tuple(subs)
            self.out += encode(Subscribe(mid, items, props), self._version)
            self._outbox.pending[mid] = (_spec.SUBSCRIBE, items, props)
        logger.info("server has no session: resubscribing to %d topic filters", len(self._subs))
