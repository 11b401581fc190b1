"""``python -m mqttclient demo``: a sensor publisher and a subscriber talking through a private
mosquitto broker that the demo starts on a free local port and stops at the end.

It shows QoS 1 delivery, a retained status topic and a last will that the broker publishes when
the sensor vanishes without saying goodbye.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

import mqttclient.client as mqtt

__all__ = ["run_demo"]

_BROKER_HINT = (
    "the demo needs the mosquitto broker: install it with "
    "`sudo apt-get install mosquitto` (Debian/Ubuntu), `brew install mosquitto` (macOS) "
    "or see https://mosquitto.org/download/"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class _Broker:
    """A throw-away mosquitto on 127.0.0.1."""

    def __init__(self, binary: str) -> None:
        self.port = _free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="mqttclient-demo-")
        config = os.path.join(self._dir.name, "mosquitto.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                f.write("user root\n")
        self._proc = subprocess.Popen(
            [binary, "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._dir.cleanup()


def _say(who: str, text: str) -> None:
    print(f"[{who:>10}] {text}", flush=True)


def run_demo(readings: int = 5, port: Optional[int] = None) -> int:
    """Run the demo; returns a process exit code (0 when every reading arrived)."""
    broker: Optional[_Broker] = None
    if port is None:
        binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
        )
        if binary is None:
            print(f"mqttclient demo: {_BROKER_HINT}", file=sys.stderr)
            return 2
        broker = _Broker(binary)
        port = broker.port
        if not _wait_for_port(port, 10.0):
            broker.stop()
            print("mqttclient demo: mosquitto did not start", file=sys.stderr)
            return 2
        _say("broker", f"mosquitto listening on 127.0.0.1:{port}")
    try:
        return _exchange(port, readings)
    finally:
        if broker is not None:
            broker.stop()
            _say("broker", "stopped")


def _exchange(port: int, readings: int) -> int:
    received: list[str] = []
    done = threading.Event()
    will_seen = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        text = msg.payload.decode()
        if msg.topic == "demo/sensor/status":
            if not text:
                return  # the demo clearing its retained status at the end
            _say("subscriber", f"status: {text}{' (retained)' if msg.retain else ''}")
            if text == "offline":
                will_seen.set()
            return
        received.append(text)
        _say("subscriber", f"{msg.topic} = {text} (QoS {msg.qos})")
        if len(received) == readings:
            done.set()

    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="demo-subscriber")
    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", port)
    subscriber.subscribe([("demo/sensor/temperature", 1), ("demo/sensor/status", 1)])
    subscriber.loop_start()

    sensor = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="demo-sensor")
    sensor.will_set("demo/sensor/status", "offline", qos=1, retain=True)
    sensor.connect("127.0.0.1", port, keepalive=5)
    sensor.loop_start()
    sensor.publish("demo/sensor/status", "online", qos=1, retain=True)
    for i in range(readings):
        value = f"{20.0 + i * 0.5:.1f}"
        info = sensor.publish("demo/sensor/temperature", value, qos=1)
        info.wait_for_publish(5)
        _say("sensor", f"published temperature {value} (mid {info.mid}, acknowledged)")
        time.sleep(0.1)
    ok = done.wait(10)

    # Vanish without DISCONNECT: the broker publishes the will ("offline").
    _say("sensor", "dropping the connection without saying goodbye...")
    sensor.loop_stop()
    sock = sensor.socket()
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
    got_will = will_seen.wait(10)
    sensor.disconnect()

    subscriber.publish("demo/sensor/status", b"", qos=1, retain=True).wait_for_publish(5)
    subscriber.disconnect()
    subscriber.loop_stop()
    print(
        f"demo: {len(received)}/{readings} readings delivered, last will {'seen' if got_will else 'MISSING'}"
    )
    return 0 if ok and got_will else 1
