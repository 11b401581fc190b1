"""Byte fixtures for the codec, written by hand from the MQTT 3.1, 3.1.1 and 5.0 standards.

Every byte below was counted by hand from the spec's packet layouts (never produced by our
encoder), so the tests compare the codec with the standard rather than with itself. Comments give
the field boundaries; ``RL`` is the Remaining Length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
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


def h(text: str) -> bytes:
    """Hex bytes; whitespace, ``|`` separators and ``#`` comments are ignored."""
    return bytes.fromhex(re.sub(r"#[^\n]*|[|\s]", "", text))


@dataclass(frozen=True)
class Fixture:
    name: str
    version: int
    wire: bytes
    packet: Packet
    canonical: bool = True  # False: a legal form our encoder does not produce (decode only)

    def __str__(self) -> str:
        return f"v{self.version}-{self.name}"


MQTT = "00 04 4D 51 54 54"  # "MQTT"
MQISDP = "00 06 4D 51 49 73 64 70"  # "MQIsdp"

# Packets whose wire form is the same in 3.1 and 3.1.1.
V3_COMMON = [
    Fixture("connack-session-present", 4, h("20 02 | 01 | 00"), Connack(True, 0)),
    Fixture("connack-refused-5", 4, h("20 02 | 00 | 05"), Connack(False, 5)),
    Fixture("publish-qos0", 4, h("30 07 | 00 03 61 2F 62 | 68 69"), Publish("a/b", b"hi")),
    Fixture(
        "publish-qos1-retain-dup",
        4,
        h("3B 09 | 00 03 61 2F 62 | 00 0A | 68 69"),
        Publish("a/b", b"hi", 1, True, True, 10),
    ),
    Fixture(
        "publish-qos2-pid-65535",
        4,
        h("34 08 | 00 01 74 | FF FF | 00 01 02"),
        Publish("t", b"\x00\x01\x02", 2, False, False, 65535),
    ),
    Fixture("publish-empty-payload", 4, h("30 05 | 00 03 61 2F 62"), Publish("a/b")),
    # U+FEFF must be kept, never stripped [MQTT-1.5.4-3]; "ä" is C3 A4.
    Fixture("publish-bom-topic", 4, h("30 07 | 00 05 EF BB BF C3 A4"), Publish("\ufeffä")),
    Fixture(
        "publish-rl-2-bytes",
        4,
        h("30 CB 01 | 00 01 74") + b"x" * 200,  # RL 203 = 0x4B + 1 * 128
        Publish("t", b"x" * 200),
    ),
    Fixture("puback", 4, h("40 02 00 01"), Puback(1)),
    Fixture("pubrec", 4, h("50 02 00 02"), Pubrec(2)),
    Fixture("pubrel", 4, h("62 02 00 03"), Pubrel(3)),
    Fixture("pubcomp", 4, h("70 02 12 34"), Pubcomp(0x1234)),
    Fixture(
        "subscribe",
        4,
        h("82 0C | 00 01 | 00 03 61 2F 23 | 01 | 00 01 62 | 02"),
        Subscribe(1, (Subscription("a/#", 1), Subscription("b", 2))),
    ),
    Fixture("suback", 4, h("90 05 | 00 01 | 01 02 80"), Suback(1, (1, 2, 0x80))),
    Fixture(
        "unsubscribe",
        4,
        h("A2 0A | 00 02 | 00 03 61 2F 23 | 00 01 62"),
        Unsubscribe(2, ("a/#", "b")),
    ),
    Fixture("unsuback", 4, h("B0 02 00 02"), Unsuback(2)),
    Fixture("pingreq", 4, h("C0 00"), Pingreq()),
    Fixture("pingresp", 4, h("D0 00"), Pingresp()),
    Fixture("disconnect", 4, h("E0 00"), Disconnect()),
]

V311 = [
    Fixture(
        "connect-minimal",
        4,
        h(f"10 0F | {MQTT} | 04 | 02 | 00 3C | 00 03 61 62 63"),
        Connect("abc", 4, True, 60),
    ),
    Fixture(
        "connect-full",
        4,
        # flags EC = user 80 | password 40 | will retain 20 | will QoS 1 08 | will 04; clean 0
        h(
            f"10 1F | {MQTT} | 04 | EC | 00 0A"
            "| 00 02 63 31"  # client id "c1"
            "| 00 03 77 2F 74"  # will topic "w/t"
            "| 00 03 62 79 65"  # will message "bye"
            "| 00 01 75"  # user name "u"
            "| 00 02 70 77"  # password "pw"
        ),
        Connect("c1", 4, False, 10, "u", b"pw", Will("w/t", b"bye", 1, True)),
    ),
    Fixture(
        "connect-bridge",
        4,
        h(f"10 0F | {MQTT} | 84 | 02 | 00 3C | 00 03 61 62 63"),
        Connect("abc", 4, True, 60, bridge=True),
    ),
    Fixture(
        "connect-empty-client-id",
        4,
        h(f"10 0C | {MQTT} | 04 | 02 | 00 00 | 00 00"),
        Connect("", 4, True, 0),
    ),
    *V3_COMMON,
]

V31 = [
    Fixture(
        "connect-minimal",
        3,
        h(f"10 11 | {MQISDP} | 03 | 02 | 00 3C | 00 03 61 62 63"),
        Connect("abc", 3, True, 60),
    ),
    Fixture(
        "connect-username",
        3,
        h(f"10 16 | {MQISDP} | 03 | 82 | 00 3C | 00 03 61 62 63 | 00 03 62 6F 62"),
        Connect("abc", 3, True, 60, "bob"),
    ),
    Fixture(
        "connect-will-password",
        3,
        # flags C6 = user 80 | password 40 | will 04 | clean 02
        h(
            f"10 1E | {MQISDP} | 03 | C6 | 00 3C"
            "| 00 03 61 62 63 | 00 01 77 | 00 02 6F 6B | 00 01 75 | 00 01 70"
        ),
        Connect("abc", 3, True, 60, "u", b"p", Will("w", b"ok")),
    ),
    *(Fixture(f.name, 3, f.wire, f.packet, f.canonical) for f in V3_COMMON),
]

USER_KV = "26 00 01 6B 00 01 76"  # User Property ("k", "v"), 7 bytes

V5 = [
    Fixture(
        "connect-minimal",
        5,
        h(f"10 10 | {MQTT} | 05 | 02 | 00 3C | 00 | 00 03 61 62 63"),
        Connect("abc", 5, True, 60),
    ),
    Fixture(
        "connect-full",
        5,
        # flags D6 = user 80 | password 40 | will QoS 2 10 | will 04 | clean start 02
        h(
            f"10 4E | {MQTT} | 05 | D6 | 00 1E"
            "| 14"  # property length 20
            "  11 00 00 0E 10"  # Session Expiry Interval 3600
            "  21 00 14"  # Receive Maximum 20
            "  27 00 00 04 00"  # Maximum Packet Size 1024
            f" {USER_KV}"
            "| 00 02 63 35"  # client id "c5"
            "| 1E"  # will property length 30
            "  18 00 00 00 1E"  # Will Delay Interval 30
            "  01 01"  # Payload Format Indicator 1
            "  02 00 00 00 3C"  # Message Expiry Interval 60
            "  03 00 04 74 65 78 74"  # Content Type "text"
            "  08 00 03 72 2F 74"  # Response Topic "r/t"
            "  09 00 02 AB CD"  # Correlation Data AB CD
            "| 00 01 77 | 00 01 78 | 00 01 75 | 00 01 70"  # will topic, payload, user, password
        ),
        Connect(
            "c5",
            5,
            True,
            30,
            "u",
            b"p",
            Will(
                "w",
                b"x",
                2,
                False,
                (
                    (0x18, 30),
                    (0x01, 1),
                    (0x02, 60),
                    (0x03, "text"),
                    (0x08, "r/t"),
                    (0x09, b"\xab\xcd"),
                ),
            ),
            ((0x11, 3600), (0x21, 20), (0x27, 1024), (0x26, ("k", "v"))),
        ),
    ),
    Fixture(
        "connect-password-only-auth",
        5,
        # 5.0 allows a password without a user name (§3.1.2.9); flags 42 = password | clean
        h(
            f"10 26 | {MQTT} | 05 | 42 | 00 00"
            "| 14"
            "  15 00 05 53 43 52 41 4D"  # Authentication Method "SCRAM"
            "  16 00 02 01 02"  # Authentication Data 01 02
            "  17 00"  # Request Problem Information 0
            "  19 01"  # Request Response Information 1
            "  22 00 0A"  # Topic Alias Maximum 10
            "| 00 01 63 | 00 02 70 77"
        ),
        Connect(
            "c",
            5,
            True,
            0,
            None,
            b"pw",
            None,
            ((0x15, "SCRAM"), (0x16, b"\x01\x02"), (0x17, 0), (0x19, 1), (0x22, 10)),
        ),
    ),
    Fixture("connack-minimal", 5, h("20 03 | 00 | 00 | 00"), Connack(False, 0)),
    Fixture("connack-refused", 5, h("20 03 | 00 | 87 | 00"), Connack(False, 0x87)),
    Fixture(
        "connack-all-properties",
        5,
        h(
            "20 45 | 01 | 00 | 42"
            "  12 00 04 61 75 74 6F"  # Assigned Client Identifier "auto"
            "  13 00 0A"  # Server Keep Alive 10
            "  24 01"  # Maximum QoS 1
            "  25 00"  # Retain Available 0
            "  21 00 05"  # Receive Maximum 5
            "  22 00 0A"  # Topic Alias Maximum 10
            "  27 00 00 10 00"  # Maximum Packet Size 4096
            "  28 01  29 00  2A 01"  # Wildcard / Subscription Id / Shared available
            "  1F 00 02 6F 6B"  # Reason String "ok"
            "  1A 00 02 72 69"  # Response Information "ri"
            "  1C 00 02 73 32"  # Server Reference "s2"
            "  11 00 00 00 3C"  # Session Expiry Interval 60
            "  15 00 01 6D"  # Authentication Method "m"
            "  16 00 01 01"  # Authentication Data 01
            "  26 00 01 61 00 01 62"  # User Property ("a", "b")
        ),
        Connack(
            True,
            0,
            (
                (0x12, "auto"),
                (0x13, 10),
                (0x24, 1),
                (0x25, 0),
                (0x21, 5),
                (0x22, 10),
                (0x27, 4096),
                (0x28, 1),
                (0x29, 0),
                (0x2A, 1),
                (0x1F, "ok"),
                (0x1A, "ri"),
                (0x1C, "s2"),
                (0x11, 60),
                (0x15, "m"),
                (0x16, b"\x01"),
                (0x26, ("a", "b")),
            ),
        ),
    ),
    # A 3.1.1-only server refusing level 5 answers with RL 2 (rules §2.1).
    Fixture("connack-v3-shaped", 5, h("20 02 | 00 | 01"), Connack(False, 1, (), True)),
    Fixture("publish-qos0", 5, h("30 08 | 00 03 61 2F 62 | 00 | 68 69"), Publish("a/b", b"hi")),
    Fixture(
        "publish-qos1-properties",
        5,
        h(
            "32 29 | 00 01 74 | 00 05 | 22"
            "  01 01"  # Payload Format Indicator 1
            "  02 00 00 00 0A"  # Message Expiry Interval 10
            "  23 00 01"  # Topic Alias 1
            "  08 00 01 72"  # Response Topic "r"
            "  09 00 01 FF"  # Correlation Data FF
            "  0B 05"  # Subscription Identifier 5
            "  0B 81 01"  # Subscription Identifier 129 (may repeat in PUBLISH)
            "  03 00 01 63"  # Content Type "c"
            f" {USER_KV}"
            "| 70"
        ),
        Publish(
            "t",
            b"p",
            1,
            False,
            False,
            5,
            (
                (0x01, 1),
                (0x02, 10),
                (0x23, 1),
                (0x08, "r"),
                (0x09, b"\xff"),
                (0x0B, 5),
                (0x0B, 129),
                (0x03, "c"),
                (0x26, ("k", "v")),
            ),
        ),
    ),
    Fixture(
        "publish-alias-empty-topic",
        5,
        h("30 08 | 00 00 | 03 23 00 01 | 68 69"),
        Publish("", b"hi", properties=((0x23, 1),)),
    ),
    Fixture("puback-short", 5, h("40 02 00 01"), Puback(1)),
    Fixture("puback-reason-only", 5, h("40 03 | 00 01 | 10"), Puback(1, 0x10)),
    Fixture(
        "puback-properties",
        5,
        h("40 08 | 00 01 | 80 | 04 1F 00 01 78"),
        Puback(1, 0x80, ((0x1F, "x"),)),
    ),
    Fixture("puback-rl4-empty-properties", 5, h("40 04 00 01 00 00"), Puback(1), False),
    Fixture("puback-rl4-reason", 5, h("40 04 00 01 80 00"), Puback(1, 0x80), False),
    Fixture("pubrec-reason", 5, h("50 03 | 00 02 | 10"), Pubrec(2, 0x10)),
    Fixture("pubrel-reason", 5, h("62 03 | 00 03 | 92"), Pubrel(3, 0x92)),
    Fixture(
        "pubcomp-user-property",
        5,
        h("70 0B | 00 04 | 00 | 07 26 00 01 61 00 01 62"),
        Pubcomp(4, 0, ((0x26, ("a", "b")),)),
    ),
    Fixture(
        "subscribe",
        5,
        h(
            "82 1F | 00 01 | 09 0B 0A"  # Subscription Identifier 10
            f" {USER_KV}"
            "| 00 03 61 2F 2B | 2D"  # "a/+": QoS 1 | No Local 04 | RAP 08 | Retain Handling 2
            "| 00 0A 24 73 68 61 72 65 2F 67 2F 78 | 10"  # "$share/g/x": Retain Handling 1
        ),
        Subscribe(
            1,
            (Subscription("a/+", 1, True, True, 2), Subscription("$share/g/x", 0, False, False, 1)),
            ((0x0B, 10), (0x26, ("k", "v"))),
        ),
    ),
    Fixture(
        "suback",
        5,
        h("90 0D | 00 01 | 05 1F 00 02 6F 6B | 01 02 80 87 A2"),
        Suback(1, (1, 2, 0x80, 0x87, 0xA2), ((0x1F, "ok"),)),
    ),
    Fixture("unsubscribe", 5, h("A2 06 | 00 02 | 00 | 00 01 61"), Unsubscribe(2, ("a",))),
    Fixture("unsuback", 5, h("B0 05 | 00 02 | 00 | 00 11"), Unsuback(2, (0, 0x11))),
    Fixture("pingreq", 5, h("C0 00"), Pingreq()),
    Fixture("pingresp", 5, h("D0 00"), Pingresp()),
    Fixture("disconnect-short", 5, h("E0 00"), Disconnect()),
    Fixture("disconnect-reason-only", 5, h("E0 01 04"), Disconnect(4)),
    Fixture(
        "disconnect-properties",
        5,
        h("E0 0D | 00 | 0B 11 00 00 00 00 1F 00 03 62 79 65"),
        Disconnect(0, ((0x11, 0), (0x1F, "bye"))),
    ),
    Fixture(
        "disconnect-server-moved",
        5,
        h("E0 07 | 9C | 05 1C 00 02 68 32"),
        Disconnect(0x9C, ((0x1C, "h2"),)),
    ),
    Fixture("disconnect-rl1-success", 5, h("E0 01 00"), Disconnect(), False),
    Fixture("disconnect-rl2-success", 5, h("E0 02 00 00"), Disconnect(), False),
    Fixture("auth-short", 5, h("F0 00"), Auth()),
    Fixture(
        "auth-continue",
        5,
        h("F0 0A | 18 | 08 15 00 01 6D 16 00 01 01"),
        Auth(0x18, ((0x15, "m"), (0x16, b"\x01"))),
    ),
    Fixture("auth-empty-properties", 5, h("F0 02 00 00"), Auth(), False),
]

ALL = V31 + V311 + V5

# One property of every identifier: (identifier, value, bytes of identifier and value).
PROPERTIES = [
    (0x01, 1, "01 01"),
    (0x02, 0x01020304, "02 01 02 03 04"),
    (0x03, "a", "03 00 01 61"),
    (0x08, "r/t", "08 00 03 72 2F 74"),
    (0x09, b"\x00\xff", "09 00 02 00 FF"),
    (0x0B, 268_435_455, "0B FF FF FF 7F"),
    (0x11, 0xFFFFFFFF, "11 FF FF FF FF"),
    (0x12, "id", "12 00 02 69 64"),
    (0x13, 65535, "13 FF FF"),
    (0x15, "SCRAM", "15 00 05 53 43 52 41 4D"),
    (0x16, b"", "16 00 00"),
    (0x17, 0, "17 00"),
    (0x18, 5, "18 00 00 00 05"),
    (0x19, 1, "19 01"),
    (0x1A, "ri", "1A 00 02 72 69"),
    (0x1C, "h:1", "1C 00 03 68 3A 31"),
    (0x1F, "\u00e9", "1F 00 02 C3 A9"),
    (0x21, 1, "21 00 01"),
    (0x22, 0, "22 00 00"),
    (0x23, 1, "23 00 01"),
    (0x24, 0, "24 00"),
    (0x25, 1, "25 01"),
    (0x26, ("", "v"), "26 00 00 00 01 76"),
    (0x27, 1, "27 00 00 00 01"),
    (0x28, 0, "28 00"),
    (0x29, 1, "29 01"),
    (0x2A, 0, "2A 00"),
]

# Variable Byte Integer boundaries (MQTT 5.0 §1.5.5 table).
VBI = [
    (0, "00"),
    (127, "7F"),
    (128, "80 01"),
    (16_383, "FF 7F"),
    (16_384, "80 80 01"),
    (2_097_151, "FF FF 7F"),
    (2_097_152, "80 80 80 01"),
    (268_435_455, "FF FF FF 7F"),
]
