"""Send telemetry to Azure IoT Hub as a device, with a SAS token renewed on every reconnect.

IoT Hub speaks MQTT 3.1.1 over TLS on port 8883 (or over secure WebSocket on 443, path
``/$iothub/websocket``, for networks that only let HTTPS out). A device authenticates with:

- client id: the device id;
- user name: ``{hub}.azure-devices.net/{device_id}/?api-version=2021-04-12``;
- password: a SAS token, an HMAC-SHA256 signature made with the device's key over the resource
  URI and an expiry time.

IoT Hub closes the connection when the token expires. The token is therefore not set once with
``username_pw_set()`` but produced by a credentials provider
(``client.credentials_provider_set``), which the client calls before every connect and every
automatic reconnect: a device that runs for months always reconnects with a fresh token.

Run it with a device connection string (from the Azure portal or ``az iot hub device-identity
connection-string show``)::

    export IOTHUB_DEVICE_CONNECTION_STRING='HostName=myhub.azure-devices.net;DeviceId=dev1;SharedAccessKey=...'
    python samples/azure_iot_hub.py --count 10
    python samples/azure_iot_hub.py --websockets --count 10

or with ``--hub-host``, ``--device-id`` and ``--device-key``. Telemetry goes to
``devices/{device_id}/messages/events/`` at QoS 1 (IoT Hub does not support QoS 2).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from typing import Callable, Optional
from urllib.parse import quote_plus

import mqttclient.client as mqtt

API_VERSION = "2021-04-12"
TLS_PORT = 8883
WEBSOCKET_PORT = 443
WEBSOCKET_PATH = "/$iothub/websocket"
DEFAULT_TOKEN_TTL_S = 3600
CONNECTION_STRING_ENV = "IOTHUB_DEVICE_CONNECTION_STRING"


def sas_token(uri: str, key: str, expiry: int) -> str:
    """A shared access signature for ``uri`` (e.g. ``myhub.azure-devices.net/devices/dev1``),
    signed with ``key`` (the device's base64 key) and valid until ``expiry`` (Unix time, s).

    The signature is HMAC-SHA256, keyed with the decoded key, over the URL-encoded URI, a newline
    and the expiry; it is sent base64- and then URL-encoded.
    """
    try:
        secret = base64.b64decode(key, validate=True)
    except binascii.Error as exc:
        raise ValueError("the device key must be base64 (as shown in the Azure portal)") from exc
    encoded_uri = quote_plus(uri)
    to_sign = f"{encoded_uri}\n{int(expiry)}".encode()
    signature = base64.b64encode(hmac.new(secret, to_sign, hashlib.sha256).digest()).decode()
    return f"SharedAccessSignature sr={encoded_uri}&sig={quote_plus(signature)}&se={int(expiry)}"


def parse_connection_string(text: str) -> tuple[str, str, str]:
    """``(hub_host, device_id, device_key)`` from a device connection string
    ``HostName=...;DeviceId=...;SharedAccessKey=...``."""
    fields: dict[str, str] = {}
    for part in text.strip().split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    try:
        return fields["HostName"], fields["DeviceId"], fields["SharedAccessKey"]
    except KeyError as exc:
        raise ValueError(
            f"the connection string has no {exc.args[0]}= field (expected "
            "HostName=...;DeviceId=...;SharedAccessKey=...)"
        ) from None


def device_credentials(
    hub_host: str,
    device_id: str,
    device_key: str,
    ttl_s: int = DEFAULT_TOKEN_TTL_S,
    clock: Callable[[], float] = time.time,
) -> Callable[[], mqtt.Credentials]:
    """A credentials provider: every call signs a new token valid for ``ttl_s`` from now."""
    username = f"{hub_host}/{device_id}/?api-version={API_VERSION}"
    resource = f"{hub_host}/devices/{device_id}"

    def provider() -> mqtt.Credentials:
        expiry = int(clock()) + ttl_s
        return mqtt.Credentials(username, sas_token(resource, device_key, expiry))

    return provider


def make_client(
    hub_host: str,
    device_id: str,
    device_key: str,
    *,
    websockets: bool = False,
    use_tls: bool = True,
    ca_certs: Optional[str] = None,
    ttl_s: int = DEFAULT_TOKEN_TTL_S,
    clock: Callable[[], float] = time.time,
) -> mqtt.Client:
    """A client set up for IoT Hub (not connected yet).

    ``use_tls=False`` and ``ca_certs`` exist for tests against a local broker; IoT Hub itself
    always needs TLS, and its CA is in the default (certifi) bundle.
    """
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=device_id,
        protocol=mqtt.MQTTv311,
        transport="websockets" if websockets else "tcp",
    )
    if websockets:
        client.ws_set_options(path=WEBSOCKET_PATH)
    if use_tls:
        client.tls_set(ca_certs=ca_certs)
    client.credentials_provider_set(
        device_credentials(hub_host, device_id, device_key, ttl_s, clock)
    )
    # IoT Hub throttles reconnect storms; back off up to a minute.
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    return client


def telemetry_topic(device_id: str) -> str:
    return f"devices/{device_id}/messages/events/"


def run(
    client: mqtt.Client,
    host: str,
    port: int,
    device_id: str,
    count: int,
    interval_s: float,
    timeout_s: float = 30.0,
) -> None:
    """Connect, publish ``count`` readings ``interval_s`` apart (waiting for each PUBACK),
    disconnect. The first connect raises what went wrong (``OSError`` subclasses with a clear
    message); later connection losses are repaired by the loop thread, each reconnect with a
    fresh token. Raises ``TimeoutError`` if the hub does not accept us within ``timeout_s``."""
    connected = threading.Event()

    def on_connect(
        c: mqtt.Client, userdata: object, flags: object, reason: mqtt.ReasonCode, props: object
    ) -> None:
        if reason.is_failure:
            print(f"connection refused: {reason}", file=sys.stderr)
        else:
            connected.set()

    def on_disconnect(
        c: mqtt.Client, userdata: object, flags: object, reason: mqtt.ReasonCode, props: object
    ) -> None:
        print(f"disconnected ({reason}); reconnecting with a new token", file=sys.stderr)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise TimeoutError(f"not connected to {host}:{port} within {timeout_s:g} s")
        topic = telemetry_topic(device_id)
        for seq in range(1, count + 1):
            body = json.dumps({"seq": seq, "temperature": round(20 + seq % 7 * 0.5, 1)})
            info = client.publish(topic, body, qos=1)
            info.wait_for_publish(timeout_s)
            if not info.is_published():
                raise TimeoutError(f"message {seq} was not acknowledged within {timeout_s:g} s")
            print(f"sent {body}")
            if seq < count:
                time.sleep(interval_s)
    finally:
        client.on_disconnect = None
        client.disconnect()
        client.loop_stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Send telemetry to Azure IoT Hub with a SAS token renewed on every "
        "reconnect (mqttclient credentials provider).",
        epilog=f"The connection string may also come from ${CONNECTION_STRING_ENV}.",
    )
    parser.add_argument("--connection-string", help="HostName=...;DeviceId=...;SharedAccessKey=...")
    parser.add_argument("--hub-host", help="e.g. myhub.azure-devices.net")
    parser.add_argument("--device-id")
    parser.add_argument("--device-key", help="the device's primary key (base64)")
    parser.add_argument(
        "--websockets",
        action="store_true",
        help=f"MQTT over secure WebSocket on port {WEBSOCKET_PORT} ({WEBSOCKET_PATH})",
    )
    parser.add_argument("--host", help="connect here instead of the hub host (gateways, tests)")
    parser.add_argument(
        "--port", type=int, help=f"default {TLS_PORT}, or {WEBSOCKET_PORT} with --websockets"
    )
    parser.add_argument("--ca-certs", help="PEM CA bundle (default: certifi's public CAs)")
    parser.add_argument("--token-ttl", type=int, default=DEFAULT_TOKEN_TTL_S, help="seconds")
    parser.add_argument("--count", type=int, default=5, help="messages to send (default 5)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    connection_string = args.connection_string or os.environ.get(CONNECTION_STRING_ENV)
    try:
        if connection_string:
            hub_host, device_id, device_key = parse_connection_string(connection_string)
        elif args.hub_host and args.device_id and args.device_key:
            hub_host, device_id, device_key = args.hub_host, args.device_id, args.device_key
        else:
            print(
                "give --connection-string (or set $IOTHUB_DEVICE_CONNECTION_STRING), or "
                "--hub-host, --device-id and --device-key",
                file=sys.stderr,
            )
            return 2
        sas_token("check", device_key, 0)  # a malformed key is reported before connecting
        client = make_client(
            hub_host,
            device_id,
            device_key,
            websockets=args.websockets,
            ca_certs=args.ca_certs,
            ttl_s=args.token_ttl,
        )
        port = args.port or (WEBSOCKET_PORT if args.websockets else TLS_PORT)
        run(client, args.host or hub_host, port, device_id, args.count, args.interval)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
