"""MQTT 5 request/response with ``client.request()`` and ``client.respond()``.

A small "adder" service answers requests on ``<prefix>/add``: the payload is a JSON list of
numbers, the answer a JSON object ``{"sum": ...}`` (or ``{"error": ...}``), sent by
``respond()`` to the request's Response Topic with its Correlation Data. The requester calls
``request()``, which subscribes once to a private response topic, publishes the request and
blocks until the matching answer arrives; several threads share one client.

    python samples/request_response.py --host localhost                 # both sides at once
    python samples/request_response.py --host localhost --serve         # the service only
    python samples/request_response.py --host localhost --ask 1 2 3.5   # one request

Both sides in one process (the default) send ``--count`` requests from ``--threads`` threads and
stop. ``--serve`` runs until ``--max-requests`` answers, ``--duration`` seconds or Ctrl-C.
Exit status 3 when a request got no answer within ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import mqttclient.client as mqtt
from mqttclient.errors import RequestTimeoutError
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties


class Adder:
    """The service side; callbacks run on the client's network thread."""

    def __init__(self, client: mqtt.Client, topic: str, max_requests: int) -> None:
        self.client = client
        self.topic = topic
        self.max_requests = max_requests
        self.answered = 0
        self.ready = threading.Event()
        self.done = threading.Event()
        client.on_connect = self.on_connect
        client.on_subscribe = lambda *args: self.ready.set()

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            print(f"broker refused the connection: {reason}", flush=True)
            return
        # In on_connect, so that a reconnect without a session subscribes again. The callback
        # gets only this subscription's messages (routed by Subscription Identifier).
        client.subscribe(self.topic, qos=1, callback=self.on_request)

    def on_request(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            numbers = json.loads(msg.payload)
            if not isinstance(numbers, list) or not all(
                isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers
            ):
                raise ValueError("expected a JSON list of numbers")
            answer: dict[str, Any] = {"sum": sum(numbers)}
        except ValueError as exc:
            answer = {"error": str(exc)}
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        try:
            client.respond(msg, json.dumps(answer), qos=1, properties=props)
        except ValueError:
            print(f"ignoring a message on {msg.topic}: no response topic", flush=True)
            return
        self.answered += 1
        if self.max_requests and self.answered >= self.max_requests:
            self.done.set()


def new_client(client_id: str = "") -> mqtt.Client:
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def start(client: mqtt.Client, args: argparse.Namespace) -> mqtt.Client:
    """Connect and start the network thread (set the callbacks before: the CONNACK may be
    handled at once). ``request()`` waits for the CONNACK itself."""
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    return client


def ask_all(client: mqtt.Client, topic: str, requests: list[list[float]], args: Any) -> int:
    """Send every request (from ``args.threads`` threads); print each answer."""

    def ask(numbers: list[float]) -> Optional[Any]:
        try:
            reply = client.request(topic, json.dumps(numbers), qos=1, timeout=args.timeout)
        except RequestTimeoutError as exc:
            print(f"no answer: {exc}", flush=True)
            return None
        return json.loads(reply.payload)

    with ThreadPoolExecutor(max_workers=max(1, args.threads)) as pool:
        answers = list(pool.map(ask, requests))
    for numbers, answer in zip(requests, answers):
        if answer is not None:
            print(f"sum of {numbers} = {answer.get('sum', answer)}", flush=True)
    answered = sum(answer is not None for answer in answers)
    print(f"{answered} of {len(requests)} requests answered")
    return 0 if answered == len(requests) else 3


def run_both(args: argparse.Namespace, topic: str) -> int:
    service = new_client(args.client_id)
    adder = Adder(service, topic, 0)
    start(service, args)
    requester = start(new_client(), args)
    try:
        if not adder.ready.wait(args.timeout):
            print("error: the service's subscription was not acknowledged", file=sys.stderr)
            return 1
        rng = random.Random(args.seed)
        requests = [
            [rng.randint(0, 100) for _ in range(rng.randint(1, 4))] for _ in range(args.count)
        ]
        return ask_all(requester, topic, requests, args)
    finally:
        for client in (requester, service):
            client.disconnect()
            client.loop_stop()


def serve(args: argparse.Namespace, topic: str) -> int:
    client = new_client(args.client_id)
    adder = Adder(client, topic, args.max_requests)
    start(client, args)
    try:
        adder.done.wait(args.duration)
    except KeyboardInterrupt:
        pass
    client.disconnect()
    client.loop_stop()
    print(f"answered {adder.answered} requests")
    return 0


def ask_once(args: argparse.Namespace, topic: str) -> int:
    client = start(new_client(), args)
    try:
        return ask_all(client, topic, [args.ask], args)
    finally:
        client.disconnect()
        client.loop_stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--prefix", default="services/adder", help="topic prefix")
    parser.add_argument("--client-id", default="", help="client id of the service")
    parser.add_argument("--count", type=int, default=5, help="requests to send (default 5)")
    parser.add_argument("--threads", type=int, default=4, help="requesting threads (default 4)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random requests")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait per answer")
    parser.add_argument("--serve", action="store_true", help="run the service only")
    parser.add_argument("--duration", type=float, help="--serve: stop after this many seconds")
    parser.add_argument(
        "--max-requests", type=int, default=0, help="--serve: stop after N answers (0: never)"
    )
    parser.add_argument(
        "--ask", nargs="+", type=float, metavar="NUMBER", help="send one request and stop"
    )
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    topic = f"{args.prefix}/add"
    try:
        if args.serve:
            return serve(args, topic)
        if args.ask:
            return ask_once(args, topic)
        return run_both(args, topic)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
