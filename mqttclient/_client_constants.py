"""paho-mqtt's module-level names for ``mqttclient.client``, and the argument helpers the
façade's parts share.

Owns: the constants paho's ``client`` module defines (``MQTT_ERR_*``, ``CONNACK_*``,
``MQTT_LOG_*``, message types and states, protocol versions), its type aliases
(``PayloadType`` ...), its functions (``error_string``, ``connack_string``, ``convert_*``) and
private helpers that programs use (``_base62``, ``_socketpair_compat``, ``_force_bytes``,
``_encode_payload``), plus the checks of ``publish()``, ``will_set()`` and ``subscribe()``
arguments. ``mqttclient.client`` re-exports every public name, so ``import mqttclient.client as
mqtt`` keeps working as with paho.

Must not: hold state, or import ``mqttclient.client`` or the ``Client`` mixins.
"""

from __future__ import annotations

import logging
import socket
import string
import time
from typing import Any, Callable, Literal, Optional, Union

from mqttclient import _spec
from mqttclient._callbacks import disconnect_reason, v3_connack_reason
from mqttclient._core.packets import Props, Subscription, get_prop
from mqttclient.enums import (
    ConnackCode,
    LogLevel,
    MessageState,
    MessageType,
    MQTTErrorCode,
    MQTTProtocolVersion,
    PahoClientMode,
)
from mqttclient.errors import InvalidTopicError
from mqttclient.matcher import validate_topic_filter, validate_topic_name
from mqttclient.message import MQTTMessageInfo
from mqttclient.properties import Properties
from mqttclient.reasoncodes import ReasonCode
from mqttclient.subscribeoptions import SubscribeOptions

__all__ = [
    "EAGAIN",
    "time_func",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
    "MQTT_LOG_INFO",
    "MQTT_LOG_NOTICE",
    "MQTT_LOG_WARNING",
    "MQTT_LOG_ERR",
    "MQTT_LOG_DEBUG",
    "LOGGING_LEVEL",
    "CONNACK_ACCEPTED",
    "CONNACK_REFUSED_PROTOCOL_VERSION",
    "CONNACK_REFUSED_IDENTIFIER_REJECTED",
    "CONNACK_REFUSED_SERVER_UNAVAILABLE",
    "CONNACK_REFUSED_BAD_USERNAME_PASSWORD",
    "CONNACK_REFUSED_NOT_AUTHORIZED",
    "mqtt_ms_invalid",
    "mqtt_ms_publish",
    "mqtt_ms_wait_for_puback",
    "mqtt_ms_wait_for_pubrec",
    "mqtt_ms_resend_pubrel",
    "mqtt_ms_wait_for_pubrel",
    "mqtt_ms_resend_pubcomp",
    "mqtt_ms_wait_for_pubcomp",
    "mqtt_ms_send_pubrec",
    "mqtt_ms_queued",
    "MQTT_ERR_AGAIN",
    "MQTT_ERR_SUCCESS",
    "MQTT_ERR_NOMEM",
    "MQTT_ERR_PROTOCOL",
    "MQTT_ERR_INVAL",
    "MQTT_ERR_NO_CONN",
    "MQTT_ERR_CONN_REFUSED",
    "MQTT_ERR_NOT_FOUND",
    "MQTT_ERR_CONN_LOST",
    "MQTT_ERR_TLS",
    "MQTT_ERR_PAYLOAD_SIZE",
    "MQTT_ERR_NOT_SUPPORTED",
    "MQTT_ERR_AUTH",
    "MQTT_ERR_ACL_DENIED",
    "MQTT_ERR_UNKNOWN",
    "MQTT_ERR_ERRNO",
    "MQTT_ERR_QUEUE_SIZE",
    "MQTT_ERR_KEEPALIVE",
    "MQTTv31",
    "MQTTv311",
    "MQTTv5",
    "MQTT_CLIENT",
    "MQTT_BRIDGE",
    "MQTT_CLEAN_START_FIRST_ONLY",
    "sockpair_data",
    "PayloadType",
    "HTTPHeader",
    "WebSocketHeaders",
    "CleanStartOption",
    "DEFAULT_QUEUE_LIMIT",
    "error_string",
    "connack_string",
    "convert_connack_rc_to_reason_code",
    "convert_disconnect_error_code_to_reason_code",
]

EAGAIN = 11
time_func = time.monotonic

CONNECT = MessageType.CONNECT
CONNACK = MessageType.CONNACK
PUBLISH = MessageType.PUBLISH
PUBACK = MessageType.PUBACK
PUBREC = MessageType.PUBREC
PUBREL = MessageType.PUBREL
PUBCOMP = MessageType.PUBCOMP
SUBSCRIBE = MessageType.SUBSCRIBE
SUBACK = MessageType.SUBACK
UNSUBSCRIBE = MessageType.UNSUBSCRIBE
UNSUBACK = MessageType.UNSUBACK
PINGREQ = MessageType.PINGREQ
PINGRESP = MessageType.PINGRESP
DISCONNECT = MessageType.DISCONNECT
AUTH = MessageType.AUTH

MQTT_LOG_INFO = LogLevel.MQTT_LOG_INFO
MQTT_LOG_NOTICE = LogLevel.MQTT_LOG_NOTICE
MQTT_LOG_WARNING = LogLevel.MQTT_LOG_WARNING
MQTT_LOG_ERR = LogLevel.MQTT_LOG_ERR
MQTT_LOG_DEBUG = LogLevel.MQTT_LOG_DEBUG
LOGGING_LEVEL = {
    LogLevel.MQTT_LOG_DEBUG: logging.DEBUG,
    LogLevel.MQTT_LOG_INFO: logging.INFO,
    LogLevel.MQTT_LOG_NOTICE: logging.INFO,
    LogLevel.MQTT_LOG_WARNING: logging.WARNING,
    LogLevel.MQTT_LOG_ERR: logging.ERROR,
}

CONNACK_ACCEPTED = ConnackCode.CONNACK_ACCEPTED
CONNACK_REFUSED_PROTOCOL_VERSION = ConnackCode.CONNACK_REFUSED_PROTOCOL_VERSION
CONNACK_REFUSED_IDENTIFIER_REJECTED = ConnackCode.CONNACK_REFUSED_IDENTIFIER_REJECTED
CONNACK_REFUSED_SERVER_UNAVAILABLE = ConnackCode.CONNACK_REFUSED_SERVER_UNAVAILABLE
CONNACK_REFUSED_BAD_USERNAME_PASSWORD = ConnackCode.CONNACK_REFUSED_BAD_USERNAME_PASSWORD
CONNACK_REFUSED_NOT_AUTHORIZED = ConnackCode.CONNACK_REFUSED_NOT_AUTHORIZED

mqtt_ms_invalid = MessageState.MQTT_MS_INVALID
mqtt_ms_publish = MessageState.MQTT_MS_PUBLISH
mqtt_ms_wait_for_puback = MessageState.MQTT_MS_WAIT_FOR_PUBACK
mqtt_ms_wait_for_pubrec = MessageState.MQTT_MS_WAIT_FOR_PUBREC
mqtt_ms_resend_pubrel = MessageState.MQTT_MS_RESEND_PUBREL
mqtt_ms_wait_for_pubrel = MessageState.MQTT_MS_WAIT_FOR_PUBREL
mqtt_ms_resend_pubcomp = MessageState.MQTT_MS_RESEND_PUBCOMP
mqtt_ms_wait_for_pubcomp = MessageState.MQTT_MS_WAIT_FOR_PUBCOMP
mqtt_ms_send_pubrec = MessageState.MQTT_MS_SEND_PUBREC
mqtt_ms_queued = MessageState.MQTT_MS_QUEUED

MQTT_ERR_AGAIN = MQTTErrorCode.MQTT_ERR_AGAIN
MQTT_ERR_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
MQTT_ERR_NOMEM = MQTTErrorCode.MQTT_ERR_NOMEM
MQTT_ERR_PROTOCOL = MQTTErrorCode.MQTT_ERR_PROTOCOL
MQTT_ERR_INVAL = MQTTErrorCode.MQTT_ERR_INVAL
MQTT_ERR_NO_CONN = MQTTErrorCode.MQTT_ERR_NO_CONN
MQTT_ERR_CONN_REFUSED = MQTTErrorCode.MQTT_ERR_CONN_REFUSED
MQTT_ERR_NOT_FOUND = MQTTErrorCode.MQTT_ERR_NOT_FOUND
MQTT_ERR_CONN_LOST = MQTTErrorCode.MQTT_ERR_CONN_LOST
MQTT_ERR_TLS = MQTTErrorCode.MQTT_ERR_TLS
MQTT_ERR_PAYLOAD_SIZE = MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE
MQTT_ERR_NOT_SUPPORTED = MQTTErrorCode.MQTT_ERR_NOT_SUPPORTED
MQTT_ERR_AUTH = MQTTErrorCode.MQTT_ERR_AUTH
MQTT_ERR_ACL_DENIED = MQTTErrorCode.MQTT_ERR_ACL_DENIED
MQTT_ERR_UNKNOWN = MQTTErrorCode.MQTT_ERR_UNKNOWN
MQTT_ERR_ERRNO = MQTTErrorCode.MQTT_ERR_ERRNO
MQTT_ERR_QUEUE_SIZE = MQTTErrorCode.MQTT_ERR_QUEUE_SIZE
MQTT_ERR_KEEPALIVE = MQTTErrorCode.MQTT_ERR_KEEPALIVE

MQTTv31 = MQTTProtocolVersion.MQTTv31
MQTTv311 = MQTTProtocolVersion.MQTTv311
MQTTv5 = MQTTProtocolVersion.MQTTv5

MQTT_CLIENT = PahoClientMode.MQTT_CLIENT
MQTT_BRIDGE = PahoClientMode.MQTT_BRIDGE

MQTT_CLEAN_START_FIRST_ONLY: Literal[3] = 3

sockpair_data = b"0"

PayloadType = Union[str, bytes, bytearray, int, float, None]
HTTPHeader = dict[str, str]
WebSocketHeaders = Union[Callable[[HTTPHeader], HTTPHeader], HTTPHeader]
CleanStartOption = Union[bool, Literal[3]]

#: The bound on QoS 1/2 messages held (queued or in flight) when ``max_queued_messages`` is 0.
#: paho-mqtt has none and grows without limit while offline (docs/migration-from-paho.rst).
DEFAULT_QUEUE_LIMIT = 1_000_000

_ERROR_STRINGS = {
    MQTTErrorCode.MQTT_ERR_SUCCESS: "No error.",
    MQTTErrorCode.MQTT_ERR_NOMEM: "Out of memory.",
    MQTTErrorCode.MQTT_ERR_PROTOCOL: "A network protocol error occurred when communicating with the broker.",
    MQTTErrorCode.MQTT_ERR_INVAL: "Invalid function arguments provided.",
    MQTTErrorCode.MQTT_ERR_NO_CONN: "The client is not currently connected.",
    MQTTErrorCode.MQTT_ERR_CONN_REFUSED: "The connection was refused.",
    MQTTErrorCode.MQTT_ERR_NOT_FOUND: "Message not found (internal error).",
    MQTTErrorCode.MQTT_ERR_CONN_LOST: "The connection was lost.",
    MQTTErrorCode.MQTT_ERR_TLS: "A TLS error occurred.",
    MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE: "Payload too large.",
    MQTTErrorCode.MQTT_ERR_NOT_SUPPORTED: "This feature is not supported.",
    MQTTErrorCode.MQTT_ERR_AUTH: "Authorisation failed.",
    MQTTErrorCode.MQTT_ERR_ACL_DENIED: "Access denied by ACL.",
    MQTTErrorCode.MQTT_ERR_UNKNOWN: "Unknown error.",
    MQTTErrorCode.MQTT_ERR_ERRNO: "Error defined by errno.",
    MQTTErrorCode.MQTT_ERR_QUEUE_SIZE: "Message queue full.",
    MQTTErrorCode.MQTT_ERR_KEEPALIVE: "Client or broker did not communicate in the keepalive interval.",
}

_CONNACK_STRINGS = {
    0: "Connection Accepted.",
    1: "Connection Refused: unacceptable protocol version.",
    2: "Connection Refused: identifier rejected.",
    3: "Connection Refused: broker unavailable.",
    4: "Connection Refused: bad user name or password.",
    5: "Connection Refused: not authorised.",
}


def error_string(mqtt_errno: Union[MQTTErrorCode, int]) -> str:
    """The English text for an ``MQTTErrorCode`` (paho's wording)."""
    try:
        return _ERROR_STRINGS.get(MQTTErrorCode(mqtt_errno), "Unknown error.")
    except ValueError:
        return "Unknown error."


def connack_string(connack_code: Union[int, ReasonCode]) -> str:
    """The text for a CONNACK code: a ``ReasonCode``'s name or paho's 3.x wording."""
    if isinstance(connack_code, ReasonCode):
        return str(connack_code)
    return _CONNACK_STRINGS.get(connack_code, "Connection Refused: unknown reason.")


def convert_connack_rc_to_reason_code(connack_code: ConnackCode) -> ReasonCode:
    """Convert an MQTT 3.x CONNACK return code to the equivalent MQTT 5 ``ReasonCode``."""
    return v3_connack_reason(int(connack_code))


def convert_disconnect_error_code_to_reason_code(rc: MQTTErrorCode) -> ReasonCode:
    """Convert the ``MQTTErrorCode`` of a local disconnect to a DISCONNECT ``ReasonCode``."""
    return disconnect_reason(rc)


def _base62(num: int, base: str = string.digits + string.ascii_letters, padding: int = 1) -> str:
    """``num`` in base 62 (used for random client ids), left-padded to ``padding`` digits."""
    if num < 0:
        raise ValueError("Number must be positive or zero")
    out: list[str] = []
    while num:
        num, rest = divmod(num, 62)
        out.append(base[rest])
    while len(out) < padding:
        out.append(base[0])
    return "".join(reversed(out))


def _socketpair_compat() -> tuple[socket.socket, socket.socket]:
    """A connected, non-blocking socket pair."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def _force_bytes(s: Union[str, bytes, bytearray]) -> Union[bytes, bytearray]:
    if isinstance(s, str):
        return s.encode("utf-8")
    return s


def _encode_payload(payload: PayloadType) -> bytes:
    """paho's payload rules: str → UTF-8, int/float → their text, None → empty, bytes as is."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if payload is None:
        return b""
    if isinstance(payload, bytearray):
        return bytes(payload)
    if isinstance(payload, (int, float)):
        return str(payload).encode("ascii")
    raise TypeError("payload must be a string, bytearray, int, float or None.")


def _validate_publish_topic(topic: str, v5: bool) -> None:
    if topic is None or (not topic and not v5):
        raise InvalidTopicError("Invalid topic.")
    if "+" in topic or "#" in topic:
        raise InvalidTopicError("Publish topic cannot contain wildcards.")
    if "\x00" in topic:
        raise InvalidTopicError("Topic cannot contain U+0000.")
    # An ASCII topic of at most 65,535 characters encodes fine; only others need encoding here
    # (a message queued offline is encoded later, on the network thread) [MQTT-1.5.4-1].
    if len(topic) > 16383 or not topic.isascii():
        try:
            if len(topic.encode("utf-8")) > 65535:
                raise InvalidTopicError("Publish topic is too long (over 65535 bytes).")
        except UnicodeEncodeError as exc:
            raise InvalidTopicError("Topic is not valid UTF-8.") from exc


def _check_publish_properties(topic: str, pairs: Props) -> None:
    """The rules on a PUBLISH's properties that the codec cannot know."""
    idents = [ident for ident, _ in pairs]
    if not topic and _spec.TOPIC_ALIAS not in idents:
        raise ValueError("Invalid topic.")
    if _spec.SUBSCRIPTION_IDENTIFIER in idents:
        # [MQTT-3.3.4-6]: only the server puts Subscription Identifiers in a PUBLISH.
        raise ValueError("a PUBLISH from a client must not carry a Subscription Identifier")
    response_topic = get_prop(pairs, _spec.RESPONSE_TOPIC)
    if response_topic is not None:
        # [MQTT-3.3.2-14]: the Response Topic is a topic name (no wildcards), not a filter.
        try:
            validate_topic_name(response_topic)
        except InvalidTopicError as exc:
            raise InvalidTopicError(f"invalid Response Topic: {exc}") from exc


def _transport_kind(value: str) -> str:
    """The ``transport`` argument, lower-cased and checked (paho accepts any case)."""
    value = value.lower()
    if value not in ("tcp", "websockets", "unix"):
        raise ValueError(f'transport must be "websockets", "tcp" or "unix", not {value}')
    return value


def _pairs(properties: Optional[Properties]) -> Props:
    if properties is None:
        return ()
    return properties.to_pairs()


class _Unset:
    def __repr__(self) -> str:
        return "CallbackAPIVersion.VERSION1 (deprecated default)"


_UNSET: Any = _Unset()


def _restored_info(mid: int, seq: int) -> MQTTMessageInfo:
    """The ``MQTTMessageInfo`` of a message restored from the store."""
    info = MQTTMessageInfo(mid)
    info.seq = seq
    return info


def _subscription_list(
    topic: Any, qos: int, options: Optional[SubscribeOptions], v5: bool
) -> tuple[Subscription, ...]:
    """``subscribe()``'s arguments as ``Subscription`` values (one filter, a ``(filter, qos or
    SubscribeOptions)`` pair, or a list of pairs); ``ValueError`` for anything invalid."""
    if options is not None and qos != 0:
        raise ValueError("Subscribe options and qos parameters cannot be combined.")
    if isinstance(topic, tuple):
        topic = [topic]
    if isinstance(topic, str):
        entries: list[tuple[str, Any]] = [(topic, options if options is not None else qos)]
    elif isinstance(topic, list):
        if not topic:
            raise ValueError("Empty topic list")
        entries = list(topic)
    else:
        raise ValueError("Invalid topic.")
    result: list[Subscription] = []
    for entry in entries:
        try:
            flt, spec = entry
        except (TypeError, ValueError) as exc:
            raise ValueError("Invalid topic.") from exc
        if not isinstance(flt, str) or not flt:
            raise ValueError("Invalid topic.")
        try:
            validate_topic_filter(flt)
        except InvalidTopicError as exc:
            raise ValueError(str(exc)) from exc
        if isinstance(spec, SubscribeOptions):
            if not v5:
                raise ValueError("Subscribe options are only supported with MQTT 5.0")
            if spec.noLocal and flt.startswith("$share/"):
                raise ValueError(
                    f"No Local on a shared subscription is a protocol error "
                    f"([MQTT-3.8.3-4]): {flt!r}"
                )
            result.append(
                Subscription(
                    flt,
                    spec.QoS,
                    bool(spec.noLocal),
                    bool(spec.retainAsPublished),
                    int(spec.retainHandling),
                )
            )
        else:
            if spec not in (0, 1, 2) or isinstance(spec, bool):
                raise ValueError("Invalid QoS level.")
            result.append(Subscription(flt, int(spec)))
    return tuple(result)
