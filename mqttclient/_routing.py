"""The route table: which callback gets a message, by Subscription Identifier or by filter.

Owns the mapping behind ``subscribe(..., callback=...)`` and ``subscription_callback_add``:

* **id routes** (MQTT 5.0 §3.8.2.1.2, §3.3.2.3.8): Subscription Identifier -> callback. A
  PUBLISH carries the identifiers of every subscription it matched ([MQTT-3.3.4-3],
  [MQTT-3.3.4-4], [MQTT-3.3.4-5]), possibly repeated and in any order; each routed callback gets
  the message once.
* **filter routes**, the fallback when identifiers cannot be used (MQTT 3.x, or a CONNACK with
  Subscription Identifiers Available = 0): topic filter -> callback, matched with
  :class:`~mqttclient.matcher.MQTTMatcher` (which understands ``$share/{group}/``).

It also remembers which filters each identifier was subscribed with, so that unsubscribing a
filter, or subscribing to it again with another identifier (the server then replaces the
subscription, §3.8.4), removes the route that no longer applies.

Must not: lock, call callbacks or touch the session. Pure data; the caller serialises changes
with matching (``_subscriptions.RoutingMixin`` holds a lock around it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Callable, Optional, Union

from mqttclient.matcher import MQTTMatcher

__all__ = ["MAX_SUBSCRIPTION_IDENTIFIER", "RouteTable"]

#: The largest Subscription Identifier (a Variable Byte Integer, MQTT 5.0 §3.8.2.1.2).
MAX_SUBSCRIPTION_IDENTIFIER = 268_435_455

Callback = Callable[..., Any]


class RouteTable:
    """Routes by Subscription Identifier and, as a fallback, by topic filter.

    ``routes`` holds every route (an ``int`` key for an identifier, a ``str`` key for a filter
    route): the dispatcher checks it for emptiness before doing anything else, so messages pay
    for routing only while routes exist.
    """

    __slots__ = (
        "_bound",
        "_filters",
        "_filters_of",
        "_manual",
        "_next_id",
        "filter_count",
        "routes",
    )

    def __init__(self) -> None:
        self.routes: dict[Union[int, str], Callback] = {}
        self._filters = MQTTMatcher()  # filter routes
        #: How many filter routes exist (the dispatcher skips filter matching at 0).
        self.filter_count = 0
        self._bound: dict[str, int] = {}  # filter -> the identifier it was subscribed with
        self._filters_of: dict[int, set[str]] = {}  # identifier -> its subscribed filters
        self._manual: set[int] = set()  # identifiers from subscription_callback_add
        self._next_id = 1

    # --- registering ------------------------------------------------------------------------
    def add(self, subscription_id: int, callback: Callback) -> None:
        """Route ``subscription_id`` to ``callback`` until :meth:`remove` (the user assigns the
        identifier and manages the subscription)."""
        self.routes[subscription_id] = callback
        self._manual.add(subscription_id)

    def remove(self, subscription_id: int) -> bool:
        """Forget the route of ``subscription_id``; False if there was none."""
        self._manual.discard(subscription_id)
        for topic_filter in self._filters_of.pop(subscription_id, ()):
            del self._bound[topic_filter]
        return self.routes.pop(subscription_id, None) is not None

    def bind(
        self, filters: Iterable[str], callback: Callback, subscription_id: Optional[int]
    ) -> None:
        """A SUBSCRIBE to ``filters`` with ``callback``: route its messages by
        ``subscription_id``, or by the filters themselves when it is ``None``."""
        if subscription_id is not None:
            # Set first and never removed on the way: ``match_ids`` reads without a lock, and
            # a message for this identifier must not find a gap while it is bound again.
            self.routes[subscription_id] = callback
        for topic_filter in filters:
            if subscription_id is not None and self._bound.get(topic_filter) == subscription_id:
                continue
            self._unbind(topic_filter)
            if subscription_id is None:
                if topic_filter not in self._filters:
                    self.filter_count += 1
                self._filters[topic_filter] = callback
                self.routes[topic_filter] = callback
            else:
                self._bound[topic_filter] = subscription_id
                self._filters_of.setdefault(subscription_id, set()).add(topic_filter)

    def resubscribed(self, filters: Iterable[str], subscription_id: Optional[int]) -> None:
        """A SUBSCRIBE without a callback replaced the subscriptions to ``filters`` (§3.8.4):
        their routes end, except where the same identifier is given again."""
        for topic_filter in filters:
            if subscription_id is None or self._bound.get(topic_filter) != subscription_id:
                self._unbind(topic_filter)

    def unsubscribed(self, filters: Iterable[str]) -> None:
        """An UNSUBSCRIBE of ``filters``: their routes end."""
        for topic_filter in filters:
            self._unbind(topic_filter)

    def refused(self, topic_filter: str, key: Optional[int]) -> None:
        """The server refused ``topic_filter`` (SUBACK >= 0x80): drop the route that SUBSCRIBE
        made (``key``: its identifier, or ``None`` for a filter route), if it still stands."""
        if key is None:
            if topic_filter in self._filters:
                self._unbind(topic_filter)
        elif self._bound.get(topic_filter) == key:
            self._unbind(topic_filter)

    def _unbind(self, topic_filter: str) -> None:
        subscription_id = self._bound.pop(topic_filter, None)
        if subscription_id is not None:
            filters = self._filters_of[subscription_id]
            filters.discard(topic_filter)
            if not filters:
                del self._filters_of[subscription_id]
                if subscription_id not in self._manual:
                    self.routes.pop(subscription_id, None)
        if self.filter_count and topic_filter in self._filters:
            del self._filters[topic_filter]
            self.filter_count -= 1
            self.routes.pop(topic_filter, None)

    def fresh_id(self, taken: Collection[int] = ()) -> int:
        """An identifier for a new subscription: counting up from 1, skipping those routed or
        in ``taken``; never reused until the counter wraps past the maximum."""
        while True:
            candidate = self._next_id
            self._next_id = candidate + 1 if candidate < MAX_SUBSCRIPTION_IDENTIFIER else 1
            if candidate not in self.routes and candidate not in taken:
                return candidate

    # --- reading ----------------------------------------------------------------------------
    def has_filter(self, topic_filter: str) -> bool:
        """Whether messages of a subscription to ``topic_filter`` are routed."""
        return topic_filter in self._bound or topic_filter in self.routes

    def match(self, topic: str, subscription_ids: Iterable[int]) -> list[Callback]:
        """The callbacks for a message on ``topic`` carrying ``subscription_ids``, each once.

        Identifier routes win; filter routes apply only when none of the message's identifiers
        is routed. An empty list means "not routed": the message takes the ordinary path.
        """
        return self.match_ids(subscription_ids) or self.match_filter(topic)

    def match_ids(self, subscription_ids: Iterable[int]) -> list[Callback]:
        """The callbacks routed for ``subscription_ids``, each once. Only reads ``routes``
        (single dict lookups), so it may run while another thread changes the table."""
        found: list[Callback] = []
        routes = self.routes
        for subscription_id in subscription_ids:
            callback = routes.get(subscription_id)
            if callback is not None and callback not in found:
                found.append(callback)
        return found

    def match_filter(self, topic: str) -> list[Callback]:
        """The callbacks of the filter routes matching ``topic``, each once. The caller
        serialises this with changes (the matcher keeps a cache)."""
        found: list[Callback] = []
        if self.filter_count:
            for callback in self._filters.iter_match(topic):
                if callback not in found:
                    found.append(callback)
        return found
