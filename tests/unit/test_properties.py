"""Properties: paho's attribute API, its checks, the wire helpers and the bridge to the codec."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import properties as paho_properties

from mqttclient import _spec
from mqttclient.errors import MalformedPacketError, MQTTException, ProtocolError
from mqttclient.packettypes import PacketTypes as P
from mqttclient.properties import (
    MalformedPacket,
    Properties,
    VariableByteIntegers,
    readBytes,
    readInt16,
    readInt32,
    readUTF,
    writeBytes,
    writeInt16,
    writeInt32,
    writeUTF,
)

ALL_PACKETS = [*P.indexes, P.WILLMESSAGE]
SPECS = sorted(_spec.PROPERTIES.values(), key=lambda s: s.identifier)

# A valid value of each wire type.
SAMPLE: dict[int, Any] = {
    _spec.BYTE: 1,
    _spec.U16: 10,
    _spec.U32: 100,
    _spec.VBI: 1000,
    _spec.STRING: "text",
    _spec.BINARY: b"\x00\x01",
    _spec.STRING_PAIR: ("key", "value"),
}


def some_packet(name: str) -> int:
    return min(_spec.PROPERTY_BY_NAME[name].packets)


# --- setting attributes -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_property_allowed_only_in_its_packets(spec: _spec.PropertySpec) -> None:
    for packet in ALL_PACKETS:
        props = Properties(packet)
        if packet in spec.packets:
            setattr(props, spec.name, SAMPLE[spec.type])
            assert not props.isEmpty()
        else:
            with pytest.raises(MQTTException, match="does not apply"):
                setattr(props, spec.name, SAMPLE[spec.type])
            assert props.isEmpty()


def test_unknown_names_are_refused() -> None:
    props = Properties(P.PUBLISH)
    with pytest.raises(MQTTException, match="unknown property name"):
        props.Colour = "red"
    with pytest.raises(MQTTException):
        props.userproperty = ("a", "b")
    assert props.isEmpty()


def test_names_with_spaces_are_accepted() -> None:
    props = Properties(P.PUBLISH)
    setattr(props, "Message Expiry Interval", 5)
    setattr(props, "User Property", ("a", "b"))
    assert props.MessageExpiryInterval == 5
    assert props.UserProperty == [("a", "b")]


def test_plain_attributes_can_be_assigned() -> None:
    props = Properties(P.PUBLISH)
    props.packetType = P.CONNECT
    props.SessionExpiryInterval = 3
    with pytest.raises(MQTTException):
        props.MessageExpiryInterval = 3


def test_single_valued_assignment_replaces() -> None:
    props = Properties(P.PUBLISH)
    props.ResponseTopic = "a"
    props.ResponseTopic = "b"
    assert props.ResponseTopic == "b"
    assert props.to_pairs() == ((_spec.RESPONSE_TOPIC, "b"),)


def test_user_property_appends_and_keeps_order() -> None:
    props = Properties(P.PUBLISH)
    props.UserProperty = ("b", "1")
    props.UserProperty = [("a", "2"), ("b", "3")]
    props.UserProperty = ("b", "1")
    assert props.UserProperty == [("b", "1"), ("a", "2"), ("b", "3"), ("b", "1")]
    assert [v for _, v in props.to_pairs()] == props.UserProperty


def test_assigned_list_is_copied() -> None:
    given_list = [("a", "1")]
    props = Properties(P.PUBLISH)
    props.UserProperty = given_list
    props.UserProperty = ("b", "2")
    assert given_list == [("a", "1")]


def test_subscription_identifier_appends() -> None:
    props = Properties(P.PUBLISH)
    props.SubscriptionIdentifier = 1
    props.SubscriptionIdentifier = [2, 3]
    assert props.SubscriptionIdentifier == [1, 2, 3]


def test_subscribe_takes_one_subscription_identifier() -> None:
    props = Properties(P.SUBSCRIBE)
    props.SubscriptionIdentifier = 7
    assert props.SubscriptionIdentifier == [7]
    with pytest.raises(MQTTException, match="at most one"):
        props.SubscriptionIdentifier = 8
    with pytest.raises(MQTTException, match="at most one"):
        Properties(P.SUBSCRIBE).SubscriptionIdentifier = [1, 2]
    assert props.SubscriptionIdentifier == [7]
    props.UserProperty = ("a", "1")
    props.UserProperty = ("a", "2")
    assert len(props.UserProperty) == 2


RANGES = [
    ("PayloadFormatIndicator", [0, 1, True], [2, -1, 255]),
    ("MessageExpiryInterval", [0, 2**32 - 1], [-1, 2**32]),
    ("SubscriptionIdentifier", [1, _spec.MAX_VBI], [0, _spec.MAX_VBI + 1]),
    ("SessionExpiryInterval", [0, 0xFFFFFFFF], [-1, 2**32]),
    ("ServerKeepAlive", [0, 65535], [-1, 65536]),
    ("RequestProblemInformation", [0, 1], [2]),
    ("WillDelayInterval", [0, 2**32 - 1], [2**32]),
    ("RequestResponseInformation", [0, 1], [2]),
    ("ReceiveMaximum", [1, 65535], [0, 65536]),
    ("TopicAliasMaximum", [0, 65535], [-1, 65536]),
    ("TopicAlias", [1, 65535], [0, 65536]),
    ("MaximumQoS", [0, 1], [2]),
    ("RetainAvailable", [0, 1], [2]),
    ("MaximumPacketSize", [1, 268435455, 2**32 - 1], [0, 2**32]),
    ("WildcardSubscriptionAvailable", [0, 1], [2]),
    ("SubscriptionIdentifierAvailable", [0, 1], [2]),
    ("SharedSubscriptionAvailable", [0, 1], [2]),
]


@pytest.mark.parametrize(("name", "good", "bad"), RANGES, ids=[r[0] for r in RANGES])
def test_integer_ranges(name: str, good: list[int], bad: list[int]) -> None:
    packet = some_packet(name)
    for value in good:
        props = Properties(packet)
        setattr(props, name, value)
    for value in bad:
        props = Properties(packet)
        with pytest.raises(MQTTException, match="range"):
            setattr(props, name, value)
        assert props.isEmpty()
    with pytest.raises(MQTTException, match="must be an int"):
        setattr(Properties(packet), name, "1")
    with pytest.raises(MQTTException, match="must be an int"):
        setattr(Properties(packet), name, 1.0)


def test_range_checked_for_every_item_of_a_list() -> None:
    props = Properties(P.PUBLISH)
    with pytest.raises(MQTTException):
        props.SubscriptionIdentifier = [1, 0]
    assert props.isEmpty()


def test_string_checks() -> None:
    props = Properties(P.PUBLISH)
    props.ContentType = "ünïcode"
    props.ResponseTopic = b"bytes/are/fine"
    props.ContentType = "\ufeffbom is kept"
    with pytest.raises(MQTTException, match="U\\+0000"):
        props.ContentType = "nul\x00"
    with pytest.raises(MQTTException, match="UTF-8"):
        props.ContentType = "\ud800"
    with pytest.raises(MQTTException, match="UTF-8"):
        props.ContentType = b"\xff\xfe"
    with pytest.raises(MQTTException, match="65535"):
        props.ContentType = "x" * 65536
    props.ContentType = "x" * 65535
    with pytest.raises(MQTTException, match="must be a str"):
        props.ContentType = 5


def test_binary_checks() -> None:
    props = Properties(P.PUBLISH)
    props.CorrelationData = bytearray(b"\x01")
    props.CorrelationData = b"\x00" * 65535
    with pytest.raises(MQTTException, match="must be bytes"):
        props.CorrelationData = "text"
    with pytest.raises(MQTTException, match="65535"):
        props.CorrelationData = b"\x00" * 65536


def test_user_property_checks() -> None:
    props = Properties(P.PUBLISH)
    props.UserProperty = ["a", "b"] if False else [("a", "b")]
    props.UserProperty = [["c", "d"]]
    with pytest.raises(MQTTException, match="pair"):
        props.UserProperty = ["a", "b"]
    with pytest.raises(MQTTException, match="pair"):
        props.UserProperty = ("a", "b", "c")
    with pytest.raises(MQTTException, match="U\\+0000"):
        props.UserProperty = ("a\x00", "b")
    with pytest.raises(MQTTException):
        props.UserProperty = ("a", 1)
    assert props.UserProperty == [("a", "b"), ["c", "d"]]


# --- paho's other methods -----------------------------------------------------------------------


def test_class_tables() -> None:
    props = Properties(P.CONNECT)
    assert props.packetType == P.CONNECT
    assert props.names["Payload Format Indicator"] == 1
    assert props.names["Maximum QoS"] == 0x24
    assert props.names["Subscription Identifier Available"] == 0x29
    assert len(props.names) == 27
    assert props.types[props.properties[0x26][0]] == "UTF-8 String Pair"
    assert props.types[props.properties[0x09][0]] == "Binary Data"
    assert P.WILLMESSAGE in props.properties[0x18][1]


def test_lookups() -> None:
    props = Properties(P.PUBLISH)
    assert props.allowsMultiple("UserProperty")
    assert props.allowsMultiple("SubscriptionIdentifier")
    assert not props.allowsMultiple("TopicAlias")
    assert not props.allowsMultiple("Nope")
    assert props.getIdentFromName("TopicAlias") == 0x23
    assert props.getIdentFromName("Topic Alias") == -1
    assert props.getIdentFromName("Nope") == -1
    assert props.getNameFromIdent(0x23) == "Topic Alias"
    assert props.getNameFromIdent(0x26) == "User Property"
    assert props.getNameFromIdent(0x7F) is None
    for spec in SPECS:
        spaced = props.getNameFromIdent(spec.identifier)
        assert spaced is not None
        assert spaced.replace(" ", "") == spec.name


def test_is_empty_and_clear() -> None:
    props = Properties(P.PUBLISH)
    assert props.isEmpty()
    props.TopicAlias = 3
    props.UserProperty = ("a", "b")
    assert not props.isEmpty()
    props.clear()
    assert props.isEmpty()
    assert not hasattr(props, "TopicAlias")
    assert props.packetType == P.PUBLISH
    assert props.to_pairs() == ()


def test_str_and_json() -> None:
    props = Properties(P.PUBLISH)
    props.UserProperty = ("a", "b")
    props.CorrelationData = b"\x01\xff"
    props.MessageExpiryInterval = 30
    assert str(props) == (
        "[MessageExpiryInterval : 30, CorrelationData : b'\\x01\\xff', UserProperty : [('a', 'b')]]"
    )
    assert props.json() == {
        "MessageExpiryInterval": 30,
        "CorrelationData": "01ff",
        "UserProperty": [("a", "b")],
    }
    assert str(Properties(P.PUBLISH)) == "[]"
    assert Properties(P.PUBLISH).json() == {}


def test_copy_keeps_properties() -> None:
    props = Properties(P.PUBLISH)
    props.UserProperty = ("a", "b")
    clone = copy.deepcopy(props)
    clone.UserProperty = ("c", "d")
    assert props.UserProperty == [("a", "b")]
    assert clone.to_pairs() == ((0x26, ("a", "b")), (0x26, ("c", "d")))


# --- bridge to the codec ------------------------------------------------------------------------


def test_from_pairs_builds_attributes_in_order() -> None:
    pairs = (
        (0x26, ("z", "1")),
        (0x0B, 4),
        (0x23, 9),
        (0x26, ("a", "2")),
        (0x0B, 2),
        (0x09, b"id"),
    )
    props = Properties.from_pairs(P.PUBLISH, pairs)
    assert props.packetType == P.PUBLISH
    assert props.UserProperty == [("z", "1"), ("a", "2")]
    assert props.SubscriptionIdentifier == [4, 2]
    assert props.TopicAlias == 9
    assert props.CorrelationData == b"id"
    assert props.to_pairs() == (
        (0x09, b"id"),
        (0x0B, 4),
        (0x0B, 2),
        (0x23, 9),
        (0x26, ("z", "1")),
        (0x26, ("a", "2")),
    )


def test_from_pairs_trusts_its_input() -> None:
    # The codec has validated; from_pairs does not check packet types or ranges again.
    props = Properties.from_pairs(P.PUBACK, ((0x23, 0),))
    assert props.TopicAlias == 0
    empty = Properties.from_pairs(P.CONNACK, ())
    assert empty.isEmpty()
    assert isinstance(empty, Properties)


def test_from_pairs_unknown_identifier() -> None:
    with pytest.raises(KeyError):
        Properties.from_pairs(P.PUBLISH, ((0x7F, 1),))


def test_to_pairs_normalises_values() -> None:
    props = Properties(P.PUBLISH)
    props.PayloadFormatIndicator = True
    props.ResponseTopic = b"topic"
    props.CorrelationData = bytearray(b"\x01")
    props.UserProperty = [["k", b"v"]]
    props.UserProperty = (b"k2", "v2")
    pairs = props.to_pairs()
    assert pairs == (
        (0x01, 1),
        (0x08, "topic"),
        (0x09, b"\x01"),
        (0x26, ("k", "v")),
        (0x26, ("k2", "v2")),
    )
    assert type(pairs[0][1]) is int
    assert type(pairs[2][1]) is bytes


def test_pack_unpack_round_trip() -> None:
    props = Properties(P.PUBLISH)
    props.UserProperty = [("a", "1"), ("b", "2")]
    props.MessageExpiryInterval = 60
    props.ContentType = "application/json"
    props.SubscriptionIdentifier = 268435455
    data = props.pack()
    assert data[0] == len(data) - 1
    again, used = Properties(P.PUBLISH).unpack(data + b"payload")
    assert used == len(data)
    assert again.to_pairs() == props.to_pairs()


def test_pack_empty() -> None:
    assert Properties(P.CONNECT).pack() == b"\x00"
    props, used = Properties(P.PUBACK).unpack(b"\x00")
    assert used == 1
    assert props.isEmpty()


def test_unpack_replaces_existing_properties() -> None:
    source = Properties(P.PUBLISH)
    source.TopicAlias = 4
    props = Properties(P.PUBLISH)
    props.ContentType = "old"
    props.UserProperty = ("old", "1")
    result, _ = props.unpack(source.pack())
    assert result is props
    assert props.to_pairs() == ((0x23, 4),)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x05\x01", MalformedPacketError),  # truncated
        (b"\x02\x7f\x00", MalformedPacketError),  # unknown identifier
        (b"\x02\x13\x00", MalformedPacketError),  # Server Keep Alive is not a PUBLISH property
        (b"\x04\x23\x00\x01\x23", MalformedPacketError),  # Topic Alias, truncated second one
        (b"\x06\x23\x00\x01\x23\x00\x02", ProtocolError),  # Topic Alias twice
        (b"\x02\x0b\x00", ProtocolError),  # Subscription Identifier 0
    ],
)
def test_unpack_errors_leave_properties_unchanged(data: bytes, error: type[Exception]) -> None:
    props = Properties(P.PUBLISH)
    props.ContentType = "kept"
    with pytest.raises(error):
        props.unpack(data)
    assert props.to_pairs() == ((0x03, "kept"),)
    assert issubclass(error, MQTTException)


def test_unpack_accepts_bytearray_and_memoryview() -> None:
    props = Properties(P.PUBACK)
    props.ReasonString = "why"
    data = props.pack()
    for buffer in (bytearray(data), memoryview(data)):
        again, used = Properties(P.PUBACK).unpack(buffer)
        assert again.ReasonString == "why"
        assert used == len(data)


# --- paho's module-level helpers ----------------------------------------------------------------


def test_int_helpers() -> None:
    assert writeInt16(0x1234) == bytearray(b"\x12\x34")
    assert isinstance(writeInt16(1), bytearray)
    assert readInt16(b"\x12\x34\xff") == 0x1234
    assert writeInt32(0x01020304) == bytearray(b"\x01\x02\x03\x04")
    assert readInt32(bytearray(b"\xff\xff\xff\xff")) == 0xFFFFFFFF
    with pytest.raises(MalformedPacket):
        readInt16(b"\x01")
    with pytest.raises(MalformedPacket):
        readInt32(b"\x01\x02\x03")


def test_string_helpers() -> None:
    assert writeUTF("hé") == bytearray(b"\x00\x03h\xc3\xa9")
    assert writeUTF(b"raw") == bytearray(b"\x00\x03raw")
    assert readUTF(b"\x00\x03h\xc3\xa9rest", 100) == ("hé", 5)
    assert readUTF(b"\x00\x00", 2) == ("", 2)
    # U+FEFF must be kept [MQTT-1.5.4-3] (paho refuses it).
    assert readUTF(b"\x00\x03\xef\xbb\xbf", 5) == ("\ufeff", 5)
    for data, maxlen in [
        (b"\x00", 1),  # no room for the length
        (b"\x00\x05abc", 7),  # data shorter than the length
        (b"\x00\x03abc", 4),  # longer than maxlen
        (b"\x00\x01\x00", 3),  # U+0000
        (b"\x00\x03\xed\xa0\x80", 5),  # encoded surrogate
        (b"\x00\x02\xc0\x80", 4),  # overlong NUL
        (b"\x00\x01\xff", 3),  # not UTF-8
    ]:
        with pytest.raises(MalformedPacket):
            readUTF(data, maxlen)


def test_binary_helpers() -> None:
    assert writeBytes(b"\x00\x01") == bytearray(b"\x00\x02\x00\x01")
    assert readBytes(b"\x00\x02\x00\x01\x09") == (b"\x00\x01", 4)
    assert readBytes(bytearray(b"\x00\x01\x07"), 3) == (b"\x07", 3)
    assert type(readBytes(bytearray(b"\x00\x01\x07"))[0]) is bytes
    with pytest.raises(MalformedPacket):
        readBytes(b"\x00\x03ab")
    with pytest.raises(MalformedPacket):
        readBytes(b"\x00\x02ab", 3)
    with pytest.raises(MalformedPacket):
        readBytes(b"\x00")


VBI_CASES = [
    (0, b"\x00"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (16383, b"\xff\x7f"),
    (16384, b"\x80\x80\x01"),
    (2097151, b"\xff\xff\x7f"),
    (2097152, b"\x80\x80\x80\x01"),
    (268435455, b"\xff\xff\xff\x7f"),
]


@pytest.mark.parametrize(("value", "encoded"), VBI_CASES)
def test_variable_byte_integers(value: int, encoded: bytes) -> None:
    assert VariableByteIntegers.encode(value) == encoded
    assert VariableByteIntegers.decode(encoded + b"\xff") == (value, len(encoded))


def test_variable_byte_integer_errors() -> None:
    for value in (-1, 268435456):
        with pytest.raises(ValueError):
            VariableByteIntegers.encode(value)
    with pytest.raises(MalformedPacket):
        VariableByteIntegers.decode(b"\xff\xff\xff\xff\x01")
    with pytest.raises(MalformedPacket):
        VariableByteIntegers.decode(b"\x80")
    with pytest.raises(MalformedPacket):
        VariableByteIntegers.decode(b"")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_write_and_read_property(spec: _spec.PropertySpec) -> None:
    props = Properties(some_packet(spec.name))
    paho_type = props.properties[spec.identifier][0]
    value = SAMPLE[spec.type]
    data = props.writeProperty(spec.identifier, paho_type, value)
    assert data[0] == spec.identifier
    decoded, used = props.readProperty(data[1:], paho_type, len(data) - 1)
    assert decoded == value
    assert used == len(data) - 1
    paho = paho_properties.Properties(some_packet(spec.name))
    assert data == paho.writeProperty(spec.identifier, paho_type, value)


def test_write_and_read_property_bad_type_index() -> None:
    props = Properties(P.PUBLISH)
    with pytest.raises(ValueError):
        props.writeProperty(1, 9, 0)
    with pytest.raises(ValueError):
        props.readProperty(b"\x00", 9, 1)
    with pytest.raises(MalformedPacket):
        props.readProperty(b"", 0, 0)


def test_malformed_packet_is_the_codec_error() -> None:
    assert MalformedPacket is MalformedPacketError
    assert issubclass(MalformedPacket, MQTTException)


# --- differential against paho ------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"), max_size=8
)
# Values inside the ranges both libraries accept.
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "PayloadFormatIndicator": st.integers(0, 1),
    "MessageExpiryInterval": st.integers(0, 2**32 - 1),
    "ContentType": _TEXT,
    "ResponseTopic": _TEXT,
    "CorrelationData": st.binary(max_size=8),
    "SubscriptionIdentifier": st.integers(1, _spec.MAX_VBI),
    "SessionExpiryInterval": st.integers(0, 2**32 - 1),
    "AssignedClientIdentifier": _TEXT,
    "ServerKeepAlive": st.integers(0, 65535),
    "AuthenticationMethod": _TEXT,
    "AuthenticationData": st.binary(max_size=8),
    "RequestProblemInformation": st.integers(0, 1),
    "WillDelayInterval": st.integers(0, 2**32 - 1),
    "RequestResponseInformation": st.integers(0, 1),
    "ResponseInformation": _TEXT,
    "ServerReference": _TEXT,
    "ReasonString": _TEXT,
    "ReceiveMaximum": st.integers(1, 65535),
    "TopicAliasMaximum": st.integers(0, 65535),
    "TopicAlias": st.integers(1, 65535),
    "MaximumQoS": st.integers(0, 1),
    "RetainAvailable": st.integers(0, 1),
    "UserProperty": st.tuples(_TEXT, _TEXT),
    "MaximumPacketSize": st.integers(1, 268435455),
    "WildcardSubscriptionAvailable": st.integers(0, 1),
    "SubscriptionIdentifierAvailable": st.integers(0, 1),
    "SharedSubscriptionAvailable": st.integers(0, 1),
}


@st.composite
def _assignments(draw: st.DrawFn) -> tuple[int, list[tuple[str, Any]]]:
    packet = draw(st.sampled_from([p for p in ALL_PACKETS if p not in (P.PINGREQ, P.PINGRESP)]))
    names = [s.name for s in SPECS if packet in s.packets]
    chosen = draw(st.lists(st.sampled_from(names), max_size=6))
    while packet == P.SUBSCRIBE and chosen.count("SubscriptionIdentifier") > 1:
        # At most one in a SUBSCRIBE (MQTT 5.0 §3.8.2.1.2); paho does not check it, we do.
        chosen.remove("SubscriptionIdentifier")
    return packet, [(name, draw(_VALUES[name])) for name in chosen]


@settings(max_examples=300, deadline=None)
@given(_assignments())
def test_pack_matches_paho(case: tuple[int, list[tuple[str, Any]]]) -> None:
    packet, assignments = case
    ours = Properties(packet)
    theirs = paho_properties.Properties(packet)
    for name, value in assignments:
        setattr(ours, name, value)
        setattr(theirs, name, value)
    data = ours.pack()
    assert data == theirs.pack()
    assert ours.json() == theirs.json()
    assert str(ours) == str(theirs)
    # Each side reads what the other wrote.
    again, used = Properties(packet).unpack(theirs.pack())
    assert used == len(data)
    assert again.json() == ours.json()
    paho_again, paho_used = paho_properties.Properties(packet).unpack(data)
    assert paho_used == used
    assert paho_again.json() == ours.json()
