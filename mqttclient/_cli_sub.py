"""``mqttclient sub``: subscribe to topic filters and print what arrives: the payload, topic and
payload (``-v``) or one JSON object per line (``--json``); stop after ``-C`` messages or when
``-W`` seconds have passed.

Owns the output formats. Messages are written on the network-loop thread as they arrive, one
flushed line each, so a pipe reader sees them at once. Must not wait without a deadline when
``-W`` is given, nor print more than ``-C`` messages.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
from typing import Any, Optional

import mqttclient.client as mqtt
from mqttclient._cli_common import (
    ExitCode,
    TimedOut,
    UsageError,
    add_common_options,
    build_client,
    check_common,
    non_negative_int,
    qos_type,
    seconds_type,
    user_properties,
)
from mqttclient._cli_link import Link
from mqttclient.errors import InvalidTopicError
from mqttclient.matcher import validate_topic_filter
from mqttclient.packettypes import PacketTypes

__all__ = ["add_parser", "message_json", "run"]


def add_parser(commands: Any, epilog: str) -> None:
    parser = commands.add_parser(
        "sub",
        help="subscribe and print messages",
        description="Subscribe to topic filters and print the messages that arrive.",
        add_help=False,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--help", action="help", help="show this help and exit")
    sub = parser.add_argument_group("what to receive")
    sub.add_argument(
        "-t",
        "--topic",
        action="append",
        required=True,
        metavar="FILTER",
        help="topic filter to subscribe to (repeat for more; + and # wildcards)",
    )
    sub.add_argument("-q", "--qos", type=qos_type, default=0, metavar="{0,1,2}", help="QoS (0)")
    sub.add_argument(
        "-C", "--count", type=non_negative_int, metavar="N", help="exit after N messages"
    )
    sub.add_argument(
        "-W",
        "--timeout",
        type=seconds_type,
        metavar="SECONDS",
        help="stop after SECONDS; exit 3 if -C messages had not arrived by then",
    )
    sub.add_argument(
        "-R", "--no-retained", action="store_true", help="skip retained (stale) messages"
    )
    out = sub.add_mutually_exclusive_group()
    out.add_argument("-v", "--verbose", action="store_true", help="print the topic, then payload")
    out.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per message: topic, payload, qos, retain, properties",
    )
    add_common_options(parser)


def _check(args: argparse.Namespace) -> None:
    check_common(args, [])
    v5 = args.protocol_version == mqtt.MQTTv5
    for flt in args.topic:
        try:
            validate_topic_filter(flt, shared_subscriptions=v5)
        except InvalidTopicError as exc:
            raise UsageError(str(exc)) from exc


def message_json(msg: mqtt.MQTTMessage) -> str:
    """One message as a JSON line: ``topic``, ``payload`` (text if it is UTF-8, else base64
    with ``payload_base64`` true), ``qos``, ``retain`` and ``properties`` (MQTT 5 property
    names; ``UserProperty`` as ``[key, value]`` pairs, ``CorrelationData`` as hex; empty
    before MQTT 5)."""
    try:
        payload = msg.payload.decode("utf-8")
        encoded = False
    except UnicodeDecodeError:
        payload = base64.b64encode(msg.payload).decode("ascii")
        encoded = True
    props: dict[str, Any] = {} if msg.properties is None else msg.properties.json()
    record = {
        "topic": msg.topic,
        "payload": payload,
        "payload_base64": encoded,
        "qos": msg.qos,
        "retain": bool(msg.retain),
        "properties": props,
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class _Printer:
    """Writes each message as one line to stdout; counts them against ``-C``."""

    def __init__(self, link: Link, args: argparse.Namespace) -> None:
        self.link = link
        self.args = args
        self.count = 0
        self.done = False
        self.broken_pipe = False
        self._lock = threading.Lock()
        stream: Any = sys.stdout
        self._text = stream
        self._binary = getattr(stream, "buffer", None)

    def on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        args = self.args
        if args.no_retained and msg.retain:
            return
        with self._lock:
            if self.done:
                return
            try:
                self._write(msg)
            except BrokenPipeError:
                # The reader went away (e.g. `| head -1`): stop quietly.
                self.broken_pipe = self.done = True
                self.link.changed.set()
                return
            self.count += 1
            if args.count is not None and self.count >= args.count:
                self.done = True
                self.link.changed.set()

    def _write(self, msg: mqtt.MQTTMessage) -> None:
        if self.args.json:
            self._text.write(message_json(msg) + "\n")
            self._text.flush()
            return
        line = msg.payload + b"\n"
        if self.args.verbose:
            line = msg.topic.encode("utf-8") + b" " + line
        if self._binary is not None:
            self._text.flush()
            self._binary.write(line)
            self._binary.flush()
        else:
            self._text.write(line.decode("utf-8", "replace"))
            self._text.flush()


def run(args: argparse.Namespace, prog: str) -> int:
    """Run ``sub``; returns the exit status (raises UsageError/Failure/TimedOut/
    KeyboardInterrupt)."""
    _check(args)
    if args.count == 0:
        return ExitCode.OK
    client = build_client(args)
    link = Link(prog, client, args)
    printer = _Printer(link, args)
    client.on_message = printer.on_message
    topics = [(flt, args.qos) for flt in args.topic]
    props = user_properties(args, PacketTypes.SUBSCRIBE)

    def subscribe() -> None:
        # On the loop thread, after every accepted CONNACK: a reconnect resubscribes.
        client.subscribe(topics, properties=props)

    def on_subscribe(
        client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], properties: Any
    ) -> None:
        for (flt, _), reason in zip(topics, reasons):
            if reason.is_failure:
                link.fail(f"the broker refused the subscription to {flt!r}: {reason}")

    link.on_connected = subscribe
    client.on_subscribe = on_subscribe
    deadline: Optional[float] = None
    try:
        link.open()
        if args.timeout is not None:
            deadline = time.monotonic() + args.timeout
        while not printer.done:
            link.check()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            link.changed.wait(remaining)
            link.changed.clear()
        link.check()
    finally:
        link.close()
    if printer.broken_pipe:
        _silence_stdout()
        return ExitCode.OK
    if args.count is not None and printer.count < args.count:
        raise TimedOut(
            f"timed out after {args.timeout:g} s with {printer.count} of {args.count} messages"
        )
    return ExitCode.OK


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the reader gone that would print a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
