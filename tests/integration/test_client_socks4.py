"""SOCKS4 through a minimal SOCKS4 relay written here (Debian's microsocks speaks SOCKS5 only).

The relay answers the SOCKS4 CONNECT request byte for byte as the protocol says (VN=4, CD=1,
port, IPv4 address, user id; reply 0x00 0x5A) and records what it was asked, so the test proves
that the client really went through it.
"""

from __future__ import annotations

import socket
import struct
import threading
import uuid
from collections.abc import Iterator

import pytest
import socks  # type: ignore[import-untyped]  # PySocks, the "proxy" extra

import mqttclient.client as mqtt
from tests.integration.helpers import V2, Recorder, running, wait_until


class Socks4Relay:
    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.requests: list[tuple[str, int, bytes]] = []
        self._stop = False
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        self._sockets.append(client)
        client.settimeout(5)
        head = b""
        while len(head) < 8 or b"\0" not in head[8:]:
            chunk = client.recv(256)
            if not chunk:
                client.close()
                return
            head += chunk
        version, command, port = struct.unpack("!BBH", head[:4])
        address = socket.inet_ntoa(head[4:8])
        user = head[8 : head.index(b"\0", 8)]
        self.requests.append((address, port, user))
        if version != 4 or command != 1:
            client.sendall(b"\x00\x5b" + b"\0" * 6)  # request rejected
            client.close()
            return
        upstream = socket.create_connection((address, port), timeout=5)
        self._sockets.append(upstream)
        client.sendall(b"\x00\x5a" + b"\0" * 6)  # request granted
        rest = head[head.index(b"\0", 8) + 1 :]
        if rest:
            upstream.sendall(rest)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.listener.close()
        for s in self._sockets:
            s.close()


@pytest.fixture
def relay() -> Iterator[Socks4Relay]:
    r = Socks4Relay()
    yield r
    r.close()


def test_publish_through_socks4(mosquitto, relay, monkeypatch):
    monkeypatch.delenv("mqtt_proxy", raising=False)
    rec = Recorder()
    client = mqtt.Client(V2, client_id=f"s4-{uuid.uuid4().hex[:6]}")
    rec.attach(client, "on_message", "on_subscribe")
    client.proxy_set(
        proxy_type=socks.SOCKS4, proxy_addr="127.0.0.1", proxy_port=relay.port, proxy_rdns=False
    )
    topic = f"socks4/{uuid.uuid4().hex[:8]}"
    with running(client, mosquitto.port()):
        client.subscribe(topic, 1)
        wait_until(lambda: rec.count("on_subscribe") == 1)
        client.publish(topic, b"via socks4", qos=1).wait_for_publish(5)
        wait_until(lambda: rec.count("on_message") == 1)
    assert relay.requests and relay.requests[0][:2] == ("127.0.0.1", mosquitto.port())
    assert rec.get("on_message")[0][0].payload == b"via socks4"
