"""paho-mqtt's ``Properties``: MQTT 5 properties as attributes, and the bridge to the codec.

Owns the paho-compatible ``Properties`` class (values as attributes named like
``MessageExpiryInterval``, checked when set), paho's module-level wire helpers (``writeInt16``,
``readUTF``, ``VariableByteIntegers``, ...) and the conversion to and from the codec's ``Props``
(an ordered tuple of ``(identifier, value)`` pairs, see ``mqttclient._core.packets``):

* :meth:`Properties.from_pairs` wraps pairs the codec has already validated, without checking
  them again: the client builds one per received packet.
* :meth:`Properties.to_pairs` turns the attributes back into pairs in identifier order (so
  :meth:`Properties.pack` gives the same bytes as paho), with values normalised to the codec's
  types (``bytes`` for Binary Data, ``str`` for strings, ``int`` for integers).

The property table itself (identifiers, names, wire types, packets, multiplicity) lives in
``mqttclient._spec``; this module only adds paho's view of it. Encoding and decoding of whole
property blocks belong to ``mqttclient._core.codec``.

Deliberate differences from paho: values are checked against their wire type when set (an
``int`` range, a string that encodes to at most 65,535 UTF-8 bytes without U+0000, bytes for
Binary Data), so mistakes raise ``MQTTException`` at the assignment instead of ``struct.error``
or ``TypeError`` inside ``publish()``; ``MaximumPacketSize`` accepts the full Four Byte Integer
range of MQTT 5.0 §3.1.2.11.4; a SUBSCRIBE takes at most one ``SubscriptionIdentifier``
(§3.8.2.1.2); ``readUTF`` accepts U+FEFF, which [MQTT-1.5.4-3] says must be kept, and raises
``MalformedPacket`` for invalid UTF-8; ``unpack`` either fills every property or leaves the
object unchanged.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Optional, Union

from mqttclient import _spec
from mqttclient._core.codec import decode_properties, encode_properties
from mqttclient._core.packets import Props, PropValue
from mqttclient.errors import MalformedPacketError, MQTTException
from mqttclient.packettypes import PacketTypes

__all__ = [
    "MQTTException",
    "MalformedPacket",
    "PacketTypes",
    "Properties",
    "VariableByteIntegers",
    "readBytes",
    "readInt16",
    "readInt32",
    "readUTF",
    "writeBytes",
    "writeInt16",
    "writeInt32",
    "writeUTF",
]

#: paho's name for a packet that cannot be parsed; the same class the codec raises.
MalformedPacket = MalformedPacketError

_Buffer = Union[bytes, bytearray, memoryview]

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!L")

# --- paho's wire helpers ----------------------------------------------------------------------


def writeInt16(length: int) -> bytearray:
    """Return ``length`` as a big-endian Two Byte Integer (``struct.error`` if out of range)."""
    return bytearray(_U16.pack(length))


def readInt16(buf: _Buffer) -> int:
    """Return the big-endian Two Byte Integer at the start of ``buf``."""
    if len(buf) < 2:
        raise MalformedPacket("not enough data for a Two Byte Integer")
    value: int = _U16.unpack_from(buf)[0]
    return value


def writeInt32(length: int) -> bytearray:
    """Return ``length`` as a big-endian Four Byte Integer (``struct.error`` if out of range)."""
    return bytearray(_U32.pack(length))


def readInt32(buf: _Buffer) -> int:
    """Return the big-endian Four Byte Integer at the start of ``buf``."""
    if len(buf) < 4:
        raise MalformedPacket("not enough data for a Four Byte Integer")
    value: int = _U32.unpack_from(buf)[0]
    return value


def writeUTF(data: Union[str, bytes, bytearray]) -> bytearray:
    """Return ``data`` as a UTF-8 Encoded String: two length bytes, then the bytes.

    A ``str`` is encoded as UTF-8; ``bytes`` are written as they are.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return writeInt16(len(raw)) + raw


def readUTF(buffer: _Buffer, maxlen: int) -> tuple[str, int]:
    """Read a UTF-8 Encoded String from the start of ``buffer``.

    ``maxlen`` is the number of bytes the string may take, length prefix included. Returns the
    string and the bytes used. Raises :class:`MalformedPacket` for a string longer than
    ``maxlen`` or than the data, invalid UTF-8 or U+D800..U+DFFF ([MQTT-1.5.4-1]), and U+0000
    ([MQTT-1.5.4-2]).
    """
    if maxlen < 2:
        raise MalformedPacket("not enough data for a string length")
    length = readInt16(buffer)
    if length > maxlen - 2 or length > len(buffer) - 2:
        raise MalformedPacket("string longer than the data that holds it")
    try:
        # The strict codec rejects encoded surrogates and overlong forms ([MQTT-1.5.4-1]).
        text = bytes(buffer[2 : 2 + length]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacket(f"[MQTT-1.5.4-1] invalid UTF-8 in string: {exc.reason}") from exc
    if "\x00" in text:
        raise MalformedPacket("[MQTT-1.5.4-2] U+0000 in string")
    return text, length + 2


def writeBytes(buffer: Union[bytes, bytearray]) -> bytearray:
    """Return ``buffer`` as Binary Data: two length bytes, then the bytes."""
    return writeInt16(len(buffer)) + buffer


def readBytes(buffer: _Buffer, maxlen: Optional[int] = None) -> tuple[bytes, int]:
    """Read Binary Data from the start of ``buffer``; return the bytes and the bytes used.

    ``maxlen`` bounds the field, length prefix included (``None``: the end of ``buffer``).
    Raises :class:`MalformedPacket` if the data is shorter than its length says.
    """
    limit = len(buffer) if maxlen is None else min(maxlen, len(buffer))
    if limit < 2:
        raise MalformedPacket("not enough data for a binary data length")
    length = readInt16(buffer)
    if length > limit - 2:
        raise MalformedPacket("binary data longer than the data that holds it")
    return bytes(buffer[2 : 2 + length]), length + 2


class VariableByteIntegers:
    """Variable Byte Integer encoding (MQTT 5.0 §1.5.5): 7 bits a byte, low group first."""

    @staticmethod
    def encode(x: int) -> bytes:
        """Return ``x`` (0..268,435,455) in 1 to 4 bytes; ``ValueError`` outside that range."""
        if not 0 <= x <= _spec.MAX_VBI:
            raise ValueError(f"Variable Byte Integer {x!r} is outside 0..{_spec.MAX_VBI}")
        out = bytearray()
        while True:
            digit = x & 0x7F
            x >>= 7
            if x:
                out.append(digit | 0x80)
            else:
                out.append(digit)
                return bytes(out)

    @staticmethod
    def decode(buffer: _Buffer) -> tuple[int, int]:
        """Return the value at the start of ``buffer`` and the number of bytes it took.

        Raises :class:`MalformedPacket` if the data ends inside the integer or if it runs
        longer than four bytes.
        """
        value = 0
        for index in range(4):
            if index >= len(buffer):
                raise MalformedPacket("not enough data for a Variable Byte Integer")
            digit = buffer[index]
            value |= (digit & 0x7F) << (7 * index)
            if not digit & 0x80:
                return value, index + 1
        raise MalformedPacket("Variable Byte Integer longer than four bytes")


# --- the property table, as paho presents it --------------------------------------------------

# paho numbers wire types by their position in this list (Properties.types).
_PAHO_TYPES = (
    "Byte",
    "Two Byte Integer",
    "Four Byte Integer",
    "Variable Byte Integer",
    "Binary Data",
    "UTF-8 Encoded String",
    "UTF-8 String Pair",
)
_PAHO_BYTE, _PAHO_U16, _PAHO_U32, _PAHO_VBI, _PAHO_BINARY, _PAHO_STRING, _PAHO_PAIR = range(7)
_PAHO_TYPE_OF_WIRE = {
    _spec.BYTE: _PAHO_BYTE,
    _spec.U16: _PAHO_U16,
    _spec.U32: _PAHO_U32,
    _spec.VBI: _PAHO_VBI,
    _spec.BINARY: _PAHO_BINARY,
    _spec.STRING: _PAHO_STRING,
    _spec.STRING_PAIR: _PAHO_PAIR,
}

_SPECS_IN_ORDER = tuple(sorted(_spec.PROPERTIES.values(), key=lambda s: s.identifier))
_BY_NAME: Mapping[str, _spec.PropertySpec] = _spec.PROPERTY_BY_NAME
# For from_pairs: identifier -> (attribute name, may repeat).
_ATTRIBUTE_OF: dict[int, tuple[str, bool]] = {
    s.identifier: (s.name, s.multiple) for s in _SPECS_IN_ORDER
}


def _spaced(name: str) -> str:
    # "MaximumQoS" -> "Maximum QoS": a space before each capital that starts a lowercase word.
    out = [name[0]]
    for index in range(1, len(name)):
        char = name[index]
        if char.isupper() and name[index - 1].islower() and name[index + 1 : index + 2].islower():
            out.append(" ")
        out.append(char)
    return "".join(out)


_SPACED_NAMES = {s.identifier: _spaced(s.name) for s in _SPECS_IN_ORDER}

# Allowed ranges where MQTT 5.0 narrows the wire type's range (0 is a Protocol Error for Receive
# Maximum §3.1.2.11.3, Topic Alias §3.3.2.3.4, Maximum Packet Size §3.1.2.11.4 and Subscription
# Identifier §3.8.2.1.2; the flags are 0 or 1, Maximum QoS is sent as 0 or 1 §3.2.2.3.4).
_LIMITS: dict[str, tuple[int, int]] = {
    "ReceiveMaximum": (1, 0xFFFF),
    "TopicAlias": (1, 0xFFFF),
    "MaximumPacketSize": (1, 0xFFFF_FFFF),
    "SubscriptionIdentifier": (1, _spec.MAX_VBI),
    "PayloadFormatIndicator": (0, 1),
    "RequestProblemInformation": (0, 1),
    "RequestResponseInformation": (0, 1),
    "MaximumQoS": (0, 1),
    "RetainAvailable": (0, 1),
    "WildcardSubscriptionAvailable": (0, 1),
    "SubscriptionIdentifierAvailable": (0, 1),
    "SharedSubscriptionAvailable": (0, 1),
}
_WIRE_LIMITS = {
    _spec.BYTE: (0, 0xFF),
    _spec.U16: (0, 0xFFFF),
    _spec.U32: (0, 0xFFFF_FFFF),
    _spec.VBI: (0, _spec.MAX_VBI),
}
_INTEGER_TYPES = frozenset(_WIRE_LIMITS)

# Instance attributes that are not properties (paho lets them be assigned).
_PLAIN_ATTRIBUTES = frozenset({"packetType", "types", "names", "properties"})


def _packet_name(packet_type: int) -> str:
    if packet_type == PacketTypes.WILLMESSAGE:
        return "Will"
    if 0 <= packet_type < len(PacketTypes.Names):
        return PacketTypes.Names[packet_type]
    return f"unknown ({packet_type})"


def _check_string(name: str, value: object) -> None:
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MQTTException(f"{name} must be valid UTF-8: {exc.reason}") from exc
    elif isinstance(value, str):
        text = value
    else:
        raise MQTTException(f"{name} must be a str, not {type(value).__name__}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        # Lone surrogates cannot be sent ([MQTT-1.5.4-1]).
        raise MQTTException(f"{name} cannot be encoded as UTF-8: {exc.reason}") from exc
    if size > 0xFFFF:
        raise MQTTException(f"{name} is {size} bytes in UTF-8; the limit is 65535")
    if "\x00" in text:
        raise MQTTException(f"{name} must not contain U+0000 ([MQTT-1.5.4-2])")


def _check_value(spec: _spec.PropertySpec, value: object) -> None:
    """Raise ``MQTTException`` unless ``value`` fits property ``spec``."""
    name = spec.name
    wire = spec.type
    if wire in _INTEGER_TYPES:
        if not isinstance(value, int):
            raise MQTTException(f"{name} must be an int, not {type(value).__name__}")
        low, high = _LIMITS.get(name) or _WIRE_LIMITS[wire]
        if not low <= value <= high:
            raise MQTTException(f"{name} property value must be in the range {low}-{high}")
    elif wire == _spec.STRING:
        _check_string(name, value)
    elif wire == _spec.BINARY:
        if not isinstance(value, (bytes, bytearray)):
            raise MQTTException(f"{name} must be bytes, not {type(value).__name__}")
        if len(value) > 0xFFFF:
            raise MQTTException(f"{name} is {len(value)} bytes; the limit is 65535")
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        _check_string(f"{name} name", value[0])
        _check_string(f"{name} value", value[1])
    else:
        raise MQTTException(f"{name} must be a (name, value) pair of str, not {value!r}")


# For to_pairs: attribute name -> (identifier, wire type, codec value type, may repeat).
_CODEC_TYPE = {
    _spec.BYTE: int,
    _spec.U16: int,
    _spec.U32: int,
    _spec.VBI: int,
    _spec.STRING: str,
    _spec.BINARY: bytes,
    _spec.STRING_PAIR: tuple,
}
_TARGET: dict[str, tuple[int, int, type, bool]] = {
    s.name: (s.identifier, s.type, _CODEC_TYPE[s.type], s.multiple) for s in _SPECS_IN_ORDER
}
_identifier = operator.itemgetter(0)


def _is_str_pair(value: Any) -> bool:
    return type(value[0]) is str and type(value[1]) is str


def _as_str(value: Any) -> str:
    return value if type(value) is str else bytes(value).decode("utf-8")


def _normalised(wire: int, value: Any) -> PropValue:
    """Return ``value`` in the type the codec expects for wire type ``wire``."""
    if wire == _spec.STRING:
        return _as_str(value)
    if wire == _spec.BINARY:
        return value if type(value) is bytes else bytes(value)
    if wire == _spec.STRING_PAIR:
        if type(value) is tuple and type(value[0]) is str and type(value[1]) is str:
            pair: tuple[str, str] = value
            return pair
        return (_as_str(value[0]), _as_str(value[1]))
    return value if type(value) is int else int(value)


def _fill(attributes: dict[str, Any], pairs: Iterable[tuple[int, PropValue]]) -> None:
    # Store trusted pairs as attributes; repeatable properties become lists.
    attribute_of = _ATTRIBUTE_OF
    for identifier, value in pairs:
        name, multiple = attribute_of[identifier]
        if multiple:
            values = attributes.get(name)
            if values is None:
                attributes[name] = [value]
            else:
                values.append(value)
        else:
            attributes[name] = value


class Properties:
    """The MQTT 5 properties of one packet, as attributes (paho-mqtt's class).

    ``Properties(PacketTypes.PUBLISH)`` starts empty; assign attributes named after the
    properties without spaces (``props.MessageExpiryInterval = 60``). An assignment is checked
    at once: unknown name, property not allowed in this packet type, or a value outside the
    property's range raises :class:`MQTTException`. ``UserProperty`` and
    ``SubscriptionIdentifier`` may repeat: assigning appends (a list extends), and reading gives
    the list, ``UserProperty`` items being ``(name, value)`` tuples.

    Class attributes, as in paho: ``types`` (wire type names), ``names`` (``{"Payload Format
    Indicator": 1, ...}``) and ``properties`` (``{identifier: (index in types, packet
    types)}``). An instance is a plain value: not safe to mutate from two threads at once.
    """

    types: Sequence[str] = _PAHO_TYPES
    names: Mapping[str, int] = MappingProxyType(
        {_SPACED_NAMES[s.identifier]: s.identifier for s in _SPECS_IN_ORDER}
    )
    properties: Mapping[int, tuple[int, tuple[int, ...]]] = MappingProxyType(
        {
            s.identifier: (_PAHO_TYPE_OF_WIRE[s.type], tuple(sorted(s.packets)))
            for s in _SPECS_IN_ORDER
        }
    )

    packetType: int

    def __init__(self, packetType: int) -> None:
        self.__dict__["packetType"] = packetType

    # --- bridge to the codec (the client's hot path) ---

    @classmethod
    def from_pairs(cls, packet_type: int, pairs: Iterable[tuple[int, PropValue]]) -> Properties:
        """Return the properties of a ``packet_type`` packet from the codec's ``pairs``.

        Trusts ``pairs``: the codec has checked identifiers, types and multiplicity, so nothing
        is validated again. Raises ``KeyError`` for an identifier that MQTT 5 does not define.
        """
        props = cls.__new__(cls)
        attributes = props.__dict__
        attributes["packetType"] = packet_type
        _fill(attributes, pairs)
        return props

    def to_pairs(self) -> Props:
        """Return the properties as the codec's ``Props``, in identifier order.

        Repeated properties keep their order. Values are normalised to ``int``, ``str``,
        ``bytes`` and ``(str, str)``.
        """
        pairs: list[tuple[int, PropValue]] = []
        append = pairs.append
        for name, value in self.__dict__.items():
            target = _TARGET.get(name)
            if target is None:
                continue
            identifier, wire, expected, multiple = target
            for item in value if multiple else (value,):
                # Values are usually already in the codec's type; convert only the others.
                if type(item) is not expected or (expected is tuple and not _is_str_pair(item)):
                    item = _normalised(wire, item)
                append((identifier, item))
        if not pairs:
            return ()
        # Identifier order, as paho packs them; the sort is stable, so repeats keep their order.
        pairs.sort(key=_identifier)
        return tuple(pairs)

    # --- paho's API ---

    def __setattr__(self, name: str, value: Any) -> None:
        name = name.replace(" ", "")
        spec = _BY_NAME.get(name)
        if spec is None:
            if name in _PLAIN_ATTRIBUTES:
                self.__dict__[name] = value
                return
            raise MQTTException(
                f"unknown property name {name!r}; expected one of {', '.join(_BY_NAME)}"
            )
        if self.packetType not in spec.packets:
            raise MQTTException(
                f"Property {name} does not apply to packet type {_packet_name(self.packetType)}"
            )
        if spec.multiple:
            items = list(value) if isinstance(value, list) else [value]
            for item in items:
                _check_value(spec, item)
            current = self.__dict__.get(name)
            merged = items if current is None else current + items
            if (
                len(merged) > 1
                and spec.identifier == _spec.SUBSCRIPTION_IDENTIFIER
                and self.packetType == _spec.SUBSCRIBE
            ):
                raise MQTTException(f"a SUBSCRIBE carries at most one {name} (MQTT 5.0 §3.8.2.1.2)")
            self.__dict__[name] = merged
        else:
            _check_value(spec, value)
            self.__dict__[name] = value

    def allowsMultiple(self, compressedName: str) -> bool:
        """Return whether property ``compressedName`` (no spaces) may appear more than once."""
        spec = _BY_NAME.get(compressedName)
        return spec is not None and spec.multiple

    def getIdentFromName(self, compressedName: str) -> int:
        """Return the identifier of property ``compressedName`` (no spaces), or -1."""
        spec = _BY_NAME.get(compressedName)
        return -1 if spec is None else spec.identifier

    def getNameFromIdent(self, identifier: int) -> Optional[str]:
        """Return the spaced name of property ``identifier`` ("User Property"), or ``None``."""
        return _SPACED_NAMES.get(identifier)

    def _present(self) -> list[tuple[_spec.PropertySpec, Any]]:
        # The properties that are set, in identifier order.
        attributes = self.__dict__
        return [(s, attributes[s.name]) for s in _SPECS_IN_ORDER if s.name in attributes]

    def __str__(self) -> str:
        return "[" + ", ".join(f"{s.name} : {value}" for s, value in self._present()) + "]"

    def json(self) -> dict[str, Any]:
        """Return the properties as a JSON-ready dict; Correlation Data is shown as hex."""
        data: dict[str, Any] = {}
        for spec, value in self._present():
            if spec.identifier == _spec.CORRELATION_DATA and isinstance(value, (bytes, bytearray)):
                data[spec.name] = value.hex()
            elif spec.multiple:
                data[spec.name] = list(value)
            else:
                data[spec.name] = value
        return data

    def isEmpty(self) -> bool:
        """Return whether no property is set."""
        return not any(name in _BY_NAME for name in self.__dict__)

    def clear(self) -> None:
        """Remove every property."""
        attributes = self.__dict__
        for name in [name for name in attributes if name in _BY_NAME]:
            del attributes[name]

    def writeProperty(self, identifier: int, type: int, value: Any) -> bytes:
        """Return one property on the wire: identifier, then ``value`` as paho type ``type``
        (an index into :attr:`types`)."""
        out = bytearray(VariableByteIntegers.encode(identifier))
        if type == _PAHO_BYTE:
            out.append(value)
        elif type == _PAHO_U16:
            out += writeInt16(value)
        elif type == _PAHO_U32:
            out += writeInt32(value)
        elif type == _PAHO_VBI:
            out += VariableByteIntegers.encode(value)
        elif type == _PAHO_BINARY:
            out += writeBytes(value)
        elif type == _PAHO_STRING:
            out += writeUTF(value)
        elif type == _PAHO_PAIR:
            out += writeUTF(value[0]) + writeUTF(value[1])
        else:
            raise ValueError(f"unknown property type index {type!r}")
        return bytes(out)

    def pack(self) -> bytes:
        """Return the properties on the wire, Property Length first (MQTT 5.0 §2.2.2).

        Raises :class:`~mqttclient.errors.InvalidArgumentError` (an ``MQTTException``) for a
        value the codec cannot encode, e.g. one placed in the attribute list by hand.
        """
        return encode_properties(self.to_pairs())

    def readProperty(self, buffer: _Buffer, type: int, propslen: int) -> tuple[Any, int]:
        """Read one property value of paho type ``type`` from the start of ``buffer``.

        ``propslen`` is the number of property bytes left. Returns the value and its length.
        Raises :class:`MalformedPacket` if the data is too short.
        """
        if type == _PAHO_BYTE:
            if not buffer:
                raise MalformedPacket("not enough data for a Byte")
            return buffer[0], 1
        if type == _PAHO_U16:
            return readInt16(buffer), 2
        if type == _PAHO_U32:
            return readInt32(buffer), 4
        if type == _PAHO_VBI:
            return VariableByteIntegers.decode(buffer)
        if type == _PAHO_BINARY:
            return readBytes(buffer, propslen)
        if type == _PAHO_STRING:
            return readUTF(buffer, propslen)
        if type == _PAHO_PAIR:
            name, used = readUTF(buffer, propslen)
            value, used_value = readUTF(buffer[used:], propslen - used)
            return (name, value), used + used_value
        raise ValueError(f"unknown property type index {type!r}")

    def unpack(self, buffer: _Buffer) -> tuple[Properties, int]:
        """Replace the properties with those encoded at the start of ``buffer``.

        Returns ``(self, bytes used)``, the Property Length included. Raises
        :class:`MalformedPacket` (or another ``ProtocolError``) for bytes that break the MQTT 5
        rules for this packet type; the properties are then left as they were.
        """
        pairs, used = decode_properties(buffer, self.packetType)
        self.clear()
        _fill(self.__dict__, pairs)
        return self, used
