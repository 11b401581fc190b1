"""paho-mqtt's ``PacketTypes``: MQTT control packet numbers and display names.

Owns the class only; the numbers are the same as ``mqttclient._spec`` (MQTT §2.1.2), where the
rest of the library takes them from. ``WILLMESSAGE`` (99) is paho's pseudo packet type for the
Will Properties of a CONNECT. Vocabulary: standard library only.
"""

from __future__ import annotations

from mqttclient import _spec

__all__ = ["PacketTypes"]


class PacketTypes:
    """Packet type numbers as class constants, e.g. ``PacketTypes.PUBLISH == 3``.

    ``Names[n]`` is the display name of packet type ``n`` (``Names[0]`` is ``"reserved"``) and
    ``indexes`` is ``range(1, 16)``, the numbers of the 15 real packet types.
    """

    indexes = range(1, 16)

    CONNECT = _spec.CONNECT
    CONNACK = _spec.CONNACK
    PUBLISH = _spec.PUBLISH
    PUBACK = _spec.PUBACK
    PUBREC = _spec.PUBREC
    PUBREL = _spec.PUBREL
    PUBCOMP = _spec.PUBCOMP
    SUBSCRIBE = _spec.SUBSCRIBE
    SUBACK = _spec.SUBACK
    UNSUBSCRIBE = _spec.UNSUBSCRIBE
    UNSUBACK = _spec.UNSUBACK
    PINGREQ = _spec.PINGREQ
    PINGRESP = _spec.PINGRESP
    DISCONNECT = _spec.DISCONNECT
    AUTH = _spec.AUTH

    WILLMESSAGE = _spec.WILL

    Names = (
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
