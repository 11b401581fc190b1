"""Durable sessions against a real mosquitto with persistence on.

* A publisher **process** with a ``SqliteStore`` (``durable_publisher.py``) is killed with SIGKILL
  at random points several times and restarted; a subscriber with a persistent QoS 2 session
  counts: no QoS 1 message missing, no QoS 2 message missing or duplicated.
* The broker is restarted in the middle of the stream, with the same counts.
* Two processes opening one store file: the second gets a clear ``StoreError``.
* Offline bounds, the two policies when full, QoS 0 queued offline, Message Expiry while queued,
  ``restored_messages()`` and ``resubscribe`` after a restart without a broker session.

Every wait is bounded; every process started is stopped in ``finally``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import mqttclient.client as mqtt
from mqttclient import SqliteStore
from tests.brokers import Mosquitto

from .helpers import V2, running, wait_until

PUBLISHER = Path(__file__).with_name("durable_publisher.py")
ROOT = Path(__file__).resolve().parents[2]

MosquittoFactory = Callable[..., Mosquitto]


# --- helpers -------------------------------------------------------------------------------------


class Counts:
    """What a subscriber received on ``durable/1`` and ``durable/2``: message numbers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.qos1: Counter[int] = Counter()
        self.qos2: Counter[int] = Counter()

    def on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        number = int(msg.payload)
        with self.lock:
            (self.qos1 if msg.topic == "durable/1" else self.qos2)[number] += 1

    def complete(self, total: int) -> bool:
        with self.lock:
            have = set(self.qos1) | set(self.qos2)
        return len(have) >= total

    def check(self, total: int) -> str:
        with self.lock:
            odd = set(range(1, total + 1, 2))
            even = set(range(2, total + 1, 2))
            missing1 = sorted(odd - set(self.qos1))
            missing2 = sorted(even - set(self.qos2))
            dup2 = sorted(n for n, c in self.qos2.items() if c > 1)
            dup1 = sum(c - 1 for c in self.qos1.values())
        summary = (
            f"{len(odd)} QoS1 + {len(even)} QoS2: lost QoS1={len(missing1)} "
            f"lost QoS2={len(missing2)} dup QoS2={len(dup2)} (QoS1 duplicates, allowed: {dup1})"
        )
        assert not missing1, f"QoS 1 messages lost: {missing1[:20]} ({summary})"
        assert not missing2, f"QoS 2 messages lost: {missing2[:20]} ({summary})"
        assert not dup2, f"QoS 2 messages duplicated: {dup2[:20]} ({summary})"
        return summary


@contextmanager
def subscriber(port: int, counts: Counts, protocol: int = mqtt.MQTTv311) -> Iterator[mqtt.Client]:
    """A persistent-session QoS 2 subscriber to ``durable/#`` that reconnects quickly."""
    if protocol == mqtt.MQTTv5:
        client = mqtt.Client(V2, "durable-sub", protocol=mqtt.MQTTv5)
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        connect_kwargs: dict[str, Any] = {"clean_start": False, "properties": props}
    else:
        client = mqtt.Client(V2, "durable-sub", clean_session=False)
        connect_kwargs = {}
    client.on_message = counts.on_message
    subscribed = threading.Event()

    def on_connect(c: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe("durable/#", 2)

    client.on_connect = on_connect
    client.on_subscribe = lambda *args: subscribed.set()
    client.reconnect_delay_set(0.05, 0.5)
    client.connect("127.0.0.1", port, 10, **connect_kwargs)
    client.loop_start()
    try:
        assert subscribed.wait(10), "no SUBACK"
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


class Publisher:
    """Runs ``durable_publisher.py`` as a child process; output goes to a log file."""

    def __init__(self, directory: Path, port: int, total: int, interval: float, protocol: int):
        self.directory = directory
        self.args = [
            sys.executable,
            str(PUBLISHER),
            str(port),
            str(directory / "outbox.db"),
            str(total),
            str(interval),
            "5" if protocol == mqtt.MQTTv5 else "4",
        ]
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.runs = 0
        self.log_path = directory / "publisher.log"

    def start(self) -> None:
        self.runs += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- run {self.runs}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_started(self, timeout: float = 20.0) -> None:
        wait_until(lambda: self.log().count("START") >= self.runs, timeout)

    def kill(self) -> None:
        proc = self.proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def finish(self, timeout: float) -> int:
        proc = self.proc
        assert proc is not None
        return proc.wait(timeout)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def broker(mosquitto_factory: MosquittoFactory) -> Mosquitto:
    return mosquitto_factory(persistence=True)


# --- the crash test ------------------------------------------------------------------------------


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("interval", "window"),
    [(0.0004, (0.05, 0.6)), (0.0, (0.01, 0.15))],
    ids=["paced", "burst"],
)
def test_sigkill_publisher_loses_nothing_and_duplicates_no_qos2(
    broker: Mosquitto, tmp_path: Path, interval: float, window: tuple[float, float]
) -> None:
    """``paced``: kills land while messages are being published; ``burst``: the whole stream
    is accepted at once, so kills land while hundreds wait in the store for the window."""
    total, kills = 3000, 4
    seed = int(os.environ.get("DURABLE_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    counts = Counts()
    publisher = Publisher(tmp_path, broker.port(), total, interval, mqtt.MQTTv311)
    try:
        with subscriber(broker.port(), counts):
            for _ in range(kills):
                publisher.start()
                publisher.wait_started()
                time.sleep(rng.uniform(*window))
                publisher.kill()
            publisher.start()
            code = publisher.finish(timeout=90)
            assert code == 0, f"publisher exited with {code}:\n{publisher.log()[-3000:]}"
            wait_until(lambda: counts.complete(total), timeout=30)
            time.sleep(0.3)  # late duplicates, if any, would arrive now
            summary = counts.check(total)
        starts = [line for line in publisher.log().splitlines() if line.startswith("START")]
        print(f"\n[sigkill x{kills}, seed {seed}] {summary}; runs: {starts}")
        # The kills really landed in the middle of the stream (new messages or restored ones).
        assert len(set(starts)) > 2, starts
    finally:
        publisher.stop()


@pytest.mark.timeout(120)
def test_broker_restart_in_the_middle_of_the_stream(broker: Mosquitto, tmp_path: Path) -> None:
    total = 2000
    counts = Counts()
    publisher = Publisher(tmp_path, broker.port(), total, 0.001, mqtt.MQTTv5)
    try:
        with subscriber(broker.port(), counts, mqtt.MQTTv5):
            publisher.start()
            publisher.wait_started()
            wait_until(lambda: len(counts.qos1) + len(counts.qos2) > total // 4, timeout=30)
            broker.restart()
            code = publisher.finish(timeout=90)
            assert code == 0, f"publisher exited with {code}:\n{publisher.log()[-3000:]}"
            wait_until(lambda: counts.complete(total), timeout=30)
            time.sleep(0.3)
            summary = counts.check(total)
        print(f"\n[broker restart] {summary}")
    finally:
        publisher.stop()


# --- one store file, two processes ---------------------------------------------------------------


def test_a_second_process_opening_the_store_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    code = (
        "import sys\n"
        "from mqttclient import SqliteStore\n"
        "from mqttclient.errors import StoreError\n"
        "try:\n"
        "    SqliteStore(sys.argv[1]).close()\n"
        "except StoreError as exc:\n"
        "    print('StoreError:', exc)\n"
        "    sys.exit(3)\n"
        "print('opened')\n"
    )

    def second() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    with SqliteStore(path) as store:
        client = mqtt.Client(V2, "owner", store=store)
        client.publish("t", b"kept", 1)
        result = second()
        assert result.returncode == 3, result.stdout + result.stderr
        assert "in use by another process" in result.stdout
    result = second()  # released by close()
    assert result.returncode == 0, result.stdout + result.stderr
    with SqliteStore(path) as store:
        assert [m.payload for m in store.load().messages] == [b"kept"]  # nothing damaged


# --- offline bounds, policies, QoS 0 and expiry --------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[mqtt.MQTTMessage] = []

    def on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(msg)

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [m.payload for m in self.messages]


@contextmanager
def listening(port: int, topic: str, protocol: int = mqtt.MQTTv5) -> Iterator[Inbox]:
    inbox = Inbox()
    client = mqtt.Client(V2, protocol=protocol)
    client.on_message = inbox.on_message
    done = threading.Event()
    client.on_subscribe = lambda *args: done.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.subscribe(topic, 2)
        assert done.wait(10)
        yield inbox
    finally:
        client.disconnect()
        client.loop_stop()


def test_refuse_when_full(mosquitto: Mosquitto) -> None:
    client = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(3)
    infos = [client.publish("bounds/refuse", str(n), 1) for n in range(5)]
    assert [i.rc for i in infos] == [mqtt.MQTT_ERR_NO_CONN] * 3 + [mqtt.MQTT_ERR_QUEUE_SIZE] * 2
    with listening(mosquitto.port(), "bounds/refuse") as inbox, running(client, mosquitto.port()):
        for info in infos[:3]:
            info.wait_for_publish(10)
        wait_until(lambda: len(inbox.payloads()) == 3)
    assert inbox.payloads() == [b"0", b"1", b"2"]


def test_drop_oldest_by_bytes(mosquitto: Mosquitto) -> None:
    client = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    client.max_queued_bytes_set(30).queue_full_policy_set("drop_oldest")
    infos = [client.publish("bounds/drop", f"{n}".zfill(10), 2) for n in range(5)]
    assert [i.rc for i in infos[:2]] == [mqtt.MQTT_ERR_QUEUE_SIZE] * 2  # dropped to make room
    with listening(mosquitto.port(), "bounds/drop") as inbox, running(client, mosquitto.port()):
        for info in infos[2:]:
            info.wait_for_publish(10)
        wait_until(lambda: len(inbox.payloads()) == 3)
    assert inbox.payloads() == [b"0000000002", b"0000000003", b"0000000004"]
    with pytest.raises(ValueError):
        infos[0].wait_for_publish(0)


def test_qos0_queued_offline_is_delivered_after_connect(mosquitto: Mosquitto) -> None:
    client = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    client.queue_qos0_offline_set(True)
    dropped = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    lost = dropped.publish("q0/offline", b"never", 0)  # the default: paho drops it
    first = client.publish("q0/offline", b"a", 0)
    client.publish("q0/offline", b"b", 1)
    last = client.publish("q0/offline", b"c", 0)
    assert first.rc == mqtt.MQTT_ERR_NO_CONN and first.seq == 1
    with listening(mosquitto.port(), "q0/offline") as inbox, running(client, mosquitto.port()):
        last.wait_for_publish(10)
        wait_until(lambda: len(inbox.payloads()) == 3)
    assert inbox.payloads() == [b"a", b"b", b"c"]
    assert lost.rc == mqtt.MQTT_ERR_NO_CONN


def test_message_expiry_is_honoured_while_queued(mosquitto: Mosquitto) -> None:
    client = mqtt.Client(V2, protocol=mqtt.MQTTv5)

    def expiring(seconds: int) -> mqtt.Properties:
        props = mqtt.Properties(mqtt.PacketTypes.PUBLISH)
        props.MessageExpiryInterval = seconds
        return props

    short = client.publish("expiry/t", b"short", 1, properties=expiring(1))
    client.publish("expiry/t", b"long", 1, properties=expiring(60))
    time.sleep(1.3)  # the short one expires while queued
    with listening(mosquitto.port(), "expiry/t") as inbox, running(client, mosquitto.port()):
        wait_until(lambda: len(inbox.payloads()) == 1)
        time.sleep(0.2)
    assert inbox.payloads() == [b"long"]
    remaining = inbox.messages[0].properties.MessageExpiryInterval  # type: ignore[union-attr]
    assert remaining <= 59  # the time spent queued was subtracted
    assert short.rc == mqtt.MQTT_ERR_CONN_LOST  # dropped, never sent


# --- restarts in one process ---------------------------------------------------------------------


def test_restored_messages_complete_with_on_publish(mosquitto: Mosquitto, tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with SqliteStore(path) as store:
        first = mqtt.Client(V2, "restorer", store=store)
        seqs = [first.publish("restore/t", str(n), 1 + n % 2).seq for n in range(3)]
        assert seqs == [1, 2, 3]
        # The process ends here without ever connecting.
    published: list[int] = []
    with SqliteStore(path) as store, listening(mosquitto.port(), "restore/t") as inbox:
        second = mqtt.Client(V2, "restorer", store=store)
        second.on_publish = lambda c, u, mid, rc, props: published.append(mid)
        restored = second.restored_messages()
        assert [(i.seq, i.mid) for i in restored] == [(1, 1), (2, 2), (3, 3)]
        assert second.publish("restore/t", b"new", 1).seq == 4
        with running(second, mosquitto.port()):
            for info in restored:
                info.wait_for_publish(10)
                assert info.is_published()
            wait_until(lambda: len(inbox.payloads()) == 4)
        assert sorted(published) == [1, 2, 3, 4]
        # mosquitto forwards a QoS 2 message on PUBREL, so "1" may come after the QoS 1 ones.
        assert sorted(inbox.payloads()) == [b"0", b"1", b"2", b"new"]
        assert store.load().messages == ()


def test_resubscribe_after_a_restart_without_a_broker_session(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.db"
    with SqliteStore(path) as store:
        first = mqtt.Client(V2, "resubscriber", protocol=mqtt.MQTTv5, store=store)
        acked = threading.Event()
        first.on_subscribe = lambda *args: acked.set()
        with running(first, mosquitto.port()):
            first.subscribe("resub/#", 1)
            assert acked.wait(10)
    with SqliteStore(path) as store:
        second = mqtt.Client(
            V2, "resubscriber", protocol=mqtt.MQTTv5, store=store, resubscribe=True
        )
        inbox = Inbox()
        second.on_message = inbox.on_message
        subacks: list[int] = []
        second.on_subscribe = lambda c, u, mid, codes, props: subacks.append(mid)
        with running(second, mosquitto.port()):  # clean start: the broker has no session
            wait_until(lambda: subacks)
            sender = mqtt.Client(V2)
            with running(sender, mosquitto.port()):
                sender.publish("resub/x", b"hello", 1).wait_for_publish(10)
            wait_until(lambda: inbox.payloads() == [b"hello"])
