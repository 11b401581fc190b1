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

This module keeps the ``Session`` class: its state (every attribute), the lifecycle
(``connection_opened``/``connection_lost``, ``receive`` and its dispatch table, ``sent``,
``tick``, ``disconnect``), durability (``persist``, restoring from the store) and introspection.
Its other methods come from mixins that hold no state: ``handshake.py`` (building the CONNECT,
the AUTH exchange, the CONNACK and what it applies), ``receiving.py`` (the other packets from the
server, and protocol violations), ``subscribing.py`` (SUBSCRIBE/UNSUBSCRIBE, their
acknowledgements, resubscribing) and ``publishing.py`` (``publish()``, the offline bounds,
sending what the queue and the window allow).

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
from mqttclient._core.codec import Decoder, encode
from mqttclient._core.config import FIRST_ONLY, OPEN_STATES, SessionConfig, SessionState
from mqttclient._core.events import Event, KeepaliveTimeout, PublishCompleted, PublishDropped
from mqttclient._core.handshake import HandshakeMixin
from mqttclient._core.inbound import Inbound
from mqttclient._core.keepalive import AWAIT_CONNACK, Keepalive
from mqttclient._core.limits import DEFAULT_LIMITS, ServerLimits
from mqttclient._core.outbox import (
    AWAIT_PUBACK,
    AWAIT_PUBCOMP,
    AWAIT_PUBREC,
    QUEUED,
    Outbox,
    OutMessage,
)
from mqttclient._core.packets import (
    Auth,
    Connack,
    Disconnect,
    Pingreq,
    Pingresp,
    Props,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscription,
    Unsuback,
    get_prop,
)
from mqttclient._core.publishing import PublishingMixin
from mqttclient._core.receiving import (
    DIAGNOSTICS,
    ReceivingMixin,
    check_problem_information,
    describe,
)
from mqttclient._core.store import MemoryStore, Store
from mqttclient._core.subscribing import SubscribingMixin
from mqttclient.errors import InvalidStateError, ProtocolError

__all__ = ["FIRST_ONLY", "ServerLimits", "Session", "SessionConfig", "SessionState"]

_STATE_NAMES = {
    QUEUED: "queued",
    AWAIT_PUBACK: "awaiting PUBACK",
    AWAIT_PUBREC: "awaiting PUBREC",
    AWAIT_PUBCOMP: "awaiting PUBCOMP",
}
_NO_EVENTS: tuple[Event, ...] = ()

logger = logging.getLogger(__name__)

DISCONNECTED = SessionState.DISCONNECTED
CONNECTING = SessionState.CONNECTING
CONNECTED = SessionState.CONNECTED
DISCONNECTING = SessionState.DISCONNECTING
CLOSING = SessionState.CLOSING
_OPEN = OPEN_STATES  # states in which packets may be queued
_IDLE = (DISCONNECTED, CLOSING)  # states in which received bytes are ignored


_Handler = Callable[["Session", Any, "list[Event]", float], None]


class Session(HandshakeMixin, ReceivingMixin, SubscribingMixin, PublishingMixin):
    """See the module docstring. All ``now`` arguments are monotonic seconds; every method is
    called by the engine with its lock held. The mixins hold methods only: every attribute is
    declared in ``__slots__`` here."""

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

    def take_events(self) -> Sequence[Event]:
        """Events a user operation caused besides its result: PublishDropped for messages that
        ``publish()`` dropped to make room (policy DROP_OLDEST). The caller dispatches them."""
        events = self.dropped
        if not events:
            return _NO_EVENTS
        self.dropped = []
        return events

    # --- connection lifecycle -----------------------------------------------------------------
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
        self.out += encode(self._connect_packet(props), version)  # handshake.py
        self._state = CONNECTING
        self._connacked = False
        self._ka.start(now, cfg.connack_timeout_s)
        self._ka.interval = cfg.keepalive_s

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
                        logger.debug("received %s", describe(packet))
                handlers = self._HANDLERS
                on_publish = self._inbound.publish
                for packet in packets:
                    if not self._connacked:
                        self._before_connack(packet, events, now)
                    elif type(packet) is Publish:
                        on_publish(packet, events)
                    else:
                        if self._quiet:
                            check_problem_information(packet)
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
            kept = tuple(p for p in properties if p[0] not in DIAGNOSTICS)
            data = encode(Disconnect(reason_code, kept), 5)
        self.out += data
        self._state = DISCONNECTING
        self._inbound.replies = False  # nothing may follow our DISCONNECT [MQTT-3.14.4-1]
        self._ka.may_ping = False
        self._ka.last_send = now

    # --- introspection ------------------------------------------------------------------------
    @property
    def state(self) -> int:
        """A ``SessionState`` value."""
        return self._state

    def has_unfinished(self) -> bool:
        """True while any QoS 1/2 message is queued or in flight."""
        return self._outbox.unfinished > 0

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

    def _close(self) -> None:
        """End the connection from our side (refusal, violation, server DISCONNECT, timeout):
        state CLOSING, no more replies or timers."""
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


def _by_seq(msg: OutMessage) -> int:
    return msg.seq
