"""Events the session state machine gives back to the engine.

The session never calls user code: it returns these values and the engine dispatches them to the
façade's callbacks after releasing its lock. ``token`` fields carry an opaque object the caller
gave to ``Session.publish`` (the façade passes its ``MQTTMessageInfo``), handed back untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from mqttclient._core.packets import _SLOTS, Connack, Props, Publish
from mqttclient.errors import ProtocolError

__all__ = [
    "ConnectionAccepted",
    "ConnectionRefused",
    "Event",
    "KeepaliveTimeout",
    "MessageReceived",
    "ProtocolViolation",
    "PublishCompleted",
    "PublishDropped",
    "ServerDisconnected",
    "Subscribed",
    "Unsubscribed",
]


@dataclass(**_SLOTS)
class ConnectionAccepted:
    """A successful CONNACK arrived; the session is connected."""

    connack: Connack


@dataclass(**_SLOTS)
class ConnectionRefused:
    """A failure CONNACK arrived. ``reason_code`` is in MQTT 5 numbering (a 3.x return code is
    converted: 1→0x84, 2→0x85, 3→0x88, 4→0x86, 5→0x87, other→0x80); ``connack`` keeps the raw
    packet (its ``reason_code`` is the raw byte). The engine must close the connection."""

    connack: Connack
    reason_code: int


@dataclass(**_SLOTS)
class MessageReceived:
    """An application message to deliver to the user.

    QoS 0 and 1: delivered on PUBLISH. QoS 2: delivered when the PUBREL arrives (paho's order).
    For QoS 1 and 2 the engine calls ``Session.ack(packet_id, qos)`` once the user's callback has
    returned (unless the user acknowledges manually); that sends PUBACK or PUBCOMP.
    ``publish.topic`` has any incoming topic alias already resolved.
    """

    publish: Publish


@dataclass(**_SLOTS)
class PublishCompleted:
    """An outgoing message is done: QoS 0 written out, QoS 1 PUBACK, QoS 2 PUBCOMP, or (5.0) a
    PUBACK/PUBREC with a failure reason code (>= 0x80), which also ends the flow."""

    token: Any
    mid: int
    qos: int
    reason_code: int = 0
    properties: Props = ()


@dataclass(**_SLOTS)
class PublishDropped:
    """An outgoing message was discarded without being delivered (a QoS 0 message still
    buffered when the connection was lost, or a queued message whose expiry passed)."""

    token: Any
    mid: int
    reason: str


@dataclass(**_SLOTS)
class Subscribed:
    """A SUBACK arrived for ``mid`` (one reason code per filter, raw bytes)."""

    mid: int
    reason_codes: tuple[int, ...]
    properties: Props = ()


@dataclass(**_SLOTS)
class Unsubscribed:
    """An UNSUBACK arrived for ``mid`` (3.x: no reason codes)."""

    mid: int
    reason_codes: tuple[int, ...]
    properties: Props = ()


@dataclass(**_SLOTS)
class ServerDisconnected:
    """The server sent DISCONNECT (5.0). The engine must close the connection."""

    reason_code: int
    properties: Props = ()


@dataclass(**_SLOTS)
class ProtocolViolation:
    """The server broke the protocol. The session has queued a DISCONNECT carrying
    ``error.reason_code`` (5.0, after CONNACK) and stops reading; the engine must flush what is
    queued and close the connection."""

    error: ProtocolError


@dataclass(**_SLOTS)
class KeepaliveTimeout:
    """No packet arrived within 1.5 × keepalive (or no CONNACK within the connect timeout).
    The engine must close the connection."""

    waited_s: float
    reason: str = "keepalive"


Event = Union[
    ConnectionAccepted,
    ConnectionRefused,
    MessageReceived,
    PublishCompleted,
    PublishDropped,
    Subscribed,
    Unsubscribed,
    ServerDisconnected,
    ProtocolViolation,
    KeepaliveTimeout,
]
