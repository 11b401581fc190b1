"""paho-mqtt's ``ReasonCode``: an MQTT 5 reason code together with its name for a packet type.

Owns the reason code table (MQTT 5.0 §2.4, Table 2-6, with the per-packet lists of §3) and the
paho-compatible ``ReasonCode`` class, plus a fast constructor for the library's own use
(:func:`reason_code` / :meth:`ReasonCode.of`) that the client calls once per acknowledged
message. Names are spelled exactly as paho spells them ("Malformed packet", "No subscription
found", ...), since user code compares reason codes with strings.

Strict and lenient paths:

* Building a code by hand (``ReasonCode(packetType, aName, identifier)``, ``set``, ``getId``)
  is strict, as in paho: a name or value the packet type does not define raises ``KeyError`` or
  ``ValueError``.
* Codes that come off the wire (:func:`reason_code`, :meth:`ReasonCode.of`,
  :meth:`ReasonCode.unpack`) are never refused: a broker that sends an unexpected value must not
  crash the client. Such a value gets a descriptive name (:meth:`ReasonCode.getName`): the
  value's name elsewhere in the table when it has exactly one (e.g. 0x81 on a PUBACK reads
  "Malformed packet"), else ``"Unknown reason code 0xNN"``.

Deliberate differences from paho: instances are hashable (by value, so a code hashes like the
equal ``int``), ``names`` is a read-only mapping shared by all instances instead of a per-instance
copy, 0x99 "Payload format invalid" is also accepted for CONNACK (MQTT 5.0 §3.2.2.2), and the
lenient paths above. Vocabulary: standard library only.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Union

from mqttclient import _spec
from mqttclient.packettypes import PacketTypes

__all__ = ["ReasonCode", "ReasonCodes", "reason_code"]

_CONNACK = _spec.CONNACK
_PUBACK = _spec.PUBACK
_PUBREC = _spec.PUBREC
_PUBREL = _spec.PUBREL
_PUBCOMP = _spec.PUBCOMP
_SUBACK = _spec.SUBACK
_UNSUBACK = _spec.UNSUBACK
_DISCONNECT = _spec.DISCONNECT
_AUTH = _spec.AUTH

# (value, name, packet types that define it). MQTT 5.0 §2.4 Table 2-6; names as paho has them.
_TABLE: tuple[tuple[int, str, tuple[int, ...]], ...] = (
    (0x00, "Success", (_CONNACK, _PUBACK, _PUBREC, _PUBREL, _PUBCOMP, _UNSUBACK, _AUTH)),
    (0x00, "Normal disconnection", (_DISCONNECT,)),
    (0x00, "Granted QoS 0", (_SUBACK,)),
    (0x01, "Granted QoS 1", (_SUBACK,)),
    (0x02, "Granted QoS 2", (_SUBACK,)),
    (0x04, "Disconnect with will message", (_DISCONNECT,)),
    (0x10, "No matching subscribers", (_PUBACK, _PUBREC)),
    (0x11, "No subscription found", (_UNSUBACK,)),
    (0x18, "Continue authentication", (_AUTH,)),
    (0x19, "Re-authenticate", (_AUTH,)),
    (0x80, "Unspecified error", (_CONNACK, _PUBACK, _PUBREC, _SUBACK, _UNSUBACK, _DISCONNECT)),
    (0x81, "Malformed packet", (_CONNACK, _DISCONNECT)),
    (0x82, "Protocol error", (_CONNACK, _DISCONNECT)),
    (
        0x83,
        "Implementation specific error",
        (_CONNACK, _PUBACK, _PUBREC, _SUBACK, _UNSUBACK, _DISCONNECT),
    ),
    (0x84, "Unsupported protocol version", (_CONNACK,)),
    (0x85, "Client identifier not valid", (_CONNACK,)),
    (0x86, "Bad user name or password", (_CONNACK,)),
    (0x87, "Not authorized", (_CONNACK, _PUBACK, _PUBREC, _SUBACK, _UNSUBACK, _DISCONNECT)),
    (0x88, "Server unavailable", (_CONNACK,)),
    (0x89, "Server busy", (_CONNACK, _DISCONNECT)),
    (0x8A, "Banned", (_CONNACK,)),
    (0x8B, "Server shutting down", (_DISCONNECT,)),
    (0x8C, "Bad authentication method", (_CONNACK, _DISCONNECT)),
    (0x8D, "Keep alive timeout", (_DISCONNECT,)),
    (0x8E, "Session taken over", (_DISCONNECT,)),
    (0x8F, "Topic filter invalid", (_SUBACK, _UNSUBACK, _DISCONNECT)),
    (0x90, "Topic name invalid", (_CONNACK, _PUBACK, _PUBREC, _DISCONNECT)),
    (0x91, "Packet identifier in use", (_PUBACK, _PUBREC, _SUBACK, _UNSUBACK)),
    (0x92, "Packet identifier not found", (_PUBREL, _PUBCOMP)),
    (0x93, "Receive maximum exceeded", (_DISCONNECT,)),
    (0x94, "Topic alias invalid", (_DISCONNECT,)),
    (0x95, "Packet too large", (_CONNACK, _DISCONNECT)),
    (0x96, "Message rate too high", (_DISCONNECT,)),
    (0x97, "Quota exceeded", (_CONNACK, _PUBACK, _PUBREC, _SUBACK, _DISCONNECT)),
    (0x98, "Administrative action", (_DISCONNECT,)),
    # paho omits CONNACK here; MQTT 5.0 §3.2.2.2 lists 0x99 among the CONNACK reason codes.
    (0x99, "Payload format invalid", (_CONNACK, _PUBACK, _PUBREC, _DISCONNECT)),
    (0x9A, "Retain not supported", (_CONNACK, _DISCONNECT)),
    (0x9B, "QoS not supported", (_CONNACK, _DISCONNECT)),
    (0x9C, "Use another server", (_CONNACK, _DISCONNECT)),
    (0x9D, "Server moved", (_CONNACK, _DISCONNECT)),
    (0x9E, "Shared subscription not supported", (_SUBACK, _DISCONNECT)),
    (0x9F, "Connection rate exceeded", (_CONNACK, _DISCONNECT)),
    (0xA0, "Maximum connect time", (_DISCONNECT,)),
    (0xA1, "Subscription identifiers not supported", (_SUBACK, _DISCONNECT)),
    (0xA2, "Wildcard subscription not supported", (_SUBACK, _DISCONNECT)),
)


def _build_names() -> Mapping[int, Mapping[str, tuple[int, ...]]]:
    by_value: dict[int, dict[str, tuple[int, ...]]] = {}
    for value, name, packets in _TABLE:
        by_value.setdefault(value, {})[name] = packets
    return MappingProxyType({v: MappingProxyType(n) for v, n in by_value.items()})


_NAMES = _build_names()

# (packet type, value) -> name and (packet type, name) -> value: the strict lookups.
_NAME_OF: dict[tuple[int, int], str] = {
    (packet, value): name for value, name, packets in _TABLE for packet in packets
}
_VALUE_OF: dict[tuple[int, str], int] = {
    (packet, name): value for value, name, packets in _TABLE for packet in packets
}


def _describe(value: int) -> str:
    """Name a value that the packet type does not define (see the module docstring)."""
    names = _NAMES.get(value)
    if names is not None and len(names) == 1:
        return next(iter(names))
    if value == 0:
        return "Success"
    return f"Unknown reason code 0x{value:02X}"


# Every (packet type, byte) answered up front, so that getName() is one dict lookup.
_DISPLAY_NAME: dict[tuple[int, int], str] = {
    (packet, value): _NAME_OF.get((packet, value)) or _describe(value)
    for packet in (*PacketTypes.indexes, PacketTypes.WILLMESSAGE)
    for value in range(256)
}


def _packet_name(packet_type: int) -> str:
    if 0 <= packet_type < len(PacketTypes.Names):
        return PacketTypes.Names[packet_type]
    return "Unknown"


class ReasonCode:
    """An MQTT 5 reason code (MQTT 5.0 §2.4) as used with one packet type.

    ``ReasonCode(packetType, aName="Success", identifier=-1)`` builds the code named ``aName``
    for ``packetType`` or, when ``identifier`` is given, the code with that value. For
    DISCONNECT the default name means "Normal disconnection" (value 0). Raises ``KeyError``
    for an unknown name or value and ``ValueError`` for a value the packet type does not define.

    Attributes: ``packetType`` (int, a ``PacketTypes`` constant), ``value`` (int), ``names``
    (read-only ``{value: {name: packet types}}``). A code equals an ``int`` of the same value,
    its name as a ``str`` and any ``ReasonCode`` of the same value; it orders against ints and
    other codes; ``str()`` is its name; ``is_failure`` is true from 0x80 up.

    Instances are plain values that any thread may use; ``set`` and ``unpack`` mutate in place
    (the hash follows the value, so do not mutate a code that is a dict key).
    """

    names: Mapping[int, Mapping[str, tuple[int, ...]]] = _NAMES

    packetType: int
    value: int

    def __init__(self, packetType: int, aName: str = "Success", identifier: int = -1) -> None:
        self.packetType = packetType
        if identifier == -1:
            if packetType == _DISCONNECT and aName == "Success":
                aName = "Normal disconnection"
            self.set(aName)
        else:
            self.__getName__(packetType, identifier)
            self.value = identifier

    @classmethod
    def of(cls, packet_type: int, value: int) -> ReasonCode:
        """Return a new code for ``value`` received in a packet of type ``packet_type``.

        The library's constructor for codes read off the wire: no name lookup and no
        validation, so a value the packet type does not define is kept (its name then says so,
        see :meth:`getName`). Each call returns a fresh object, so callers may mutate it.
        """
        code = object.__new__(cls)
        code.packetType = packet_type
        code.value = value
        return code

    def __getName__(self, packetType: int, identifier: int) -> str:
        """Return the name of ``identifier`` for ``packetType``, strictly.

        Raises ``KeyError`` if no packet type defines ``identifier`` and ``ValueError`` if
        ``packetType`` does not.
        """
        name = _NAME_OF.get((packetType, identifier))
        if name is not None:
            return name
        if identifier not in _NAMES:
            raise KeyError(identifier)
        raise ValueError(
            f"reason code {identifier} (0x{identifier:02X}) is not defined for "
            f"{_packet_name(packetType)} packets"
        )

    def getId(self, name: str) -> int:
        """Return the value of the code called ``name`` for this code's packet type.

        Raises ``KeyError`` if the packet type has no code of that name.
        """
        value = _VALUE_OF.get((self.packetType, name))
        if value is None:
            raise KeyError(
                f"no reason code named {name!r} for {_packet_name(self.packetType)} packets"
            )
        return value

    def set(self, name: str) -> None:
        """Make this the code called ``name`` (``KeyError`` if the packet type lacks it)."""
        self.value = self.getId(name)

    def unpack(self, buffer: Union[bytes, bytearray]) -> int:
        """Read the value from the first byte of ``buffer``; return the bytes used (1).

        Any byte value is accepted: an unexpected code from a broker must not crash the reader.
        """
        self.value = buffer[0]
        return 1

    def getName(self) -> str:
        """Return the name of the code (for a value the packet type does not define, the
        value's only name in the MQTT 5 table, or ``"Unknown reason code 0xNN"``)."""
        name = _DISPLAY_NAME.get((self.packetType, self.value))
        if name is None:
            name = _NAME_OF.get((self.packetType, self.value)) or _describe(self.value)
        return name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return self.value == other
        if isinstance(other, str):
            return other == self.getName()
        if isinstance(other, ReasonCode):
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: Any) -> bool:
        if isinstance(other, int):
            return self.value < other
        if isinstance(other, ReasonCode):
            return self.value < other.value
        return NotImplemented

    def __le__(self, other: Any) -> bool:
        if isinstance(other, int):
            return self.value <= other
        if isinstance(other, ReasonCode):
            return self.value <= other.value
        return NotImplemented

    def __gt__(self, other: Any) -> bool:
        if isinstance(other, int):
            return self.value > other
        if isinstance(other, ReasonCode):
            return self.value > other.value
        return NotImplemented

    def __ge__(self, other: Any) -> bool:
        if isinstance(other, int):
            return self.value >= other
        if isinstance(other, ReasonCode):
            return self.value >= other.value
        return NotImplemented

    def __repr__(self) -> str:
        return f"ReasonCode({_packet_name(self.packetType)}, {self.getName()!r})"

    def __str__(self) -> str:
        return self.getName()

    def json(self) -> str:
        """Return the JSON form of the code: its name."""
        return self.getName()

    def pack(self) -> bytearray:
        """Return the code as its one byte on the wire."""
        return bytearray([self.value])

    @property
    def is_failure(self) -> bool:
        """True for failure codes (0x80 and above, MQTT 5.0 §2.4)."""
        return self.value >= 0x80


_new_reason_code = object.__new__


def reason_code(packet_type: int, value: int) -> ReasonCode:
    """Return a new :class:`ReasonCode` for ``value`` received in a ``packet_type`` packet.

    Same as :meth:`ReasonCode.of` without the class indirection; the hot path of the client.
    Never raises for unexpected values. Any thread may call it.
    """
    code = _new_reason_code(ReasonCode)
    code.packetType = packet_type
    code.value = value
    return code


class _CompatibilityIsInstance(type):
    # Makes every ReasonCode pass isinstance(code, ReasonCodes), as paho's alias does.
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, ReasonCode)


class ReasonCodes(ReasonCode, metaclass=_CompatibilityIsInstance):
    """Deprecated paho-mqtt 1.x name of :class:`ReasonCode`; warns on construction."""

    def __init__(self, packetType: int, aName: str = "Success", identifier: int = -1) -> None:
        warnings.warn(
            "ReasonCodes is deprecated, use ReasonCode (singular) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(packetType, aName, identifier)
