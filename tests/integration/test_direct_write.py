"""With ``loop_start()``, a lone publish is written by the caller's thread (``Engine.kick``).

When the loop thread waits idle, the thread that calls ``publish()`` writes the bytes itself,
under the engine lock, instead of waking the loop thread to do it: one thread hand-off less per
round trip (docs/performance.rst). What must stay true:

* the loop thread is not woken for a lone publish, and the message is complete (QoS 0: written)
  when ``publish()`` returns;
* a burst still goes through the loop thread, once per batch (one direct write per wait), and
  nothing is reordered;
* callbacks still run on the loop thread only (docs/threading.rst): ``on_publish`` of a message
  written by the caller's thread is handed to the loop thread;
* ``disconnect()`` is left to the loop thread, which writes DISCONNECT and closes gracefully.

The scripted fake broker sends nothing unless told to, so the loop thread's wake-up counter
(``Engine.wakeups``) says whether it left ``select()``. Every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import mqttclient.client as mqtt
from tests.fakebroker import DISCONNECT, PUBLISH, FakeBroker
from tests.integration.fakeclient import WAIT_S, client_factory, start
from tests.integration.helpers import wait_until


@pytest.fixture
def make_client(fake_broker: FakeBroker) -> Iterator[Callable[..., mqtt.Client]]:
    with client_factory(fake_broker) as make:
        yield make


def idle(client: mqtt.Client) -> int:
    """Wait until the loop thread waits with nothing to do; return its wake-up count."""
    engine = client._engine
    wait_until(lambda: engine._loop_idle, WAIT_S)
    return engine.wakeups


def test_a_lone_publish_is_written_by_the_callers_thread(make_client, fake_broker) -> None:
    client = make_client()
    start(client, fake_broker)
    before = idle(client)
    info = client.publish("direct/t", b"lone", 0)
    assert info.is_published()  # written before publish() returned
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.payload == b"lone"
    fake_broker.expect_nothing(0.1)
    assert client._engine.wakeups == before  # the loop thread never left select()


def test_a_burst_goes_through_the_loop_thread_in_order(make_client, fake_broker) -> None:
    client = make_client()
    start(client, fake_broker)
    before = idle(client)
    infos = [client.publish("direct/t", b"%d" % n, 0) for n in range(50)]
    got = [fake_broker.expect(PUBLISH, WAIT_S).decoded.payload for _ in infos]
    assert got == [b"%d" % n for n in range(50)]
    wait_until(lambda: all(info.is_published() for info in infos), WAIT_S)
    # The first was written at once; the second found no idle loop thread and woke it.
    assert client._engine.wakeups > before


def test_on_publish_of_a_direct_write_runs_on_the_loop_thread(make_client, fake_broker) -> None:
    client = make_client()
    threads: list[threading.Thread] = []
    client.on_publish = lambda *args: threads.append(threading.current_thread())
    start(client, fake_broker)
    idle(client)
    info = client.publish("direct/t", b"x", 0)
    assert fake_broker.expect(PUBLISH, WAIT_S).decoded.payload == b"x"
    wait_until(lambda: threads, WAIT_S)
    assert threads == [client._thread] and threads[0] is not threading.current_thread()
    assert info.is_published()


class _NoWake:
    """Stands in for the engine's wake-up socket: ``send`` does nothing, so the loop thread
    stays in select() until the test wakes it for real."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def send(self, data: bytes) -> int:
        return len(data)


def test_disconnect_is_left_to_the_loop_thread(make_client, fake_broker) -> None:
    client = make_client()
    closed: list[Any] = []
    client.on_disconnect = lambda client, userdata, flags, reason, props: closed.append(reason)
    start(client, fake_broker)
    idle(client)
    engine = client._engine
    real = engine._wake_w
    engine._wake_w = _NoWake(real)
    try:
        assert client.disconnect() == mqtt.MQTT_ERR_SUCCESS
        # Not written by this thread even though the loop thread waits idle: the loop thread,
        # not yet woken, still has to write it (and then close gracefully).
        fake_broker.expect_nothing(0.2)
    finally:
        engine._wake_w = real
    engine.wake()
    fake_broker.expect(DISCONNECT, WAIT_S)
    fake_broker.close_client()
    wait_until(lambda: closed, WAIT_S)
    assert closed == [0]  # Normal disconnection: the graceful close, not a lost connection
