"""What durability costs: publishing QoS 1 with ``SqliteStore`` against ``MemoryStore`` in the same
run, and memory per message queued offline (mqttclient's ``MemoryStore`` against paho-mqtt).

Run: ``python benchmarks/bench_store.py [--quick] [--messages N] [--reps N]``. Needs mosquitto
(a private one is started on 127.0.0.1 and stopped at the end) and, for the memory comparison,
paho-mqtt. Numbers depend on the machine and its disk; compare runs on the same one.

publish QoS 1, loopback (msg/s)
    One client (``loop_start()``, MQTT 3.1.1, ``max_inflight_messages_set(100)``, 100-byte
    payloads) calls ``publish()`` N times as fast as it returns, then waits for the last PUBACK.
    Time from the first ``publish()`` to the last acknowledgement. Each store in a fresh client;
    the stores alternate within each repetition; the median of the repetitions is shown, with
    the time relative to ``MemoryStore`` (target: ``SqliteStore`` at most 2x). Here the client's
    CPU is the bottleneck, so every microsecond the store adds shows:
    ``SqliteStore("normal")`` appends every message to its log (``path + "-log"``, one
    ``write`` inside ``publish()``: the message survives a crash of the process when it returns)
    and, like the changes caused by the network (packet ids, PUBREC, acknowledgements), commits
    it to the database in batches, once per network-loop iteration; ``"full"`` commits and syncs
    inside every ``publish()``.
publish QoS 1, 4 ms round trip (msg/s)
    The same through a proxy that delays every chunk by 2 ms each way, with
    ``max_inflight_messages_set(20)``: the network is the bottleneck (at most 20 messages per
    round trip), messages wait in the queue and in the store, and the store's batched commits
    cost nothing visible.
memory per queued message (bytes)
    N QoS 1 messages published while offline, in a fresh process per library, measured with
    ``tracemalloc``: the memory the client holds per queued message, excluding the payloads
    (built before the measurement and shared, so both libraries only keep a reference).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not inserted: a copy of the package on PYTHONPATH (a prototype) takes precedence.
sys.path.append(os.path.join(HERE, ".."))
sys.path.append(HERE)

from broker import BenchBroker  # noqa: E402

PAYLOAD = bytes(100)
TIMEOUT_S = 120.0
STORES = ("memory", "sqlite-normal", "sqlite-full", "sqlite-off")
LABELS = {
    "memory": "MemoryStore",
    "sqlite-normal": 'SqliteStore("normal")',
    "sqlite-full": 'SqliteStore("full")',
    "sqlite-off": 'SqliteStore("off")',
}


def _make_store(kind: str, directory: str) -> Any:
    import mqttclient

    if kind == "memory":
        return mqttclient.MemoryStore()
    durability = kind.split("-", 1)[1]
    return mqttclient.SqliteStore(os.path.join(directory, f"{kind}.db"), durability)


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that delivers every chunk ``delay_s`` after it arrived, in
    order: a link with latency. One thread; ``close()`` stops it and closes every socket."""

    def __init__(self, upstream_port: int, delay_s: float) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = int(self.listener.getsockname()[1])
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.sockets: list[socket.socket] = []
        self.due: list[tuple[float, int, socket.socket, bytes]] = []
        self.order = itertools.count()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping:
            wait = 0.05
            if self.due:
                wait = max(0.0, min(wait, self.due[0][0] - time.monotonic()))
            for key, _ in self.selector.select(wait):
                if key.data is None:
                    self._accept()
                    continue
                src, dst = key.fileobj, key.data
                try:
                    data = src.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(src)
                    continue
                heapq.heappush(
                    self.due, (time.monotonic() + self.delay_s, next(self.order), dst, data)
                )
            now = time.monotonic()
            while self.due and self.due[0][0] <= now:
                _, _, dst, data = heapq.heappop(self.due)
                try:
                    dst.sendall(data)
                except OSError:
                    pass

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        for sock in (client, upstream):
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sockets.append(sock)
        self.selector.register(client, selectors.EVENT_READ, upstream)
        self.selector.register(upstream, selectors.EVENT_READ, client)

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.selector.close()
        for sock in [self.listener, *self.sockets]:
            sock.close()


def publish_run(port: int, kind: str, count: int, inflight: int = 100) -> float:
    """Seconds to publish ``count`` QoS 1 messages and get the last PUBACK."""
    import mqttclient.client as mqtt

    with tempfile.TemporaryDirectory(prefix="bench-store-") as directory:
        store = _make_store(kind, directory)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, f"bench-{kind}", store=store)
        client.max_inflight_messages_set(inflight)
        connected = threading.Event()
        client.on_connect = lambda *args: connected.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        try:
            if not connected.wait(10):
                raise RuntimeError("no CONNACK")
            publish = client.publish
            start = time.perf_counter()
            info = None
            for _ in range(count):
                info = publish("bench/store", PAYLOAD, 1)
            assert info is not None
            info.wait_for_publish(TIMEOUT_S)
            elapsed = time.perf_counter() - start
            if not info.is_published():
                raise RuntimeError("last message not acknowledged in time")
        finally:
            client.disconnect()
            client.loop_stop()
            store.close()
    return elapsed


_MEMORY_PROBE = r"""
import gc, json, sys, tracemalloc
kind, count = sys.argv[1], int(sys.argv[2])
if kind == "paho":
    import paho.mqtt.client as mqtt
else:
    import mqttclient.client as mqtt
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "bench-memory")
client.max_queued_messages_set(0)
payloads = [i.to_bytes(4, "big") * 25 for i in range(count)]  # distinct, 100 bytes each
for _ in range(200):  # warm up lazily created structures
    client.publish("sensors/building-1/temperature", b"warm", 1)
gc.collect()
tracemalloc.start()
before = tracemalloc.take_snapshot()
for payload in payloads:
    client.publish("sensors/building-1/temperature", payload, 1)
gc.collect()
after = tracemalloc.take_snapshot()
held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
print(json.dumps({"bytes_per_message": held / count}))
"""


def memory_per_message(kind: str, count: int) -> Optional[float]:
    """Bytes held per QoS 1 message queued offline (payload excluded), or None if ``kind``
    cannot be imported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(HERE, ".."), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _MEMORY_PROBE, kind, str(count)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        if "No module named 'paho'" in result.stderr:
            return None
        raise RuntimeError(f"memory probe for {kind} failed:\n{result.stderr[-2000:]}")
    return float(json.loads(result.stdout.strip().splitlines()[-1])["bytes_per_message"])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages, one repetition")
    parser.add_argument("--messages", type=int, default=0, help="messages per publish run")
    parser.add_argument("--reps", type=int, default=0, help="repetitions (median shown)")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args(argv)
    count = args.messages or (5_000 if args.quick else 30_000)
    reps = args.reps or (1 if args.quick else 3)
    memory_count = 20_000 if args.quick else 100_000

    if not BenchBroker.available():
        print("mosquitto is not installed", file=sys.stderr)
        return 1
    slow_count = count // 5
    times: dict[str, list[float]] = {kind: [] for kind in STORES}
    slow: dict[str, list[float]] = {kind: [] for kind in STORES}
    with BenchBroker() as broker:
        proxy = DelayProxy(broker.port, 0.002)
        try:
            for rep in range(reps):
                order = STORES if rep % 2 == 0 else tuple(reversed(STORES))
                for kind in order:
                    times[kind].append(publish_run(broker.port, kind, count))
                    slow[kind].append(publish_run(proxy.port, kind, slow_count, inflight=20))
        finally:
            proxy.close()
    ratios: dict[str, dict[str, float]] = {}
    for title, n, runs in (
        ("publish QoS 1, loopback", count, times),
        ("publish QoS 1, 4 ms round trip, 20 in flight", slow_count, slow),
    ):
        medians = {kind: statistics.median(values) for kind, values in runs.items()}
        base = medians["memory"]
        ratios[title] = {kind: medians[kind] / base for kind in STORES}
        print(f"{title}, {n} messages, median of {reps}:")
        print(f"  {'store':<22}{'msg/s':>10}{'time vs MemoryStore':>22}")
        for kind in STORES:
            print(f"  {LABELS[kind]:<22}{n / medians[kind]:>10,.0f}{medians[kind] / base:>21.2f}x")

    ours = memory_per_message("mqttclient", memory_count)
    paho = memory_per_message("paho", memory_count)
    print(f"memory per QoS 1 message queued offline ({memory_count} messages, payload excluded):")
    print(f"  mqttclient MemoryStore {ours:>8.0f} bytes")
    print(f"  paho-mqtt              {paho:>8.0f} bytes" if paho else "  paho-mqtt: not installed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "messages": count,
                    "reps": reps,
                    "publish_qos1_seconds": times,
                    "publish_qos1_4ms_rtt_seconds": slow,
                    "ratio_vs_memory": ratios,
                    "memory_bytes_per_message": {"mqttclient": ours, "paho": paho},
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
