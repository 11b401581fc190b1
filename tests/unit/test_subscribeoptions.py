"""SubscribeOptions: the MQTT 5 Subscription Options byte (MQTT 5.0 §3.8.3.1), as paho has it."""

from __future__ import annotations

import itertools

import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions as PahoSubscribeOptions

from mqttclient.errors import MQTTException
from mqttclient.subscribeoptions import SubscribeOptions


def test_defaults_behave_like_mqtt_311() -> None:
    options = SubscribeOptions()
    assert options.QoS == 0
    assert options.noLocal is False
    assert options.retainAsPublished is False
    assert options.retainHandling == SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE
    assert options.pack() == b"\x00"


def test_constants() -> None:
    assert SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE == 0
    assert SubscribeOptions.RETAIN_SEND_IF_NEW_SUB == 1
    assert SubscribeOptions.RETAIN_DO_NOT_SEND == 2
    assert SubscribeOptions().names == ["QoS", "noLocal", "retainAsPublished", "retainHandling"]


@pytest.mark.parametrize(
    ("qos", "no_local", "rap", "handling", "byte"),
    [
        (1, False, False, 0, 0x01),
        (2, False, False, 0, 0x02),
        (0, True, False, 0, 0x04),
        (0, False, True, 0, 0x08),
        (0, False, False, 1, 0x10),
        (0, False, False, 2, 0x20),
        (2, True, True, 2, 0x2E),
    ],
)
def test_pack_bits(qos: int, no_local: bool, rap: bool, handling: int, byte: int) -> None:
    options = SubscribeOptions(qos, no_local, rap, handling)
    assert options.pack() == bytes([byte])
    again = SubscribeOptions()
    assert again.unpack(bytes([byte, 0xFF])) == 1
    assert (again.QoS, again.noLocal, again.retainAsPublished, again.retainHandling) == (
        qos,
        no_local,
        rap,
        handling,
    )


def test_every_valid_combination_matches_paho() -> None:
    for qos, no_local, rap, handling in itertools.product(
        (0, 1, 2), (False, True), (0, 1), (0, 1, 2)
    ):
        ours = SubscribeOptions(qos, no_local, bool(rap), handling)
        theirs = PahoSubscribeOptions(qos, no_local, bool(rap), handling)
        assert ours.pack() == theirs.pack()
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)
        assert ours.json() == theirs.json()


def test_keyword_arguments() -> None:
    options = SubscribeOptions(
        qos=1,
        noLocal=True,
        retainAsPublished=True,
        retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND,
    )
    assert options.pack() == b"\x2d"
    assert str(options) == "{QoS=1, noLocal=True, retainAsPublished=True, retainHandling=2}"
    assert repr(options) == str(options)
    assert options.json() == {
        "QoS": 1,
        "noLocal": True,
        "retainAsPublished": True,
        "retainHandling": 2,
    }


@pytest.mark.parametrize(("qos", "handling"), [(3, 0), (-1, 0), (0, 3), (0, -1)])
def test_bad_values_raise_assertion_error(qos: int, handling: int) -> None:
    with pytest.raises(AssertionError):
        SubscribeOptions(qos=qos, retainHandling=handling)


def test_bad_values_assigned_later_fail_on_pack() -> None:
    options = SubscribeOptions()
    options.QoS = 3
    with pytest.raises(AssertionError):
        options.pack()
    options = SubscribeOptions()
    options.retainHandling = 3
    with pytest.raises(AssertionError):
        options.pack()


@pytest.mark.parametrize("byte", [0x03, 0x30])
def test_unpack_rejects_qos_3_and_retain_handling_3(byte: int) -> None:
    with pytest.raises(AssertionError):
        SubscribeOptions().unpack(bytes([byte]))


def test_unpack_ignores_reserved_bits_as_paho_does() -> None:
    options = SubscribeOptions()
    options.unpack(b"\xc1")
    assert options.QoS == 1
    assert options.pack() == b"\x01"


def test_unknown_attribute_raises() -> None:
    options = SubscribeOptions()
    with pytest.raises(MQTTException):
        options.qos = 1
    with pytest.raises(MQTTException):
        options.names = []
    options.QoS = 2
    assert options.pack() == b"\x02"
