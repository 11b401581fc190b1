"""The exception tree of mqttclient.

Every error the library raises derives from :class:`MQTTException` (paho-mqtt's name for its root
exception). Lower layers raise these typed errors; only the paho-compatible façade
(``client.py``) turns them into ``MQTTErrorCode`` return values.

Argument errors also derive from :class:`ValueError` so that code written for paho-mqtt, which
raises ``ValueError`` for bad arguments, keeps working with ``except ValueError``.

This module is vocabulary: it imports nothing but the standard library.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AuthenticationError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "ConnectionFailedError",
    "ConnectionRefusedByBrokerError",
    "FeatureNotAvailableError",
    "InvalidArgumentError",
    "InvalidStateError",
    "InvalidTopicError",
    "KeepaliveTimeoutError",
    "MQTTException",
    "MalformedPacketError",
    "PacketTooLargeError",
    "PayloadTooLargeError",
    "ProtocolError",
    "ProxyError",
    "QueueFullError",
    "RemoteProtocolError",
    "RequestError",
    "RequestTimeoutError",
    "StoreError",
    "TLSError",
    "TopicAliasInvalidError",
    "WebSocketHandshakeError",
    "WebsocketConnectionError",
]


class MQTTException(Exception):
    """Root of every exception raised by mqttclient."""


# --- protocol errors ------------------------------------------------------------------------------


class ProtocolError(MQTTException):
    """A packet broke the MQTT rules.

    ``reason_code`` is the MQTT 5 reason code that belongs in the DISCONNECT the client sends
    before closing (MQTT 5.0 §4.13): 0x82 Protocol Error unless a subclass says otherwise.
    """

    default_reason_code = 0x82

    def __init__(self, message: str, reason_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.reason_code: int = self.default_reason_code if reason_code is None else reason_code


class MalformedPacketError(ProtocolError):
    """Bytes that cannot be parsed as an MQTT packet (MQTT 5.0 reason code 0x81)."""

    default_reason_code = 0x81


class PacketTooLargeError(ProtocolError):
    """A packet over the agreed Maximum Packet Size (MQTT 5.0 reason code 0x95)."""

    default_reason_code = 0x95


class TopicAliasInvalidError(ProtocolError):
    """A Topic Alias of 0 or above the receiver's maximum (MQTT 5.0 reason code 0x94)."""

    default_reason_code = 0x94


class RemoteProtocolError(ProtocolError):
    """The broker sent something that the session state does not allow (e.g. a second CONNACK)."""


class AuthenticationError(ProtocolError):
    """Enhanced authentication (MQTT 5.0 §4.12) failed on the client's side: the server did not
    prove itself (e.g. a wrong SCRAM server signature), sent a challenge the method cannot
    answer, or the authenticator failed. Authenticators (``mqttclient.auth``) raise it; the
    client then sends DISCONNECT 0x80 Unspecified error and closes. 0x80 because the codes that
    name the cause, 0x87 Not authorized and 0x8C Bad authentication method, are for the server
    only (MQTT 5.0 §3.14.2.1, [MQTT-3.14.2-1]). A ``ProtocolError`` so that it ends the
    connection the way a protocol violation does. The message must not hold secrets."""

    default_reason_code = 0x80

    def __init__(self, message: str) -> None:
        super().__init__(message)


# --- connection errors ----------------------------------------------------------------------------


class ConnectionFailedError(MQTTException, ConnectionError):
    """A connection could not be established (DNS, TCP, proxy, TLS, WebSocket or CONNACK)."""


class ConnectTimeoutError(ConnectionFailedError, TimeoutError):
    """Connecting (DNS, TCP, proxy, TLS and WebSocket handshakes together) took too long."""


class TLSError(ConnectionFailedError):
    """The TLS handshake failed; the message says why in words a user can act on."""


class ProxyError(ConnectionFailedError):
    """The SOCKS or HTTP proxy refused or could not be reached."""


class WebSocketHandshakeError(ConnectionFailedError):
    """The HTTP upgrade to WebSocket failed.

    ``status`` is the HTTP status code the server answered with (``None`` if it did not answer
    with HTTP at all) and ``body`` the first bytes of its response body.
    """

    def __init__(self, message: str, status: Optional[int] = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


#: paho-mqtt's name for a failed WebSocket upgrade.
WebsocketConnectionError = WebSocketHandshakeError


class ConnectionRefusedByBrokerError(ConnectionFailedError):
    """The broker answered CONNACK with a failure code (``reason_code``, MQTT 5 numbering)."""

    def __init__(self, message: str, reason_code: int) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class ConnectionClosedError(MQTTException, ConnectionError):
    """The network connection was lost or closed by the peer."""


class KeepaliveTimeoutError(ConnectionClosedError):
    """No packet arrived within 1.5 × keepalive: the link is considered dead."""


# --- local errors ---------------------------------------------------------------------------------


class InvalidArgumentError(MQTTException, ValueError):
    """An argument is invalid; also a ``ValueError`` for paho compatibility."""


class InvalidTopicError(InvalidArgumentError):
    """A topic name or topic filter breaks the MQTT topic rules (MQTT 5.0 §4.7)."""


class PayloadTooLargeError(InvalidArgumentError):
    """A payload or packet is larger than the protocol or the broker allows."""


class QueueFullError(MQTTException):
    """The outgoing queue reached its bound; the message was not accepted."""


class FeatureNotAvailableError(MQTTException):
    """The server's CONNACK says it does not support what a PUBLISH or SUBSCRIBE asks for
    (MQTT 5.0 §3.2.2.3: Maximum QoS, Retain Available, Topic Alias Maximum, Wildcard /
    Subscription Identifiers / Shared Subscription Available); the packet was not sent.

    ``property_name`` names the CONNACK property that forbids it; ``reason_code`` is the code
    the server would have disconnected with (0x9B, 0x9A, 0x94, 0xA2, 0xA1, 0x9E).
    """

    def __init__(self, message: str, property_name: str, reason_code: int) -> None:
        super().__init__(message)
        self.property_name = property_name
        self.reason_code = reason_code


class InvalidStateError(MQTTException, RuntimeError):
    """The operation is not allowed in the client's current state."""


class RequestError(MQTTException):
    """``Client.request()`` could not get an answer: the broker refused the subscription to
    the response topic, or (``RequestTimeoutError``) no reply came in time."""


class RequestTimeoutError(RequestError, TimeoutError):
    """No reply with the request's Correlation Data arrived within ``request()``'s timeout (or
    the broker did not acknowledge the response topic's subscription in that time)."""


class StoreError(MQTTException):
    """The durable store cannot be used: its file is held by another process (or another
    store object), is not a store or is corrupt beyond what SQLite's journal recovers, was
    written by a newer version, or a read or write failed (disk full, I/O error). The message
    names the file and what to do."""
