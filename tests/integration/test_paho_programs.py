"""paho-style programs give the same results with mqttclient.

Each program is a small, realistic piece of paho-mqtt user code written against a ``mqtt``
module (``paho.mqtt.client`` or ``mqttclient.client``, with the matching ``publish`` and
``subscribe`` helper modules). It runs twice against the real mosquitto fixture, once per
library, and returns what it observed: messages received, the types and values of callback
arguments, return codes. The two outcomes must be equal (and sensible).

Topics are unique per run and reported relative to the run's prefix; every wait is bounded and
every client is stopped.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as paho_client
import paho.mqtt.publish as paho_publish
import paho.mqtt.subscribe as paho_subscribe
import pytest

import mqttclient.client as our_client
import mqttclient.publish as our_publish
import mqttclient.subscribe as our_subscribe
from tests.integration.helpers import wait_until

WAIT_S = 5.0


@dataclass
class Library:
    """What ``import paho.mqtt.client as mqtt`` (and friends) gives a program."""

    name: str
    mqtt: Any
    publish: Any
    subscribe: Any


LIBRARIES = [
    Library("paho", paho_client, paho_publish, paho_subscribe),
    Library("ours", our_client, our_publish, our_subscribe),
]


class Log:
    """Thread-safe record of what a program saw, in order."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self.entries: list[tuple[Any, ...]] = []

    def add(self, *entry: Any) -> None:
        with self._lock:
            self.entries.append(tuple(self.shape(value) for value in entry))

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for entry in self.entries if entry[0] == kind)

    def wait(self, kind: str, count: int) -> None:
        wait_until(lambda: self.count(kind) >= count, WAIT_S)

    def shape(self, value: Any) -> Any:
        """Values that compare across libraries: the type name and the value."""
        name = type(value).__name__
        if value is None or isinstance(value, (bool, float, bytes)):
            return value
        if isinstance(value, str):
            return value.replace(self.prefix, "<p>")
        if hasattr(value, "_fields"):  # ConnectFlags, DisconnectFlags
            return (name, tuple(value))
        if name == "ReasonCode":
            return (name, value.packetType, value.value, str(value))
        if name == "Properties":
            return (name, value.packetType, self.shape(value.json()))
        if name == "MQTTMessage":
            return (
                name,
                self.shape(value.topic),
                value.payload,
                value.qos,
                value.retain,
                self.shape(value.properties),
            )
        if isinstance(value, int):  # MQTTErrorCode and friends keep their type name
            return (name, int(value))
        if isinstance(value, dict):
            return (name, sorted((self.shape(k), self.shape(v)) for k, v in value.items()))
        if isinstance(value, (list, tuple)):
            return (name, [self.shape(item) for item in value])
        return name


def _v1_client(mqtt: Any, **kwargs: Any) -> Any:
    # paho-mqtt 2.2 warns even for an explicit VERSION1 (2.1 only when it is omitted).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs)


def _stop(client: Any) -> None:
    """disconnect() + loop_stop(), bounded."""
    client.disconnect()
    stopper = threading.Thread(target=client.loop_stop, daemon=True)
    stopper.start()
    stopper.join(WAIT_S)
    assert not stopper.is_alive(), "loop_stop() did not return"


def _publisher(mqtt: Any, port: int, prefix: str, **kwargs: Any) -> Any:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub", **kwargs)
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_until(client.is_connected, WAIT_S)
    return client


# --- program 1: a VERSION1 subscriber with per-topic callbacks --------------------------------


def v1_subscriber(lib: Library, port: int, prefix: str, log: Log, v5: bool) -> None:
    mqtt = lib.mqtt
    protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    sub = _v1_client(mqtt, client_id=f"{prefix}-sub", protocol=protocol, userdata={"n": 0})

    def on_connect(client: Any, userdata: Any, *args: Any) -> None:
        log.add("on_connect", *args)
        result = client.subscribe(f"{prefix}/sensors/#", 1)
        log.add("subscribe() returned", result[0], type(result[1]).__name__)

    def on_subscribe(client: Any, userdata: Any, mid: Any, *args: Any) -> None:
        log.add("on_subscribe", type(mid).__name__, *args)

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        userdata["n"] += 1
        log.add("on_message", message)

    def on_temperature(client: Any, userdata: Any, message: Any) -> None:
        log.add("temperature", message)

    def on_any_sensor(client: Any, userdata: Any, message: Any) -> None:
        log.add("any sensor", message)

    def on_unsubscribe(client: Any, userdata: Any, mid: Any, *args: Any) -> None:
        log.add("on_unsubscribe", type(mid).__name__, *args)

    def on_disconnect(client: Any, userdata: Any, *args: Any) -> None:
        log.add("on_disconnect", *args)

    sub.on_connect = on_connect
    sub.on_subscribe = on_subscribe
    sub.on_message = on_message
    sub.on_unsubscribe = on_unsubscribe
    sub.on_disconnect = on_disconnect
    sub.message_callback_add(f"{prefix}/sensors/temperature", on_temperature)
    sub.message_callback_add(f"{prefix}/sensors/+", on_any_sensor)
    log.add("connect() returned", sub.connect("127.0.0.1", port, keepalive=30))
    sub.loop_start()
    pub = None
    try:
        log.wait("on_subscribe", 1)
        pub = _publisher(mqtt, port, prefix)
        steps = [
            ("sensors/temperature", b"21.5", 2),  # temperature + any sensor
            ("sensors/humidity", b"40", 1),  # any sensor
            ("sensors/room/1", b"deep", 1),  # no filter matches: on_message
        ]
        for topic, payload, count in steps:
            before = len(log.entries)
            pub.publish(f"{prefix}/{topic}", payload, qos=1).wait_for_publish(WAIT_S)
            wait_until(lambda b=before, c=count: len(log.entries) >= b + c, WAIT_S)
        sub.message_callback_remove(f"{prefix}/sensors/+")
        pub.publish(f"{prefix}/sensors/humidity", b"41", qos=1).wait_for_publish(WAIT_S)
        log.wait("on_message", 2)
        sub.unsubscribe(f"{prefix}/sensors/#")
        log.wait("on_unsubscribe", 1)
        log.add("messages counted in userdata", sub.user_data_get()["n"])
    finally:
        if pub is not None:
            _stop(pub)
        _stop(sub)
    log.add("connected", sub.is_connected())


# --- program 2: a VERSION2 MQTT 5 publisher with properties -----------------------------------


def v2_mqtt5_publisher(lib: Library, port: int, prefix: str, log: Log) -> None:
    mqtt = lib.mqtt
    received = threading.Event()

    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-sub", protocol=mqtt.MQTTv5
    )

    messages: list[Any] = []  # logged at the end: the two clients' threads interleave

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        messages.append(message)
        if len(messages) == 3:
            received.set()

    sub.on_message = on_message
    sub.on_subscribe = lambda client, userdata, mid, codes, props: log.add("on_subscribe", codes)
    sub.connect("127.0.0.1", port)
    sub.loop_start()

    pub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub", protocol=mqtt.MQTTv5
    )

    @pub.connect_callback()
    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        log.add("on_connect", flags, reason, type(props).__name__)

    @pub.publish_callback()
    def on_publish(client: Any, userdata: Any, mid: Any, reason: Any, props: Any) -> None:
        log.add("on_publish", mid, reason, props)

    try:
        wait_until(sub.is_connected, WAIT_S)
        sub.subscribe(f"{prefix}/#", options=mqtt.SubscribeOptions(qos=2))
        log.wait("on_subscribe", 1)
        connect_props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = 0
        pub.connect("127.0.0.1", port, properties=connect_props)
        pub.loop_start()
        wait_until(pub.is_connected, WAIT_S)
        for qos in (0, 1, 2):
            props = mqtt.Properties(mqtt.PacketTypes.PUBLISH)
            props.ContentType = "application/json"
            props.ResponseTopic = f"{prefix}/reply"
            props.CorrelationData = bytes([qos, 0xFF])
            props.PayloadFormatIndicator = 1
            props.MessageExpiryInterval = 3600
            props.UserProperty = ("qos", str(qos))
            props.UserProperty = ("lib", "any")
            info = pub.publish(f"{prefix}/data/{qos}", f'{{"qos": {qos}}}', qos, properties=props)
            rc, mid = info
            log.add("publish() returned", rc, mid)
            info.wait_for_publish(WAIT_S)
            log.add("is_published", info.is_published())
            log.wait("on_publish", qos + 1)
        assert received.wait(WAIT_S), "the subscriber did not get the three messages"
    finally:
        _stop(pub)
        _stop(sub)
    for message in messages:
        props = message.properties.json()
        # The broker rewrites Message Expiry Interval to what is left of it.
        props.pop("MessageExpiryInterval", None)
        log.add("received", message.topic, message.payload, message.qos, message.retain, props)


# --- program 3: publish.single / publish.multiple / subscribe.simple ---------------------------


class Background:
    """Run ``func`` in a daemon thread (for blocking helpers such as ``subscribe.simple``)."""

    def __init__(self, func: Callable[[], Any]) -> None:
        self._func = func
        self._result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result["value"] = self._func()
        except BaseException as exc:
            self._result["error"] = exc

    def done(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def result(self) -> Any:
        assert self.done(WAIT_S), "the helper did not return"
        if "error" in self._result:
            raise self._result["error"]
        return self._result["value"]


def helper_functions(lib: Library, port: int, prefix: str, log: Log) -> None:
    server = {"hostname": "127.0.0.1", "port": port}
    lib.publish.multiple(
        [
            {"topic": f"{prefix}/a", "payload": "dict message", "qos": 1, "retain": True},
            (f"{prefix}/b", b"tuple message", 2, True),
            (f"{prefix}/c", 7, 0, True),
        ],
        client_id=f"{prefix}-multi",
        **server,
    )
    retained = lib.subscribe.simple(
        f"{prefix}/#", qos=1, msg_count=3, client_id=f"{prefix}-simple3", **server
    )
    log.add("simple(msg_count=3)", sorted(retained, key=lambda m: m.topic))
    one = lib.subscribe.simple(f"{prefix}/a", client_id=f"{prefix}-simple1", **server)
    log.add("simple(msg_count=1)", one)

    # retained=False skips the retained ones: publish live messages until one arrives.
    live = Background(
        lambda: lib.subscribe.simple(
            [f"{prefix}/a", f"{prefix}/live"],
            qos=1,
            retained=False,
            client_id=f"{prefix}-live",
            **server,
        )
    )
    deadline = time.monotonic() + WAIT_S
    while not live.done(0.2) and time.monotonic() < deadline:
        lib.publish.single(
            f"{prefix}/live", "now", qos=1, client_id=f"{prefix}-single", keepalive=10, **server
        )
    log.add("simple(retained=False)", live.result())

    for topic in ("a", "b", "c"):
        lib.publish.single(f"{prefix}/{topic}", None, retain=True, **server)  # clear
    with pytest.raises(ValueError):
        lib.publish.multiple([], **server)
    with pytest.raises(ValueError):
        lib.subscribe.simple("x", msg_count=0, **server)
    log.add("helpers done")


# --- program 4: a loop()-driven client ----------------------------------------------------------


def manual_loop(lib: Library, port: int, prefix: str, log: Log) -> None:
    mqtt = lib.mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-loop")
    state = {"connected": 0, "suback": 0, "messages": [], "disconnected": 0}
    client.on_connect = lambda c, u, flags, reason, props: state.update(connected=1)
    client.on_subscribe = lambda c, u, mid, codes, props: state.update(suback=1)
    client.on_message = lambda c, u, msg: state["messages"].append(msg)
    client.on_disconnect = lambda c, u, flags, reason, props: state.update(disconnected=1)
    loop_codes = set()

    def loop_until(condition: Callable[[], Any]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            assert time.monotonic() < deadline, "condition not met while looping"
            loop_codes.add(client.loop(timeout=0.05))

    log.add("connect() returned", client.connect("127.0.0.1", port, keepalive=5))
    loop_until(lambda: state["connected"])
    log.add("is_connected", client.is_connected())
    rc, mid = client.subscribe(f"{prefix}/echo", qos=1)
    log.add("subscribe() returned", rc, mid)
    loop_until(lambda: state["suback"])
    info = client.publish(f"{prefix}/echo", "to myself", qos=1)
    log.add("publish() returned", info.rc, info.mid)
    loop_until(lambda: state["messages"] and info.is_published())
    log.add("message", state["messages"][0])
    log.add("disconnect() returned", client.disconnect())
    loop_until(lambda: state["disconnected"])
    log.add("loop codes while connected", sorted(loop_codes))
    log.add("loop() after disconnect", client.loop(timeout=0.01))
    log.add("is_connected", client.is_connected())


# --- program 5: MQTTMessageInfo, in-flight and queue limits -------------------------------------


def limits_and_message_info(lib: Library, port: int, prefix: str, log: Log) -> None:
    mqtt = lib.mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-limits")
    client.max_inflight_messages_set(2)
    log.add(
        "max_queued_messages_set returns the client", client.max_queued_messages_set(5) is client
    )
    log.add("limits", client.max_inflight_messages, client.max_queued_messages)
    acked: list[int] = []
    client.on_publish = lambda c, u, mid, reason, props: acked.append(mid)
    client.connect("127.0.0.1", port)
    try:
        client.max_inflight_messages = 3
    except RuntimeError as exc:
        log.add("setter while connected", "RuntimeError", str(exc))
    # Published before the loop runs: at most 5 QoS 1 messages may be held, 2 in flight.
    infos = [client.publish(f"{prefix}/q", f"m{i}", qos=1) for i in range(8)]
    for info in infos:
        rc, mid = info
        log.add("publish() returned", rc, mid, info[0] == rc, info[1] == mid, str(info))
    client.loop_start()
    try:
        for info in infos:
            try:
                info.wait_for_publish(WAIT_S)
                log.add("wait_for_publish", "ok", info.is_published())
            except ValueError as exc:
                log.add("wait_for_publish", "ValueError", str(exc))
        wait_until(lambda: len(acked) == 5, WAIT_S)
        rc, mid = client.publish(f"{prefix}/q", "after", qos=0)
        log.add("QoS 0 publish() returned", rc, mid)
    finally:
        _stop(client)
    log.add("acknowledged mids", sorted(acked))
    client.max_inflight_messages = 3  # allowed again once disconnected
    log.add("limits", client.max_inflight_messages, client.max_queued_messages)


# --- program 6: a will, published when the connection drops -------------------------------------


def will_on_abrupt_close(lib: Library, port: int, prefix: str, log: Log) -> None:
    mqtt = lib.mqtt
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-watch")
    watcher.on_message = lambda c, u, msg: log.add("will received", msg)
    watcher.on_subscribe = lambda c, u, mid, codes, props: log.add("watching", codes)
    watcher.connect("127.0.0.1", port)
    watcher.loop_start()
    try:
        wait_until(watcher.is_connected, WAIT_S)
        watcher.subscribe(f"{prefix}/status/#", 1)
        log.wait("watching", 1)

        polite = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-polite", protocol=mqtt.MQTTv5
        )
        will_props = mqtt.Properties(mqtt.PacketTypes.WILLMESSAGE)
        will_props.UserProperty = ("why", "polite")
        polite.will_set(f"{prefix}/status/polite", "polite gone", 1, False, will_props)
        polite.connect("127.0.0.1", port)
        polite.loop_start()
        wait_until(polite.is_connected, WAIT_S)
        _stop(polite)

        rude = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-rude", reconnect_on_failure=False
        )
        rude.will_set(f"{prefix}/status/rude", b"rude gone", qos=1, retain=False)
        log.add("will", rude.will_topic, rude.will_payload)
        # The will reaching the watcher and the rude client noticing its loss race each other
        # (in both libraries): record the loss aside and log it after the will, in fixed order.
        lost: list[Any] = []
        rude.on_disconnect = lambda c, u, flags, reason, props: lost.append(reason)
        rude.connect("127.0.0.1", port)
        rude.loop_start()
        wait_until(rude.is_connected, WAIT_S)
        # A crash or a network loss: the TCP connection ends without DISCONNECT.
        sock = rude.socket()
        sock.shutdown(socket.SHUT_RDWR)
        log.wait("will received", 1)
        wait_until(lambda: len(lost) == 1, WAIT_S)
        log.add("rude lost", lost[0])
        time.sleep(0.3)  # room for a wrong "polite" will to arrive
        _stop(rude)
    finally:
        _stop(watcher)


# --- the tests ----------------------------------------------------------------------------------


Program = Callable[..., None]


def outcome(lib: Library, port: int, program: Program, **kwargs: Any) -> list[tuple[Any, ...]]:
    prefix = f"prog-{uuid.uuid4().hex[:10]}"
    log = Log(prefix)
    program(lib, port, prefix, log, **kwargs)
    return log.entries


def both(port: int, program: Program, **kwargs: Any) -> list[tuple[Any, ...]]:
    theirs, ours = (outcome(lib, port, program, **kwargs) for lib in LIBRARIES)
    assert ours == theirs
    return theirs


@pytest.mark.parametrize("v5", [False, True], ids=["v311", "v5"])
def test_version1_subscriber_with_topic_callbacks(mosquitto: Any, v5: bool) -> None:
    seen = both(mosquitto.port(), v1_subscriber, v5=v5)
    kinds = [entry[0] for entry in seen]
    assert kinds.count("temperature") == 1 and kinds.count("any sensor") == 2
    assert kinds.count("on_message") == 2
    connect = seen[1]
    if v5:  # (client, userdata, flags, reason_code, properties)
        assert connect[1] == ("dict", [("session present", ("int", 0))])
        assert connect[2][0] == "ReasonCode" and connect[3][0] == "Properties"
    else:  # (client, userdata, flags, rc)
        assert connect[1:] == (("dict", [("session present", ("int", 0))]), ("int", 0))


def test_version2_mqtt5_publisher_with_properties(mosquitto: Any) -> None:
    seen = both(mosquitto.port(), v2_mqtt5_publisher)
    received = [entry for entry in seen if entry[0] == "received"]
    assert [entry[3] for entry in received] == [("int", 0), ("int", 1), ("int", 2)]  # qos
    assert all("UserProperty" in str(entry[5]) for entry in received)


def test_publish_and_subscribe_helpers(mosquitto: Any) -> None:
    seen = both(mosquitto.port(), helper_functions)
    retained = seen[0][1]
    assert retained[0] == "list" and [m[1] for m in retained[1]] == ["<p>/a", "<p>/b", "<p>/c"]
    assert seen[2][1][1:5] == ("<p>/live", b"now", 1, False)


def test_manual_loop(mosquitto: Any) -> None:
    seen = both(mosquitto.port(), manual_loop)
    assert ("loop codes while connected", ("list", [("MQTTErrorCode", 0)])) in seen


def test_message_info_and_limits(mosquitto: Any) -> None:
    seen = both(mosquitto.port(), limits_and_message_info)
    returned = [entry for entry in seen if entry[0] == "publish() returned"]
    assert [entry[1] for entry in returned] == [("MQTTErrorCode", 0)] * 5 + [
        ("MQTTErrorCode", 15)
    ] * 3


def test_will_on_abrupt_close(mosquitto: Any) -> None:
    seen = both(mosquitto.port(), will_on_abrupt_close)
    wills = [entry[1] for entry in seen if entry[0] == "will received"]
    assert [(will[1], will[2]) for will in wills] == [("<p>/status/rude", b"rude gone")]
