"""Durable session state: the ``Store`` protocol every store implements, and ``MemoryStore``.

Owns: the write-through interface through which the session records every change to the state
that must outlive a process (DESIGN.md principle 7): outgoing QoS 1/2 messages from acceptance to
completion with their flow state, incoming QoS 2 messages between PUBLISH and PUBCOMP, the
subscriptions the client made, and the session fields (client id, protocol version, the highest
stable sequence number handed out). It also defines the values a store gives back when a session
starts (:class:`StoreContents`). ``MemoryStore`` keeps all of it in the process (paho-mqtt's
behaviour: nothing survives the process, but a new ``Client`` given the same ``MemoryStore``
resumes where the old one stopped). The SQLite store lives in ``sqlitestore.py``.

Must not: touch sockets, threads or the clock; know about connections; call back. The session
calls a store with the engine lock held, so a store needs no lock of its own.

How the session uses a store (the rules a store may rely on):

- ``add_message`` when ``publish()`` accepts a QoS 1/2 message (already in its first state),
  ``update_message`` when its state or packet id changes, ``remove_message`` when it completes or
  is dropped. QoS 0 messages are never given to a store.
- ``add_incoming`` when a new QoS 2 PUBLISH is stored (before its PUBREC is sent),
  ``remove_incoming`` when its PUBCOMP is queued (after delivery) or the connection it was
  delivered on is gone, ``clear_incoming`` when the server reports no session.
- ``commit`` makes every change so far durable. Write-ahead: the engine calls it (through
  ``Session.persist``) before it writes any byte the session queued, so the store never lags
  behind what the server was told. ``publish()`` also commits before it returns when
  ``commit_on_publish`` is true. Changes between commits form one batch; a crash loses at most
  the uncommitted batch, never a committed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional, Protocol

from mqttclient._core.packets import _SLOTS, Props, Publish, Subscription

__all__ = ["MemoryStore", "MessageRecord", "Store", "StoreContents", "StoredMessage"]


class MessageRecord(Protocol):
    """What a store reads from an outgoing message (``outbox.OutMessage`` has these fields)."""

    @property
    def seq(self) -> int:
        """Stable id: acceptance order, unique for the life of the store, never reused."""

    @property
    def mid(self) -> int:
        """The mid ``publish()`` returned."""

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def qos(self) -> int: ...

    @property
    def retain(self) -> bool: ...

    @property
    def properties(self) -> Props: ...

    @property
    def state(self) -> int:
        """``outbox.QUEUED``, ``AWAIT_PUBACK``, ``AWAIT_PUBREC`` or ``AWAIT_PUBCOMP``."""

    @property
    def packet_id(self) -> int:
        """The wire packet id once sent (kept for every re-send), else 0."""

    @property
    def expiry_wall(self) -> float:
        """Wall-clock (Unix) time at which an unsent message expires (MQTT 5.0 Message Expiry
        Interval), 0.0 for none."""


@dataclass(frozen=True, **_SLOTS)
class StoredMessage:
    """An outgoing message as a store gives it back (the fields of :class:`MessageRecord`)."""

    seq: int
    mid: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Props
    state: int
    packet_id: int
    expiry_wall: float = 0.0

    @classmethod
    def of(cls, msg: MessageRecord) -> StoredMessage:
        """A snapshot of ``msg``."""
        return cls(
            msg.seq,
            msg.mid,
            msg.topic,
            msg.payload,
            msg.qos,
            msg.retain,
            msg.properties,
            msg.state,
            msg.packet_id,
            msg.expiry_wall,
        )


@dataclass(frozen=True, **_SLOTS)
class StoreContents:
    """Everything a store holds, as loaded when a session starts.

    ``client_id`` is ``""`` and ``protocol_version`` 0 for a new store. ``messages`` are in
    ``seq`` order; ``subscriptions`` in the order they were (last) made; ``last_seq`` is the
    highest ``seq`` ever added (messages since completed included), so new ids stay unique.
    """

    client_id: str = ""
    protocol_version: int = 0
    last_seq: int = 0
    messages: tuple[StoredMessage, ...] = ()
    incoming: tuple[Publish, ...] = ()
    subscriptions: tuple[tuple[Subscription, Props], ...] = ()


class Store(Protocol):
    """Where a session keeps the state that must survive a restart (see the module docstring).

    Every method is called with the engine lock held, from whichever thread holds it. Methods
    raise ``mqttclient.errors.StoreError`` when the underlying storage fails.
    """

    #: True when ``publish()`` must ``commit()`` before returning, so that an accepted message
    #: is durable at once; False lets commits batch (once per loop iteration).
    commit_on_publish: bool

    def load(self) -> StoreContents:
        """Everything committed so far (a ``MemoryStore`` also returns uncommitted changes)."""
        ...

    def set_session(self, client_id: str, protocol_version: int) -> None:
        """Record the session's client id and protocol version."""
        ...

    def add_message(self, msg: MessageRecord) -> None:
        """Record a newly accepted outgoing message (replaces one with the same ``seq``)."""
        ...

    def update_message(self, msg: MessageRecord) -> None:
        """Record ``msg``'s new ``state`` and ``packet_id``; ignored if its ``seq`` is not
        stored."""
        ...

    def remove_message(self, msg: MessageRecord) -> None:
        """Forget the message with ``msg.seq`` (completed or dropped); ignored if unknown."""
        ...

    def add_incoming(self, publish: Publish) -> None:
        """Record an incoming QoS 2 PUBLISH by its packet id (replaces one with the same id)."""
        ...

    def remove_incoming(self, packet_id: int) -> None:
        """Forget an incoming QoS 2 message; ignored if unknown."""
        ...

    def clear_incoming(self) -> None:
        """Forget every incoming QoS 2 message (the server has no session any more)."""
        ...

    def put_subscription(self, subscription: Subscription, properties: Props) -> None:
        """Record a granted subscription (replaces one with the same topic filter and moves it
        to the end of the order)."""
        ...

    def remove_subscription(self, topic_filter: str) -> None:
        """Forget a subscription; ignored if unknown."""
        ...

    def commit(self) -> None:
        """Make every change so far durable (no-op when nothing changed)."""
        ...

    def close(self) -> None:
        """Commit and release the storage. Idempotent."""
        ...


class MemoryStore:
    """The default store: the session state lives in this object, in memory.

    Nothing survives the process (paho-mqtt's behaviour), but handing the same ``MemoryStore``
    to a new ``Client`` resumes the session in the same process. Commits are free, so
    ``commit_on_publish`` is False.

    It keeps no index of the outgoing messages of the session using it: that session's outbox
    already holds the live message objects, in their current state, and the session hands the
    store a way to read them (``attach``), which ``load()`` uses. A message then costs the store
    nothing on the publish path (memory per message queued offline, docs/performance.rst).
    Until a session attaches, the messages given to ``add_message`` are kept in a dict.
    """

    commit_on_publish = False

    __slots__ = (
        "_client_id",
        "_incoming",
        "_last_seq",
        "_live",
        "_messages",
        "_subscriptions",
        "_version",
    )

    def __init__(self) -> None:
        self._client_id = ""
        self._version = 0
        self._last_seq = 0
        self._messages: dict[int, MessageRecord] = {}
        self._live: Optional[Callable[[], Sequence[MessageRecord]]] = None
        self._incoming: dict[int, Publish] = {}
        self._subscriptions: dict[str, tuple[Subscription, Props]] = {}

    def __repr__(self) -> str:
        return (
            f"MemoryStore(client_id={self._client_id!r}, messages={len(self._outgoing())}, "
            f"incoming={len(self._incoming)}, subscriptions={len(self._subscriptions)})"
        )

    def attach(self, live: Callable[[], Sequence[MessageRecord]]) -> None:
        """From now on the outgoing messages are ``live()``: the unfinished messages of the
        session that restored this store's contents (it calls this right after ``load()``),
        as its own objects. The messages kept so far are forgotten (that session holds them
        now), and the message calls below only track ``last_seq``. A later session that
        attaches replaces the earlier one."""
        self._live = live
        self._messages.clear()

    def _outgoing(self) -> list[MessageRecord]:
        messages = list(self._messages.values())
        if self._live is not None:
            messages += self._live()
        return messages

    def load(self) -> StoreContents:
        messages = sorted(self._outgoing(), key=_by_seq)
        return StoreContents(
            self._client_id,
            self._version,
            self._last_seq,
            tuple(StoredMessage.of(m) for m in messages),
            tuple(self._incoming.values()),
            tuple(self._subscriptions.values()),
        )

    def set_session(self, client_id: str, protocol_version: int) -> None:
        self._client_id = client_id
        self._version = protocol_version

    def add_message(self, msg: MessageRecord) -> None:
        seq = msg.seq
        if seq > self._last_seq:
            self._last_seq = seq
        if self._live is None:
            self._messages[seq] = msg

    def update_message(self, msg: MessageRecord) -> None:
        if self._live is None and msg.seq in self._messages:
            self._messages[msg.seq] = msg

    def remove_message(self, msg: MessageRecord) -> None:
        if self._live is None:
            self._messages.pop(msg.seq, None)

    def add_incoming(self, publish: Publish) -> None:
        self._incoming[publish.packet_id] = publish

    def remove_incoming(self, packet_id: int) -> None:
        self._incoming.pop(packet_id, None)

    def clear_incoming(self) -> None:
        self._incoming.clear()

    def put_subscription(self, subscription: Subscription, properties: Props) -> None:
        subs = self._subscriptions
        subs.pop(subscription.topic_filter, None)
        subs[subscription.topic_filter] = (subscription, properties)

    def remove_subscription(self, topic_filter: str) -> None:
        self._subscriptions.pop(topic_filter, None)

    def commit(self) -> None:
        pass

    def close(self) -> None:
        pass


def _by_seq(msg: MessageRecord) -> int:
    return msg.seq
