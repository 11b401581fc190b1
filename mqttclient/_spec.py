"""Facts of the MQTT 5.0 specification shared by the vocabulary modules and the codec.

The property table (MQTT 5.0 §2.2.2.2, Table 2-4): for each property its identifier, the
attribute name paho-mqtt uses for it, its wire type, the packets it may appear in, and whether it
may appear more than once. ``mqttclient.properties`` builds the paho-compatible ``Properties``
class on it; ``mqttclient._core.codec`` encodes, decodes and validates with it.

Vocabulary: standard library only.
"""

from __future__ import annotations

from typing import NamedTuple

# Packet type numbers (MQTT §2.1.2); WILL is paho's pseudo packet type for Will Properties.
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15
WILL = 99

# Wire types of property values (MQTT 5.0 §1.5).
BYTE = 1
U16 = 2
U32 = 3
VBI = 4
STRING = 5
BINARY = 6
STRING_PAIR = 7

TYPE_NAMES = {
    BYTE: "Byte",
    U16: "Two Byte Integer",
    U32: "Four Byte Integer",
    VBI: "Variable Byte Integer",
    STRING: "UTF-8 Encoded String",
    BINARY: "Binary Data",
    STRING_PAIR: "UTF-8 String Pair",
}

MAX_VBI = 268_435_455


class PropertySpec(NamedTuple):
    identifier: int
    name: str
    type: int
    packets: frozenset[int]
    multiple: bool


def _spec(
    identifier: int, name: str, type_: int, packets: tuple[int, ...], multiple: bool = False
) -> PropertySpec:
    return PropertySpec(identifier, name, type_, frozenset(packets), multiple)


PROPERTIES: dict[int, PropertySpec] = {
    s.identifier: s
    for s in (
        _spec(0x01, "PayloadFormatIndicator", BYTE, (PUBLISH, WILL)),
        _spec(0x02, "MessageExpiryInterval", U32, (PUBLISH, WILL)),
        _spec(0x03, "ContentType", STRING, (PUBLISH, WILL)),
        _spec(0x08, "ResponseTopic", STRING, (PUBLISH, WILL)),
        _spec(0x09, "CorrelationData", BINARY, (PUBLISH, WILL)),
        # Several may arrive in a server's PUBLISH; a SUBSCRIBE carries at most one.
        _spec(0x0B, "SubscriptionIdentifier", VBI, (PUBLISH, SUBSCRIBE), multiple=True),
        _spec(0x11, "SessionExpiryInterval", U32, (CONNECT, CONNACK, DISCONNECT)),
        _spec(0x12, "AssignedClientIdentifier", STRING, (CONNACK,)),
        _spec(0x13, "ServerKeepAlive", U16, (CONNACK,)),
        _spec(0x15, "AuthenticationMethod", STRING, (CONNECT, CONNACK, AUTH)),
        _spec(0x16, "AuthenticationData", BINARY, (CONNECT, CONNACK, AUTH)),
        _spec(0x17, "RequestProblemInformation", BYTE, (CONNECT,)),
        _spec(0x18, "WillDelayInterval", U32, (WILL,)),
        _spec(0x19, "RequestResponseInformation", BYTE, (CONNECT,)),
        _spec(0x1A, "ResponseInformation", STRING, (CONNACK,)),
        _spec(0x1C, "ServerReference", STRING, (CONNACK, DISCONNECT)),
        _spec(
            0x1F,
            "ReasonString",
            STRING,
            (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH),
        ),
        _spec(0x21, "ReceiveMaximum", U16, (CONNECT, CONNACK)),
        _spec(0x22, "TopicAliasMaximum", U16, (CONNECT, CONNACK)),
        _spec(0x23, "TopicAlias", U16, (PUBLISH,)),
        _spec(0x24, "MaximumQoS", BYTE, (CONNACK,)),
        _spec(0x25, "RetainAvailable", BYTE, (CONNACK,)),
        _spec(
            0x26,
            "UserProperty",
            STRING_PAIR,
            (
                CONNECT,
                CONNACK,
                PUBLISH,
                WILL,
                PUBACK,
                PUBREC,
                PUBREL,
                PUBCOMP,
                SUBSCRIBE,
                SUBACK,
                UNSUBSCRIBE,
                UNSUBACK,
                DISCONNECT,
                AUTH,
            ),
            multiple=True,
        ),
        _spec(0x27, "MaximumPacketSize", U32, (CONNECT, CONNACK)),
        _spec(0x28, "WildcardSubscriptionAvailable", BYTE, (CONNACK,)),
        _spec(0x29, "SubscriptionIdentifierAvailable", BYTE, (CONNACK,)),
        _spec(0x2A, "SharedSubscriptionAvailable", BYTE, (CONNACK,)),
    )
}

PROPERTY_BY_NAME: dict[str, PropertySpec] = {s.name: s for s in PROPERTIES.values()}

# Property identifiers by name, for readable code in the codec and the session.
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A
