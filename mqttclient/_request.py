"""MQTT 5 request/response (MQTT 5.0 §4.10): ``Client.request()`` and ``Client.respond()``.

Owns: the client's private response topic (chosen under the server's Response Information when
the user asked for it in CONNECT, else ``mqttclient/responses/<client id>/<random>``), its
subscription (once per connection, waiting for the SUBACK before the first request goes out),
the Correlation Data of each request and the table of requests waiting for their reply. Replies
reach this module through a subscription callback (:mod:`mqttclient._subscriptions`), so they
never reach ``on_message``; a reply nobody waits for any more is dropped and logged at DEBUG.

Threads: ``request()`` blocks its caller and may run in many threads at once; it must not run
on the network-loop thread (the reply could only be read after it returned), which the
thread-local guard of :mod:`mqttclient.message` detects. ``_reply_arrived`` runs on the loop
thread. Locks: ``_Replies.lock`` guards the waiting requests (held briefly, never while calling
out); ``_Replies.setup_lock`` serialises the response-topic subscription (held while waiting
for its SUBACK, never taken by the loop thread).
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from mqttclient import _spec
from mqttclient._core.packets import Subscription, get_prop
from mqttclient._core.session import SessionState
from mqttclient._subscriptions import RoutingMixin
from mqttclient.enums import MQTTErrorCode, MQTTProtocolVersion
from mqttclient.errors import (
    InvalidArgumentError,
    InvalidStateError,
    PayloadTooLargeError,
    QueueFullError,
    RequestError,
    RequestTimeoutError,
)
from mqttclient.message import MQTTMessage, MQTTMessageInfo, network_loop
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from mqttclient.reasoncodes import reason_code

if TYPE_CHECKING:
    from mqttclient._io.loop import Engine

__all__ = ["DEFAULT_REQUEST_TIMEOUT_S", "RequestMixin"]

log = logging.getLogger("mqttclient.client")

DEFAULT_REQUEST_TIMEOUT_S = 10.0
_RESPONSE_PREFIX = "mqttclient/responses"
# QoS of the response-topic subscription: replies arrive at most at this QoS (§3.8.4).
_RESPONSE_QOS = 1


class _Waiter:
    """One request waiting for its reply."""

    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: Optional[MQTTMessage] = None


class _Replies:
    """The response topic's state and the requests waiting for a reply."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.setup_lock = threading.Lock()
        self.waiting: dict[bytes, _Waiter] = {}
        # Correlation Data: a random per-client prefix and a counter, unique for the client's
        # life and unguessable enough that another client's replies do not collide.
        self._prefix = os.urandom(8)
        self._counter = itertools.count(1)
        self.topic: Optional[str] = None
        self.info: Optional[str] = None  # the Response Information the topic was built on
        self.subscription_id: Optional[int] = None
        # The transport the subscription was made on: a new connection needs a new SUBSCRIBE
        # (the server may have no session). Kept as an object so identity stays meaningful.
        self.link: Any = None
        # Counts CONNACKs and closed connections, so that a request made while the CONNACK is
        # awaited can wait for it (see RequestMixin._await_connack).
        self.changed = threading.Condition(threading.Lock())
        self.changes = 0

    def connection_changed(self) -> None:
        with self.changed:
            self.changes += 1
            self.changed.notify_all()

    def correlation(self) -> bytes:
        return self._prefix + next(self._counter).to_bytes(8, "big")

    def expect(self, correlation: bytes) -> _Waiter:
        waiter = _Waiter()
        with self.lock:
            self.waiting[correlation] = waiter
        return waiter

    def forget(self, correlation: bytes) -> None:
        with self.lock:
            self.waiting.pop(correlation, None)

    def take(self, correlation: Any) -> Optional[_Waiter]:
        with self.lock:
            return self.waiting.pop(correlation, None)


class RequestMixin(RoutingMixin):
    """``request()`` and ``respond()`` for ``Client`` (which inherits this)."""

    # Provided by Client.
    _engine: Engine

    if TYPE_CHECKING:

        def publish(
            self,
            topic: str,
            payload: Any = None,
            qos: int = 0,
            retain: bool = False,
            properties: Optional[Properties] = None,
        ) -> MQTTMessageInfo: ...

        def _request(self, send: Callable[[float], int]) -> tuple[MQTTErrorCode, Optional[int]]: ...

    def _init_callbacks(self) -> None:
        super()._init_callbacks()
        self._replies = _Replies()

    def _connack(self, event: Any) -> None:
        self._replies.connection_changed()  # first: requests need not wait for on_connect
        super()._connack(event)

    def _closed(self, event: Any) -> None:
        self._replies.connection_changed()
        super()._closed(event)

    # --- requester --------------------------------------------------------------------------
    def request(
        self,
        topic: str,
        payload: Any = None,
        qos: int = 1,
        timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        properties: Optional[Properties] = None,
    ) -> MQTTMessage:
        """Publish a request to ``topic`` and return the reply (MQTT 5.0 §4.10).

        The request carries a Response Topic private to this client and a unique Correlation
        Data; the reply is the first message on that topic with the same Correlation Data,
        returned as an ``MQTTMessage``. On first use (and after each reconnect) the client
        subscribes to the response topic and waits for the SUBACK before publishing; called
        while a CONNACK is awaited (just after ``connect()``), it waits for that too. Replies
        never reach ``on_message``; late ones are dropped. ``properties`` (``PUBLISH``
        properties) are sent with the request; they must not hold a Response Topic or
        Correlation Data. Several threads may call this at once.

        Raises ``mqttclient.errors.RequestTimeoutError`` (a ``TimeoutError``) when no reply, or
        no SUBACK, arrives within ``timeout`` seconds; ``RequestError`` when the broker refuses
        the response topic's subscription; ``InvalidStateError`` when not connected, not using
        MQTT 5.0, or called on the network-loop thread (inside a callback), where it could never
        see its reply; ``ValueError`` (``InvalidArgumentError``) for an invalid topic, QoS,
        timeout or properties; ``QueueFullError``, ``PayloadTooLargeError`` or (e.g. a QoS
        above the server's Maximum QoS) ``RequestError`` when ``publish()`` refuses the request.

        Thread: any but the network loop's; the loop must run (``loop_start()``)."""
        if self._protocol != MQTTProtocolVersion.MQTTv5:
            raise InvalidStateError(
                "request() needs MQTT 5.0 (Response Topic and Correlation Data are MQTT 5 "
                "properties): create the client with protocol=MQTTv5"
            )
        if getattr(network_loop, "depth", 0):
            raise InvalidStateError(
                "request() called on the network-loop thread (from a callback): the reply "
                "could only be read once the callback returns; call it from another thread"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidArgumentError(f"timeout must be a positive number of seconds: {timeout!r}")
        outgoing = _request_properties(properties)
        deadline = time.monotonic() + timeout
        response_topic = self._response_topic(deadline, timeout)
        replies = self._replies
        correlation = replies.correlation()
        outgoing.ResponseTopic = response_topic
        outgoing.CorrelationData = correlation
        waiter = replies.expect(correlation)  # before publishing: the reply may be quick
        try:
            info = self.publish(topic, payload, qos, False, outgoing)
            _check_accepted(info)
            if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
                raise RequestTimeoutError(
                    f"no reply to the request on {topic!r} within {timeout:g} s "
                    f"(response topic {response_topic!r})"
                )
        finally:
            replies.forget(correlation)
        reply = waiter.reply
        assert reply is not None
        return reply

    def _response_topic(self, deadline: float, timeout: float) -> str:
        """The response topic, subscribed on the current connection (subscribing now if it is
        not); raises as ``request()``."""
        replies = self._replies
        with replies.setup_lock:
            self._await_connack(deadline)
            engine = self._engine
            session = self._session
            with engine.lock:
                if session.state != SessionState.CONNECTED:
                    raise InvalidStateError("request() needs a connection: not connected")
                link = engine.transport
                limits = session.server_limits
                asked = get_prop(
                    session.config.connect_properties, _spec.REQUEST_RESPONSE_INFORMATION, 0
                )
                client_id = session.client_id
                use_ids = self._identifiers_usable()
            info = limits.response_information if asked else None
            if info is not None and not _usable_prefix(info):
                info = None
            topic = replies.topic
            if topic is not None and replies.info == info:
                if replies.link is link and self._route_table.has_filter(topic):
                    return topic
            else:
                topic = _new_response_topic(info, client_id)
            self._subscribe_response_topic(topic, use_ids, deadline, timeout)
            replies.topic, replies.info, replies.link = topic, info, link
            return topic

    def _await_connack(self, deadline: float) -> None:
        """While CONNECT waits for its CONNACK (just after ``connect()``, or reconnecting),
        wait for it until ``deadline``; the caller then checks the outcome."""
        replies = self._replies
        with replies.changed:  # held from reading the count to waiting: no missed wake-up
            seen = replies.changes
            with self._engine.lock:
                connecting = self._session.state == SessionState.CONNECTING
            if connecting:
                replies.changed.wait_for(
                    lambda: replies.changes != seen, max(0.0, deadline - time.monotonic())
                )

    def _subscribe_response_topic(
        self, topic: str, use_ids: bool, deadline: float, timeout: float
    ) -> None:
        """SUBSCRIBE to ``topic`` routed to ``_reply_arrived`` and wait for the SUBACK. The
        same Subscription Identifier is reused on every connection, so replies still in flight
        from an earlier SUBSCRIBE are recognised too."""
        replies = self._replies
        pairs: tuple[tuple[int, Any], ...] = ()
        if use_ids:
            if replies.subscription_id is None:
                with self._route_lock:
                    replies.subscription_id = self._route_table.fresh_id()
            pairs = ((_spec.SUBSCRIPTION_IDENTIFIER, replies.subscription_id),)
        acked = threading.Event()
        codes: list[int] = []

        def on_suback(reason_codes: tuple[int, ...]) -> None:
            codes.extend(reason_codes)
            acked.set()

        send = self._subscribe_sender(
            (Subscription(topic, _RESPONSE_QOS),),
            pairs,
            self._reply_arrived,
            on_suback,
            internal=True,
        )
        rc, _ = self._request(send)
        if rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise QueueFullError("cannot subscribe to the response topic: no packet id free")
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise InvalidStateError("request() needs a connection: not connected")
        if not acked.wait(max(0.0, deadline - time.monotonic())):
            raise RequestTimeoutError(
                f"the broker did not acknowledge the subscription to the response topic "
                f"{topic!r} within {timeout:g} s"
            )
        if codes and codes[0] >= 0x80:
            reason = reason_code(PacketTypes.SUBACK, codes[0])
            raise RequestError(
                f"the broker refused the subscription to the response topic {topic!r}: "
                f"0x{codes[0]:02X} {reason}"
            )

    def _reply_arrived(self, client: Any, userdata: Any, msg: MQTTMessage) -> None:
        """Subscription callback of the response topic (network-loop thread)."""
        correlation = getattr(msg.properties, "CorrelationData", None)
        waiter = self._replies.take(correlation) if correlation is not None else None
        if waiter is None:
            # Late (its request timed out) or not ours: dropped, never given to on_message.
            log.debug(
                "reply on %r with unknown correlation data dropped (late or not a reply)",
                msg.topic,
            )
            return
        waiter.reply = msg
        waiter.event.set()

    # --- responder --------------------------------------------------------------------------
    def respond(
        self,
        request: MQTTMessage,
        payload: Any = None,
        qos: int = 1,
        properties: Optional[Properties] = None,
    ) -> MQTTMessageInfo:
        """Answer ``request`` (a received MQTT 5 message with a Response Topic): publish
        ``payload`` to its Response Topic with its Correlation Data copied unchanged, and no
        Response Topic of its own (MQTT 5.0 §4.10.1). ``properties`` (``PUBLISH``) are added,
        e.g. a Content Type or User Properties. Returns ``publish()``'s ``MQTTMessageInfo``.

        Raises ``ValueError`` (``InvalidArgumentError``) if ``request`` has no Response Topic or
        ``properties`` already hold Correlation Data. Thread: any, callbacks included."""
        received = request.properties
        response_topic = getattr(received, "ResponseTopic", None)
        if not response_topic:
            raise InvalidArgumentError(
                f"the message on {request.topic!r} has no Response Topic: it is not a request"
            )
        outgoing = _copy_publish_properties(properties)
        if hasattr(outgoing, "CorrelationData"):
            raise InvalidArgumentError("respond() copies the request's Correlation Data itself")
        correlation = getattr(received, "CorrelationData", None)
        if correlation is not None:
            outgoing.CorrelationData = correlation
        return self.publish(response_topic, payload, qos, False, outgoing)


def _copy_publish_properties(properties: Optional[Properties]) -> Properties:
    """A fresh ``PUBLISH`` ``Properties`` holding ``properties`` (the caller's stay untouched)."""
    if properties is None:
        return Properties(PacketTypes.PUBLISH)
    if not isinstance(properties, Properties) or properties.packetType != PacketTypes.PUBLISH:
        raise InvalidArgumentError("properties must be Properties(PacketTypes.PUBLISH)")
    return Properties.from_pairs(PacketTypes.PUBLISH, properties.to_pairs())


def _request_properties(properties: Optional[Properties]) -> Properties:
    outgoing = _copy_publish_properties(properties)
    if hasattr(outgoing, "ResponseTopic") or hasattr(outgoing, "CorrelationData"):
        raise InvalidArgumentError(
            "request() sets the Response Topic and Correlation Data itself; leave them out"
        )
    return outgoing


def _check_accepted(info: MQTTMessageInfo) -> None:
    """Raise when ``publish()`` did not accept the request."""
    rc = info.rc
    if rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
        raise QueueFullError("the request was not queued: the outgoing queue is full")
    if rc == MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE:
        raise PayloadTooLargeError("the request is larger than the server's Maximum Packet Size")
    if rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
        if not info._waitable:
            raise InvalidStateError("the request was not sent: the connection was lost")
    elif rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
        # e.g. MQTT_ERR_NOT_SUPPORTED: the server's CONNACK forbids the QoS (§3.2.2.3.4).
        raise RequestError(f"the request was not sent: {rc.name}")


def _usable_prefix(info: str) -> bool:
    """Whether Response Information can start a topic name: no wildcards ([MQTT-3.3.2-2],
    [MQTT-3.3.2-14]) and no NUL character."""
    return bool(info) and not any(c in info for c in "+#\x00")


def _new_response_topic(info: Optional[str], client_id: str) -> str:
    """A response topic nobody else subscribes to: under the server's Response Information
    when there is one (its format is the server's, §4.10.2), else under our own prefix."""
    token = secrets.token_hex(8)
    if info is not None:
        return f"{info.rstrip('/')}/{token}" if info.rstrip("/") else token
    safe = "".join("_" if c in "+#/\x00" else c for c in client_id) or "anonymous"
    return f"{_RESPONSE_PREFIX}/{safe}/{token}"
