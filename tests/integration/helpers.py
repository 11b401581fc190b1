"""Small helpers shared by the client integration tests."""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import mqttclient.client as mqtt

V2 = mqtt.CallbackAPIVersion.VERSION2
V1 = mqtt.CallbackAPIVersion.VERSION1
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


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


def run_threads(
    target: Callable[[int], object], count: int, timeout: float
) -> list[threading.Thread]:
    """Run ``target(0)`` ... ``target(count - 1)`` in threads of their own, all started before
    any is joined; join each for at most ``timeout`` s; return the threads (one still
    ``is_alive()`` did not finish in time)."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return threads


def stop(*clients: mqtt.Client) -> None:
    """``disconnect()`` then ``loop_stop()`` each client, in order."""
    for client in clients:
        client.disconnect()
        client.loop_stop()


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


def load_sample(name: str) -> ModuleType:
    """Import ``samples/<name>.py`` as a module (as ``sample_<name>``) without running it."""
    spec = importlib.util.spec_from_file_location(f"sample_{name}", SAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def private_logger(
    prefix: str = "test",
) -> Iterator[tuple[logging.Logger, list[logging.LogRecord]]]:
    """A logger of its own (``<prefix>.<random>``, DEBUG, not propagating) and the list of every
    record it gets; its handler is removed on exit."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(f"{prefix}.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = Keep()
    logger.addHandler(handler)
    try:
        yield logger, records
    finally:
        logger.removeHandler(handler)
