"""Small helpers shared by the client integration tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

import mqttclient.client as mqtt

V2 = mqtt.CallbackAPIVersion.VERSION2
V1 = mqtt.CallbackAPIVersion.VERSION1


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.01) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds (bounded)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


class Recorder:
    """Collects callback calls thread-safely: ``rec.calls["on_message"]`` → list of args."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, list[tuple[Any, ...]]] = {}

    def record(self, name: str) -> Callable[..., None]:
        def callback(client: Any, userdata: Any, *args: Any) -> None:
            with self.lock:
                self.calls.setdefault(name, []).append(args)

        return callback

    def get(self, name: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self.calls.get(name, []))

    def count(self, name: str) -> int:
        with self.lock:
            return len(self.calls.get(name, []))

    def attach(self, client: mqtt.Client, *names: str) -> None:
        for name in names:
            setattr(client, name, self.record(name))


@contextmanager
def running(client: mqtt.Client, port: int, **connect_kwargs: Any) -> Iterator[mqtt.Client]:
    """Connect ``client`` to 127.0.0.1:``port`` with ``loop_start()``; wait for CONNACK; on exit
    disconnect and stop the loop."""
    client.connect("127.0.0.1", port, **connect_kwargs)
    client.loop_start()
    try:
        wait_until(client.is_connected)
        yield client
    finally:
        client.disconnect()
        client.loop_stop()
