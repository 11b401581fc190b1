"""Smoke tests of the samples in ``samples/`` against the session's mosquitto: each runs the way a
user runs it (``python samples/x.py --host ... --port ...``) in its smoke mode, and the test
checks what crossed the broker with its own subscriber. The webhook bridge runs in-process so
that ``responses`` can stand in for the HTTP endpoint.

(The transport samples, aws_iot.py, azure_iot_hub.py and socks_proxy.py, are tested in
test_samples_transport.py.)
"""

from __future__ import annotations

import collections
import functools
import json
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

import mqttclient.client as mqtt
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from tests.brokers import Mosquitto, free_port
from tests.factories import closing_factory
from tests.integration.helpers import V2, load_sample, wait_until

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
RUN_TIMEOUT_S = 40.0
MINE = [
    "sensor_publisher",
    "telemetry_agent",
    "webhook_bridge",
    "shared_workers",
    "external_loop_select",
    "external_loop_asyncio",
    "request_response",
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sample(name: str, *args: str) -> list[str]:
    return [sys.executable, str(SAMPLES / f"{name}.py"), *args]


def on_broker(broker: Mosquitto) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(broker.port())]


def run_sample(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sample(name, *args), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=ROOT
    )


def count_in_log(broker: Mosquitto, text: str) -> int:
    return (
        broker.log_path.read_text(errors="replace").count(text) if broker.log_path.exists() else 0
    )


class Observer:
    """A subscriber that records what the broker delivers (thread-safe)."""

    def __init__(self, broker: Mosquitto, topic_filter: str, v5: bool = False) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.client = mqtt.Client(V2, protocol=protocol)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", broker.port())
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        assert subscribed.wait(10), "no SUBACK for the observer"

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [m.payload for m in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def observe(mosquitto: Mosquitto) -> Iterator[Any]:
    """``observe(topic_filter, v5=False)``: an :class:`Observer` on the session's mosquitto."""
    yield from closing_factory(functools.partial(Observer, mosquitto))


def clear_retained(broker: Mosquitto, topic: str) -> None:
    client = mqtt.Client(V2)
    client.connect("127.0.0.1", broker.port())
    client.loop_start()
    try:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("name", MINE)
def test_help(name: str) -> None:
    done = run_sample(name, "--help")
    assert done.returncode == 0, done.stderr
    assert "--host" in done.stdout and "--port" in done.stdout


# --- sensor_publisher -----------------------------------------------------------------------------


def test_sensor_publisher(mosquitto: Mosquitto, observe: Any, tmp_path: Path) -> None:
    prefix = unique("samples/sensor")
    observer = observe(f"{prefix}/#")
    try:
        done = run_sample(
            "sensor_publisher",
            *on_broker(mosquitto),
            *("--client-id", unique("sensor"), "--prefix", prefix),
            *("--count", "3", "--interval", "0.05", "--store", str(tmp_path / "outbox.db")),
        )
        assert done.returncode == 0, done.stderr
        assert "published 3 readings; all acknowledged" in done.stdout
        wait_until(lambda: len(observer.on(f"{prefix}/temperature")) == 3)
        readings = [json.loads(p) for p in observer.payloads(f"{prefix}/temperature")]
        assert [r["seq"] for r in readings] == [1, 2, 3]
        assert all(isinstance(r["temperature"], float) for r in readings)
        assert all(m.qos == 1 for m in observer.on(f"{prefix}/temperature"))
        wait_until(lambda: observer.payloads(f"{prefix}/status")[-1:] == [b"offline"])
        assert observer.payloads(f"{prefix}/status") == [b"online", b"offline"]
    finally:
        clear_retained(mosquitto, f"{prefix}/status")


def test_sensor_publisher_last_will(mosquitto: Mosquitto, observe: Any, tmp_path: Path) -> None:
    prefix = unique("samples/will")
    observer = observe(f"{prefix}/status")
    args = ["--prefix", prefix, "--interval", "0.1", "--duration", "30", "--memory"]
    try:
        with subprocess.Popen(
            sample("sensor_publisher", *on_broker(mosquitto), *args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        ) as proc:
            try:
                wait_until(lambda: observer.payloads(f"{prefix}/status") == [b"online"])
            finally:
                proc.kill()  # a power cut: no DISCONNECT, so the broker publishes the will
                proc.wait(10)
        wait_until(lambda: observer.payloads(f"{prefix}/status") == [b"online", b"offline"])
    finally:
        clear_retained(mosquitto, f"{prefix}/status")


def test_sensor_publisher_keeps_readings_in_its_store_across_runs(
    mosquitto: Mosquitto, observe: Any, tmp_path: Path
) -> None:
    prefix = unique("samples/durable")
    client_id = unique("sensor")
    common = ["--client-id", client_id, "--prefix", prefix, "--store", str(tmp_path / "o.db")]
    observer = observe(f"{prefix}/temperature")
    try:
        # First run: the broker is unreachable; the two readings stay in the store.
        offline = run_sample(
            "sensor_publisher",
            *("--host", "127.0.0.1", "--port", str(free_port())),
            *common,
            *("--count", "2", "--interval", "0.01", "--drain-timeout", "0.5"),
        )
        assert offline.returncode == 0, offline.stderr
        assert "2 not acknowledged (kept in the store" in offline.stdout
        # Second run: they are delivered first, then the new reading.
        online = run_sample(
            "sensor_publisher", *on_broker(mosquitto), *common, "--count", "1", "--interval", "0"
        )
        assert online.returncode == 0, online.stderr
        assert "2 readings from an earlier run" in online.stdout
        wait_until(lambda: len(observer.messages) == 3)
        assert len(observer.messages) == 3
    finally:
        clear_retained(mosquitto, f"{prefix}/status")


# --- telemetry_agent ------------------------------------------------------------------------------


def test_telemetry_agent_request_response(mosquitto: Mosquitto) -> None:
    device = unique("dev")
    client_id = unique("agent")
    common = [*on_broker(mosquitto), "--prefix", "samples/devices", "--device", device]
    with subprocess.Popen(
        sample("telemetry_agent", *common, "--client-id", client_id, "--max-requests", "3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as agent:
        try:
            wait_until(lambda: count_in_log(mosquitto, f"Sending SUBACK to {client_id}") > 0)
            # The sample's own requester side.
            asked = run_sample("telemetry_agent", *common, "--ask", "ping")
            assert asked.returncode == 0, asked.stderr
            assert json.loads(asked.stdout) == {"answer": {"pong": True}, "status": "ok"}
            # A requester written against the library: correlation data comes back unchanged.
            reply = request(mosquitto, f"samples/devices/{device}", "echo", b'{"x": [1, 2]}')
            assert reply.payload == b'{"echo": {"x": [1, 2]}}'
            props = reply.properties
            assert props is not None
            assert props.CorrelationData == b"\x00corr\xff"
            assert props.ContentType == "application/json"
            assert props.UserProperty == [("status", "ok")]
            unknown = request(mosquitto, f"samples/devices/{device}", "reboot", b"")
            assert unknown.properties is not None
            assert unknown.properties.UserProperty == [("status", "error")]
            out, err = agent.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(10)
    assert agent.returncode == 0, err
    assert "answered 3 requests" in out


def request(broker: Mosquitto, base: str, command: str, payload: bytes) -> mqtt.MQTTMessage:
    """Send one MQTT 5 request to the agent and return its answer (bounded wait)."""
    reply_topic = f"{base}/replies/{uuid.uuid4().hex}"
    answers: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client = mqtt.Client(V2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, msg: answers.append(msg)
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", broker.port())
    client.loop_start()
    try:
        client.subscribe(reply_topic, qos=1)
        assert subscribed.wait(10)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = reply_topic
        props.CorrelationData = b"\x00corr\xff"
        client.publish(f"{base}/commands/{command}", payload, qos=1, properties=props)
        wait_until(lambda: answers)
        return answers[0]
    finally:
        client.disconnect()
        client.loop_stop()


# --- webhook_bridge -------------------------------------------------------------------------------


class BridgeRun:
    """webhook_bridge.main(argv) on a thread, subscribed before the test publishes."""

    def __init__(self, broker: Mosquitto, base: str, *args: str) -> None:
        self.module = load_sample("webhook_bridge")
        client_id = unique("bridge")
        argv = [*on_broker(broker), "--client-id", client_id, "--topic", f"{base}/#", *args]
        self.code: Optional[int] = None
        self._thread = threading.Thread(target=self._run, args=(argv,), daemon=True)
        self._thread.start()
        wait_until(lambda: count_in_log(broker, f"Sending SUBACK to {client_id}") > 0)

    def _run(self, argv: list[str]) -> None:
        self.code = self.module.main(argv)

    def join(self) -> Optional[int]:
        self._thread.join(RUN_TIMEOUT_S)
        assert not self._thread.is_alive(), "the bridge did not stop"
        return self.code


def publish_all(broker: Mosquitto, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(V2)
    client.connect("127.0.0.1", broker.port())
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


URL = "https://hooks.example.test/mqtt"


def test_webhook_bridge_retries_then_posts_everything(mosquitto: Mosquitto, capsys: Any) -> None:
    responses = pytest.importorskip("responses")
    base = unique("samples/hook")
    with responses.RequestsMock() as hooks:
        hooks.add(responses.POST, URL, status=503)  # the first POST fails, then all succeed
        hooks.add(responses.POST, URL, status=200)
        bridge = BridgeRun(
            mosquitto, base, "--url", URL, "--count", "3", "--retry-delay", "0.01",
            "--header", "Authorization: Bearer t0ken",
        )  # fmt: skip
        publish_all(
            mosquitto, [(f"{base}/a", b"21.5"), (f"{base}/b", b"\xff\x00"), (f"{base}/a", b"22")]
        )
        assert bridge.join() == 0
        bodies = [json.loads(call.request.body) for call in hooks.calls]
        statuses = [call.response.status_code for call in hooks.calls]
        headers = [call.request.headers for call in hooks.calls]
    assert statuses == [503, 200, 200, 200]
    assert bodies[0] == bodies[1]  # the retry posts the same document
    assert bodies[1:] == [
        {"topic": f"{base}/a", "payload": "21.5", "payload_base64": False, "qos": 1, "retain": False},
        {"topic": f"{base}/b", "payload": "/wA=", "payload_base64": True, "qos": 1, "retain": False},
        {"topic": f"{base}/a", "payload": "22", "payload_base64": False, "qos": 1, "retain": False},
    ]  # fmt: skip
    assert all(h["Authorization"] == "Bearer t0ken" for h in headers)
    assert all(h["Content-Type"] == "application/json" for h in headers)
    assert "retry 1 in 0.01 s" in capsys.readouterr().out


def test_webhook_bridge_gives_up(mosquitto: Mosquitto, capsys: Any) -> None:
    responses = pytest.importorskip("responses")
    requests = pytest.importorskip("requests")
    base = unique("samples/hook")
    with responses.RequestsMock() as hooks:
        # 400 is not retried; a network error is retried --retries times, then given up.
        hooks.add(responses.POST, URL, status=400)
        hooks.add(responses.POST, URL, body=requests.ConnectionError("refused"))
        bridge = BridgeRun(
            mosquitto, base, "--url", URL, "--count", "2", "--retries", "2",
            "--retry-delay", "0.01",
        )  # fmt: skip
        publish_all(mosquitto, [(f"{base}/x", b"1"), (f"{base}/x", b"2")])
        assert bridge.join() == 1
        assert len(hooks.calls) == 1 + 3
    out = capsys.readouterr().out
    assert "giving up on" in out and "HTTP 400" in out and "ConnectionError" in out
    assert "forwarded 0 messages, 2 failed" in out


# --- shared_workers -------------------------------------------------------------------------------


def test_shared_workers_split_the_stream(mosquitto: Mosquitto) -> None:
    group = unique("g")
    base = unique("samples/jobs")
    args = ["--workers", "3", "--group", group, "--filter", f"{base}/#", "--expect", "30"]
    with subprocess.Popen(
        sample("shared_workers", *on_broker(mosquitto), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as workers:
        try:
            wait_until(lambda: count_in_log(mosquitto, f"Sending SUBACK to {group}-") == 3)
            publish_all(mosquitto, [(f"{base}/new", f"job {n}".encode()) for n in range(1, 31)])
            out, err = workers.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            if workers.poll() is None:
                workers.kill()
                workers.wait(10)
    assert workers.returncode == 0, err
    taken = re.findall(r"^(worker-\d) took \S+ job (\d+)$", out, re.MULTILINE)
    assert sorted(int(job) for _, job in taken) == list(range(1, 31))  # each job exactly once
    shares = collections.Counter(worker for worker, _ in taken)
    assert len(shares) >= 2, shares  # the broker really split the stream
    assert "30 of 30 jobs handled; 0 handled more than once" in out


def test_shared_workers_produce_mode(mosquitto: Mosquitto) -> None:
    group = unique("g")
    base = unique("samples/jobs")
    done = run_sample(
        "shared_workers",
        *on_broker(mosquitto),
        *("--group", group, "--filter", f"{base}/#", "--jobs-topic", f"{base}/new"),
        *("--workers", "2", "--produce", "10"),
    )
    assert done.returncode == 0, done.stderr
    assert "10 of 10 jobs handled; 0 handled more than once" in done.stdout


# --- external event loops -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["external_loop_select", "external_loop_asyncio"])
def test_external_loop(mosquitto: Mosquitto, observe: Any, name: str) -> None:
    topic = unique("samples/loop")
    observer = observe(topic)
    done = run_sample(name, *on_broker(mosquitto), "--topic", topic, "--count", "5")
    assert done.returncode == 0, done.stderr
    assert "5 of 5 messages came back" in done.stdout
    wait_until(lambda: len(observer.messages) == 5)
    assert observer.payloads(topic) == [f"message {n}".encode() for n in range(1, 6)]


# --- request_response -----------------------------------------------------------------------------


def test_request_response_both_sides(mosquitto: Mosquitto) -> None:
    prefix = unique("samples/adder")
    args = ["--prefix", prefix, "--count", "6", "--threads", "3", "--seed", "7"]
    done = run_sample("request_response", *on_broker(mosquitto), *args)
    assert done.returncode == 0, done.stderr
    answers = re.findall(r"^sum of \[([\d., ]+)\] = (\S+)$", done.stdout, re.MULTILINE)
    assert len(answers) == 6, done.stdout
    for numbers, total in answers:  # each thread got the answer to its own request
        assert sum(float(n) for n in numbers.split(",")) == float(total)
    assert "6 of 6 requests answered" in done.stdout


def test_request_response_serve_and_ask(mosquitto: Mosquitto) -> None:
    prefix = unique("samples/adder")
    client_id = unique("adder")
    common = [*on_broker(mosquitto), "--prefix", prefix]
    serve = ["--serve", "--client-id", client_id, "--max-requests", "1"]
    with subprocess.Popen(
        sample("request_response", *common, *serve),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as service:
        try:
            wait_until(lambda: count_in_log(mosquitto, f"Sending SUBACK to {client_id}") > 0)
            asked = run_sample("request_response", *common, "--ask", "2", "3.5")
            assert asked.returncode == 0, asked.stderr
            assert "sum of [2.0, 3.5] = 5.5" in asked.stdout
            out, err = service.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            if service.poll() is None:
                service.kill()
                service.wait(10)
    assert service.returncode == 0, err
    assert "answered 1 requests" in out
