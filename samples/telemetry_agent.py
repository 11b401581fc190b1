"""A telemetry agent that answers commands with MQTT 5 request/response.

The agent subscribes to ``<prefix>/<device>/commands/+``. A request is a PUBLISH whose topic
ends in the command name, with the MQTT 5 properties *Response Topic* (where to answer) and,
usually, *Correlation Data* (an opaque id the requester uses to match the answer, copied back
unchanged). The agent answers on the response topic with a JSON payload, the same correlation
data, Content Type ``application/json`` and a user property ``status`` (``ok`` or ``error``).
Requests without a response topic are ignored: there is nowhere to answer.

Commands: ``ping``; ``telemetry`` (uptime, load average, CPU temperature when there is one);
``echo`` (returns the request's JSON payload).

    python samples/telemetry_agent.py --host localhost --device pump-7
    python samples/telemetry_agent.py --host localhost --device pump-7 --ask telemetry

``--ask COMMAND`` is the requester side: it subscribes to a private reply topic, sends one
request and prints the answer (exit 3 if none arrives within ``--timeout``). The agent stops by
itself after ``--max-requests`` answers or ``--duration`` seconds, and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import mqttclient.client as mqtt
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties

STARTED = time.monotonic()


def telemetry() -> dict[str, Any]:
    """What the agent reports about its machine."""
    data: dict[str, Any] = {"uptime_s": round(time.monotonic() - STARTED, 3)}
    if hasattr(os, "getloadavg"):
        data["load"] = [round(x, 2) for x in os.getloadavg()]
    try:
        raw = Path("/sys/class/thermal/thermal_zone0/temp").read_text().strip()
        data["cpu_temperature"] = int(raw) / 1000.0
    except (OSError, ValueError):
        pass
    return data


def handle(command: str, payload: bytes) -> tuple[str, dict[str, Any]]:
    """Run ``command``; returns ``(status, answer)``."""
    if command == "ping":
        return "ok", {"pong": True}
    if command == "telemetry":
        return "ok", telemetry()
    if command == "echo":
        try:
            return "ok", {"echo": json.loads(payload or b"null")}
        except ValueError:
            return "error", {"error": "echo needs a JSON payload"}
    return "error", {
        "error": f"unknown command {command!r}",
        "commands": ["ping", "telemetry", "echo"],
    }


class Agent:
    """Answers requests; callbacks run on the client's network thread."""

    def __init__(self, client: mqtt.Client, base: str, max_requests: int) -> None:
        self.client = client
        self.filter = f"{base}/commands/+"
        self.answered = 0
        self.max_requests = max_requests
        self.done = threading.Event()
        client.on_connect = self.on_connect
        client.on_subscribe = self.on_subscribe
        client.on_message = self.on_message

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            print(f"broker refused the connection: {reason}", flush=True)
            return
        # Subscribe in on_connect, so that a reconnect without a session subscribes again.
        client.subscribe(self.filter, qos=1)

    def on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], props: Any
    ) -> None:
        print(f"listening on {self.filter} ({reasons[0]})", flush=True)

    def on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        request = msg.properties
        response_topic = getattr(request, "ResponseTopic", None)
        if not response_topic:
            print(f"ignoring {msg.topic}: no response topic to answer on", flush=True)
            return
        command = msg.topic.rsplit("/", 1)[-1]
        status, answer = handle(command, msg.payload)
        reply = Properties(PacketTypes.PUBLISH)
        reply.ContentType = "application/json"
        reply.UserProperty = ("status", status)
        correlation = getattr(request, "CorrelationData", None)
        if correlation is not None:
            reply.CorrelationData = correlation  # copied unchanged (MQTT 5.0 §4.10)
        client.publish(response_topic, json.dumps(answer), qos=1, properties=reply)
        self.answered += 1
        print(f"answered {command!r} on {response_topic} ({status})", flush=True)
        if self.max_requests and self.answered >= self.max_requests:
            self.done.set()


def run_agent(args: argparse.Namespace, base: str) -> int:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5
    )
    agent = Agent(client, base, args.max_requests)
    client.connect_async(args.host, args.port, keepalive=30)
    client.loop_start()  # connects, and reconnects after a failure, by itself
    try:
        agent.done.wait(args.duration)
    except KeyboardInterrupt:
        pass
    client.disconnect()
    client.loop_stop()
    print(f"answered {agent.answered} requests")
    return 0


def ask(args: argparse.Namespace, base: str) -> int:
    """Send one request and print the answer."""
    correlation = uuid.uuid4().bytes
    reply_topic = f"{base}/replies/{uuid.uuid4().hex}"
    subscribed = threading.Event()
    answered = threading.Event()
    result: dict[str, Any] = {}

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = msg.properties
        if getattr(props, "CorrelationData", None) != correlation:
            return  # an answer to somebody else's request
        status = dict(getattr(props, "UserProperty", [])).get("status", "?")
        result.update(status=status, answer=json.loads(msg.payload))
        answered.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda c, userdata, mid, reasons, props: subscribed.set()
    try:
        client.connect(args.host, args.port, keepalive=30)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    client.loop_start()
    try:
        # Subscribe to the reply topic before asking, or a fast answer could be missed.
        client.subscribe(reply_topic, qos=1)
        if not subscribed.wait(args.timeout):
            print("error: the broker did not acknowledge the subscription", file=sys.stderr)
            return 1
        request = Properties(PacketTypes.PUBLISH)
        request.ResponseTopic = reply_topic
        request.CorrelationData = correlation
        payload = args.payload.encode() if args.payload else b""
        topic = f"{base}/commands/{args.ask}"
        client.publish(topic, payload, qos=1, properties=request)
        if not answered.wait(args.timeout):
            print(f"error: no answer within {args.timeout:g} s", file=sys.stderr)
            return 3
    finally:
        client.disconnect()
        client.loop_stop()
    print(json.dumps(result, sort_keys=True))
    return 0 if result["status"] == "ok" else 1


def build_parser() -> argparse.ArgumentParser:
    hostname = socket.gethostname().split(".")[0] or "device"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--device", default=hostname, help="device name (default: host name)")
    parser.add_argument("--prefix", default="devices", help="topic prefix (default devices)")
    parser.add_argument("--client-id", default="", help="client id of the agent")
    parser.add_argument("--duration", type=float, help="agent: stop after this many seconds")
    parser.add_argument(
        "--max-requests", type=int, default=0, help="agent: stop after N answers (0: never)"
    )
    parser.add_argument("--ask", metavar="COMMAND", help="send one request instead of serving")
    parser.add_argument("--payload", default="", help="--ask: JSON payload of the request")
    parser.add_argument("--timeout", type=float, default=10.0, help="--ask: seconds to wait")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    base = f"{args.prefix}/{args.device}"
    if args.ask:
        return ask(args, base)
    return run_agent(args, base)


if __name__ == "__main__":
    sys.exit(main())
