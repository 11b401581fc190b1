"""Drive the client from your own ``select()`` loop instead of a network thread.

Programs that already have an event loop (a GUI toolkit, a game loop, a server built on
``select``/``poll``) can run the client inside it, on one thread, with four calls:

* ``client.socket()``: the socket to watch (``None`` when not connected);
* ``client.want_write()``: True while bytes wait to be sent, i.e. watch for writability too;
* ``client.loop_read()`` when the socket is readable, ``client.loop_write()`` when writable;
* ``client.loop_misc()`` about once a second, for keepalive pings and timeouts.

Callbacks then run on your loop's thread, inside ``loop_read``. This sample subscribes to a
topic, publishes ``--count`` messages to it at QoS 1 and runs the loop until they are all back.

    python samples/external_loop_select.py --host localhost --count 5
"""

from __future__ import annotations

import argparse
import select
import sys
import time
import uuid
from typing import Any, Optional

import mqttclient.client as mqtt

MISC_INTERVAL_S = 1.0


def run(host: str, port: int, topic: str, count: int, timeout_s: float) -> int:
    """Returns how many of the ``count`` messages came back within ``timeout_s``."""
    received: list[bytes] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        print(f"connected ({reason})", flush=True)
        client.subscribe(topic, qos=1)

    def on_subscribe(
        client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], props: Any
    ) -> None:
        # Publishing from a callback is fine: it only queues bytes for loop_write().
        for n in range(1, count + 1):
            client.publish(topic, f"message {n}", qos=1)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        received.append(msg.payload)
        print(f"received {msg.payload.decode()}", flush=True)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port, keepalive=30)  # no loop_start(): we drive it below

    deadline = time.monotonic() + timeout_s
    next_misc = time.monotonic() + MISC_INTERVAL_S
    while len(received) < count:
        now = time.monotonic()
        if now >= deadline:
            break
        sock = client.socket()
        if sock is None:
            print("connection closed", flush=True)
            break
        wait = min(deadline, next_misc) - now
        writers = [sock] if client.want_write() else []
        readable, writable, _ = select.select([sock], writers, [], max(0.0, wait))
        if readable:
            client.loop_read()
        if writable:
            client.loop_write()
        if time.monotonic() >= next_misc:
            client.loop_misc()
            next_misc = time.monotonic() + MISC_INTERVAL_S

    client.disconnect()  # without a loop thread this flushes and closes right here
    return len(received)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--topic", default=f"samples/select/{uuid.uuid4().hex[:8]}")
    parser.add_argument("--count", type=int, default=5, help="messages to send (default 5)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    args = parser.parse_args(argv)
    try:
        got = run(args.host, args.port, args.topic, args.count, args.timeout)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{got} of {args.count} messages came back")
    return 0 if got == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
