"""Smoke tests of the transport samples against local servers: aws_iot.py (mutual TLS, ALPN
offered) against a mosquitto TLS listener, socks_proxy.py through microsocks, azure_iot_hub.py
(SAS tokens from a credentials provider) against mosquitto over TLS, WebSocket and plain TCP.

The samples run as scripts (``python samples/x.py ...``) the way a user runs them, except where
a test needs to look inside (the Azure provider), which loads the module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote_plus

import pytest

import mqttclient.client as mqtt
from tests.brokers import Certs, Listener, Microsocks, Mosquitto
from tests.factories import closing_factory
from tests.faultproxy import RecordingRelay
from tests.integration.helpers import V2, Recorder, load_sample, wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RUN_TIMEOUT_S = 30.0
IO_TIMEOUT_S = 5.0
DEVICE_KEY = base64.b64encode(b"a device key for the tests, 32 b").decode()


def run_sample(
    name: str, *args: str, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("mqtt_proxy", "no_proxy", "all_proxy")
    }
    clean.update(env or {})
    clean["PYTHONWARNINGS"] = "error"
    return subprocess.run(
        [sys.executable, str(SAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=clean,
        cwd=str(SAMPLES.parent),
    )


class Subscriber:
    """A plain client on the broker's TCP listener collecting what arrives on a filter."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client = mqtt.Client(V2, client_id="sample-watcher")
        subscribed = threading.Event()
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        assert subscribed.wait(IO_TIMEOUT_S)

    def take(self, count: int) -> list[mqtt.MQTTMessage]:
        return [self.messages.get(timeout=IO_TIMEOUT_S) for _ in range(count)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber_factory() -> Iterator[Callable[[int, str], Subscriber]]:
    yield from closing_factory(Subscriber)


@pytest.fixture
def tls_broker(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory(
        listeners=[
            Listener("tcp"),
            Listener("tls"),
            Listener("wss"),
            Listener("tls", name="mtls", require_certificate=True, use_identity_as_username=True),
        ]
    )


# --- every sample -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["aws_iot.py", "azure_iot_hub.py", "socks_proxy.py"])
def test_sample_help(name: str) -> None:
    result = run_sample(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    assert result.stderr == ""


# --- AWS IoT ------------------------------------------------------------------------------------


def test_aws_iot_sample_mutual_tls_with_alpn(
    tls_broker: Mosquitto, certs: Certs, subscriber_factory: Callable[[int, str], Subscriber]
) -> None:
    watcher = subscriber_factory(tls_broker.port("tcp"), "sensors/thing-1")
    result = run_sample(
        "aws_iot.py",
        "--endpoint",
        "localhost",
        "--port",
        str(tls_broker.port("mtls")),
        "--ca",
        certs.ca,
        "--cert",
        certs.client_cert,
        "--key",
        certs.client_key_encrypted,
        "--alpn",  # offered on this port too; mosquitto does not select one
        "--client-id",
        "thing-1",
        "--topic",
        "sensors/thing-1",
        "--count",
        "2",
        "--interval",
        "0",
        env={"AWS_IOT_KEY_PASSWORD": Certs.KEY_PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    bodies = [json.loads(msg.payload) for msg in watcher.take(2)]
    assert bodies == [{"seq": 1, "client": "thing-1"}, {"seq": 2, "client": "thing-1"}]
    # the broker knew the device by its certificate
    assert f"as thing-1 (p2, c1, k60, u'{Certs.CLIENT_CN}')" in tls_broker.log()


def test_aws_iot_sample_reports_an_untrusted_broker(tls_broker: Mosquitto, certs: Certs) -> None:
    result = run_sample(
        "aws_iot.py",
        "--endpoint",
        "localhost",
        "--port",
        str(tls_broker.port("mtls")),
        "--cert",
        certs.client_cert,
        "--key",
        certs.client_key,
    )
    assert result.returncode == 1
    assert "unknown CA" in result.stderr
    assert "Traceback" not in result.stderr


# --- SOCKS proxy --------------------------------------------------------------------------------


def test_socks_proxy_sample(
    mosquitto: Mosquitto, microsocks_factory: Callable[..., Microsocks]
) -> None:
    proxy = microsocks_factory(username="alice", password="proxy-secret")
    args = [
        "--broker",
        "127.0.0.1",
        "--port",
        str(mosquitto.port()),
        "--proxy-host",
        "127.0.0.1",
        "--proxy-port",
        str(proxy.port),
        "--proxy-user",
        "alice",
        "--count",
        "3",
        "--timeout",
        "5",
    ]
    env = {"SOCKS_PROXY_PASSWORD": "proxy-secret"}
    result = run_sample("socks_proxy.py", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("through the proxy") == 3

    wrong = run_sample("socks_proxy.py", *args, env={"SOCKS_PROXY_PASSWORD": "nope"})
    assert wrong.returncode == 1
    assert "SOCKS5 proxy" in wrong.stderr and "authentication" in wrong.stderr.lower()

    # proof that it went through the proxy: without the proxy the same command fails
    proxy.stop()
    gone = run_sample("socks_proxy.py", *args, env=env)
    assert gone.returncode == 1
    assert f"SOCKS5 proxy 127.0.0.1:{proxy.port}" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_socks_proxy_sample_from_environment(mosquitto: Mosquitto, microsocks: Microsocks) -> None:
    args = ["--broker", "127.0.0.1", "--port", str(mosquitto.port()), "--from-env"]
    result = run_sample(
        "socks_proxy.py", *args, env={"mqtt_proxy": f"socks5://127.0.0.1:{microsocks.port}"}
    )
    assert result.returncode == 0, result.stderr
    microsocks.stop()
    result = run_sample(
        "socks_proxy.py", *args, env={"mqtt_proxy": f"socks5://127.0.0.1:{microsocks.port}"}
    )
    assert result.returncode == 1
    assert "SOCKS5 proxy" in result.stderr


# --- Azure IoT Hub ------------------------------------------------------------------------------


def reference_token(uri: str, key: str, expiry: int) -> str:
    to_sign = (quote_plus(uri) + "\n" + str(expiry)).encode()
    digest = hmac.new(base64.b64decode(key), to_sign, hashlib.sha256).digest()
    sig = base64.b64encode(digest).decode()
    return f"SharedAccessSignature sr={quote_plus(uri)}&sig={quote_plus(sig)}&se={expiry}"


def test_azure_provider_signs_a_new_token_for_every_connect(
    mosquitto: Mosquitto, relay_factory: Callable[[int], RecordingRelay]
) -> None:
    azure = load_sample("azure_iot_hub")
    relay = relay_factory(mosquitto.port())
    clock_reads: list[int] = []

    def clock() -> float:
        clock_reads.append(1)
        return 1_800_000_000.0 + 100 * len(clock_reads)

    hub = "myhub.azure-devices.net"
    client = azure.make_client(hub, "device-7", DEVICE_KEY, use_tls=False, ttl_s=600, clock=clock)
    client.reconnect_delay_set(0.05, 0.2)
    recorder = Recorder()
    recorder.attach(client, "on_connect")
    client.connect("127.0.0.1", relay.port)
    client.loop_start()
    try:
        wait_until(client.is_connected, IO_TIMEOUT_S)
        relay.cut()  # the link drops; the loop thread reconnects
        wait_until(lambda: recorder.count("on_connect") == 2, IO_TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()
    assert len(clock_reads) == 2  # the provider ran once per connect
    uri = f"{hub}/devices/device-7"
    first = reference_token(uri, DEVICE_KEY, 1_800_000_100 + 600)
    second = reference_token(uri, DEVICE_KEY, 1_800_000_200 + 600)
    sent = relay.seen()
    assert sent.count(f"{hub}/device-7/?api-version=2021-04-12".encode()) == 2
    assert first.encode() in sent and second.encode() in sent  # each CONNECT had its own token
    assert all(not args[1].is_failure for args in recorder.get("on_connect"))


def test_azure_sample_telemetry_over_tls(
    tls_broker: Mosquitto, certs: Certs, subscriber_factory: Callable[[int, str], Subscriber]
) -> None:
    watcher = subscriber_factory(tls_broker.port("tcp"), "devices/device-7/messages/events/#")
    result = run_sample(
        "azure_iot_hub.py",
        "--connection-string",
        f"HostName=localhost;DeviceId=device-7;SharedAccessKey={DEVICE_KEY}",
        "--port",
        str(tls_broker.port("tls")),
        "--ca-certs",
        certs.ca,
        "--count",
        "2",
        "--interval",
        "0",
    )
    assert result.returncode == 0, result.stderr
    messages = watcher.take(2)
    assert [json.loads(m.payload)["seq"] for m in messages] == [1, 2]
    assert messages[0].topic == "devices/device-7/messages/events/"
    assert "u'localhost/device-7/?api-version=2021-04-12'" in tls_broker.log()


def test_azure_sample_over_secure_websockets(
    tls_broker: Mosquitto, certs: Certs, subscriber_factory: Callable[[int, str], Subscriber]
) -> None:
    watcher = subscriber_factory(tls_broker.port("tcp"), "devices/device-8/messages/events/#")
    result = run_sample(
        "azure_iot_hub.py",
        "--hub-host",
        "localhost",
        "--device-id",
        "device-8",
        "--device-key",
        DEVICE_KEY,
        "--websockets",
        "--port",
        str(tls_broker.port("wss")),
        "--ca-certs",
        certs.ca,
        "--count",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(watcher.take(1)[0].payload)["seq"] == 1


def test_azure_sample_reports_an_untrusted_hub(tls_broker: Mosquitto) -> None:
    result = run_sample(
        "azure_iot_hub.py",
        "--hub-host",
        "localhost",
        "--device-id",
        "device-9",
        "--device-key",
        DEVICE_KEY,
        "--port",
        str(tls_broker.port("tls")),
    )
    assert result.returncode == 1
    assert "unknown CA" in result.stderr
    assert "Traceback" not in result.stderr
