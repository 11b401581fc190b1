"""ReasonCode: the MQTT 5 table, paho's API, and the lenient constructor for received codes."""

from __future__ import annotations

import copy
import pickle

import pytest

from mqttclient.packettypes import PacketTypes as P
from mqttclient.reasoncodes import ReasonCode, ReasonCodes, reason_code

# MQTT 5.0 §2.4 Table 2-6 with the per-packet lists of §3 (mqtt-client-rules.md §6.3), names as
# paho spells them (paho-compat.md §7).
TABLE = [
    (0x00, "Success", [P.CONNACK, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.UNSUBACK, P.AUTH]),
    (0x00, "Normal disconnection", [P.DISCONNECT]),
    (0x00, "Granted QoS 0", [P.SUBACK]),
    (0x01, "Granted QoS 1", [P.SUBACK]),
    (0x02, "Granted QoS 2", [P.SUBACK]),
    (0x04, "Disconnect with will message", [P.DISCONNECT]),
    (0x10, "No matching subscribers", [P.PUBACK, P.PUBREC]),
    (0x11, "No subscription found", [P.UNSUBACK]),
    (0x18, "Continue authentication", [P.AUTH]),
    (0x19, "Re-authenticate", [P.AUTH]),
    (
        0x80,
        "Unspecified error",
        [P.CONNACK, P.PUBACK, P.PUBREC, P.SUBACK, P.UNSUBACK, P.DISCONNECT],
    ),
    (0x81, "Malformed packet", [P.CONNACK, P.DISCONNECT]),
    (0x82, "Protocol error", [P.CONNACK, P.DISCONNECT]),
    (
        0x83,
        "Implementation specific error",
        [P.CONNACK, P.PUBACK, P.PUBREC, P.SUBACK, P.UNSUBACK, P.DISCONNECT],
    ),
    (0x84, "Unsupported protocol version", [P.CONNACK]),
    (0x85, "Client identifier not valid", [P.CONNACK]),
    (0x86, "Bad user name or password", [P.CONNACK]),
    (0x87, "Not authorized", [P.CONNACK, P.PUBACK, P.PUBREC, P.SUBACK, P.UNSUBACK, P.DISCONNECT]),
    (0x88, "Server unavailable", [P.CONNACK]),
    (0x89, "Server busy", [P.CONNACK, P.DISCONNECT]),
    (0x8A, "Banned", [P.CONNACK]),
    (0x8B, "Server shutting down", [P.DISCONNECT]),
    (0x8C, "Bad authentication method", [P.CONNACK, P.DISCONNECT]),
    (0x8D, "Keep alive timeout", [P.DISCONNECT]),
    (0x8E, "Session taken over", [P.DISCONNECT]),
    (0x8F, "Topic filter invalid", [P.SUBACK, P.UNSUBACK, P.DISCONNECT]),
    (0x90, "Topic name invalid", [P.CONNACK, P.PUBACK, P.PUBREC, P.DISCONNECT]),
    (0x91, "Packet identifier in use", [P.PUBACK, P.PUBREC, P.SUBACK, P.UNSUBACK]),
    (0x92, "Packet identifier not found", [P.PUBREL, P.PUBCOMP]),
    (0x93, "Receive maximum exceeded", [P.DISCONNECT]),
    (0x94, "Topic alias invalid", [P.DISCONNECT]),
    (0x95, "Packet too large", [P.CONNACK, P.DISCONNECT]),
    (0x96, "Message rate too high", [P.DISCONNECT]),
    (0x97, "Quota exceeded", [P.CONNACK, P.PUBACK, P.PUBREC, P.SUBACK, P.DISCONNECT]),
    (0x98, "Administrative action", [P.DISCONNECT]),
    (0x99, "Payload format invalid", [P.CONNACK, P.PUBACK, P.PUBREC, P.DISCONNECT]),
    (0x9A, "Retain not supported", [P.CONNACK, P.DISCONNECT]),
    (0x9B, "QoS not supported", [P.CONNACK, P.DISCONNECT]),
    (0x9C, "Use another server", [P.CONNACK, P.DISCONNECT]),
    (0x9D, "Server moved", [P.CONNACK, P.DISCONNECT]),
    (0x9E, "Shared subscription not supported", [P.SUBACK, P.DISCONNECT]),
    (0x9F, "Connection rate exceeded", [P.CONNACK, P.DISCONNECT]),
    (0xA0, "Maximum connect time", [P.DISCONNECT]),
    (0xA1, "Subscription identifiers not supported", [P.SUBACK, P.DISCONNECT]),
    (0xA2, "Wildcard subscription not supported", [P.SUBACK, P.DISCONNECT]),
]
CASES = [(value, name, packet) for value, name, packets in TABLE for packet in packets]
DEFINED = {(packet, value) for value, _, packet in CASES}


def _case_id(case: tuple[int, str, int]) -> str:
    return f"{P.Names[case[2]]}-0x{case[0]:02X}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_every_code_by_name_and_by_value(case: tuple[int, str, int]) -> None:
    value, name, packet = case
    by_name = ReasonCode(packet, name)
    by_value = ReasonCode(packet, identifier=value)
    fast = reason_code(packet, value)
    for code in (by_name, by_value, fast, ReasonCode.of(packet, value)):
        assert code.value == value
        assert code.packetType == packet
        assert code.getName() == str(code) == code.json() == name
        assert code == value
        assert code == name
        assert code.is_failure == (value >= 0x80)
        assert code.pack() == bytearray([value])
    assert by_name.getId(name) == value
    assert by_name.__getName__(packet, value) == name


def test_names_table_matches_the_spec() -> None:
    seen = {
        (value, name, packet)
        for value, names in ReasonCode.names.items()
        for name, packets in names.items()
        for packet in packets
    }
    assert seen == set(CASES)


def test_names_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        ReasonCode.names[0x42] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        ReasonCode.names[0]["Nope"] = (1,)  # type: ignore[index]


def test_defaults() -> None:
    assert ReasonCode(P.CONNACK).value == 0
    assert str(ReasonCode(P.CONNACK)) == "Success"
    disconnect = ReasonCode(P.DISCONNECT)
    assert disconnect.value == 0
    assert str(disconnect) == "Normal disconnection"
    assert ReasonCode(P.DISCONNECT, "Success") == "Normal disconnection"


def test_identifier_wins_over_name() -> None:
    code = ReasonCode(P.PUBACK, "Not authorized", identifier=0x10)
    assert code.value == 0x10
    assert str(code) == "No matching subscribers"


def test_strict_construction_errors() -> None:
    with pytest.raises(KeyError):
        ReasonCode(P.PUBACK, "No such code")
    with pytest.raises(KeyError):
        ReasonCode(P.PUBACK, "Granted QoS 1")  # a SUBACK name
    with pytest.raises(KeyError):
        ReasonCode(P.SUBACK)  # "Success" is not a SUBACK name (as in paho)
    with pytest.raises(KeyError):
        ReasonCode(P.PUBACK, identifier=0x05)  # no packet defines 5
    with pytest.raises(ValueError, match="not defined for Puback"):
        ReasonCode(P.PUBACK, identifier=0x81)  # defined, but not for PUBACK
    code = ReasonCode(P.PUBACK)
    with pytest.raises(KeyError):
        code.getId("Banned")
    with pytest.raises(KeyError):
        code.__getName__(P.PUBACK, 0x07)
    with pytest.raises(ValueError):
        code.__getName__(P.PUBREL, 0x10)


def test_set_changes_the_value() -> None:
    code = ReasonCode(P.PUBREC)
    code.set("Quota exceeded")
    assert code.value == 0x97
    assert code.is_failure
    with pytest.raises(KeyError):
        code.set("Server moved")
    assert code.value == 0x97


@pytest.mark.parametrize("packet", [*P.indexes, P.WILLMESSAGE])
def test_any_received_byte_has_a_name(packet: int) -> None:
    for value in range(256):
        code = reason_code(packet, value)
        name = code.getName()
        assert name
        if (packet, value) not in DEFINED:
            names = ReasonCode.names.get(value)
            if names is not None and len(names) == 1:
                assert name == next(iter(names))
            elif value:
                assert name == f"Unknown reason code 0x{value:02X}"
        assert repr(code).endswith(f", {name!r})")


def test_unknown_and_borrowed_names() -> None:
    assert str(reason_code(P.PUBACK, 0x05)) == "Unknown reason code 0x05"
    assert str(reason_code(P.PUBACK, 0xFF)) == "Unknown reason code 0xFF"
    # Not a PUBACK code, but 0x81 has one name in the table: keep it readable.
    assert str(reason_code(P.PUBACK, 0x81)) == "Malformed packet"
    assert str(reason_code(P.PUBLISH, 0)) == "Success"
    assert str(reason_code(P.CONNACK, 0x99)) == "Payload format invalid"
    assert reason_code(P.PUBACK, 0x05) == 5
    assert reason_code(P.PUBACK, 0x05) == "Unknown reason code 0x05"
    # Values outside a byte (never on the wire) still get a name.
    assert str(reason_code(P.PUBACK, 300)) == "Unknown reason code 0x12C"
    assert str(reason_code(42, 0x80)) == "Unspecified error"


def test_unpack_is_lenient() -> None:
    code = ReasonCode(P.PUBACK)
    assert code.unpack(b"\x10rest") == 1
    assert code == "No matching subscribers"
    assert code.unpack(bytearray([0x42])) == 1
    assert code.value == 0x42
    assert str(code) == "Unknown reason code 0x42"


def test_fast_constructors_return_fresh_objects() -> None:
    first = reason_code(P.PUBACK, 0)
    second = reason_code(P.PUBACK, 0)
    assert first is not second
    first.set("Not authorized")
    assert second.value == 0
    assert reason_code(P.PUBACK, 0).value == 0
    assert type(reason_code(P.PUBACK, 0)) is ReasonCode
    of = ReasonCode.of(P.PUBACK, 0)
    assert of is not ReasonCode.of(P.PUBACK, 0)


def test_equality() -> None:
    code = ReasonCode(P.CONNACK, "Not authorized")
    assert code == 135
    assert 135 == code  # noqa: SIM300 (the reflected comparison is the point)
    assert code != 134
    assert code == "Not authorized"
    assert code != "Success"
    assert code == ReasonCode(P.PUBACK, "Not authorized")
    assert code == ReasonCode(P.DISCONNECT, identifier=135)
    assert code != ReasonCode(P.CONNACK)
    assert code != 135.5
    assert code != b"Not authorized"
    assert code is not None
    # The two zero codes with different names are equal by value, as in paho.
    assert ReasonCode(P.DISCONNECT) == ReasonCode(P.CONNACK)


def test_ordering() -> None:
    success = ReasonCode(P.PUBACK)
    failure = ReasonCode(P.PUBACK, "Unspecified error")
    assert success < failure
    assert failure > success
    assert success <= ReasonCode(P.CONNACK) <= success
    assert failure >= 0x80
    assert success < 0x80
    assert not failure < 0x80
    assert 0x80 <= failure  # noqa: SIM300
    assert sorted([failure, success]) == [success, failure]
    with pytest.raises(TypeError):
        _ = success < "Success"
    with pytest.raises(TypeError):
        _ = success >= 1.5j  # type: ignore[operator]


def test_hash_follows_the_value() -> None:
    code = ReasonCode(P.SUBACK, "Granted QoS 1")
    assert hash(code) == hash(1)
    assert {code: "x"}[1] == "x"
    assert len({ReasonCode(P.CONNACK), ReasonCode(P.PUBACK), 0}) == 1


def test_str_repr_json_pack() -> None:
    code = ReasonCode(P.CONNACK, "Bad user name or password")
    assert str(code) == "Bad user name or password"
    assert repr(code) == "ReasonCode(Connack, 'Bad user name or password')"
    assert repr(ReasonCode(P.CONNACK)) == "ReasonCode(Connack, 'Success')"
    assert repr(reason_code(P.WILLMESSAGE, 0)) == "ReasonCode(Unknown, 'Success')"
    assert code.json() == "Bad user name or password"
    assert code.pack() == bytearray(b"\x86")
    assert isinstance(code.pack(), bytearray)


def test_truthiness_is_always_true_as_in_paho() -> None:
    assert bool(ReasonCode(P.CONNACK))


def test_copy_and_pickle() -> None:
    code = reason_code(P.PUBACK, 0x87)
    for clone in (copy.copy(code), copy.deepcopy(code), pickle.loads(pickle.dumps(code))):
        assert clone == code
        assert clone.packetType == P.PUBACK
        assert str(clone) == "Not authorized"


def test_reason_codes_alias_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="ReasonCode"):
        old = ReasonCodes(P.CONNACK, "Server busy")
    assert old == 0x89
    assert isinstance(old, ReasonCode)
    assert isinstance(ReasonCode(P.CONNACK), ReasonCodes)
    assert not isinstance(0, ReasonCodes)
    assert issubclass(ReasonCodes, ReasonCode)
