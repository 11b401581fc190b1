"""MQTT 5.0 properties (§2.2.2): every identifier and wire type, VBI boundaries, encoder checks,
and a differential test against paho-mqtt's ``Properties.pack``/``unpack``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqttclient import _spec
from mqttclient._core.codec import decode_properties, encode_properties, encode_vbi
from mqttclient._core.packets import Props
from mqttclient.errors import InvalidArgumentError, MalformedPacketError, PayloadTooLargeError
from tests.unit.codec_fixtures import PROPERTIES, VBI, h
from tests.unit.codec_strategies import paho_safe, properties_for

ALL_PACKET_TYPES = sorted({ptype for spec in _spec.PROPERTIES.values() for ptype in spec.packets})


def _first_allowed(ident: int) -> int:
    return min(_spec.PROPERTIES[ident].packets)


@pytest.mark.parametrize(
    ("ident", "value", "wire"), PROPERTIES, ids=[f"0x{p[0]:02X}" for p in PROPERTIES]
)
def test_each_property(ident: int, value: Any, wire: str) -> None:
    body = h(wire)
    block = bytes([len(body)]) + body
    ptype = _first_allowed(ident)
    assert encode_properties(((ident, value),), ptype) == block
    assert encode_properties(((ident, value),)) == block
    assert decode_properties(block, ptype) == (((ident, value),), len(block))


def test_fixtures_cover_every_identifier() -> None:
    assert sorted(p[0] for p in PROPERTIES) == sorted(_spec.PROPERTIES)


@pytest.mark.parametrize("ptype", ALL_PACKET_TYPES)
def test_every_allowed_property_together(ptype: int) -> None:
    chosen = [p for p in PROPERTIES if ptype in _spec.PROPERTIES[p[0]].packets]
    props: Props = tuple((ident, value) for ident, value, _ in chosen)
    body = b"".join(h(wire) for _, _, wire in chosen)
    block = encode_vbi(len(body)) + body
    assert encode_properties(props, ptype) == block
    assert decode_properties(block, ptype) == (props, len(block))


def test_empty_block() -> None:
    assert encode_properties(()) == b"\x00"
    assert decode_properties(b"\x00", _spec.PUBLISH) == ((), 1)


def test_decode_ignores_what_follows_and_takes_memoryview() -> None:
    data = h("02 01 01 FF FF")
    assert decode_properties(memoryview(data), _spec.PUBLISH) == (((0x01, 1),), 3)
    assert decode_properties(bytearray(data), _spec.WILL) == (((0x01, 1),), 3)


def test_repeatable_properties_keep_order() -> None:
    props: Props = (
        (0x26, ("b", "2")),
        (0x0B, 7),
        (0x26, ("a", "1")),
        (0x0B, 3),
        (0x26, ("b", "0")),
    )
    block = encode_properties(props, _spec.PUBLISH)
    assert decode_properties(block, _spec.PUBLISH) == (props, len(block))


def test_long_property_block_length_is_a_vbi() -> None:
    props: Props = ((0x26, ("k", "v" * 200)),)
    block = encode_properties(props, _spec.CONNECT)
    # 1 + 2 + 1 + 2 + 200 = 206 bytes of properties: a two-byte length CE 01.
    assert block[:2] == h("CE 01")
    assert decode_properties(block, _spec.CONNECT) == (props, 208)


# --- Variable Byte Integers (MQTT 5.0 §1.5.5) -----------------------------------------------------


@pytest.mark.parametrize(("value", "wire"), VBI, ids=[str(v[0]) for v in VBI])
def test_vbi_boundaries(value: int, wire: str) -> None:
    assert encode_vbi(value) == h(wire)
    if value:  # Subscription Identifier 0 is a Protocol Error
        body = b"\x0b" + h(wire)
        block = bytes([len(body)]) + body
        assert encode_properties(((0x0B, value),), _spec.SUBSCRIBE) == block
        assert decode_properties(block, _spec.SUBSCRIBE) == (((0x0B, value),), len(block))


def test_vbi_out_of_range() -> None:
    with pytest.raises(PayloadTooLargeError):
        encode_vbi(268_435_456)
    with pytest.raises(InvalidArgumentError):
        encode_vbi(-1)


@pytest.mark.parametrize(
    "wire", ["80 00", "FF 00", "80 80 00", "FF FF FF 00", "FF FF FF FF 01", "80"]
)
def test_bad_vbi_in_property(wire: str) -> None:
    body = b"\x0b" + h(wire)
    with pytest.raises(MalformedPacketError):
        decode_properties(bytes([len(body)]) + body, _spec.PUBLISH)


# --- encoder checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "ptype"),
    [
        (((0x05, 1),), None),  # unknown identifier
        (((0x00, 1),), None),
        (((0x11, 1),), _spec.PUBLISH),  # not allowed in PUBLISH
        (((0x18, 1),), _spec.CONNECT),  # Will Delay Interval only in Will Properties
        (((0x01, 1),), _spec.PINGREQ),
        (((0x01, 1),), 42),  # no such packet type
        (((0x01, "1"),), None),  # wrong types
        (((0x03, 1),), None),
        (((0x03, b"x"),), None),
        (((0x09, "x"),), None),
        (((0x26, "k"),), None),
        (((0x26, ("k",)),), None),
        (((0x26, ("k", 1)),), None),
        (((0x01, 256),), None),  # out of range for the wire type
        (((0x01, -1),), None),
        (((0x13, 65536),), None),
        (((0x02, 2**32),), None),
        (((0x0B, 268_435_456),), None),
        (((0x02, 1), (0x02, 2)), None),  # single-valued twice
        (((0x0B, 1), (0x0B, 2)), _spec.SUBSCRIBE),  # at most one in SUBSCRIBE
        (((0x21, 0),), None),  # Protocol Error values
        (((0x27, 0),), None),
        (((0x0B, 0),), None),
        (((0x24, 2),), None),
        (((0x17, 2),), None),
        (((0x03, "a\x00b"),), None),  # U+0000 [MQTT-1.5.4-2]
        (((0x03, "\ud800"),), None),  # lone surrogate [MQTT-1.5.4-1]
        (((0x26, ("k", "\udfff")),), None),
        (((0x03, "x" * 65536),), None),  # over 65,535 bytes
        (((0x09, b"x" * 65536),), None),
    ],
)
def test_encode_rejects(props: Props, ptype: int | None) -> None:
    with pytest.raises(InvalidArgumentError):
        encode_properties(props, ptype)


def test_encode_accepts_longest_values() -> None:
    props: Props = ((0x03, "x" * 65535), (0x09, b"y" * 65535))
    block = encode_properties(props, _spec.PUBLISH)
    assert decode_properties(block, _spec.PUBLISH) == (props, len(block))


def test_subscription_identifier_may_repeat_in_publish() -> None:
    props: Props = ((0x0B, 1), (0x0B, 2))
    assert decode_properties(encode_properties(props, _spec.PUBLISH), _spec.PUBLISH)[0] == props


def test_topic_alias_zero_is_left_to_the_session() -> None:
    # 0x94 Topic Alias invalid needs the session's maximum; the codec passes 0 through.
    block = encode_properties(((0x23, 0),), _spec.PUBLISH)
    assert decode_properties(block, _spec.PUBLISH) == (((0x23, 0),), 4)


@given(
    st.sampled_from(ALL_PACKET_TYPES).flatmap(lambda t: st.tuples(st.just(t), properties_for(t)))
)
@settings(max_examples=300, deadline=None)
def test_round_trip_generated(case: tuple[int, Props]) -> None:
    ptype, props = case
    block = encode_properties(props, ptype)
    assert decode_properties(block + b"\xff", ptype) == (props, len(block))


# --- differential: paho-mqtt 2.2.0 ----------------------------------------------------------------

paho_properties = pytest.importorskip("paho.mqtt.properties")


def _to_paho(props: Props, ptype: int) -> Any:
    paho = paho_properties.Properties(ptype)
    for ident, value in props:
        setattr(paho, _spec.PROPERTIES[ident].name, value)  # multi-valued ones append
    return paho


@given(
    st.sampled_from(ALL_PACKET_TYPES).flatmap(lambda t: st.tuples(st.just(t), properties_for(t)))
)
@settings(max_examples=300, deadline=None)
def test_same_bytes_as_paho(case: tuple[int, Props]) -> None:
    ptype, props = case
    props = paho_safe(props)
    ours = encode_properties(props, ptype)
    assert ours == _to_paho(props, ptype).pack()
    theirs = paho_properties.Properties(ptype)
    _, consumed = theirs.unpack(ours)
    assert consumed == len(ours)
    for ident, _ in props:
        spec = _spec.PROPERTIES[ident]
        values = [v for i, v in props if i == ident]
        got = getattr(theirs, spec.name)
        assert (got if spec.multiple else [got]) == values
