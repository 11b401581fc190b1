"""A scripted server for session tests: packets in, packets out, explicit time. No sockets.

The harness plays the server: it encodes server→client packets with the codec, feeds them to the
session, and decodes what the session queued in ``out`` with a server-side ``Decoder``.
"""

from __future__ import annotations

from typing import Any, Optional

from mqttclient._core.codec import Decoder, encode
from mqttclient._core.events import Event
from mqttclient._core.packets import Connack, Connect, Packet, Props
from mqttclient._core.session import FIRST_ONLY, Session, SessionConfig
from mqttclient._core.store import Store


class Harness:
    """One session plus the server's view of the wire."""

    def __init__(
        self,
        version: int = 4,
        *,
        store: Optional[Store] = None,
        wall_offset: float = 0.0,
        **config: Any,
    ) -> None:
        """``store``: the session writes through to it and restores from it (default: a new
        ``MemoryStore``); ``wall_offset``: as ``Session``'s, for Message Expiry across restarts."""
        config.setdefault("client_id", "client-1")
        if version == 5:
            # As the Client's connect() does (paho's default): Clean Start 1 only until the first
            # CONNACK, so a test that reconnects may be answered Session Present 1 [MQTT-3.2.2-4].
            config.setdefault("clean_start", FIRST_ONLY)
        self.version = version
        self.config = SessionConfig(protocol_version=version, **config)
        self.session = Session(self.config, store, wall_offset)
        self.now = 0.0
        self.decoder = Decoder(version)
        self.sent_events: list[Event] = []

    # --- time -----------------------------------------------------------------------------------
    def at(self, now: float) -> Harness:
        self.now = now
        return self

    # --- connection -----------------------------------------------------------------------------
    def open(self) -> Connect:
        """Open a transport; return the CONNECT the session queued."""
        self.decoder = Decoder(self.version)
        self.session.connection_opened(self.now)
        packets = self.take()
        assert isinstance(packets[0], Connect), packets
        return packets[0]

    def connect(
        self, session_present: bool = False, properties: Props = (), code: int = 0
    ) -> list[Event]:
        """Open a transport, swallow the CONNECT, answer CONNACK; return the CONNACK's events."""
        self.open()
        return self.feed(Connack(session_present, code, properties))

    def lose(self) -> list[Event]:
        return self.session.connection_lost(self.now)

    # --- wire -----------------------------------------------------------------------------------
    def feed(self, *packets: Packet, version: int | None = None) -> list[Event]:
        """Send server packets to the session (encoded for ``version``, default the session's)."""
        data = b"".join(encode(p, version or self.version) for p in packets)
        return self.session.receive(data, self.now)

    def feed_bytes(self, data: bytes) -> list[Event]:
        return self.session.receive(data, self.now)

    def take(self) -> list[Packet]:
        """Decode and consume everything the session queued; keep sent() events."""
        out = self.session.out
        data = bytes(out)
        self.sent_events += self.session.sent(len(data), self.now)
        return self.decoder.feed(data)

    def publish(
        self,
        topic: str = "t",
        payload: bytes = b"p",
        qos: int = 1,
        retain: bool = False,
        properties: Props = (),
        token: Any = None,
    ) -> int:
        return self.session.publish(topic, payload, qos, retain, properties, token, self.now)
