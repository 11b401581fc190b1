"""The paho-mqtt 2.x compatible client: ``import mqttclient.client as mqtt``.

This module is the façade. It checks arguments at the public edge, keeps paho's setters, return
codes and callback shapes, and is the one place where typed exceptions become ``MQTTErrorCode``
values. The protocol lives in ``mqttclient._core.session``, the network loop in
``mqttclient._io.loop``.

Threading: every public method may be called from any thread, including from inside callbacks.
Callbacks run on the thread that drives the network loop, never while a library lock is held.
"""

from __future__ import annotations

import logging
import socket
import string
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Union

from mqttclient import _spec
from mqttclient._auth_client import EnhancedAuthMixin
from mqttclient._callbacks import (
    ConnectFlags,
    DisconnectFlags,
    disconnect_reason,
    v3_connack_reason,
)
from mqttclient._core import events as ev
from mqttclient._core.aliases import check_bound
from mqttclient._core.config import QUEUE_FULL_POLICIES
from mqttclient._core.packets import Props, Subscription, Will, get_prop
from mqttclient._core.session import Session, SessionConfig, SessionState
from mqttclient._core.store import Store
from mqttclient._io.loop import ConnState, Engine, ReconnectPolicy
from mqttclient._io.tlsconfig import TLSSettings, build_tls_context
from mqttclient._io.transport import ConnectParams, ProxySettings, discover_proxy
from mqttclient._io.websocket import WebSocketSettings
from mqttclient._request import RequestMixin
from mqttclient._server_policy import ServerPolicyMixin
from mqttclient.enums import (
    CallbackAPIVersion,
    ConnackCode,
    LogLevel,
    MessageState,
    MessageType,
    MQTTErrorCode,
    MQTTProtocolVersion,
    PahoClientMode,
)
from mqttclient.errors import (
    ConnectionFailedError,
    FeatureNotAvailableError,
    InvalidArgumentError,
    InvalidTopicError,
    MQTTException,
    PayloadTooLargeError,
    QueueFullError,
    WebsocketConnectionError,
)
from mqttclient.matcher import MQTTMatcher, topic_matches_sub, validate_topic_filter
from mqttclient.message import MQTTMessage, MQTTMessageInfo, network_loop
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import MalformedPacket, Properties
from mqttclient.reasoncodes import ReasonCode, ReasonCodes
from mqttclient.subscribeoptions import SubscribeOptions

if TYPE_CHECKING:
    import ssl as _ssl_module

try:
    import ssl
except ImportError:  # pragma: no cover - CPython always has ssl here
    ssl = None  # type: ignore[assignment]

try:
    import socks  # type: ignore[import-untyped]
except ImportError:  # PySocks is the optional "proxy" extra
    socks = None

try:
    import dns.resolver  # type: ignore[import-not-found]

    HAVE_DNS = True
except ImportError:
    HAVE_DNS = False

__all__ = [
    "AUTH",
    "CONNACK",
    "CONNACK_ACCEPTED",
    "CONNACK_REFUSED_BAD_USERNAME_PASSWORD",
    "CONNACK_REFUSED_IDENTIFIER_REJECTED",
    "CONNACK_REFUSED_NOT_AUTHORIZED",
    "CONNACK_REFUSED_PROTOCOL_VERSION",
    "CONNACK_REFUSED_SERVER_UNAVAILABLE",
    "CONNECT",
    "CallbackAPIVersion",
    "CallbackOnConnect",
    "CallbackOnConnectFail",
    "CallbackOnConnect_v1",
    "CallbackOnConnect_v1_mqtt3",
    "CallbackOnConnect_v1_mqtt5",
    "CallbackOnConnect_v2",
    "CallbackOnDisconnect",
    "CallbackOnDisconnect_v1",
    "CallbackOnDisconnect_v1_mqtt3",
    "CallbackOnDisconnect_v1_mqtt5",
    "CallbackOnDisconnect_v2",
    "CallbackOnLog",
    "CallbackOnMessage",
    "CallbackOnPreConnect",
    "CallbackOnPublish",
    "CallbackOnPublish_v1",
    "CallbackOnPublish_v2",
    "CallbackOnSocket",
    "CallbackOnSubscribe",
    "CallbackOnSubscribe_v1",
    "CallbackOnSubscribe_v1_mqtt3",
    "CallbackOnSubscribe_v1_mqtt5",
    "CallbackOnSubscribe_v2",
    "CallbackOnUnsubscribe",
    "CallbackOnUnsubscribe_v1",
    "CallbackOnUnsubscribe_v1_mqtt3",
    "CallbackOnUnsubscribe_v1_mqtt5",
    "CallbackOnUnsubscribe_v2",
    "CleanStartOption",
    "Client",
    "Credentials",
    "ConnackCode",
    "ConnectFlags",
    "DEFAULT_QUEUE_LIMIT",
    "DISCONNECT",
    "DisconnectFlags",
    "EAGAIN",
    "HAVE_DNS",
    "HTTPHeader",
    "LOGGING_LEVEL",
    "MalformedPacket",
    "LogLevel",
    "MQTTErrorCode",
    "MQTTMatcher",
    "MQTTMessage",
    "MQTTMessageInfo",
    "MQTTProtocolVersion",
    "MQTT_BRIDGE",
    "MQTT_CLEAN_START_FIRST_ONLY",
    "MQTT_CLIENT",
    "MQTT_ERR_ACL_DENIED",
    "MQTT_ERR_AGAIN",
    "MQTT_ERR_AUTH",
    "MQTT_ERR_CONN_LOST",
    "MQTT_ERR_CONN_REFUSED",
    "MQTT_ERR_ERRNO",
    "MQTT_ERR_INVAL",
    "MQTT_ERR_KEEPALIVE",
    "MQTT_ERR_NOMEM",
    "MQTT_ERR_NOT_FOUND",
    "MQTT_ERR_NOT_SUPPORTED",
    "MQTT_ERR_NO_CONN",
    "MQTT_ERR_PAYLOAD_SIZE",
    "MQTT_ERR_PROTOCOL",
    "MQTT_ERR_QUEUE_SIZE",
    "MQTT_ERR_SUCCESS",
    "MQTT_ERR_TLS",
    "MQTT_ERR_UNKNOWN",
    "MQTT_LOG_DEBUG",
    "MQTT_LOG_ERR",
    "MQTT_LOG_INFO",
    "MQTT_LOG_NOTICE",
    "MQTT_LOG_WARNING",
    "MQTTv31",
    "MQTTv311",
    "MQTTv5",
    "MessageState",
    "MessageType",
    "PINGREQ",
    "PINGRESP",
    "PUBACK",
    "PUBCOMP",
    "PUBLISH",
    "PUBREC",
    "PUBREL",
    "PacketTypes",
    "PahoClientMode",
    "PayloadType",
    "Properties",
    "ReasonCode",
    "ReasonCodes",
    "SUBACK",
    "SUBSCRIBE",
    "SubscribeOptions",
    "UNSUBACK",
    "UNSUBSCRIBE",
    "WebSocketHeaders",
    "WebsocketConnectionError",
    "connack_string",
    "convert_connack_rc_to_reason_code",
    "convert_disconnect_error_code_to_reason_code",
    "error_string",
    "mqtt_ms_invalid",
    "mqtt_ms_publish",
    "mqtt_ms_queued",
    "mqtt_ms_resend_pubcomp",
    "mqtt_ms_resend_pubrel",
    "mqtt_ms_send_pubrec",
    "mqtt_ms_wait_for_puback",
    "mqtt_ms_wait_for_pubcomp",
    "mqtt_ms_wait_for_pubrec",
    "mqtt_ms_wait_for_pubrel",
    "sockpair_data",
    "time_func",
    "topic_matches_sub",
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

CallbackOnConnect_v1_mqtt3 = Callable[["Client", Any, dict[str, Any], MQTTErrorCode], None]
CallbackOnConnect_v1_mqtt5 = Callable[
    ["Client", Any, dict[str, Any], ReasonCode, Optional[Properties]], None
]
CallbackOnConnect_v1 = Union[CallbackOnConnect_v1_mqtt5, CallbackOnConnect_v1_mqtt3]
CallbackOnConnect_v2 = Callable[["Client", Any, ConnectFlags, ReasonCode, Properties], None]
CallbackOnConnect = Union[CallbackOnConnect_v1, CallbackOnConnect_v2]
CallbackOnConnectFail = Callable[["Client", Any], None]
CallbackOnDisconnect_v1_mqtt3 = Callable[["Client", Any, MQTTErrorCode], None]
CallbackOnDisconnect_v1_mqtt5 = Callable[
    ["Client", Any, Union[ReasonCode, int, None], Optional[Properties]], None
]
CallbackOnDisconnect_v1 = Union[CallbackOnDisconnect_v1_mqtt3, CallbackOnDisconnect_v1_mqtt5]
CallbackOnDisconnect_v2 = Callable[["Client", Any, DisconnectFlags, ReasonCode, Properties], None]
CallbackOnDisconnect = Union[CallbackOnDisconnect_v1, CallbackOnDisconnect_v2]
CallbackOnLog = Callable[["Client", Any, int, str], None]
CallbackOnMessage = Callable[["Client", Any, MQTTMessage], None]
CallbackOnPreConnect = Callable[["Client", Any], None]
CallbackOnPublish_v1 = Callable[["Client", Any, int], None]
CallbackOnPublish_v2 = Callable[["Client", Any, int, ReasonCode, Properties], None]
CallbackOnPublish = Union[CallbackOnPublish_v1, CallbackOnPublish_v2]
CallbackOnSocket = Callable[["Client", Any, Any], None]
CallbackOnSubscribe_v1_mqtt3 = Callable[["Client", Any, int, tuple[int, ...]], None]
CallbackOnSubscribe_v1_mqtt5 = Callable[["Client", Any, int, list[ReasonCode], Properties], None]
CallbackOnSubscribe_v1 = Union[CallbackOnSubscribe_v1_mqtt3, CallbackOnSubscribe_v1_mqtt5]
CallbackOnSubscribe_v2 = Callable[["Client", Any, int, list[ReasonCode], Properties], None]
CallbackOnSubscribe = Union[CallbackOnSubscribe_v1, CallbackOnSubscribe_v2]
CallbackOnUnsubscribe_v1_mqtt3 = Callable[["Client", Any, int], None]
CallbackOnUnsubscribe_v1_mqtt5 = Callable[
    ["Client", Any, int, Properties, Union[ReasonCode, list[ReasonCode]]], None
]
CallbackOnUnsubscribe_v1 = Union[CallbackOnUnsubscribe_v1_mqtt3, CallbackOnUnsubscribe_v1_mqtt5]
CallbackOnUnsubscribe_v2 = Callable[["Client", Any, int, list[ReasonCode], Properties], None]
CallbackOnUnsubscribe = Union[CallbackOnUnsubscribe_v1, CallbackOnUnsubscribe_v2]

_ = (
    ReasonCodes,
    SubscribeOptions,
    MQTTMatcher,
    PacketTypes,
    MQTTException,
    WebsocketConnectionError,
)

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
    if response_topic is not None and ("+" in response_topic or "#" in response_topic):
        # [MQTT-3.3.2-14]: the Response Topic is a topic name, not a filter.
        raise ValueError(f"Response Topic must not contain wildcards: {response_topic!r}")


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


@dataclass(frozen=True)
class Credentials:
    """What a credentials provider returns (see ``Client.credentials_provider_set``):
    ``username``, ``password`` (``str`` or ``bytes``) and optionally WebSocket headers for the
    next handshake (e.g. an ``Authorization`` header)."""

    username: Optional[str] = None
    password: Union[str, bytes, None] = field(default=None, repr=False)
    websocket_headers: Optional[dict[str, str]] = None


class Client(EnhancedAuthMixin, ServerPolicyMixin, RequestMixin):
    """An MQTT client with paho-mqtt 2.x's API. See the module docstring.

    ``callback_api_version``: ``CallbackAPIVersion.VERSION2`` (recommended) or ``VERSION1``;
    omitted means VERSION1 with a ``DeprecationWarning`` (as paho-mqtt 2.1+). A ``str`` in its
    place is read as paho-mqtt 1.x's ``Client(client_id, clean_session, userdata, protocol,
    transport)`` and also warns.
    """

    def __init__(
        self,
        callback_api_version: CallbackAPIVersion = _UNSET,
        client_id: Optional[str] = "",
        clean_session: Optional[bool] = None,
        userdata: Any = None,
        protocol: MQTTProtocolVersion = MQTTv311,
        transport: Literal["tcp", "websockets", "unix"] = "tcp",
        reconnect_on_failure: bool = True,
        manual_ack: bool = False,
        *,
        store: Optional[Store] = None,
        resubscribe: bool = False,
    ) -> None:
        """``store`` (keyword only, an addition to paho): where the session state is kept —
        ``mqttclient.MemoryStore()`` (the default, paho's behaviour) or
        ``mqttclient.SqliteStore(path)``, which makes accepted QoS 1/2 messages survive a crash
        or a reboot; a store holding a previous session's state resumes it (with that client
        id when ``client_id`` is empty). ``resubscribe``: after a CONNACK without a session,
        subscribe again to every subscription made (and kept in the store). See
        docs/durable-sessions.rst. Raises ``mqttclient.errors.StoreError`` if the store cannot
        be read."""
        if isinstance(callback_api_version, str):
            # paho-mqtt 1.x positional order: (client_id, clean_session, userdata, protocol,
            # transport, reconnect_on_failure).
            warnings.warn(
                "Client(client_id, ...) is the paho-mqtt 1.x signature; pass "
                "CallbackAPIVersion.VERSION2 first (using VERSION1 callbacks)",
                DeprecationWarning,
                stacklevel=2,
            )
            shifted = (
                client_id,
                clean_session,
                userdata,
                protocol,
                transport,
                reconnect_on_failure,
            )
            client_id = callback_api_version
            old: tuple[Any, ...] = shifted
            clean_session = old[0] if old[0] != "" else None
            userdata = old[1]
            protocol = old[2] if old[2] is not None else MQTTv311
            transport = old[3] if isinstance(old[3], str) else "tcp"  # type: ignore[assignment]
            reconnect_on_failure = old[4] if isinstance(old[4], bool) else True
            callback_api_version = CallbackAPIVersion.VERSION1
        elif callback_api_version is _UNSET:
            warnings.warn(
                "Callback API version 1 is deprecated, update to latest version",
                category=DeprecationWarning,
                stacklevel=2,
            )
            callback_api_version = CallbackAPIVersion.VERSION1
        if callback_api_version not in (CallbackAPIVersion.VERSION1, CallbackAPIVersion.VERSION2):
            raise ValueError("Unsupported callback API version")
        self._callback_api_version = CallbackAPIVersion(callback_api_version)

        transport = _transport_kind(transport)  # type: ignore[assignment]
        if transport == "unix" and not hasattr(socket, "AF_UNIX"):
            raise ValueError('"unix" transport not supported')
        self._transport: str = transport
        self._protocol = MQTTProtocolVersion(protocol)
        self._userdata = userdata
        self._manual_ack = manual_ack
        self.suppress_exceptions = False
        self._logger: Optional[logging.Logger] = None

        if self._protocol == MQTTv5:
            if clean_session is not None:
                raise ValueError("Clean session is not used for MQTT 5.0")
            clean = True
        else:
            clean = True if clean_session is None else bool(clean_session)
            if not clean and not client_id:
                raise ValueError("A client id must be provided if clean session is False.")
        self._clean_session = clean
        if client_id is None:
            client_id = ""
        raw_id: Any = client_id
        if isinstance(raw_id, bytes):
            client_id = raw_id.decode("utf-8")
        if not client_id and self._protocol == MQTTv31:
            # MQTT 3.1 servers require 1..23 characters (paho generates one too).
            client_id = _base62(uuid.uuid4().int, padding=22)
        self._client_id: str = client_id

        self._host = ""
        self._port = 1883
        self._keepalive = 60
        self._bind_address = ""
        self._bind_port = 0
        self._connect_timeout = 5.0
        self._username: Optional[str] = None
        self._password: Optional[bytes] = None
        self._will: Optional[Will] = None
        self._max_inflight = 20
        self._max_queued = 0
        self._max_queued_bytes = 0
        self._queue_full_policy = "refuse"
        self._queue_qos0_offline = False
        self._resubscribe = bool(resubscribe)
        self._topic_alias_auto = 0
        self._clean_start: Any = MQTT_CLEAN_START_FIRST_ONLY
        self._connect_properties: Optional[Properties] = None
        self._bridge = False
        self._tls: Optional[TLSSettings] = None
        self._tls_insecure = False
        self._proxy: Optional[ProxySettings] = None
        self._websocket = WebSocketSettings()
        self._reconnect_on_failure = reconnect_on_failure
        self._retry_now = False
        self._credentials_provider: Optional[Callable[[], Credentials]] = None
        self._provider_headers: Optional[dict[str, str]] = None
        self._strict_credentials = False

        self._init_callbacks()
        self._session = Session(
            self._session_config(), store, wall_offset=time.time() - time.monotonic()
        )
        self._restored: list[MQTTMessageInfo] = self._session.adopt_restored(_restored_info)
        self._engine = Engine(self._session, self)
        self._engine.reconnect_on_failure = reconnect_on_failure
        self._thread: Optional[threading.Thread] = None

    def __repr__(self) -> str:
        return (
            f"<mqttclient.Client client_id={self._client_id!r} host={self._host!r} "
            f"port={self._port} state={self._engine.state.name}>"
        )

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and engine.thread is None:
            engine.shutdown()

    # ------------------------------------------------------------------------------------------
    # configuration

    def _session_config(self) -> SessionConfig:
        v5 = self._protocol == MQTTv5
        if self._protocol == MQTTv31 and not self._client_id:
            # MQTT 3.1 servers require 1..23 characters (paho generates one too).
            self._client_id = _base62(uuid.uuid4().int, padding=22)
        return SessionConfig(
            client_id=self._client_id,
            protocol_version=int(self._protocol),
            clean_start=self._clean_start if v5 else self._clean_session,
            keepalive_s=self._keepalive,
            username=self._username,
            # 3.x sends a password only with a user name [MQTT-3.1.2-22] (paho drops it);
            # 5.0 allows a password alone (§3.1.2.9).
            password=self._password if (v5 or self._username is not None) else None,
            will=self._will,
            connect_properties=_pairs(self._connect_properties) if v5 else (),
            bridge=self._bridge,
            max_inflight=self._max_inflight,
            connack_timeout_s=max(self._connect_timeout, float(self._keepalive or 30)),
            max_queued_messages=self._max_queued or DEFAULT_QUEUE_LIMIT,
            max_queued_bytes=self._max_queued_bytes,
            queue_full_policy=self._queue_full_policy,
            queue_qos0_offline=self._queue_qos0_offline,
            resubscribe=self._resubscribe,
            topic_alias_auto=self._topic_alias_auto if v5 else 0,
            authenticator=self._authenticator if v5 else None,
        )

    def _apply_config(self) -> None:
        """Copy settings into the session's config before a connection starts."""
        config = self._session.config
        fresh = self._session_config()
        # Wall-clock time for Message Expiry kept across restarts (the clock may have moved).
        self._session.wall_offset = time.time() - time.monotonic()
        # The broker may have assigned a client id (MQTT 5) or a downgrade changed the version.
        if self._client_id == "" and config.client_id:
            fresh.client_id = config.client_id
        for name in (
            "client_id",
            "protocol_version",
            "clean_start",
            "keepalive_s",
            "username",
            "password",
            "will",
            "connect_properties",
            "bridge",
            "max_inflight",
            "connack_timeout_s",
            "topic_alias_auto",
            "authenticator",
        ):
            setattr(config, name, getattr(fresh, name))

    def _closed_for_config(self) -> bool:
        state = self._engine.state
        return state == ConnState.NEW or (
            state in (ConnState.DISCONNECTING, ConnState.DISCONNECTED, ConnState.CONNECTION_LOST)
            and self._engine.transport is None
        )

    def _ensure_closed(self, what: str) -> None:
        if not self._closed_for_config():
            raise RuntimeError(f"updating {what} on established connection is not supported")

    @property
    def host(self) -> str:
        """Broker host (or the socket path with the "unix" transport)."""
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._ensure_closed("host")
        if not value:
            raise ValueError("Invalid host.")
        self._host = value

    @property
    def port(self) -> int:
        return self._port

    @port.setter
    def port(self, value: int) -> None:
        self._ensure_closed("port")
        if value <= 0:
            raise ValueError("Invalid port number.")
        self._port = value

    @property
    def keepalive(self) -> int:
        return self._keepalive

    @keepalive.setter
    def keepalive(self, value: int) -> None:
        self._ensure_closed("keepalive")
        if value < 0:
            raise ValueError("Keepalive must be >=0.")
        self._keepalive = value

    @property
    def transport(self) -> str:
        return self._transport

    @transport.setter
    def transport(self, value: str) -> None:
        self._ensure_closed("transport")
        self._transport = _transport_kind(value)

    @property
    def protocol(self) -> MQTTProtocolVersion:
        return self._protocol

    @property
    def connect_timeout(self) -> float:
        """Seconds that DNS, TCP, proxy, TLS and WebSocket handshakes may take together."""
        return self._connect_timeout

    @connect_timeout.setter
    def connect_timeout(self, value: float) -> None:
        self._ensure_closed("connect_timeout")
        if value <= 0.0:
            raise ValueError("timeout must be a positive number")
        self._connect_timeout = value

    @property
    def username(self) -> Optional[str]:
        return self._username

    @username.setter
    def username(self, value: Optional[str]) -> None:
        self._ensure_closed("username")
        self._username = value

    @property
    def password(self) -> Optional[str]:
        if self._password is None:
            return None
        return self._password.decode("utf-8", "replace")

    @password.setter
    def password(self, value: Optional[str]) -> None:
        self._ensure_closed("password")
        self._password = None if value is None else _force_bytes(value)  # type: ignore[assignment]

    @property
    def max_inflight_messages(self) -> int:
        return self._max_inflight

    @max_inflight_messages.setter
    def max_inflight_messages(self, value: int) -> None:
        self._ensure_closed("max_inflight_messages")
        self.max_inflight_messages_set(value)

    @property
    def max_queued_messages(self) -> int:
        return self._max_queued

    @max_queued_messages.setter
    def max_queued_messages(self, value: int) -> None:
        self._ensure_closed("max_queued_messages")
        self.max_queued_messages_set(value)

    @property
    def will_topic(self) -> str:
        """The will's topic ("" when no will is set, as paho)."""
        return "" if self._will is None else self._will.topic

    @property
    def will_payload(self) -> bytes:
        """The will's payload (b"" when no will is set, as paho)."""
        return b"" if self._will is None else self._will.payload

    @property
    def logger(self) -> Optional[logging.Logger]:
        return self._logger

    @logger.setter
    def logger(self, value: Optional[logging.Logger]) -> None:
        self._logger = value

    @property
    def callback_api_version(self) -> CallbackAPIVersion:
        return self._callback_api_version

    @property
    def client_id(self) -> str:
        """The client id in use (the broker-assigned one once MQTT 5 CONNACK gave one)."""
        return self._session.config.client_id or self._client_id

    def reinitialise(
        self, client_id: str = "", clean_session: bool = True, userdata: Any = None
    ) -> None:
        """Reset the client to a new state (paho's ``reinitialise``); the callback API version is
        kept."""
        self._engine.close_now()
        self._engine.shutdown()
        version = self._callback_api_version
        self.__init__(version, client_id, clean_session, userdata)  # type: ignore[misc]

    def user_data_set(self, userdata: Any) -> None:
        self._userdata = userdata

    def user_data_get(self) -> Any:
        return self._userdata

    def username_pw_set(self, username: Optional[str], password: Optional[str] = None) -> None:
        """Set the credentials for the next connect (also valid inside ``on_pre_connect``)."""
        self._username = username
        self._password = None if password is None else _force_bytes(password)  # type: ignore[assignment]

    def enable_bridge_mode(self) -> None:
        """Flag the connection as a bridge (mosquitto/RSMB convention)."""
        self._bridge = True

    def enable_logger(self, logger: Optional[logging.Logger] = None) -> None:
        """Send the client's log messages to ``logger`` (default ``mqttclient.client``)."""
        if logger is None:
            if self._logger is not None:
                return
            logger = logging.getLogger(__name__)
        self._logger = logger

    def disable_logger(self) -> None:
        self._logger = None

    def reconnect_delay_set(
        self, min_delay: float = 1, max_delay: float = 120, jitter: float = 0.0
    ) -> None:
        """Backoff between reconnect attempts: ``min_delay`` doubling to ``max_delay`` seconds.
        ``jitter`` (0..1, an addition to paho) shortens each wait by a random fraction."""
        if min_delay < 0 or max_delay < min_delay or not 0.0 <= jitter <= 1.0:
            raise ValueError("invalid reconnect delay")
        self._engine.policy = ReconnectPolicy(float(min_delay), float(max_delay), float(jitter))

    def max_inflight_messages_set(self, inflight: int) -> None:
        """At most ``inflight`` QoS 1/2 messages unacknowledged at once (0 = no limit of ours;
        the broker's Receive Maximum still applies)."""
        if inflight < 0:
            raise ValueError("Invalid inflight.")
        self._max_inflight = inflight
        self._session.config.max_inflight = inflight

    def max_queued_messages_set(self, queue_size: int) -> Client:
        """At most ``queue_size`` QoS 1/2 messages held (queued + in flight); 0 means the
        library default bound (``DEFAULT_QUEUE_LIMIT``)."""
        if queue_size < 0:
            raise ValueError("Invalid queue size.")
        if not isinstance(queue_size, int):
            raise ValueError("Invalid type of queue size.")
        self._max_queued = queue_size
        with self._engine.lock:
            self._session.config.max_queued_messages = queue_size or DEFAULT_QUEUE_LIMIT
        return self

    def max_queued_bytes_set(self, queue_bytes: int) -> Client:
        """At most ``queue_bytes`` bytes of payload held in messages queued or in flight (QoS
        1/2, and QoS 0 queued with ``queue_qos0_offline_set``); 0 (the default) means no bound
        in bytes. When a ``publish()`` would exceed it, ``queue_full_policy_set`` decides. An
        addition to paho. Thread: any."""
        if not isinstance(queue_bytes, int) or isinstance(queue_bytes, bool) or queue_bytes < 0:
            raise ValueError("Invalid queue size in bytes.")
        self._max_queued_bytes = queue_bytes
        with self._engine.lock:
            self._session.config.max_queued_bytes = queue_bytes
        return self

    def queue_full_policy_set(self, policy: str) -> Client:
        """What ``publish()`` does when ``max_queued_messages`` or ``max_queued_bytes`` is
        reached: ``"refuse"`` (the default, paho's) returns ``MQTT_ERR_QUEUE_SIZE`` for the new
        message; ``"drop_oldest"`` drops the oldest messages never sent to make room (their
        ``MQTTMessageInfo.rc`` becomes ``MQTT_ERR_QUEUE_SIZE``; messages already sent are never
        dropped, so the new one is still refused if only those fill the queue). An addition to
        paho. Thread: any."""
        if policy not in QUEUE_FULL_POLICIES:
            raise ValueError(f"policy must be one of {', '.join(QUEUE_FULL_POLICIES)}")
        self._queue_full_policy = policy
        with self._engine.lock:
            self._session.config.queue_full_policy = policy
        return self

    def queue_qos0_offline_set(self, queue: bool) -> Client:
        """Keep QoS 0 messages published while no connection is open and send them after the
        next CONNACK, in publish order with QoS 1/2 messages (paho drops them; so does the
        default). They count against the queue bounds, are kept in memory only (never in a
        store), and ``publish()`` returns ``MQTT_ERR_NO_CONN`` for them, as for QoS 1/2 messages
        queued offline, while ``wait_for_publish()`` waits. An addition to paho. Thread: any."""
        self._queue_qos0_offline = bool(queue)
        with self._engine.lock:
            self._session.config.queue_qos0_offline = bool(queue)
        return self

    def topic_alias_auto_set(self, maximum: int) -> Client:
        """MQTT 5: let the client give outgoing topics aliases, at most ``maximum`` of them per
        connection (and never more than the broker's Topic Alias Maximum); 0 (the default, as
        in paho) turns it off. A topic's first PUBLISH on a connection carries the topic and
        its alias, later ones only the alias; when all are taken, the least recently used
        alias is given to the new topic. Aliases start afresh on every connection, so messages
        re-sent after a reconnect carry their topic. The bound applies from the next connection;
        from this call on, a ``publish()`` with its own ``TopicAlias`` property raises
        ``ValueError`` (mixing both would make aliases collide). Any thread. Returns the
        client.

        Raises ``ValueError`` for a value outside 0..65535 or a client not using MQTT 5."""
        maximum = check_bound(maximum)
        if maximum and self._protocol != MQTTv5:
            raise ValueError("topic aliases need MQTT 5.0 (protocol=MQTTv5)")
        self._topic_alias_auto = maximum
        with self._engine.lock:
            # At once for the TopicAlias check in publish(); the connection in progress keeps
            # its aliases (the session applies the bound at the next CONNECT).
            self._session.config.topic_alias_auto = maximum
        return self

    @property
    def store(self) -> Store:
        """The store holding the session state (see ``Client(store=...)``)."""
        return self._session.store

    def restored_messages(self) -> list[MQTTMessageInfo]:
        """The QoS 1/2 messages this client found unfinished in its store when it was created
        (accepted by an earlier process and not yet acknowledged), in acceptance order, as
        ``MQTTMessageInfo`` objects: ``mid`` (what ``on_publish`` will report), ``seq`` (the
        stable id ``publish()`` gave them), and ``wait_for_publish()``/``is_published()`` work
        on them. They are sent after the next CONNACK. An addition to paho. Thread: any."""
        return list(self._restored)

    def message_retry_set(self, retry: int) -> None:
        """Removed in paho-mqtt 2.0 (no retries while connected, as MQTT 5 requires); kept as a
        no-op so old programs run."""
        warnings.warn("message_retry_set() has no effect", DeprecationWarning, stacklevel=2)

    def manual_ack_set(self, on: bool) -> None:
        """Acknowledge received QoS 1/2 messages yourself with ``ack()``."""
        self._manual_ack = bool(on)

    def will_set(
        self,
        topic: str,
        payload: PayloadType = None,
        qos: int = 0,
        retain: bool = False,
        properties: Optional[Properties] = None,
    ) -> None:
        """The message the broker publishes if the connection ends without DISCONNECT."""
        if not topic:
            raise ValueError("Invalid topic.")
        _validate_publish_topic(topic, v5=False)
        if qos not in (0, 1, 2):
            raise ValueError("Invalid QoS level.")
        if properties is not None and not isinstance(properties, Properties):
            raise ValueError("The properties argument must be an instance of the Properties class.")
        self._will = Will(topic, _encode_payload(payload), qos, bool(retain), _pairs(properties))

    def will_clear(self) -> None:
        self._will = None

    # --- transports ---------------------------------------------------------------------------
    def tls_set(
        self,
        ca_certs: Optional[str] = None,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        cert_reqs: Optional[_ssl_module.VerifyMode] = None,
        tls_version: Optional[int] = None,
        ciphers: Optional[str] = None,
        keyfile_password: Optional[str] = None,
        alpn_protocols: Optional[list[str]] = None,
        *,
        trust_store: Literal["certifi", "system"] = "certifi",
    ) -> None:
        """Enable TLS. Certificates and host names are verified; without ``ca_certs`` the CA
        bundle of ``certifi`` is trusted, or the operating system's store with
        ``trust_store="system"`` (an addition to paho's signature). TLS 1.2 is the minimum
        unless ``tls_version`` says otherwise. Bad files raise ``ValueError`` naming the file."""
        if self._tls is not None:
            raise ValueError("SSL/TLS has already been configured.")
        context = build_tls_context(
            ca_certs=ca_certs,
            certfile=certfile,
            keyfile=keyfile,
            cert_reqs=cert_reqs,
            tls_version=tls_version,
            ciphers=ciphers,
            keyfile_password=keyfile_password,
            alpn_protocols=alpn_protocols,
            trust_store=trust_store,
        )
        self._tls = TLSSettings(context)
        if ssl is not None and cert_reqs == ssl.CERT_NONE:
            self.tls_insecure_set(True)

    def tls_set_context(self, context: Optional[_ssl_module.SSLContext] = None) -> None:
        """Enable TLS with ``context`` (default: a verifying context with certifi's bundle)."""
        if self._tls is not None:
            raise ValueError("SSL/TLS has already been configured.")
        if context is None:
            context = build_tls_context()
        self._tls = TLSSettings(context)
        if not context.check_hostname:
            self._tls_insecure = True

    def tls_insecure_set(self, value: bool) -> None:
        """Turn hostname verification off (``True``) or on. Certificates are still verified
        unless the context says otherwise."""
        if self._tls is None:
            raise ValueError("Must configure SSL context before using tls_insecure_set.")
        self._tls_insecure = bool(value)
        context = self._tls.context
        if value:
            context.check_hostname = False
        elif context.verify_mode != (ssl.CERT_NONE if ssl else 0):
            context.check_hostname = True

    def ws_set_options(
        self, path: str = "/mqtt", headers: Optional[WebSocketHeaders] = None
    ) -> None:
        """WebSocket path and extra headers (a dict, or a callable given the default headers and
        called on every handshake)."""
        if headers is not None and not (isinstance(headers, dict) or callable(headers)):
            raise ValueError(
                "'headers' option to ws_set_options has to be either a dictionary or callable"
            )
        self._websocket = WebSocketSettings(path=path, headers=headers)

    def proxy_set(self, **proxy_args: Any) -> None:
        """Connect through a SOCKS4/5 or HTTP proxy (PySocks): ``proxy_type``, ``proxy_addr``,
        ``proxy_port``, ``proxy_rdns``, ``proxy_username``, ``proxy_password``."""
        if socks is None:
            raise InvalidArgumentError(
                '"PySocks" is required for proxies: pip install mqttclient[proxy]'
            )
        if not proxy_args.get("proxy_type") or not proxy_args.get("proxy_addr"):
            raise ValueError("proxy_type and/or proxy_addr are invalid")
        self._proxy = ProxySettings.from_kwargs(proxy_args)

    def _websocket_settings(self) -> WebSocketSettings:
        """The user's WebSocket options with the credentials provider's headers on top."""
        extra = self._provider_headers
        if not extra:
            return self._websocket
        base = self._websocket.headers

        def headers(defaults: dict[str, str]) -> dict[str, str]:
            merged = dict(defaults)
            if callable(base):
                merged = dict(base(merged))
            elif base:
                merged.update(base)
            merged.update(extra)
            return merged

        return WebSocketSettings(path=self._websocket.path, headers=headers)

    def _connect_params(self) -> ConnectParams:
        host, port = self._connect_target()  # client.host, or a server it was redirected to
        proxy = None if self._transport == "unix" else discover_proxy(host, self._proxy)
        return ConnectParams(
            host=host,
            port=port,
            transport=self._transport,
            bind_address=self._bind_address,
            bind_port=self._bind_port,
            tls=self._tls,
            proxy=proxy,
            websocket=self._websocket_settings() if self._transport == "websockets" else None,
            timeout_s=self._connect_timeout,
        )

    # ------------------------------------------------------------------------------------------
    # connecting

    def connect(
        self,
        host: str,
        port: int = 1883,
        keepalive: int = 60,
        bind_address: str = "",
        bind_port: int = 0,
        clean_start: CleanStartOption = MQTT_CLEAN_START_FIRST_ONLY,
        properties: Optional[Properties] = None,
    ) -> MQTTErrorCode:
        """Connect to ``host`` (blocking for at most ``connect_timeout``) and send CONNECT.
        Network errors are raised (``OSError`` / ``mqttclient.errors.ConnectionFailedError``).
        Drive the loop afterwards (``loop_start``, ``loop_forever`` or ``loop``)."""
        self._check_v5_args(clean_start, properties)
        self.connect_async(host, port, keepalive, bind_address, bind_port, clean_start, properties)
        return self.reconnect()

    def connect_async(
        self,
        host: str,
        port: int = 1883,
        keepalive: int = 60,
        bind_address: str = "",
        bind_port: int = 0,
        clean_start: CleanStartOption = MQTT_CLEAN_START_FIRST_ONLY,
        properties: Optional[Properties] = None,
    ) -> None:
        """Record the connection settings; ``loop_start``/``loop_forever`` connect later."""
        self._check_v5_args(clean_start, properties)
        if bind_port < 0:
            raise ValueError("Invalid bind port number.")
        # As paho: start over from NEW (dropping any connection), so that connect() may be
        # called again after a failed attempt.
        self._engine.drop_connection()
        self._engine.state = ConnState.NEW
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self._bind_address = bind_address
        self._bind_port = bind_port
        self._clean_start = clean_start
        self._connect_properties = properties
        self._session.reset_first_connect()
        self._redirect_reset()
        self._engine.state = ConnState.CONNECT_ASYNC

    def _check_v5_args(self, clean_start: Any, properties: Optional[Properties]) -> None:
        if self._protocol != MQTTv5:
            if clean_start != MQTT_CLEAN_START_FIRST_ONLY:
                raise ValueError("Clean start only applies to MQTT V5")
            if properties is not None:
                raise ValueError("Properties only apply to MQTT V5")

    def connect_srv(
        self,
        domain: Optional[str] = None,
        keepalive: int = 60,
        bind_address: str = "",
        bind_port: int = 0,
        clean_start: CleanStartOption = MQTT_CLEAN_START_FIRST_ONLY,
        properties: Optional[Properties] = None,
    ) -> MQTTErrorCode:
        """Connect to a broker found through DNS SRV records (needs ``dnspython``)."""
        if not HAVE_DNS:
            raise ValueError('No DNS resolver library found, try "pip install dnspython".')
        if domain is None:
            domain = socket.getfqdn()
            domain = domain[domain.find(".") + 1 :]
        service = "_secure-mqtt" if self._tls is not None else "_mqtt"
        try:
            answers = dns.resolver.resolve(f"{service}._tcp.{domain}", "SRV")
        except Exception as exc:
            raise ValueError(f"No answer/NXDOMAIN for SRV in {domain}") from exc
        for answer in sorted(answers, key=lambda a: (a.priority, -a.weight)):
            host = str(answer.target).rstrip(".")
            try:
                return self.connect(
                    host,
                    int(answer.port),
                    keepalive,
                    bind_address,
                    bind_port,
                    clean_start,
                    properties,
                )
            except Exception:  # try the next record
                continue
        raise ValueError("No SRV hosts responded")

    def reconnect(self) -> MQTTErrorCode:
        """Reconnect with the last settings: close the current connection, call
        ``on_pre_connect``, open the transport, send CONNECT. Network errors are raised."""
        if not self._host:
            raise ValueError("Invalid host.")
        if self._port <= 0:
            raise ValueError("Invalid port number.")
        self._retry_now = False
        self._engine.connect_with(self._prepare_connect)
        return MQTT_ERR_SUCCESS

    def _prepare_connect(self) -> ConnectParams:
        """Called by the engine after on_pre_connect (credentials may have changed there)."""
        provider = self._credentials_provider
        if provider is not None:
            try:
                self._apply_credentials(provider())
            except Exception as exc:
                raise ConnectionFailedError(f"the credentials provider failed: {exc}") from exc
        self._check_plaintext_credentials()
        self._apply_config()
        return self._connect_params()

    def require_tls_for_credentials(self, on: bool = True) -> None:
        """Strict mode: refuse to send a user name or password over a connection without TLS
        (a Unix socket counts as local and is allowed). Off by default: the client then only
        warns (once per connect) when it sends credentials in clear text to a host that is not
        the local machine. Thread: any."""
        self._strict_credentials = bool(on)

    def _check_plaintext_credentials(self) -> None:
        if self._username is None and self._password is None:
            return
        if self._tls is not None or self._transport == "unix":
            return
        if self._strict_credentials:
            raise ConnectionFailedError(
                "refusing to send credentials without TLS (require_tls_for_credentials is on): "
                "configure tls_set() or use a Unix socket"
            )
        if self._host not in ("localhost", "127.0.0.1", "::1"):
            self._warn(
                "sending the user name/password to %s without TLS: anyone on the path can read "
                "them (tls_set() encrypts; require_tls_for_credentials() refuses)",
                self._host,
            )

    def credentials_provider_set(self, provider: Optional[Callable[[], Credentials]]) -> None:
        """Fetch fresh credentials before every connect and reconnect.

        ``provider()`` runs on the thread that connects (the loop thread for automatic
        reconnects), after ``on_pre_connect``, and returns a :class:`Credentials` (or a
        ``(username, password)`` tuple). Use it for tokens that expire: Azure IoT Hub SAS tokens,
        JWTs, AWS custom-authorizer tokens. An exception it raises fails that connection attempt
        like a network error would (``on_connect_fail``, then the reconnect backoff).
        ``None`` removes the provider. Thread: any.
        """
        if provider is not None and not callable(provider):
            raise ValueError("provider must be callable")
        self._credentials_provider = provider

    def _apply_credentials(self, creds: Any) -> None:
        if isinstance(creds, tuple):
            creds = Credentials(*creds)
        if not isinstance(creds, Credentials):
            raise TypeError(
                "a credentials provider must return Credentials or (username, password)"
            )
        self._username = creds.username
        self._password = None if creds.password is None else bytes(_force_bytes(creds.password))
        headers = creds.websocket_headers
        self._provider_headers = None if headers is None else dict(headers)

    # ------------------------------------------------------------------------------------------
    # the loop

    def loop(self, timeout: float = 1.0) -> MQTTErrorCode:
        """Process network events once, waiting at most ``timeout`` seconds. Does not
        reconnect. Returns SUCCESS or the code of the problem."""
        if timeout < 0.0:
            raise ValueError("Invalid timeout.")
        rc = self._engine.run_once(timeout)
        if self._retry_now:
            # paho's automatic retry after some CONNACK refusals (see _refused).
            return self.reconnect()
        return rc

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read what the socket has (for external event loops)."""
        return self._engine.service_once(read=True)

    def loop_write(self) -> MQTTErrorCode:
        """Write what is queued (for external event loops)."""
        return self._engine.service_once(read=False)

    def loop_misc(self) -> MQTTErrorCode:
        """Run keepalive timers (for external event loops); call it every few seconds."""
        return self._engine.service_once(read=False)

    def want_write(self) -> bool:
        """True when bytes wait to be written (for external event loops)."""
        return bool(self._session.out)

    def socket(self) -> Any:
        """The connected socket (or WebSocket wrapper), or None."""
        transport = self._engine.transport
        return None if transport is None else transport.socket

    def loop_forever(
        self, timeout: float = 1.0, retry_first_connection: bool = False
    ) -> MQTTErrorCode:
        """Run the network loop in this thread until ``disconnect()`` or ``loop_stop()``,
        reconnecting with backoff after failures (unless ``reconnect_on_failure`` is False).

        If the first connection fails and ``retry_first_connection`` is False, the error is
        raised; otherwise it is retried like any other. ``timeout`` is accepted for paho
        compatibility and ignored: the loop sleeps until there is I/O, a deadline or a wake-up
        (``disconnect()``/``loop_stop()`` wake it), never polling."""
        if timeout < 0.0:
            raise ValueError("Invalid timeout.")
        engine = self._engine
        owned = engine.loop_thread is None
        if owned:
            engine.loop_thread = threading.current_thread()
        network_loop.depth = getattr(network_loop, "depth", 0) + 1
        try:
            return self._loop_forever(timeout, retry_first_connection)
        finally:
            network_loop.depth -= 1
            if owned:
                engine.loop_thread = None

    def _loop_forever(self, timeout: float, retry_first_connection: bool) -> MQTTErrorCode:
        engine = self._engine
        if engine.state == ConnState.CONNECT_ASYNC:
            try:
                self.reconnect()
            except OSError as exc:
                self._connect_failed(exc)
                if not retry_first_connection:
                    raise
        rc = MQTT_ERR_SUCCESS
        while not engine.stopping():
            rc = MQTT_ERR_SUCCESS
            while rc == MQTT_ERR_SUCCESS and not engine.stopping():
                # No polling: sleep until I/O, a deadline or a wake-up (``timeout`` is accepted
                # for paho compatibility; stop and disconnect wake the loop themselves).
                rc = engine.run_once(None)
                if self._retry_now:
                    break
            if engine.stopping():
                engine.flush_before_stop()
                break
            if engine.state in (ConnState.DISCONNECTING, ConnState.DISCONNECTED):
                break
            if not self._reconnect_on_failure:
                break
            if not self._retry_now and not self._skip_backoff():  # a redirect: at once
                engine.wait_backoff()
                if engine.stopping() or engine.state in (
                    ConnState.DISCONNECTING,
                    ConnState.DISCONNECTED,
                ):
                    break
            try:
                self.reconnect()
            except OSError as exc:
                self._connect_failed(exc)
        return rc

    def loop_start(self) -> MQTTErrorCode:
        """Run the network loop in a daemon thread (it connects, and reconnects, by itself)."""
        if self._thread is not None:
            return MQTT_ERR_INVAL
        self._engine.stop_requested = False
        thread = threading.Thread(
            target=self._thread_main, name=f"paho-mqtt-client-{self._client_id}", daemon=True
        )
        self._thread = thread
        self._engine.thread = thread
        self._engine.loop_thread = thread
        thread.start()
        return MQTT_ERR_SUCCESS

    def _thread_main(self) -> None:
        try:
            self.loop_forever(retry_first_connection=True)
        finally:
            me = threading.current_thread()
            if self._engine.thread is me:
                self._engine.thread = None
            if self._engine.loop_thread is me:
                self._engine.loop_thread = None
            if self._thread is me:
                self._thread = None
                self._engine.stop_requested = False

    def loop_stop(self) -> MQTTErrorCode:
        """Stop the ``loop_start`` thread (the connection stays open). May be called from a
        callback; it then returns at once and the thread ends after the callback."""
        thread = self._thread
        if thread is None:
            return MQTT_ERR_INVAL
        self._engine.stop_requested = True
        self._engine.wake()
        if threading.current_thread() is not thread:
            thread.join()
            self._thread = None
            self._engine.stop_requested = False
        # From a callback on the loop thread itself: the thread ends once the callback returns
        # and clears self._thread then (a loop_start() before that returns MQTT_ERR_INVAL).
        return MQTT_ERR_SUCCESS

    def is_connected(self) -> bool:
        """True once CONNACK accepted the connection and until it ends."""
        return self._engine.state == ConnState.CONNECTED

    # ------------------------------------------------------------------------------------------
    # operations

    def publish(
        self,
        topic: str,
        payload: PayloadType = None,
        qos: int = 0,
        retain: bool = False,
        properties: Optional[Properties] = None,
    ) -> MQTTMessageInfo:
        """Publish a message; returns an ``MQTTMessageInfo`` (also unpacks as ``(rc, mid)``).

        QoS 1/2 messages published while offline are kept and sent after the next CONNACK
        (``rc`` is then MQTT_ERR_NO_CONN, as in paho, but ``wait_for_publish()`` waits for
        them). Raises ``ValueError`` for an invalid topic, QoS or payload size.

        MQTT 5: when the broker's CONNACK forbids the message (QoS above Maximum QoS, retain
        with Retain Available 0, a TopicAlias property above Topic Alias Maximum), ``rc`` is
        ``MQTT_ERR_NOT_SUPPORTED`` and a warning names the property; nothing is sent. A
        ``TopicAlias`` property of 0, or one with an empty topic never given a topic, or one
        while ``topic_alias_auto_set()`` is on raises ``ValueError``.

        ``info.seq`` is the message's stable sequence number (QoS 1/2, and QoS 0 queued
        offline): unlike ``mid`` it is never reused, and with a store it stays the same across
        restarts (docs/durable-sessions.rst). With a ``SqliteStore`` the message is committed
        to the file before this returns (unless its durability is "off"); a failing store
        raises ``mqttclient.errors.StoreError``."""
        v5 = self._protocol == MQTTv5
        _validate_publish_topic(topic, v5)
        if qos not in (0, 1, 2):
            raise ValueError("Invalid QoS level.")
        data = _encode_payload(payload)
        if len(data) > 268435455:
            raise ValueError("Payload too large.")
        pairs: Props = ()
        if v5 and properties is not None:
            pairs = properties.to_pairs()
            if pairs:
                _check_publish_properties(topic, pairs)
        elif not topic:
            raise ValueError("Invalid topic.")
        info = MQTTMessageInfo(0)
        session = self._session
        engine = self._engine
        try:
            with engine.lock:
                try:
                    info.mid = session.publish(
                        topic, data, qos, bool(retain), pairs, info, time.monotonic()
                    )
                except PayloadTooLargeError:
                    info.rc = MQTT_ERR_PAYLOAD_SIZE
                    return info
                except QueueFullError:
                    info.mid = session.reserve_mid()
                    info.rc = MQTT_ERR_QUEUE_SIZE
                    return info
                info.seq = session.seq
                state = session.state
                if state != SessionState.CONNECTED and state != SessionState.CONNECTING:
                    info.rc = MQTT_ERR_NO_CONN
                    info._waitable = qos > 0 or self._queue_qos0_offline
                events = engine.kick()
                dropped = session.take_events() if session.dropped else ()
        except FeatureNotAvailableError as exc:
            # The server's CONNACK forbids it (MQTT 5.0 §3.2.2.3): refused locally, logged
            # after the lock is released.
            info.rc = MQTT_ERR_NOT_SUPPORTED
            self._warn("publish to %r not sent: %s", topic, exc)
            return info
        if dropped:
            self.dispatch(dropped)  # messages dropped to make room (drop_oldest)
        if events:
            self.dispatch(events)
        return info

    def subscribe(
        self,
        topic: Union[str, tuple[str, Any], list[tuple[str, Any]]],
        qos: int = 0,
        options: Optional[SubscribeOptions] = None,
        properties: Optional[Properties] = None,
        *,
        callback: Optional[Callable[..., Any]] = None,
    ) -> tuple[MQTTErrorCode, Optional[int]]:
        """Subscribe to one filter or a list of ``(filter, qos or SubscribeOptions)`` pairs.
        Returns ``(MQTT_ERR_SUCCESS, mid)``, or ``(MQTT_ERR_NO_CONN, None)`` when not
        connected, or (MQTT 5) ``(MQTT_ERR_NOT_SUPPORTED, None)`` with a warning when the
        broker's CONNACK says it does not support a wildcard filter, a ``$share/`` filter or a
        Subscription Identifier. Raises ``ValueError`` for invalid filters or QoS.

        ``callback`` (keyword only, an addition to paho): ``callback(client, userdata,
        message)`` gets exactly the messages this subscription matched, instead of
        ``on_message``. Under MQTT 5 they are told apart by a Subscription Identifier the
        client assigns (or the one in ``properties``); under 3.x, or when the server does not
        support identifiers, by the topic filter. Unsubscribing ends the route (see
        docs/mqtt5.rst, "Routing by subscription identifier")."""
        subscriptions = self._subscriptions(topic, qos, options)
        pairs = _pairs(properties) if self._protocol == MQTTv5 else ()
        try:
            return self._request(self._subscribe_sender(subscriptions, pairs, callback))
        except FeatureNotAvailableError as exc:
            # The server's CONNACK forbids it (MQTT 5.0 §3.2.2.3): refused locally.
            self._warn("subscribe not sent: %s", exc)
            return MQTT_ERR_NOT_SUPPORTED, None

    def _request(self, send: Callable[[float], int]) -> tuple[MQTTErrorCode, Optional[int]]:
        """Queue a SUBSCRIBE or UNSUBSCRIBE (``send(now)`` returns its mid) when a connection
        is open, as paho does (nothing is queued while offline)."""
        engine = self._engine
        with engine.lock:
            if self._session.state not in (SessionState.CONNECTED, SessionState.CONNECTING):
                return MQTT_ERR_NO_CONN, None
            try:
                mid = send(time.monotonic())
            except QueueFullError:
                return MQTT_ERR_QUEUE_SIZE, None
            events = engine.kick()
        if events:
            self.dispatch(events)
        return MQTT_ERR_SUCCESS, mid

    def _subscriptions(
        self, topic: Any, qos: int, options: Optional[SubscribeOptions]
    ) -> tuple[Subscription, ...]:
        v5 = self._protocol == MQTTv5
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

    def unsubscribe(
        self, topic: Union[str, list[str]], properties: Optional[Properties] = None
    ) -> tuple[MQTTErrorCode, Optional[int]]:
        """Unsubscribe from one filter or a list. Returns ``(rc, mid)`` like ``subscribe``."""
        if isinstance(topic, str):
            if not topic:
                raise ValueError("Invalid topic.")
            filters: tuple[str, ...] = (topic,)
        elif isinstance(topic, list):
            if not topic:
                raise ValueError("Empty topic list")
            for t in topic:
                if not isinstance(t, str) or not t:
                    raise ValueError("Invalid topic.")
            filters = tuple(topic)
        else:
            raise ValueError("Invalid topic.")
        pairs = _pairs(properties) if self._protocol == MQTTv5 else ()
        return self._request(self._unsubscribe_sender(filters, pairs))

    def disconnect(
        self, reasoncode: Optional[ReasonCode] = None, properties: Optional[Properties] = None
    ) -> MQTTErrorCode:
        """Disconnect cleanly: every packet already queued for sending before this call is
        written first, then DISCONNECT; the connection is half-closed and drained so the broker
        keeps every packet. QoS 1/2 messages still waiting for an in-flight slot stay queued for
        the next connection. The will is not published. Returns MQTT_ERR_NO_CONN when there is
        no connection."""
        engine = self._engine
        code = 0 if reasoncode is None else int(reasoncode.value)
        pairs = _pairs(properties) if self._protocol == MQTTv5 else ()
        with engine.lock:
            engine.state = ConnState.DISCONNECTING
            if engine.transport is None:
                engine.state = ConnState.DISCONNECTED
                engine.wake()
                return MQTT_ERR_NO_CONN
            self._session.disconnect(code, pairs, time.monotonic())
            in_loop = engine.loop_thread is not None
            if in_loop:
                events = engine.kick()
                engine.wake()
            else:
                events = []
        if events:
            self.dispatch(events)
        if not in_loop:
            engine.disconnect_now()
        return MQTT_ERR_SUCCESS

    def ack(self, mid: int, qos: int) -> MQTTErrorCode:
        """Acknowledge a received message when ``manual_ack`` is on (QoS 1: PUBACK, QoS 2:
        PUBCOMP). A no-op otherwise."""
        if self._manual_ack and qos in (1, 2):
            self._engine.send_ack(mid, qos)
        return MQTT_ERR_SUCCESS

    def drop_out_messages(self) -> list[MQTTMessage]:
        """Forget every QoS 1/2 message not yet sent; returns them."""
        with self._engine.lock:
            dropped = self._session.drop_unsent()
        messages: list[MQTTMessage] = []
        for topic, payload, qos, retain, mid in dropped:
            msg = MQTTMessage(mid, topic.encode("utf-8"))
            msg.payload = payload
            msg.qos = qos
            msg.retain = retain
            messages.append(msg)
        return messages

    def _refused(self, event: ev.ConnectionRefused) -> bool:
        """paho's automatic retries after some CONNACK refusals (with reconnect_on_failure):
        3.1.1 refused as an unacceptable version → retry as 3.1; an empty client id rejected →
        retry with a random one. Returns True when a retry follows at once."""
        if not self._reconnect_on_failure:
            return False
        raw = event.connack.reason_code
        if self._protocol == MQTTv311 and raw == 1:
            self._easy_log(MQTT_LOG_DEBUG, "CONNACK refused MQTT 3.1.1, downgrading to MQTT 3.1")
            self._protocol = MQTTv31
            self._retry_now = True
        elif raw == 2 and self._protocol != MQTTv5 and not self._client_id:
            self._easy_log(
                MQTT_LOG_DEBUG, "CONNACK rejected the empty client id, retrying with one"
            )
            self._client_id = _base62(uuid.uuid4().int, padding=22)
            self._retry_now = True
        return self._retry_now
