"""Fuzz drivers shared by ``tests/unit/test_session_fuzz.py`` (hypothesis, short) and
``benchmarks/fuzz.py`` (a seeded random generator, long).

Both drivers draw every choice from a ``Source``: ``HypothesisSource`` draws from hypothesis (so
failures shrink), ``RandomSource`` from a seeded ``random.Random`` (fast, counted, reproducible).

- ``fuzz_decoder``: valid packets of every type, mutated or not, random garbage, cut at random
  places and fed to a ``Decoder``; only ``ProtocolError`` may escape, and a decoder that failed
  stays failed.
- ``SessionFuzzer``: a ``Session`` fed valid server packets in random order (any type, random
  ids, aliases, properties, reason codes), random garbage, partial writes, time steps, user
  operations, connection losses and reconnects. ``receive``/``tick``/``sent`` must never raise
  (a broken server shows up as a ``ProtocolViolation`` event), and the invariants hold after
  every step (see ``SessionFuzzer.check``).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Protocol, Sequence, TypeVar

from mqttclient import _spec
from mqttclient._core.codec import Decoder, encode
from mqttclient._core.events import (
    ConnectionAccepted,
    ConnectionRefused,
    Event,
    KeepaliveTimeout,
    MessageReceived,
    ProtocolViolation,
    PublishCompleted,
    PublishDropped,
    ServerDisconnected,
    Subscribed,
    Unsubscribed,
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
)
from mqttclient._core.session import Session, SessionConfig, SessionState
from mqttclient._core.wire import ALLOWED_PROPERTIES, NONZERO_PROPERTIES, ZERO_OR_ONE_PROPERTIES
from mqttclient.errors import FeatureNotAvailableError, PayloadTooLargeError, ProtocolError

T = TypeVar("T")
OPEN = (SessionState.CONNECTING, SessionState.CONNECTED)
USER_PUBLISH_PROPS: tuple[Props, ...] = (
    (),
    ((_spec.USER_PROPERTY, ("k", "v")),),
    ((_spec.MESSAGE_EXPIRY_INTERVAL, 3),),
)
REASONS = (0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x92, 0x97)


class Source(Protocol):
    def int(self, lo: int, hi: int) -> int: ...
    def bytes(self, max_size: int) -> bytes: ...


class RandomSource:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def bytes(self, max_size: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(0, max_size))


class HypothesisSource:
    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def bytes(self, max_size: int) -> bytes:
        return self.data.draw(self.st.binary(max_size=max_size))


def choice(src: Source, items: Sequence[T]) -> T:
    return items[src.int(0, len(items) - 1)]


def text(src: Source, max_size: int = 6) -> str:
    return "".join(choice(src, "ab/+#é\x01") for _ in range(src.int(0, max_size)))


# --- valid packets ------------------------------------------------------------------------------
def _value(src: Source, ident: int) -> Any:
    wire = _spec.PROPERTIES[ident].type
    low = 1 if ident in NONZERO_PROPERTIES else 0
    if ident in ZERO_OR_ONE_PROPERTIES:
        return src.int(0, 1)
    if wire == _spec.BYTE:
        return src.int(low, 0xFF)
    if wire == _spec.U16:
        return src.int(low, choice(src, (8, 0xFFFF)))
    if wire == _spec.U32:
        return src.int(low, choice(src, (64, 0xFFFFFFFF)))
    if wire == _spec.VBI:
        return src.int(low, _spec.MAX_VBI)
    if wire == _spec.STRING:
        return text(src)
    if wire == _spec.BINARY:
        return src.bytes(8)
    return (text(src), text(src))


def props(src: Source, version: int, ptype: int, max_size: int = 4) -> Props:
    """Valid random properties of packet type ``ptype`` (none below 5.0)."""
    table = ALLOWED_PROPERTIES.get(ptype)
    if version < 5 or not table or src.int(0, 2) == 0:
        return ()
    idents = sorted(table)
    seen: set[int] = set()
    out: list[tuple[int, Any]] = []
    for _ in range(src.int(0, max_size)):
        ident = choice(src, idents)
        if not table[ident][1]:
            if ident in seen:
                continue
            seen.add(ident)
        out.append((ident, _value(src, ident)))
    return tuple(out)


def _reason(src: Source, version: int) -> int:
    return choice(src, REASONS) if version == 5 and src.int(0, 3) == 0 else 0


def any_packet(src: Source, version: int, ids: Sequence[int] = ()) -> Packet:
    """A valid packet of any type (client or server side); ``ids`` are likely packet ids."""
    pid = choice(src, ids) if ids and src.int(0, 2) else src.int(1, choice(src, (8, 0xFFFF)))
    kind = src.int(0, 14 if version == 5 else 13)
    v5 = version == 5
    if kind == 0:
        return Connack(bool(src.int(0, 1)), _reason(src, version), props(src, version, 2))
    if kind in (1, 2):
        qos = src.int(0, 2)
        p = props(src, version, _spec.PUBLISH)
        topic = text(src)
        if v5 and src.int(0, 2) == 0:  # a topic alias, set here or (empty topic) used
            p = (*(x for x in p if x[0] != _spec.TOPIC_ALIAS), (_spec.TOPIC_ALIAS, src.int(1, 4)))
            if src.int(0, 1):
                topic = ""
        return Publish(
            topic, src.bytes(20), qos, bool(src.int(0, 1)), bool(src.int(0, 1)) and qos > 0,
            pid if qos else 0, p,
        )  # fmt: skip
    if kind in (3, 4, 5, 6):
        cls = (Puback, Pubrec, Pubrel, Pubcomp)[kind - 3]
        ptype = (_spec.PUBACK, _spec.PUBREC, _spec.PUBREL, _spec.PUBCOMP)[kind - 3]
        if not v5:
            return cls(pid)
        return cls(pid, _reason(src, version), props(src, version, ptype))
    if kind == 7:
        codes = tuple(choice(src, (0, 1, 2, 0x80, 0x87)) for _ in range(src.int(1, 3)))
        return Suback(pid, codes, props(src, version, _spec.SUBACK))
    if kind == 8:
        codes = tuple(choice(src, (0, 0x11, 0x80)) for _ in range(src.int(1, 3))) if v5 else ()
        return Unsuback(pid, codes, props(src, version, _spec.UNSUBACK))
    if kind == 9:
        return Pingresp()
    if kind == 10:
        return Disconnect(_reason(src, version), props(src, version, _spec.DISCONNECT))
    if kind == 11:
        subs = tuple(Subscription(text(src) or "a", src.int(0, 2)) for _ in range(src.int(1, 2)))
        return Subscribe(pid, subs, props(src, version, _spec.SUBSCRIBE))
    if kind == 12:
        return Unsubscribe(pid, (text(src) or "a",), props(src, version, _spec.UNSUBSCRIBE))
    if kind == 13:
        return choice(src, (Pingreq(), Connect(text(src), version, bool(src.int(0, 1)), 30)))
    return Auth(choice(src, (0, 0x18, 0x19)), props(src, version, _spec.AUTH))


def split(src: Source, data: bytes) -> list[bytes]:
    cuts = sorted(src.int(0, len(data)) for _ in range(src.int(0, 4)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def mutate(src: Source, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(src.int(1, 3)):
        op = src.int(0, 2)
        if op == 0 and buf:
            buf[src.int(0, len(buf) - 1)] = src.int(0, 255)
        elif op == 1 and buf:
            del buf[src.int(0, len(buf) - 1) :]
        else:
            buf[src.int(0, len(buf)) : 0] = src.bytes(4)
    return bytes(buf)


# --- decoder ------------------------------------------------------------------------------------
def fuzz_decoder(src: Source) -> None:
    """One decoder input: a stream of packets (some mutated) or garbage, cut at random places."""
    version = choice(src, (3, 4, 5))
    if src.int(0, 3) == 0:
        stream = src.bytes(64)
    else:
        parts = [encode(any_packet(src, version), version) for _ in range(src.int(1, 4))]
        if src.int(0, 1):
            i = src.int(0, len(parts) - 1)
            parts[i] = mutate(src, parts[i])
        stream = b"".join(parts)
    limit = choice(src, (None, None, 16, 64))
    decoder = Decoder(version, limit)
    try:
        for piece in split(src, stream):
            decoder.feed(piece)
    except ProtocolError as exc:
        assert 0x80 <= exc.reason_code <= 0xA2, exc
        try:
            decoder.feed(b"")
        except ProtocolError:
            pass
        else:
            raise AssertionError("the decoder accepted input after failing") from exc


# --- session ------------------------------------------------------------------------------------
class SessionFuzzer:
    """One session and a scripted, random, sometimes broken server."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.version = choice(src, (3, 4, 5))
        self.max_inflight = src.int(0, 4)
        self.session = Session(
            SessionConfig(
                client_id="fuzz",
                protocol_version=self.version,
                max_inflight=self.max_inflight,
                clean_start=False,
                keepalive_s=choice(src, (0, 5)),
            )
        )
        self.now = 0.0
        self.token = 0
        self.accepted: dict[int, int] = {}  # QoS 1/2 token -> qos
        self.finished: Counter[int] = Counter()
        self.pending_acks: list[tuple[int, int]] = []
        self.steps = 0
        self._new_wire()

    def _new_wire(self) -> None:
        self.decoder = Decoder(self.version)  # the server's view of what was written
        self.wire_open: dict[int, str] = {}  # packet ids the client has open on the wire
        self.released: set[int] = set()  # QoS 2 ids the server PUBREC'd (PUBREL due)
        self.server_qos2: set[int] = set()  # QoS 2 ids the server sent on this connection
        self.server_ids = 0
        self.prev_used = 0

    # --- steps ------------------------------------------------------------------------------
    def run(self, steps: int) -> int:
        for _ in range(steps):
            self.step()
            self.check()
            self.steps += 1
        return self.steps

    def step(self) -> None:
        src, s = self.src, self.session
        op = src.int(0, 15)
        if s.state == SessionState.DISCONNECTED and op < 6:
            self._new_wire()
            s.connection_opened(self.now)
            if src.int(0, 2):  # usually a good CONNACK right away
                self.feed(
                    Connack(bool(src.int(0, 1)), 0, props(src, self.version, _spec.CONNACK, 2))
                )
        elif s.state == SessionState.CLOSING and op < 8:
            self.lose()  # what the engine does next
        elif op < 5:
            ids = list(s._outbox.ids) + list(s._outbox.pending)
            packets = [
                self.plausible() if src.int(0, 3) else any_packet(src, self.version, ids)
                for _ in range(src.int(1, 3))
            ]
            self.feed(*packets)
        elif op == 5:
            data = src.bytes(12) if src.int(0, 1) else mutate(src, self._encoded())
            self.handle(s.receive(data, self.now))
        elif op == 6:
            self.write(src.int(0, len(s.out)))
        elif op == 7:
            self.write(len(s.out))
        elif op == 8:
            self.now += choice(src, (0.1, 1.0, 5.0, 10.0))
            self.handle(s.tick(self.now))
        elif op in (9, 10):
            qos = choice(src, (0, 1, 1, 2))
            self.token += 1
            # What the façade lets a user set (no alias, no subscription id): a user property
            # or a message expiry, which may drop the message while it waits.
            props_ = () if self.version < 5 else choice(src, USER_PUBLISH_PROPS)
            payload = b"x" * choice(src, (0, 10, 100))
            try:
                s.publish("t/a", payload, qos, False, props_, self.token, self.now)
            except PayloadTooLargeError:  # documented: over the server's Maximum Packet Size
                assert s.server_limits.maximum_packet_size is not None
                return
            except FeatureNotAvailableError:  # documented: above the CONNACK's Maximum QoS
                assert s.state == SessionState.CONNECTED
                assert qos > s.server_limits.maximum_qos
                return
            if qos:
                self.accepted[self.token] = qos
            self.handle(list(s.take_events()))
        elif op == 11 and s.state in OPEN:
            if src.int(0, 1):
                try:
                    s.subscribe((Subscription("t/#", src.int(0, 2)),), (), self.now)
                except FeatureNotAvailableError:  # documented: Wildcard Subscription Available 0
                    assert not s.server_limits.wildcard_subscription_available
            else:
                s.unsubscribe(("t/#",), (), self.now)
        elif op == 12 and self.pending_acks:
            packet_id, qos = self.pending_acks.pop(0)
            s.ack(packet_id, qos, self.now)
        elif op == 13 and s.state in OPEN and src.int(0, 3) == 0:
            s.disconnect(0, (), self.now)
        elif op >= 14 and (s.state != SessionState.CONNECTED or src.int(0, 3) == 0):
            self.lose()

    def lose(self) -> None:
        self.handle(self.session.connection_lost(self.now))
        self.pending_acks.clear()
        self._new_wire()

    def plausible(self) -> Packet:
        """What a working server might send now: the right ack for something in flight (any
        reason code), a SUBACK/UNSUBACK with the right count, a PUBREL for a QoS 2 message it
        sent, or a message; the ids come from the server's view of the wire."""
        src, v = self.src, self.version
        kind = src.int(0, 3)
        if kind == 0 and self.wire_open:
            pid = choice(src, sorted(self.wire_open))
            what = self.wire_open[pid]
            if what == "sub":
                return Suback(pid, (choice(src, (0, 1, 2, 0x80)),), props(src, v, _spec.SUBACK))
            if what == "unsub":
                codes = (choice(src, (0, 0x11)),) if v == 5 else ()
                return Unsuback(pid, codes, props(src, v, _spec.UNSUBACK))
            cls = {1: Puback, 2: Pubrec, 3: Pubcomp}[int(what)]
            return cls(pid, _reason(src, v)) if v == 5 else cls(pid)
        if kind == 1 and self.server_qos2:
            pid = choice(src, sorted(self.server_qos2))
            if src.int(0, 1):
                self.server_qos2.discard(pid)
            return Pubrel(pid)
        qos = src.int(0, 2)
        pid = self.server_ids = self.server_ids % 6 + 1
        if qos == 2:
            self.server_qos2.add(pid)
        return Publish("t/b", b"m%d" % pid, qos, False, False, pid if qos else 0)

    def _encoded(self) -> bytes:
        return encode(any_packet(self.src, self.version), self.version)

    def feed(self, *packets: Packet) -> None:
        """The server sends ``packets``, cut at random places."""
        data = b"".join(encode(p, self.version) for p in packets)
        for p in packets:  # the server's acks close ids on the wire (leniently: any type)
            if isinstance(p, (Puback, Pubrec, Pubcomp, Suback, Unsuback)):
                what = self.wire_open.pop(p.packet_id, None)
                if isinstance(p, Pubrec) and p.reason_code < 0x80 and what == "2":
                    self.released.add(p.packet_id)
        for piece in split(self.src, data):
            self.handle(self.session.receive(piece, self.now))

    def write(self, count: int) -> None:
        """The transport wrote ``count`` bytes of ``out``; the server decodes them."""
        data = bytes(self.session.out[:count])
        self.handle(self.session.sent(count, self.now))
        for packet in self.decoder.feed(data):
            self.server_reads(packet)

    def server_reads(self, p: Packet) -> None:
        opened: str | None = None
        if isinstance(p, Publish) and p.qos:
            opened = str(p.qos)
        elif isinstance(p, Subscribe):
            opened = "sub"
        elif isinstance(p, Unsubscribe):
            opened = "unsub"
        elif isinstance(p, Pubrel) and p.packet_id in self.released:
            # Awaiting PUBCOMP. (A PUBREL answering a bogus PUBREC for an id not in flight,
            # 0x92 in 5.0, opens nothing: the client may reuse that id.)
            self.released.discard(p.packet_id)
            self.wire_open[p.packet_id] = "3"
        if opened is not None:
            assert p.packet_id not in self.wire_open, f"packet id {p.packet_id} reused: {p!r}"
            self.wire_open[p.packet_id] = opened

    def handle(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, (PublishCompleted, PublishDropped)):
                if isinstance(e, PublishCompleted) and e.qos == 0:
                    continue
                if e.token in self.accepted:
                    self.finished[e.token] += 1
                    assert self.finished[e.token] == 1, f"message {e.token} finished twice: {e}"
            elif isinstance(e, MessageReceived):
                if e.publish.qos:
                    self.pending_acks.append((e.publish.packet_id, e.publish.qos))
            elif isinstance(e, ProtocolViolation):
                assert isinstance(e.error, ProtocolError)
            else:
                assert isinstance(
                    e,
                    (
                        ConnectionAccepted,
                        ConnectionRefused,
                        KeepaliveTimeout,
                        ServerDisconnected,
                        Subscribed,
                        Unsubscribed,
                    ),
                ), e

    # --- invariants -------------------------------------------------------------------------
    def check(self) -> None:
        s = self.session
        outbox = s._outbox
        # In flight <= window; over it only when CONNACK shrank the window after sending (and
        # then nothing new goes out until the window has room again).
        used = s.inflight_count
        assert used <= s.window or used <= self.prev_used, (used, s.window, self.prev_used)
        self.prev_used = used
        # Packet ids unique among what is in flight.
        assert not set(outbox.ids) & set(outbox.pending), "packet id both message and request"
        for pid, msg in outbox.ids.items():
            assert msg.packet_id == pid, (pid, msg)
        # ``out`` holds only whole, decodable packets (after what was partly written).
        probe = Decoder(self.version)
        probe.feed(bytes(self.decoder._buf) + bytes(s.out))
        assert not probe._buf, "out ends with a partial packet"
        # Every accepted QoS 1/2 message is in flight, queued, or finished exactly once.
        live = [m.token for m in outbox.ids.values() if m.inflight]
        live += [m.token for m in outbox.queue]
        assert len(live) == len(set(live)), "a message is held twice"
        for token in self.accepted:
            held = token in live
            done = self.finished[token]
            assert done <= 1 and held != (done == 1), (token, held, done)
        assert s.unfinished_count() == len(self.accepted) - sum(self.finished.values())
