"""Soak (long form of ``test_client_reconnect.py``): 20,000 numbered QoS 1 and 20,000 QoS 2
messages through a ``FaultProxy`` that cuts the link every few hundred milliseconds (dozens of
cuts), once with the client under test publishing and once with it subscribing (persistent
session). Not part of the default run; run it with

    .venv/bin/python -m pytest -m soak -s tests/integration/test_soak.py

Counts are printed and asserted: no QoS 1 message lost, no QoS 2 message lost or duplicated.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

import pytest

import mqttclient.client as mqtt
from tests.faultproxy import FaultProxy
from tests.integration.counting import Counter, publisher, report, session_props, subscriber
from tests.integration.helpers import V2, Recorder, stop, wait_until

# The short form (20,000 of each, under a minute) runs in CI; the long form is the same
# test with more messages: MQTTCLIENT_SOAK_MESSAGES=200000 pytest -m soak -s tests/...
N = int(os.environ.get("MQTTCLIENT_SOAK_MESSAGES", "20000"))
PROTOCOLS = pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
pytestmark = [pytest.mark.soak, pytest.mark.timeout(600)]


def _feed(publish: object, base: str) -> threading.Thread:
    """Publish N numbered QoS 1 and N QoS 2 messages over about 10 s (so cuts land mid-stream)."""

    def run() -> None:
        for i in range(N):
            publish(f"{base}/1", str(i), qos=1)  # type: ignore[operator]
            publish(f"{base}/2", str(i), qos=2)  # type: ignore[operator]
            if i % 200 == 199:
                time.sleep(0.1)

    thread = threading.Thread(target=run, name="soak-feeder")
    thread.start()
    return thread


def _persistent(protocol: mqtt.MQTTProtocolVersion) -> dict[str, object]:
    """connect() arguments for a session that survives every reconnect. (5.0: clean only the
    first time; ``clean_start=True`` would start every reconnect clean, and mosquitto, which
    releases an incoming QoS 2 message on PUBREL, would then drop one cut between PUBREC and
    PUBREL.)"""
    props = session_props(protocol)
    if props:
        props["clean_start"] = mqtt.MQTT_CLEAN_START_FIRST_ONLY
    return props


def _wait(predicate: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def _cut_while(proxy: FaultProxy, busy: object, rng: random.Random, limit: float) -> None:
    """Cut the link every 200-400 ms while ``busy()`` (bounded by ``limit`` seconds)."""
    end = time.monotonic() + limit
    while busy() and time.monotonic() < end:  # type: ignore[operator]
        time.sleep(rng.uniform(0.2, 0.4))
        if busy():  # type: ignore[operator]
            proxy.cut()


@PROTOCOLS
def test_soak_publisher_side(mosquitto_factory, protocol, capsys):
    mosquitto = mosquitto_factory(extra_config=["max_queued_messages 0"])
    base = f"soak-pub/{uuid.uuid4().hex[:8]}"
    counter = Counter()
    sub = subscriber(mosquitto.port(), base, counter)
    pub, rec = publisher(protocol)
    rng = random.Random(20_000)
    with FaultProxy(("127.0.0.1", mosquitto.port())) as proxy:
        feeder = None
        try:
            pub.connect("127.0.0.1", proxy.port, keepalive=5, **_persistent(protocol))  # type: ignore[arg-type]
            pub.loop_start()
            feeder = _feed(pub.publish, base)
            _cut_while(proxy, lambda: feeder.is_alive() or not counter.complete(N), rng, 300)
            feeder.join(30)
            _wait(lambda: counter.complete(N), 60)  # counts are printed either way
        finally:
            if feeder is not None:
                feeder.join(30)
            stop(pub, sub)
        connects = rec.count("on_connect")
        via, extra = f" through {proxy.cuts} cuts", f", connects={connects}"
        counts = report(capsys, counter, N, f"soak publisher {protocol.name}", via, extra)
        assert counts == (0, 0, 0)
        assert proxy.cuts >= 24, "dozens of cuts"
        assert connects <= proxy.cuts + 3


@PROTOCOLS
def test_soak_subscriber_side(mosquitto_factory, protocol, capsys):
    mosquitto = mosquitto_factory(extra_config=["max_queued_messages 0"])
    base = f"soak-sub/{uuid.uuid4().hex[:8]}"
    counter = Counter()
    # The client under test: a persistent-session subscriber behind the proxy.
    kwargs: dict[str, object] = {} if protocol == mqtt.MQTTv5 else {"clean_session": False}
    sub = mqtt.Client(V2, client_id=f"soak-sub-{uuid.uuid4().hex[:8]}", protocol=protocol, **kwargs)  # type: ignore[arg-type]
    sub.on_message = counter.on_message
    sub.reconnect_delay_set(0.02, 0.2)
    srec = Recorder()
    srec.attach(sub, "on_connect", "on_disconnect", "on_subscribe")
    # A plain publisher straight to the broker.
    pub = mqtt.Client(V2, client_id=f"soak-feed-{uuid.uuid4().hex[:8]}")
    rng = random.Random(40_000)
    with FaultProxy(("127.0.0.1", mosquitto.port())) as proxy:
        feeder = None
        try:
            sub.connect("127.0.0.1", proxy.port, keepalive=5, **_persistent(protocol))  # type: ignore[arg-type]
            sub.loop_start()
            sub.subscribe(f"{base}/#", qos=2)
            wait_until(lambda: srec.count("on_subscribe") == 1)
            pub.connect("127.0.0.1", mosquitto.port())
            pub.loop_start()
            feeder = _feed(pub.publish, base)
            _cut_while(proxy, lambda: feeder.is_alive() or not counter.complete(N), rng, 300)
            feeder.join(30)
            _wait(lambda: counter.complete(N), 60)  # counts are printed either way
        finally:
            if feeder is not None:
                feeder.join(30)
            stop(pub, sub)
        connects = srec.count("on_connect")
        via, extra = f" through {proxy.cuts} cuts", f", connects={connects}"
        counts = report(capsys, counter, N, f"soak subscriber {protocol.name}", via, extra)
        assert counts == (0, 0, 0)
        assert proxy.cuts >= 24, "dozens of cuts"
        assert connects <= proxy.cuts + 3
