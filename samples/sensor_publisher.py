"""A Raspberry Pi style sensor publisher that keeps every reading it has taken.

It publishes a temperature reading every ``--interval`` seconds (the Pi's CPU temperature from
``/sys/class/thermal`` when there is one, a simulated value elsewhere) at QoS 1 to
``<prefix>/temperature`` as JSON, and keeps a retained status topic ``<prefix>/status``:
``online`` once connected, ``offline`` when it stops, and ``offline`` again from the broker as
the last will if the Pi loses power or network without saying goodbye.

The client reconnects forever (starting even when the broker is not reachable yet). Readings
taken while offline are queued; with ``SqliteStore`` they are also written to a file, so the ones
not yet acknowledged survive a crash or a reboot and are delivered by the next run.

    python samples/sensor_publisher.py --host localhost --interval 5
    python samples/sensor_publisher.py --host localhost --count 3 --interval 0.2   # smoke run

Stops by itself after ``--count`` readings or ``--duration`` seconds, and on Ctrl-C or SIGTERM
(``systemctl stop``): it waits (bounded) for the broker to acknowledge what was published,
publishes ``offline`` and disconnects.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import mqttclient.client as mqtt
from mqttclient import SqliteStore

CPU_TEMPERATURE = Path("/sys/class/thermal/thermal_zone0/temp")


def read_temperature(started: float) -> float:
    """The CPU temperature in °C on a Raspberry Pi (any Linux with a thermal zone); elsewhere a
    slowly varying simulated room temperature."""
    try:
        return int(CPU_TEMPERATURE.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        elapsed = time.monotonic() - started
        return round(21.0 + 2.0 * math.sin(elapsed / 60.0) + random.uniform(-0.2, 0.2), 2)


def open_store(path: str) -> Any:
    """The durable store at ``path``: readings accepted before a crash or reboot are sent after
    the restart."""
    return SqliteStore(path)


def build_parser() -> argparse.ArgumentParser:
    hostname = socket.gethostname().split(".")[0] or "pi"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--client-id", default=f"sensor-{hostname}", help="MQTT client id")
    parser.add_argument("--prefix", help="topic prefix (default sensors/<client id>)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
    parser.add_argument("--count", type=int, default=0, help="stop after N readings (0: never)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--store", default="sensor-outbox.db", help="SQLite file for unacknowledged readings"
    )
    parser.add_argument(
        "--memory", action="store_true", help="keep queued readings in memory only (no file)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=10.0, help="seconds to wait for acks when stopping"
    )
    return parser


class Sensor:
    """The publishing side; callbacks run on the client's network thread."""

    def __init__(self, client: mqtt.Client, prefix: str) -> None:
        self.client = client
        self.status_topic = f"{prefix}/status"
        self.data_topic = f"{prefix}/temperature"
        self.pending: list[mqtt.MQTTMessageInfo] = []
        self.stopping = False
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.on_connect = self.on_connect
        client.on_disconnect = self.on_disconnect

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            print(f"broker refused the connection: {reason}; retrying", flush=True)
            return
        print(f"connected; {self.status_topic} = online", flush=True)
        client.publish(self.status_topic, "online", qos=1, retain=True)

    def on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not self.stopping:
            print(f"connection lost ({reason}); queueing readings until it is back", flush=True)

    def publish(self, seq: int, temperature: float) -> None:
        reading = {"seq": seq, "temperature": temperature, "unit": "°C", "time": time.time()}
        info = self.client.publish(self.data_topic, json.dumps(reading), qos=1)
        self.pending.append(info)
        print(f"reading {seq}: {temperature} °C (message {info.seq})", flush=True)

    def unacknowledged(self) -> int:
        self.pending = [info for info in self.pending if not _done(info)]
        return len(self.pending)


def _done(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return True  # refused: nothing more will happen to it


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    prefix = args.prefix or f"sensors/{args.client_id}"
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

    store = None if args.memory else open_store(args.store)
    extra: dict[str, Any] = {} if store is None else {"store": store}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id, **extra)
    restored = client.restored_messages() if hasattr(client, "restored_messages") else []
    if restored:
        print(f"{len(restored)} readings from an earlier run will be delivered first")
    sensor = Sensor(client, prefix)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    # connect_async + loop_start: the loop thread connects, and reconnects forever, by itself.
    client.connect_async(args.host, args.port, keepalive=30)
    client.loop_start()

    started = time.monotonic()
    deadline = None if args.duration is None else started + args.duration
    seq = 0
    try:
        while not stop.is_set():
            seq += 1
            sensor.publish(seq, read_temperature(started))
            if args.count and seq >= args.count:
                break
            wait = args.interval
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            stop.wait(wait)
    except KeyboardInterrupt:
        pass

    # Graceful stop: let the broker acknowledge what we have, then say "offline" ourselves
    # (a clean DISCONNECT means the broker does not publish the will).
    end = time.monotonic() + args.drain_timeout
    while sensor.unacknowledged() and time.monotonic() < end:
        time.sleep(0.05)
    left = sensor.unacknowledged()
    sensor.stopping = True
    if client.is_connected():
        client.publish(sensor.status_topic, "offline", qos=1, retain=True).wait_for_publish(
            max(0.1, end - time.monotonic())
        )
    client.disconnect()
    client.loop_stop()
    if store is not None:
        store.close()
    if not left:
        print(f"published {seq} readings; all acknowledged")
    elif store is not None:
        print(
            f"published {seq} readings; {left} not acknowledged (kept in the store for the next run)"
        )
    else:
        print(f"published {seq} readings; {left} not acknowledged (lost: memory only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
