"""Clients of the scripted fake broker (``tests/fakebroker.py``): make them, bring them up, stop
them. Shared by every integration test that drives a ``Client`` against a ``FakeBroker``.

    @pytest.fixture
    def make_client(fake_broker):
        with client_factory(fake_broker) as make:
            yield make

    def test_x(make_client, fake_broker):
        client = make_client(protocol=mqtt.MQTTv5)
        connect = start(client, fake_broker, version=5)   # CONNECT read, CONNACK 0 sent

Every wait is bounded (``WAIT_S``); every client made by a factory is disconnected and its loop
stopped after the test, and every connection the fake broker still holds (including ones in its
listen backlog) is closed, so that no reconnecting client outlives the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional

import pytest

import mqttclient.client as mqtt
from tests.fakebroker import CONNECT, FakeBroker, RawPacket, connack
from tests.integration.helpers import V2, wait_until

WAIT_S = 5.0

__all__ = [
    "WAIT_S",
    "assert_no_new_connection",
    "client_factory",
    "close_all",
    "first_connect",
    "start",
    "stop_clients",
]


def close_all(broker: FakeBroker) -> None:
    """Close every connection of the fake broker, including ones still in the listen backlog."""
    for connection in broker.connections:
        connection.close()
    while True:
        try:
            broker.accept(timeout=0.0).close()
        except (AssertionError, OSError):
            return


def stop_clients(clients: list[mqtt.Client], broker: Optional[FakeBroker] = None) -> None:
    """Disconnect every client and stop its loop. With a fake broker, its connections are closed
    between the two steps (and again after), so a client waiting for an answer is not left
    hanging and one that reconnected meanwhile is cut off."""
    for client in clients:
        if client._thread is not None:
            client.disconnect()
    if broker is not None:
        close_all(broker)
    for client in clients:
        client.disconnect()
        client.loop_stop()
    if broker is not None:
        close_all(broker)


@contextmanager
def client_factory(
    broker: Optional[FakeBroker] = None,
    *,
    client_id: Callable[[], str] = lambda: "cid",
    reconnect_delay: tuple[float, float] = (0.05, 0.1),
) -> Iterator[Callable[..., mqtt.Client]]:
    """Yield ``make(api=V2, **Client kwargs)``; ``client_id`` defaults to ``client_id()`` and
    the reconnect delay to ``reconnect_delay`` (short, so reconnect tests stay quick). On exit
    every client made is stopped with :func:`stop_clients`."""
    made: list[mqtt.Client] = []

    def make(api: mqtt.CallbackAPIVersion = V2, **kwargs: Any) -> mqtt.Client:
        kwargs.setdefault("client_id", client_id())
        client = mqtt.Client(api, **kwargs)
        client.reconnect_delay_set(*reconnect_delay)
        made.append(client)
        return client

    try:
        yield make
    finally:
        stop_clients(made, broker)


def start(
    client: mqtt.Client,
    broker: FakeBroker,
    *,
    version: int = 4,
    session_present: bool = False,
    connack_bytes: Optional[bytes] = None,
    answer: bool = True,
    **connect_kwargs: Any,
) -> RawPacket:
    """``connect()`` + ``loop_start()``; read CONNECT; unless ``answer`` is false, send
    ``connack_bytes`` (default: CONNACK 0 for protocol ``version``) and wait until connected.
    Returns the CONNECT."""
    client.connect("127.0.0.1", broker.port, **connect_kwargs)
    client.loop_start()
    connect = broker.expect(CONNECT, WAIT_S)
    if answer:
        broker.send(
            connack_bytes if connack_bytes is not None else connack(session_present, 0, version)
        )
        wait_until(client.is_connected, WAIT_S)
    return connect


def first_connect(client: mqtt.Client, broker: FakeBroker, **connect_kwargs: Any) -> RawPacket:
    """``connect()`` without a loop (the caller's thread writes CONNECT); return CONNECT."""
    client.connect("127.0.0.1", broker.port, **connect_kwargs)
    return broker.expect(CONNECT, WAIT_S)


def assert_no_new_connection(broker: FakeBroker, duration_s: float = 0.3) -> None:
    """Fail unless no client connects to ``broker`` within ``duration_s``."""
    with pytest.raises(AssertionError, match="no client connected"):
        broker.accept(timeout=duration_s)
