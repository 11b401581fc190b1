"""Codec against hand-written byte fixtures: decode, encode, round trip, any split."""

from __future__ import annotations

import pytest

from mqttclient._core.codec import Decoder, decode, encode, encode_ack, encode_publish
from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from mqttclient.errors import InvalidArgumentError, PayloadTooLargeError
from tests.unit.codec_fixtures import ALL, V5, V31, V311, Fixture, h

CANONICAL = [f for f in ALL if f.canonical]


@pytest.mark.parametrize("fixture", ALL, ids=str)
def test_decode(fixture: Fixture) -> None:
    assert decode(fixture.wire, fixture.version) == fixture.packet


@pytest.mark.parametrize("fixture", CANONICAL, ids=str)
def test_encode(fixture: Fixture) -> None:
    assert encode(fixture.packet, fixture.version) == fixture.wire


@pytest.mark.parametrize("fixture", CANONICAL, ids=str)
def test_round_trip(fixture: Fixture) -> None:
    assert decode(encode(fixture.packet, fixture.version), fixture.version) == fixture.packet


@pytest.mark.parametrize("fixture", ALL, ids=str)
def test_feed_one_byte_at_a_time(fixture: Fixture) -> None:
    decoder = Decoder(fixture.version)
    packets = []
    for i in range(len(fixture.wire)):
        packets += decoder.feed(fixture.wire[i : i + 1])
        if i < len(fixture.wire) - 1:
            assert packets == []
    assert packets == [fixture.packet]


@pytest.mark.parametrize("fixtures", [V31, V311, V5], ids=["v3", "v4", "v5"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 100_000])
def test_stream_in_chunks(fixtures: list[Fixture], chunk: int) -> None:
    stream = b"".join(f.wire for f in fixtures) * 3
    decoder = Decoder(fixtures[0].version)
    packets = []
    for i in range(0, len(stream), chunk):
        packets += decoder.feed(stream[i : i + chunk])
    assert packets == [f.packet for f in fixtures] * 3


def test_feed_accepts_bytearray_and_memoryview() -> None:
    wire = h("30 07 00 03 61 2F 62 68 69")
    decoder = Decoder()
    assert decoder.feed(bytearray(wire[:3])) == []
    assert decoder.feed(memoryview(wire)[3:]) == [Publish("a/b", b"hi")]
    assert type(decoder.feed(bytearray(wire))[0].payload) is bytes


def test_feed_empty() -> None:
    assert Decoder().feed(b"") == []


@pytest.mark.parametrize(
    "fixture",
    [f for f in CANONICAL if isinstance(f.packet, Publish)],
    ids=str,
)
def test_encode_publish_matches_fixture(fixture: Fixture) -> None:
    p = fixture.packet
    assert isinstance(p, Publish)
    wire = encode_publish(
        p.topic, p.payload, p.qos, p.retain, p.dup, p.packet_id, p.properties, fixture.version
    )
    assert wire == fixture.wire


@pytest.mark.parametrize(
    ("packet_type", "wire"),
    [(4, "40 02 00 01"), (5, "50 02 00 01"), (6, "62 02 00 01"), (7, "70 02 00 01")],
)
def test_encode_ack(packet_type: int, wire: str) -> None:
    assert encode_ack(packet_type, 1) == h(wire)


@pytest.mark.parametrize(("packet_type", "packet_id"), [(3, 1), (8, 1), (4, 0), (4, 65536)])
def test_encode_ack_rejects(packet_type: int, packet_id: int) -> None:
    with pytest.raises(InvalidArgumentError):
        encode_ack(packet_type, packet_id)


def test_decoder_version_switches_on_connect() -> None:
    # A server-side decoder follows the level of the CONNECT it reads.
    decoder = Decoder(4)
    v5_connect = V5[0].wire
    v5_unsubscribe = h("A2 06 00 02 00 00 01 61")
    assert decoder.feed(v5_connect + v5_unsubscribe)[1] == Unsubscribe(2, ("a",))
    assert decoder.version == 5


def test_v3_shaped_connack_only_in_v5() -> None:
    assert decode(h("20 02 00 01"), 5) == Connack(False, 1, (), True)
    assert decode(h("20 02 00 01"), 4) == Connack(False, 1, (), False)
    assert encode(Connack(False, 1, (), True), 5) == h("20 02 00 01")


# --- 3.x ignores the 5.0-only fields ------------------------------------------------------------

PROPS = ((0x26, ("k", "v")),)


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        (Puback(1, 0x80, ((0x1F, "no"),)), "40 02 00 01"),
        (Pubrec(1, 0x10), "50 02 00 01"),
        (Pubrel(1, 0x92), "62 02 00 01"),
        (Pubcomp(1, 0, PROPS), "70 02 00 01"),
        (Unsuback(2, (0, 0x11), PROPS), "B0 02 00 02"),
        (Disconnect(0x04, ((0x11, 5),)), "E0 00"),
        (Connack(True, 0, ((0x24, 1),)), "20 02 01 00"),
        (Publish("a/b", b"hi", properties=((0x01, 1),)), "30 07 00 03 61 2F 62 68 69"),
        (Subscribe(1, (Subscription("b", 2, True, True, 2),), PROPS), "82 06 00 01 00 01 62 02"),
        (Unsubscribe(2, ("b",), PROPS), "A2 05 00 02 00 01 62"),
    ],
    ids=repr,
)
def test_v3_ignores_v5_fields(version: int, packet: object, wire: str) -> None:
    assert encode(packet, version) == h(wire)  # type: ignore[arg-type]


def test_v3_connect_ignores_properties() -> None:
    packet = Connect(
        "abc", 4, True, 60, will=Will("w", b"x", properties=((0x18, 5),)), properties=((0x11, 9),)
    )
    assert encode(packet, 4) == h(
        f"10 15 00 04 4D 51 54 54 04 06 00 3C {'00 03 61 62 63'} 00 01 77 00 01 78"
    )


@pytest.mark.parametrize("version", [3, 4])
def test_auth_does_not_exist_in_v3(version: int) -> None:
    with pytest.raises(InvalidArgumentError):
        encode(Auth(), version)


# --- Remaining Length boundaries (MQTT 5.0 §1.5.5) ----------------------------------------------


@pytest.mark.parametrize(
    ("length", "field"),
    [(0, "00"), (127, "7F"), (128, "80 01"), (16_383, "FF 7F"), (16_384, "80 80 01")],
)
def test_remaining_length_boundaries_small(length: int, field: str) -> None:
    # SUBACK in 3.1.1: packet id + (length - 2) return codes; PINGRESP for RL 0.
    if length == 0:
        wire, packet = h("D0 00"), decode(h("D0 00"))
    else:
        codes = bytes(length - 2)
        wire = h(f"90 {field} 00 01") + codes
        packet = decode(wire)
        assert encode(packet, 4) == wire
    assert decode(wire, 4) == packet


@pytest.mark.parametrize(
    ("length", "field"),
    [(2_097_151, "FF FF 7F"), (2_097_152, "80 80 80 01")],
)
def test_remaining_length_boundaries_large(length: int, field: str) -> None:
    payload = b"\xab" * (length - 3)
    wire = h(f"30 {field} 00 01 74") + payload
    assert encode_publish("t", payload, 0, False, False, 0, (), 4) == wire
    decoder = Decoder(4)
    packets = []
    for i in range(0, len(wire), 65536):
        packets += decoder.feed(wire[i : i + 65536])
    assert packets == [Publish("t", payload)]


def test_remaining_length_maximum_header() -> None:
    # 268,435,455 = FF FF FF 7F: accepted by the header parser, the body is awaited.
    decoder = Decoder(4)
    assert decoder.feed(h("30 FF FF FF 7F 00 01 74")) == []


def test_remaining_length_over_maximum_refused_by_encoder() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return 268_435_455

    with pytest.raises(PayloadTooLargeError):
        encode_publish("t", Huge(), 0, False, False, 0, (), 4)
