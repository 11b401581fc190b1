"""Reconnects that lose nothing: a link cut every few hundred milliseconds, and a broker restart
in the middle of QoS 1 and QoS 2 streams. Counts are printed (``-s``) and asserted:
no QoS 1 message lost, no QoS 2 message lost or duplicated, no reconnect storm."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest

import mqttclient.client as mqtt
from tests.brokers import Listener
from tests.faultproxy import FaultProxy
from tests.integration.counting import Counter, publisher, report, session_props, subscriber
from tests.integration.helpers import V2, Recorder, stop, wait_until


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
def test_link_cut_every_few_hundred_ms_loses_nothing(mosquitto_factory, protocol, capsys):
    # No broker-side drops for a slow subscriber (mosquitto's max_queued_messages is 1000).
    mosquitto = mosquitto_factory(extra_config=["max_queued_messages 0"])
    n = 1500
    base = f"cuts/{uuid.uuid4().hex[:8]}"
    counter = Counter()
    sub = subscriber(mosquitto.port(), base, counter)
    pub, rec = publisher(protocol)
    rng = random.Random(1234)
    with FaultProxy(("127.0.0.1", mosquitto.port())) as proxy:
        try:
            pub.connect("127.0.0.1", proxy.port, keepalive=5, **session_props(protocol))  # type: ignore[arg-type]
            pub.loop_start()

            def publish_over_time() -> None:
                # About 6 s of traffic, so that the cuts land mid-stream.
                for i in range(n):
                    pub.publish(f"{base}/1", str(i), qos=1)
                    pub.publish(f"{base}/2", str(i), qos=2)
                    if i % 25 == 24:
                        time.sleep(0.1)

            feeder = threading.Thread(target=publish_over_time)
            feeder.start()
            end = time.monotonic() + 40
            while (feeder.is_alive() or not counter.complete(n)) and time.monotonic() < end:
                time.sleep(rng.uniform(0.2, 0.4))
                if feeder.is_alive() or not counter.complete(n):
                    proxy.cut()
            feeder.join(10)
            wait_until(lambda: counter.complete(n), timeout=20)
        finally:
            stop(pub, sub)
        connects = rec.count("on_connect")
        via, extra = f" through {proxy.cuts} cuts", f", connects={connects}"
        assert report(capsys, counter, n, protocol.name, via, extra) == (0, 0, 0)
        assert proxy.cuts >= 3, "the test must actually cut the link"
        # No reconnect storm: about one connect per cut (plus the first).
        assert connects <= proxy.cuts + 3


def test_broker_restart_mid_stream_loses_nothing(mosquitto_factory, tmp_path, capsys):
    broker = mosquitto_factory(
        listeners=[Listener("tcp")],
        extra_config=[
            "persistence true",
            f"persistence_location {tmp_path}/",
            "autosave_interval 1",
        ],
    )
    n = 600
    base = f"restart/{uuid.uuid4().hex[:8]}"
    counter = Counter()
    sub = mqtt.Client(V2, client_id=f"restart-sub-{uuid.uuid4().hex[:6]}", clean_session=False)
    sub.on_message = counter.on_message
    sub.reconnect_delay_set(0.05, 0.3)
    srec = Recorder()
    sub.on_subscribe = srec.record("on_subscribe")
    sub.connect("127.0.0.1", broker.port())
    sub.loop_start()
    sub.subscribe(f"{base}/#", qos=2)
    wait_until(lambda: srec.count("on_subscribe") == 1)

    pub, rec = publisher(mqtt.MQTTv311)
    pub.reconnect_delay_set(0.05, 0.3)
    try:
        pub.connect("127.0.0.1", broker.port())
        pub.loop_start()
        for i in range(n):
            pub.publish(f"{base}/1", str(i), qos=1)
            pub.publish(f"{base}/2", str(i), qos=2)
            if i == n // 3:
                broker.stop()  # SIGTERM: mosquitto saves its persistence file
                time.sleep(0.5)
                broker.start()
        wait_until(lambda: counter.complete(n), timeout=30)
    finally:
        stop(pub, sub)
    assert report(capsys, counter, n, "restart") == (0, 0, 0)
    assert rec.count("on_connect") >= 2 and rec.count("on_disconnect") >= 1


def test_stalled_link_detected_by_keepalive_and_reconnected(mosquitto):
    pub, rec = publisher(mqtt.MQTTv311)
    with FaultProxy(("127.0.0.1", mosquitto.port())) as proxy:
        try:
            pub.connect("127.0.0.1", proxy.port, keepalive=1)
            pub.loop_start()
            wait_until(lambda: rec.count("on_connect") == 1)
            proxy.stall(True)
            t0 = time.monotonic()
            wait_until(lambda: rec.count("on_disconnect") >= 1, timeout=10)
            detected = time.monotonic() - t0
            proxy.stall(False)
            wait_until(lambda: rec.count("on_connect") >= 2, timeout=10)
        finally:
            pub.disconnect()
            pub.loop_stop()
    rc = rec.get("on_disconnect")[0][1]
    assert rc == 141  # Keep alive timeout (VERSION2 reason code for MQTT_ERR_KEEPALIVE)
    assert detected < 5.0  # 1.5 × keepalive plus generous slack; not a timing assertion


def test_link_cut_at_random_bytes_loses_nothing(mosquitto_factory, capsys):
    """The proxy cuts each connection after a random number of client bytes, so packets are
    torn mid-way (a PUBLISH half sent, a PUBREL lost)."""
    mosquitto = mosquitto_factory(extra_config=["max_queued_messages 0"])
    n = 1000
    base = f"torn/{uuid.uuid4().hex[:8]}"
    counter = Counter()
    sub = subscriber(mosquitto.port(), base, counter)
    pub, rec = publisher(mqtt.MQTTv311)
    rng = random.Random(99)
    with FaultProxy(("127.0.0.1", mosquitto.port())) as proxy:
        try:
            proxy.cut_after(rng.randint(300, 4000))
            pub.connect("127.0.0.1", proxy.port, keepalive=5)
            pub.loop_start()
            for i in range(n):
                pub.publish(f"{base}/1", str(i), qos=1)
                pub.publish(f"{base}/2", str(i), qos=2)
            end = time.monotonic() + 40
            while not counter.complete(n) and time.monotonic() < end:
                time.sleep(0.2)
                # A new random cut point for the connections to come (and the current one).
                proxy.cut_after(rng.randint(300, 4000) if proxy.cuts < 25 else None)
            wait_until(lambda: counter.complete(n), timeout=20)
        finally:
            stop(pub, sub)
        counts = report(capsys, counter, n, "torn", f" through {proxy.cuts} cuts at random bytes")
    assert counts == (0, 0, 0)
    assert proxy.cuts >= 3
    assert rec.count("on_connect") <= proxy.cuts + 3


def test_tiny_fragments_and_refused_connections(mosquitto, capsys):
    """Every write split into 1-byte fragments (both ways), then a link cut while the proxy
    refuses new connections for a while: the client backs off, gets back in, loses nothing."""
    n = 200
    base = f"frag/{uuid.uuid4().hex[:8]}"
    counter = Counter()
    sub = subscriber(mosquitto.port(), base, counter)
    pub, rec = publisher(mqtt.MQTTv311)
    with FaultProxy(("127.0.0.1", mosquitto.port())) as proxy:
        try:
            proxy.fragment(1)
            pub.connect("127.0.0.1", proxy.port, keepalive=5)
            pub.loop_start()
            wait_until(lambda: rec.count("on_connect") == 1)
            for i in range(n // 2):
                pub.publish(f"{base}/1", str(i), qos=1)
                pub.publish(f"{base}/2", str(i), qos=2)
            proxy.refuse(True)
            proxy.cut()
            wait_until(lambda: rec.count("on_disconnect") >= 1)
            for i in range(n // 2, n):  # queued while the proxy refuses
                pub.publish(f"{base}/1", str(i), qos=1)
                pub.publish(f"{base}/2", str(i), qos=2)
            time.sleep(0.5)
            refused_attempts = proxy.connections  # refused connections are not counted
            proxy.refuse(False)
            wait_until(lambda: counter.complete(n), timeout=20)
        finally:
            stop(pub, sub)
    assert report(capsys, counter, n, "fragments") == (0, 0, 0)
    assert refused_attempts == 1 and rec.count("on_connect") >= 2
