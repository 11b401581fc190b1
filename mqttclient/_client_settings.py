"""The configuration of ``Client`` (which inherits :class:`SettingsMixin`): paho's properties
and setters for the broker address, keepalive, credentials, will, queue and in-flight bounds,
reconnect delays and logging, and the ``SessionConfig`` built from them before each connection.

Owns: checking those settings at the API edge, refusing to change connection settings while a
connection is open, and copying them into the session's configuration (``_apply_config``).
Settings the session reads while connected (queue bounds, topic aliases) are changed under the
engine lock.

Must not: open connections, dispatch events, or import ``mqttclient.client``. The transport
settings (TLS, WebSocket, proxy, credentials provider) are in ``_client_connection``.
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from typing import Any, Optional, TypeVar

from mqttclient._client_constants import (
    DEFAULT_QUEUE_LIMIT,
    MQTTv5,
    MQTTv31,
    PayloadType,
    _base62,
    _encode_payload,
    _force_bytes,
    _pairs,
    _transport_kind,
    _validate_publish_topic,
)
from mqttclient._core.aliases import check_bound
from mqttclient._core.config import QUEUE_FULL_POLICIES
from mqttclient._core.packets import Will
from mqttclient._core.session import Session, SessionConfig
from mqttclient._core.store import Store
from mqttclient._io.loop import ConnState, Engine, ReconnectPolicy
from mqttclient.auth import Authenticator
from mqttclient.enums import CallbackAPIVersion, MQTTProtocolVersion
from mqttclient.message import MQTTMessageInfo
from mqttclient.properties import Properties

__all__ = ["SettingsMixin"]

# The setters that return the client (for chaining) return the caller's own type.
_ClientT = TypeVar("_ClientT", bound="SettingsMixin")


class SettingsMixin:
    """paho's configuration properties and setters for ``Client`` (module docstring)."""

    # Provided by Client (set in Client.__init__) and, for _authenticator, EnhancedAuthMixin.
    _engine: Engine
    _session: Session
    _callback_api_version: CallbackAPIVersion
    _protocol: MQTTProtocolVersion
    _client_id: str
    _clean_session: bool
    _clean_start: Any
    _userdata: Any
    _manual_ack: bool
    _logger: Optional[logging.Logger]
    _host: str
    _port: int
    _keepalive: int
    _transport: str
    _connect_timeout: float
    _username: Optional[str]
    _password: Optional[bytes]
    _will: Optional[Will]
    _connect_properties: Optional[Properties]
    _bridge: bool
    _max_inflight: int
    _max_queued: int
    _max_queued_bytes: int
    _queue_full_policy: str
    _queue_qos0_offline: bool
    _resubscribe: bool
    _topic_alias_auto: int
    _authenticator: Optional[Authenticator]
    _restored: list[MQTTMessageInfo]

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
            logger = logging.getLogger("mqttclient.client")  # the client module's, as in paho
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

    def max_queued_messages_set(self: _ClientT, queue_size: int) -> _ClientT:
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

    def max_queued_bytes_set(self: _ClientT, queue_bytes: int) -> _ClientT:
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

    def queue_full_policy_set(self: _ClientT, policy: str) -> _ClientT:
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

    def queue_qos0_offline_set(self: _ClientT, queue: bool) -> _ClientT:
        """Keep QoS 0 messages published while no connection is open and send them after the
        next CONNACK, in publish order with QoS 1/2 messages (paho drops them; so does the
        default). They count against the queue bounds, are kept in memory only (never in a
        store), and ``publish()`` returns ``MQTT_ERR_NO_CONN`` for them, as for QoS 1/2 messages
        queued offline, while ``wait_for_publish()`` waits. An addition to paho. Thread: any."""
        self._queue_qos0_offline = bool(queue)
        with self._engine.lock:
            self._session.config.queue_qos0_offline = bool(queue)
        return self

    def topic_alias_auto_set(self: _ClientT, maximum: int) -> _ClientT:
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
