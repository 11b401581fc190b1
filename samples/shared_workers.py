"""Split a stream of jobs between workers with an MQTT 5 shared subscription.

Each worker is an MQTT client subscribed to ``$share/<group>/<filter>``. The broker delivers every
message published to a matching topic to exactly one member of the group (mosquitto takes turns),
so adding workers adds throughput without any coordination between them. A worker that
disconnects stops receiving; its share goes to the others. Ordinary subscribers of ``<filter>``
still get every message.

    python samples/shared_workers.py --host localhost --workers 3             # serve jobs
    mqttclient pub -h localhost -t jobs/new --count 30 -q 1                    # send some
    python samples/shared_workers.py --host localhost --workers 3 --produce 30 # both at once

Each job handled prints ``<worker> took <topic> <payload>``; at the end a line per worker gives
its share. Stops by itself after ``--expect``/``--produce`` jobs (exit 1 if a job was lost or
handled twice) or ``--duration`` seconds, and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
import uuid
from typing import Any, Optional

import mqttclient.client as mqtt


class Pool:
    """The workers and what they handled; callbacks run on each worker's network thread."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.share = f"$share/{args.group}/{args.filter}"
        self.lock = threading.Lock()
        self.handled: list[tuple[str, bytes]] = []
        self.changed = threading.Event()
        self.subscribed = threading.Semaphore(0)
        self.workers: list[mqtt.Client] = []
        run = uuid.uuid4().hex[:6]
        for n in range(1, args.workers + 1):
            name = f"worker-{n}"
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=f"{args.group}-{run}-{n}",
                protocol=mqtt.MQTTv5,
                userdata=name,
            )
            client.on_connect = self.on_connect
            client.on_subscribe = self.on_subscribe
            client.on_message = self.on_message
            self.workers.append(client)

    def on_connect(
        self, client: mqtt.Client, name: str, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            print(f"{name}: broker refused the connection: {reason}", flush=True)
            return
        client.subscribe(self.share, qos=1)

    def on_subscribe(
        self, client: mqtt.Client, name: str, mid: int, reasons: list[Any], props: Any
    ) -> None:
        if reasons[0].is_failure:
            print(f"{name}: subscription refused: {reasons[0]}", flush=True)
            return
        self.subscribed.release()

    def on_message(self, client: mqtt.Client, name: str, msg: mqtt.MQTTMessage) -> None:
        if self.args.work_time:
            time.sleep(self.args.work_time)  # the "work"; other workers carry on meanwhile
        with self.lock:  # workers run on their own threads: one line at a time
            self.handled.append((name, msg.payload))
            print(f"{name} took {msg.topic} {msg.payload.decode(errors='replace')}", flush=True)
        self.changed.set()

    def start(self, timeout_s: float) -> bool:
        """Connect every worker; True once all are subscribed (within ``timeout_s``)."""
        for client in self.workers:
            client.connect_async(self.args.host, self.args.port, keepalive=30)
            client.loop_start()
        deadline = time.monotonic() + timeout_s
        return all(
            self.subscribed.acquire(timeout=max(0.0, deadline - time.monotonic()))
            for _ in self.workers
        )

    def stop(self) -> None:
        for client in self.workers:
            client.disconnect()
        for client in self.workers:
            client.loop_stop()

    def count(self) -> int:
        with self.lock:
            return len(self.handled)


def produce(args: argparse.Namespace, jobs: int) -> None:
    """Publish ``jobs`` numbered jobs at QoS 1 and wait until the broker has them all."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    try:
        infos = [client.publish(args.jobs_topic, f"job {n}", qos=1) for n in range(1, jobs + 1)]
        for info in infos:
            info.wait_for_publish(args.timeout)
    finally:
        client.disconnect()
        client.loop_stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--workers", type=int, default=3, help="number of workers (3)")
    parser.add_argument("--group", default="workers", help="share group name (workers)")
    parser.add_argument("--filter", default="jobs/#", help="topic filter of the jobs (jobs/#)")
    parser.add_argument("--jobs-topic", default="jobs/new", help="--produce publishes here")
    parser.add_argument("--produce", type=int, default=0, help="publish N jobs, then stop")
    parser.add_argument("--expect", type=int, default=0, help="stop after N jobs were handled")
    parser.add_argument("--work-time", type=float, default=0.0, help="seconds each job takes")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="bound on every wait (30 s)")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    expected = args.expect or args.produce
    pool = Pool(args)
    try:
        if not pool.start(args.timeout):
            print("error: not every worker could subscribe", file=sys.stderr)
            return 1
        print(f"{args.workers} workers sharing {pool.share}", flush=True)
        if args.produce:
            produce(args, args.produce)
        deadline: Optional[float] = None
        if expected:
            deadline = time.monotonic() + (args.duration or args.timeout)
        elif args.duration is not None:
            deadline = time.monotonic() + args.duration
        while not expected or pool.count() < expected:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            pool.changed.wait(remaining)
            pool.changed.clear()
    except KeyboardInterrupt:
        pass
    finally:
        pool.stop()
    with pool.lock:
        handled = list(pool.handled)
    shares = collections.Counter(name for name, _ in handled)
    for n in range(1, args.workers + 1):
        print(f"worker-{n} handled {shares.get(f'worker-{n}', 0)} jobs")
    if not expected:
        return 0
    payloads = collections.Counter(payload for _, payload in handled)
    twice = sum(1 for times in payloads.values() if times > 1)
    print(f"{len(handled)} of {expected} jobs handled; {twice} handled more than once")
    return 0 if len(handled) == expected and not twice else 1


if __name__ == "__main__":
    sys.exit(main())
