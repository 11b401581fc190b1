"""The paho-compatible enums: names, values and kinds (paho-compat.md §1)."""

from __future__ import annotations

import enum

import pytest

from mqttclient.enums import (
    CallbackAPIVersion,
    ConnackCode,
    LogLevel,
    MessageState,
    MessageType,
    MQTTErrorCode,
    MQTTProtocolVersion,
    PahoClientMode,
    _ConnectionState,
)

EXPECTED: dict[type[enum.Enum], dict[str, int]] = {
    MQTTErrorCode: {
        "MQTT_ERR_AGAIN": -1,
        "MQTT_ERR_SUCCESS": 0,
        "MQTT_ERR_NOMEM": 1,
        "MQTT_ERR_PROTOCOL": 2,
        "MQTT_ERR_INVAL": 3,
        "MQTT_ERR_NO_CONN": 4,
        "MQTT_ERR_CONN_REFUSED": 5,
        "MQTT_ERR_NOT_FOUND": 6,
        "MQTT_ERR_CONN_LOST": 7,
        "MQTT_ERR_TLS": 8,
        "MQTT_ERR_PAYLOAD_SIZE": 9,
        "MQTT_ERR_NOT_SUPPORTED": 10,
        "MQTT_ERR_AUTH": 11,
        "MQTT_ERR_ACL_DENIED": 12,
        "MQTT_ERR_UNKNOWN": 13,
        "MQTT_ERR_ERRNO": 14,
        "MQTT_ERR_QUEUE_SIZE": 15,
        "MQTT_ERR_KEEPALIVE": 16,
    },
    MQTTProtocolVersion: {"MQTTv31": 3, "MQTTv311": 4, "MQTTv5": 5},
    CallbackAPIVersion: {"VERSION1": 1, "VERSION2": 2},
    MessageType: {
        "CONNECT": 0x10,
        "CONNACK": 0x20,
        "PUBLISH": 0x30,
        "PUBACK": 0x40,
        "PUBREC": 0x50,
        "PUBREL": 0x60,
        "PUBCOMP": 0x70,
        "SUBSCRIBE": 0x80,
        "SUBACK": 0x90,
        "UNSUBSCRIBE": 0xA0,
        "UNSUBACK": 0xB0,
        "PINGREQ": 0xC0,
        "PINGRESP": 0xD0,
        "DISCONNECT": 0xE0,
        "AUTH": 0xF0,
    },
    LogLevel: {
        "MQTT_LOG_INFO": 0x01,
        "MQTT_LOG_NOTICE": 0x02,
        "MQTT_LOG_WARNING": 0x04,
        "MQTT_LOG_ERR": 0x08,
        "MQTT_LOG_DEBUG": 0x10,
    },
    ConnackCode: {
        "CONNACK_ACCEPTED": 0,
        "CONNACK_REFUSED_PROTOCOL_VERSION": 1,
        "CONNACK_REFUSED_IDENTIFIER_REJECTED": 2,
        "CONNACK_REFUSED_SERVER_UNAVAILABLE": 3,
        "CONNACK_REFUSED_BAD_USERNAME_PASSWORD": 4,
        "CONNACK_REFUSED_NOT_AUTHORIZED": 5,
    },
    MessageState: {
        "MQTT_MS_INVALID": 0,
        "MQTT_MS_PUBLISH": 1,
        "MQTT_MS_WAIT_FOR_PUBACK": 2,
        "MQTT_MS_WAIT_FOR_PUBREC": 3,
        "MQTT_MS_RESEND_PUBREL": 4,
        "MQTT_MS_WAIT_FOR_PUBREL": 5,
        "MQTT_MS_RESEND_PUBCOMP": 6,
        "MQTT_MS_WAIT_FOR_PUBCOMP": 7,
        "MQTT_MS_SEND_PUBREC": 8,
        "MQTT_MS_QUEUED": 9,
    },
    PahoClientMode: {"MQTT_CLIENT": 0, "MQTT_BRIDGE": 1},
    _ConnectionState: {
        "MQTT_CS_NEW": 1,
        "MQTT_CS_CONNECT_ASYNC": 2,
        "MQTT_CS_CONNECTING": 3,
        "MQTT_CS_CONNECTED": 4,
        "MQTT_CS_CONNECTION_LOST": 5,
        "MQTT_CS_DISCONNECTING": 6,
        "MQTT_CS_DISCONNECTED": 7,
    },
}


@pytest.mark.parametrize("enum_class", list(EXPECTED), ids=lambda e: e.__name__)
def test_members_and_values_in_order(enum_class: type[enum.Enum]) -> None:
    assert [(m.name, m.value) for m in enum_class] == list(EXPECTED[enum_class].items())


@pytest.mark.parametrize(
    "enum_class",
    [
        MQTTErrorCode,
        MQTTProtocolVersion,
        MessageType,
        LogLevel,
        ConnackCode,
        MessageState,
        PahoClientMode,
    ],
    ids=lambda e: e.__name__,
)
def test_int_enums_compare_with_ints(enum_class: type[enum.IntEnum]) -> None:
    assert issubclass(enum_class, enum.IntEnum)
    for member in enum_class:
        assert member == member.value
        assert int(member) == member.value


@pytest.mark.parametrize("enum_class", [CallbackAPIVersion, _ConnectionState])
def test_plain_enums_do_not_equal_ints(enum_class: type[enum.Enum]) -> None:
    assert not issubclass(enum_class, enum.IntEnum)
    first = next(iter(enum_class))
    assert first != first.value


def test_success_is_falsy_and_errors_truthy() -> None:
    # paho code tests "if rc:" for failure.
    assert not MQTTErrorCode.MQTT_ERR_SUCCESS
    assert MQTTErrorCode.MQTT_ERR_NO_CONN
    assert MQTTErrorCode(4) is MQTTErrorCode.MQTT_ERR_NO_CONN


def test_message_type_is_the_fixed_header_nibble() -> None:
    for number, member in enumerate(MessageType, start=1):
        assert member == number << 4
