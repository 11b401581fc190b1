"""Differential tests: the bytes paho-mqtt 2.2.0 builds for CONNECT, PUBLISH and SUBSCRIBE
against ours for the same values, and our decoder on paho's bytes.

paho's private ``_send_*`` methods are called with ``_packet_queue`` replaced by a list append,
so no socket is involved. Only values both libraries accept are generated (paho sends a 3.x
password without a user name, which [MQTT-3.1.2-22] forbids and our encoder refuses; in 5.0
it drops a password given without a user name).
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqttclient import _spec
from mqttclient._core.codec import decode, encode
from mqttclient._core.packets import Connect, Props, Publish, Subscribe, Subscription, Will
from tests.unit.codec_strategies import paho_safe, properties_for, texts

mqtt = pytest.importorskip("paho.mqtt.client")
paho_properties = pytest.importorskip("paho.mqtt.properties")
paho_enums = pytest.importorskip("paho.mqtt.enums")
paho_subopts = pytest.importorskip("paho.mqtt.subscribeoptions")

SETTINGS = settings(max_examples=100, deadline=None)
PAHO_PROTOCOL = {3: 3, 4: 4, 5: 5}  # MQTTv31, MQTTv311, MQTTv5


class _NoSocket:
    def close(self) -> None:
        pass


def _paho_client(version: int, client_id: str = "", clean: bool = True) -> tuple[Any, list[bytes]]:
    kwargs: dict[str, Any] = {"client_id": client_id, "protocol": PAHO_PROTOCOL[version]}
    if version < 5:
        kwargs["clean_session"] = clean
    client = mqtt.Client(paho_enums.CallbackAPIVersion.VERSION2, **kwargs)
    captured: list[bytes] = []

    def queue(command: int, packet: bytes, mid: int, qos: int, info: Any = None) -> int:
        captured.append(bytes(packet))
        return 0

    client._packet_queue = queue
    client._sock = _NoSocket()  # paho only checks that a socket exists
    return client, captured


def _paho_props(props: Props, ptype: int) -> Any:
    paho = paho_properties.Properties(ptype)
    for ident, value in props:
        setattr(paho, _spec.PROPERTIES[ident].name, value)
    return paho


ascii_texts = st.text("abcXYZ019/_-", min_size=1, max_size=10)


@st.composite
def _connect_case(draw: Callable[..., Any], version: int) -> Connect:
    will = None
    if draw(st.booleans()):
        will_props = paho_safe(draw(properties_for(_spec.WILL))) if version == 5 else ()
        will = Will(draw(ascii_texts), draw(st.binary(max_size=10)), draw(st.integers(0, 2)),
                    draw(st.booleans()), will_props)  # fmt: skip
    username = draw(st.none() | texts)
    # paho sends a password only with a user name, even in 5.0 where it may stand alone.
    password = draw(st.none() | texts) if username is not None else None
    props = paho_safe(draw(properties_for(_spec.CONNECT))) if version == 5 else ()
    return Connect(
        draw(ascii_texts), version, draw(st.booleans()), draw(st.integers(0, 0xFFFF)), username,
        None if password is None else password.encode(), will, props, draw(st.booleans()),
    )  # fmt: skip


@pytest.mark.parametrize("version", [3, 4, 5])
@given(data=st.data())
@SETTINGS
def test_connect_same_as_paho(version: int, data: st.DataObject) -> None:
    ours = data.draw(_connect_case(version))
    client, captured = _paho_client(version, ours.client_id, ours.clean_start)
    if version == 5:
        client._clean_start = ours.clean_start
        client._connect_properties = (
            _paho_props(ours.properties, _spec.CONNECT) if ours.properties else None
        )
    if ours.username is not None or ours.password is not None:
        client.username_pw_set(
            ours.username, None if ours.password is None else ours.password.decode()
        )
    if ours.will is not None:
        will = ours.will
        will_props = _paho_props(will.properties, _spec.WILL) if will.properties else None
        client.will_set(will.topic, will.payload, will.qos, will.retain, will_props)
    if ours.bridge:
        client.enable_bridge_mode()
    client._send_connect(ours.keepalive)
    assert captured == [encode(ours, version)]
    assert decode(captured[0], version) == ours


@pytest.mark.parametrize("version", [3, 4, 5])
@given(data=st.data())
@SETTINGS
def test_publish_same_as_paho(version: int, data: st.DataObject) -> None:
    qos = data.draw(st.integers(0, 2))
    props = paho_safe(data.draw(properties_for(_spec.PUBLISH))) if version == 5 else ()
    props = tuple(p for p in props if p[0] != _spec.SUBSCRIPTION_IDENTIFIER)  # paho: S→C only
    ours = Publish(
        data.draw(ascii_texts), data.draw(st.binary(max_size=200)), qos, data.draw(st.booleans()),
        data.draw(st.booleans()), data.draw(st.integers(1, 0xFFFF)) if qos else 0, props,
    )  # fmt: skip
    client, captured = _paho_client(version)
    paho_props = _paho_props(props, _spec.PUBLISH) if props else None
    client._send_publish(ours.packet_id, ours.topic.encode(), ours.payload, qos, ours.retain,
                         ours.dup, None, paho_props)  # fmt: skip
    assert captured == [encode(ours, version)]
    assert decode(captured[0], version) == ours


@pytest.mark.parametrize("version", [3, 4, 5])
@given(data=st.data())
@SETTINGS
def test_subscribe_same_as_paho(version: int, data: st.DataObject) -> None:
    options = st.tuples(
        ascii_texts, st.integers(0, 2), st.booleans(), st.booleans(), st.integers(0, 2)
    )
    subs = data.draw(st.lists(options, min_size=1, max_size=4))
    if version < 5:
        ours = Subscribe(1, tuple(Subscription(t, q) for t, q, *_ in subs))
        topics = [(t.encode(), q) for t, q, *_ in subs]
        paho_props = None
    else:
        props = paho_safe(data.draw(properties_for(_spec.SUBSCRIBE)))
        ours = Subscribe(1, tuple(Subscription(*s) for s in subs), props)
        topics = [
            (t.encode(), paho_subopts.SubscribeOptions(q, nl, rap, rh))
            for t, q, nl, rap, rh in subs
        ]
        paho_props = _paho_props(props, _spec.SUBSCRIBE) if props else None
    client, captured = _paho_client(version)
    client._send_subscribe(False, topics, paho_props)  # paho's first mid is 1
    assert captured == [encode(ours, version)]
    assert decode(captured[0], version) == ours
