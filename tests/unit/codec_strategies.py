"""Hypothesis strategies for valid MQTT packets and properties, per protocol version."""

from __future__ import annotations

from typing import Any, Callable

from hypothesis import strategies as st

from mqttclient import _spec
from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Props,
    PropValue,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from mqttclient._core.wire import ALLOWED_PROPERTIES, NONZERO_PROPERTIES, ZERO_OR_ONE_PROPERTIES

# Valid MQTT strings: no surrogates [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2].
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
binaries = st.binary(max_size=16)
packet_ids = st.integers(1, 0xFFFF)
bytes_ = st.integers(0, 0xFF)


def _value(ident: int) -> st.SearchStrategy[Any]:
    wire = _spec.PROPERTIES[ident].type
    low = 1 if ident in NONZERO_PROPERTIES else 0
    if ident in ZERO_OR_ONE_PROPERTIES:
        return st.integers(0, 1)
    if wire == _spec.BYTE:
        return st.integers(low, 0xFF)
    if wire == _spec.U16:
        return st.integers(low, 0xFFFF)
    if wire == _spec.U32:
        return st.integers(low, 0xFFFFFFFF)
    if wire == _spec.VBI:
        return st.integers(low, _spec.MAX_VBI)
    if wire == _spec.STRING:
        return texts
    if wire == _spec.BINARY:
        return binaries
    return st.tuples(texts, texts)


@st.composite
def properties_for(draw: Callable[..., Any], ptype: int, max_size: int = 8) -> Props:
    """Valid properties for packet type ``ptype`` (``_spec.WILL`` for Will Properties)."""
    table = ALLOWED_PROPERTIES[ptype]
    if not table:
        return ()
    idents = draw(st.lists(st.sampled_from(sorted(table)), max_size=max_size))
    seen: set[int] = set()
    props: list[tuple[int, PropValue]] = []
    for ident in idents:
        if not table[ident][1]:
            if ident in seen:
                continue
            seen.add(ident)
        props.append((ident, draw(_value(ident))))
    return tuple(props)


def _props(version: int, ptype: int) -> st.SearchStrategy[Props]:
    return properties_for(ptype) if version == 5 else st.just(())


def _reason(version: int) -> st.SearchStrategy[int]:
    return bytes_ if version == 5 else st.just(0)


@st.composite
def _connect(draw: Callable[..., Any], version: int) -> Connect:
    will = None
    if draw(st.booleans()):
        will = Will(
            draw(texts),
            draw(binaries),
            draw(st.integers(0, 2)),
            draw(st.booleans()),
            draw(_props(version, _spec.WILL)),
        )
    username = draw(st.none() | texts)
    password = draw(st.none() | binaries)
    if version < 5 and username is None:
        password = None  # [MQTT-3.1.2-22]
    return Connect(
        draw(texts),
        version,
        draw(st.booleans()),
        draw(st.integers(0, 0xFFFF)),
        username,
        password,
        will,
        draw(_props(version, _spec.CONNECT)),
        draw(st.booleans()),
    )


@st.composite
def _publish(draw: Callable[..., Any], version: int) -> Publish:
    qos = draw(st.integers(0, 2))
    return Publish(
        draw(texts),
        draw(st.binary(max_size=300)),
        qos,
        draw(st.booleans()),
        draw(st.booleans()),
        draw(packet_ids) if qos else 0,
        draw(_props(version, _spec.PUBLISH)),
    )


@st.composite
def _subscription(draw: Callable[..., Any], version: int) -> Subscription:
    if version < 5:
        return Subscription(draw(texts), draw(st.integers(0, 2)))
    return Subscription(
        draw(texts),
        draw(st.integers(0, 2)),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.integers(0, 2)),
    )


def _ack(cls: Any, ptype: int, version: int) -> st.SearchStrategy[Packet]:
    if version < 5:
        return st.builds(cls, packet_ids)
    return st.builds(cls, packet_ids, bytes_, properties_for(ptype))


def packets(version: int) -> st.SearchStrategy[Packet]:
    """Any valid packet of protocol ``version`` (3, 4 or 5)."""
    v = version
    options: list[st.SearchStrategy[Any]] = [
        _connect(v),
        st.builds(Connack, st.booleans(), bytes_, _props(v, _spec.CONNACK)),
        _publish(v),
        _ack(Puback, _spec.PUBACK, v),
        _ack(Pubrec, _spec.PUBREC, v),
        _ack(Pubrel, _spec.PUBREL, v),
        _ack(Pubcomp, _spec.PUBCOMP, v),
        st.builds(
            Subscribe,
            packet_ids,
            st.lists(_subscription(v), min_size=1, max_size=4).map(tuple),
            _props(v, _spec.SUBSCRIBE),
        ),
        st.builds(
            Suback,
            packet_ids,
            st.lists(bytes_, min_size=1, max_size=4).map(tuple),
            _props(v, _spec.SUBACK),
        ),
        st.builds(
            Unsubscribe,
            packet_ids,
            st.lists(texts, min_size=1, max_size=4).map(tuple),
            _props(v, _spec.UNSUBSCRIBE),
        ),
        st.builds(
            Unsuback,
            packet_ids,
            st.lists(bytes_, max_size=4).map(tuple) if v == 5 else st.just(()),
            _props(v, _spec.UNSUBACK),
        ),
        st.just(Pingreq()),
        st.just(Pingresp()),
        st.builds(Disconnect, _reason(v), _props(v, _spec.DISCONNECT)),
    ]
    if v == 5:
        options.append(st.builds(Auth, bytes_, properties_for(_spec.AUTH)))
    return st.one_of(options)


def splits(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut at random places (empty pieces included)."""
    return st.lists(st.integers(0, len(data)), max_size=12).map(
        lambda cuts: [data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)])]
    )


def paho_safe(props: Props) -> Props:
    """``props`` as paho-mqtt would send them (for differential tests)."""
    # paho orders properties by identifier and refuses Topic Alias 0, Payload Format > 1 and a
    # Maximum Packet Size above 268,435,455.
    kept = [
        (i, v)
        for i, v in props
        if not ((i == 0x23 and v == 0) or (i == 0x01 and v not in (0, 1)))
        and not (i == 0x27 and isinstance(v, int) and v > 268_435_455)
    ]
    return tuple(sorted(kept, key=lambda pair: pair[0]))
