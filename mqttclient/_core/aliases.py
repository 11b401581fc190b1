"""Outgoing MQTT 5.0 topic aliases (§3.3.2.3.4): the topic and alias each PUBLISH carries.

Owns: the client → server alias map of the current connection, i.e. what the server holds;
choosing aliases in automatic mode (a bounded least-recently-used map: a topic seen before goes
out as an empty topic plus its alias, a new one takes the next free alias or the least recently
used one's number, sent with the topic); honouring aliases the user put in the PUBLISH
properties (manual mode, paho style) and the topic the user last gave each of them, so that a
PUBLISH with an empty topic can be stored, and replayed on a new connection, with its topic.

Rules kept here: an alias is never 0 [MQTT-3.3.2-8] nor above ``limit`` — the server's Topic
Alias Maximum, and in automatic mode also the user's bound [MQTT-3.3.2-9], [MQTT-3.2.2-17] —
and none is used while ``limit`` is 0 [MQTT-3.2.2-18]; the map dies with the connection
[MQTT-3.3.2-7] (``connection_opened``), so the first PUBLISH of a topic on a connection, a
replay included, carries the topic name. A mapping is recorded only once its PUBLISH is in the
session's ``out`` buffer (``established``), so the map always matches what the server has read
or will read, in byte order.

Must not: touch sockets, threads, the clock or user callbacks; encode packets (the outbox and
the session do, with what :meth:`OutgoingAliases.wire` returns).
"""

from __future__ import annotations

from collections import OrderedDict

from mqttclient import _spec
from mqttclient._core.packets import Props
from mqttclient.errors import InvalidArgumentError

__all__ = ["MAX_ALIAS", "OutgoingAliases", "check_bound", "strip_alias", "user_alias"]

#: The largest Topic Alias a u16 can carry (and the largest bound the option accepts).
MAX_ALIAS = 65535

_TOPIC_ALIAS = _spec.TOPIC_ALIAS


def strip_alias(properties: Props) -> Props:
    """``properties`` without any Topic Alias."""
    return tuple(pair for pair in properties if pair[0] != _TOPIC_ALIAS)


def user_alias(properties: Props) -> int:
    """The Topic Alias the user put in ``properties``; 0 when there is none."""
    for ident, value in properties:
        if ident == _TOPIC_ALIAS:
            return int(value)  # type: ignore[arg-type]
    return 0


class OutgoingAliases:
    """Outgoing topic aliases of one session; the session holds the engine lock around every
    call. ``auto``: the user's bound for automatic aliases (0: manual mode, the user's own
    Topic Alias properties are honoured). ``limit``: the aliases usable on this connection."""

    __slots__ = ("_by_alias", "_intent", "_lru", "auto", "limit", "manual")

    def __init__(self, auto: int) -> None:
        self.auto = auto
        self.limit = 0  # no alias before a CONNACK announces a maximum [MQTT-3.2.2-18]
        #: A message with a user Topic Alias was accepted: aliases must be checked on every send.
        self.manual = False
        # Automatic mode: topic -> alias on this connection, least recently used first.
        self._lru: OrderedDict[str, int] = OrderedDict()
        # Manual mode: alias -> topic the server holds on this connection.
        self._by_alias: dict[int, str] = {}
        # Manual mode: alias -> the topic the user last published with it (any connection).
        self._intent: dict[int, str] = {}

    # --- connections ----------------------------------------------------------------------------
    def connection_opened(self, auto: int) -> None:
        """A new connection: forget every mapping [MQTT-3.3.2-7]; no alias until CONNACK.
        ``auto``: the automatic bound for this connection (the user may change it between
        connections)."""
        self.auto = auto
        self.limit = 0
        self._lru.clear()
        self._by_alias.clear()

    def connacked(self, server_maximum: int) -> None:
        """The CONNACK's Topic Alias Maximum (0 when absent): aliases 1..limit may be used."""
        auto = self.auto
        self.limit = min(auto, server_maximum) if auto else server_maximum

    @property
    def active(self) -> bool:
        """True when PUBLISHes must go through :meth:`wire` on this connection: automatic
        aliases are possible, or messages may carry the user's Topic Alias."""
        return (self.auto > 0 and self.limit > 0) or self.manual

    # --- publishing -----------------------------------------------------------------------------
    def resolve(self, topic: str, alias: int) -> str:
        """Manual mode, at ``publish()``: the topic a PUBLISH with the user's ``alias`` stands
        for. A topic given with it is remembered; an empty topic means the one last given.

        Raises:
            InvalidArgumentError: an empty topic with an alias never given a topic.
        """
        self.manual = True
        if topic:
            self._intent[alias] = topic
            return topic
        known = self._intent.get(alias)
        if known is None:
            raise InvalidArgumentError(
                f"Topic Alias {alias} has no topic yet: publish once with the topic and the "
                "alias (MQTT 5.0 §3.3.2.3.4)"
            )
        return known

    def wire(self, topic: str, properties: Props) -> tuple[str, Props, int]:
        """How to send a PUBLISH of ``topic`` now: ``(topic to encode, properties to encode,
        alias the PUBLISH establishes)``. The alias is 0 when the PUBLISH establishes nothing;
        otherwise call :meth:`established` once the PUBLISH is in ``out``."""
        if self.auto:
            if self.manual:
                properties = strip_alias(properties)  # queued before auto mode: ours replace it
            limit = self.limit
            if not limit or not topic:
                return topic, properties, 0
            lru = self._lru
            alias = lru.get(topic)
            if alias is not None:
                lru.move_to_end(topic)
                return "", (*properties, (_TOPIC_ALIAS, alias)), 0
            # A new topic: the next unused alias, or the least recently used one's number.
            alias = len(lru) + 1 if len(lru) < limit else next(iter(lru.values()))
            return topic, (*properties, (_TOPIC_ALIAS, alias)), alias
        alias = user_alias(properties)
        if not alias:
            return topic, properties, 0
        if alias > self.limit:
            # Only for a message accepted while the limit was unknown, or replayed to a server
            # with a lower maximum: the full topic without the alias is always valid.
            return topic, strip_alias(properties), 0
        if self._by_alias.get(alias) == topic:
            return "", properties, 0
        return topic, properties, alias

    def established(self, topic: str, alias: int) -> None:
        """The PUBLISH :meth:`wire` planned (mapping ``alias`` to ``topic``) is in ``out``."""
        if self.auto:
            lru = self._lru
            if len(lru) >= self.limit:
                lru.popitem(last=False)  # the least recently used topic gives up its alias
            lru[topic] = alias
        else:
            self._by_alias[alias] = topic

    def mapping(self) -> dict[int, str]:
        """Alias -> topic as the server holds them on this connection (for tests and logs)."""
        if self.auto:
            return {alias: topic for topic, alias in self._lru.items()}
        return dict(self._by_alias)


def check_bound(maximum: int) -> int:
    """``maximum`` as an automatic alias bound (0..65535).

    Raises:
        InvalidArgumentError: not an int in 0..65535.
    """
    if isinstance(maximum, bool) or not isinstance(maximum, int) or not 0 <= maximum <= MAX_ALIAS:
        raise InvalidArgumentError(f"topic alias maximum must be 0..{MAX_ALIAS}, not {maximum!r}")
    return maximum
