"""Session: opt-in validation of the Payload Format Indicator (MQTT 5.0 §3.3.2.3.2).

A PUBLISH with Payload Format Indicator 1 declares UTF-8 Encoded Character Data; the server
forwards it unchanged [MQTT-3.3.2-4] and a receiver MAY refuse a payload that is not UTF-8 with
reason 0x99 Payload format invalid (PUBACK §3.4.2.1, PUBREC §3.5.2.1). Acks keep arrival order
([MQTT-4.6.0-2], [MQTT-4.6.0-3]); a PUBREC >= 0x80 ends the QoS 2 flow [MQTT-4.3.3-9].
"""

from __future__ import annotations

import logging

import pytest

from mqttclient import _spec
from mqttclient._core.codec import encode
from mqttclient._core.events import MessageReceived, ProtocolViolation
from mqttclient._core.packets import Puback, Pubcomp, Publish, Pubrec, Pubrel

from ._session_harness import Harness

UTF8 = ((_spec.PAYLOAD_FORMAT_INDICATOR, 1),)
UNSPECIFIED = ((_spec.PAYLOAD_FORMAT_INDICATOR, 0),)
BAD = b"caf\xc3"  # cut in the middle of a 2-byte sequence
INVALID_PAYLOADS = [
    b"\xff\xfe",  # bytes that never occur in UTF-8
    BAD,
    b"\xc0\xaf",  # overlong form of "/"
    b"\xed\xa0\x80",  # a UTF-16 surrogate (U+D800)
]


def checking(**config: object) -> Harness:
    h = Harness(5, validate_payload_format=True, **config)
    h.connect()
    return h


def delivered(events: list[object]) -> list[Publish]:
    return [e.publish for e in events if isinstance(e, MessageReceived)]


@pytest.mark.parametrize("payload", INVALID_PAYLOADS)
def test_qos1_invalid_utf8_answered_puback_0x99_not_delivered(payload: bytes) -> None:
    h = checking()
    events = h.feed(Publish("t/1", payload, 1, packet_id=7, properties=UTF8))
    assert events == []
    # The PUBACK goes out at once (nothing delivered before it waits for an ack): 0x99 on the
    # wire in the short form without properties (§3.4.2.2.1).
    assert bytes(h.session.out) == bytes.fromhex("40 03 00 07 99")
    assert h.take() == [Puback(7, 0x99)]


def test_qos2_invalid_utf8_answered_pubrec_0x99_and_the_flow_ends() -> None:
    h = checking()
    assert h.feed(Publish("t/2", BAD, 2, packet_id=9, properties=UTF8)) == []
    assert bytes(h.session.out) == bytes.fromhex("50 03 00 09 99")
    assert h.take() == [Pubrec(9, 0x99)]
    # [MQTT-4.3.3-9]: after PUBREC 0x99 nothing is stored; a PUBREL for the id is unknown.
    assert h.feed(Pubrel(9)) == []
    assert h.take() == [Pubcomp(9, 0x92)]
    # The id is free: a new, valid PUBLISH with it is a new message.
    ok = Publish("t/2", b"ok", 2, packet_id=9, properties=UTF8)
    assert h.feed(ok) == []
    assert h.take() == [Pubrec(9)]
    assert delivered(h.feed(Pubrel(9))) == [ok]


def test_qos0_invalid_utf8_dropped() -> None:
    h = checking()
    assert h.feed(Publish("t/0", BAD, 0, properties=UTF8)) == []
    assert h.take() == []


def test_valid_utf8_delivered() -> None:
    h = checking()
    messages = [
        Publish("t", "héllo ✓ 😀".encode(), 1, packet_id=1, properties=UTF8),
        Publish("t", b"", 0, properties=UTF8),
        Publish("t", b"plain", 2, packet_id=2, properties=UTF8),
    ]
    events = h.feed(*messages)
    assert delivered(events) == messages[:2]  # QoS 2 waits for PUBREL (Method A)
    assert h.take() == [Pubrec(2)]


@pytest.mark.parametrize("properties", [(), UNSPECIFIED], ids=["absent", "indicator-0"])
def test_payload_not_declared_utf8_is_not_checked(properties: tuple[object, ...]) -> None:
    h = checking()
    p = Publish("t", BAD, 1, packet_id=3, properties=properties)  # type: ignore[arg-type]
    assert delivered(h.feed(p)) == [p]
    assert h.take() == []
    h.session.ack(3, 1, 0.0)
    assert h.take() == [Puback(3)]


def test_off_by_default_delivers_invalid_utf8_unchanged() -> None:
    h = Harness(5)
    h.connect()
    p = Publish("t", BAD, 1, packet_id=4, properties=UTF8)
    assert delivered(h.feed(p)) == [p]
    h.session.ack(4, 1, 0.0)
    assert h.take() == [Puback(4)]


def test_refused_puback_keeps_arrival_order() -> None:
    """[MQTT-4.6.0-2]: PUBACKs in the order the PUBLISHes arrived, the refused one included."""
    h = checking()
    good1 = Publish("t", b"1", 1, packet_id=1, properties=UTF8)
    bad2 = Publish("t", BAD, 1, packet_id=2, properties=UTF8)
    good3 = Publish("t", b"3", 1, packet_id=3, properties=UTF8)
    bad4 = Publish("t", BAD, 1, packet_id=4, properties=UTF8)
    assert delivered(h.feed(good1, bad2, good3, bad4)) == [good1, good3]
    assert h.take() == []  # 0x99 for 2 waits for the ack of 1
    h.session.ack(1, 1, 0.0)
    assert h.take() == [Puback(1), Puback(2, 0x99)]
    h.session.ack(3, 1, 0.0)
    assert h.take() == [Puback(3), Puback(4, 0x99)]
    h.session.ack(4, 1, 0.0)  # already answered: nothing more
    assert h.take() == []


def test_refused_qos1_counts_against_receive_maximum() -> None:
    """[MQTT-3.3.4-9]: a refused message holds the server's quota until its PUBACK."""
    h = Harness(5, validate_payload_format=True, connect_properties=((_spec.RECEIVE_MAXIMUM, 2),))
    h.connect()
    events = h.feed(
        Publish("t", b"1", 1, packet_id=1, properties=UTF8),
        Publish("t", BAD, 1, packet_id=2, properties=UTF8),
        Publish("t", b"3", 1, packet_id=3, properties=UTF8),
    )
    [violation] = [e for e in events if isinstance(e, ProtocolViolation)]
    assert violation.error.reason_code == 0x93


def test_repeat_of_a_waiting_refused_message_is_answered_once() -> None:
    h = checking()
    h.feed(Publish("t", b"1", 1, packet_id=1, properties=UTF8))
    bad = Publish("t", BAD, 1, packet_id=2, properties=UTF8)
    h.feed(bad)
    h.feed(Publish("t", BAD, 1, dup=True, packet_id=2, properties=UTF8))
    h.session.ack(1, 1, 0.0)
    assert h.take() == [Puback(1), Puback(2, 0x99)]


def test_new_connection_forgets_waiting_refusals() -> None:
    """The server re-sends an unacknowledged PUBLISH on the next connection [MQTT-4.4.0-1]:
    the refusal is answered again there, nothing from the old connection is sent."""
    h = checking()
    h.feed(Publish("t", b"1", 1, packet_id=1, properties=UTF8))
    h.feed(Publish("t", BAD, 1, packet_id=2, properties=UTF8))
    h.lose()
    h.connect(session_present=True)
    assert h.feed(Publish("t", BAD, 1, dup=True, packet_id=2, properties=UTF8)) == []
    assert h.take() == [Puback(2, 0x99)]
    h.session.ack(1, 1, 0.0)  # delivered on the old connection: no ack on this one
    assert h.take() == []


def test_setting_applies_from_the_next_connection() -> None:
    h = Harness(5)
    h.connect()
    h.config.validate_payload_format = True
    p = Publish("t", BAD, 0, properties=UTF8)
    assert delivered(h.feed(p)) == [p]
    h.lose()
    h.connect()
    assert h.feed(p) == []


def test_mqtt_311_is_never_checked() -> None:
    """3.1.1 has no properties; the flag must not change anything there."""
    h = Harness(4, validate_payload_format=True)
    h.connect()
    p = Publish("t", BAD, 1, packet_id=5)
    assert delivered(h.feed(p)) == [p]


def test_refusal_logged_with_topic_never_payload(caplog: pytest.LogCaptureFixture) -> None:
    h = checking()
    secret = b"secret-\xff"
    with caplog.at_level(logging.WARNING, logger="mqttclient._core.inbound"):
        h.feed(Publish("plant/7/temp", secret, 1, packet_id=6, properties=UTF8))
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "plant/7/temp" in text and "0x99" in text and "UTF-8" in text
    assert "secret" not in text


def test_refused_bytes_on_the_wire_match_the_codec() -> None:
    """The short forms used above are what the codec encodes for reason 0x99."""
    assert encode(Puback(7, 0x99), 5) == bytes.fromhex("40 03 00 07 99")
    assert encode(Pubrec(9, 0x99), 5) == bytes.fromhex("50 03 00 09 99")
