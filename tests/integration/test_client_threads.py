"""Thread safety: many publishing threads, cross-thread disconnect, and an idle loop that does
not wake up between keepalive deadlines."""

from __future__ import annotations

import threading
import time
import uuid

import mqttclient.client as mqtt
from tests.integration.helpers import V2, Recorder, run_threads, running, wait_until

# mosquitto drops messages for a subscriber that falls more than max_queued_messages (1000 by
# default) behind; the counting tests must measure the client, not that broker limit.
ROOMY = ["max_queued_messages 0", "max_inflight_messages 0"]


def test_eight_threads_publishing_mixed_qos(mosquitto_factory, capsys):
    mosquitto = mosquitto_factory(extra_config=ROOMY)
    threads, per_thread = 8, 5000
    base = f"threads/{uuid.uuid4().hex[:8]}"
    got: set[tuple[int, int]] = set()
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        t, i = msg.payload.decode().split(":")
        with lock:
            got.add((int(t), int(i)))

    sub = mqtt.Client(V2, client_id=f"tsub-{uuid.uuid4().hex[:6]}")
    sub.on_message = on_message
    rec = Recorder()
    sub.on_subscribe = rec.record("on_subscribe")
    pub = mqtt.Client(V2, client_id=f"tpub-{uuid.uuid4().hex[:6]}")
    infos: list[list[mqtt.MQTTMessageInfo]] = [[] for _ in range(threads)]

    def worker(t: int) -> None:
        for i in range(per_thread):
            qos = (t + i) % 3
            infos[t].append(pub.publish(f"{base}/{t}", f"{t}:{i}", qos=qos))

    with running(sub, mosquitto.port()), running(pub, mosquitto.port()):
        sub.subscribe(f"{base}/#", 2)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        run_threads(worker, threads, 30)
        for per in infos:
            for info in per:
                info.wait_for_publish(20)
        assert all(info.is_published() for per in infos for info in per)
        try:
            wait_until(lambda: len(got) == threads * per_thread, timeout=20)
        finally:
            missing = {(t, i) for t in range(threads) for i in range(per_thread)} - got
            by_qos = {q: sum(1 for t, i in missing if (t + i) % 3 == q) for q in (0, 1, 2)}
            with capsys.disabled():
                print(f"\nmissing by QoS: {by_qos}")
    with capsys.disabled():
        print(f"\n{threads} threads x {per_thread} publishes: {len(got)} delivered")
    mids = [info.mid for per in infos for info in per]
    assert len(mids) == threads * per_thread


def test_disconnect_from_another_thread_delivers_everything_queued(mosquitto):
    base = f"graceful/{uuid.uuid4().hex[:8]}"
    rec = Recorder()
    sub = mqtt.Client(V2, client_id=f"gsub-{uuid.uuid4().hex[:6]}")
    rec.attach(sub, "on_message", "on_subscribe")
    pub = mqtt.Client(V2, client_id=f"gpub-{uuid.uuid4().hex[:6]}")
    prec = Recorder()
    prec.attach(pub, "on_disconnect")
    with running(sub, mosquitto.port()):
        sub.subscribe(f"{base}/#", 0)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        pub.connect("127.0.0.1", mosquitto.port())
        pub.loop_start()
        wait_until(pub.is_connected)
        for i in range(5000):
            pub.publish(f"{base}/x", str(i), qos=0)
        done = threading.Thread(target=pub.disconnect)
        done.start()
        done.join(10)
        wait_until(lambda: prec.count("on_disconnect") == 1)
        pub.loop_stop()
        wait_until(lambda: rec.count("on_message") == 5000, timeout=15)
    assert prec.get("on_disconnect")[0][1] == 0


def test_idle_loop_does_not_poll(mosquitto):
    client = mqtt.Client(V2, client_id=f"idle-{uuid.uuid4().hex[:6]}")
    with running(client, mosquitto.port(), keepalive=60):
        time.sleep(0.2)
        before = client._engine.wakeups
        time.sleep(1.5)
        after = client._engine.wakeups
    # With keepalive 60 nothing is due for a minute: the loop thread must sleep the whole time.
    assert after - before == 0
