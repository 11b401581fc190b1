"""``MQTTMessage`` and ``MQTTMessageInfo``: paho-mqtt's message values.

``MQTTMessageInfo`` is returned by ``Client.publish``; it is created once per message on the hot
path, so it holds plain slots and makes its ``threading.Event`` only when somebody waits.
``wait_for_publish`` refuses to block the network-loop thread (a callback waiting for its own
acknowledgement could never be woken) and, unlike paho, waits for messages that were queued
while offline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional, Union

from mqttclient.enums import MQTTErrorCode
from mqttclient.errors import InvalidStateError

if TYPE_CHECKING:
    from mqttclient.properties import Properties

__all__ = ["MQTTMessage", "MQTTMessageInfo"]

# Marks the threads that are running a client's network loop (``loop_forever``, the
# ``loop_start`` thread) or its callbacks: such a thread would have to complete the message
# that ``wait_for_publish`` waits for, so waiting there could never end.
network_loop = threading.local()

_ERRORS_NOT_FATAL = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN)


def _error_string(rc: int) -> str:
    # Imported late: client.py imports this module.
    from mqttclient.client import error_string

    return error_string(rc)


class MQTTMessageInfo:
    """The outcome of a ``publish()``: its ``mid``, a return code ``rc`` and whether the message
    has been published (QoS 0: written to the network; QoS 1: PUBACK; QoS 2: PUBCOMP).

    For compatibility with paho-mqtt 1.x it also behaves as the tuple ``(rc, mid)``.

    ``seq`` is an identifier that stays the same for the life of the message (``mid`` is reused
    by the protocol and is only unique among messages in flight): the acceptance sequence number
    of a QoS 1/2 message (or a QoS 0 message queued offline), never reused by the client or its
    store, so it identifies the message across restarts (docs/durable-sessions.rst); 0 for a
    QoS 0 message written at once.
    """

    __slots__ = (
        "_event",
        "_iterpos",
        "_published",
        "_waitable",
        "mid",
        "rc",
        "seq",
    )

    def __init__(self, mid: int) -> None:
        self.mid = mid
        self.rc: MQTTErrorCode = MQTTErrorCode.MQTT_ERR_SUCCESS
        self.seq = 0
        self._published = False
        self._event: Optional[threading.Event] = None
        self._iterpos = 0
        # Whether wait_for_publish() may wait even though rc reports NO_CONN: a QoS 1/2 message
        # queued while offline is sent after the next CONNACK.
        self._waitable = False

    def __str__(self) -> str:
        return str((self.rc, self.mid))

    def __repr__(self) -> str:
        return f"MQTTMessageInfo(mid={self.mid}, rc={int(self.rc)}, published={self._published})"

    def __iter__(self) -> Iterator[int]:
        self._iterpos = 0
        return self

    def __next__(self) -> int:
        if self._iterpos == 0:
            self._iterpos = 1
            return self.rc
        if self._iterpos == 1:
            self._iterpos = 2
            return self.mid
        raise StopIteration

    def next(self) -> int:
        """paho-mqtt 1.x iteration over ``(rc, mid)``."""
        return self.__next__()

    def __getitem__(self, index: int) -> int:
        if index == 0:
            return self.rc
        if index == 1:
            return self.mid
        raise IndexError("index out of range")

    def __len__(self) -> int:
        return 2

    def _set_as_published(self) -> None:
        """Mark published and wake any waiter. Called by the network loop."""
        # Order matters without a lock: publish the flag first, then look for a waiter's event.
        # A waiter stores its event before re-checking the flag, so one side always sees the
        # other (CPython executes each attribute store and load atomically).
        self._published = True
        event = self._event
        if event is not None:
            event.set()

    def _check_rc(self) -> None:
        if self.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise ValueError("Message is not queued due to ERR_QUEUE_SIZE")
        if self.rc not in _ERRORS_NOT_FATAL and not (self._waitable and not self._published):
            raise RuntimeError(f"Message publish failed: {_error_string(self.rc)}")

    def wait_for_publish(self, timeout: Optional[float] = None) -> None:
        """Block until the message is published or ``timeout`` seconds pass (then return
        quietly; check ``is_published()``).

        Raises ``ValueError`` if the message was refused because the queue was full and
        ``RuntimeError`` if publishing failed. Raises ``mqttclient.errors.InvalidStateError``
        (a ``RuntimeError``) when called on the network-loop thread for a message that is not
        published yet: that thread is the one that would complete it.

        Thread: any thread but the network loop's.
        """
        self._check_rc()
        if self._published:
            return
        if getattr(network_loop, "depth", 0):
            raise InvalidStateError(
                "wait_for_publish() called from a callback on the network-loop thread: the "
                "message can only be acknowledged once the callback returns"
            )
        event = self._event
        if event is None:
            event = threading.Event()
            self._event = event
        if not self._published:
            event.wait(timeout)
        self._check_rc()

    def is_published(self) -> bool:
        """True once the message is published; raises as ``wait_for_publish`` does."""
        self._check_rc()
        return self._published


class MQTTMessage:
    """An application message delivered to ``on_message``.

    ``topic`` is the UTF-8 topic (``str``); ``payload`` bytes; ``qos``; ``retain`` and ``dup``
    booleans; ``mid`` the packet id (0 for QoS 0); ``properties`` the MQTT 5 PUBLISH properties
    (``None`` under 3.x); ``timestamp`` the monotonic time it was received. Messages compare equal
    when their ``mid`` is equal, as in paho-mqtt.
    """

    __slots__ = (
        "_topic",
        "dup",
        "info",
        "mid",
        "payload",
        "properties",
        "qos",
        "retain",
        "state",
        "timestamp",
    )

    def __init__(self, mid: int = 0, topic: bytes = b"") -> None:
        self.timestamp = 0.0
        self.state = 0
        self.dup = False
        self.mid = mid
        self._topic = topic
        self.payload = b""
        self.qos = 0
        self.retain = False
        self.info = MQTTMessageInfo(mid)
        self.properties: Optional[Properties] = None

    @classmethod
    def _received(
        cls,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        dup: bool,
        mid: int,
        properties: Optional[Properties],
    ) -> MQTTMessage:
        """Build a received message without the per-field defaults (hot path)."""
        msg = cls.__new__(cls)
        msg.timestamp = time.monotonic()
        msg.state = 0
        msg.dup = dup
        msg.mid = mid
        msg._topic = topic  # type: ignore[assignment]  # str until someone asks for bytes
        msg.payload = payload
        msg.qos = qos
        msg.retain = retain
        msg.properties = properties
        return msg

    def __getattr__(self, name: str) -> Any:
        # ``info`` is created lazily for received messages; nothing else is dynamic.
        if name == "info":
            info = MQTTMessageInfo(self.mid)
            self.info = info
            return info
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MQTTMessage):
            return NotImplemented
        return self.mid == other.mid

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    @property
    def topic(self) -> str:
        """The topic as text (UTF-8 decoded)."""
        topic: Union[str, bytes] = self._topic
        if isinstance(topic, bytes):
            return topic.decode("utf-8")
        return topic

    @topic.setter
    def topic(self, value: bytes) -> None:
        self._topic = value

    def __repr__(self) -> str:
        # Payloads are never shown: they may hold secrets or be huge.
        return (
            f"MQTTMessage(topic={self.topic!r}, qos={self.qos}, retain={self.retain}, "
            f"mid={self.mid}, payload=<{len(self.payload)} bytes>)"
        )
