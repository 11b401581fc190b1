"""Publish and receive through a SOCKS5 (or SOCKS4 / HTTP CONNECT) proxy.

Where the network lets nothing out directly, the client can reach the broker through a proxy.
The proxy handshake is done by PySocks (``pip install "mqttclient[proxy]"``); MQTT, TLS and
WebSocket run on top of the tunnel unchanged, and every reconnect goes through the proxy again.

    python samples/socks_proxy.py --broker test.mosquitto.org --proxy-host 127.0.0.1 \\
        --proxy-port 1080 --topic mqttclient/sample --count 3

    # authenticated SOCKS5, password from the environment
    SOCKS_PROXY_PASSWORD=... python samples/socks_proxy.py --broker broker.example.com \\
        --proxy-host proxy.internal --proxy-user alice

Instead of ``proxy_set()`` the proxy may also come from the ``mqtt_proxy`` environment variable
(``socks5://host:1080``, honouring ``no_proxy``), as in paho-mqtt: run with ``--from-env``.
The sample subscribes to its topic, publishes ``--count`` messages at QoS 1 and waits until it
received them back, which shows the tunnel carries traffic both ways.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import uuid
from typing import Optional

import mqttclient.client as mqtt

PASSWORD_ENV = "SOCKS_PROXY_PASSWORD"

# PySocks' constants (socks.SOCKS4, socks.SOCKS5, socks.HTTP), spelled out so that --help works
# without PySocks installed.
PROXY_TYPES = {"socks4": 1, "socks5": 2, "http": 3}


def make_client(
    proxy_type: str,
    proxy_host: str,
    proxy_port: int,
    proxy_user: Optional[str] = None,
    proxy_password: Optional[str] = None,
    client_id: str = "",
) -> mqtt.Client:
    """A client that connects through the given proxy (not connected yet). Raises
    ``ValueError`` naming the extra to install when PySocks is missing."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.proxy_set(
        proxy_type=PROXY_TYPES[proxy_type],
        proxy_addr=proxy_host,
        proxy_port=proxy_port,
        proxy_username=proxy_user,
        proxy_password=proxy_password,
    )
    return client


def echo(
    client: mqtt.Client, host: str, port: int, topic: str, count: int, timeout_s: float
) -> int:
    """Subscribe to ``topic``, publish ``count`` messages, wait for them to come back.
    Returns how many came back within ``timeout_s``."""
    received: queue.Queue[bytes] = queue.Queue()
    subscribed = threading.Event()
    client.on_message = lambda c, userdata, msg: received.put(msg.payload)
    client.on_subscribe = lambda c, userdata, mid, codes, props: subscribed.set()
    client.connect(host, port, keepalive=60)  # raises with a clear message if the proxy refuses
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        if not subscribed.wait(timeout_s):
            raise TimeoutError("the broker did not answer SUBSCRIBE")
        for seq in range(1, count + 1):
            client.publish(topic, f"message {seq} through the proxy", qos=1)
        got = 0
        for _ in range(count):
            try:
                payload = received.get(timeout=timeout_s)
            except queue.Empty:
                break
            got += 1
            print(f"received {payload.decode()!r}")
        return got
    finally:
        client.disconnect()
        client.loop_stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Publish and receive MQTT messages through a SOCKS5 / SOCKS4 / HTTP proxy."
    )
    parser.add_argument("--broker", required=True, help="broker host name or address")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--proxy-host", help="proxy host (required unless --from-env)")
    parser.add_argument("--proxy-port", type=int, default=1080, help="default 1080")
    parser.add_argument("--proxy-type", choices=sorted(PROXY_TYPES), default="socks5")
    parser.add_argument("--proxy-user", help="user name for an authenticating proxy")
    parser.add_argument(
        "--proxy-password", help=f"password for the proxy (better: ${PASSWORD_ENV})"
    )
    parser.add_argument(
        "--from-env", action="store_true", help="take the proxy from $mqtt_proxy instead"
    )
    parser.add_argument("--topic", default=f"mqttclient/sample/{uuid.uuid4().hex[:8]}")
    parser.add_argument("--count", type=int, default=3, help="messages to send (default 3)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.from_env and not args.proxy_host:
        parser.error("--proxy-host is required (or --from-env)")
    try:
        if args.from_env:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        else:
            client = make_client(
                args.proxy_type,
                args.proxy_host,
                args.proxy_port,
                args.proxy_user,
                args.proxy_password or os.environ.get(PASSWORD_ENV),
            )
        got = echo(client, args.broker, args.port, args.topic, args.count, args.timeout)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if got != args.count:
        print(f"error: only {got} of {args.count} messages came back", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
