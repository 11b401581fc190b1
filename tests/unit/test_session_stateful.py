"""Session: a property-based state machine against a model broker that acks everything.

Random publishes (both directions), subscribes, partial writes, acks in any order, disconnects,
connection losses and reconnects (with and without Session Present, with varying Receive
Maximum). Invariants: in-flight <= window; packet ids unique among what is in flight on the
wire; every accepted QoS 1/2 message completes exactly once once the broker acks everything;
every QoS 0 message written while connected is completed or dropped exactly once; an incoming
QoS 2 message is delivered at most once; only typed errors escape (the model broker is
well-behaved, so none should).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from mqttclient import _spec
from mqttclient._core.events import (
    ConnectionAccepted,
    Event,
    MessageReceived,
    PublishCompleted,
    PublishDropped,
    Subscribed,
)
from mqttclient._core.packets import (
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
)
from mqttclient._core.session import SessionState
from mqttclient.errors import MQTTException

from ._session_harness import Harness

OPEN = (SessionState.CONNECTING, SessionState.CONNECTED)


class SessionMachine(RuleBasedStateMachine):
    h: Harness

    @initialize(version=st.sampled_from([4, 5]), max_inflight=st.integers(0, 4))
    def setup(self, version: int, max_inflight: int) -> None:
        self.h = Harness(version, max_inflight=max_inflight, clean_start=False, keepalive_s=0)
        self.v5 = version == 5
        self.tokens = itertools.count()
        self.expected: dict[int, int] = {}  # accepted QoS 1/2 token -> qos
        self.q0_pending: set[int] = set()  # QoS 0 tokens that must complete or drop
        self.finished: Counter[int] = Counter()
        # What the client has on the wire on this connection (broker's view): packet id ->
        # "pub" (PUBLISH, takes a window slot) / "rel" (PUBREL) / "sub".
        self.open_ids: dict[int, str] = {}
        # Outgoing messages as the broker saw them (the payload starts with the token):
        self.seen: set[int] = set()  # tokens whose PUBLISH reached the broker at least once
        self.released: set[int] = set()  # tokens whose PUBREC (< 0x80) reached the client
        self.id_token: dict[int, int] = {}  # packet id -> token, this connection
        self.last_token = -1  # QoS 1/2 PUBLISHes go out in acceptance order on a connection
        self.receive_maximum = 65535
        self.replies: list[Packet] = []  # broker packets not yet delivered to the client
        self.overcommit = 0  # QoS 1/2 sent before CONNACK (the window was not known yet)
        self.connacked = False  # the broker sent CONNACK on this connection
        self.got_connect = False  # the broker read the CONNECT of this connection
        # Broker -> client messages: broker packet id -> [stage, Publish].
        self.broker_out: dict[int, list[Any]] = {}
        self.broker_ids = itertools.count(1)
        self.delivered: Counter[bytes] = Counter()

    # --- plumbing -----------------------------------------------------------------------------
    @property
    def state(self) -> int:
        return self.h.session.state

    def call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except MQTTException:
            raise
        except Exception as exc:  # pragma: no cover - the point of the test
            raise AssertionError(f"untyped error escaped: {exc!r}") from exc

    def handle(self, events: list[Event]) -> None:
        s = self.h.session
        for event in events:
            if isinstance(event, PublishCompleted):
                self.finished[event.token] += 1
                if event.qos == 0:
                    self.q0_pending.remove(event.token)
                else:
                    assert self.expected[event.token] == event.qos
            elif isinstance(event, PublishDropped):
                self.finished[event.token] += 1
                self.q0_pending.remove(event.token)  # only QoS 0 is ever dropped here
            elif isinstance(event, MessageReceived):
                p = event.publish
                self.delivered[p.payload] += 1
                if p.qos == 2:
                    assert self.delivered[p.payload] == 1, "QoS 2 delivered twice"
                if p.qos:
                    self.call(s.ack, p.packet_id, p.qos, self.h.now)
            elif isinstance(event, (ConnectionAccepted, Subscribed)):
                pass
            else:
                raise AssertionError(f"unexpected event {event!r}")

    def broker_reads(self, packets: list[Packet], fail: bool) -> None:
        code = 0x80 if fail and self.v5 else 0
        for p in packets:
            if isinstance(p, Publish):
                if p.qos == 0:
                    assert not p.dup
                    continue
                assert p.packet_id not in self.open_ids, f"packet id {p.packet_id} reused"
                token = int(p.payload.split(b":")[0])
                # DUP=1 on re-sends [MQTT-3.3.1-1] (a copy lost unwritten may make DUP=1 the
                # first the broker sees); never a PUBLISH past PUBREC [MQTT-4.3.3-6]; re-sends
                # first and in order [MQTT-4.6.0-1].
                assert p.dup or token not in self.seen, f"DUP 0 on re-sent message {token}"
                assert token not in self.released, f"PUBLISH {token} re-sent past PUBREC"
                assert token > self.last_token, f"message {token} after {self.last_token}"
                self.last_token = token
                self.seen.add(token)
                self.id_token[p.packet_id] = token
                self.open_ids[p.packet_id] = "pub"
                slots = sum(1 for kind in self.open_ids.values() if kind == "pub")
                assert slots <= max(self.receive_maximum, self.overcommit), "quota exceeded"
                self.replies.append((Puback if p.qos == 1 else Pubrec)(p.packet_id, code))
            elif isinstance(p, Pubrel):
                self.open_ids.setdefault(p.packet_id, "rel")
                self.replies.append(Pubcomp(p.packet_id))
            elif isinstance(p, Subscribe):
                assert p.packet_id not in self.open_ids, f"packet id {p.packet_id} reused"
                self.open_ids[p.packet_id] = "sub"
                self.replies.append(Suback(p.packet_id, tuple(s.qos for s in p.subscriptions)))
            elif isinstance(p, Puback):
                self.broker_out.pop(p.packet_id, None)
            elif isinstance(p, Pubrec):
                entry = self.broker_out.get(p.packet_id)
                if entry is not None:
                    entry[0] = "rel"
                    self.replies.append(Pubrel(p.packet_id))
            elif isinstance(p, Pubcomp):
                self.broker_out.pop(p.packet_id, None)
            elif isinstance(p, Pingreq):
                self.replies.append(Pingresp())
            elif isinstance(p, Connect):
                self.got_connect = True
            else:
                assert isinstance(p, Disconnect), p

    def client_reads(self, packet: Packet) -> None:
        if (
            isinstance(packet, Pubrec)
            and packet.reason_code < 0x80
            and self.state == SessionState.CONNECTED
            and packet.packet_id in self.id_token
        ):
            self.released.add(self.id_token[packet.packet_id])
        if isinstance(packet, (Puback, Pubcomp, Suback)) or (
            isinstance(packet, Pubrec) and packet.reason_code >= 0x80
        ):
            self.open_ids.pop(packet.packet_id, None)
        self.handle(self.call(self.h.feed, packet))

    def new_connection(self) -> None:
        self.id_token.clear()
        self.last_token = -1
        self.receive_maximum = 65535
        self.connacked = False
        self.got_connect = False
        self.open_ids.clear()
        self.replies.clear()

    # --- rules --------------------------------------------------------------------------------
    @rule(qos=st.sampled_from([0, 1, 1, 2]), size=st.integers(0, 20))
    def publish(self, qos: int, size: int) -> None:
        token = next(self.tokens)
        was_open = self.state in OPEN
        payload = f"{token}:".encode() + b"p" * size
        self.call(self.h.publish, "t/x", payload, qos, False, (), token)
        if qos:
            self.expected[token] = qos
        elif was_open:
            self.q0_pending.add(token)

    @precondition(lambda self: self.state in OPEN)
    @rule(count=st.integers(1, 3))
    def subscribe(self, count: int) -> None:
        subs = tuple(Subscription(f"f/{i}", i % 3) for i in range(count))
        self.call(self.h.session.subscribe, subs, (), self.h.now)

    @precondition(lambda self: self.state == SessionState.DISCONNECTED)
    @rule()
    def open(self) -> None:
        """Open a transport and stay before CONNACK (publishes may go out early)."""
        self.new_connection()
        self.call(self.h.session.connection_opened, self.h.now)

    @precondition(lambda self: self.state == SessionState.DISCONNECTED)
    @rule(present=st.booleans(), receive_maximum=st.sampled_from([1, 2, 3, 65535]))
    def reconnect(self, present: bool, receive_maximum: int) -> None:
        """Open, write the CONNECT and get the CONNACK in one step."""
        self.open()
        self.write(1.0, False)
        self.connack(present, receive_maximum)

    @precondition(
        lambda self: (
            self.state in (SessionState.CONNECTING, SessionState.DISCONNECTING)
            and self.got_connect
            and not self.connacked
        )
    )
    @rule(present=st.booleans(), receive_maximum=st.sampled_from([1, 2, 3, 65535]))
    def connack(self, present: bool, receive_maximum: int) -> None:
        self.connacked = True
        if not present:
            self.broker_out.clear()  # the broker's session for us is gone too
        props = ((_spec.RECEIVE_MAXIMUM, receive_maximum),) if self.v5 else ()
        self.overcommit = self.h.session.inflight_count
        if self.v5:
            self.receive_maximum = receive_maximum
        self.client_reads(Connack(present, 0, props))
        if present:  # the broker resumes its own unfinished deliveries (MQTT §4.4)
            for packet_id, (stage, message) in self.broker_out.items():
                if stage == "pub":
                    self.replies.append(Publish(message.topic, message.payload, message.qos,
                                                False, True, packet_id))  # fmt: skip
                else:
                    self.replies.append(Pubrel(packet_id))

    @precondition(lambda self: bool(self.h.session.out))
    @rule(fraction=st.sampled_from([1.0, 1.0, 1.0, 0.6, 0.3, 0.0]), fail=st.booleans())
    def write(self, fraction: float, fail: bool) -> None:
        s = self.h.session
        n = max(1, int(len(s.out) * fraction))
        data = bytes(s.out[:n])
        self.handle(self.call(s.sent, n, self.h.now))
        self.broker_reads(self.h.decoder.feed(data), fail)

    @precondition(
        lambda self: (
            self.replies
            and self.connacked
            and self.state in (SessionState.CONNECTED, SessionState.DISCONNECTING)
        )
    )
    @rule(data=st.data(), count=st.integers(1, 4))
    def deliver(self, data: st.DataObject, count: int) -> None:
        """Deliver up to ``count`` broker packets, in any order."""
        for _ in range(count):
            if not self.replies or self.state in (SessionState.CLOSING, SessionState.DISCONNECTED):
                break
            index = data.draw(st.integers(0, len(self.replies) - 1))
            self.client_reads(self.replies.pop(index))

    @precondition(lambda self: self.state == SessionState.CONNECTED)
    @rule(qos=st.sampled_from([0, 1, 2]))
    def broker_publishes(self, qos: int) -> None:
        packet_id = next(self.broker_ids) if qos else 0
        message = Publish("in/x", f"m{next(self.tokens)}".encode(), qos, False, False, packet_id)
        if qos:
            self.broker_out[packet_id] = ["pub", message]
        self.replies.append(message)

    @precondition(lambda self: self.state in OPEN)
    @rule()
    def disconnect(self) -> None:
        self.call(self.h.session.disconnect, 0, (), self.h.now)

    @precondition(lambda self: self.state != SessionState.DISCONNECTED)
    @rule()
    def lose(self) -> None:
        self.handle(self.call(self.h.session.connection_lost, self.h.now))
        self.h.decoder = type(self.h.decoder)(self.h.version)

    # --- invariants ---------------------------------------------------------------------------
    @invariant()
    def window_respected(self) -> None:
        if getattr(self, "h", None) is None:
            return
        s = self.h.session
        assert s.inflight_count <= max(s.window, self.overcommit)
        assert s.inflight_count <= s.unfinished_count()
        on_wire = sum(1 for kind in self.open_ids.values() if kind == "pub")
        if s.state == SessionState.CONNECTED and not s.out:
            # Everything written was read by the broker: both sides agree on the slots used.
            assert on_wire == s.inflight_count

    @invariant()
    def finished_at_most_once(self) -> None:
        if getattr(self, "h", None) is None:
            return
        assert all(n == 1 for n in self.finished.values())

    def teardown(self) -> None:
        if getattr(self, "h", None) is None:
            return
        # Let the broker ack everything on a healthy connection until nothing is left.
        s = self.h.session
        for _ in range(200):
            if not s.has_unfinished() and not s.out and not self.q0_pending:
                break
            if s.state in (SessionState.DISCONNECTING, SessionState.CLOSING):
                self.lose()
            if s.state == SessionState.DISCONNECTED:
                self.open()
            if s.out:
                self.write(1.0, False)
            if s.state == SessionState.CONNECTING:
                self.connack(True, 65535)
            while self.replies and s.state == SessionState.CONNECTED:
                self.client_reads(self.replies.pop(0))
        assert not s.has_unfinished()
        assert not self.q0_pending
        for token in self.expected:
            assert self.finished[token] == 1, f"message {token} finished {self.finished[token]}x"


SessionMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_session_state_machine = SessionMachine.TestCase
