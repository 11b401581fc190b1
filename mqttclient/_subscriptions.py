"""Callbacks routed by subscription: the client side of :mod:`mqttclient._routing`.

Owns: ``subscribe(..., callback=...)`` (assigning a Subscription Identifier, or falling back to
the topic filter under MQTT 3.x or when the server's CONNACK says Subscription Identifiers
Available = 0), ``subscription_callback_add`` / ``subscription_callback_remove``, keeping the
route table in step with SUBSCRIBE, SUBACK and UNSUBSCRIBE, and handing a routed message to its
callbacks (:meth:`RoutingMixin._route`, called by ``CallbackMixin._deliver``). It also lets
library code wait for the SUBACK of a SUBSCRIBE it sent (used by ``request()``).

Locks: the route table is changed under ``_route_lock``; SUBSCRIBE/UNSUBSCRIBE hooks run under
the engine lock too (engine lock first, then ``_route_lock``; never the other way round). No
lock is held while a callback runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from mqttclient import _spec
from mqttclient._callbacks import CallbackMixin
from mqttclient._core import events as ev
from mqttclient._core.packets import Props, Publish, Subscription, get_prop
from mqttclient._core.session import Session
from mqttclient._routing import MAX_SUBSCRIPTION_IDENTIFIER, RouteTable
from mqttclient.enums import MQTTProtocolVersion
from mqttclient.errors import InvalidArgumentError
from mqttclient.message import MQTTMessage

__all__ = ["RoutingMixin"]

log = logging.getLogger("mqttclient.client")

Sender = Callable[[float], int]


@dataclass
class _PendingSubscribe:
    """A SUBSCRIBE whose SUBACK the router waits for."""

    filters: tuple[str, ...]
    key: Optional[int]  # the route it made: identifier, or None for filter routes
    routed: bool  # it made routes (a refused filter loses its route)
    on_suback: Optional[Callable[[tuple[int, ...]], None]] = None
    internal: bool = False  # the library's own subscription: on_subscribe is not told


class RoutingMixin(CallbackMixin):
    """Subscription callbacks for ``Client`` (which inherits this through ``RequestMixin``)."""

    # Provided by Client.
    _session: Session

    def _init_callbacks(self) -> None:
        super()._init_callbacks()
        self._route_lock = threading.Lock()
        self._route_table = RouteTable()
        # The dispatcher's emptiness check (CallbackMixin._deliver) reads this dict.
        self._routes = self._route_table.routes
        self._pending_subacks: dict[int, _PendingSubscribe] = {}

    # --- public API -------------------------------------------------------------------------
    def subscription_callback_add(
        self, subscription_identifier: int, callback: Callable[..., Any]
    ) -> None:
        """Call ``callback(client, userdata, message)`` (``on_message``'s signature) for every
        message that carries ``subscription_identifier`` (MQTT 5.0 §3.3.2.3.8) instead of
        ``on_message`` and ``message_callback_add`` callbacks. For identifiers you assign
        yourself in the SUBSCRIBE's ``properties``; the route stays until
        :meth:`subscription_callback_remove`. Only MQTT 5 messages carry identifiers.

        Raises ``ValueError`` for an identifier outside 1..268,435,455 or a non-callable
        ``callback``. Thread: any."""
        _check_identifier(subscription_identifier)
        if not callable(callback):
            raise InvalidArgumentError("callback must be callable")
        with self._route_lock:
            self._route_table.add(subscription_identifier, callback)

    def subscription_callback_remove(self, subscription_identifier: int) -> bool:
        """Stop routing ``subscription_identifier`` (its messages go to ``on_message`` again);
        returns False if it had no route. Thread: any."""
        with self._route_lock:
            return self._route_table.remove(subscription_identifier)

    # --- hooks for Client.subscribe / unsubscribe (engine lock held when they run) ----------
    def _subscribe_sender(
        self,
        subscriptions: tuple[Subscription, ...],
        pairs: Props,
        callback: Optional[Callable[..., Any]],
        on_suback: Optional[Callable[[tuple[int, ...]], None]] = None,
        internal: bool = False,
    ) -> Sender:
        """The function ``Client._request`` runs under the engine lock to queue this SUBSCRIBE:
        it assigns a Subscription Identifier when ``callback`` is given (unless ``pairs`` has
        one), queues the packet and updates the routes before any PUBLISH it causes can be
        dispatched (the server may send them before the SUBACK, §3.8.4)."""
        if callback is not None and not callable(callback):
            raise InvalidArgumentError("callback must be callable")
        filters = tuple(sub.topic_filter for sub in subscriptions)
        given_id: Optional[int] = get_prop(pairs, _spec.SUBSCRIPTION_IDENTIFIER)

        def send(now: float) -> int:
            session = self._session
            key: Optional[int] = None
            sent = pairs
            if callback is not None and self._identifiers_usable():
                if given_id is None:
                    with self._route_lock:
                        key = self._route_table.fresh_id(self._identifiers_in_session())
                    sent = _with_identifier(pairs, key)
                else:
                    key = given_id
            mid = session.subscribe(subscriptions, sent, now)
            with self._route_lock:
                table = self._route_table
                if callback is not None:
                    table.bind(filters, callback, key)
                elif self._routes:
                    table.resubscribed(filters, given_id)
                if callback is not None or on_suback is not None:
                    self._pending_subacks[mid] = _PendingSubscribe(
                        filters, key, callback is not None, on_suback, internal
                    )
                elif self._pending_subacks:
                    self._pending_subacks.pop(mid, None)  # a stale entry for a reused mid
            return mid

        return send

    def _unsubscribe_sender(self, filters: tuple[str, ...], pairs: Props) -> Sender:
        """The function ``Client._request`` runs under the engine lock to queue UNSUBSCRIBE:
        the routes of ``filters`` end with it."""

        def send(now: float) -> int:
            mid = self._session.unsubscribe(filters, pairs, now)
            if self._routes or self._pending_subacks:
                with self._route_lock:
                    self._route_table.unsubscribed(filters)
                    self._pending_subacks.pop(mid, None)
            return mid

        return send

    def _identifiers_usable(self) -> bool:
        """MQTT 5 and the server did not say Subscription Identifiers Available = 0
        (§3.2.2.3.12). Engine lock held (``server_limits`` changes at CONNACK)."""
        return (
            self._protocol == MQTTProtocolVersion.MQTTv5
            and self._session.server_limits.subscription_identifiers_available
        )

    def _identifiers_in_session(self) -> set[int]:
        """Identifiers of the subscriptions the session holds (granted earlier, possibly by a
        previous process through the store): a fresh identifier must not reuse them."""
        return {
            value
            for _, props in self._session.subscriptions
            for ident, value in props
            if ident == _spec.SUBSCRIPTION_IDENTIFIER and isinstance(value, int)
        }

    # --- dispatch (network-loop thread, no library lock held) -------------------------------
    def _route(self, msg: MQTTMessage, publish: Publish) -> bool:
        """Give ``msg`` to the callbacks of the subscriptions it came through; False when none
        is routed (the caller then takes the ordinary path)."""
        table = self._route_table
        props = publish.properties
        callbacks: list[Callable[..., Any]] = []
        if props:
            ids: list[Any] = [v for ident, v in props if ident == _spec.SUBSCRIPTION_IDENTIFIER]
            if ids:
                callbacks = table.match_ids(ids)
        if not callbacks:
            if not table.filter_count:
                return False  # the common case: no identifier routed, no filter routes
            with self._route_lock:
                callbacks = table.match_filter(publish.topic)
            if not callbacks:
                return False
        for callback in callbacks:
            self._call("subscription callback", callback, msg)
        return True

    def _subscribed(self, event: ev.Subscribed) -> None:
        if self._pending_subacks:
            with self._route_lock:
                pending = self._pending_subacks.pop(event.mid, None)
                if pending is not None and pending.routed:
                    for topic_filter, code in zip(pending.filters, event.reason_codes):
                        if code >= 0x80:
                            self._route_table.refused(topic_filter, pending.key)
            if pending is not None:
                if pending.on_suback is not None:
                    pending.on_suback(event.reason_codes)
                if pending.internal:
                    return
        super()._subscribed(event)


def _check_identifier(value: Any) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 1 <= value <= MAX_SUBSCRIPTION_IDENTIFIER
    ):
        raise InvalidArgumentError(
            f"subscription identifier must be an int in 1..{MAX_SUBSCRIPTION_IDENTIFIER}, "
            f"not {value!r}"
        )


def _with_identifier(pairs: Props, subscription_id: int) -> Props:
    """``pairs`` plus a Subscription Identifier, in identifier order (as ``to_pairs`` gives)."""
    merged = [*pairs, (_spec.SUBSCRIPTION_IDENTIFIER, subscription_id)]
    merged.sort(key=lambda pair: pair[0])
    return tuple(merged)
