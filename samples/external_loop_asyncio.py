"""Run the client inside an asyncio event loop, without a network thread.

asyncio watches the client's socket through four callbacks the client calls as its socket
comes and goes and as it has bytes to send:

* ``on_socket_open`` → ``loop.add_reader(sock, client.loop_read)``;
* ``on_socket_close`` → ``loop.remove_reader(sock)``;
* ``on_socket_register_write`` → ``loop.add_writer(sock, client.loop_write)`` (bytes are
  waiting and the socket's buffer is full);
* ``on_socket_unregister_write`` → ``loop.remove_writer(sock)``.

A task calls ``client.loop_misc()`` every second for keepalive. Every client callback then runs
on the event loop's thread, so it may touch asyncio objects (futures, queues) directly.

``client.connect()`` blocks the loop for the TCP (and TLS) handshake, at most
``client.connect_timeout`` seconds; everything after it is non-blocking. This sample subscribes
to a topic, publishes ``--count`` messages to it and awaits them.

    python samples/external_loop_asyncio.py --host localhost --count 5
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any, Optional

import mqttclient.client as mqtt

MISC_INTERVAL_S = 1.0


class AsyncioHelper:
    """Connects a client's socket callbacks to an asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: mqtt.Client) -> None:
        self.loop = loop
        self.client = client
        self.closed = loop.create_future()
        self._fds: dict[int, int] = {}
        self._misc: Optional[asyncio.Task[None]] = None
        client.on_socket_open = self.on_socket_open
        client.on_socket_close = self.on_socket_close
        client.on_socket_register_write = self.on_socket_register_write
        client.on_socket_unregister_write = self.on_socket_unregister_write

    def on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Remember the descriptor: when on_socket_close runs the socket is already closed.
        fd = sock.fileno()
        self._fds[id(sock)] = fd
        self.loop.add_reader(fd, client.loop_read)
        self._misc = self.loop.create_task(self._misc_loop())

    def on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        fd = self._fds.pop(id(sock), None)
        if fd is not None:
            self.loop.remove_reader(fd)
            self.loop.remove_writer(fd)
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if not self.closed.done():
            self.closed.set_result(None)

    def on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        fd = self._fds.get(id(sock))
        if fd is not None:
            self.loop.add_writer(fd, client.loop_write)

    def on_socket_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        fd = self._fds.get(id(sock))
        if fd is not None:
            self.loop.remove_writer(fd)

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(MISC_INTERVAL_S)
            self.client.loop_misc()


async def run(host: str, port: int, topic: str, count: int, timeout_s: float) -> int:
    """Returns how many of the ``count`` messages came back within ``timeout_s``."""
    loop = asyncio.get_running_loop()
    subscribed = loop.create_future()
    messages: asyncio.Queue[bytes] = asyncio.Queue()

    def on_subscribe(
        client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], props: Any
    ) -> None:
        if not subscribed.done():
            subscribed.set_result(reasons[0])

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        messages.put_nowait(msg.payload)  # on the loop's thread: no locking needed

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    helper = AsyncioHelper(loop, client)
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port, keepalive=30)
    got = 0
    try:
        client.subscribe(topic, qos=1)
        print(f"subscribed ({await asyncio.wait_for(subscribed, timeout_s)})", flush=True)
        for n in range(1, count + 1):
            client.publish(topic, f"message {n}", qos=1)
        while got < count:
            payload = await asyncio.wait_for(messages.get(), timeout_s)
            got += 1
            print(f"received {payload.decode()}", flush=True)
    except asyncio.TimeoutError:
        print("timed out", flush=True)
    finally:
        client.disconnect()
        await asyncio.wait_for(helper.closed, timeout_s)
    return got


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--topic", default=f"samples/asyncio/{uuid.uuid4().hex[:8]}")
    parser.add_argument("--count", type=int, default=5, help="messages to send (default 5)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    args = parser.parse_args(argv)
    try:
        got = asyncio.run(run(args.host, args.port, args.topic, args.count, args.timeout))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{got} of {args.count} messages came back")
    return 0 if got == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
