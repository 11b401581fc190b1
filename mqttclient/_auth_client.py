"""MQTT 5 enhanced authentication for ``Client`` (MQTT 5.0 §4.12): ``enhanced_auth_set()`` and
``reauthenticate()``.

Owns: checking the authenticator at the API edge, handing it to the session's configuration for
the next connection, and starting a re-authentication on a live one. The exchange itself is the
session's (``mqttclient._core.authexchange``), the methods are in :mod:`mqttclient.auth`.

Must not: touch the session without the engine lock, or dispatch events while holding it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from mqttclient._core.session import SessionState
from mqttclient.auth import Authenticator
from mqttclient.enums import MQTTErrorCode, MQTTProtocolVersion
from mqttclient.errors import InvalidArgumentError, InvalidStateError

if TYPE_CHECKING:
    from mqttclient._core.session import Session
    from mqttclient._io.loop import Engine

__all__ = ["EnhancedAuthMixin"]


class EnhancedAuthMixin:
    """Enhanced authentication for ``Client`` (which inherits this)."""

    #: The authenticator for the next connections (``enhanced_auth_set``), or None.
    _authenticator: Optional[Authenticator] = None

    # Provided by Client.
    _engine: Engine
    _session: Session
    _protocol: MQTTProtocolVersion

    if TYPE_CHECKING:

        def dispatch(self, events: Sequence[Any]) -> None: ...

    def enhanced_auth_set(self, authenticator: Optional[Authenticator]) -> None:
        """Authenticate every following connection with ``authenticator`` (MQTT 5.0 §4.12
        enhanced authentication), e.g. ``mqttclient.auth.ScramSha256Authenticator(user,
        password)``; ``None`` turns it off. Takes effect at the next ``connect``/``reconnect``.

        CONNECT then carries the authenticator's Authentication Method and initial data
        (replacing any in the CONNECT properties); each AUTH challenge from the server is
        answered by it; the successful CONNACK is checked by it, and if it rejects the server
        the client sends DISCONNECT 0x80 and ``on_disconnect`` is called. Until the CONNACK only
        AUTH or DISCONNECT go out [MQTT-3.1.2-30]: messages, subscriptions and unsubscriptions
        made meanwhile wait for it. The authenticator runs on the network thread with the
        client's lock held: it must not block or call the client. Thread: any.

        Raises:
            ValueError: (``InvalidArgumentError``) the client does not use MQTT 5.0.
            TypeError: ``authenticator`` is not an ``Authenticator`` or has no method.
        """
        if authenticator is not None:
            if self._protocol != MQTTProtocolVersion.MQTTv5:
                raise InvalidArgumentError(
                    "enhanced authentication needs MQTT 5.0 (Client(..., protocol=MQTTv5))"
                )
            if not isinstance(authenticator, Authenticator):
                raise TypeError("authenticator must be an mqttclient.auth.Authenticator")
            method = authenticator.method
            if not isinstance(method, str) or not method:
                raise TypeError("the authenticator's method must be a non-empty string")
        self._authenticator = authenticator

    def reauthenticate(self) -> MQTTErrorCode:
        """Re-authenticate the live connection (MQTT 5.0 §4.12.1): send AUTH 0x19 with the
        authenticator's new initial data; the exchange goes on in the background (other traffic
        continues). A server that rejects it sends DISCONNECT (``on_disconnect``); an
        authenticator that rejects the server makes the client disconnect with 0x80. Uses the
        authenticator the connection was made with. Thread: any.

        Returns:
            MQTT_ERR_SUCCESS (AUTH 0x19 queued), MQTT_ERR_NO_CONN (no CONNACK yet or no
            connection), MQTT_ERR_NOT_SUPPORTED (the connection was not made with an
            authenticator, e.g. under MQTT 3.x) or MQTT_ERR_AGAIN (an exchange is in progress).

        Raises:
            AuthenticationError: the authenticator's ``start()`` failed; nothing was sent.
        """
        engine = self._engine
        session = self._session
        with engine.lock:
            if engine.transport is None or session.state != SessionState.CONNECTED:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            try:
                started = session.reauthenticate(time.monotonic())
            except InvalidStateError:
                return MQTTErrorCode.MQTT_ERR_NOT_SUPPORTED
            if not started:
                return MQTTErrorCode.MQTT_ERR_AGAIN
            events = engine.kick()
        if events:
            self.dispatch(events)
        return MQTTErrorCode.MQTT_ERR_SUCCESS
