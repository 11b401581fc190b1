"""PacketTypes: numbers, indexes and names as paho has them, consistent with _spec."""

from __future__ import annotations

import pytest

from mqttclient import _spec
from mqttclient.enums import MessageType
from mqttclient.packettypes import PacketTypes

NUMBERED = [
    ("CONNECT", 1),
    ("CONNACK", 2),
    ("PUBLISH", 3),
    ("PUBACK", 4),
    ("PUBREC", 5),
    ("PUBREL", 6),
    ("PUBCOMP", 7),
    ("SUBSCRIBE", 8),
    ("SUBACK", 9),
    ("UNSUBSCRIBE", 10),
    ("UNSUBACK", 11),
    ("PINGREQ", 12),
    ("PINGRESP", 13),
    ("DISCONNECT", 14),
    ("AUTH", 15),
]


@pytest.mark.parametrize(("name", "number"), NUMBERED)
def test_constant(name: str, number: int) -> None:
    assert getattr(PacketTypes, name) == number
    assert getattr(_spec, name) == number
    assert MessageType[name] == number << 4


def test_indexes_cover_the_fifteen_packets() -> None:
    assert PacketTypes.indexes == range(1, 16)
    assert [getattr(PacketTypes, name) for name, _ in NUMBERED] == list(PacketTypes.indexes)


def test_will_pseudo_type() -> None:
    assert PacketTypes.WILLMESSAGE == 99 == _spec.WILL


def test_names() -> None:
    assert PacketTypes.Names == (
        "reserved",
        "Connect",
        "Connack",
        "Publish",
        "Puback",
        "Pubrec",
        "Pubrel",
        "Pubcomp",
        "Subscribe",
        "Suback",
        "Unsubscribe",
        "Unsuback",
        "Pingreq",
        "Pingresp",
        "Disconnect",
        "Auth",
    )
    for name, number in NUMBERED:
        assert PacketTypes.Names[number].upper() == name
