"""The connection of ``mqttclient pub`` / ``mqttclient sub``: connect, run the network loop in
a thread (which reconnects by itself), wait for CONNACK with a deadline, report what the callbacks
saw to the main thread, and disconnect cleanly.

Callbacks run on the loop thread and only record facts; the main thread decides. Must not wait
without a deadline, nor print a password.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any, Optional

import mqttclient.client as mqtt
from mqttclient._cli_common import Failure, default_port
from mqttclient.errors import MQTTException
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties

__all__ = ["Link"]


class Link:
    """A connected client driven by ``loop_start()``, and what its callbacks tell the main thread.

    Callbacks (on the loop thread) record facts and set :attr:`changed`; the main thread waits
    on it with a deadline and reads the facts. ``on_connected`` runs on the loop thread after
    every accepted CONNACK (``sub`` subscribes there, so reconnects resubscribe).
    """

    def __init__(self, prog: str, client: mqtt.Client, args: argparse.Namespace) -> None:
        self.prog = prog
        self.client = client
        self.args = args
        self.changed = threading.Event()
        self.connected = False
        self.ever_connected = False
        self.closed = threading.Event()
        self.failure: Optional[str] = None
        self._stopping = False
        self.on_connected: Any = None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    def fail(self, message: str) -> None:
        """Record a fatal failure (the first one wins) and wake the main thread."""
        if self.failure is None:
            self.failure = message
        self.changed.set()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self.fail(f"the broker refused the connection: {reason}")
            return
        self.connected = True
        self.ever_connected = True
        if self.on_connected is not None:
            self.on_connected()
        self.changed.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was_connected, self.connected = self.connected, False
        self.closed.set()
        self.changed.set()
        if self._stopping or not was_connected:
            return
        # loop_start() reconnects with backoff; tell the user once per loss.
        why = f" (the broker said: {reason})" if flags.is_disconnect_packet_from_server else ""
        print(f"{self.prog}: connection lost{why}; reconnecting", file=sys.stderr, flush=True)

    def open(self) -> None:
        """Connect, start the loop thread and wait (bounded) for an accepted CONNACK.
        Raises :class:`Failure`."""
        args = self.args
        v5 = args.protocol_version == mqtt.MQTTv5
        props: Optional[Properties] = None
        if v5 and args.session_expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = args.session_expiry
        clean_start: Any = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if v5 and args.no_clean_session:
            clean_start = False
        host = args.unix or args.host
        try:
            self.client.connect(
                host,
                default_port(args),
                args.keepalive,
                clean_start=clean_start,
                properties=props,
            )
        except OSError as exc:  # ConnectionFailedError (TLS, proxy, ...) is an OSError too
            if isinstance(exc, MQTTException):
                raise Failure(str(exc)) from exc
            raise Failure(f"cannot connect to {host}: {exc.strerror or exc}") from exc
        except (ValueError, MQTTException) as exc:
            raise Failure(str(exc)) from exc
        self.client.loop_start()
        deadline = time.monotonic() + args.connect_timeout
        while not self.connected:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure(f"no CONNACK from the broker within {args.connect_timeout:g} s")
            self.changed.wait(remaining)
            self.changed.clear()

    def check(self) -> None:
        """Raise :class:`Failure` if a callback recorded one."""
        if self.failure is not None:
            raise Failure(self.failure)

    def close(self) -> None:
        """Disconnect gracefully and stop the loop thread (bounded). Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        self.closed.clear()
        if self.client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
            # Let the loop thread finish the DISCONNECT handshake before it is stopped.
            self.closed.wait(5.0)
        self.client.loop_stop()
