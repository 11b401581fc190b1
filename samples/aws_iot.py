"""Publish to AWS IoT Core with mutual TLS, on port 443 through ALPN or on port 8883.

AWS IoT authenticates a device ("thing") by its X.509 client certificate. MQTT normally runs on
port 8883; networks that only let HTTPS out can use port 443, where the device must offer the
ALPN protocol ``x-amzn-mqtt-ca`` in its TLS handshake so that AWS routes the connection to MQTT.
This sample does that with ``tls_set(..., alpn_protocols=["x-amzn-mqtt-ca"])``.

Run it with the files AWS gives when the thing is created::

    python samples/aws_iot.py --endpoint abc123-ats.iot.eu-west-1.amazonaws.com \\
        --cert device.pem.crt --key private.pem.key --client-id my-thing \\
        --topic sensors/my-thing --count 3

The Amazon Root CA that signs the ``-ats`` endpoints is in the default (certifi) bundle; pass
``--ca AmazonRootCA1.pem`` to pin it. The private key may be encrypted (``--key-password``, or
the environment variable ``AWS_IOT_KEY_PASSWORD``). ALPN is offered on port 443 only, unless
``--alpn``/``--no-alpn`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Optional

import mqttclient.client as mqtt

ALPN_PROTOCOL = "x-amzn-mqtt-ca"
ALPN_PORT = 443
MQTT_TLS_PORT = 8883
KEY_PASSWORD_ENV = "AWS_IOT_KEY_PASSWORD"


def make_client(
    client_id: str,
    certfile: str,
    keyfile: str,
    *,
    ca_certs: Optional[str] = None,
    key_password: Optional[str] = None,
    alpn: bool = True,
) -> mqtt.Client:
    """A client with mutual TLS set up for AWS IoT (not connected yet). ``alpn`` offers
    ``x-amzn-mqtt-ca``, which AWS requires for MQTT on port 443."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.tls_set(
        ca_certs=ca_certs,
        certfile=certfile,
        keyfile=keyfile,
        keyfile_password=key_password,
        alpn_protocols=[ALPN_PROTOCOL] if alpn else None,
    )
    return client


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Publish to AWS IoT Core with a device certificate (mutual TLS); port 443 "
        f"uses ALPN {ALPN_PROTOCOL}."
    )
    parser.add_argument(
        "--endpoint", required=True, help="e.g. abc123-ats.iot.<region>.amazonaws.com"
    )
    parser.add_argument("--cert", required=True, help="device certificate (PEM)")
    parser.add_argument("--key", required=True, help="device private key (PEM)")
    parser.add_argument("--ca", help="CA bundle (PEM); default: certifi's public CAs")
    parser.add_argument(
        "--key-password", help=f"password of an encrypted key (or ${KEY_PASSWORD_ENV})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=ALPN_PORT,
        help=f"{ALPN_PORT} (ALPN, default) or {MQTT_TLS_PORT}",
    )
    parser.add_argument(
        "--alpn",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"offer ALPN {ALPN_PROTOCOL} (default: only on port {ALPN_PORT})",
    )
    parser.add_argument("--client-id", default="mqttclient-sample", help="usually the thing name")
    parser.add_argument("--topic", default="sdk/test/python")
    parser.add_argument("--count", type=int, default=3, help="messages to send (default 3)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for acks")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    password = args.key_password or os.environ.get(KEY_PASSWORD_ENV)
    try:
        client = make_client(
            args.client_id,
            args.cert,
            args.key,
            ca_certs=args.ca,
            key_password=password,
            alpn=args.port == ALPN_PORT if args.alpn is None else args.alpn,
        )
        client.connect(args.endpoint, args.port, keepalive=60)
        client.loop_start()
        try:
            for seq in range(1, args.count + 1):
                body = json.dumps({"seq": seq, "client": args.client_id})
                info = client.publish(args.topic, body, qos=1)
                info.wait_for_publish(args.timeout)
                if not info.is_published():
                    print(f"error: message {seq} not acknowledged", file=sys.stderr)
                    return 1
                print(f"published {body} to {args.topic}")
                if seq < args.count:
                    time.sleep(args.interval)
        finally:
            client.disconnect()
            client.loop_stop()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
