"""``mqttclient pub``: publish one message, a file, stdin (whole or line by line) or ``--count``
generated messages, then disconnect once the broker has acknowledged them.

Owns the message sources, the bounded window of unacknowledged messages and the progress bar.
Must not keep an unbounded number of messages in memory, nor wait without a deadline.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Iterator
from typing import IO, Any, Optional

import mqttclient.client as mqtt
from mqttclient._cli_common import (
    ExitCode,
    Failure,
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
from mqttclient.matcher import validate_topic_name
from mqttclient.packettypes import PacketTypes

__all__ = ["add_parser", "run"]

#: Messages published but not yet acknowledged before ``pub`` waits for the oldest one.
WINDOW = 1000
#: ``--count`` from which a progress bar is shown (when stdout is a terminal).
PROGRESS_FROM = 2000
#: Default seconds ``pub`` waits for the broker to acknowledge anything before giving up.
ACK_TIMEOUT_S = 30.0


def add_parser(commands: Any, epilog: str) -> None:
    parser = commands.add_parser(
        "pub",
        help="publish messages",
        description="Publish a message, a file, stdin or generated messages to one topic.",
        add_help=False,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--help", action="help", help="show this help and exit")
    msg = parser.add_argument_group("what to publish")
    msg.add_argument("-t", "--topic", required=True, help="topic to publish to")
    msg.add_argument("-q", "--qos", type=qos_type, default=0, metavar="{0,1,2}", help="QoS (0)")
    msg.add_argument("-r", "--retain", action="store_true", help="ask the broker to retain it")
    source = msg.add_mutually_exclusive_group()
    source.add_argument("-m", "--message", help="the payload (a template with --count)")
    source.add_argument("-f", "--file", metavar="FILE", help="send FILE as one message")
    source.add_argument("-s", "--stdin-file", action="store_true", help="send stdin as one message")
    source.add_argument(
        "-l", "--stdin-line", action="store_true", help="send each line of stdin as a message"
    )
    source.add_argument("-n", "--null-message", action="store_true", help="send an empty message")
    msg.add_argument(
        "--count",
        type=non_negative_int,
        metavar="N",
        help="send N messages: -m's text with {i} replaced by 1..N (default text: {i})",
    )
    msg.add_argument(
        "--interval", type=seconds_type, metavar="SECONDS", help="pause between messages"
    )
    msg.add_argument(
        "-W",
        "--timeout",
        type=seconds_type,
        default=ACK_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up (exit 3) when the broker acknowledges nothing for this long ({ACK_TIMEOUT_S:g})",
    )
    v5 = add_common_options(parser)
    v5.add_argument("--content-type", metavar="TYPE", help="e.g. application/json")
    v5.add_argument("--message-expiry", type=non_negative_int, metavar="SECONDS")
    v5.add_argument("--response-topic", metavar="TOPIC")
    v5.add_argument("--correlation-data", metavar="TEXT", help="sent as its UTF-8 bytes")


def _check(args: argparse.Namespace) -> None:
    v5_only = [
        option
        for option, value in (
            ("--content-type", args.content_type),
            ("--message-expiry", args.message_expiry),
            ("--response-topic", args.response_topic),
            ("--correlation-data", args.correlation_data),
        )
        if value is not None
    ]
    check_common(args, v5_only)
    try:
        validate_topic_name(args.topic)
        if args.response_topic is not None:
            validate_topic_name(args.response_topic)
    except InvalidTopicError as exc:
        raise UsageError(str(exc)) from exc
    if args.count is not None:
        if args.file or args.stdin_file or args.stdin_line or args.null_message:
            raise UsageError("--count repeats the -m text; it cannot be used with -f, -s, -l or -n")
    elif not (
        args.message is not None
        or args.file
        or args.stdin_file
        or args.stdin_line
        or args.null_message
    ):
        raise UsageError("say what to publish: -m, -f, -s, -l, -n or --count")


def _properties(args: argparse.Namespace) -> Optional[mqtt.Properties]:
    props = user_properties(args, PacketTypes.PUBLISH)
    extra = {
        "ContentType": args.content_type,
        "MessageExpiryInterval": args.message_expiry,
        "ResponseTopic": args.response_topic,
        "CorrelationData": None
        if args.correlation_data is None
        else args.correlation_data.encode("utf-8"),
    }
    for name, value in extra.items():
        if value is not None:
            if props is None:
                props = mqtt.Properties(PacketTypes.PUBLISH)
            setattr(props, name, value)
    return props


def _stdin() -> IO[Any]:
    """stdin as bytes when possible (a replaced ``sys.stdin`` may be text only)."""
    binary: Optional[IO[bytes]] = getattr(sys.stdin, "buffer", None)
    return sys.stdin if binary is None else binary


def _messages(args: argparse.Namespace) -> Iterator[bytes]:
    """The payloads to send, read lazily (stdin lines as they arrive)."""
    if args.count is not None:
        template = "{i}" if args.message is None else args.message
        for i in range(1, args.count + 1):
            yield template.replace("{i}", str(i)).encode("utf-8")
    elif args.message is not None:
        yield args.message.encode("utf-8")
    elif args.null_message:
        yield b""
    elif args.stdin_file:
        data = _stdin().read()
        yield data if isinstance(data, bytes) else data.encode("utf-8")
    elif args.stdin_line:
        for line in _stdin():
            raw = line if isinstance(line, bytes) else line.encode("utf-8")
            yield raw.rstrip(b"\r\n")


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(f"-f: cannot read {path}: {exc.strerror or exc}") from exc


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self._drawn = 0.0

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        width = 30
        filled = width * done // self.total if self.total else width
        percent = 100 * done // self.total if self.total else 100
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {done}/{self.total} {percent:3d}%")
        self.stream.flush()

    def finish(self, done: int) -> None:
        self.update(done, force=True)
        self.stream.write("\n")
        self.stream.flush()


class _Publisher:
    """Publishes the payloads, keeping at most :data:`WINDOW` unacknowledged."""

    def __init__(self, link: Link, args: argparse.Namespace) -> None:
        self.link = link
        self.args = args
        self.props = _properties(args)
        self.window: collections.deque[mqtt.MQTTMessageInfo] = collections.deque()
        self.acked = 0
        self.dropped = 0
        self.refusal: Optional[str] = None
        link.client.on_publish = self._on_publish

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        if reason.is_failure and self.refusal is None:
            self.refusal = f"the broker rejected a message: {reason}"

    def send(self, payload: bytes) -> None:
        args = self.args
        info = self.link.client.publish(args.topic, payload, args.qos, args.retain, self.props)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            raise Failure("the outgoing queue is full")
        if info.rc == mqtt.MQTT_ERR_NO_CONN and args.qos == 0:
            self.dropped += 1  # QoS 0 is not kept while offline
            return
        window = self.window
        window.append(info)
        while window and self._published(window[0]):
            window.popleft()
            self.acked += 1
        while len(window) >= WINDOW:
            self._wait_oldest()

    def _published(self, info: mqtt.MQTTMessageInfo, timeout_s: float = 0.0) -> bool:
        try:
            if timeout_s > 0:
                info.wait_for_publish(timeout_s)
            return info.is_published()
        except (RuntimeError, ValueError) as exc:  # the message failed (rc says why)
            raise Failure(self.refusal or f"a message was not delivered: {exc}") from exc

    def _wait_oldest(self) -> None:
        info = self.window[0]
        deadline = time.monotonic() + self.args.timeout
        while True:
            self.link.check()
            if self._published(info, min(0.5, max(0.001, deadline - time.monotonic()))):
                self.window.popleft()
                self.acked += 1
                return
            if time.monotonic() >= deadline:
                if not self.link.connected:
                    raise Failure(f"connection lost; {len(self.window)} messages not acknowledged")
                raise TimedOut(
                    f"the broker acknowledged nothing for {self.args.timeout:g} s "
                    f"({len(self.window)} messages outstanding)"
                )

    def drain(self) -> None:
        while self.window:
            self._wait_oldest()
        if self.refusal is not None:
            raise Failure(self.refusal)
        if self.dropped:
            raise Failure(f"{self.dropped} QoS 0 messages were dropped while disconnected")


def run(args: argparse.Namespace, prog: str) -> int:
    """Run ``pub``; returns the exit status (raises UsageError/Failure/KeyboardInterrupt)."""
    _check(args)
    file_payload = _read_file(args.file) if args.file else None
    client = build_client(args)
    link = Link(prog, client, args)
    publisher = _Publisher(link, args)
    progress: Optional[Progress] = None
    if args.count is not None and args.count >= PROGRESS_FROM and sys.stdout.isatty():
        progress = Progress(args.count, sys.stderr)
    try:
        link.open()
        payloads = iter([file_payload]) if file_payload is not None else _messages(args)
        for n, payload in enumerate(payloads):
            if n and args.interval:
                _pause(link, args.interval)
            link.check()
            publisher.send(payload)
            if progress is not None:
                progress.update(publisher.acked)
        publisher.drain()
        if progress is not None:
            progress.finish(publisher.acked)
            progress = None
    finally:
        if progress is not None:
            sys.stderr.write("\n")
        link.close()
    return ExitCode.OK


def _pause(link: Link, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        link.check()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(remaining, 0.2))
