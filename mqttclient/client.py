"""The paho-mqtt 2.x compatible client: ``import mqttclient.client as mqtt``.

This module is the façade. It checks arguments at the public edge, keeps paho's setters, return
codes and callback shapes, and is the one place where typed exceptions become ``MQTTErrorCode``
values. The protocol lives in ``mqttclient._core.session``, the network loop in
``mqttclient._io.loop``.

``Client`` keeps ``__init__`` and the operations (publish, subscribe, unsubscribe, disconnect,
ack) here and inherits the rest from mixins: ``_client_settings`` (configuration),
``_client_connection`` (TLS, WebSocket, credentials), ``_client_connect`` (``connect``,
``connect_async``, ``reconnect``), ``_client_loop`` (``loop*``), and the MQTT 5 and routing
mixins. ``proxy_set`` and ``connect_srv`` stay here: they read this module's ``socks``, ``dns``
and ``HAVE_DNS``, which programs may replace.
paho's module-level names live in ``_client_constants`` and are re-exported from here.

Threading: every public method may be called from any thread, including from inside callbacks.
Callbacks run on the thread that drives the network loop, never while a library lock is held.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
import warnings
from typing import Any, Callable, Literal, Optional, Union

from mqttclient._auth_client import EnhancedAuthMixin
from mqttclient._callbacks import ConnectFlags, DisconnectFlags
from mqttclient._client_connect import ConnectMixin
from mqttclient._client_connection import ConnectionSettingsMixin, Credentials
from mqttclient._client_constants import (
    _UNSET,
    AUTH,
    CONNACK,
    CONNACK_ACCEPTED,
    CONNACK_REFUSED_BAD_USERNAME_PASSWORD,
    CONNACK_REFUSED_IDENTIFIER_REJECTED,
    CONNACK_REFUSED_NOT_AUTHORIZED,
    CONNACK_REFUSED_PROTOCOL_VERSION,
    CONNACK_REFUSED_SERVER_UNAVAILABLE,
    CONNECT,
    DEFAULT_QUEUE_LIMIT,
    DISCONNECT,
    EAGAIN,
    LOGGING_LEVEL,
    MQTT_BRIDGE,
    MQTT_CLEAN_START_FIRST_ONLY,
    MQTT_CLIENT,
    MQTT_ERR_ACL_DENIED,
    MQTT_ERR_AGAIN,
    MQTT_ERR_AUTH,
    MQTT_ERR_CONN_LOST,
    MQTT_ERR_CONN_REFUSED,
    MQTT_ERR_ERRNO,
    MQTT_ERR_INVAL,
    MQTT_ERR_KEEPALIVE,
    MQTT_ERR_NO_CONN,
    MQTT_ERR_NOMEM,
    MQTT_ERR_NOT_FOUND,
    MQTT_ERR_NOT_SUPPORTED,
    MQTT_ERR_PAYLOAD_SIZE,
    MQTT_ERR_PROTOCOL,
    MQTT_ERR_QUEUE_SIZE,
    MQTT_ERR_SUCCESS,
    MQTT_ERR_TLS,
    MQTT_ERR_UNKNOWN,
    MQTT_LOG_DEBUG,
    MQTT_LOG_ERR,
    MQTT_LOG_INFO,
    MQTT_LOG_NOTICE,
    MQTT_LOG_WARNING,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    CleanStartOption,
    HTTPHeader,
    MQTTv5,
    MQTTv31,
    MQTTv311,
    PayloadType,
    WebSocketHeaders,
    _base62,
    _check_publish_properties,
    _encode_payload,
    _pairs,
    _restored_info,
    _subscription_list,
    _transport_kind,
    _validate_publish_topic,
    connack_string,
    convert_connack_rc_to_reason_code,
    convert_disconnect_error_code_to_reason_code,
    error_string,
    mqtt_ms_invalid,
    mqtt_ms_publish,
    mqtt_ms_queued,
    mqtt_ms_resend_pubcomp,
    mqtt_ms_resend_pubrel,
    mqtt_ms_send_pubrec,
    mqtt_ms_wait_for_puback,
    mqtt_ms_wait_for_pubcomp,
    mqtt_ms_wait_for_pubrec,
    mqtt_ms_wait_for_pubrel,
    sockpair_data,
    time_func,
)

# paho's private helpers that programs use (paho-compat.md §2), re-exported as paho has them.
from mqttclient._client_constants import _force_bytes as _force_bytes
from mqttclient._client_constants import _socketpair_compat as _socketpair_compat
from mqttclient._client_loop import LoopMixin
from mqttclient._client_settings import SettingsMixin
from mqttclient._core.packets import Props, Subscription, Will
from mqttclient._core.session import Session, SessionState
from mqttclient._core.store import Store
from mqttclient._io.loop import ConnState, Engine
from mqttclient._io.tlsconfig import TLSSettings
from mqttclient._io.transport import ProxySettings
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
    FeatureNotAvailableError,
    InvalidArgumentError,
    MQTTException,
    PayloadTooLargeError,
    QueueFullError,
    WebsocketConnectionError,
)
from mqttclient.matcher import MQTTMatcher, topic_matches_sub
from mqttclient.message import MQTTMessage, MQTTMessageInfo
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import MalformedPacket, Properties
from mqttclient.reasoncodes import ReasonCode, ReasonCodes
from mqttclient.subscribeoptions import SubscribeOptions

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


class Client(
    ConnectMixin,
    SettingsMixin,
    ConnectionSettingsMixin,
    LoopMixin,
    EnhancedAuthMixin,
    ServerPolicyMixin,
    RequestMixin,
):
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

    def reinitialise(
        self, client_id: str = "", clean_session: bool = True, userdata: Any = None
    ) -> None:
        """Reset the client to a new state (paho's ``reinitialise``); the callback API version is
        kept."""
        self._engine.close_now()
        self._engine.shutdown()
        version = self._callback_api_version
        self.__init__(version, client_id, clean_session, userdata)  # type: ignore[misc]

    def proxy_set(self, **proxy_args: Any) -> None:
        """Connect through a SOCKS4/5 or HTTP proxy (PySocks): ``proxy_type``, ``proxy_addr``,
        ``proxy_port``, ``proxy_rdns``, ``proxy_username``, ``proxy_password``."""
        # Here, not in _client_connection: it reads this module's ``socks``, which programs and
        # tests set to None to act as if PySocks were missing (as with paho's module).
        if socks is None:
            raise InvalidArgumentError(
                '"PySocks" is required for proxies: pip install mqttclient[proxy]'
            )
        if not proxy_args.get("proxy_type") or not proxy_args.get("proxy_addr"):
            raise ValueError("proxy_type and/or proxy_addr are invalid")
        self._proxy = ProxySettings.from_kwargs(proxy_args)

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
        # connect_srv stays here, not in _client_connect: it reads this module's ``HAVE_DNS`` and
        # ``dns``, which programs and tests may replace (as with paho's module).
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
        return _subscription_list(topic, qos, options, self._protocol == MQTTv5)

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
