"""Malformed and forbidden input: each case raises exactly one typed error with its reason code."""

from __future__ import annotations

import pytest

from mqttclient._core.codec import Decoder, decode, decode_properties, encode
from mqttclient._core.packets import Publish
from mqttclient.errors import (
    InvalidArgumentError,
    MalformedPacketError,
    PacketTooLargeError,
    ProtocolError,
)
from tests.unit.codec_fixtures import MQTT, h

M = (MalformedPacketError, 0x81)
P = (ProtocolError, 0x82)

# (name, version, wire, (error class, reason code))
CASES = [
    # --- fixed header (v3 §2.2, v5 §2.1) ---
    ("type-0", 4, "00 00", M),
    ("type-0-v5", 5, "00 00", M),
    ("auth-in-v311", 4, "F0 00", M),
    ("auth-in-v31", 3, "F0 00", M),
    ("publish-qos3", 4, "36 05 00 01 74 00 01", M),
    ("publish-qos3-dup-retain", 5, "3F 05 00 01 74 00 01", M),
    ("pubrel-flags-0000", 4, "60 02 00 01", M),
    ("subscribe-flags-0000", 4, "80 06 00 01 00 01 61 00", M),
    ("unsubscribe-flags-0000", 5, "A0 06 00 01 00 00 01 61", M),
    ("puback-flags-0010", 4, "42 02 00 01", M),
    ("connect-flags", 4, "11 00", M),
    ("connack-flags", 5, "28 03 00 00 00", M),
    ("pingreq-flags", 4, "C1 00", M),
    ("pingresp-flags", 4, "D8 00", M),
    ("disconnect-flags", 5, "E2 00", M),
    ("auth-flags", 5, "F1 00", M),
    # --- remaining length (v5 §1.5.5, §2.1.4) ---
    ("rl-continuation-on-4th-byte", 4, "30 FF FF FF FF 01", M),
    ("rl-non-minimal-80-00", 4, "30 80 00", M),
    ("rl-non-minimal-FF-00", 4, "D0 FF 00", M),
    ("rl-non-minimal-3-bytes", 5, "30 80 80 00", M),
    ("rl-non-minimal-4-bytes", 5, "30 85 80 80 00", M),
    # --- truncated fields and fields overrunning the packet ---
    ("publish-topic-length-truncated", 4, "30 01 00", M),
    ("publish-topic-overruns", 4, "30 03 00 05 61", M),
    ("publish-qos1-no-packet-id", 4, "32 05 00 03 61 2F 62", M),
    ("publish-qos1-half-packet-id", 4, "32 06 00 03 61 2F 62 00", M),
    ("publish-v5-no-property-length", 5, "30 05 00 03 61 2F 62", M),
    ("publish-v5-property-length-overruns", 5, "30 07 00 03 61 2F 62 05 01", M),
    ("puback-truncated", 4, "40 01 00", M),
    ("puback-rl0", 5, "40 00", M),
    ("connack-truncated", 4, "20 01 00", M),
    ("connack-v5-truncated-properties", 5, "20 04 00 00 05 24", M),
    ("subscribe-options-missing", 4, "82 06 00 01 00 02 61 62", M),
    ("subscribe-filter-overruns", 4, "82 06 00 01 00 09 61 62", M),
    ("suback-truncated", 4, "90 01 00", M),
    ("unsubscribe-filter-overruns", 4, "A2 05 00 01 00 05 61", M),
    ("connect-truncated", 4, f"10 08 {MQTT} 04 02", M),
    ("connect-missing-client-id", 4, f"10 0A {MQTT} 04 02 00 3C", M),
    ("connect-missing-will", 4, f"10 0F {MQTT} 04 06 00 3C 00 03 61 62 63", M),
    ("connect-missing-password", 4, f"10 14 {MQTT} 04 C2 00 3C 00 03 61 62 63 00 03 61 62 63", M),
    ("disconnect-v5-truncated-properties", 5, "E0 03 00 05 11", M),
    ("auth-reason-without-property-length", 5, "F0 01 18", M),
    # --- trailing bytes inside a packet ---
    ("puback-v311-rl3", 4, "40 03 00 01 00", M),
    ("pubrel-v31-rl4", 3, "62 04 00 01 00 00", M),
    ("unsuback-v311-rl3", 4, "B0 03 00 01 00", M),
    ("connack-v311-rl3", 4, "20 03 00 00 00", M),
    ("pingreq-body", 4, "C0 01 00", M),
    ("pingresp-body", 5, "D0 01 00", M),
    ("disconnect-v311-body", 4, "E0 01 00", M),
    ("connect-trailing", 4, f"10 10 {MQTT} 04 02 00 3C 00 03 61 62 63 FF", M),
    ("connack-v5-trailing", 5, "20 04 00 00 00 FF", M),
    ("puback-v5-trailing", 5, "40 05 00 01 00 00 FF", M),
    ("disconnect-v5-trailing", 5, "E0 03 00 00 FF", M),
    ("auth-v5-trailing", 5, "F0 03 00 00 FF", M),
    # --- UTF-8 strings (v3 §1.5.3, v5 §1.5.4) ---
    ("topic-invalid-utf8", 4, "30 04 00 02 C3 28", M),
    ("topic-surrogate", 4, "30 05 00 03 ED A0 80", M),
    ("topic-overlong-slash", 4, "30 04 00 02 C0 AF", M),
    ("topic-overlong-nul", 5, "30 05 00 02 C0 80 00", M),
    ("topic-nul", 4, "30 05 00 03 61 00 62", M),
    ("client-id-nul", 4, f"10 0E {MQTT} 04 02 00 3C 00 02 61 00", M),
    ("username-invalid-utf8", 4, f"10 11 {MQTT} 04 82 00 3C 00 01 61 00 02 FF FE", M),
    ("filter-nul", 4, "82 06 00 01 00 01 00 00", M),
    ("unsubscribe-filter-surrogate", 4, "A2 07 00 01 00 03 ED B0 80", M),
    ("user-property-nul", 5, "30 0C 00 01 74 07 26 00 01 00 00 01 76 70", M),
    ("reason-string-invalid-utf8", 5, "40 08 00 01 80 04 1F 00 01 FF", M),
    ("protocol-name-invalid-utf8", 4, "10 0A 00 04 FF 51 54 54 04 02 00 3C", M),
    # --- properties (v5 §2.2.2) ---
    ("property-not-allowed-in-publish", 5, "30 09 00 01 74 05 11 00 00 00 01", M),
    ("property-not-allowed-in-puback", 5, "40 06 00 01 00 02 01 01", M),
    ("property-not-allowed-in-subscribe", 5, "82 09 00 01 02 01 01 00 01 61 00", M),
    ("property-not-allowed-in-unsubscribe", 5, "A2 09 00 01 02 0B 01 00 01 61 00", M),
    ("property-in-disconnect-will-delay", 5, "E0 07 00 05 18 00 00 00 01", M),
    ("property-unknown-id-05", 5, "30 06 00 01 74 02 05 01", M),
    ("property-unknown-id-80", 5, "30 07 00 01 74 03 80 01 01", M),
    ("property-unknown-id-00", 5, "30 06 00 01 74 02 00 01", M),
    ("property-value-truncated-u32", 5, "30 07 00 01 74 03 02 00 00", M),
    ("property-value-truncated-u16", 5, "30 06 00 01 74 02 23 00", M),
    ("property-value-truncated-byte", 5, "30 05 00 01 74 01 01", M),
    ("property-string-overruns-block", 5, "30 07 00 01 74 03 03 00 05", M),
    ("property-vbi-non-minimal", 5, "30 07 00 01 74 03 0B 81 00", M),
    ("property-vbi-truncated", 5, "30 06 00 01 74 02 0B 81", M),
    ("property-length-non-minimal", 5, "30 05 00 01 74 80 00", M),
    ("property-length-5-bytes", 5, "30 08 00 01 74 80 80 80 80 01", M),
    ("duplicate-message-expiry", 5, "30 0E 00 01 74 0A 02 00 00 00 01 02 00 00 00 02", P),
    ("duplicate-maximum-qos", 5, "20 07 00 00 04 24 00 24 01", P),
    ("duplicate-reason-string", 5, "40 0C 00 01 80 08 1F 00 01 61 1F 00 01 62", P),
    ("duplicate-subscription-id-in-subscribe", 5, "82 0B 00 01 04 0B 01 0B 02 00 01 61 00", P),
    ("receive-maximum-0", 5, "20 06 00 00 03 21 00 00", P),
    ("maximum-packet-size-0", 5, "20 08 00 00 05 27 00 00 00 00", P),
    ("subscription-id-0-publish", 5, "30 06 00 01 74 02 0B 00", P),
    ("subscription-id-0-subscribe", 5, "82 09 00 01 02 0B 00 00 01 61 00", P),
    ("maximum-qos-2", 5, "20 05 00 00 02 24 02", P),
    ("retain-available-2", 5, "20 05 00 00 02 25 02", P),
    ("request-problem-information-2", 5, f"10 0F {MQTT} 05 02 00 3C 02 17 02 00 00", P),
    # --- CONNACK (v3 §3.2.2.1, v5 [MQTT-3.2.2-1]) ---
    ("connack-reserved-bit-1", 4, "20 02 02 00", M),
    ("connack-reserved-bit-7", 5, "20 03 80 00 00", M),
    ("connack-reserved-v3-shaped", 5, "20 02 FE 00", M),
    # --- PUBLISH (v3 [MQTT-2.3.1-1], v5 [MQTT-2.2.1-3]) ---
    ("publish-qos1-packet-id-0", 4, "32 07 00 03 61 2F 62 00 00", P),
    ("publish-qos2-packet-id-0", 5, "34 08 00 03 61 2F 62 00 00 00", P),
    ("puback-packet-id-0", 4, "40 02 00 00", P),
    ("subscribe-packet-id-0", 4, "82 06 00 00 00 01 61 00", P),
    ("unsubscribe-packet-id-0", 4, "A2 05 00 00 00 01 61", P),
    # --- SUBSCRIBE / UNSUBSCRIBE payloads ---
    ("subscribe-no-filters", 4, "82 02 00 01", P),
    ("subscribe-no-filters-v5", 5, "82 03 00 01 00", P),
    ("unsubscribe-no-filters", 4, "A2 02 00 01", P),
    ("subscribe-v311-options-reserved-bits", 4, "82 06 00 01 00 01 61 04", M),
    ("subscribe-v311-qos3", 4, "82 06 00 01 00 01 61 03", M),
    ("subscribe-v5-options-reserved-bits", 5, "82 07 00 01 00 00 01 61 40", M),
    ("subscribe-v5-qos3", 5, "82 07 00 01 00 00 01 61 03", P),
    ("subscribe-v5-retain-handling-3", 5, "82 07 00 01 00 00 01 61 30", P),
    # --- CONNECT (v3 §3.1.2, v5 §3.1.2) ---
    ("connect-reserved-flag", 4, f"10 0F {MQTT} 04 03 00 3C 00 03 61 62 63", M),
    ("connect-will-qos3", 4, f"10 15 {MQTT} 04 1E 00 3C 00 03 61 62 63 00 01 77 00 01 78", M),
    ("connect-will-qos-without-will", 4, f"10 0F {MQTT} 04 0A 00 3C 00 03 61 62 63", M),
    ("connect-will-retain-without-will", 5, f"10 10 {MQTT} 05 22 00 3C 00 00 03 61 62 63", M),
    (
        "connect-v311-password-without-user",
        4,
        f"10 12 {MQTT} 04 42 00 3C 00 03 61 62 63 00 01 70",
        M,
    ),
    ("connect-unknown-protocol-name", 4, "10 0F 00 04 4D 51 54 58 04 02 00 3C 00 03 61 62 63", M),
    ("connect-level-6", 4, f"10 0F {MQTT} 06 02 00 3C 00 03 61 62 63", (ProtocolError, 0x84)),
    ("connect-mqtt-level-3", 4, f"10 0F {MQTT} 03 02 00 3C 00 03 61 62 63", (ProtocolError, 0x84)),
    (
        "connect-mqisdp-level-4",
        4,
        "10 11 00 06 4D 51 49 73 64 70 04 02 00 3C 00 03 61 62 63",
        (ProtocolError, 0x84),
    ),
    (
        "connect-will-property-not-allowed",
        5,
        f"10 1A {MQTT} 05 06 00 3C 00 00 03 61 62 63 02 21 00 01 00 01 77 00 01 78",
        M,
    ),
]


@pytest.mark.parametrize(("name", "version", "wire", "expected"), CASES, ids=[c[0] for c in CASES])
def test_malformed(name: str, version: int, wire: str, expected: tuple[type, int]) -> None:
    data = h(wire)
    if not name.startswith("rl-"):
        # The fixture's own Remaining Length must be right, or it tests something else.
        length, shift, i = 0, 0, 1
        while data[i] & 0x80:
            length |= (data[i] & 0x7F) << shift
            shift, i = shift + 7, i + 1
        length |= data[i] << shift
        assert i + 1 + length == len(data), "fixture remaining length is wrong"
    error_class, reason_code = expected
    with pytest.raises(ProtocolError) as info:
        Decoder(version).feed(data)
    assert type(info.value) is error_class
    assert info.value.reason_code == reason_code


@pytest.mark.parametrize(("name", "version", "wire", "expected"), CASES, ids=[c[0] for c in CASES])
def test_malformed_one_byte_at_a_time(
    name: str, version: int, wire: str, expected: tuple[type, int]
) -> None:
    decoder = Decoder(version)
    data = h(wire)
    with pytest.raises(ProtocolError) as info:
        for i in range(len(data)):
            decoder.feed(data[i : i + 1])
        raise AssertionError("incomplete")  # pragma: no cover - would mean no error raised
    assert type(info.value) is expected[0]
    assert info.value.reason_code == expected[1]


def test_error_is_sticky() -> None:
    decoder = Decoder(4)
    with pytest.raises(MalformedPacketError):
        decoder.feed(h("00 00"))
    for data in (h("D0 00"), b""):
        with pytest.raises(MalformedPacketError) as info:
            decoder.feed(data)
        assert info.value.reason_code == 0x81
    decoder = Decoder(4, max_packet_size=10)
    with pytest.raises(PacketTooLargeError):
        decoder.feed(h("30 7F"))
    with pytest.raises(PacketTooLargeError) as too_large:
        decoder.feed(h("D0 00"))
    assert too_large.value.reason_code == 0x95


def test_bad_first_byte_detected_before_rest() -> None:
    # The first byte alone is enough to refuse: nothing is buffered waiting for a length.
    with pytest.raises(MalformedPacketError):
        Decoder(4).feed(h("60"))


def test_packets_before_an_error_are_dropped_with_it() -> None:
    with pytest.raises(MalformedPacketError):
        Decoder(4).feed(h("D0 00 00 00"))


# --- packet size limit (MQTT 5.0 §2.1.4, §3.1.2.11.4) --------------------------------------------


def test_too_large_refused_from_the_fixed_header() -> None:
    decoder = Decoder(5, max_packet_size=10)
    # 30 09: whole size 1 + 1 + 9 = 11 > 10; raised before any of the body arrives.
    with pytest.raises(PacketTooLargeError) as info:
        decoder.feed(h("30 09"))
    assert info.value.reason_code == 0x95


def test_size_limit_counts_the_whole_packet() -> None:
    wire = h("30 08 00 03 61 2F 62 00 68 69")  # 10 bytes
    assert Decoder(5, max_packet_size=10).feed(wire) == [Publish("a/b", b"hi")]
    with pytest.raises(PacketTooLargeError):
        Decoder(5, max_packet_size=9).feed(wire)


def test_size_limit_multi_byte_remaining_length() -> None:
    # RL 200 = C8 01: whole size 203.
    header = h("30 C8 01")
    Decoder(4, max_packet_size=203).feed(header)
    with pytest.raises(PacketTooLargeError):
        Decoder(4, max_packet_size=202).feed(header)


def test_size_limit_of_protocol_when_unset() -> None:
    decoder = Decoder(4)
    assert decoder.feed(h("30 FF FF FF 7F")) == []  # 268,435,460 bytes: the protocol maximum


def test_size_limit_lowered_while_packet_pending() -> None:
    decoder = Decoder(5)
    assert decoder.feed(h("30 64 00")) == []  # 102 bytes announced
    decoder.max_packet_size = 50
    with pytest.raises(PacketTooLargeError):
        decoder.feed(b"x")


def test_buffer_never_exceeds_the_limit() -> None:
    decoder = Decoder(4, max_packet_size=1000)
    body = h("00 01 74") + b"x" * 994  # RL 997 → 1000 bytes
    wire = h("30 E5 07") + body
    for i in range(len(wire) - 1):
        assert decoder.feed(wire[i : i + 1]) == []
        assert len(decoder._buf) <= 1000
    assert decoder.feed(wire[-1:]) == [Publish("t", b"x" * 994)]
    assert len(decoder._buf) == 0


@pytest.mark.parametrize("size", [0, 1, -5])
def test_invalid_max_packet_size(size: int) -> None:
    with pytest.raises(InvalidArgumentError):
        Decoder(4, max_packet_size=size)


@pytest.mark.parametrize("version", [0, 2, 6, None])
def test_invalid_version(version: object) -> None:
    with pytest.raises(InvalidArgumentError):
        Decoder(version)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        encode(Publish("t"), version)  # type: ignore[arg-type]


def test_decode_requires_exactly_one_packet() -> None:
    with pytest.raises(MalformedPacketError):
        decode(h("D0 00 D0 00"))
    with pytest.raises(MalformedPacketError):
        decode(h("30 05 00 03"))
    with pytest.raises(MalformedPacketError):
        decode(b"")


@pytest.mark.parametrize(
    ("data", "packet_type", "error"),
    [
        ("05 02 00 00", 3, MalformedPacketError),  # length overruns
        ("02 11 00", 3, MalformedPacketError),  # not allowed in PUBLISH
        ("02 01 01", 99, None),  # allowed in Will
        ("05 18 00 00 00 01", 99, None),  # Will Delay Interval
        ("05 18 00 00 00 01", 14, MalformedPacketError),  # not in DISCONNECT
        ("02 01 01", 12, MalformedPacketError),  # PINGREQ has no properties
        ("02 01 01", 42, MalformedPacketError),  # no such packet type
        ("", 3, MalformedPacketError),  # no length at all
    ],
)
def test_decode_properties_errors(data: str, packet_type: int, error: type | None) -> None:
    if error is None:
        decode_properties(h(data), packet_type)
    else:
        with pytest.raises(error):
            decode_properties(h(data), packet_type)
