"""The MQTT 3.1, 3.1.1 and 5.0 codec: packets to bytes here, bytes to packets in ``decoder``.

Owns: the wire format of the 15 control packets in the three protocol versions — fixed headers,
Remaining Length, data types, the 5.0 short forms, properties. ``encode`` serialises any packet;
``encode_publish`` and ``encode_ack`` are the allocation-light paths the session uses for every
message. The decoding half (:class:`Decoder`, ``decode``) lives in ``mqttclient._core.decoder``,
data types and properties (``encode_properties``, ``decode_properties``, ``encode_vbi``) in
``mqttclient._core.wire``; both are re-exported here, so ``codec`` is the one import for all.

Must not: touch sockets, threads, the clock or logging; know about sessions, packet-id allocation
or broker limits. The encoder refuses (``InvalidArgumentError``, ``PayloadTooLargeError`` for
sizes) any value it cannot put on the wire or that the decoder would reject, so it never emits a
packet its own decoder refuses; semantic checks (topic wildcards, Maximum QoS, the broker's
Maximum Packet Size) belong to the API edge and the session.

Under 3.x the 5.0-only fields of a packet (properties, reason codes of acks and DISCONNECT,
UNSUBACK codes) are ignored.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from mqttclient import _spec
from mqttclient._core.decoder import Decoder, decode
from mqttclient._core.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Props,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
)
from mqttclient._core.wire import (
    MAX_PACKET_SIZE,
    SINGLE_BYTES,
    decode_properties,
    encode_binary,
    encode_properties,
    encode_string,
    encode_vbi,
)
from mqttclient.errors import InvalidArgumentError, MQTTException

__all__ = [
    "MAX_PACKET_SIZE",
    "Decoder",
    "decode",
    "decode_properties",
    "encode",
    "encode_ack",
    "encode_properties",
    "encode_publish",
    "encode_vbi",
]

_U16 = struct.Struct(">H").pack
_HEAD_U16 = struct.Struct(">BBH").pack  # first byte, 1-byte RL, a Two Byte Integer


def _frame(first: int, *parts: bytes) -> bytes:
    """Fixed header (first byte and Remaining Length) followed by ``parts``."""
    length = sum(map(len, parts))
    if length < 0x80:
        return b"".join((bytes((first, length)), *parts))
    return b"".join((SINGLE_BYTES[first], encode_vbi(length), *parts))


def _reason(code: int) -> bytes:
    if not 0 <= code <= 0xFF:
        raise InvalidArgumentError(f"reason code must be 0..255, not {code!r}")
    return SINGLE_BYTES[code]


def _packet_id(packet_id: int) -> bytes:
    if not 0 < packet_id <= 0xFFFF:
        # v3 [MQTT-2.3.1-1] / v5 [MQTT-2.2.1-3]
        raise InvalidArgumentError(f"packet identifier must be 1..65535, not {packet_id!r}")
    return _U16(packet_id)


# --- PUBLISH and acks: the hot path ---------------------------------------------------------------


def encode_publish(
    topic: str,
    payload: bytes,
    qos: int,
    retain: bool,
    dup: bool,
    packet_id: int,
    properties: Props,
    version: int,
) -> bytes:
    """Encode a PUBLISH (MQTT §3.3) without building a packet object.

    ``packet_id`` is ignored for QoS 0 and must be 1..65535 otherwise; ``properties`` are
    ignored unless ``version`` is 5. The topic is not checked for wildcards or emptiness (the
    API edge and the session do that).

    Raises:
        InvalidArgumentError: bad QoS or packet id, a topic that is not encodable UTF-8, contains
            U+0000 or is over 65,535 bytes, invalid properties.
        PayloadTooLargeError: the packet would exceed the protocol's Remaining Length limit.

    Pure function; any thread.
    """
    try:
        raw = topic.encode("utf-8")
        size = len(raw)
        if size > 0xFFFF or "\x00" in topic:
            raise InvalidArgumentError("topic must be at most 65,535 bytes, without U+0000")
        if qos == 0:
            middle = b""
            length = size + 2 + len(payload)
        elif qos == 1 or qos == 2:
            if not 0 < packet_id <= 0xFFFF:
                raise InvalidArgumentError(f"packet identifier must be 1..65535, not {packet_id!r}")
            middle = _U16(packet_id)
            length = size + 4 + len(payload)
        else:
            raise InvalidArgumentError(f"QoS must be 0, 1 or 2, not {qos!r}")
        if version == 5:
            props = encode_properties(properties, _spec.PUBLISH) if properties else b"\x00"
            middle += props
            length += len(props)
        first = 0x30 | qos << 1
        if retain:
            first |= 0x01
        if dup:
            first |= 0x08
        if length < 0x80:
            return b"".join((_HEAD_U16(first, length, size), raw, middle, payload))
        return b"".join((SINGLE_BYTES[first], encode_vbi(length), _U16(size), raw, middle, payload))
    except MQTTException:
        raise
    except (ValueError, TypeError, AttributeError, struct.error) as exc:
        raise InvalidArgumentError(f"cannot encode PUBLISH: {exc}") from exc


_ACK_FIRST = {_spec.PUBACK: 0x40, _spec.PUBREC: 0x50, _spec.PUBREL: 0x62, _spec.PUBCOMP: 0x70}


def encode_ack(packet_type: int, packet_id: int) -> bytes:
    """Encode PUBACK, PUBREC, PUBREL or PUBCOMP (``_spec.PUBACK`` ...) with reason 0 and no
    properties: the 4-byte form valid in every version (MQTT 5.0 §3.4.2.1 short form).

    Raises InvalidArgumentError for another packet type or a packet id outside 1..65535.
    """
    first = _ACK_FIRST.get(packet_type)
    if first is None:
        raise InvalidArgumentError(
            f"encode_ack handles PUBACK/PUBREC/PUBREL/PUBCOMP, not {packet_type!r}"
        )
    if not 0 < packet_id <= 0xFFFF:
        raise InvalidArgumentError(f"packet identifier must be 1..65535, not {packet_id!r}")
    return _HEAD_U16(first, 2, packet_id)


# --- the other packets ----------------------------------------------------------------------------


def _connect(packet: Connect, version: int) -> bytes:
    if packet.protocol_version != version:
        raise InvalidArgumentError(
            f"CONNECT protocol_version {packet.protocol_version} does not match version {version}"
        )
    if not 0 <= packet.keepalive <= 0xFFFF:
        raise InvalidArgumentError(f"keepalive must be 0..65535 s, not {packet.keepalive!r}")
    flags = 0x02 if packet.clean_start else 0
    payload = [encode_string(packet.client_id, "client identifier")]
    will = packet.will
    if will is not None:
        if will.qos not in (0, 1, 2):
            raise InvalidArgumentError(f"will QoS must be 0, 1 or 2, not {will.qos!r}")
        flags |= 0x04 | will.qos << 3
        if will.retain:
            flags |= 0x20
        if version == 5:
            payload.append(encode_properties(will.properties, _spec.WILL))
        payload.append(encode_string(will.topic, "will topic"))
        payload.append(encode_binary(will.payload, "will payload"))
    if packet.username is not None:
        flags |= 0x80
        payload.append(encode_string(packet.username, "user name"))
    if packet.password is not None:
        if version < 5 and packet.username is None:
            raise InvalidArgumentError(
                "MQTT 3.x needs a user name to send a password [MQTT-3.1.2-22]"
            )
        flags |= 0x40
        payload.append(encode_binary(packet.password, "password"))
    # 3.1 names the protocol "MQIsdp" at level 3; bridges set bit 7 of the level.
    name = b"\x00\x06MQIsdp" if version == 3 else b"\x00\x04MQTT"
    level = version | 0x80 if packet.bridge else version
    header = name + bytes((level, flags)) + _U16(packet.keepalive)
    if version == 5:
        header += encode_properties(packet.properties, _spec.CONNECT)
    return _frame(0x10, header, *payload)


def _connack(packet: Connack, version: int) -> bytes:
    flags = 0x01 if packet.session_present else 0
    if version < 5 or packet.v3_shaped:
        return bytes((0x20, 2, flags, packet.reason_code))
    return _frame(
        0x20,
        bytes((flags, packet.reason_code)),
        encode_properties(packet.properties, _spec.CONNACK),
    )


def _publish(packet: Publish, version: int) -> bytes:
    return encode_publish(
        packet.topic, packet.payload, packet.qos, packet.retain, packet.dup, packet.packet_id,
        packet.properties, version,
    )  # fmt: skip


def _pub_ack(packet: Puback | Pubrec | Pubrel | Pubcomp, version: int) -> bytes:
    ptype = _ACK_TYPES[type(packet)]
    first = _ACK_FIRST[ptype]
    packet_id = _packet_id(packet.packet_id)
    if version < 5 or not (packet.reason_code or packet.properties):
        return bytes((first, 2)) + packet_id
    if not packet.properties:
        # MQTT 5.0 §3.4.2.1: without properties the Property Length may be left out.
        return bytes((first, 3)) + packet_id + _reason(packet.reason_code)
    return _frame(
        first, packet_id, _reason(packet.reason_code), encode_properties(packet.properties, ptype)
    )


_ACK_TYPES = {
    Puback: _spec.PUBACK,
    Pubrec: _spec.PUBREC,
    Pubrel: _spec.PUBREL,
    Pubcomp: _spec.PUBCOMP,
}


def _subscribe(packet: Subscribe, version: int) -> bytes:
    if not packet.subscriptions:
        # v3 [MQTT-3.8.3-3] / v5 [MQTT-3.8.3-2]
        raise InvalidArgumentError("SUBSCRIBE needs at least one topic filter")
    parts = [_packet_id(packet.packet_id)]
    if version == 5:
        parts.append(encode_properties(packet.properties, _spec.SUBSCRIBE))
    for sub in packet.subscriptions:
        if sub.qos not in (0, 1, 2):
            raise InvalidArgumentError(f"subscription QoS must be 0, 1 or 2, not {sub.qos!r}")
        options = sub.qos
        if version == 5:
            if sub.retain_handling not in (0, 1, 2):
                raise InvalidArgumentError(
                    f"retain handling must be 0, 1 or 2, not {sub.retain_handling!r}"
                )
            options |= sub.retain_handling << 4
            if sub.no_local:
                options |= 0x04
            if sub.retain_as_published:
                options |= 0x08
        parts.append(encode_string(sub.topic_filter, "topic filter"))
        parts.append(SINGLE_BYTES[options])
    return _frame(0x82, *parts)


def _suback(packet: Suback, version: int) -> bytes:
    packet_id = _packet_id(packet.packet_id)
    if version < 5:
        return _frame(0x90, packet_id, bytes(packet.reason_codes))
    props = encode_properties(packet.properties, _spec.SUBACK)
    return _frame(0x90, packet_id, props, bytes(packet.reason_codes))


def _unsubscribe(packet: Unsubscribe, version: int) -> bytes:
    if not packet.topic_filters:
        # v3 [MQTT-3.10.3-2] / v5 [MQTT-3.10.3-2]
        raise InvalidArgumentError("UNSUBSCRIBE needs at least one topic filter")
    parts = [_packet_id(packet.packet_id)]
    if version == 5:
        parts.append(encode_properties(packet.properties, _spec.UNSUBSCRIBE))
    parts.extend(
        encode_string(topic_filter, "topic filter") for topic_filter in packet.topic_filters
    )
    return _frame(0xA2, *parts)


def _unsuback(packet: Unsuback, version: int) -> bytes:
    packet_id = _packet_id(packet.packet_id)
    if version < 5:
        return b"\xb0\x02" + packet_id
    props = encode_properties(packet.properties, _spec.UNSUBACK)
    return _frame(0xB0, packet_id, props, bytes(packet.reason_codes))


def _pingreq(packet: Pingreq, version: int) -> bytes:
    return b"\xc0\x00"


def _pingresp(packet: Pingresp, version: int) -> bytes:
    return b"\xd0\x00"


def _disconnect(packet: Disconnect, version: int) -> bytes:
    if version < 5 or not (packet.reason_code or packet.properties):
        return b"\xe0\x00"
    if not packet.properties:
        # MQTT 5.0 §3.14.2.1: RL 1, a reason code without Property Length.
        return b"\xe0\x01" + _reason(packet.reason_code)
    props = encode_properties(packet.properties, _spec.DISCONNECT)
    return _frame(0xE0, _reason(packet.reason_code), props)


def _auth(packet: Auth, version: int) -> bytes:
    if version < 5:
        raise InvalidArgumentError("AUTH exists only in MQTT 5.0")
    if not (packet.reason_code or packet.properties):
        return b"\xf0\x00"  # MQTT 5.0 §3.15.2.1 short form
    props = encode_properties(packet.properties, _spec.AUTH)
    return _frame(0xF0, _reason(packet.reason_code), props)


# Values are typed Any because each takes its own packet class; the dict key guarantees it.
_ENCODERS: dict[type, Callable[[Any, int], bytes]] = {
    Connect: _connect,
    Connack: _connack,
    Publish: _publish,
    Puback: _pub_ack,
    Pubrec: _pub_ack,
    Pubrel: _pub_ack,
    Pubcomp: _pub_ack,
    Subscribe: _subscribe,
    Suback: _suback,
    Unsubscribe: _unsubscribe,
    Unsuback: _unsuback,
    Pingreq: _pingreq,
    Pingresp: _pingresp,
    Disconnect: _disconnect,
    Auth: _auth,
}


def encode(packet: Packet, version: int) -> bytes:
    """Encode any control packet for protocol ``version`` 3 (3.1), 4 (3.1.1) or 5 (5.0).

    A CONNECT's ``protocol_version`` must equal ``version``. 5.0 acks, DISCONNECT and AUTH use
    the short forms when the reason code is 0 and there are no properties (MQTT 5.0 §1.6 of the
    rules). Under 3.x the 5.0-only fields are ignored; AUTH is refused.

    Raises:
        InvalidArgumentError: a value that cannot be encoded (see ``encode_publish`` and
            ``encode_properties``), not a packet, or an unknown version.
        PayloadTooLargeError: a field or the packet exceeds its protocol size limit.

    Pure function; any thread.
    """
    if version not in (3, 4, 5):
        raise InvalidArgumentError(f"MQTT protocol version must be 3, 4 or 5, not {version!r}")
    encoder = _ENCODERS.get(type(packet))
    if encoder is None:
        raise InvalidArgumentError(f"not an MQTT packet: {packet!r}")
    try:
        return encoder(packet, version)
    except MQTTException:
        raise
    except (ValueError, TypeError, AttributeError, IndexError, struct.error) as exc:
        raise InvalidArgumentError(f"cannot encode {type(packet).__name__}: {exc}") from exc
