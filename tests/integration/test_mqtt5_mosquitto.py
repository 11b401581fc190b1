"""MQTT 5 features a real broker implements, end to end against mosquitto: shared
subscriptions, the subscription options (No Local, Retain As Published, Retain Handling),
Message Expiry, Session Expiry and the Will Delay Interval.

Each test checks what the client sends (the options and properties it encodes) through what the
broker does with them: a client that dropped or mis-encoded an option fails here."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest

import mqttclient.client as mqtt
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from mqttclient.subscribeoptions import SubscribeOptions
from tests.integration.helpers import V1, V2, Recorder, running, wait_until


def topic(name: str = "t") -> str:
    return f"v5/{uuid.uuid4().hex[:8]}/{name}"


def client5(client_id: str = "", version: mqtt.CallbackAPIVersion = V2) -> mqtt.Client:
    return mqtt.Client(
        version, client_id=client_id or f"v5-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )


def props(packet_type: int, **values: Any) -> Properties:
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def subscribed(client: mqtt.Client, rec: Recorder, flt: str, **kw: Any) -> None:
    """Subscribe and wait for the SUBACK."""
    before = rec.count("on_subscribe")
    rc, _ = client.subscribe(flt, **kw)
    assert rc == mqtt.MQTT_ERR_SUCCESS
    wait_until(lambda: rec.count("on_subscribe") == before + 1)


def payloads(rec: Recorder, name: str = "on_message") -> list[bytes]:
    return [args[0].payload for args in rec.get(name)]


@pytest.mark.parametrize("version", [V1, V2], ids=["v1", "v2"])
def test_shared_subscription_delivers_each_message_to_one_member(mosquitto, version):
    """MQTT 5.0 §4.8.2: a message matching a shared subscription goes to exactly one session of
    the group; ``message_callback_add`` with the ``$share/...`` filter sees the messages
    delivered through it (paho's matcher does not: documented difference)."""
    t = topic()
    group = f"$share/g{uuid.uuid4().hex[:6]}/{t}/#"
    members = [client5(version=version) for _ in range(2)]
    recs = [Recorder() for _ in members]
    for member, rec in zip(members, recs):
        rec.attach(member, "on_subscribe", "on_message")
        member.message_callback_add(group, rec.record("shared"))
    pub = client5()
    n = 60
    with running(members[0], mosquitto.port()), running(members[1], mosquitto.port()):
        for member, rec in zip(members, recs):
            subscribed(member, rec, group, qos=1)
        with running(pub, mosquitto.port()):
            for i in range(n):
                pub.publish(f"{t}/{i % 3}", f"m{i}", qos=1).wait_for_publish(5)
            wait_until(lambda: sum(r.count("shared") for r in recs) == n)
    got = [payloads(rec, "shared") for rec in recs]
    assert sorted(got[0] + got[1]) == sorted(f"m{i}".encode() for i in range(n))
    assert got[0] and got[1], "mosquitto shares the load between both members"
    assert all(r.count("on_message") == 0 for r in recs), "routed callbacks replace on_message"


def test_no_local_drops_own_messages(mosquitto):
    """[MQTT-3.8.3-3]: with No Local the server does not forward a client's own PUBLISH."""
    t = topic()
    me, other = client5(), client5()
    rec = Recorder()
    rec.attach(me, "on_subscribe", "on_message")
    with running(me, mosquitto.port()), running(other, mosquitto.port()):
        subscribed(me, rec, t, options=SubscribeOptions(qos=1, noLocal=True))
        me.publish(t, b"mine", qos=1).wait_for_publish(5)
        other.publish(t, b"theirs", qos=1).wait_for_publish(5)
        wait_until(lambda: rec.count("on_message") >= 1)
        me.publish(t, b"mine-again", qos=1).wait_for_publish(5)
        other.publish(t, b"theirs-again", qos=1).wait_for_publish(5)
        wait_until(lambda: rec.count("on_message") >= 2)
    assert payloads(rec) == [b"theirs", b"theirs-again"]


@pytest.mark.parametrize("as_published", [True, False])
def test_retain_as_published(mosquitto, as_published):
    """§3.8.3.1: with Retain As Published the RETAIN flag of a forwarded live message is kept;
    without it the server clears it [MQTT-3.3.1-12/-13]."""
    t = topic()
    sub, pub = client5(), client5()
    rec = Recorder()
    rec.attach(sub, "on_subscribe", "on_message")
    with running(sub, mosquitto.port()), running(pub, mosquitto.port()):
        opts = SubscribeOptions(qos=1, retainAsPublished=as_published)
        subscribed(sub, rec, t, options=opts)
        pub.publish(t, b"live", qos=1, retain=True).wait_for_publish(5)
        wait_until(lambda: rec.count("on_message") == 1)
        pub.publish(t, b"", qos=1, retain=True).wait_for_publish(5)  # clear it
    assert rec.get("on_message")[0][0].retain is as_published


def test_retain_handling(mosquitto):
    """§3.8.3.1 Retain Handling: 0 sends retained messages at every subscribe, 1 only when the
    subscription is new [MQTT-3.3.1-10], 2 never [MQTT-3.3.1-11]."""
    t = topic()
    pub = client5()
    with running(pub, mosquitto.port()):
        pub.publish(t, b"kept", qos=1, retain=True).wait_for_publish(5)
    counts = {}
    for handling in (0, 1, 2):
        sub = client5()
        rec = Recorder()
        rec.attach(sub, "on_subscribe", "on_message")
        opts = SubscribeOptions(qos=1, retainHandling=handling)
        with running(sub, mosquitto.port()):
            subscribed(sub, rec, t, options=opts)
            subscribed(sub, rec, t, options=opts)  # again: the subscription exists now
            # A marker after the retained ones: everything before it has arrived.
            sub.publish(t, b"marker", qos=1).wait_for_publish(5)
            wait_until(lambda rec=rec: b"marker" in payloads(rec))
        counts[handling] = payloads(rec).count(b"kept")
    with running(pub, mosquitto.port()):
        pub.publish(t, b"", qos=1, retain=True).wait_for_publish(5)
    assert counts == {0: 2, 1: 1, 2: 0}


def test_message_expiry_of_a_retained_message(mosquitto):
    """§3.3.2.3.3: the server discards a message whose Message Expiry Interval has passed
    [MQTT-3.3.2-5]; one delivered before carries the remaining interval [MQTT-3.3.2-6]."""
    t = topic()
    pub = client5()
    with running(pub, mosquitto.port()):
        expiring = props(PacketTypes.PUBLISH, MessageExpiryInterval=1)
        pub.publish(t + "/short", b"short", qos=1, retain=True, properties=expiring)
        lasting = props(PacketTypes.PUBLISH, MessageExpiryInterval=3600)
        pub.publish(t + "/long", b"long", qos=1, retain=True, properties=lasting)
        pub.publish(t + "/marker", b"marker", qos=1, retain=True).wait_for_publish(5)
    time.sleep(2.2)  # past the 1 s interval (mosquitto counts whole seconds)
    sub = client5()
    rec = Recorder()
    rec.attach(sub, "on_subscribe", "on_message")
    with running(sub, mosquitto.port()):
        subscribed(sub, rec, t + "/#", qos=1)
        wait_until(lambda: rec.count("on_message") == 2)
        time.sleep(0.2)
        for name in ("long", "marker"):
            sub.publish(f"{t}/{name}", b"", qos=1, retain=True).wait_for_publish(5)
    first_two = rec.get("on_message")[:2]  # the clearing publishes come back after them
    got = {args[0].topic: args[0] for args in first_two}
    assert set(got) == {t + "/long", t + "/marker"}
    remaining = got[t + "/long"].properties.MessageExpiryInterval
    assert 3590 <= remaining <= 3600


@pytest.mark.parametrize("interval, present", [(1, False), (600, True)])
def test_session_expiry_interval(mosquitto, interval, present):
    """§3.1.2.11.2: the server keeps the session for Session Expiry Interval seconds after the
    connection closes; Session Present tells whether it still had it [MQTT-3.2.2-2/-3]."""
    client_id = f"exp-{uuid.uuid4().hex[:8]}"
    rec = Recorder()
    c = client5(client_id)
    rec.attach(c, "on_connect", "on_subscribe")
    connect = props(PacketTypes.CONNECT, SessionExpiryInterval=interval)
    with running(c, mosquitto.port(), clean_start=True, properties=connect):
        subscribed(c, rec, topic(), qos=1)
    time.sleep(2.5)  # longer than the short interval
    with running(c, mosquitto.port(), clean_start=False, properties=connect):
        wait_until(lambda: rec.count("on_connect") == 2)
    flags = rec.get("on_connect")[-1][0]
    assert flags.session_present is present
    cleaner = client5(client_id)
    with running(cleaner, mosquitto.port(), clean_start=True):
        pass


@pytest.mark.parametrize("back_in_time", [False, True])
def test_will_delay_interval(mosquitto, back_in_time):
    """§3.1.3.2.2: the server publishes the will only after the Will Delay Interval, and not at
    all when the client reconnects to the session before it ends [MQTT-3.1.3-9]."""
    will_topic = topic("will")
    watcher = client5()
    rec = Recorder()
    rec.attach(watcher, "on_subscribe", "on_message")
    client_id = f"will-{uuid.uuid4().hex[:8]}"
    with running(watcher, mosquitto.port()):
        subscribed(watcher, rec, will_topic, qos=1)
        c = client5(client_id)
        c.will_set(
            will_topic,
            b"gone",
            qos=1,
            properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=2),
        )
        connect = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
        c.connect("127.0.0.1", mosquitto.port(), clean_start=True, properties=connect)
        c.loop_start()
        wait_until(c.is_connected)
        sock = c.socket()
        c.loop_stop()
        sock.shutdown(socket.SHUT_RDWR)  # an abnormal loss: no DISCONNECT
        c.disconnect()
        time.sleep(0.8)
        assert rec.count("on_message") == 0, "the will waits for its delay"
        if back_in_time:
            with running(client5(client_id), mosquitto.port(), clean_start=False,
                         properties=connect):  # fmt: skip
                time.sleep(2.0)  # past the delay while connected: the will is cancelled
            assert rec.count("on_message") == 0
        else:
            wait_until(lambda: rec.count("on_message") == 1, timeout=5)
            assert payloads(rec) == [b"gone"]
    cleaner = client5(client_id)
    with running(cleaner, mosquitto.port(), clean_start=True):
        pass
