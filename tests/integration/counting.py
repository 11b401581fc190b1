"""Numbered QoS 1 and QoS 2 streams for the "loses nothing" tests (``test_client_reconnect.py``,
``test_soak.py``): a plain subscriber that counts what arrives, and a publisher whose session
survives reconnects, so exactly-once can be checked across cuts and restarts.

Topics are ``<base>/1`` and ``<base>/2`` (the QoS); payloads are the message numbers.
"""

from __future__ import annotations

import collections
import threading
import uuid

import pytest

import mqttclient.client as mqtt
from mqttclient.packettypes import PacketTypes
from mqttclient.properties import Properties
from tests.integration.helpers import V2, Recorder, wait_until

__all__ = ["Counter", "publisher", "report", "session_props", "subscriber"]


class Counter:
    """Counts numbered messages per QoS as a plain subscriber receives them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[int, collections.Counter[int]] = {
            1: collections.Counter(),
            2: collections.Counter(),
        }

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        qos = int(msg.topic.rsplit("/", 1)[1])
        with self.lock:
            self.seen[qos][int(msg.payload)] += 1

    def complete(self, n: int) -> bool:
        with self.lock:
            return len(self.seen[1]) == n and len(self.seen[2]) == n

    def summary(self, n: int) -> tuple[int, int, int]:
        """(QoS 1 lost, QoS 2 lost, QoS 2 duplicated) out of ``n`` of each."""
        with self.lock:
            lost1 = n - len(self.seen[1])
            lost2 = n - len(self.seen[2])
            dup2 = sum(c - 1 for c in self.seen[2].values() if c > 1)
        return lost1, lost2, dup2


def subscriber(port: int, base: str, counter: Counter) -> mqtt.Client:
    """A connected client on 127.0.0.1:``port`` subscribed to ``<base>/#`` at QoS 2 (SUBACK
    awaited), counting into ``counter``. The caller disconnects it and stops its loop."""
    sub = mqtt.Client(V2, client_id=f"counter-{uuid.uuid4().hex[:6]}")
    sub.on_message = counter.on_message
    rec = Recorder()
    sub.on_subscribe = rec.record("on_subscribe")
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe(f"{base}/#", qos=2)
    wait_until(lambda: rec.count("on_subscribe") == 1)
    return sub


def publisher(protocol: mqtt.MQTTProtocolVersion) -> tuple[mqtt.Client, Recorder]:
    """A publisher (not connected) that keeps its session across reconnects (3.x: clean session
    off), reconnecting quickly; with a recorder of ``on_connect`` and ``on_disconnect``."""
    kwargs: dict[str, object] = {}
    if protocol != mqtt.MQTTv5:
        kwargs["clean_session"] = False  # QoS 2 exactly-once across reconnects needs the session
    pub = mqtt.Client(V2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=protocol, **kwargs)  # type: ignore[arg-type]
    pub.reconnect_delay_set(0.02, 0.2)
    rec = Recorder()
    rec.attach(pub, "on_connect", "on_disconnect")
    return pub, rec


def session_props(protocol: mqtt.MQTTProtocolVersion) -> dict[str, object]:
    """``connect()`` arguments that keep an MQTT 5.0 session (nothing for 3.x)."""
    if protocol != mqtt.MQTTv5:
        return {}
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 300
    # Clean only on the first connect (paho's default, MQTT_CLEAN_START_FIRST_ONLY): automatic
    # reconnects resume the session, which QoS 2 exactly-once across a cut needs (a clean start
    # on every reconnect would drop the broker's copy of a message between PUBREC and PUBREL).
    return {"clean_start": mqtt.MQTT_CLEAN_START_FIRST_ONLY, "properties": props}


def report(
    capsys: pytest.CaptureFixture[str],
    counter: Counter,
    n: int,
    label: str,
    via: str = "",
    extra: str = "",
) -> tuple[int, int, int]:
    """Print (past the capture, shown with ``-s``) and return ``counter.summary(n)``: ``[label]
    n QoS1 + n QoS2<via>: lost QoS1=.. lost QoS2=.. dup QoS2=..<extra>``."""
    lost1, lost2, dup2 = counter.summary(n)
    with capsys.disabled():
        print(
            f"\n[{label}] {n} QoS1 + {n} QoS2{via}: "
            f"lost QoS1={lost1} lost QoS2={lost2} dup QoS2={dup2}{extra}"
        )
    return lost1, lost2, dup2
