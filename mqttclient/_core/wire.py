"""The MQTT data types and v5 properties, both directions (MQTT §1.5, 5.0 §2.2.2).

Owns: reading and writing Variable Byte Integers, Two/Four Byte Integers, UTF-8 strings and
Binary Data with their checks; the property table per packet type and the value rules of
properties; ``encode_properties`` and ``decode_properties``. ``decoder`` and ``codec`` build
packets from these pieces; ``codec`` re-exports the public names.

Must not: touch sockets, threads, the clock or logging; know about packets beyond which
properties each packet type may carry.

Readers take ``(data, position, end)`` and return the value and the next position; they raise
``MalformedPacketError`` (0x81) for anything that cannot be parsed and ``ProtocolError`` (0x82)
for a property value the spec forbids. Writers raise ``InvalidArgumentError`` (or
``PayloadTooLargeError`` for sizes) for values that cannot go on the wire.
"""

from __future__ import annotations

import struct
from typing import Optional, Union

from mqttclient import _spec
from mqttclient._core.packets import Props, PropValue
from mqttclient.errors import (
    InvalidArgumentError,
    MalformedPacketError,
    PayloadTooLargeError,
    ProtocolError,
)

__all__ = [
    "ALLOWED_PROPERTIES",
    "MAX_PACKET_SIZE",
    "NONZERO_PROPERTIES",
    "PACKET_NAMES",
    "SINGLE_BYTES",
    "ZERO_OR_ONE_PROPERTIES",
    "decode_properties",
    "encode_binary",
    "encode_properties",
    "encode_string",
    "encode_vbi",
    "expect_end",
    "read_bin",
    "read_props",
    "read_str",
    "read_u16",
    "read_vbi",
    "truncated",
]

#: The largest packet the protocol can express: 1 + 4 + 268,435,455 bytes (MQTT 5.0 §2.1.4).
MAX_PACKET_SIZE = 1 + 4 + _spec.MAX_VBI

PACKET_NAMES = {
    1: "CONNECT",
    2: "CONNACK",
    3: "PUBLISH",
    4: "PUBACK",
    5: "PUBREC",
    6: "PUBREL",
    7: "PUBCOMP",
    8: "SUBSCRIBE",
    9: "SUBACK",
    10: "UNSUBSCRIBE",
    11: "UNSUBACK",
    12: "PINGREQ",
    13: "PINGRESP",
    14: "DISCONNECT",
    15: "AUTH",
    _spec.WILL: "Will Properties",
}


def _allowed_properties() -> dict[int, dict[int, tuple[int, bool]]]:
    tables: dict[int, dict[int, tuple[int, bool]]] = {ptype: {} for ptype in PACKET_NAMES}
    for spec in _spec.PROPERTIES.values():
        for ptype in spec.packets:
            # MQTT 5.0 §3.8.2.1.2: a SUBSCRIBE carries at most one Subscription Identifier.
            multiple = spec.multiple and not (
                ptype == _spec.SUBSCRIBE and spec.identifier == _spec.SUBSCRIPTION_IDENTIFIER
            )
            tables[ptype][spec.identifier] = (spec.type, multiple)
    return tables


#: packet type (``_spec.WILL`` for Will Properties) -> {identifier: (wire type, may repeat)}.
ALLOWED_PROPERTIES = _allowed_properties()

#: Properties whose only legal values are 0 and 1; anything else is a Protocol Error
#: (MQTT 5.0 §3.1.2.11.7, §3.1.2.11.6, §3.2.2.3.4, §3.2.2.3.5, §3.2.2.3.11-13).
ZERO_OR_ONE_PROPERTIES = frozenset(
    {
        _spec.REQUEST_PROBLEM_INFORMATION,
        _spec.REQUEST_RESPONSE_INFORMATION,
        _spec.MAXIMUM_QOS,
        _spec.RETAIN_AVAILABLE,
        _spec.WILDCARD_SUBSCRIPTION_AVAILABLE,
        _spec.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        _spec.SHARED_SUBSCRIPTION_AVAILABLE,
    }
)

#: Properties for which 0 is a Protocol Error (MQTT 5.0 §3.1.2.11.3, §3.1.2.11.4, §3.2.2.3.3,
#: §3.2.2.3.6, §3.3.2.3.8). Topic Alias 0 is left to the session: it needs the 0x94 code and the
#: session checks the alias against its maximum anyway.
NONZERO_PROPERTIES = frozenset(
    {_spec.RECEIVE_MAXIMUM, _spec.MAXIMUM_PACKET_SIZE, _spec.SUBSCRIPTION_IDENTIFIER}
)

_T_BYTE = _spec.BYTE
_T_U16 = _spec.U16
_T_U32 = _spec.U32
_T_VBI = _spec.VBI
_T_STRING = _spec.STRING
_T_BINARY = _spec.BINARY
_U32_FROM = struct.Struct(">I").unpack_from
_PACK_U16 = struct.Struct(">H").pack
_PACK_U32 = struct.Struct(">I").pack
#: ``SINGLE_BYTES[i] == bytes((i,))``, without building a new object.
SINGLE_BYTES = tuple(bytes((i,)) for i in range(256))


def truncated(what: str) -> MalformedPacketError:
    """The error for a field that runs past the end of its packet or property block."""
    return MalformedPacketError(f"malformed packet: {what} runs past the end of the packet")


# --- reading data types (MQTT §1.5) ---------------------------------------------------------------


def read_vbi(data: bytes, p: int, end: int) -> tuple[int, int]:
    """Read a Variable Byte Integer at ``p``; return (value, position after it)."""
    value = 0
    shift = 0
    for i in range(4):
        if p >= end:
            raise truncated("variable byte integer")
        b = data[p]
        p += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            # [MQTT-1.5.5-1]: the shortest encoding; a trailing 0x00 group means padding.
            if b == 0 and i:
                raise MalformedPacketError("malformed packet: non-minimal variable byte integer")
            return value, p
        shift += 7
    raise MalformedPacketError("malformed packet: variable byte integer longer than 4 bytes")


def read_u16(data: bytes, p: int, end: int, what: str) -> int:
    if p + 2 > end:
        raise truncated(what)
    return data[p] << 8 | data[p + 1]


def read_str(data: bytes, p: int, end: int, what: str) -> tuple[str, int]:
    """Read a UTF-8 Encoded String (MQTT §1.5.4); return (text, position after it)."""
    if p + 2 > end:
        raise truncated(what)
    q = p + 2 + (data[p] << 8 | data[p + 1])
    if q > end:
        raise truncated(what)
    try:
        # Strict UTF-8 rejects surrogates and overlong forms: v3 [MQTT-1.5.3-1] / v5 [MQTT-1.5.4-1].
        # Never "utf-8-sig": U+FEFF must be kept [MQTT-1.5.4-3].
        text = data[p + 2 : q].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacketError(f"malformed packet: {what} is not valid UTF-8") from exc
    if "\x00" in text:
        # v3 [MQTT-1.5.3-2] / v5 [MQTT-1.5.4-2]; Python's codec accepts U+0000.
        raise MalformedPacketError(f"malformed packet: {what} contains U+0000")
    return text, q


def read_bin(data: bytes, p: int, end: int, what: str) -> tuple[bytes, int]:
    """Read Binary Data (MQTT 5.0 §1.5.6); return (bytes, position after it)."""
    if p + 2 > end:
        raise truncated(what)
    q = p + 2 + (data[p] << 8 | data[p + 1])
    if q > end:
        raise truncated(what)
    return data[p + 2 : q], q


def expect_end(p: int, end: int, name: str) -> None:
    if p != end:
        raise MalformedPacketError(
            f"malformed packet: {end - p} unexpected bytes at the end of {name}"
        )


# --- reading properties (MQTT 5.0 §2.2.2) ---------------------------------------------------------


def read_props(data: bytes, p: int, end: int, ptype: int) -> tuple[Props, int]:
    """Read Property Length and properties at ``p`` for packet type ``ptype``."""
    if p < end and data[p] == 0:
        return (), p + 1
    length, p = read_vbi(data, p, end)
    stop = p + length
    if stop > end:
        raise truncated("property length")
    table = ALLOWED_PROPERTIES[ptype]
    props: list[tuple[int, PropValue]] = []
    seen = 0
    while p < stop:
        ident = data[p]
        p += 1
        entry = table.get(ident)
        if entry is None:
            # §2.2.2.2: an unknown identifier, or one not allowed in this packet, is malformed.
            # Identifiers are VBIs; all defined ones fit in one byte, so a byte >= 0x80 is unknown.
            known = ident in _spec.PROPERTIES
            raise MalformedPacketError(
                f"malformed packet: property 0x{ident:02X} "
                + (f"is not allowed in {PACKET_NAMES[ptype]}" if known else "is unknown")
            )
        wire, multiple = entry
        value: PropValue
        if wire == _T_STRING:
            value, p = read_str(data, p, stop, f"property 0x{ident:02X}")
        elif wire == _T_BYTE:
            if p >= stop:
                raise truncated(f"property 0x{ident:02X}")
            value = data[p]
            p += 1
        elif wire == _T_U16:
            value = read_u16(data, p, stop, f"property 0x{ident:02X}")
            p += 2
        elif wire == _T_U32:
            if p + 4 > stop:
                raise truncated(f"property 0x{ident:02X}")
            value = _U32_FROM(data, p)[0]
            p += 4
        elif wire == _T_VBI:
            value, p = read_vbi(data, p, stop)
        elif wire == _T_BINARY:
            value, p = read_bin(data, p, stop, f"property 0x{ident:02X}")
        else:  # _STRING_PAIR
            name, p = read_str(data, p, stop, "user property name")
            text, p = read_str(data, p, stop, "user property value")
            value = (name, text)
        if not multiple:
            bit = 1 << ident
            if seen & bit:
                # Each single-valued property's section: "more than once is a Protocol Error".
                raise ProtocolError(f"protocol error: property 0x{ident:02X} appears twice")
            seen |= bit
        if ident in ZERO_OR_ONE_PROPERTIES:
            if value not in (0, 1):
                raise ProtocolError(f"protocol error: property 0x{ident:02X} must be 0 or 1")
        elif ident in NONZERO_PROPERTIES and value == 0:
            raise ProtocolError(f"protocol error: property 0x{ident:02X} must not be 0")
        props.append((ident, value))
    return tuple(props), p


def decode_properties(
    data: Union[bytes, bytearray, memoryview], packet_type: int
) -> tuple[Props, int]:
    """Decode a property block: its Property Length (a VBI) and the properties after it.

    Args:
        data: bytes starting with the Property Length; bytes after the block are ignored.
        packet_type: the packet the block belongs to (``_spec.PUBLISH`` ...), ``_spec.WILL``
            (99) for Will Properties.

    Returns:
        ``(properties, consumed)``: the ``(identifier, value)`` pairs in wire order and the
        number of bytes read, length prefix included.

    Raises:
        MalformedPacketError: truncated block, bad VBI, unknown identifier or one not allowed in
            ``packet_type``, a value of the wrong type (bad UTF-8, U+0000).
        ProtocolError: a single-valued property twice; Receive Maximum, Maximum Packet Size or
            Subscription Identifier 0; a 0-or-1 property with another value. (Topic Alias 0 is
            the session's check.)

    Pure function; any thread.
    """
    if packet_type not in ALLOWED_PROPERTIES:
        raise MalformedPacketError(f"malformed packet: no properties in packet type {packet_type}")
    raw = data if type(data) is bytes else bytes(data)
    try:
        return read_props(raw, 0, len(raw), packet_type)
    except (IndexError, ValueError, struct.error) as exc:  # pragma: no cover - safety net
        raise MalformedPacketError(f"malformed packet: {exc}") from exc


# --- writing data types ---------------------------------------------------------------------------

# Any property, whatever the packet: {identifier: (wire type, may repeat)}.
_ANY_PACKET = {s.identifier: (s.type, s.multiple) for s in _spec.PROPERTIES.values()}


def encode_vbi(value: int) -> bytes:
    """Encode a Variable Byte Integer (MQTT 5.0 §1.5.5), always in its shortest form
    [MQTT-1.5.5-1]. Raises PayloadTooLargeError above 268,435,455."""
    if value < 0x80:
        if value < 0:
            raise InvalidArgumentError(f"variable byte integer must not be negative: {value}")
        return SINGLE_BYTES[value]
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if value < 0x200000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14))
    if value <= _spec.MAX_VBI:
        return bytes(
            (value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14 & 0x7F | 0x80, value >> 21)
        )
    raise PayloadTooLargeError(f"{value} exceeds the MQTT maximum of {_spec.MAX_VBI}")


def encode_string(text: str, what: str) -> bytes:
    """A UTF-8 Encoded String (MQTT §1.5.4) with its length prefix."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates have no UTF-8 form: v3 [MQTT-1.5.3-1] / v5 [MQTT-1.5.4-1].
        raise InvalidArgumentError(f"{what} is not encodable as UTF-8: {exc}") from exc
    if len(raw) > 0xFFFF:
        raise InvalidArgumentError(f"{what} is longer than 65,535 bytes in UTF-8")
    if "\x00" in text:
        raise InvalidArgumentError(f"{what} contains U+0000 [MQTT-1.5.4-2]")
    return _PACK_U16(len(raw)) + raw


def encode_binary(data: bytes, what: str) -> bytes:
    """Binary Data (MQTT 5.0 §1.5.6) with its length prefix."""
    if len(data) > 0xFFFF:
        raise PayloadTooLargeError(f"{what} is longer than 65,535 bytes")
    return _PACK_U16(len(data)) + bytes(data)


# --- writing properties (MQTT 5.0 §2.2.2) ---------------------------------------------------------


def _int_value(ident: int, value: PropValue, top: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= top:
        raise InvalidArgumentError(
            f"property 0x{ident:02X} must be an integer 0..{top}, not {value!r}"
        )
    if ident in ZERO_OR_ONE_PROPERTIES:
        if value > 1:
            raise InvalidArgumentError(f"property 0x{ident:02X} must be 0 or 1, not {value}")
    elif value == 0 and ident in NONZERO_PROPERTIES:
        raise InvalidArgumentError(f"property 0x{ident:02X} must not be 0")
    return value


def _property(ident: int, wire: int, value: PropValue) -> bytes:
    """Identifier and value of one property (all identifiers fit in a one-byte VBI)."""
    head = SINGLE_BYTES[ident]
    if wire == _spec.STRING:
        if not isinstance(value, str):
            raise InvalidArgumentError(f"property 0x{ident:02X} must be a str, not {value!r}")
        return head + encode_string(value, f"property 0x{ident:02X}")
    if wire == _spec.BINARY:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"property 0x{ident:02X} must be bytes, not {value!r}")
        return head + encode_binary(value, f"property 0x{ident:02X}")
    if wire == _spec.STRING_PAIR:
        if (
            not isinstance(value, (tuple, list))
            or len(value) != 2
            or not isinstance(value[0], str)
            or not isinstance(value[1], str)
        ):
            raise InvalidArgumentError(f"a user property must be a (str, str) pair, not {value!r}")
        return (
            head
            + encode_string(value[0], "user property name")
            + encode_string(value[1], "user property value")
        )
    if wire == _spec.BYTE:
        return head + SINGLE_BYTES[_int_value(ident, value, 0xFF)]
    if wire == _spec.U16:
        return head + _PACK_U16(_int_value(ident, value, 0xFFFF))
    if wire == _spec.U32:
        return head + _PACK_U32(_int_value(ident, value, 0xFFFFFFFF))
    return head + encode_vbi(_int_value(ident, value, _spec.MAX_VBI))


def encode_properties(props: Props, packet_type: Optional[int] = None) -> bytes:
    """Encode a property block: Property Length (VBI) followed by the properties in order.

    Args:
        props: ``(identifier, value)`` pairs; value types as in ``mqttclient._core.packets``.
        packet_type: when given (``_spec.PUBLISH`` ..., ``_spec.WILL`` for Will Properties),
            every property must be allowed in that packet.

    Returns:
        The bytes, ``b"\\x00"`` for no properties.

    Raises:
        InvalidArgumentError: an unknown identifier, one not allowed in ``packet_type``, a value
            of the wrong type or range, a single-valued property given twice, or a value the
            spec makes a Protocol Error (Receive Maximum, Maximum Packet Size or Subscription
            Identifier 0; a 0-or-1 property with another value).

    Pure function; any thread.
    """
    if not props:
        return b"\x00"
    if packet_type is None:
        table = _ANY_PACKET
    else:
        try:
            table = ALLOWED_PROPERTIES[packet_type]
        except KeyError:
            raise InvalidArgumentError(f"unknown packet type {packet_type!r}") from None
    parts: list[bytes] = []
    seen = 0
    for ident, value in props:
        entry = table.get(ident)
        if entry is None:
            if ident in _ANY_PACKET and packet_type is not None:
                raise InvalidArgumentError(
                    f"property 0x{ident:02X} is not allowed in {PACKET_NAMES[packet_type]}"
                )
            raise InvalidArgumentError(f"unknown property identifier {ident!r}")
        wire, multiple = entry
        if not multiple:
            bit = 1 << ident
            if seen & bit:
                raise InvalidArgumentError(f"property 0x{ident:02X} may appear only once")
            seen |= bit
        parts.append(_property(ident, wire, value))
    body = b"".join(parts)
    return encode_vbi(len(body)) + body
