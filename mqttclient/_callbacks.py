"""The ``on_*`` callbacks of the paho-compatible client and how events reach them.

Owns: the callback slots and their decorator forms, the argument shapes of callback API
VERSION1 (3.x and 5.0 variants) and VERSION2, message routing to ``message_callback_add``
filters, and paho's rule for exceptions raised in callbacks (logged, then re-raised unless
``suppress_exceptions``). It runs on the network-loop thread with no library lock held.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

from mqttclient._core import events as ev
from mqttclient._core import packets
from mqttclient._io import loop as engine_events
from mqttclient.enums import CallbackAPIVersion, LogLevel, MQTTErrorCode, MQTTProtocolVersion
from mqttclient.matcher import MQTTMatcher
from mqttclient.message import MQTTMessage, MQTTMessageInfo, network_loop
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from mqttclient.reasoncodes import ReasonCode, reason_code

if TYPE_CHECKING:
    pass

__all__ = ["CallbackMixin", "ConnectFlags", "DisconnectFlags"]

log = logging.getLogger("mqttclient.client")

_LOGGING_LEVEL = {
    LogLevel.MQTT_LOG_DEBUG: logging.DEBUG,
    LogLevel.MQTT_LOG_INFO: logging.INFO,
    LogLevel.MQTT_LOG_NOTICE: logging.INFO,
    LogLevel.MQTT_LOG_WARNING: logging.WARNING,
    LogLevel.MQTT_LOG_ERR: logging.ERROR,
}

# MQTT 3.x CONNACK return codes in MQTT 5 numbering (paho's convert_connack_rc_to_reason_code).
_V3_CONNACK_TO_V5 = {0: 0x00, 1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87}


class ConnectFlags(NamedTuple):
    """Flags of a CONNACK, given to ``on_connect`` with callback API VERSION2."""

    session_present: bool


class DisconnectFlags(NamedTuple):
    """Given to ``on_disconnect`` with callback API VERSION2."""

    is_disconnect_packet_from_server: bool


# 0x9A Retain not supported, 0x9B QoS not supported: a message the session did not send
# because the CONNACK forbids it (``Outbox.drop_forbidden``).
_NOT_SUPPORTED = (0x9A, 0x9B)


def v3_connack_reason(code: int) -> ReasonCode:
    """paho's ``convert_connack_rc_to_reason_code``."""
    return reason_code(PacketTypes.CONNACK, _V3_CONNACK_TO_V5.get(code, 0x80))


def disconnect_reason(rc: int) -> ReasonCode:
    """paho's ``convert_disconnect_error_code_to_reason_code``."""
    if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
        return reason_code(PacketTypes.DISCONNECT, 0x00)
    if rc == MQTTErrorCode.MQTT_ERR_KEEPALIVE:
        return reason_code(PacketTypes.DISCONNECT, 0x8D)
    if rc == MQTTErrorCode.MQTT_ERR_PROTOCOL:
        return reason_code(PacketTypes.DISCONNECT, 0x82)
    return reason_code(PacketTypes.DISCONNECT, 0x80)


def _properties(packet_type: int, pairs: Any) -> Properties:
    return Properties.from_pairs(packet_type, pairs)


def describe_packet(packet: Any) -> str:
    """One log line for a packet in paho's style; never the payload or a password."""
    kind = type(packet)
    if kind is packets.Publish:
        return (
            f"PUBLISH (d{int(packet.dup)}, q{packet.qos}, r{int(packet.retain)}, m{packet.packet_id}), "
            f"'{packet.topic}', ... ({len(packet.payload)} bytes)"
        )
    if kind is packets.Connect:
        return (
            f"CONNECT (u{int(packet.username is not None)}, p{int(packet.password is not None)}, "
            f"wr{int(bool(packet.will and packet.will.retain))}, wq{packet.will.qos if packet.will else 0}, "
            f"wf{int(packet.will is not None)}, c{int(packet.clean_start)}, k{packet.keepalive}) "
            f"client_id={packet.client_id!r}"
        )
    if kind is packets.Connack:
        return f"CONNACK ({int(packet.session_present)}, {packet.reason_code})"
    if kind in (packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp):
        return f"{kind.__name__.upper()} (Mid: {packet.packet_id})"
    if kind is packets.Subscribe:
        filters = [(s.topic_filter, s.qos) for s in packet.subscriptions]
        return f"SUBSCRIBE (d0, m{packet.packet_id}) {filters}"
    if kind is packets.Unsubscribe:
        return f"UNSUBSCRIBE (Mid: {packet.packet_id}) {list(packet.topic_filters)}"
    if kind in (packets.Suback, packets.Unsuback):
        return f"{kind.__name__.upper()} (Mid: {packet.packet_id})"
    if kind is packets.Disconnect:
        return f"DISCONNECT ({packet.reason_code})" if packet.reason_code else "DISCONNECT"
    return kind.__name__.upper()


class _CallbackSlot:
    """A data descriptor for one ``on_*`` callback (paho exposes them as properties)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = "_" + name
        # The value lives in the instance as ``_on_...``; None until set. The hot paths read
        # that attribute directly (no descriptor call per message).
        setattr(owner, self.name, None)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return getattr(obj, self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.name, value)


def _decorator(slot: str) -> Callable[[Any], Callable[[Callable[..., Any]], Callable[..., Any]]]:
    def factory(self: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            setattr(self, slot, func)
            return func

        return decorator

    factory.__name__ = slot[3:] + "_callback"
    factory.__doc__ = f"Decorator form of ``{slot}``: ``@client.{factory.__name__}()``."
    return factory


class CallbackMixin:
    """The ``on_*`` slots and the dispatch of events to them. Mixed into ``Client``."""

    on_log = _CallbackSlot("on_log(client, userdata, level, buf): library log messages.")
    on_pre_connect = _CallbackSlot("on_pre_connect(client, userdata): before every (re)connect.")
    on_connect = _CallbackSlot("on_connect: a CONNACK arrived (success or refusal).")
    on_connect_fail = _CallbackSlot("on_connect_fail(client, userdata): a (re)connect failed.")
    on_subscribe = _CallbackSlot("on_subscribe: a SUBACK arrived.")
    on_message = _CallbackSlot("on_message(client, userdata, message): a message arrived.")
    on_publish = _CallbackSlot("on_publish: an outgoing message was published.")
    on_unsubscribe = _CallbackSlot("on_unsubscribe: an UNSUBACK arrived.")
    on_disconnect = _CallbackSlot("on_disconnect: the connection ended.")
    on_socket_open = _CallbackSlot("on_socket_open(client, userdata, sock)")
    on_socket_close = _CallbackSlot("on_socket_close(client, userdata, sock)")
    on_socket_register_write = _CallbackSlot("on_socket_register_write(client, userdata, sock)")
    on_socket_unregister_write = _CallbackSlot("on_socket_unregister_write(client, userdata, sock)")

    log_callback = _decorator("on_log")
    pre_connect_callback = _decorator("on_pre_connect")
    connect_callback = _decorator("on_connect")
    connect_fail_callback = _decorator("on_connect_fail")
    subscribe_callback = _decorator("on_subscribe")
    message_callback = _decorator("on_message")
    publish_callback = _decorator("on_publish")
    unsubscribe_callback = _decorator("on_unsubscribe")
    disconnect_callback = _decorator("on_disconnect")
    socket_open_callback = _decorator("on_socket_open")
    socket_close_callback = _decorator("on_socket_close")
    socket_register_write_callback = _decorator("on_socket_register_write")
    socket_unregister_write_callback = _decorator("on_socket_unregister_write")

    # The values of the on_message and on_publish slots (read directly on the hot paths).
    _on_message: Optional[Callable[..., Any]]
    _on_publish: Optional[Callable[..., Any]]

    # Provided by Client.
    _userdata: Any
    _callback_api_version: CallbackAPIVersion
    _protocol: MQTTProtocolVersion
    _logger: Optional[logging.Logger]
    _manual_ack: bool
    suppress_exceptions: bool
    _topic_callbacks: MQTTMatcher
    _topic_callback_count: int
    _subscription_counts: dict[int, int]
    # Routes by Subscription Identifier (mqttclient/_subscriptions.py): non-empty while any
    # route exists, so unrouted messages pay one emptiness check.
    _routes: dict[Any, Any]

    def _init_callbacks(self) -> None:
        self._topic_callbacks = MQTTMatcher()
        self._topic_callback_count = 0
        self._callback_lock = threading.Lock()
        # Subscriptions by mid, to shape on_unsubscribe's VERSION1/5.0 argument.
        self._subscription_counts = {}
        self._routes = {}

    # --- message callbacks by filter ----------------------------------------------------------
    def message_callback_add(self, sub: str, callback: Callable[..., Any]) -> None:
        """Call ``callback(client, userdata, message)`` for messages whose topic matches ``sub``
        (also through ``$share/{group}/`` subscriptions); ``on_message`` then only gets the
        messages no filter matched. Thread: any."""
        if callback is None or sub is None:
            raise ValueError("sub and callback must both be defined.")
        with self._callback_lock:
            try:
                self._topic_callbacks[sub]
            except KeyError:
                self._topic_callback_count += 1
            self._topic_callbacks[sub] = callback

    def topic_callback(self, sub: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``message_callback_add``."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.message_callback_add(sub, func)
            return func

        return decorator

    def message_callback_remove(self, sub: str) -> None:
        """Remove the callback registered for ``sub`` (no error if there is none)."""
        if sub is None:
            raise ValueError("sub must defined.")
        with self._callback_lock:
            try:
                del self._topic_callbacks[sub]
            except KeyError:
                return
            self._topic_callback_count -= 1

    # --- logging ------------------------------------------------------------------------------
    def _easy_log(self, level: int, fmt: str, *args: Any) -> None:
        on_log = self.on_log
        logger = self._logger
        if on_log is None and logger is None:
            return
        buf = fmt % args if args else fmt
        if on_log is not None:
            try:
                on_log(self, self._userdata, level, buf)
            except Exception:
                # Errors in on_log must not recurse into logging through on_log.
                log.exception("Caught exception in on_log")
                if not self.suppress_exceptions:
                    raise
        if logger is not None:
            logger.log(_LOGGING_LEVEL.get(LogLevel(level), logging.DEBUG), buf)

    def _warn(self, fmt: str, *args: Any) -> None:
        """A warning for the user: through on_log / enable_logger when set (paho's channels),
        else the ``mqttclient.client`` logger."""
        if self.on_log is None and self._logger is None:
            log.warning(fmt, *args)
        else:
            self._easy_log(LogLevel.MQTT_LOG_WARNING, fmt, *args)

    # --- calling user code --------------------------------------------------------------------
    def _call(self, name: str, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(self, self._userdata, *args)
        except Exception as err:
            self._callback_failed(name, err)

    def _callback_failed(self, name: str, err: Exception) -> None:
        """paho's rule for an exception in a callback: log it, then re-raise it (in the
        ``except`` block that caught it) unless ``suppress_exceptions``."""
        self._easy_log(LogLevel.MQTT_LOG_ERR, "Caught exception in %s: %s", name, err)
        if self._logger is None and self.on_log is None:
            log.error("Caught exception in %s", name, exc_info=True)
        if not self.suppress_exceptions:
            raise err

    def dispatch(self, events: Sequence[Any]) -> None:
        """Engine sink: run the callbacks for ``events`` in order. Loop thread, no lock held."""
        network_loop.depth = getattr(network_loop, "depth", 0) + 1
        try:
            self._dispatch(events)
        finally:
            network_loop.depth -= 1

    def _dispatch(self, events: Sequence[Any]) -> None:
        for event in events:
            kind = type(event)
            if kind is ev.MessageReceived:
                self._deliver(event.publish)
            elif kind is ev.PublishCompleted:
                self._published(event)
            elif kind is ev.ConnectionAccepted or kind is ev.ConnectionRefused:
                self._connack(event)
            elif kind is ev.Subscribed:
                self._subscribed(event)
            elif kind is ev.Unsubscribed:
                self._unsubscribed(event)
            elif kind is engine_events.ConnectionClosed:
                self._closed(event)
            elif kind is ev.PublishDropped:
                self._dropped(event)
            elif kind is engine_events.SocketOpened:
                cb = self.on_socket_open
                if cb is not None:
                    self._call("on_socket_open", cb, event.sock)
            elif kind is engine_events.SocketClosed:
                cb = self.on_socket_close
                if cb is not None:
                    self._call("on_socket_close", cb, event.sock)
            elif kind is engine_events.PacketTrace:
                self._easy_log(
                    LogLevel.MQTT_LOG_DEBUG,
                    "%s %s",
                    "Sending" if event.sent else "Received",
                    describe_packet(event.packet),
                )
            elif kind is engine_events.SocketWantWrite:
                cb = (
                    self.on_socket_register_write if event.want else self.on_socket_unregister_write
                )
                if cb is not None:
                    self._call("on_socket_register_write", cb, event.sock)
            # ServerDisconnected, ProtocolViolation and KeepaliveTimeout are reported through
            # the ConnectionClosed event the engine emits right after them.

    def acks_after_delivery(self) -> bool:
        return not self._manual_ack

    def tracing(self) -> bool:
        """Engine sink: log every packet while the user listens (on_log or enable_logger)."""
        return self.on_log is not None or self._logger is not None

    def dispatch_anywhere(self, events: Sequence[Any]) -> bool:
        """Engine sink: True when ``events`` (from a write made on a user's thread while the
        loop thread waits) call no user code and may be dispatched on that thread: QoS 0
        completions when there is no ``on_publish``. Otherwise the loop thread dispatches
        them, so callbacks keep running on the loop thread only."""
        if self._on_publish is not None:
            return False
        completed = ev.PublishCompleted
        return all(type(event) is completed for event in events)

    def pre_connect(self) -> None:
        cb = self.on_pre_connect
        if cb is not None:
            self._call("on_pre_connect", cb)

    def _connect_failed(self, error: BaseException) -> None:
        """A (re)connect attempt on the loop thread failed: say why, then on_connect_fail."""
        self._warn("connecting failed: %s", error)
        cb = self.on_connect_fail
        if cb is not None:
            try:
                cb(self, self._userdata)
            except Exception as err:
                # paho always swallows exceptions from on_connect_fail.
                self._easy_log(
                    LogLevel.MQTT_LOG_ERR, "Caught exception in on_connect_fail: %s", err
                )

    # --- each event -----------------------------------------------------------------------------
    def _deliver(self, publish: Any) -> None:
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        props = _properties(PacketTypes.PUBLISH, publish.properties) if v5 else None
        msg = MQTTMessage._received(
            publish.topic,
            publish.payload,
            publish.qos,
            publish.retain,
            publish.dup,
            publish.packet_id,
            props,
        )
        # --- routed by subscription (_subscriptions.RoutingMixin._route) ---
        if self._routes and self._route(msg, publish):
            return
        # --- end routed ---
        if self._topic_callback_count:
            with self._callback_lock:
                matched = list(self._topic_callbacks.iter_match(publish.topic))
            if matched:
                for callback in matched:
                    self._call("topic callback", callback, msg)
                return
        on_message = self._on_message
        if on_message is not None:
            try:  # _call, inlined: the per-message path (round trip latency)
                on_message(self, self._userdata, msg)
            except Exception as err:
                self._callback_failed("on_message", err)

    def _route(self, msg: MQTTMessage, publish: Any) -> bool:
        """Hook: give ``msg`` to the callbacks of the subscriptions it came through; True if
        it did (then ``on_message`` does not get it). Overridden by ``RoutingMixin``."""
        return False

    def _published(self, event: ev.PublishCompleted) -> None:
        info = event.token
        on_publish = self._on_publish
        if on_publish is not None:
            if self._callback_api_version == CallbackAPIVersion.VERSION1:
                self._call("on_publish", on_publish, event.mid)
            else:
                packet = (
                    PacketTypes.PUBACK
                    if event.qos != 2 or event.reason_code < 0x80
                    else PacketTypes.PUBREC
                )
                if event.qos == 2 and event.reason_code < 0x80:
                    packet = PacketTypes.PUBCOMP
                self._call(
                    "on_publish",
                    on_publish,
                    event.mid,
                    reason_code(packet, event.reason_code),
                    _properties(packet, event.properties),
                )
        if isinstance(info, MQTTMessageInfo):
            if event.reason_code in _NOT_SUPPORTED:
                info.rc = MQTTErrorCode.MQTT_ERR_NOT_SUPPORTED  # dropped at CONNACK, not sent
            elif event.reason_code >= 0x80:
                info.rc = MQTTErrorCode.MQTT_ERR_UNKNOWN
            elif info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                info.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            info._set_as_published()

    def _dropped(self, event: ev.PublishDropped) -> None:
        info = event.token
        if isinstance(info, MQTTMessageInfo):
            too_large = event.reason == "packet too large"
            info.rc = (
                MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE
                if too_large
                else MQTTErrorCode.MQTT_ERR_QUEUE_SIZE
                if event.reason == "queue full"
                else MQTTErrorCode.MQTT_ERR_CONN_LOST
            )
            info._set_as_published()

    def _refused(self, event: ev.ConnectionRefused) -> bool:
        """Hook: the client's reaction to a refused CONNACK; True when it retries at once."""
        return False

    def _connack(self, event: Any) -> None:
        if isinstance(event, ev.ConnectionRefused) and self._refused(event):
            # paho retries at once (3.1 downgrade, random client id) without calling
            # on_connect or on_disconnect for the refused attempt.
            self._retrying_refusal = True
            return
        self._retrying_refusal = False
        self._connack_callback(event)

    def _connack_callback(self, event: Any) -> None:
        connack = event.connack
        on_connect = self.on_connect
        if on_connect is None:
            return
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        present = bool(connack.session_present)
        raw = connack.reason_code
        if v5:
            code = event.reason_code if isinstance(event, ev.ConnectionRefused) else raw
            reason = reason_code(PacketTypes.CONNACK, code)
        else:
            reason = v3_connack_reason(raw)
        props = _properties(PacketTypes.CONNACK, connack.properties)
        if self._callback_api_version == CallbackAPIVersion.VERSION1:
            flags = {"session present": int(present)}
            if v5:
                self._call("on_connect", on_connect, flags, reason, props)
            else:
                self._call("on_connect", on_connect, flags, raw)
        else:
            self._call("on_connect", on_connect, ConnectFlags(present), reason, props)

    def _subscribed(self, event: ev.Subscribed) -> None:
        on_subscribe = self.on_subscribe
        if on_subscribe is None:
            return
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        codes = [reason_code(PacketTypes.SUBACK, c) for c in event.reason_codes]
        if self._callback_api_version == CallbackAPIVersion.VERSION1 and not v5:
            self._call("on_subscribe", on_subscribe, event.mid, tuple(event.reason_codes))
        else:
            props = _properties(PacketTypes.SUBACK, event.properties)
            self._call("on_subscribe", on_subscribe, event.mid, codes, props)

    def _unsubscribed(self, event: ev.Unsubscribed) -> None:
        on_unsubscribe = self.on_unsubscribe
        if on_unsubscribe is None:
            return
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        codes = [reason_code(PacketTypes.UNSUBACK, c) for c in event.reason_codes]
        props = _properties(PacketTypes.UNSUBACK, event.properties)
        if self._callback_api_version == CallbackAPIVersion.VERSION1:
            if not v5:
                self._call("on_unsubscribe", on_unsubscribe, event.mid)
            else:
                single: Any = codes[0] if len(codes) == 1 else codes
                self._call("on_unsubscribe", on_unsubscribe, event.mid, props, single)
        else:
            self._call("on_unsubscribe", on_unsubscribe, event.mid, codes, props)

    _retrying_refusal = False

    def _closed(self, event: engine_events.ConnectionClosed) -> None:
        if self._retrying_refusal and event.rc == MQTTErrorCode.MQTT_ERR_CONN_REFUSED:
            self._retrying_refusal = False
            return
        if event.error is not None and event.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._warn("connection lost: %s", event.error)
        on_disconnect = self.on_disconnect
        if on_disconnect is None:
            return
        v5 = self._protocol == MQTTProtocolVersion.MQTTv5
        rc = event.rc
        if (event.from_server and event.reason_code is not None) or (
            event.reason_code is not None and rc == MQTTErrorCode.MQTT_ERR_PROTOCOL
        ):
            reason = reason_code(PacketTypes.DISCONNECT, event.reason_code)
        else:
            reason = disconnect_reason(rc)
        props = _properties(PacketTypes.DISCONNECT, event.properties)
        if self._callback_api_version == CallbackAPIVersion.VERSION1:
            if not v5:
                self._call("on_disconnect", on_disconnect, rc)
            elif event.from_server:
                self._call("on_disconnect", on_disconnect, reason, props)
            else:
                self._call("on_disconnect", on_disconnect, rc, None)
        else:
            self._call(
                "on_disconnect", on_disconnect, DisconnectFlags(event.from_server), reason, props
            )
