"""paho-mqtt's ``SubscribeOptions``: the MQTT 5 Subscription Options byte of one topic filter.

Owns the class (MQTT 5.0 §3.8.3.1): maximum QoS (bits 1-0), No Local (bit 2), Retain As
Published (bit 3) and Retain Handling (bits 5-4). Like paho it raises ``AssertionError`` for a
QoS or Retain Handling outside 0..2 and ``MQTTException`` for an unknown attribute. Vocabulary:
standard library only.
"""

from __future__ import annotations

from typing import Any, Union

from mqttclient.errors import MQTTException

__all__ = ["MQTTException", "SubscribeOptions"]

_NAMES = ["QoS", "noLocal", "retainAsPublished", "retainHandling"]


class SubscribeOptions:
    """Options of one subscription (MQTT 5.0 §3.8.3.1).

    Arguments: ``qos`` the maximum QoS the broker may deliver with (0, 1 or 2); ``noLocal``
    True to not receive one's own publications (not allowed on shared subscriptions,
    [MQTT-3.8.3-4]); ``retainAsPublished`` True to keep the publisher's RETAIN flag on
    forwarded messages; ``retainHandling`` when to send retained messages:
    ``RETAIN_SEND_ON_SUBSCRIBE`` (0), ``RETAIN_SEND_IF_NEW_SUB`` (1) or ``RETAIN_DO_NOT_SEND``
    (2). The defaults behave like MQTT 3.1.1. Raises ``AssertionError`` for a bad ``qos`` or
    ``retainHandling``.

    Attributes ``QoS``, ``noLocal``, ``retainAsPublished``, ``retainHandling``; assigning any
    other name raises ``MQTTException``. A plain value: not safe to mutate from two threads.
    """

    RETAIN_SEND_ON_SUBSCRIBE = 0
    RETAIN_SEND_IF_NEW_SUB = 1
    RETAIN_DO_NOT_SEND = 2

    names = _NAMES

    QoS: int
    noLocal: bool
    retainAsPublished: bool
    retainHandling: int

    def __init__(
        self,
        qos: int = 0,
        noLocal: bool = False,
        retainAsPublished: bool = False,
        retainHandling: int = RETAIN_SEND_ON_SUBSCRIBE,
    ) -> None:
        self.QoS = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
        self._check()

    def _check(self) -> None:
        if self.retainHandling not in (0, 1, 2):
            raise AssertionError(f"Retain handling should be 0, 1 or 2, not {self.retainHandling}")
        if self.QoS not in (0, 1, 2):
            raise AssertionError(f"QoS should be 0, 1 or 2, not {self.QoS}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _NAMES:
            raise MQTTException(f"{name} is not a subscribe option; use one of {_NAMES}")
        object.__setattr__(self, name, value)

    def pack(self) -> bytes:
        """Return the Subscription Options byte (``AssertionError`` for a bad QoS or Retain
        Handling)."""
        self._check()
        return bytes(
            [
                (self.retainHandling << 4)
                | (0x08 if self.retainAsPublished else 0)
                | (0x04 if self.noLocal else 0)
                | self.QoS
            ]
        )

    def unpack(self, buffer: Union[bytes, bytearray]) -> int:
        """Read the options from the first byte of ``buffer``; return the bytes used (1).

        Raises ``AssertionError`` for QoS 3 or Retain Handling 3 (a Protocol Error, MQTT 5.0
        §3.8.3.1); the reserved bits 7-6 are ignored, as paho does.
        """
        byte = buffer[0]
        self.retainHandling = (byte >> 4) & 0x03
        self.retainAsPublished = bool(byte & 0x08)
        self.noLocal = bool(byte & 0x04)
        self.QoS = byte & 0x03
        self._check()
        return 1

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return (
            f"{{QoS={self.QoS}, noLocal={self.noLocal}, "
            f"retainAsPublished={self.retainAsPublished}, retainHandling={self.retainHandling}}}"
        )

    def json(self) -> dict[str, Any]:
        """Return the options as a JSON-ready dict."""
        return {
            "QoS": self.QoS,
            "noLocal": self.noLocal,
            "retainAsPublished": self.retainAsPublished,
            "retainHandling": self.retainHandling,
        }
