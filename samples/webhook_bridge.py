"""Forward MQTT messages to an HTTP endpoint (a webhook), retrying when it fails.

Every message matching ``--topic`` (a filter, repeatable) is POSTed to ``--url`` as JSON::

    {"topic": "sensors/kitchen", "payload": "21.5", "payload_base64": false,
     "qos": 1, "retain": false}

(a payload that is not UTF-8 is sent in base64 with ``payload_base64`` true). A failed POST
(connection error, timeout, HTTP 429 or 5xx) is retried with exponential backoff: ``--retry-delay``
doubling up to ``--max-delay``, at most ``--retries`` times; other 4xx answers are not retried.

The bridge acknowledges a QoS 1/2 message to the broker (``manual_ack``) only after the endpoint
accepted it or the bridge gave up on it. With ``--persistent`` (the broker keeps the session
across restarts; needs ``--client-id``) the broker therefore sends again what the bridge had not
finished when it stopped or crashed: at-least-once delivery to the webhook. While the endpoint is
down the bridge stops reading from the broker, which holds the messages meanwhile.

    pip install requests
    python samples/webhook_bridge.py --host localhost --topic 'sensors/#' \\
        --url https://example.com/hooks/mqtt --header 'Authorization: Bearer ...'

Stops by itself after ``--count`` messages or ``--duration`` seconds, and on Ctrl-C. Exit
status 1 if any message could not be delivered.
"""

from __future__ import annotations

import argparse
import base64
import queue
import sys
import threading
import time
from typing import Any, Optional

import mqttclient.client as mqtt

try:
    import requests
except ImportError:  # pragma: no cover - requests is this sample's one extra dependency
    requests = None

#: Messages waiting for the HTTP side; when full, the network thread waits (backpressure).
QUEUE_SIZE = 100


def message_body(msg: mqtt.MQTTMessage) -> dict[str, Any]:
    """The JSON document POSTed for ``msg``."""
    try:
        payload, encoded = msg.payload.decode("utf-8"), False
    except UnicodeDecodeError:
        payload, encoded = base64.b64encode(msg.payload).decode("ascii"), True
    return {
        "topic": msg.topic,
        "payload": payload,
        "payload_base64": encoded,
        "qos": msg.qos,
        "retain": bool(msg.retain),
    }


def retryable(status: Optional[int]) -> bool:
    """Retry network errors (``None``), 429 Too Many Requests and server errors."""
    return status is None or status == 429 or status >= 500


class Forwarder:
    """POSTs messages with bounded retries (on the calling thread)."""

    def __init__(self, args: argparse.Namespace) -> None:
        assert requests is not None
        self.url = args.url
        self.retries = args.retries
        self.retry_delay = args.retry_delay
        self.max_delay = args.max_delay
        self.timeout = args.http_timeout
        self.session = requests.Session()
        for header in args.header:
            name, _, value = header.partition(":")
            self.session.headers[name.strip()] = value.strip()
        self.stop = threading.Event()

    def post(self, body: dict[str, Any]) -> bool:
        """POST ``body``; True once the endpoint answered 2xx, False after giving up."""
        delay = self.retry_delay
        for attempt in range(self.retries + 1):
            status: Optional[int] = None
            try:
                answer = self.session.post(self.url, json=body, timeout=self.timeout)
                status = answer.status_code
                if 200 <= status < 300:
                    return True
                why = f"HTTP {status}"
            except requests.RequestException as exc:
                why = type(exc).__name__
            if not retryable(status) or attempt == self.retries:
                print(f"giving up on {body['topic']}: {why}", flush=True)
                return False
            print(f"{body['topic']}: {why}; retry {attempt + 1} in {delay:g} s", flush=True)
            if self.stop.wait(delay):
                return False
            delay = min(self.max_delay, delay * 2)
        return False  # pragma: no cover - the loop always returns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--client-id", default="", help="MQTT client id")
    parser.add_argument(
        "--persistent",
        action="store_true",
        help="keep the broker session (needs --client-id): unfinished messages are resent",
    )
    parser.add_argument(
        "--topic", action="append", help="topic filter to forward (repeatable; default sensors/#)"
    )
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--url", required=True, help="the endpoint to POST to")
    parser.add_argument(
        "--header", action="append", default=[], help="extra HTTP header 'Name: value'"
    )
    parser.add_argument("--retries", type=int, default=5, help="retries per message (5)")
    parser.add_argument("--retry-delay", type=float, default=0.5, help="first backoff (0.5 s)")
    parser.add_argument("--max-delay", type=float, default=30.0, help="longest backoff (30 s)")
    parser.add_argument("--http-timeout", type=float, default=10.0, help="per POST (10 s)")
    parser.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if requests is None:
        print("error: this sample needs requests: pip install requests", file=sys.stderr)
        return 2
    if args.persistent and not args.client_id:
        print("error: --persistent needs --client-id", file=sys.stderr)
        return 2
    filters = args.topic or ["sensors/#"]
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue(QUEUE_SIZE)
    forwarder = Forwarder(args)

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            print(f"broker refused the connection: {reason}", flush=True)
            return
        client.subscribe([(flt, args.qos) for flt in filters])

    def on_subscribe(
        client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], props: Any
    ) -> None:
        print(f"forwarding {', '.join(filters)} to {args.url}", flush=True)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # Wait while the HTTP side is behind (backpressure), but not past the end: a message
        # dropped here was not acknowledged, so a persistent session gets it again.
        while not forwarder.stop.is_set():
            try:
                inbox.put(msg, timeout=0.5)
                return
            except queue.Full:
                continue

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=args.client_id,
        clean_session=not args.persistent,
        manual_ack=True,
    )
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect_async(args.host, args.port, keepalive=30)
    client.loop_start()

    deadline = None if args.duration is None else time.monotonic() + args.duration
    handled = failed = 0
    try:
        while not args.count or handled < args.count:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                break
            try:
                msg = inbox.get(timeout=timeout)
            except queue.Empty:
                break
            if not forwarder.post(message_body(msg)):
                failed += 1
            # Acknowledge only now: a crash before this point makes the broker resend it.
            client.ack(msg.mid, msg.qos)
            handled += 1
    except KeyboardInterrupt:
        pass
    forwarder.stop.set()
    client.disconnect()
    client.loop_stop()
    print(f"forwarded {handled - failed} messages, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
