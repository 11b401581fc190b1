"""Decoding MQTT 3.1, 3.1.1 and 5.0 control packets: the incremental :class:`Decoder`.

Owns: turning bytes into the packet values of ``mqttclient._core.packets``, whatever way the bytes
are split; the checks of fixed headers (type, flags, Remaining Length) and of each packet's
fields; the inbound size limit (Maximum Packet Size). Data types and properties are read with
``mqttclient._core.wire``. ``mqttclient._core.codec`` re-exports the public names next to the
encoder.

Must not: touch sockets, threads, the clock or logging; judge a packet against the state of the
connection. Direction rules (a client never receives CONNECT), Topic Alias values, topic name
rules (wildcards, empty topic without alias), packet-id bookkeeping and SUBACK code counts belong
to the session.

Errors: every bad input raises exactly one :class:`mqttclient.errors.ProtocolError` (or subclass)
whose ``reason_code`` is the MQTT 5 code for the DISCONNECT the client then sends (MQTT 5.0 §4.13):
:class:`MalformedPacketError` (0x81) for bytes that cannot be parsed, :class:`ProtocolError` (0x82)
for bytes that parse but break a rule of the packet itself, :class:`PacketTooLargeError` (0x95)
for a packet over the limit. Nothing else escapes (no ``IndexError`` or ``UnicodeDecodeError``).
"""

from __future__ import annotations

import struct
from typing import Callable, Optional, Union

from mqttclient import _spec
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
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from mqttclient._core.wire import (
    MAX_PACKET_SIZE,
    PACKET_NAMES,
    expect_end,
    read_bin,
    read_props,
    read_str,
    read_u16,
    truncated,
)
from mqttclient.errors import (
    InvalidArgumentError,
    MalformedPacketError,
    PacketTooLargeError,
    ProtocolError,
)

__all__ = ["Decoder", "decode"]


# --- packets (MQTT §3) ----------------------------------------------------------------------------


def _connect(data: bytes, b0: int, p: int, end: int, version: int) -> Connect:
    name, p = read_str(data, p, end, "protocol name")
    if p + 4 > end:
        raise truncated("CONNECT variable header")
    raw_level = data[p]
    flags = data[p + 1]
    keepalive = data[p + 2] << 8 | data[p + 3]
    p += 4
    # Bit 7 of the level is the bridge convention (mosquitto, RSMB; paho's enable_bridge_mode).
    level = raw_level & 0x7F
    if name == "MQTT":
        supported = level in (4, 5)
    elif name == "MQIsdp":
        supported = level == 3
    else:
        raise MalformedPacketError(f"malformed packet: unknown protocol name {name!r}")
    if not supported:
        # v3 [MQTT-3.1.2-2] answers 0x01; v5 [MQTT-3.1.2-2] 0x84 Unsupported Protocol Version.
        raise ProtocolError(f"unsupported protocol {name!r} level {level}", 0x84)
    if flags & 0x01:
        raise MalformedPacketError("malformed packet: CONNECT reserved flag set [MQTT-3.1.2-3]")
    will_flag = flags & 0x04
    will_qos = (flags >> 3) & 3
    if will_flag:
        if will_qos == 3:
            # v3 [MQTT-3.1.2-14] / v5 [MQTT-3.1.2-12]
            raise MalformedPacketError("malformed packet: Will QoS 3")
    elif flags & 0x38:
        # v3 [MQTT-3.1.2-13], [MQTT-3.1.2-15] / v5 [MQTT-3.1.2-11], [MQTT-3.1.2-13]
        raise MalformedPacketError("malformed packet: Will QoS or Retain without Will Flag")
    if level < 5 and flags & 0xC0 == 0x40:
        raise MalformedPacketError("malformed packet: password without user name [MQTT-3.1.2-22]")
    props: Props = ()
    if level == 5:
        props, p = read_props(data, p, end, _spec.CONNECT)
    client_id, p = read_str(data, p, end, "client identifier")
    will = None
    if will_flag:
        will_props: Props = ()
        if level == 5:
            will_props, p = read_props(data, p, end, _spec.WILL)
        will_topic, p = read_str(data, p, end, "will topic")
        will_payload, p = read_bin(data, p, end, "will payload")
        will = Will(will_topic, will_payload, will_qos, bool(flags & 0x20), will_props)
    username = password = None
    if flags & 0x80:
        username, p = read_str(data, p, end, "user name")
    if flags & 0x40:
        password, p = read_bin(data, p, end, "password")
    expect_end(p, end, "CONNECT")
    return Connect(
        client_id, level, bool(flags & 0x02), keepalive, username, password, will, props,
        raw_level >= 0x80,
    )  # fmt: skip


def _connack(data: bytes, b0: int, p: int, end: int, version: int) -> Connack:
    if end - p < 2:
        raise truncated("CONNACK")
    flags = data[p]
    code = data[p + 1]
    if flags & 0xFE:
        # v3 §3.2.2.1 / v5 [MQTT-3.2.2-1]: bits 7-1 of the acknowledge flags are reserved.
        raise MalformedPacketError("malformed packet: CONNACK reserved flags set")
    if end - p == 2:
        # A 3.1.1-shaped CONNACK; in 5.0 mode it is how a 3.x-only server refuses level 5
        # (rules §2.1): keep the raw code and let the session interpret it.
        return Connack(bool(flags), code, (), version == 5)
    if version < 5:
        raise MalformedPacketError("malformed packet: CONNACK remaining length must be 2")
    props, p = read_props(data, p + 2, end, _spec.CONNACK)
    expect_end(p, end, "CONNACK")
    return Connack(bool(flags), code, props)


def _publish(data: bytes, b0: int, p: int, end: int, version: int) -> Publish:
    if p + 2 > end:
        raise truncated("topic name")
    q = p + 2 + (data[p] << 8 | data[p + 1])
    if q > end:
        raise truncated("topic name")
    try:
        topic = data[p + 2 : q].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacketError("malformed packet: topic name is not valid UTF-8") from exc
    if "\x00" in topic:
        raise MalformedPacketError("malformed packet: topic name contains U+0000")
    qos = (b0 >> 1) & 3
    packet_id = 0
    if qos:
        if q + 2 > end:
            raise truncated("packet identifier")
        packet_id = data[q] << 8 | data[q + 1]
        q += 2
        if not packet_id:
            # v3 [MQTT-2.3.1-1] / v5 [MQTT-2.2.1-3]; rules §6.2 lists it as a Protocol Error.
            raise ProtocolError("protocol error: PUBLISH QoS > 0 with packet identifier 0")
    props: Props = ()
    if version == 5:
        if q < end and data[q] == 0:
            q += 1
        else:
            props, q = read_props(data, q, end, _spec.PUBLISH)
    return Publish(topic, data[q:end], qos, bool(b0 & 1), bool(b0 & 8), packet_id, props)


def _packet_id(data: bytes, p: int, end: int, name: str) -> int:
    packet_id = read_u16(data, p, end, "packet identifier")
    if not packet_id:
        # v3 [MQTT-2.3.1-1] / v5 [MQTT-2.2.1-3]: identifiers in use are never 0, so an ack or a
        # SUBSCRIBE/UNSUBSCRIBE carrying 0 breaks the protocol.
        raise ProtocolError(f"protocol error: {name} with packet identifier 0")
    return packet_id


_PubAck = Union[Puback, Pubrec, Pubrel, Pubcomp]
_ACK_CLASSES: dict[int, Callable[[int, int, Props], _PubAck]] = {
    _spec.PUBACK: Puback,
    _spec.PUBREC: Pubrec,
    _spec.PUBREL: Pubrel,
    _spec.PUBCOMP: Pubcomp,
}


def _pub_ack(data: bytes, b0: int, p: int, end: int, version: int) -> _PubAck:
    ptype = b0 >> 4
    cls = _ACK_CLASSES[ptype]
    packet_id = _packet_id(data, p, end, PACKET_NAMES[ptype])
    length = end - p
    if length == 2:
        return cls(packet_id, 0, ())
    if version < 5:
        raise MalformedPacketError(
            f"malformed packet: {PACKET_NAMES[ptype]} remaining length must be 2"
        )
    # MQTT 5.0 §3.4.2.1: RL 3 carries a reason code and no Property Length.
    if length == 3:
        return cls(packet_id, data[p + 2], ())
    props, q = read_props(data, p + 3, end, ptype)
    expect_end(q, end, PACKET_NAMES[ptype])
    return cls(packet_id, data[p + 2], props)


def _subscribe(data: bytes, b0: int, p: int, end: int, version: int) -> Subscribe:
    packet_id = _packet_id(data, p, end, "SUBSCRIBE")
    p += 2
    props: Props = ()
    if version == 5:
        props, p = read_props(data, p, end, _spec.SUBSCRIBE)
    subs: list[Subscription] = []
    while p < end:
        topic_filter, p = read_str(data, p, end, "topic filter")
        if p >= end:
            raise truncated("subscription options")
        opts = data[p]
        p += 1
        qos = opts & 3
        if version < 5:
            # v3 [MQTT-3-8.3-4]: bits 7-2 reserved, QoS 3 invalid; both malformed.
            if opts & 0xFC or qos == 3:
                raise MalformedPacketError("malformed packet: invalid SUBSCRIBE requested QoS byte")
            subs.append(Subscription(topic_filter, qos))
            continue
        if opts & 0xC0:
            raise MalformedPacketError(
                "malformed packet: subscription options reserved bits [MQTT-3.8.3-5]"
            )
        retain_handling = (opts >> 4) & 3
        if qos == 3 or retain_handling == 3:
            # MQTT 5.0 §3.8.3.1: Maximum QoS 3 and Retain Handling 3 are Protocol Errors.
            raise ProtocolError(
                "protocol error: subscription options with QoS 3 or Retain Handling 3"
            )
        subs.append(
            Subscription(topic_filter, qos, bool(opts & 4), bool(opts & 8), retain_handling)
        )
    if not subs:
        # v3 [MQTT-3.8.3-3] / v5 [MQTT-3.8.3-2]
        raise ProtocolError("protocol error: SUBSCRIBE without topic filters")
    return Subscribe(packet_id, tuple(subs), props)


def _suback(data: bytes, b0: int, p: int, end: int, version: int) -> Suback:
    packet_id = _packet_id(data, p, end, "SUBACK")
    p += 2
    props: Props = ()
    if version == 5:
        props, p = read_props(data, p, end, _spec.SUBACK)
    return Suback(packet_id, tuple(data[p:end]), props)


def _unsubscribe(data: bytes, b0: int, p: int, end: int, version: int) -> Unsubscribe:
    packet_id = _packet_id(data, p, end, "UNSUBSCRIBE")
    p += 2
    props: Props = ()
    if version == 5:
        props, p = read_props(data, p, end, _spec.UNSUBSCRIBE)
    filters: list[str] = []
    while p < end:
        topic_filter, p = read_str(data, p, end, "topic filter")
        filters.append(topic_filter)
    if not filters:
        # v3 [MQTT-3.10.3-2] / v5 [MQTT-3.10.3-2]
        raise ProtocolError("protocol error: UNSUBSCRIBE without topic filters")
    return Unsubscribe(packet_id, tuple(filters), props)


def _unsuback(data: bytes, b0: int, p: int, end: int, version: int) -> Unsuback:
    packet_id = _packet_id(data, p, end, "UNSUBACK")
    p += 2
    if version < 5:
        expect_end(p, end, "UNSUBACK")
        return Unsuback(packet_id)
    props, p = read_props(data, p, end, _spec.UNSUBACK)
    return Unsuback(packet_id, tuple(data[p:end]), props)


def _pingreq(data: bytes, b0: int, p: int, end: int, version: int) -> Pingreq:
    expect_end(p, end, "PINGREQ")
    return Pingreq()


def _pingresp(data: bytes, b0: int, p: int, end: int, version: int) -> Pingresp:
    expect_end(p, end, "PINGRESP")
    return Pingresp()


def _disconnect(data: bytes, b0: int, p: int, end: int, version: int) -> Disconnect:
    if p == end:
        return Disconnect()
    if version < 5:
        raise MalformedPacketError("malformed packet: DISCONNECT remaining length must be 0")
    # MQTT 5.0 §3.14.2.1: RL 1 carries a reason code and no Property Length.
    if end - p == 1:
        return Disconnect(data[p])
    props, q = read_props(data, p + 1, end, _spec.DISCONNECT)
    expect_end(q, end, "DISCONNECT")
    return Disconnect(data[p], props)


def _auth(data: bytes, b0: int, p: int, end: int, version: int) -> Auth:
    # Only reached in 5.0 mode: in 3.x type 15 is reserved and fails the first-byte check.
    if p == end:
        return Auth()
    if end - p == 1:
        # MQTT 5.0 §3.15.2.1 allows RL 0 or a reason code followed by a Property Length.
        raise MalformedPacketError(
            "malformed packet: AUTH with a reason code but no property length"
        )
    props, q = read_props(data, p + 1, end, _spec.AUTH)
    expect_end(q, end, "AUTH")
    return Auth(data[p], props)


_Decode = Callable[[bytes, int, int, int, int], Packet]
_DECODERS: tuple[Optional[_Decode], ...] = (
    None,
    _connect,
    _connack,
    _publish,
    _pub_ack,
    _pub_ack,
    _pub_ack,
    _pub_ack,
    _subscribe,
    _suback,
    _unsubscribe,
    _unsuback,
    _pingreq,
    _pingresp,
    _disconnect,
    _auth,
)


def _first_byte_table(version: int) -> bytes:
    """256 flags: 1 where a first byte (type and flags) is valid for ``version``."""
    table = bytearray(256)
    for b0 in range(256):
        ptype, flags = b0 >> 4, b0 & 0x0F
        if ptype == 3:
            ok = flags & 0x06 != 0x06  # [MQTT-3.3.1-4]: QoS 3 is malformed
        elif ptype in (6, 8, 10):
            ok = flags == 0x02  # [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
        elif ptype == 15:
            ok = flags == 0 and version == 5  # AUTH is reserved in 3.x
        else:
            ok = ptype != 0 and flags == 0  # v3 [MQTT-2.2.2-1] / v5 [MQTT-2.1.3-1]
        table[b0] = ok
    return bytes(table)


_FIRST_BYTE_OK = {version: _first_byte_table(version) for version in (3, 4, 5)}


def _bad_first_byte(b0: int, version: int) -> MalformedPacketError:
    ptype = b0 >> 4
    if ptype == 0:
        return MalformedPacketError("malformed packet: reserved packet type 0")
    if ptype == 15 and version < 5:
        return MalformedPacketError(
            "malformed packet: packet type 15 (AUTH) is reserved in MQTT 3.x"
        )
    if ptype == 3:
        return MalformedPacketError("malformed packet: PUBLISH with QoS 3 [MQTT-3.3.1-4]")
    return MalformedPacketError(
        f"malformed packet: reserved flags 0x{b0 & 0x0F:X} on {PACKET_NAMES[ptype]} [MQTT-2.1.3-1]"
    )


def _remaining_length(data: bytes, p: int, n: int) -> tuple[int, int]:
    """Read the Remaining Length at ``p`` (fixed header); return (length, body start), or
    (0, -1) when the field is not complete yet."""
    value = 0
    shift = 0
    for i in range(4):
        if p + i >= n:
            return 0, -1
        b = data[p + i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0 and i:
                raise MalformedPacketError(
                    "malformed packet: non-minimal remaining length [MQTT-1.5.5-1]"
                )
            return value, p + i + 1
        shift += 7
    raise MalformedPacketError("malformed packet: remaining length longer than 4 bytes")


class Decoder:
    """Incremental decoder: bytes in any split in, complete packets out.

    ``version`` (3, 4 or 5) selects the wire format of every packet but CONNECT, which is decoded
    by its own protocol level and then switches ``version`` to that level (so a server-side
    decoder follows its client). ``max_packet_size`` is the largest whole packet accepted (fixed
    header included, MQTT 5.0 §2.1.4); ``None`` means the protocol maximum. Both may be changed
    between calls to :meth:`feed`; the values in force when :meth:`feed` is called apply to all
    the packets it returns.

    At most one incomplete packet is buffered, and never one announced larger than the limit.
    After :meth:`feed` has raised, the decoder is unusable: every later call raises an error of
    the same class and reason code (the connection must be closed). Packets decoded from the
    same :meth:`feed` call before the bad one are dropped with it.

    Not thread-safe: one thread (the one owning the connection) feeds it.
    """

    __slots__ = ("_buf", "_error", "_limit", "_max_packet_size", "_need", "_valid", "_version")

    def __init__(self, version: int = 4, max_packet_size: Optional[int] = None) -> None:
        self._version = 4
        self._valid = _FIRST_BYTE_OK[4]
        self._max_packet_size: Optional[int] = None
        self._limit = MAX_PACKET_SIZE
        self.version = version
        self.max_packet_size = max_packet_size
        self._buf = bytearray()  # the start of an incomplete packet
        self._need = 0  # whole size of that packet once its fixed header is complete
        self._error: Optional[ProtocolError] = None

    @property
    def version(self) -> int:
        """Protocol level in use: 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)."""
        return self._version

    @version.setter
    def version(self, version: int) -> None:
        if version not in _FIRST_BYTE_OK:
            raise InvalidArgumentError(f"MQTT protocol version must be 3, 4 or 5, not {version!r}")
        self._version = version
        self._valid = _FIRST_BYTE_OK[version]

    @property
    def max_packet_size(self) -> Optional[int]:
        """Largest whole packet accepted, in bytes; ``None`` for the protocol maximum."""
        return self._max_packet_size

    @max_packet_size.setter
    def max_packet_size(self, size: Optional[int]) -> None:
        if size is not None and size < 2:
            raise InvalidArgumentError(f"max_packet_size must be at least 2, not {size!r}")
        self._max_packet_size = size
        self._limit = MAX_PACKET_SIZE if size is None else min(size, MAX_PACKET_SIZE)

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> list[Packet]:
        """Add received bytes; return every packet completed by them, in order.

        Raises:
            MalformedPacketError: bytes that cannot be parsed (reason code 0x81).
            ProtocolError: a packet that breaks a rule of its own (0x82; 0x84 for a CONNECT
                with an unsupported protocol level).
            PacketTooLargeError: a fixed header announcing a packet over ``max_packet_size``
                (0x95), raised before its body is read.
        """
        error = self._error
        if error is not None:
            raise type(error)(
                f"decoder unusable after an earlier error: {error}", error.reason_code
            )
        out: list[Packet] = []
        try:
            self._feed(data if type(data) is bytes else bytes(data), out)
        except ProtocolError as exc:
            self._error = exc
            self._buf = bytearray()
            raise
        except (IndexError, ValueError, struct.error) as exc:  # pragma: no cover - safety net
            failure = MalformedPacketError(f"malformed packet: {exc}")
            self._error = failure
            self._buf = bytearray()
            raise failure from exc
        return out

    def _feed(self, data: bytes, out: list[Packet]) -> None:
        buf = self._buf
        pos = 0
        if buf:
            need = self._need
            if not need:
                # The fixed header itself was split: at most 4 bytes are waiting.
                data = bytes(buf) + data
                buf.clear()
            else:
                if need > self._limit:
                    raise PacketTooLargeError(
                        f"packet of {need} bytes exceeds the maximum packet size {self._limit}"
                    )
                missing = need - len(buf)
                if len(data) < missing:
                    buf += data
                    return
                buf += data[:missing]
                packet = bytes(buf)
                buf.clear()
                self._need = 0
                self._parse(packet, 0, out)
                pos = missing
        if pos < len(data):
            self._parse(data, pos, out)

    def _parse(self, data: bytes, pos: int, out: list[Packet]) -> None:
        n = len(data)
        limit = self._limit
        version = self._version
        valid = self._valid
        decoders = _DECODERS
        append = out.append
        while pos < n:
            b0 = data[pos]
            if not valid[b0]:
                raise _bad_first_byte(b0, version)
            if pos + 1 == n:
                break
            length = data[pos + 1]
            if length < 0x80:
                body = pos + 2
            else:
                length, body = _remaining_length(data, pos + 1, n)
                if body < 0:
                    break
            end = body + length
            if end - pos > limit:
                # MQTT 5.0 §3.1.2.11.4: the whole packet counts; refuse before reading the body.
                raise PacketTooLargeError(
                    f"packet of {end - pos} bytes exceeds the maximum packet size {limit}"
                )
            if end > n:
                self._need = end - pos
                break
            if b0 >> 4 != 3:
                decoder = decoders[b0 >> 4]
                assert decoder is not None  # type 0 failed the first-byte check
                packet = decoder(data, b0, body, end, version)
                if b0 == 0x10:
                    assert isinstance(packet, Connect)
                    self.version = version = packet.protocol_version
                    valid = self._valid
                append(packet)
                pos = end
                continue
            # PUBLISH, the hot path: _publish() inlined, with the same checks.
            q = body + 2
            if q > end or (q := q + (data[body] << 8 | data[body + 1])) > end:
                raise truncated("topic name")
            try:
                topic = data[body + 2 : q].decode()
            except UnicodeDecodeError as exc:
                raise MalformedPacketError(
                    "malformed packet: topic name is not valid UTF-8"
                ) from exc
            if "\x00" in topic:
                raise MalformedPacketError("malformed packet: topic name contains U+0000")
            qos = (b0 >> 1) & 3
            if qos:
                if q + 2 > end:
                    raise truncated("packet identifier")
                packet_id = data[q] << 8 | data[q + 1]
                q += 2
                if not packet_id:
                    raise ProtocolError("protocol error: PUBLISH QoS > 0 with packet identifier 0")
            else:
                packet_id = 0
            if version == 5:
                if q < end and data[q] == 0:
                    q += 1
                    append(
                        Publish(topic, data[q:end], qos, bool(b0 & 1), bool(b0 & 8), packet_id, ())
                    )
                else:
                    props, q = read_props(data, q, end, _spec.PUBLISH)
                    append(
                        Publish(
                            topic, data[q:end], qos, bool(b0 & 1), bool(b0 & 8), packet_id, props
                        )
                    )
            else:
                append(Publish(topic, data[q:end], qos, bool(b0 & 1), bool(b0 & 8), packet_id, ()))
            pos = end
        if pos < n:
            self._buf += memoryview(data)[pos:]


def decode(data: Union[bytes, bytearray, memoryview], version: int = 4) -> Packet:
    """Decode exactly one complete packet (a convenience for tests and tools).

    Raises:
        MalformedPacketError: ``data`` is not exactly one packet, or the packet is malformed.
        ProtocolError: as :meth:`Decoder.feed`.
    """
    decoder = Decoder(version)
    packets = decoder.feed(data)
    if len(packets) != 1 or decoder._buf:
        raise MalformedPacketError(
            f"malformed packet: expected exactly one complete packet, got {len(packets)}"
            + (" and an incomplete one" if decoder._buf else "")
        )
    return packets[0]
