"""The MQTT session state machine: sans-I/O, one per client, alive across connections.

The session owns: the protocol version and the CONNECT it sends, packet-id allocation, both QoS
1/2 flows, the in-flight window, the queue of messages waiting for the window or for a
connection, incoming QoS 2 state, (5.0) inbound topic aliases and the server's CONNACK limits,
keepalive deadlines, and the outgoing byte buffer. It never touches sockets, threads, the clock or
user callbacks: the engine feeds it bytes and ``now`` (a ``time.monotonic()`` value), sends what
``out`` holds, and dispatches the events it returns. The session wires the parts together and
owns the connection lifecycle; the parts live in ``outbox.py`` (outgoing QoS 1/2, ids, window,
replay), ``inbound.py`` (incoming flows, aliases), ``aliases.py`` (outgoing topic aliases),
``keepalive.py`` (timers) and ``limits.py`` (CONNACK, and what it forbids: a PUBLISH or SUBSCRIBE
the server's limits do not allow fails locally with ``FeatureNotAvailableError``).

The engine holds its one lock around every call; the session is not thread-safe on its own.

Durability (``store.py``): every change to the state that must outlive the process goes through
the session's ``Store`` as it happens (write-through). ``persist()`` commits; the engine calls it
before writing any byte of ``out``, so the broker never hears of a state the store does not
hold, and ``publish()`` commits itself when the store asks for it (``commit_on_publish``). A
session built on a store that holds a previous session's state resumes it: queued and in-flight
messages, incoming QoS 2 messages, subscriptions and the client id.

Deliberate choices (paho parity, see docs/migration-from-paho.rst):

- Every ``publish`` consumes a mid, QoS 0 included, so packet ids on the wire match paho's.
- After every successful CONNACK, messages that were in flight are re-sent (PUBLISH with DUP=1,
  or PUBREL past PUBREC) whether or not Session Present is set. With Session Present 0 the broker
  treats re-sent PUBLISHes as new messages, which makes delivery at-least-once for them. A QoS 2
  message past PUBREC is never published again, even then: the broker owned it from the PUBREC
  on (MQTT §4.3.3). paho re-publishes it after a clean reconnect, which duplicated 24 of 1500
  QoS 2 messages against mosquitto; without the session neither choice is exactly-once. Incoming QoS 2 state is dropped on Session
  Present 0 (MQTT 5.0 [MQTT-3.2.2-5]).
- Messages may be sent before CONNACK (paho does; v3 §3.1.4, v5 §3.1.4), except while an
  enhanced-authentication exchange runs: then they wait for it [MQTT-3.1.2-30].
- Incoming QoS 2 uses "Method A" (v3 §4.3.3 Figure 4.3): the message is stored on PUBLISH and
  delivered on PUBREL, as paho does.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Any, Callable, ClassVar, Optional

from mqttclient import _spec
from mqttclient._core.aliases import OutgoingAliases, user_alias
from mqttclient._core.authexchange import AuthExchange
from mqttclient._core.codec import Decoder, encode, encode_publish
from mqttclient._core.config import DROP_OLDEST, FIRST_ONLY, SessionConfig, SessionState
from mqttclient._core.events import (
    ConnectionAccepted,
    ConnectionRefused,
    Event,
    KeepaliveTimeout,
    ProtocolViolation,
    PublishCompleted,
    PublishDropped,
    ServerDisconnected,
    Subscribed,
    Unsubscribed,
)
from mqttclient._core.inbound import Inbound
from mqttclient._core.keepalive import AWAIT_CONNACK, Keepalive
from mqttclient._core.limits import (
    DEFAULT_LIMITS,
    ServerLimits,
    connack_refusal,
    publish_refusal,
    restricts_publish,
    server_limits,
    subscribe_refusal,
)
from mqttclient._core.outbox import (
    AWAIT_PUBACK,
    AWAIT_PUBCOMP,
    AWAIT_PUBREC,
    QUEUED,
    Outbox,
    OutMessage,
    too_large,
)
from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Props,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    get_prop,
)
from mqttclient._core.store import MemoryStore, Store
from mqttclient.errors import (
    AuthenticationError,
    FeatureNotAvailableError,
    InvalidArgumentError,
    InvalidStateError,
    ProtocolError,
    QueueFullError,
    RemoteProtocolError,
)

__all__ = ["FIRST_ONLY", "ServerLimits", "Session", "SessionConfig", "SessionState"]

_STATE_NAMES = {
    QUEUED: "queued",
    AWAIT_PUBACK: "awaiting PUBACK",
    AWAIT_PUBREC: "awaiting PUBREC",
    AWAIT_PUBCOMP: "awaiting PUBCOMP",
}
_NO_EVENTS: tuple[Event, ...] = ()
_NO_MESSAGES: tuple[OutMessage, ...] = ()

logger = logging.getLogger(__name__)

DISCONNECTED = SessionState.DISCONNECTED
CONNECTING = SessionState.CONNECTING
CONNECTED = SessionState.CONNECTED
DISCONNECTING = SessionState.DISCONNECTING
CLOSING = SessionState.CLOSING
_OPEN = (CONNECTING, CONNECTED)  # states in which packets may be queued
_IDLE = (DISCONNECTED, CLOSING)  # states in which received bytes are ignored


_Handler = Callable[["Session", Any, "list[Event]", float], None]


class Session:
    """See the module docstring. All ``now`` arguments are monotonic seconds; every method is
    called by the engine with its lock held."""

    out: bytearray  # bytes to send, in order; the engine sends from the front and calls sent()

    _HANDLERS: ClassVar[dict[type, _Handler]]

    __slots__ = (
        "_alias_map",
        "_auth",
        "_auth_method",
        "_clean",
        "_commit_on_publish",
        "_connacked",
        "_decoder",
        "_first_done",
        "_held",
        "_inbound",
        "_ka",
        "_max_out",
        "_out_base",
        "_outbox",
        "_q0",
        "_quiet",
        "_recorded",
        "_restricted",
        "_sending",
        "_state",
        "_store",
        "_subs",
        "_version",
        "config",
        "dropped",
        "out",
        "seq",
        "server_limits",
        "wall_offset",
    )

    def __init__(
        self, config: SessionConfig, store: Optional[Store] = None, wall_offset: float = 0.0
    ) -> None:
        """``store``: where the session state is written through (default: a new
        ``MemoryStore``); its contents, if any, are restored now. ``wall_offset``: seconds to
        add to a monotonic ``now`` to get wall-clock (Unix) time, used only to keep Message
        Expiry across restarts; the façade passes ``time.time() - time.monotonic()`` and may
        update the attribute between connections.

        Raises:
            StoreError: the store cannot be read.
        """
        self.config = config
        self._store: Store = store if store is not None else MemoryStore()
        self._commit_on_publish = self._store.commit_on_publish
        self.wall_offset = wall_offset
        #: The stable sequence number of the message the last ``publish()`` accepted (0 for a
        #: QoS 0 message written at once).
        self.seq = 0
        #: PublishDropped events ``publish()`` produced to make room (policy DROP_OLDEST), for
        #: the caller to take with ``take_events()`` (a plain attribute: checked per publish).
        self.dropped: list[Event] = []
        # Subscriptions granted by the server: topic filter -> (Subscription, SUBSCRIBE props).
        self._subs: dict[str, tuple[Subscription, Props]] = {}
        self._recorded = ("", 0)  # (client id, protocol version) as the store last recorded
        self.out = bytearray()
        self.server_limits = DEFAULT_LIMITS
        self._state = DISCONNECTED
        self._version = config.protocol_version
        self._decoder = Decoder(self._version)
        self._outbox = Outbox(config.max_inflight, self._version, self._store)
        self._ka = Keepalive()
        self._connacked = False
        self._first_done = False  # a CONNACK 0 arrived since reset_first_connect()
        self._clean = True  # the last CONNECT had Clean Start / Clean Session 1
        self._quiet = False  # it had Request Problem Information 0
        self._auth_method: Optional[str] = None
        # (5.0) Enhanced authentication (authexchange.py). While its exchange runs before
        # CONNACK only AUTH or DISCONNECT may go out [MQTT-3.1.2-30]: ``_sending`` (the states
        # in which packets are written at once) is then CONNECTED only, QoS 0/1/2 messages
        # wait in the queue and SUBSCRIBE/UNSUBSCRIBE in ``_held`` until the CONNACK.
        self._auth = AuthExchange()
        self._sending: tuple[int, ...] = _OPEN
        self._held = bytearray()
        self._max_out: Optional[int] = None  # server's Maximum Packet Size
        # QoS 0 PUBLISHes in ``out``: (end offset counted from _out_base, token, mid).
        self._q0: deque[tuple[int, Any, int]] = deque()
        self._out_base = 0  # bytes removed from the front of ``out`` so far
        self._inbound = Inbound(self.out, self._store)
        # (5.0) Outgoing topic aliases: created for automatic mode or on the first user alias.
        self._alias_map: Optional[OutgoingAliases] = None
        # (5.0) The CONNACK forbids some PUBLISH by QoS or RETAIN: publish() must check.
        self._restricted = False
        self._restore()

    def _restore(self) -> None:
        """Resume the session a store holds (nothing to do for an empty store)."""
        contents = self._store.load()
        cfg = self.config
        stored_id = contents.client_id
        if stored_id and not cfg.client_id:
            cfg.client_id = stored_id  # resume the session under its (possibly assigned) id
        elif stored_id and stored_id != cfg.client_id and contents.messages:
            logger.warning(
                "the store holds the session of client id %r, the client is %r: its messages "
                "are sent in the new session (at least once)",
                stored_id,
                cfg.client_id,
            )
        self._recorded = (stored_id, contents.protocol_version)
        messages = contents.messages
        self._outbox.restore(messages, contents.last_seq, self.wall_offset)
        if isinstance(self._store, MemoryStore):
            # From here the outbox's objects are the MemoryStore's copy (no second index).
            self._store.attach(self._outbox.stored_messages)
        if any(m.properties and user_alias(m.properties) for m in messages):
            # Messages published with the user's Topic Alias: check it on every send.
            self._alias_map = OutgoingAliases(0)
            self._alias_map.manual = True
        for publish in contents.incoming:
            self._inbound.stored[publish.packet_id] = publish
        for sub, props in contents.subscriptions:
            self._subs[sub.topic_filter] = (sub, props)
        if messages or contents.incoming:
            logger.info(
                "restored from the store: %d outgoing messages%s, %d incoming QoS 2 messages, "
                "%d subscriptions",
                len(messages),
                f" (seq {messages[0].seq}..{messages[-1].seq})" if messages else "",
                len(contents.incoming),
                len(contents.subscriptions),
            )
        if logger.isEnabledFor(logging.DEBUG):
            for m in messages:
                logger.debug(
                    "restored message seq=%d mid=%d qos=%d %s topic=%r",
                    m.seq,
                    m.mid,
                    m.qos,
                    _STATE_NAMES.get(m.state, str(m.state)),
                    m.topic,
                )

    def adopt_restored(self, make_token: Callable[[int, int], Any]) -> list[Any]:
        """Give each unfinished message restored from the store (they have no token) the token
        ``make_token(mid, seq)`` and return those tokens in acceptance order; its completion or
        drop events carry it from then on. The façade calls it once, right after construction,
        to make ``MQTTMessageInfo`` objects for ``Client.restored_messages()``."""
        outbox = self._outbox
        messages = [m for m in outbox.ids.values() if m.inflight]
        messages += outbox.queue
        messages.sort(key=_by_seq)
        tokens: list[Any] = []
        for msg in messages:
            if msg.token is None and msg.qos:
                msg.token = make_token(msg.mid, msg.seq)
                tokens.append(msg.token)
        return tokens

    def _record_session(self) -> None:
        """Write the client id and protocol version to the store if they changed."""
        cfg = self.config
        current = (cfg.client_id, cfg.protocol_version)
        if current != self._recorded:
            self._recorded = current
            self._store.set_session(*current)

    def persist(self) -> None:
        """Commit every store change made so far. The engine calls it before writing any byte
        of ``out`` (write-ahead: a PUBREC, PUBREL, PUBCOMP or PUBLISH goes out only once the
        state it reports is durable) and so at least once per loop iteration; changes between
        two calls form one batch.

        Raises:
            StoreError: the commit failed.
        """
        self._store.commit()

    @property
    def store(self) -> Store:
        """The store the session writes through to."""
        return self._store

    @property
    def subscriptions(self) -> tuple[tuple[Subscription, Props], ...]:
        """The subscriptions granted and not unsubscribed, oldest first (what ``resubscribe``
        restores), with the properties of their SUBSCRIBE."""
        return tuple(self._subs.values())

    def take_events(self) -> Sequence[Event]:
        """Events a user operation caused besides its result: PublishDropped for messages that
        ``publish()`` dropped to make room (policy DROP_OLDEST). The caller dispatches them."""
        events = self.dropped
        if not events:
            return _NO_EVENTS
        self.dropped = []
        return events

    # --- connection lifecycle -----------------------------------------------------------------
    def reset_first_connect(self) -> None:
        """The user called ``connect()``: with clean start FIRST_ONLY the next CONNECT is clean
        again, until a CONNACK 0 arrives."""
        self._first_done = False

    def connection_opened(self, now: float) -> None:
        """A transport is up: reset per-connection state (decoder, aliases, quota, out buffer)
        and queue CONNECT. State becomes CONNECTING.

        Raises:
            InvalidStateError: the state is not DISCONNECTED (call ``connection_lost`` first).
            ConnectionFailedError: (5.0) the authenticator could not start; nothing changed.
        """
        if self._state != DISCONNECTED:
            raise InvalidStateError("connection_opened() while a connection is open")
        cfg = self.config
        version = self._version = cfg.protocol_version
        v5 = version == 5
        props = cfg.connect_properties if v5 else ()
        # (5.0) The authenticator's method and initial data go into CONNECT (§4.12).
        props = self._auth.connect_properties(props, cfg.authenticator if v5 else None)
        # Our Maximum Packet Size binds the server (§3.1.2.11.4): larger packets are 0x95.
        self._decoder = Decoder(version, get_prop(props, _spec.MAXIMUM_PACKET_SIZE))
        self._inbound.connection_opened(version, props)
        self._inbound.check_payload_format = v5 and cfg.validate_payload_format
        self._auth_method = get_prop(props, _spec.AUTHENTICATION_METHOD)
        self._sending = _OPEN if self._auth_method is None else (CONNECTED,)  # [MQTT-3.1.2-30]
        self._held.clear()
        self.out.clear()
        self._q0.clear()
        self._out_base = 0
        self._outbox.connection_opened(cfg.max_inflight, version)
        self._record_session()
        self.server_limits = DEFAULT_LIMITS
        self._restricted = False
        self._open_aliases(cfg.topic_alias_auto if v5 else 0)
        self._max_out = None
        clean = cfg.clean_start
        if clean == FIRST_ONLY and v5:
            clean = not self._first_done
        self._clean = bool(clean)
        # Request Problem Information 0: Reason Strings / User Properties only where allowed.
        self._quiet = get_prop(props, _spec.REQUEST_PROBLEM_INFORMATION) == 0
        connect = Connect(
            cfg.client_id,
            version,
            bool(clean),
            cfg.keepalive_s,
            cfg.username,
            cfg.password,
            cfg.will,
            props,
            cfg.bridge,
        )
        self.out += encode(connect, version)
        self._state = CONNECTING
        self._connacked = False
        self._ka.start(now, cfg.connack_timeout_s)
        self._ka.interval = cfg.keepalive_s

    def _open_aliases(self, auto: int) -> None:
        """A new connection: outgoing aliases start empty [MQTT-3.3.2-7] and none is used
        before the CONNACK tells the server's maximum [MQTT-3.2.2-18]."""
        aliases = self._alias_map
        if aliases is None and auto:
            aliases = self._alias_map = OutgoingAliases(auto)
        if aliases is not None:
            aliases.connection_opened(auto)
            self._outbox.aliases = aliases if aliases.active else None

    def connection_lost(self, now: float) -> list[Event]:
        """The transport is gone. In-flight messages go back to the front of the queue in their
        original order (to be re-sent after the next CONNACK: PUBLISH with DUP=1, or PUBREL);
        QoS 0 messages not fully written are dropped (PublishDropped); SUBSCRIBE/UNSUBSCRIBE in
        flight are forgotten. State becomes DISCONNECTED. Calling it again is harmless."""
        if self._state == DISCONNECTED:
            return []
        events: list[Event] = [
            PublishDropped(token, mid, "connection lost") for _, token, mid in self._q0
        ]
        self._q0.clear()
        self.out.clear()
        self._held.clear()
        self._auth.connection_lost()
        self._out_base = 0
        self._outbox.connection_lost()
        self._state = DISCONNECTED
        self._inbound.replies = False
        self._connacked = False
        self._ka.stop()
        return events

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the transport; returns the events they caused, in order.
        Ignored unless a connection is open and not CLOSING."""
        state = self._state
        if state in _IDLE:
            return []
        events: list[Event] = []
        out = self.out
        queued = len(out)
        ka = self._ka
        try:
            packets = self._decoder.feed(data)
            if packets:
                ka.last_recv = now
                ka.ping_at = None  # any packet answers an outstanding PINGREQ
                if logger.isEnabledFor(logging.DEBUG):
                    for packet in packets:
                        logger.debug("received %s", _describe(packet))
                handlers = self._HANDLERS
                on_publish = self._inbound.publish
                for packet in packets:
                    if not self._connacked:
                        self._before_connack(packet, events, now)
                    elif type(packet) is Publish:
                        on_publish(packet, events)
                    else:
                        if self._quiet:
                            _check_problem_information(packet)
                        handlers.get(type(packet), Session._unexpected)(self, packet, events, now)
                    if self._state == CLOSING:
                        break
        except ProtocolError as exc:
            self._violation(exc, events)
        if self._outbox.queue and self._state == CONNECTED:
            self._pump(events, now)
        if len(out) != queued:
            ka.last_send = now
        return events

    def sent(self, count: int, now: float) -> list[Event]:
        """``count`` bytes from the front of ``out`` were written; drop them and return
        PublishCompleted for every QoS 0 message now fully written."""
        out = self.out
        if count >= len(out):
            count = len(out)
            out.clear()
        else:
            del out[:count]
        base = self._out_base = self._out_base + count
        q0 = self._q0
        if not q0 or q0[0][0] > base:
            return []
        events: list[Event] = []
        while q0 and q0[0][0] <= base:
            _, token, mid = q0.popleft()
            events.append(PublishCompleted(token, mid, 0))
        return events

    def next_deadline(self) -> Optional[float]:
        """The monotonic time by which ``tick`` must be called (PINGREQ due, unanswered
        PINGREQ, or CONNACK timeout), or None when no timer runs."""
        return self._ka.deadline()

    def tick(self, now: float) -> list[Event]:
        """Run timers: queue PINGREQ when due; return KeepaliveTimeout (state CLOSING) when the
        link is dead or CONNACK is overdue. Does nothing before ``next_deadline()``."""
        ka = self._ka
        deadline = ka.deadline()
        if deadline is None or now < deadline:
            return []
        if ka.phase == AWAIT_CONNACK:
            # v3 §3.2 / v5 §3.2: no CONNACK within a reasonable time → close.
            self._close()
            return [KeepaliveTimeout(now - ka.connect_at, "connack")]
        if ka.ping_at is not None:
            # §3.1.2.10: no answer to PINGREQ within a reasonable time → close.
            waited = now - ka.last_recv
            self._close()
            return [KeepaliveTimeout(waited)]
        self.out += encode(Pingreq(), self._version)
        ka.ping_at = ka.last_send = now
        return []

    # --- user operations ----------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Props,
        token: Any,
        now: float,
    ) -> int:
        """Accept an application message; return its mid. Arguments are already validated.

        Every call consumes a mid from the counter shared with SUBSCRIBE/UNSUBSCRIBE (QoS 0 too,
        as paho does). QoS 0 is written at once when a connection is open (CONNECTING or
        CONNECTED) and otherwise dropped (no event: the façade reports MQTT_ERR_NO_CONN), or
        queued for the next connection with ``config.queue_qos0_offline``. QoS 1/2 go out at
        once when CONNECTED or CONNECTING, nothing is queued ahead and the window has room;
        otherwise they wait in order (also while DISCONNECTING/CLOSING: for the next
        connection). A QoS 1/2 message is in the store when this returns, and committed when
        the store says ``commit_on_publish``. ``self.seq`` is then its stable sequence number.
        (5.0) A Message Expiry Interval in ``properties`` is honoured while the message waits.

        Raises:
            PayloadTooLargeError: the PUBLISH would exceed the server's Maximum Packet Size
                ([MQTT-3.2.2-15]); the message is not accepted and no mid is consumed.
            FeatureNotAvailableError: (5.0, CONNECTED) the CONNACK forbids it: QoS above
                Maximum QoS, RETAIN with Retain Available 0, a Topic Alias above the Topic
                Alias Maximum; not accepted, no mid consumed. (Messages accepted before the
                CONNACK are checked when it arrives: ``Outbox.drop_forbidden``.)
            InvalidArgumentError: (5.0) a Topic Alias of 0, one with an empty topic that was
                never given a topic, or one while automatic aliases are on.
            QueueFullError: the offline bounds (``max_queued_messages``/``max_queued_bytes``)
                are reached and the policy refuses, or nothing unsent can be dropped; the
                message is not accepted and no mid is consumed.
            StoreError: the store failed (see docs/durable-sessions.rst).
        """
        if self._restricted or properties:
            topic = self._admit(topic, qos, retain, properties)
        outbox = self._outbox
        state = self._state
        cfg = self.config
        if qos == 0:
            if state in self._sending:
                if outbox.aliases is not None:
                    return self._publish_q0_aliased(topic, payload, retain, properties, token, now)
                data = encode_publish(
                    topic, payload, 0, retain, False, 0, properties, self._version
                )
                limit = self._max_out
                if limit is not None and len(data) > limit:
                    raise too_large(len(data), limit)
                mid = outbox.next_mid()
                out = self.out
                out += data
                self._q0.append((self._out_base + len(out), token, mid))
                self._ka.last_send = now
                self.seq = 0
                return mid
            if not cfg.queue_qos0_offline and state not in _OPEN:  # else: wait for CONNACK
                self.seq = 0
                return outbox.next_mid()
        victims: Sequence[OutMessage] = _NO_MESSAGES
        limit = cfg.max_queued_messages
        if (limit and outbox.unfinished >= limit) or cfg.max_queued_bytes:
            victims = self._room_for(len(payload))
        expires_at = expiry_wall = 0.0
        if properties and self._version == 5:
            interval = get_prop(properties, _spec.MESSAGE_EXPIRY_INTERVAL)
            if interval is not None:
                expires_at = now + interval
                expiry_wall = expires_at + self.wall_offset
        out = self.out
        queued = len(out)
        mid = outbox.accept(
            topic, payload, qos, retain, properties, token,
            out if qos and state in self._sending else None, self._max_out, expires_at, expiry_wall,
        )  # fmt: skip
        self.seq = outbox.last_seq
        if victims:
            outbox.drop(victims)
            for msg in victims:
                self.dropped.append(PublishDropped(msg.token, msg.mid, "queue full"))
        if qos and self._commit_on_publish:
            self._store.commit()
        if len(out) != queued:
            self._ka.last_send = now
        return mid

    def _publish_q0_aliased(
        self, topic: str, payload: bytes, retain: bool, properties: Props, token: Any, now: float
    ) -> int:
        """``publish()`` of a QoS 0 message on an open connection that uses topic aliases."""
        aliases = self._outbox.aliases
        assert aliases is not None
        wire_topic, wire_props, alias = aliases.wire(topic, properties)
        data = encode_publish(wire_topic, payload, 0, retain, False, 0, wire_props, self._version)
        limit = self._max_out
        if limit is not None and len(data) > limit:
            raise too_large(len(data), limit)
        mid = self._outbox.next_mid()
        if alias:
            aliases.established(topic, alias)
        out = self.out
        out += data
        self._q0.append((self._out_base + len(out), token, mid))
        self._ka.last_send = now
        self.seq = 0
        return mid

    def _admit(self, topic: str, qos: int, retain: bool, properties: Props) -> str:
        """(5.0) The local checks of a PUBLISH against the CONNACK (while CONNECTED: before it,
        the limits are unknown) and the user's Topic Alias; returns the topic the message
        stands for (an empty topic with a user alias resolved). Raises as ``publish()``."""
        if self._version != 5:
            return topic
        connected = self._state == CONNECTED
        limits = self.server_limits
        if connected and self._restricted:
            refusal = publish_refusal(limits, qos, retain)
            if refusal is not None:
                raise refusal
        alias = get_prop(properties, _spec.TOPIC_ALIAS) if properties else None
        if alias is None:
            return topic
        if self.config.topic_alias_auto:
            raise InvalidArgumentError(
                "automatic topic aliases are on (topic_alias_auto_set): the client chooses the "
                "aliases, so a PUBLISH must not carry its own Topic Alias"
            )
        if not alias:
            raise InvalidArgumentError("a Topic Alias of 0 is not allowed [MQTT-3.3.2-8]")
        maximum = limits.topic_alias_maximum
        if connected and alias > maximum:
            raise FeatureNotAvailableError(
                f"the server's CONNACK Topic Alias Maximum is {maximum}: Topic Alias {alias} is "
                "not allowed [MQTT-3.3.2-9]",
                "Topic Alias Maximum",
                0x94,
            )
        aliases = self._alias_map
        if aliases is None:
            aliases = self._alias_map = OutgoingAliases(0)
            if connected:
                aliases.connacked(maximum)
        topic = aliases.resolve(topic, alias)
        self._outbox.aliases = aliases  # from now on every PUBLISH has its alias checked
        return topic

    def _room_for(self, size: int) -> Sequence[OutMessage]:
        """Check the offline bounds for one more message with a payload of ``size`` bytes.
        Returns the messages to drop first (policy DROP_OLDEST: the oldest never sent), or
        raises QueueFullError."""
        cfg = self.config
        outbox = self._outbox
        limit_n = cfg.max_queued_messages
        limit_b = cfg.max_queued_bytes
        over_n = outbox.unfinished + 1 - limit_n if limit_n else 0
        over_b = outbox.held_bytes + size - limit_b if limit_b else 0
        if over_n <= 0 and over_b <= 0:
            return _NO_MESSAGES
        if limit_b and size > limit_b:
            raise QueueFullError(
                f"queue full: a message of {size} bytes exceeds max_queued_bytes ({limit_b})"
            )
        if cfg.queue_full_policy == DROP_OLDEST:
            victims = outbox.oldest_unsent(over_n, over_b)
            if victims is not None:
                return victims
            raise QueueFullError(
                "queue full: every message held was sent already (in flight) and cannot be "
                "dropped to make room"
            )
        raise QueueFullError(
            f"queue full: {outbox.unfinished} messages, {outbox.held_bytes} bytes held "
            f"(max_queued_messages {limit_n or 'unbounded'}, max_queued_bytes "
            f"{limit_b or 'unbounded'})"
        )

    def subscribe(
        self, subscriptions: tuple[Subscription, ...], properties: Props, now: float
    ) -> int:
        """Queue SUBSCRIBE; return its mid (also its packet id).

        Raises:
            InvalidStateError: not CONNECTING or CONNECTED (the façade reports NO_CONN).
            QueueFullError: all 65,535 packet ids are in use.
            FeatureNotAvailableError: (5.0, CONNECTED) the CONNACK forbids it: a ``+``/``#``
                filter with Wildcard Subscription Available 0, a ``$share/`` filter with Shared
                Subscription Available 0, a Subscription Identifier with Subscription
                Identifiers Available 0. Nothing is sent and no mid is consumed.
        """
        if self._version == 5 and self._state == CONNECTED:
            refusal = subscribe_refusal(self.server_limits, subscriptions, properties)
            if refusal is not None:
                raise refusal
        mid = self._request_id("subscribe")
        buffer = self.out if self._state in self._sending else self._held  # [MQTT-3.1.2-30]
        buffer += encode(Subscribe(mid, subscriptions, properties), self._version)
        self._outbox.pending[mid] = (_spec.SUBSCRIBE, subscriptions, properties)
        self._ka.last_send = now
        return mid

    def unsubscribe(self, topic_filters: tuple[str, ...], properties: Props, now: float) -> int:
        """Queue UNSUBSCRIBE; return its mid. The filters are forgotten for ``resubscribe`` at
        once. Raises as ``subscribe``."""
        mid = self._request_id("unsubscribe")
        buffer = self.out if self._state in self._sending else self._held  # [MQTT-3.1.2-30]
        buffer += encode(Unsubscribe(mid, topic_filters, properties), self._version)
        self._outbox.pending[mid] = (_spec.UNSUBSCRIBE, topic_filters, properties)
        subs = self._subs
        for topic_filter in topic_filters:
            if subs.pop(topic_filter, None) is not None:
                self._store.remove_subscription(topic_filter)
        self._ka.last_send = now
        return mid

    def _request_id(self, what: str) -> int:
        if self._state not in _OPEN:
            raise InvalidStateError(f"cannot {what}: not connected")
        mid = self._outbox.free_id()
        if not mid:
            raise QueueFullError(f"cannot {what}: all 65535 packet identifiers are in use")
        return mid

    def ack(self, packet_id: int, qos: int, now: float) -> None:
        """Acknowledge a delivered message: PUBACK for QoS 1, PUBCOMP for QoS 2 (the QoS it
        arrived with decides). Acks go out in call order; the engine calls this in arrival
        order ([MQTT-4.6.0-2]). An id not delivered on the current connection is ignored (its
        connection is gone, and the server re-sends it or its PUBREL on the next one)."""
        if self._inbound.ack(packet_id):
            self._ka.last_send = now

    def disconnect(self, reason_code: int, properties: Props, now: float) -> None:
        """Queue DISCONNECT after everything already in ``out`` (3.x: no reason code or
        properties). State becomes DISCONNECTING; later QoS 0 publishes are dropped and QoS 1/2
        ones are kept for the next connection. No effect unless CONNECTING or CONNECTED."""
        if self._state not in _OPEN:
            return
        packet = Disconnect(reason_code, properties) if self._version == 5 else Disconnect()
        data = encode(packet, self._version)
        limit = self._max_out
        if limit is not None and len(data) > limit:
            # [MQTT-3.14.2-3/-4]: leave out what the server's Maximum Packet Size cannot take.
            kept = tuple(p for p in properties if p[0] not in _DIAGNOSTICS)
            data = encode(Disconnect(reason_code, kept), 5)
        self.out += data
        self._state = DISCONNECTING
        self._inbound.replies = False  # nothing may follow our DISCONNECT [MQTT-3.14.4-1]
        self._ka.may_ping = False
        self._ka.last_send = now

    def reauthenticate(self, now: float) -> bool:
        """(5.0) Queue AUTH 0x19 Re-authenticate with the connection's Authentication Method
        and the authenticator's new initial data [MQTT-4.12.1-1]; the server answers AUTH 0x18
        (handled like the first exchange) and AUTH 0x00 on success, or DISCONNECT. Other
        traffic goes on meanwhile (§4.12.1). Returns False (nothing sent) while an exchange is
        already in progress.

        Raises:
            InvalidStateError: not CONNECTED, or the connection was not made with an
                authenticator (``SessionConfig.authenticator``).
            AuthenticationError: the authenticator's ``start()`` failed; nothing was sent.
        """
        if self._state != CONNECTED:
            raise InvalidStateError("cannot re-authenticate: not connected")
        packet = self._auth.reauthenticate()
        if packet is None:
            return False
        self.out += encode(packet, 5)
        self._ka.last_send = now
        return True

    def drop_unsent(self) -> list[tuple[str, bytes, int, bool, int]]:
        """Forget every QoS 1/2 message accepted but never sent (queued for the window or a
        connection); return them as ``(topic, payload, qos, retain, mid)`` in acceptance order.
        Messages already sent once stay: the server may hold them, so they are still replayed.
        No events are returned for the dropped messages. The store forgets them too (committed
        before this returns)."""
        dropped = self._outbox.drop_unsent()
        self._store.commit()
        return [(m.topic, m.payload, m.qos, m.retain, m.mid) for m in dropped]

    # --- introspection ------------------------------------------------------------------------
    @property
    def state(self) -> int:
        """A ``SessionState`` value."""
        return self._state

    def has_unfinished(self) -> bool:
        """True while any QoS 1/2 message is queued or in flight."""
        return self._outbox.unfinished > 0

    def reserve_mid(self) -> int:
        """Consume a mid without sending anything (paho numbers refused publishes too, so the
        ids on the wire stay the same as paho's)."""
        return self._outbox.next_mid()

    def unfinished_count(self) -> int:
        """QoS 1/2 messages queued or in flight (what paho's ``max_queued_messages`` caps)."""
        return self._outbox.unfinished

    @property
    def inflight_count(self) -> int:
        """QoS 1/2 PUBLISHes sent on this connection and not yet acknowledged: the window slots
        in use (PUBREL replays take none)."""
        return self._outbox.used

    @property
    def window(self) -> int:
        """The in-flight window: min(max_inflight, server Receive Maximum)."""
        return self._outbox.window

    @property
    def keepalive_s(self) -> int:
        """The effective keepalive: the configured one, or (5.0) the Server Keep Alive."""
        return self._ka.interval if self._connacked else self.config.keepalive_s

    @property
    def client_id(self) -> str:
        """The client id used for the next CONNECT (an Assigned Client Identifier once given)."""
        return self.config.client_id

    # --- incoming packets ---------------------------------------------------------------------
    def _before_connack(self, packet: Packet, events: list[Event], now: float) -> None:
        cls = type(packet)
        if cls is Connack:
            assert isinstance(packet, Connack)
            self._on_connack(packet, events, now)
        elif cls is Auth and self._auth_method is not None:
            assert isinstance(packet, Auth)
            self._on_auth(packet, events, now)
        else:
            # v3 [MQTT-3.2.0-1] / v5 [MQTT-3.2.0-1]: the server's first packet is CONNACK.
            raise RemoteProtocolError(f"protocol error: {_name(packet)} before CONNACK")

    def _on_connack(self, packet: Connack, events: list[Event], now: float) -> None:
        if self._connacked:
            raise RemoteProtocolError("protocol error: second CONNACK [MQTT-3.2.0-2]")
        refusal = connack_refusal(packet, self._version)
        if refusal:
            self._close()
            events.append(ConnectionRefused(packet, refusal))
            return
        self._connacked = True  # from here a violation is answered with DISCONNECT (5.0)
        if packet.session_present and self._clean and self._version == 5:
            # v5 [MQTT-3.2.2-4]: we hold no session state for it to be present.
            raise RemoteProtocolError("protocol error: Session Present 1 after Clean Start 1")
        cfg = self.config
        interval = cfg.keepalive_s
        if self._version == 5:
            limits = self.server_limits = server_limits(packet.properties, self._auth_method)
            self._auth.on_connack(packet.properties)  # the authenticator checks the server
            self._max_out = limits.maximum_packet_size
            self._restricted = restricts_publish(limits)
            aliases = self._alias_map
            if aliases is not None:
                aliases.connacked(limits.topic_alias_maximum)  # [MQTT-3.2.2-17]
                self._outbox.aliases = aliases if aliases.active else None
            self._outbox.set_receive_maximum(limits.receive_maximum)  # [MQTT-3.3.4-7], §4.9
            if limits.server_keep_alive is not None:
                interval = limits.server_keep_alive  # [MQTT-3.2.2-21]: it replaces ours
            assigned = get_prop(packet.properties, _spec.ASSIGNED_CLIENT_IDENTIFIER)
            if assigned is not None:
                cfg.client_id = assigned  # [MQTT-3.2.2-16]: reuse it on reconnect
                self._record_session()  # ... also after a restart
        self._first_done = True
        if not packet.session_present:
            self._inbound.session_lost()
        self._ka.connected(now, interval)
        events.append(ConnectionAccepted(packet))
        if self._state == CONNECTING:  # not if disconnect() was called meanwhile
            self._state = CONNECTED
            self._inbound.replies = True
            if not packet.session_present and cfg.resubscribe and self._subs:
                self._resubscribe()
            if self._held:  # SUBSCRIBE/UNSUBSCRIBE held during the AUTH exchange
                self.out += self._held
                self._held.clear()
            if self._restricted:
                # Accepted while the limits were unknown: never sent if they forbid them.
                events += self._outbox.drop_forbidden(self.server_limits)
            # Replay (in order, within the window) before new messages, whatever Session
            # Present says (paho parity, module docstring); [MQTT-4.4.0-1], [MQTT-4.6.0-1].
            self._pump(events, now)

    def _pump(self, events: list[Event], now: float) -> None:
        """Send what the queue and the window allow (``Outbox.pump``); QoS 0 messages it
        writes complete once ``sent()`` sees their last byte written."""
        outbox = self._outbox
        events += outbox.pump(self.out, self._max_out, now)
        if outbox.q0_sent:
            base = self._out_base
            q0 = self._q0
            for end, token, mid in outbox.q0_sent:
                q0.append((base + end, token, mid))
            outbox.q0_sent.clear()

    def _resubscribe(self) -> None:
        """The server has no session: subscribe again to everything granted before (one
        SUBSCRIBE per distinct set of SUBSCRIBE properties). Their SUBACKs come back as
        ``Subscribed`` events with mids the user never saw."""
        groups: dict[Props, list[Subscription]] = {}
        limits = self.server_limits
        for sub, props in self._subs.values():
            refusal = subscribe_refusal(limits, (sub,), props) if self._version == 5 else None
            if refusal is not None:
                logger.warning("not resubscribing to %r: %s", sub.topic_filter, refusal)
                continue
            groups.setdefault(props if self._version == 5 else (), []).append(sub)
        for props, subs in groups.items():
            mid = self._outbox.free_id()
            if not mid:
                logger.warning("cannot resubscribe: all 65535 packet identifiers are in use")
                return
            items = tuple(subs)
            self.out += encode(Subscribe(mid, items, props), self._version)
            self._outbox.pending[mid] = (_spec.SUBSCRIBE, items, props)
        logger.info("server has no session: resubscribing to %d topic filters", len(self._subs))

    def _on_auth(self, packet: Auth, events: list[Event], now: float) -> None:
        """Enhanced authentication (MQTT 5.0 §4.12): ``AuthExchange.on_auth`` checks the AUTH
        ([MQTT-4.12.0-5], [MQTT-4.12.0-6]) and the authenticator answers AUTH 0x18 with AUTH
        0x18 [MQTT-4.12.0-3]. What it raises (RemoteProtocolError 0x82, AuthenticationError
        0x80) ends the connection through ``_violation``."""
        reply = self._auth.on_auth(packet)
        if reply is not None and self._state in _OPEN:  # nothing after our DISCONNECT
            self.out += encode(reply, 5)

    def _on_pubrel(self, packet: Pubrel, events: list[Event], now: float) -> None:
        self._inbound.pubrel(packet.packet_id, events)

    def _on_puback(self, packet: Puback, events: list[Event], now: float) -> None:
        done = self._outbox.puback(packet)
        if done is not None:
            events.append(done)

    def _on_pubrec(self, packet: Pubrec, events: list[Event], now: float) -> None:
        # After our DISCONNECT no PUBREL may be sent [MQTT-3.14.4-1]; the flow then resumes on
        # the next connection (the message is replayed as PUBLISH with DUP=1).
        done = self._outbox.pubrec(packet, self.out if self._state == CONNECTED else None)
        if done is not None:
            events.append(done)

    def _on_pubcomp(self, packet: Pubcomp, events: list[Event], now: float) -> None:
        done = self._outbox.pubcomp(packet)
        if done is not None:
            events.append(done)

    def _on_suback(self, packet: Suback, events: list[Event], now: float) -> None:
        entry = self._pending_request(packet.packet_id, _spec.SUBSCRIBE, "SUBACK")
        if entry is None:
            return
        subscriptions, props = entry
        count = len(subscriptions)
        if len(packet.reason_codes) != count:
            # [MQTT-3.9.3-1]: one code per filter, in order.
            raise RemoteProtocolError(
                f"protocol error: SUBACK has {len(packet.reason_codes)} codes for {count} filters"
            )
        subs = self._subs
        for sub, code in zip(subscriptions, packet.reason_codes):
            if code < 0x80:  # granted (3.x 0..2, 5.0 < 0x80); kept for resubscribe
                subs.pop(sub.topic_filter, None)
                subs[sub.topic_filter] = (sub, props)
                self._store.put_subscription(sub, props)
        events.append(Subscribed(packet.packet_id, packet.reason_codes, packet.properties))

    def _on_unsuback(self, packet: Unsuback, events: list[Event], now: float) -> None:
        entry = self._pending_request(packet.packet_id, _spec.UNSUBSCRIBE, "UNSUBACK")
        if entry is None:
            return
        count = len(entry[0])
        if self._version == 5 and len(packet.reason_codes) != count:
            # [MQTT-3.11.3-1]: one code per filter, in order (5.0 only; 3.x has none).
            raise RemoteProtocolError(
                f"protocol error: UNSUBACK has {len(packet.reason_codes)} codes for {count} filters"
            )
        events.append(Unsubscribed(packet.packet_id, packet.reason_codes, packet.properties))

    def _pending_request(
        self, packet_id: int, kind: int, what: str
    ) -> Optional[tuple[tuple[Any, ...], Props]]:
        """The (subscriptions or filters, properties) of the request ``packet_id`` answers."""
        entry = self._outbox.pending.get(packet_id)
        if entry is None or entry[0] != kind:
            logger.warning("%s for unknown packet id %d: ignored", what, packet_id)
            return None
        del self._outbox.pending[packet_id]
        return entry[1], entry[2]

    def _on_pingresp(self, packet: Pingresp, events: list[Event], now: float) -> None:
        pass  # receive() already cleared the outstanding ping: any packet answers it

    def _on_disconnect(self, packet: Disconnect, events: list[Event], now: float) -> None:
        if self._version != 5:
            # v3 [MQTT-4.8.0-1]: DISCONNECT is client-to-server only.
            raise RemoteProtocolError("protocol error: DISCONNECT from the server under MQTT 3.x")
        self._close()
        events.append(ServerDisconnected(packet.reason_code, packet.properties))

    def _on_auth_packet(self, packet: Auth, events: list[Event], now: float) -> None:
        self._on_auth(packet, events, now)  # re-authentication (5.0 §4.12.1), same hook

    def _unexpected(self, packet: Packet, events: list[Event], now: float) -> None:
        # CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ travel client → server only (rules §1.1).
        raise RemoteProtocolError(f"protocol error: {_name(packet)} sent by the server")

    # --- errors -------------------------------------------------------------------------------
    def _violation(self, error: ProtocolError, events: list[Event]) -> None:
        """MQTT 5.0 §4.13: DISCONNECT with the most specific reason code, then close; 3.x
        [MQTT-4.8.0-1]: just close. Before CONNACK nothing is sent, except when enhanced
        authentication failed: DISCONNECT may then go out before CONNACK [MQTT-3.1.2-30]."""
        auth_failed = isinstance(error, AuthenticationError)
        if auth_failed:
            logger.warning(
                "enhanced authentication failed: %s (DISCONNECT 0x%02X)", error, error.reason_code
            )
        else:
            logger.warning(
                "protocol violation by the server: %s (0x%02X)", error, error.reason_code
            )
        if self._version == 5 and (self._connacked or auth_failed) and self._state != DISCONNECTING:
            self.out += encode(Disconnect(error.reason_code), 5)
        self._close()
        events.append(ProtocolViolation(error))

    def _close(self) -> None:
        self._state = CLOSING
        self._inbound.replies = False
        self._ka.stop()


Session._HANDLERS = {
    Connack: Session._on_connack,
    Puback: Session._on_puback,
    Pubrec: Session._on_pubrec,
    Pubrel: Session._on_pubrel,
    Pubcomp: Session._on_pubcomp,
    Suback: Session._on_suback,
    Unsuback: Session._on_unsuback,
    Pingresp: Session._on_pingresp,
    Disconnect: Session._on_disconnect,
    Auth: Session._on_auth_packet,
}


_DIAGNOSTICS = (_spec.REASON_STRING, _spec.USER_PROPERTY)


def _check_problem_information(packet: Packet) -> None:
    """v5 [MQTT-3.1.2-29]: after Request Problem Information 0 the server may send a Reason
    String or User Property only on PUBLISH, CONNACK and DISCONNECT."""
    if type(packet) is Disconnect:
        return
    for ident, _ in getattr(packet, "properties", ()):
        if ident in _DIAGNOSTICS:
            raise RemoteProtocolError(
                f"protocol error: {_name(packet)} with a Reason String or User Property after "
                "Request Problem Information 0"
            )


def _by_seq(msg: OutMessage) -> int:
    return msg.seq


def _describe(packet: Packet) -> str:
    """A DEBUG line for ``packet``: no payloads, no authentication data."""
    if type(packet) is Publish:
        assert isinstance(packet, Publish)
        return (
            f"PUBLISH topic={packet.topic!r} qos={packet.qos} retain={packet.retain} "
            f"dup={packet.dup} id={packet.packet_id} ({len(packet.payload)} bytes)"
        )
    if isinstance(packet, (Connack, Auth)):
        return f"{_name(packet)} code=0x{packet.reason_code:02X}"
    return repr(packet)


def _name(packet: Packet) -> str:
    return type(packet).__name__.upper()
