"""Connecting, for ``Client`` (which inherits :class:`ConnectMixin`): paho's ``connect``,
``connect_async`` and ``reconnect``, the preparation of each attempt, and paho's immediate
retries after some CONNACK refusals. (``connect_srv`` is in ``mqttclient.client``: it reads that
module's ``HAVE_DNS`` and ``dns``.)

Owns: recording where and how to connect (through the settings of :class:`SettingsMixin`),
starting an attempt on the engine (``Engine.connect_with``), and, on the thread that connects
after ``on_pre_connect``, fetching fresh credentials, checking the clear-text credentials policy
and copying the settings into the session (``_prepare_connect``). After a CONNACK refusal with
``reconnect_on_failure``, ``_refused`` downgrades 3.1.1 to 3.1 or picks a random client id, as
paho does, and the loop retries at once.

Must not: hold the engine lock (the engine takes it), or import ``mqttclient.client``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Optional

from mqttclient._client_connection import ConnectionSettingsMixin
from mqttclient._client_constants import (
    MQTT_CLEAN_START_FIRST_ONLY,
    MQTT_ERR_SUCCESS,
    MQTT_LOG_DEBUG,
    CleanStartOption,
    MQTTv5,
    MQTTv31,
    MQTTv311,
    _base62,
)
from mqttclient._client_settings import SettingsMixin
from mqttclient._core import events as ev
from mqttclient._io.loop import ConnState
from mqttclient._io.transport import ConnectParams
from mqttclient.enums import MQTTErrorCode
from mqttclient.errors import ConnectionFailedError
from mqttclient.properties import Properties

__all__ = ["ConnectMixin"]


class ConnectMixin(SettingsMixin, ConnectionSettingsMixin):
    """connect, connect_async and reconnect for ``Client`` (module docstring)."""

    # Provided by Client (set in Client.__init__).
    _reconnect_on_failure: bool
    _retry_now: bool

    if TYPE_CHECKING:
        # Provided by ServerPolicyMixin and CallbackMixin.
        def _redirect_reset(self) -> None: ...

        def _easy_log(self, level: int, fmt: str, *args: Any) -> None: ...

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
