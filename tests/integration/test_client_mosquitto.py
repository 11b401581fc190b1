"""The client against a real mosquitto: QoS 0/1/2 both ways, retained messages, wills,
persistent sessions, wildcards, unsubscribe, and the no-loop script style."""

from __future__ import annotations

import itertools
import socket
import threading
import time
import uuid

import pytest

import mqttclient.client as mqtt
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from tests.integration.helpers import V1, V2, Recorder, running, wait_until

PROTOCOLS = [mqtt.MQTTv311, mqtt.MQTTv5]
_ids = itertools.count()


def topic(name: str = "t") -> str:
    return f"test/{uuid.uuid4().hex[:8]}/{name}"


def new_client(
    protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311, client_id: str = "", **kw: object
) -> mqtt.Client:
    if not client_id:
        client_id = f"c{next(_ids)}-{uuid.uuid4().hex[:6]}"
    return mqtt.Client(V2, client_id=client_id, protocol=protocol, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["v311", "v5"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_subscribe_round_trip(mosquitto, protocol, qos):
    rec = Recorder()
    sub = new_client(protocol)
    rec.attach(sub, "on_message", "on_subscribe")
    pub = new_client(protocol)
    rec_pub = Recorder()
    rec_pub.attach(pub, "on_publish")
    t = topic()
    with running(sub, mosquitto.port()), running(pub, mosquitto.port()):
        sub.subscribe(t, qos)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        infos = [pub.publish(t, f"m{i}", qos) for i in range(50)]
        for info in infos:
            info.wait_for_publish(5)
            assert info.is_published()
        wait_until(lambda: rec.count("on_message") == 50)
    payloads = [args[0].payload for args in rec.get("on_message")]
    assert payloads == [f"m{i}".encode() for i in range(50)]
    assert {args[0].qos for args in rec.get("on_message")} == {qos}
    assert sorted(args[0] for args in rec_pub.get("on_publish")) == sorted(i.mid for i in infos)
    granted = rec.get("on_subscribe")[0][1]
    assert [int(code.value) for code in granted] == [qos]


def test_retained_message_delivered_to_new_subscriber(mosquitto):
    t = topic()
    pub = new_client()
    with running(pub, mosquitto.port()):
        pub.publish(t, b"kept", qos=1, retain=True).wait_for_publish(5)
    rec = Recorder()
    sub = new_client()
    rec.attach(sub, "on_message")
    with running(sub, mosquitto.port()):
        sub.subscribe(t, 1)
        wait_until(lambda: rec.count("on_message") == 1)
        msg = rec.get("on_message")[0][0]
        assert msg.retain is True and msg.payload == b"kept"
        # clear the retained message
        sub.publish(t, b"", qos=1, retain=True).wait_for_publish(5)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["v311", "v5"])
def test_will_sent_on_abnormal_loss_not_on_disconnect(mosquitto, protocol):
    will_topic = topic("will")
    rec = Recorder()
    watcher = new_client()
    rec.attach(watcher, "on_message", "on_subscribe")
    with running(watcher, mosquitto.port()):
        watcher.subscribe(will_topic, 1)
        wait_until(lambda: rec.count("on_subscribe") == 1)

        polite = new_client(protocol)
        polite.will_set(will_topic, b"polite-gone", qos=1)
        with running(polite, mosquitto.port()):
            pass  # disconnect() on exit: no will
        rude = new_client(protocol)
        rude.will_set(will_topic, b"rude-gone", qos=1)
        rude.connect("127.0.0.1", mosquitto.port())
        rude.loop_start()
        wait_until(rude.is_connected)
        # Kill the TCP connection without DISCONNECT (as a crash or network loss would).
        sock = rude.socket()
        rude.loop_stop()
        sock.shutdown(socket.SHUT_RDWR)
        wait_until(lambda: rec.count("on_message") >= 1)
        time.sleep(0.3)
        rude.disconnect()
    payloads = [args[0].payload for args in rec.get("on_message")]
    assert payloads == [b"rude-gone"]


def test_persistent_session_receives_offline_messages(mosquitto):
    t = topic()
    client_id = f"persist-{uuid.uuid4().hex[:8]}"
    rec = Recorder()
    sub = new_client(client_id=client_id, clean_session=False)
    rec.attach(sub, "on_message", "on_subscribe", "on_connect")
    with running(sub, mosquitto.port()):
        sub.subscribe(t, 1)
        wait_until(lambda: rec.count("on_subscribe") == 1)
    pub = new_client()
    with running(pub, mosquitto.port()):
        for i in range(10):
            pub.publish(t, f"offline-{i}", qos=1).wait_for_publish(5)
    with running(sub, mosquitto.port()):
        wait_until(lambda: rec.count("on_message") == 10)
        flags = rec.get("on_connect")[-1][0]
        assert flags.session_present is True
    assert [a[0].payload for a in rec.get("on_message")] == [
        f"offline-{i}".encode() for i in range(10)
    ]
    # leave no session behind
    cleaner = new_client(client_id=client_id, clean_session=True)
    with running(cleaner, mosquitto.port()):
        pass


def test_wildcards_and_unsubscribe(mosquitto):
    base = topic("root")
    rec = Recorder()
    sub = new_client()
    rec.attach(sub, "on_message", "on_subscribe", "on_unsubscribe")
    pub = new_client()
    with running(sub, mosquitto.port()), running(pub, mosquitto.port()):
        sub.subscribe([(f"{base}/+/temp", 1), (f"{base}/alarm/#", 1)])
        wait_until(lambda: rec.count("on_subscribe") == 1)
        for t in (
            f"{base}/kitchen/temp",
            f"{base}/alarm",
            f"{base}/alarm/x/y",
            f"{base}/kitchen/hum",
        ):
            pub.publish(t, t, qos=1).wait_for_publish(5)
        wait_until(lambda: rec.count("on_message") == 3)
        rc, mid = sub.unsubscribe([f"{base}/+/temp", f"{base}/alarm/#"])
        assert rc == mqtt.MQTT_ERR_SUCCESS
        wait_until(lambda: rec.count("on_unsubscribe") == 1)
        assert rec.get("on_unsubscribe")[0][0] == mid
        pub.publish(f"{base}/kitchen/temp", b"late", qos=1).wait_for_publish(5)
        time.sleep(0.3)
    topics = sorted(a[0].topic for a in rec.get("on_message"))
    assert topics == sorted([f"{base}/kitchen/temp", f"{base}/alarm", f"{base}/alarm/x/y"])


def test_script_without_loop_delivers_everything(mosquitto):
    """connect(); publish(); disconnect() with no loop at all still delivers (as with paho)."""
    t = topic()
    rec = Recorder()
    sub = new_client()
    rec.attach(sub, "on_message", "on_subscribe")
    with running(sub, mosquitto.port()):
        sub.subscribe(t, 0)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        script = new_client()
        script.connect("127.0.0.1", mosquitto.port())
        for i in range(100):
            script.publish(t, f"s{i}")
        assert script.disconnect() == mqtt.MQTT_ERR_SUCCESS
        wait_until(lambda: rec.count("on_message") == 100)


def test_offline_publish_is_sent_after_connect_and_waitable(mosquitto):
    t = topic()
    rec = Recorder()
    sub = new_client()
    rec.attach(sub, "on_message", "on_subscribe")
    with running(sub, mosquitto.port()):
        sub.subscribe(t, 1)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        pub = new_client()
        info = pub.publish(t, b"queued while offline", qos=1)
        assert info.rc == mqtt.MQTT_ERR_NO_CONN  # paho's return code
        done = threading.Event()

        def waiter() -> None:
            info.wait_for_publish(10)
            done.set()

        th = threading.Thread(target=waiter)
        th.start()
        with running(pub, mosquitto.port()):
            assert done.wait(10)
            assert info.is_published()
        th.join(5)
        wait_until(lambda: rec.count("on_message") == 1)


@pytest.mark.parametrize("version", [V1, V2], ids=["v1", "v2"])
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["v311", "v5"])
def test_callbacks_shapes(mosquitto, version, protocol):
    rec = Recorder()
    c = mqtt.Client(version, client_id=f"shape-{uuid.uuid4().hex[:6]}", protocol=protocol)
    rec.attach(
        c,
        "on_connect",
        "on_subscribe",
        "on_unsubscribe",
        "on_publish",
        "on_message",
        "on_disconnect",
    )
    t = topic()
    c.connect("127.0.0.1", mosquitto.port())
    c.loop_start()
    try:
        wait_until(lambda: rec.count("on_connect") == 1)
        c.subscribe(t, 1)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        c.publish(t, b"x", qos=1)
        wait_until(lambda: rec.count("on_message") == 1 and rec.count("on_publish") == 1)
        c.unsubscribe(t)
        wait_until(lambda: rec.count("on_unsubscribe") == 1)
    finally:
        c.disconnect()
        wait_until(lambda: rec.count("on_disconnect") == 1)
        c.loop_stop()
    connect = rec.get("on_connect")[0]
    sub = rec.get("on_subscribe")[0]
    unsub = rec.get("on_unsubscribe")[0]
    pubd = rec.get("on_publish")[0]
    disc = rec.get("on_disconnect")[0]
    if version == V2:
        assert (
            connect[0] == mqtt.ConnectFlags(False)
            and connect[1] == 0
            and isinstance(connect[2], Properties)
        )
        assert isinstance(sub[1], list) and sub[1][0] == 1
        assert isinstance(unsub[1], list) and isinstance(unsub[2], Properties)
        assert len(pubd) == 3 and pubd[1] == 0
        assert disc[0] == mqtt.DisconnectFlags(False) and disc[1] == 0
    elif protocol == mqtt.MQTTv311:
        assert connect == ({"session present": 0}, 0)
        assert sub[1] == (1,)
        assert len(unsub) == 1
        assert len(pubd) == 1
        assert disc == (mqtt.MQTT_ERR_SUCCESS,)
    else:
        assert connect[0] == {"session present": 0} and connect[1] == 0
        assert isinstance(connect[2], Properties)
        assert sub[1][0] == 1
        assert isinstance(unsub[1], Properties)
        assert len(pubd) == 1
        assert disc == (mqtt.MQTT_ERR_SUCCESS, None)


def test_v5_properties_round_trip(mosquitto):
    t = topic()
    rec = Recorder()
    c = new_client(mqtt.MQTTv5)
    rec.attach(c, "on_message", "on_subscribe")
    with running(c, mosquitto.port()):
        c.subscribe(t, 1)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "text/plain"
        props.ResponseTopic = t + "/reply"
        props.CorrelationData = b"\x01\x02"
        props.UserProperty = ("a", "1")
        props.UserProperty = ("b", "2")
        c.publish(t, b"x", qos=1, properties=props).wait_for_publish(5)
        wait_until(lambda: rec.count("on_message") == 1)
    got = rec.get("on_message")[0][0].properties
    assert got.ContentType == "text/plain"
    assert got.ResponseTopic == t + "/reply"
    assert got.CorrelationData == b"\x01\x02"
    assert got.UserProperty == [("a", "1"), ("b", "2")]


def test_connect_again_after_a_failed_connect(mosquitto):
    """As with paho, connect() may be called again after it raised."""
    from mqttclient.errors import ConnectionFailedError
    from tests.brokers import free_port

    client = new_client()
    closed = free_port()
    for _ in range(2):
        with pytest.raises(ConnectionFailedError):
            client.connect("127.0.0.1", closed)
    with running(client, mosquitto.port()):
        assert client.is_connected()
