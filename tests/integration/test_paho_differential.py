"""Same bytes on the wire as paho-mqtt.

Each scenario drives a client through the same steps twice, once with ``paho.mqtt.client`` and
once with ``mqttclient.client``, each against its own scripted fake broker, and compares every
packet the client sent (the exact bytes; on a mismatch the assertion shows them decoded by our
codec), what the API calls returned and what the callbacks received. Client ids are fixed, the
network loop runs in ``loop_start()``'s thread and the broker side answers with scripted bytes,
so both runs are deterministic.

Where the two differ by design the scenario asserts the difference explicitly and the difference
is listed in ``DELIBERATE_DIFFERENCES`` (copied to docs/migration-from-paho.rst).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import types
from typing import Any, Callable, Optional

import paho.mqtt.client as paho_mqtt
import pytest

import mqttclient.client as our_mqtt
from mqttclient._core.codec import encode
from mqttclient._core.packets import (
    Connack,
    Disconnect,
    Packet,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Unsuback,
)
from tests.fakebroker import (
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBSCRIBE,
    UNSUBSCRIBE,
    FakeBroker,
    RawPacket,
)
from tests.integration.helpers import wait_until

# Each entry: (scenario, what differs, why). docs/migration-from-paho.rst lists them.
DELIBERATE_DIFFERENCES: list[tuple[str, str, str]] = [
    (
        "disconnect with ReasonCode 0 and no properties (MQTT 5)",
        "we send the 2-byte DISCONNECT (E0 00); paho sends E0 01 00",
        "MQTT 5.0 §3.14.2.1 lets a client omit reason code 0 when there are no properties; "
        "the codec always uses the short form, and the broker sees the same DISCONNECT",
    ),
    (
        "QoS 1/2 publish while disconnected",
        "info.rc is MQTT_ERR_NO_CONN in both, but we let wait_for_publish() wait for the "
        "message (it is sent after the next CONNACK) and set rc to MQTT_ERR_SUCCESS once it is "
        "acknowledged; paho raises RuntimeError from wait_for_publish() at once and rc stays "
        "MQTT_ERR_NO_CONN",
        "paho keeps and sends the message, so raising tells the caller it failed when it did "
        "not; the bytes on the wire are the same",
    ),
    (
        "subscribe(('topic', qos)) with MQTT 5",
        "we subscribe with that QoS; paho raises ValueError ('Subscribe options must be "
        "instance of SubscribeOptions class.')",
        "the (topic, qos) tuple works with 3.1.1 and in lists with 5.0 in paho too; accepting "
        "it everywhere breaks no program written for paho",
    ),
    (
        "PUBREL for an unknown packet id (MQTT 5)",
        "we answer PUBCOMP with reason code 0x92 (Packet Identifier not found); paho answers "
        "PUBCOMP Success",
        "MQTT 5.0 §3.7.2.1 / [MQTT-4.3.3-11]: the id is unknown, and saying so lets the broker "
        "log the lost flow; 3.1.1 has no reason codes and both send the same bytes",
    ),
    (
        "reconnect without the session (Session Present 0) with a QoS 2 message past PUBREC",
        "we send PUBREL for it; paho publishes it again with DUP=1",
        "from the PUBREC on the broker owns the message (MQTT §4.3.3) and PUBREL cannot "
        "duplicate it; publishing it again duplicated 24 of 1500 QoS 2 messages against "
        "mosquitto with a clean start on every reconnect. Without the session neither choice is "
        "exactly-once: resume the session (clean_start=False or FIRST_ONLY with a Session Expiry "
        "Interval) for that",
    ),
    (
        "password without a user name (MQTT 5)",
        "we send the password (password flag set, user name flag clear); paho drops it",
        "MQTT 5.0 §3.1.2.9 allows a password alone (e.g. a token); 3.1.1 forbids it "
        "[MQTT-3.1.2-22] and there both send neither",
    ),
    (
        "Client('client-id') (paho-mqtt 1.x positional style)",
        "we warn (DeprecationWarning) and read the arguments in 1.x order with VERSION1 "
        "callbacks; paho-mqtt 2.x raises (ValueError in 2.1, TypeError in 2.2)",
        "lets unported 1.x programs keep running while telling their authors to migrate",
    ),
]

LIBRARIES = {"paho": paho_mqtt, "ours": our_mqtt}
CLIENT_ID = "diff-client"
V311, V5 = 4, 5
STEP_TIMEOUT_S = 5.0


def _props_json(props: Any) -> Any:
    return None if props is None else props.json()


class Run:
    """One library driven through one scenario against its own fake broker.

    ``returns`` collects what API calls returned (test thread), ``events`` what the callbacks
    received (loop thread); both are compared between the libraries."""

    def __init__(self, mqtt: types.ModuleType, broker: FakeBroker, version: int) -> None:
        self.mqtt = mqtt
        self.broker = broker
        self.version = version
        self.returns: list[Any] = []
        self.events: list[Any] = []
        self._lock = threading.Lock()
        self.client: Any = None
        self.packets: list[RawPacket] = []  # what the client sent, once the scenario is over
        self._started = False

    # --- building and connecting ----------------------------------------------------------------
    def new_client(self, client_id: str = CLIENT_ID, **kwargs: Any) -> Any:
        mqtt = self.mqtt
        protocol = {3: mqtt.MQTTv31, 4: mqtt.MQTTv311, 5: mqtt.MQTTv5}[self.version]
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs
        )
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(min_delay=0.2, max_delay=0.2)
        self.client = client
        return client

    def props(self, packet_type: str, **values: Any) -> Any:
        """A ``Properties`` of this library; list values of UserProperty are added one by one."""
        props = self.mqtt.Properties(getattr(self.mqtt.PacketTypes, packet_type))
        for name, value in values.items():
            for item in value if name == "UserProperty" else [value]:
                setattr(props, name, item)
        return props

    def start(self, **connect_kwargs: Any) -> None:
        """``connect()`` + ``loop_start()``; the CONNECT is then waiting at the broker."""
        self.client.connect("127.0.0.1", self.broker.port, **connect_kwargs)
        self.loop_start()

    def loop_start(self) -> None:
        self.client.loop_start()
        self._started = True

    def accept(self, session_present: bool = False, **connack: Any) -> RawPacket:
        """Read CONNECT, answer CONNACK, wait until the client says it is connected."""
        connect = self.expect(CONNECT)
        self.send(Connack(session_present, **connack))
        wait_until(self.client.is_connected, STEP_TIMEOUT_S)
        return connect

    def connect(self, session_present: bool = False, **connect_kwargs: Any) -> None:
        self.start(**connect_kwargs)
        self.accept(session_present)

    # --- broker side --------------------------------------------------------------------------
    def send(self, packet: Packet) -> None:
        self.broker.send(encode(packet, self.version))

    def expect(self, packet_type: Optional[int] = None) -> RawPacket:
        return self.broker.expect(packet_type, STEP_TIMEOUT_S)

    def serve(self, done: Callable[[], bool]) -> None:
        """Answer like a broker (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK, PINGRESP) until
        ``done()``; fails after STEP_TIMEOUT_S."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"serve(): not done within {STEP_TIMEOUT_S} s")
            try:
                packet = self.broker.expect(None, 0.05)
            except AssertionError:
                continue
            self.answer(packet)

    def answer(self, packet: RawPacket) -> None:
        decoded = packet.decoded
        kind = packet.packet_type
        if kind == PUBLISH and decoded.qos == 1:
            self.send(Puback(decoded.packet_id))
        elif kind == PUBLISH and decoded.qos == 2:
            self.send(Pubrec(decoded.packet_id))
        elif kind == PUBREL:
            self.send(Pubcomp(decoded.packet_id))
        elif kind == SUBSCRIBE:
            codes = tuple(sub.qos for sub in decoded.subscriptions)
            self.send(Suback(decoded.packet_id, codes))
        elif kind == UNSUBSCRIBE:
            codes = (0,) * len(decoded.topic_filters) if self.version == V5 else ()
            self.send(Unsuback(decoded.packet_id, codes))
        elif kind == PINGREQ:
            self.broker.send(b"\xd0\x00")

    # --- callbacks (loop thread) --------------------------------------------------------------
    def _event(self, *event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._event("connect", flags.session_present, reason.value, _props_json(props))

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._event("publish", mid, reason.value, _props_json(props))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self._event("subscribe", mid, [code.value for code in codes], _props_json(props))

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self._event("unsubscribe", mid, [code.value for code in codes], _props_json(props))

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._event(
            "message",
            msg.topic,
            msg.payload,
            msg.qos,
            msg.retain,
            msg.dup,
            msg.mid,
            _props_json(msg.properties),
        )

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._event(
            "disconnect", flags.is_disconnect_packet_from_server, reason.value, _props_json(props)
        )

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for event in self.events if event[0] == kind)

    def wait_events(self, kind: str, count: int) -> None:
        wait_until(lambda: self.count(kind) >= count, STEP_TIMEOUT_S)

    # --- test thread --------------------------------------------------------------------------
    def note(self, *values: Any) -> None:
        self.returns.append(values)

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        info = self.client.publish(*args, **kwargs)
        self.note("publish", int(info.rc), info.mid)
        return info

    def subscribe(self, *args: Any, **kwargs: Any) -> Optional[int]:
        rc, mid = self.client.subscribe(*args, **kwargs)
        self.note("subscribe", int(rc), mid)
        return mid  # type: ignore[no-any-return]

    def unsubscribe(self, *args: Any, **kwargs: Any) -> Optional[int]:
        rc, mid = self.client.unsubscribe(*args, **kwargs)
        self.note("unsubscribe", int(rc), mid)
        return mid  # type: ignore[no-any-return]

    def finish(self, *disconnect_args: Any) -> None:
        """``disconnect()``, read the DISCONNECT, wait for the close, stop the loop."""
        rc = self.client.disconnect(*disconnect_args)
        if self.mqtt is paho_mqtt and rc == paho_mqtt.MQTT_ERR_NO_CONN:
            # paho race: its loop thread can write the DISCONNECT, close and clear _thread
            # before disconnect() checks _thread; it then returns loop_write()'s NO_CONN.
            rc = paho_mqtt.MQTT_ERR_SUCCESS
        self.note("disconnect", int(rc))
        self.expect(DISCONNECT)
        self.broker.wait_closed(STEP_TIMEOUT_S)
        self.broker.close_client()  # as a broker does after DISCONNECT
        self.stop()
        self.note("connected after disconnect", self.client.is_connected())

    def stop(self) -> None:
        """Stop the loop thread (bounded: a loop that does not stop fails the test)."""
        if not self._started:
            return
        self._started = False
        stopper = threading.Thread(target=self.client.loop_stop, daemon=True)
        stopper.start()
        stopper.join(STEP_TIMEOUT_S)
        if stopper.is_alive():
            # Help it along so the thread does not outlive the test, then fail.
            self.broker.close()
            stopper.join(STEP_TIMEOUT_S)
            raise AssertionError("loop_stop() did not return")

    def abort(self) -> None:
        """Cleanup after a failure: disconnect, close the broker side, stop the loop."""
        if self.client is not None and self._started:
            try:
                self.client.disconnect()
            except Exception:
                pass
            self.broker.close()
            self.stop()


Scenario = Callable[[Run], None]


def run_scenario(library: str, scenario: Scenario, version: int) -> Run:
    with FakeBroker() as broker:
        run = Run(LIBRARIES[library], broker, version)
        try:
            scenario(run)
        except BaseException:
            run.abort()
            raise
        run.packets = broker.recorded()
    return run


def _describe(packets: list[RawPacket]) -> list[str]:
    return [
        f"{packet.name} {packet.decoded!r}" if packet.decoded is not None else repr(packet)
        for packet in packets
    ]


def assert_same(paho_run: Run, our_run: Run) -> None:
    """The same packets (bytes), API results and callback arguments."""
    theirs, ours = paho_run.packets, our_run.packets
    assert _describe(ours) == _describe(theirs)
    assert [bytes(p).hex(" ") for p in ours] == [bytes(p).hex(" ") for p in theirs]
    assert our_run.returns == paho_run.returns
    assert our_run.events == paho_run.events


def compare(scenario: Scenario, version: int) -> tuple[Run, Run]:
    paho_run = run_scenario("paho", scenario, version)
    our_run = run_scenario("ours", scenario, version)
    return paho_run, our_run


def differential(scenario: Scenario, version: int) -> None:
    assert_same(*compare(scenario, version))


# --- CONNECT ------------------------------------------------------------------------------------


def connect_minimal(run: Run) -> None:
    run.new_client()
    run.connect()
    run.finish()


def connect_v311_all_options(run: Run) -> None:
    client = run.new_client(clean_session=False)
    client.username_pw_set("user", "pässwörd")
    client.will_set("will/topic", b"gone \x00\xff", qos=2, retain=True)
    client.enable_bridge_mode()
    run.connect(keepalive=17)
    run.finish()


def connect_username_only_will_qos1(run: Run) -> None:
    client = run.new_client()
    client.username_pw_set("only-user")
    client.will_set("w", "text will", qos=1)
    run.connect(keepalive=0)
    run.finish()


def connect_password_without_username(run: Run) -> None:
    """paho sends the password only with a user name (both flags clear here, even in 5.0)."""
    client = run.new_client()
    client.username_pw_set(None, "secret")  # type: ignore[arg-type]
    run.connect()
    run.finish()


def connect_empty_client_id(run: Run) -> None:
    run.new_client(client_id="")
    run.connect(keepalive=65535)
    run.finish()


def _v5_will(run: Run) -> None:
    will_props = run.props(
        "WILLMESSAGE",
        WillDelayInterval=5,
        MessageExpiryInterval=60,
        ContentType="text/plain",
        ResponseTopic="will/response",
        CorrelationData=b"\x01\x02",
        PayloadFormatIndicator=1,
        UserProperty=[("w", "1"), ("w", "2")],
    )
    run.client.will_set("will/v5", "bye", qos=1, retain=False, properties=will_props)


def connect_v5_all_options(run: Run) -> None:
    client = run.new_client()
    client.username_pw_set("user", b"\x00binary\xff")
    _v5_will(run)
    client.enable_bridge_mode()
    connect_props = run.props(
        "CONNECT",
        SessionExpiryInterval=3600,
        ReceiveMaximum=10,
        MaximumPacketSize=100000,
        TopicAliasMaximum=5,
        RequestResponseInformation=1,
        RequestProblemInformation=0,
        UserProperty=[("a", "1"), ("b", "2"), ("a", "3")],
    )
    run.connect(keepalive=30, clean_start=False, properties=connect_props)
    run.finish()


def connect_v5_clean_start_true(run: Run) -> None:
    run.new_client()
    run.connect(clean_start=True)
    run.finish()


def connect_v31(run: Run) -> None:
    run.new_client(client_id="v31-client")
    run.connect()
    run.finish()


CONNECT_SCENARIOS = [
    (connect_minimal, V311),
    (connect_minimal, V5),
    (connect_v31, 3),
    (connect_v311_all_options, V311),
    (connect_username_only_will_qos1, V311),
    (connect_username_only_will_qos1, V5),
    (connect_password_without_username, V311),
    (connect_empty_client_id, V311),
    (connect_empty_client_id, V5),
    (connect_v5_all_options, V5),
    (connect_v5_clean_start_true, V5),
]


@pytest.mark.parametrize(
    ("scenario", "version"),
    CONNECT_SCENARIOS,
    ids=[f"{s.__name__}-v{v}" for s, v in CONNECT_SCENARIOS],
)
def test_connect(scenario: Scenario, version: int) -> None:
    differential(scenario, version)


def test_connect_password_without_username_v5() -> None:
    """Deliberate difference: MQTT 5.0 allows a password alone (§3.1.2.9); we send it, paho
    drops it. Everything else in the CONNECT is the same."""
    paho_run, our_run = compare(connect_password_without_username, V5)
    theirs, ours = paho_run.packets[0].decoded, our_run.packets[0].decoded
    assert theirs.password is None and ours.password == b"secret"
    assert dataclasses.replace(ours, password=None) == theirs


# --- PUBLISH from the client, QoS 0/1/2 handshakes ----------------------------------------------


def publish_sequence(run: Run) -> None:
    run.new_client()
    run.connect()
    v5 = run.version == V5
    props = (
        run.props(
            "PUBLISH",
            PayloadFormatIndicator=1,
            MessageExpiryInterval=30,
            ContentType="application/json",
            ResponseTopic="reply/here",
            CorrelationData=b"\xca\xfe",
            UserProperty=[("k", "v"), ("k", "v2")],
        )
        if v5
        else None
    )
    # Each step waits for its on_publish so that callbacks come in the same order.
    run.publish("t/0", "zero", 0)
    run.expect(PUBLISH)
    run.wait_events("publish", 1)
    run.publish("t/1", b"one", 1, properties=props)
    publish = run.expect(PUBLISH)
    # MQTT 5: a PUBACK with reason code "No matching subscribers" and a reason string.
    if v5:
        run.send(Puback(publish.decoded.packet_id, 0x10, ((0x1F, "nobody"),)))
    else:
        run.send(Puback(publish.decoded.packet_id))
    run.wait_events("publish", 2)
    run.publish("t/2", 2.5, 2)
    publish = run.expect(PUBLISH)
    run.send(Pubrec(publish.decoded.packet_id))
    pubrel = run.expect(PUBREL)
    run.send(Pubcomp(pubrel.decoded.packet_id))
    run.wait_events("publish", 3)
    run.publish("t/r", 42, 0, retain=True, properties=props)
    run.expect(PUBLISH)
    run.wait_events("publish", 4)
    run.publish("t/r1", None, 1, retain=True)
    publish = run.expect(PUBLISH)
    run.send(Puback(publish.decoded.packet_id))
    run.wait_events("publish", 5)
    info = run.publish("t/ba", bytearray(b"\x00ba"), 2, True, props)
    publish = run.expect(PUBLISH)
    run.send(Pubrec(publish.decoded.packet_id))
    run.send(Pubcomp(run.expect(PUBREL).decoded.packet_id))
    info.wait_for_publish(STEP_TIMEOUT_S)
    run.note("is_published", info.is_published())
    run.wait_events("publish", 6)
    # The packet id counter is shared: SUBSCRIBE takes the next one after 6 publishes.
    run.subscribe("t/#")
    run.answer(run.expect(SUBSCRIBE))
    run.wait_events("subscribe", 1)
    run.finish()


def publish_before_connack(run: Run) -> None:
    """paho writes packets queued between connect() and CONNACK right after CONNECT."""
    run.new_client()
    run.client.connect("127.0.0.1", run.broker.port)
    run.publish("early/1", "before connack", 1)
    run.publish("early/0", "q0", 0)
    run.loop_start()
    run.expect(CONNECT)
    run.expect(PUBLISH)
    run.expect(PUBLISH)
    run.send(Connack())
    wait_until(run.client.is_connected, STEP_TIMEOUT_S)
    run.send(Puback(1))
    run.wait_events("publish", 2)
    run.finish()


def publish_while_offline(run: Run) -> None:
    """QoS 0 made before connect() is dropped (its mid is used up); QoS 1/2 are sent after
    CONNACK."""
    run.new_client()
    run.publish("off/0", "lost", 0)
    q1 = run.publish("off/1", "kept 1", 1)
    run.publish("off/2", "kept 2", 2)
    try:
        q1.wait_for_publish(0)
        run.note("wait_for_publish while offline", "returned")
    except RuntimeError:
        run.note("wait_for_publish while offline", "RuntimeError")
    run.connect()
    run.serve(lambda: run.count("publish") >= 2)
    run.note("rc after publish", int(q1.rc))
    run.finish()


def inflight_window(run: Run) -> None:
    """max_inflight_messages=2: the third and fourth QoS 1 wait for PUBACKs."""
    client = run.new_client()
    client.max_inflight_messages_set(2)
    run.connect()
    for i in range(4):
        run.publish(f"w/{i}", str(i), 1)
    first = run.expect(PUBLISH)
    second = run.expect(PUBLISH)
    run.broker.expect_nothing(0.3)
    run.send(Puback(first.decoded.packet_id))
    third = run.expect(PUBLISH)
    run.send(Puback(second.decoded.packet_id))
    run.send(Puback(third.decoded.packet_id))
    run.send(Puback(run.expect(PUBLISH).decoded.packet_id))
    run.wait_events("publish", 4)
    run.finish()


def queue_full(run: Run) -> None:
    """max_queued_messages=2: the third QoS 1 publish is refused with MQTT_ERR_QUEUE_SIZE; paho
    still uses up a mid for it, so the next packet id on the wire skips one."""
    client = run.new_client()
    client.max_queued_messages_set(2)
    run.connect()
    for i in range(3):
        run.publish(f"q/{i}", str(i), 1)
    run.answer(run.expect(PUBLISH))
    run.answer(run.expect(PUBLISH))
    run.wait_events("publish", 2)
    run.publish("q/after", "after", 1)
    run.answer(run.expect(PUBLISH))
    run.wait_events("publish", 3)
    run.finish()


def publish_topic_alias_v5(run: Run) -> None:
    """The broker grants Topic Alias Maximum 5; the program sets aliases itself (paho sends the
    property as given, an empty topic once the alias is known)."""
    run.new_client()
    run.start()
    run.accept(properties=((0x22, 5),))
    run.publish("alias/long/topic", "first", 1, properties=run.props("PUBLISH", TopicAlias=1))
    run.answer(run.expect(PUBLISH))
    run.publish("", "second", 1, properties=run.props("PUBLISH", TopicAlias=1))
    run.answer(run.expect(PUBLISH))
    run.wait_events("publish", 2)
    run.finish()


def keepalive_ping(run: Run) -> None:
    """keepalive=1 and nothing to send: PINGREQ (and PINGRESP from the broker)."""
    run.new_client()
    run.connect(keepalive=1)
    run.expect(PINGREQ)
    run.broker.send(b"\xd0\x00")
    run.finish()


PUBLISH_SCENARIOS = [
    (publish_sequence, V311),
    (publish_sequence, V5),
    (publish_before_connack, V311),
    (publish_before_connack, V5),
    (inflight_window, V311),
    (inflight_window, V5),
    (queue_full, V311),
    (publish_topic_alias_v5, V5),
    (keepalive_ping, V311),
    (keepalive_ping, V5),
]


@pytest.mark.parametrize(
    ("scenario", "version"),
    PUBLISH_SCENARIOS,
    ids=[f"{s.__name__}-v{v}" for s, v in PUBLISH_SCENARIOS],
)
def test_publish(scenario: Scenario, version: int) -> None:
    differential(scenario, version)


@pytest.mark.parametrize("version", [V311, V5], ids=["v4", "v5"])
def test_publish_while_offline(version: int) -> None:
    paho_run, our_run = compare(publish_while_offline, version)
    # DELIBERATE_DIFFERENCES "QoS 1/2 publish while disconnected": the same packets and
    # callbacks, but our wait_for_publish() waits instead of raising, and rc becomes SUCCESS.
    assert ("wait_for_publish while offline", "RuntimeError") in paho_run.returns
    assert ("wait_for_publish while offline", "returned") in our_run.returns
    assert ("rc after publish", int(paho_mqtt.MQTT_ERR_NO_CONN)) in paho_run.returns
    assert ("rc after publish", int(our_mqtt.MQTT_ERR_SUCCESS)) in our_run.returns
    for run in (paho_run, our_run):
        run.returns = [
            r
            for r in run.returns
            if r[0] not in ("wait_for_publish while offline", "rc after publish")
        ]
    assert_same(paho_run, our_run)


# --- SUBSCRIBE / UNSUBSCRIBE --------------------------------------------------------------------


def subscribe_shapes_v311(run: Run) -> None:
    run.new_client()
    run.connect()
    run.subscribe("s/a")
    run.answer(run.expect(SUBSCRIBE))
    run.subscribe("s/b", 1)
    run.answer(run.expect(SUBSCRIBE))
    run.subscribe(("s/c", 2))
    run.answer(run.expect(SUBSCRIBE))
    mid = run.subscribe([("s/d", 0), ("s/+/e", 1), ("s/#", 2)])
    run.expect(SUBSCRIBE)
    run.send(Suback(mid, (0, 1, 0x80)))  # the last one refused
    run.wait_events("subscribe", 4)
    run.unsubscribe("s/a")
    run.answer(run.expect(UNSUBSCRIBE))
    run.unsubscribe(["s/b", "s/c", "s/#"])
    run.answer(run.expect(UNSUBSCRIBE))
    run.wait_events("unsubscribe", 2)
    run.finish()


def subscribe_shapes_v5(run: Run) -> None:
    run.new_client()
    run.connect()
    options = run.mqtt.SubscribeOptions
    run.subscribe("s/a", 1)
    run.answer(run.expect(SUBSCRIBE))
    run.subscribe(
        "s/b",
        options=options(
            qos=2,
            noLocal=True,
            retainAsPublished=True,
            retainHandling=options.RETAIN_DO_NOT_SEND,
        ),
    )
    run.answer(run.expect(SUBSCRIBE))
    run.subscribe(("s/c", options(qos=1, retainHandling=options.RETAIN_SEND_IF_NEW_SUB)))
    run.answer(run.expect(SUBSCRIBE))
    props = run.props("SUBSCRIBE", SubscriptionIdentifier=7, UserProperty=[("k", "v")])
    mid = run.subscribe([("s/d", options(qos=0, noLocal=True)), ("s/e", 2)], properties=props)
    run.expect(SUBSCRIBE)
    run.send(Suback(mid, (0, 0x87), ((0x1F, "partly"),)))  # "Not authorized" for s/e
    run.wait_events("subscribe", 4)
    run.unsubscribe("s/a")
    run.answer(run.expect(UNSUBSCRIBE))
    props = run.props("UNSUBSCRIBE", UserProperty=[("why", "done")])
    mid = run.unsubscribe(["s/b", "s/c"], properties=props)
    run.expect(UNSUBSCRIBE)
    run.send(Unsuback(mid, (0, 0x11)))  # "No subscription existed" for s/c
    run.wait_events("unsubscribe", 2)
    run.finish()


@pytest.mark.parametrize(
    ("scenario", "version"),
    [(subscribe_shapes_v311, V311), (subscribe_shapes_v5, V5)],
    ids=["v4", "v5"],
)
def test_subscribe_and_unsubscribe(scenario: Scenario, version: int) -> None:
    differential(scenario, version)


def subscribe_tuple_with_qos_v5(run: Run) -> None:
    run.new_client()
    run.connect()
    try:
        run.subscribe(("s/t", 1))
        run.answer(run.expect(SUBSCRIBE))
        run.wait_events("subscribe", 1)
    except ValueError as exc:
        run.note("ValueError", str(exc))
    run.finish()


def test_subscribe_tuple_with_qos_v5() -> None:
    paho_run, our_run = compare(subscribe_tuple_with_qos_v5, V5)
    # DELIBERATE_DIFFERENCES "subscribe(('topic', qos)) with MQTT 5".
    assert ("ValueError", "Subscribe options must be instance of SubscribeOptions class.") in (
        paho_run.returns
    )
    assert [p.name for p in our_run.packets] == ["CONNECT", "SUBSCRIBE", "DISCONNECT"]
    subscribe = our_run.packets[1].decoded
    assert [(s.topic_filter, s.qos) for s in subscribe.subscriptions] == [("s/t", 1)]


# --- PUBLISH from the broker --------------------------------------------------------------------


def incoming_publishes(run: Run) -> None:
    run.new_client()
    run.connect()
    v5 = run.version == V5
    props: tuple[Any, ...] = (
        ((0x03, "text/plain"), (0x0B, 3), (0x26, ("k", "v")), (0x26, ("k", "v2"))) if v5 else ()
    )
    run.send(Publish("in/0", b"zero", 0, properties=props))
    run.send(Publish("in/1", b"one", 1, retain=True, packet_id=10))
    run.expect(PUBACK)
    run.send(Publish("in/2", b"two", 2, packet_id=11, properties=props))
    run.expect(PUBREC)
    run.send(Pubrel(11))
    run.expect(PUBCOMP)
    run.wait_events("message", 3)
    run.finish()


def incoming_qos2_repeated_before_pubrel(run: Run) -> None:
    """The broker re-sends a QoS 2 PUBLISH (DUP=1) before PUBREL: PUBREC twice, one delivery.
    paho stores the repeat over the first copy, so the message it delivers has dup=True."""
    run.new_client()
    run.connect()
    run.send(Publish("in/2dup", b"again", 2, packet_id=12))
    run.expect(PUBREC)
    run.send(Publish("in/2dup", b"again", 2, dup=True, packet_id=12))
    run.expect(PUBREC)
    run.send(Pubrel(12))
    run.expect(PUBCOMP)
    run.wait_events("message", 1)
    run.finish()


def incoming_unknown_pubrel(run: Run) -> None:
    """A PUBREL for a packet id the client does not know is still answered with PUBCOMP."""
    run.new_client()
    run.connect()
    run.send(Pubrel(99))
    run.expect(PUBCOMP)
    run.finish()


def incoming_manual_ack(run: Run) -> None:
    """manual_ack=True: PUBACK / PUBCOMP only when the application calls ack()."""
    run.new_client(manual_ack=True)
    run.connect()
    run.send(Publish("m/1", b"one", 1, packet_id=21))
    run.send(Publish("m/2", b"two", 2, packet_id=22))
    run.expect(PUBREC)
    run.send(Pubrel(22))
    run.wait_events("message", 2)
    run.broker.expect_nothing(0.3)
    run.note("ack", int(run.client.ack(21, 1)))
    run.expect(PUBACK)
    run.note("ack", int(run.client.ack(22, 2)))
    run.expect(PUBCOMP)
    run.finish()


@pytest.mark.parametrize(
    ("scenario", "version"),
    [
        (incoming_publishes, V311),
        (incoming_publishes, V5),
        (incoming_qos2_repeated_before_pubrel, V311),
        (incoming_qos2_repeated_before_pubrel, V5),
        (incoming_manual_ack, V311),
        (incoming_manual_ack, V5),
        (incoming_unknown_pubrel, V311),
    ],
    ids=[
        "v4",
        "v5",
        "qos2-repeated-v4",
        "qos2-repeated-v5",
        "manual-ack-v4",
        "manual-ack-v5",
        "unknown-pubrel-v4",
    ],
)
def test_incoming(scenario: Scenario, version: int) -> None:
    differential(scenario, version)


def test_incoming_unknown_pubrel_v5() -> None:
    paho_run, our_run = compare(incoming_unknown_pubrel, V5)
    # DELIBERATE_DIFFERENCES "PUBREL for an unknown packet id (MQTT 5)".
    assert bytes(paho_run.packets[1]) == b"\x70\x02\x00\x63"
    assert bytes(our_run.packets[1]) == b"\x70\x03\x00\x63\x92"
    del paho_run.packets[1], our_run.packets[1]
    assert_same(paho_run, our_run)


# --- reconnect with unacknowledged messages -----------------------------------------------------


def _replay_scenario(
    session_kept: bool, client_kwargs: dict[str, Any], connect_kwargs: dict[str, Any]
) -> Scenario:
    """Three messages in flight when the connection drops: QoS 1 awaiting PUBACK (mid 1), QoS 2
    awaiting PUBREC (mid 2), QoS 2 awaiting PUBCOMP (mid 3); and an incoming QoS 2 awaiting
    PUBREL. After the automatic reconnect the broker answers CONNACK with Session Present =
    ``session_kept``.

    paho (``_messages_reconnect_reset_out``) re-sends the first two as PUBLISH with DUP=1; the
    third continues with PUBREL when the new connection keeps the session (clean flag 0 in its
    CONNECT) and starts again with PUBLISH DUP=1 when it is clean."""

    def scenario(run: Run) -> None:
        run.new_client(**client_kwargs)
        run.connect(**connect_kwargs)
        run.publish("r/1", "q1", 1)
        run.expect(PUBLISH)
        run.publish("r/2", "q2 a", 2)
        run.expect(PUBLISH)
        run.publish("r/3", "q2 b", 2)
        run.expect(PUBLISH)
        run.send(Pubrec(3))
        run.expect(PUBREL)
        run.send(Publish("in/q2", b"incoming", 2, packet_id=20))
        run.expect(PUBREC)
        run.broker.close_client()
        run.wait_events("disconnect", 1)
        run.accept(session_present=session_kept)
        # What the client re-sends before anything else, in its order.
        replay = [run.expect() for _ in range(3)]
        for packet in replay:
            run.answer(packet)
        run.serve(lambda: run.count("publish") >= 3)
        if session_kept:
            # The broker still has the incoming QoS 2 message: it goes on with PUBREL.
            run.send(Pubrel(20))
            run.expect(PUBCOMP)
            run.wait_events("message", 1)
        run.finish()

    return scenario


# case: (version, Session Present on reconnect, Client() arguments, connect() arguments)
REPLAY_CASES: dict[str, tuple[int, bool, dict[str, Any], dict[str, Any]]] = {
    "v4-session-kept": (V311, True, {"clean_session": False}, {}),
    "v4-clean-session": (V311, False, {}, {}),
    "v5-clean-start-first-only": (V5, True, {}, {}),
    "v5-clean-start-always": (V5, False, {}, {"clean_start": True}),
}


@pytest.mark.parametrize("case", list(REPLAY_CASES))
def test_reconnect_replays_unacknowledged_messages(case: str) -> None:
    version, session_kept, client_kwargs, connect_kwargs = REPLAY_CASES[case]
    scenario = _replay_scenario(session_kept, client_kwargs, connect_kwargs)
    if session_kept:
        differential(scenario, version)
        return
    paho_run, our_run = compare(scenario, version)
    theirs, ours = _describe(paho_run.packets), _describe(our_run.packets)
    reconnect = [i for i, d in enumerate(ours) if d.startswith("CONNECT")][1]
    # Deliberate difference: past PUBREC the message belongs to the broker (MQTT §4.3.3); we go
    # on with PUBREL even when the session is gone, paho publishes it again (DUP=1).
    assert ours[reconnect + 1 : reconnect + 4][2].startswith("PUBREL Pubrel(packet_id=3")
    assert any(d.startswith("PUBLISH Publish(topic='r/3'") and "dup=True" in d for d in theirs)

    def without_message_3(packets: list[str], start: int) -> list[str]:
        return packets[:start] + [
            d
            for d in packets[start:]
            if not d.startswith(("PUBREL Pubrel(packet_id=3", "PUBLISH Publish(topic='r/3'"))
        ]

    paho_reconnect = [i for i, d in enumerate(theirs) if d.startswith("CONNECT")][1]
    assert without_message_3(ours, reconnect) == without_message_3(theirs, paho_reconnect)


# --- DISCONNECT ---------------------------------------------------------------------------------


def _disconnect_scenario(make_args: Callable[[Run], tuple[Any, ...]]) -> Scenario:
    def scenario(run: Run) -> None:
        run.new_client()
        run.connect()
        run.finish(*make_args(run))

    return scenario


def _reason(run: Run, name: str) -> Any:
    return run.mqtt.ReasonCode(run.mqtt.PacketTypes.DISCONNECT, name)


DISCONNECT_CASES: dict[str, Callable[[Run], tuple[Any, ...]]] = {
    "plain": lambda run: (),
    "reason-code": lambda run: (_reason(run, "Disconnect with will message"),),
    "reason-code-and-properties": lambda run: (
        _reason(run, "Unspecified error"),
        run.props("DISCONNECT", ReasonString="bye", UserProperty=[("k", "v")]),
    ),
    "properties-only": lambda run: (None, run.props("DISCONNECT", SessionExpiryInterval=0)),
}


@pytest.mark.parametrize("case", list(DISCONNECT_CASES))
def test_disconnect_v5(case: str) -> None:
    differential(_disconnect_scenario(DISCONNECT_CASES[case]), V5)


def server_disconnect_v5(run: Run) -> None:
    """The broker sends DISCONNECT "Server shutting down" with a reason string and closes; the
    client reports it and reconnects."""
    run.new_client()
    run.connect()
    run.send(Disconnect(0x8B, ((0x1F, "maintenance"),)))
    run.broker.close_client()
    run.wait_events("disconnect", 1)
    run.accept()
    run.finish()


def test_server_disconnect_v5() -> None:
    differential(server_disconnect_v5, V5)


def test_disconnect_v311_ignores_v5_arguments() -> None:
    # 3.1.1 has no reason code or properties: DISCONNECT is always E0 00.
    differential(_disconnect_scenario(DISCONNECT_CASES["reason-code-and-properties"]), V311)


def test_disconnect_v5_normal_reason_code() -> None:
    paho_run, our_run = compare(
        _disconnect_scenario(lambda run: (_reason(run, "Normal disconnection"),)), V5
    )
    # DELIBERATE_DIFFERENCES "disconnect with ReasonCode 0 and no properties (MQTT 5)".
    assert bytes(paho_run.packets[-1]) == b"\xe0\x01\x00"
    assert bytes(our_run.packets[-1]) == b"\xe0\x00"
    paho_run.packets = paho_run.packets[:-1]
    our_run.packets = our_run.packets[:-1]
    assert_same(paho_run, our_run)


# --- paho-mqtt 1.x constructor ------------------------------------------------------------------


def test_legacy_positional_client_id() -> None:
    # DELIBERATE_DIFFERENCES "Client('client-id')".
    with pytest.raises((TypeError, ValueError)):
        paho_mqtt.Client("legacy-id")  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning):
        client = our_mqtt.Client("legacy-id")  # type: ignore[arg-type]
    assert client.callback_api_version == our_mqtt.CallbackAPIVersion.VERSION1
    with FakeBroker() as broker:
        run = Run(our_mqtt, broker, V311)
        run.client = client
        try:
            run.start()
            assert run.expect(CONNECT).decoded.client_id == "legacy-id"
            run.send(Connack())
            wait_until(client.is_connected, STEP_TIMEOUT_S)
            run.finish()
        except BaseException:
            run.abort()
            raise
