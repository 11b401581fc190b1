"""The enumerations of paho-mqtt 2.x, with the same member names and values.

Owns the paho-compatible enums that user code compares against: ``MQTTErrorCode`` (return codes
of the façade), ``MQTTProtocolVersion``, ``CallbackAPIVersion``, ``MessageType`` (fixed-header
type nibble, pre-shifted), ``LogLevel``, ``ConnackCode`` (MQTT 3.x CONNACK return codes),
``MessageState``, ``PahoClientMode`` and the private ``_ConnectionState``.

Most are ``IntEnum`` so ``rc == 0`` keeps working; ``rc is 0`` never did. Vocabulary: standard
library only, no behaviour beyond the values.
"""

from __future__ import annotations

import enum

__all__ = [
    "CallbackAPIVersion",
    "ConnackCode",
    "LogLevel",
    "MQTTErrorCode",
    "MQTTProtocolVersion",
    "MessageState",
    "MessageType",
    "PahoClientMode",
]


class MQTTErrorCode(enum.IntEnum):
    """Result codes returned by the paho-compatible ``Client`` methods."""

    MQTT_ERR_AGAIN = -1
    MQTT_ERR_SUCCESS = 0
    MQTT_ERR_NOMEM = 1
    MQTT_ERR_PROTOCOL = 2
    MQTT_ERR_INVAL = 3
    MQTT_ERR_NO_CONN = 4
    MQTT_ERR_CONN_REFUSED = 5
    MQTT_ERR_NOT_FOUND = 6
    MQTT_ERR_CONN_LOST = 7
    MQTT_ERR_TLS = 8
    MQTT_ERR_PAYLOAD_SIZE = 9
    MQTT_ERR_NOT_SUPPORTED = 10
    MQTT_ERR_AUTH = 11
    MQTT_ERR_ACL_DENIED = 12
    MQTT_ERR_UNKNOWN = 13
    MQTT_ERR_ERRNO = 14
    MQTT_ERR_QUEUE_SIZE = 15
    MQTT_ERR_KEEPALIVE = 16


class MQTTProtocolVersion(enum.IntEnum):
    """The protocol level byte sent in CONNECT (MQTT 3.1 = 3, 3.1.1 = 4, 5.0 = 5)."""

    MQTTv31 = 3
    MQTTv311 = 4
    MQTTv5 = 5


class CallbackAPIVersion(enum.Enum):
    """Which argument lists the ``on_*`` callbacks receive.

    ``VERSION1`` is the paho-mqtt 1.x convention, where the arguments depend on the protocol
    version; paho deprecates it and plans to drop it in 3.0. ``VERSION2`` passes the same
    arguments for every protocol version, with ``ReasonCode`` and ``Properties`` also under
    MQTT 3.x.
    """

    VERSION1 = 1
    VERSION2 = 2


class MessageType(enum.IntEnum):
    """Control packet types as the first byte of the fixed header (type << 4, flags zero)."""

    CONNECT = 0x10
    CONNACK = 0x20
    PUBLISH = 0x30
    PUBACK = 0x40
    PUBREC = 0x50
    PUBREL = 0x60
    PUBCOMP = 0x70
    SUBSCRIBE = 0x80
    SUBACK = 0x90
    UNSUBSCRIBE = 0xA0
    UNSUBACK = 0xB0
    PINGREQ = 0xC0
    PINGRESP = 0xD0
    DISCONNECT = 0xE0
    AUTH = 0xF0


class LogLevel(enum.IntEnum):
    """Levels passed to ``on_log`` (bit values, as in libmosquitto)."""

    MQTT_LOG_INFO = 0x01
    MQTT_LOG_NOTICE = 0x02
    MQTT_LOG_WARNING = 0x04
    MQTT_LOG_ERR = 0x08
    MQTT_LOG_DEBUG = 0x10


class ConnackCode(enum.IntEnum):
    """MQTT 3.1 / 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3, Table 3.1)."""

    CONNACK_ACCEPTED = 0
    CONNACK_REFUSED_PROTOCOL_VERSION = 1
    CONNACK_REFUSED_IDENTIFIER_REJECTED = 2
    CONNACK_REFUSED_SERVER_UNAVAILABLE = 3
    CONNACK_REFUSED_BAD_USERNAME_PASSWORD = 4
    CONNACK_REFUSED_NOT_AUTHORIZED = 5


class _ConnectionState(enum.Enum):
    """paho's private connection lifecycle states (values are ``enum.auto()``: 1..7)."""

    MQTT_CS_NEW = enum.auto()
    MQTT_CS_CONNECT_ASYNC = enum.auto()
    MQTT_CS_CONNECTING = enum.auto()
    MQTT_CS_CONNECTED = enum.auto()
    MQTT_CS_CONNECTION_LOST = enum.auto()
    MQTT_CS_DISCONNECTING = enum.auto()
    MQTT_CS_DISCONNECTED = enum.auto()


class MessageState(enum.IntEnum):
    """Where an in-flight message stands in its QoS flow (paho's ``mqtt_ms_*`` values)."""

    MQTT_MS_INVALID = 0
    MQTT_MS_PUBLISH = 1
    MQTT_MS_WAIT_FOR_PUBACK = 2
    MQTT_MS_WAIT_FOR_PUBREC = 3
    MQTT_MS_RESEND_PUBREL = 4
    MQTT_MS_WAIT_FOR_PUBREL = 5
    MQTT_MS_RESEND_PUBCOMP = 6
    MQTT_MS_WAIT_FOR_PUBCOMP = 7
    MQTT_MS_SEND_PUBREC = 8
    MQTT_MS_QUEUED = 9


class PahoClientMode(enum.IntEnum):
    """A normal client, or a bridge (``enable_bridge_mode``: protocol level MSB set)."""

    MQTT_CLIENT = 0
    MQTT_BRIDGE = 1
